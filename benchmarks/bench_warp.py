"""Warping benchmark: pywlc.warp vs F.grid_sample, in one run.

    python benchmarks/bench_warp.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

fp32 image ``Tensor[N, 3, H, W]`` and a random relative flow (a few pixels).  For each mode and padding:
forward, and forward+backward (gradients for image and flow), of

* ``pywlc``: ``pywlc.ops.warp(img, flow)``;
* ``grid_sample``: ``F.grid_sample(img, grid, align_corners=True)`` *including* building the normalised
  grid from the relative flow (what a caller holding a flow has to do);

and the copy floor (``img.clone()`` + ``flow.clone()``, what a memory-bound op cannot beat).  Plus
``warp_blocks`` forward (8x8 blocks, bilinear and hevc8).  (The motion searches are timed by
``bench_block_match.py`` and ``bench_hvsbm.py``.)  Medians with warm-up (``pywlc.benchmark.median_ms``,
CUDA events on the GPU); JSON with torch version, device name and git commit into
``benchmarks/results/warp-<device>.json``.  ``--quick``: one small shape, few repetitions (CI smoke; no
file unless ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from pywlc.benchmark import device_tag, median_ms, save_result
from pywlc.ops.warp import warp, warp_blocks

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"cuda": {"1080p": (1, 3, 1080, 1920), "4k": (1, 3, 2160, 3840), "batch8_1080p": (8, 3, 1080, 1920)}}
SHAPES["cpu"] = {"1080p": (1, 3, 1080, 1920)}
QUICK = {"cuda": {"256": (2, 3, 256, 256)}, "cpu": {"128": (1, 3, 128, 160)}}
CASES = (("bilinear", "border"), ("bilinear", "zeros"), ("bicubic", "border"), ("bicubic", "zeros"))


def grid_sample_warp(img, flow, mode: str, padding: str, base: tuple) -> torch.Tensor:
    """The grid_sample route from a relative flow: absolute pixel positions -> [-1, 1] grid -> sample."""
    xs, ys = base
    _, _, h, w = img.shape
    grid = torch.stack(((xs + flow[:, 0]) * (2 / (w - 1)) - 1, (ys + flow[:, 1]) * (2 / (h - 1)) - 1), -1)
    return F.grid_sample(img, grid, mode=mode, padding_mode=padding, align_corners=True)


def bench_shape(shape, device: torch.device, reps: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    n, _, h, w = shape
    img = torch.randn(*shape, generator=g).to(device)
    flow = (torch.randn(n, 2, h, w, generator=g) * 3).to(device)
    cot = torch.randn(*shape, generator=g).to(device)
    base = (
        torch.arange(w, dtype=torch.float32, device=device).view(1, 1, w),
        torch.arange(h, dtype=torch.float32, device=device).view(1, h, 1),
    )
    copy_ms = median_ms(lambda: (img.clone(), flow.clone()), device, reps)
    ig, fg = img.clone().requires_grad_(True), flow.clone().requires_grad_(True)
    rows = []
    for mode, padding in CASES:
        row = {"shape": list(shape), "mode": mode, "padding": padding, "copy_ms": copy_ms}

        def ours(i=img, f=flow, mode=mode, padding=padding):
            return warp(i, f, mode=mode, padding=padding)

        def theirs(i=img, f=flow, mode=mode, padding=padding):
            return grid_sample_warp(i, f, mode, padding, base)

        row["pywlc_fwd_ms"] = median_ms(ours, device, reps)
        row["grid_sample_fwd_ms"] = median_ms(theirs, device, reps)
        row["pywlc_fwd_bwd_ms"] = median_ms(lambda f=ours: f(ig, fg).backward(cot), device, reps)
        row["grid_sample_fwd_bwd_ms"] = median_ms(lambda f=theirs: f(ig, fg).backward(cot), device, reps)
        row["speedup_fwd"] = row["grid_sample_fwd_ms"] / row["pywlc_fwd_ms"]
        row["speedup_fwd_bwd"] = row["grid_sample_fwd_bwd_ms"] / row["pywlc_fwd_bwd_ms"]
        row["pywlc_fwd_vs_copy"] = row["pywlc_fwd_ms"] / copy_ms
        rows.append(row)
        print(
            f"{'x'.join(map(str, shape)):16s} {mode:8s} {padding:6s} copy {copy_ms:.2f} ms | fwd pywlc "
            f"{row['pywlc_fwd_ms']:.2f} grid_sample {row['grid_sample_fwd_ms']:.2f} ({row['speedup_fwd']:.1f}x) | "
            f"fwd+bwd pywlc {row['pywlc_fwd_bwd_ms']:.2f} grid_sample {row['grid_sample_fwd_bwd_ms']:.2f} "
            f"({row['speedup_fwd_bwd']:.1f}x)",
            flush=True,
        )
    block = 8 if h % 8 == 0 and w % 8 == 0 else 1
    mvs = torch.randint(-24, 25, (n, 2, h // block, w // block), generator=g, dtype=torch.int32).to(device)
    for interp in ("bilinear", "hevc8"):
        ms = median_ms(lambda interp=interp: warp_blocks(img, mvs, block, interp=interp), device, reps)
        rows.append({"shape": list(shape), "op": "warp_blocks", "block": block, "interp": interp, "fwd_ms": ms})
        print(f"{'x'.join(map(str, shape)):16s} warp_blocks {interp:8s} block {block}: {ms:.2f} ms", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="one small shape, few repetitions (CI smoke)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 10))
    rows = []
    for shape in (QUICK if args.quick else SHAPES)[device.type].values():
        rows += bench_shape(shape, device, reps)
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"warp-{device_tag(device)}.json"
    save_result("warp", device, reps, rows, out, ROOT)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
