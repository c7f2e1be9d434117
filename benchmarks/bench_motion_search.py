"""Motion-search benchmark: fixed-grid block matching and HVSBM, per frame pair.

    python benchmarks/bench_motion_search.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

A smooth random texture and the same texture moved by (+3.25, -2.5) px, at 384x288 and 1080p: ``block_match``
(16x16 blocks, range 16, quarter-pel; on the device) and HVSBM (CPU, 2 threads pinned so numbers compare across
machines).  Medians with warm-up (``pywlc.benchmark.median_ms``, CUDA events on the GPU); JSON with torch
version, device name and git commit into ``benchmarks/results/motion_search-<device>.json``.  ``--quick``: one
small size, few repetitions (CI smoke; no file unless ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from pywlc.benchmark import device_tag, median_ms, save_result
from pywlc.motion import block_match, hvsbm

ROOT = Path(__file__).resolve().parents[1]
SEARCH_SIZES = {"384x288": (288, 384), "1080p": (1080, 1920)}
QUICK_SEARCH = {"96x64": (64, 96)}


def _pair(h: int, w: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random texture and the same texture moved by (+3.25, -2.5) px: a 0..255 grey frame pair."""
    base = torch.rand((1, 1, h + 32, w + 32), generator=g) * 255
    base = F.avg_pool2d(base, 5, 1, 2)
    ref = base[0, 0, 8 : 8 + h, 8 : 8 + w]
    cur = F.interpolate(base, scale_factor=4, mode="bicubic", align_corners=False)[0, 0]
    cur = cur[4 * 8 - 10 : 4 * (8 + h) - 10 : 4, 4 * 8 + 13 : 4 * (8 + w) + 13 : 4]
    return cur.contiguous(), ref.contiguous()


def bench_search(sizes: dict, device: torch.device, reps: int) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    rows = []
    for name, (h, w) in sizes.items():
        cur, ref = _pair(h, w, g)
        cur_d, ref_d = cur.round().to(torch.uint8).to(device), ref.round().to(torch.uint8).to(device)
        row = {"op": "motion_search", "size": name, "shape": [h, w], "device": device.type}
        row["block_match_ms"] = median_ms(
            lambda c=cur_d, r=ref_d: block_match(c, r, block=16, search_range=16), device, reps
        )
        row["hvsbm_cpu_2threads_ms"] = median_ms(
            lambda c=cur, r=ref: hvsbm(c, r, threads=2), "cpu", max(1, min(reps, 3)), warmup=1
        )
        rows.append(row)
        print(
            f"{name:8s} block_match (16x16, R16, 1/4-pel, {device.type}) {row['block_match_ms']:.2f} ms | "
            f"HVSBM (CPU, 2 threads) {row['hvsbm_cpu_2threads_ms']:.1f} ms",
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
    rows = bench_search(QUICK_SEARCH if args.quick else SEARCH_SIZES, device, reps)
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"motion_search-{device_tag(device)}.json"
    save_result("motion_search", device, reps, rows, out, ROOT)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
