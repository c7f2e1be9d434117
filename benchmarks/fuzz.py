"""Fuzz every registered decoder and ``mctf.synthesize`` (issue 10): >= 100k seeded inputs per target.

Each target runs as its own ``python -m pywlc.testing.fuzz`` process (watched workers: crashes and hangs are
recorded with their replay index), all at the lowest CPU priority, in parallel; partial results are written every
5000 inputs to ``benchmarks/results/fuzz/<target>.json`` and merged into ``benchmarks/results/fuzz-<device>.json``
with the machine, torch version and commit.

    nice -n 19 python benchmarks/fuzz.py                      # 100k inputs per target
    python benchmarks/fuzz.py --quick                         # CI smoke: 200 inputs per target
    python benchmarks/fuzz.py --merge-only                    # re-merge the per-target files
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _targets() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from pywlc.testing import fuzz, fuzz_targets  # noqa: F401 - registers the targets

    return sorted(n for n in fuzz.TARGETS if not n.startswith("_"))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def merge(parts: Path, out: Path, names: list[str]) -> dict:
    import torch

    runs = {}
    for name in names:
        f = parts / f"{name}.json"
        if f.is_file():
            runs[name] = json.loads(f.read_text())
    total = {
        "inputs": sum(r["inputs"] for r in runs.values()),
        "crashes": sum(len(r["crashes"]) for r in runs.values()),
        "hangs": sum(len(r["hangs"]) for r in runs.values()),
        "unexpected": sum(len(r["unexpected"]) for r in runs.values()),
    }
    res = {
        "benchmark": "fuzz",
        "device": f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "note": "nice 19 on a shared 2-core machine (a model was training beside it): inputs/s are indicative",
        "total": total,
        "targets": runs,
    }
    out.write_text(json.dumps(res, indent=2) + "\n")
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--inputs", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--targets", help="comma-separated (default: all registered)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it counts as a hang")
    p.add_argument("--max-seconds", type=float, help="stop each target after this long")
    p.add_argument("--quick", action="store_true", help="200 inputs per target")
    p.add_argument("--merge-only", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "fuzz-cpu-2core.json"))
    a = p.parse_args()
    names = a.targets.split(",") if a.targets else _targets()
    parts = RESULTS / "fuzz"
    parts.mkdir(parents=True, exist_ok=True)
    if not a.merge_only:
        inputs = 200 if a.quick else a.inputs
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        procs = []
        for name in names:
            cmd = [sys.executable, "-m", "pywlc.testing.fuzz", name, "--inputs", str(inputs), "--seed", str(a.seed),
                   "--timeout", str(a.timeout), "--out", str(parts / f"{name}.json")]  # fmt: skip
            if a.max_seconds:
                cmd += ["--max-seconds", str(a.max_seconds)]
            procs.append(subprocess.Popen(["nice", "-n", "19", *cmd], env=env, stdout=subprocess.DEVNULL))
        for proc in procs:
            proc.wait()
    res = merge(parts, Path(a.out), names)
    print(json.dumps(res["total"]))
    for name, r in res["targets"].items():
        rate = r["inputs"] / max(r["seconds"], 1e-9)
        print(f"{name:>16}: {r['inputs']:>7} inputs ({rate:.0f}/s), crashes {len(r['crashes'])}, hangs "
              f"{len(r['hangs'])}, unexpected {len(r['unexpected'])}, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['outcomes']}")  # fmt: skip
    return 0 if not (res["total"]["crashes"] or res["total"]["hangs"] or res["total"]["unexpected"]) else 1


if __name__ == "__main__":
    sys.exit(main())
