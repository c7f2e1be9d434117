"""Fuzz every registered decoder and ``mctf.synthesize`` (issue 10): >= 100k seeded inputs per target.

Each target runs as its own ``python -m pywlc.testing.fuzz`` process (watched workers: crashes and hangs are
recorded with their replay index), all at the lowest CPU priority, in parallel; partial results are written
every 5000 inputs to ``benchmarks/results/fuzz/<target>.<shard>.json`` and merged into
``benchmarks/results/fuzz-<device>.json`` with the machine, torch version and commit.

    nice -n 19 python benchmarks/fuzz.py                      # 100k inputs per target
    python benchmarks/fuzz.py --quick                         # CI smoke: 200 inputs per target
    python benchmarks/fuzz.py --merge-only                    # re-merge the per-target files
    nice -n 19 python benchmarks/fuzz.py --targets image --shards 2   # one target, two processes
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


def _combine(shards: list[dict]) -> dict:
    """Shards of one seeded run (``--start`` ranges) -> one result."""
    if len(shards) == 1:
        return shards[0]
    out = dict(shards[0])
    out["shards"] = len(shards)
    outcomes: dict[str, int] = {}
    for r in shards:
        for k, v in r["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    out["outcomes"] = dict(sorted(outcomes.items()))
    out["first_input"] = min(r.get("first_input", 0) for r in shards)
    for key in ("inputs", "workers"):
        out[key] = sum(r[key] for r in shards)
    for key in ("crashes", "hangs"):
        out[key] = [x for r in shards for x in r[key]]
    out["unexpected"] = {k: v for r in shards for k, v in r["unexpected"].items()}
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in shards)
    out["slowest_input_s"] = max(r["slowest_input_s"] for r in shards)
    out["seconds"] = max(r["seconds"] for r in shards)  # shards run in parallel
    return out


def merge(parts: Path, out: Path, names: list[str], note: str | None = None) -> dict:
    import torch

    runs = {}
    for name in names:
        shards = [
            json.loads(f.read_text()) for f in sorted(parts.glob(f"{name}.*json")) if f.stem.split(".")[0] == name
        ]
        if shards:
            runs[name] = _combine(shards)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    for name, r in previous.get("targets", {}).items():  # targets not rerun keep their results (and notes)
        runs.setdefault(name, r)
    if previous.get("note") and note:
        note = previous["note"] + " | " + note
    elif previous.get("note"):
        note = previous["note"]
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
        "note": note or "nice 19 on a shared 2-core machine (a model was training beside it): inputs/s are indicative",
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
    p.add_argument("--shards", type=int, default=1, help="processes per target, each a range of the inputs")
    p.add_argument("--merge-only", action="store_true")
    p.add_argument("--note", help="a note for the merged result (what ran where)")
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
            for f in parts.glob(f"{name}.*json"):
                f.unlink()
            for k in range(a.shards):
                lo, hi = inputs * k // a.shards, inputs * (k + 1) // a.shards
                part = str(parts / f"{name}.{k}.json")
                cmd = [sys.executable, "-m", "pywlc.testing.fuzz", name, "--start", str(lo), "--inputs", str(hi),
                       "--seed", str(a.seed), "--timeout", str(a.timeout), "--out", part]  # fmt: skip
                if a.max_seconds:
                    cmd += ["--max-seconds", str(a.max_seconds)]
                procs.append(subprocess.Popen(["nice", "-n", "19", *cmd], env=env, stdout=subprocess.DEVNULL))
        for proc in procs:
            proc.wait()
    res = merge(parts, Path(a.out), names, a.note)
    print(json.dumps(res["total"]))
    for name, r in res["targets"].items():
        rate = r["inputs"] / max(r["seconds"], 1e-9)
        print(f"{name:>16}: {r['inputs']:>7} inputs ({rate:.0f}/s), crashes {len(r['crashes'])}, hangs "
              f"{len(r['hangs'])}, unexpected {len(r['unexpected'])}, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['outcomes']}")  # fmt: skip
    return 0 if not (res["total"]["crashes"] or res["total"]["hangs"] or res["total"]["unexpected"]) else 1


if __name__ == "__main__":
    sys.exit(main())
