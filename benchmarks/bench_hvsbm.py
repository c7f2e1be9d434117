"""HVSBM benchmark: pywlc.motion.hvsbm (MC-EZBC's variable-size block search) per frame pair, on the CPU.

    python benchmarks/bench_hvsbm.py [--quick] [--threads 2] [--out benchmarks/results/NAME.json]

The frame pair of ``bench_block_match.py`` (``pywlc.benchmark.moving_texture_pair``: a smooth random texture moved
by (+3.25, -2.5) px) at 384x288 and 1080p; 64 -> 4 quadtree, quarter-pel, ``--threads`` worker threads (default
2, pinned so numbers compare across machines).  Medians with warm-up; JSON with torch version, device name and
git commit into ``benchmarks/results/hvsbm-<device>.json``.  ``--quick``: one small size, few repetitions (CI
smoke; no file unless ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pywlc.benchmark import device_tag, median_ms, moving_texture_pair, save_result
from pywlc.motion import hvsbm

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"384x288": (288, 384), "1080p": (1080, 1920)}
QUICK_SIZES = {"96x64": (64, 96)}


def bench(sizes: dict, threads: int, reps: int) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    rows = []
    for name, (h, w) in sizes.items():
        cur, ref = moving_texture_pair(h, w, g)
        row = {"op": "hvsbm", "size": name, "shape": [h, w], "threads": threads}
        row["hvsbm_ms"] = median_ms(lambda c=cur, r=ref: hvsbm(c, r, threads=threads), "cpu", reps, warmup=1)
        rows.append(row)
        print(f"{name:8s} HVSBM (CPU, {threads} threads) {row['hvsbm_ms']:.1f} ms", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="HVSBM runs on the CPU only")
    parser.add_argument("--quick", action="store_true", help="one small size, few repetitions (CI smoke)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    reps = args.reps or 3
    rows = bench(QUICK_SIZES if args.quick else SIZES, args.threads, reps)
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"hvsbm-{device_tag(torch.device('cpu'))}.json"
    save_result("hvsbm", torch.device("cpu"), reps, rows, out, ROOT)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
