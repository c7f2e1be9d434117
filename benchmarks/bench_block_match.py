"""Block-matching benchmark: pywlc.motion.block_match per frame pair, with HVSBM as the anchor in the same run.

    python benchmarks/bench_block_match.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

A smooth random texture and the same texture moved by (+3.25, -2.5) px (``pywlc.benchmark.moving_texture_pair``)
at 384x288 and 1080p: ``block_match`` (16x16 blocks, range 16, quarter-pel; on the device) and, as the anchor,
HVSBM (CPU, 2 threads pinned so numbers compare across machines; ``bench_hvsbm.py`` times it alone).  Medians
with warm-up (``pywlc.benchmark.median_ms``, CUDA events on the GPU); JSON with torch version, device name and
git commit into ``benchmarks/results/block_match-<device>.json``.  ``--quick``: one small size, few repetitions
(CI smoke; no file unless ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pywlc.benchmark import device_tag, median_ms, moving_texture_pair, save_result
from pywlc.motion import block_match, hvsbm

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"384x288": (288, 384), "1080p": (1080, 1920)}
QUICK_SIZES = {"96x64": (64, 96)}


def bench(sizes: dict, device: torch.device, reps: int) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    rows = []
    for name, (h, w) in sizes.items():
        cur, ref = moving_texture_pair(h, w, g)
        cur_d, ref_d = cur.round().to(torch.uint8).to(device), ref.round().to(torch.uint8).to(device)
        row = {"op": "block_match", "size": name, "shape": [h, w], "device": device.type}
        row["block_match_ms"] = median_ms(
            lambda c=cur_d, r=ref_d: block_match(c, r, block=16, search_range=16), device, reps
        )
        row["hvsbm_cpu_2threads_ms"] = median_ms(
            lambda c=cur, r=ref: hvsbm(c, r, threads=2), "cpu", max(1, min(reps, 3)), warmup=1
        )
        rows.append(row)
        print(
            f"{name:8s} block_match (16x16, R16, 1/4-pel, {device.type}) {row['block_match_ms']:.2f} ms | "
            f"anchor HVSBM (CPU, 2 threads) {row['hvsbm_cpu_2threads_ms']:.1f} ms",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="one small size, few repetitions (CI smoke)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 10))
    rows = bench(QUICK_SIZES if args.quick else SIZES, device, reps)
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"block_match-{device_tag(device)}.json"
    save_result("block_match", device, reps, rows, out, ROOT)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
