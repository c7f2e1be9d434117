"""Mask-sparse convolution benchmark: pywlc.ops.masked_conv2d vs the dense ATen / cuDNN conv, in one run.

    python benchmarks/bench_sparse_conv.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

Per layer and mask density (5 % .. 100 %): the dense conv (``F.conv2d``), the dense formula
(``torch.where(mask, F.conv2d(...), fill)``), and the sparse path -- compaction (:func:`active_tiles`) plus
:func:`masked_conv2d` -- both with and without the compaction time, and the wavelet mask itself
(:func:`wavelet_mask` from the level's detail bands).  Forward, and forward+backward for the channel sweep.
Masks are 2 x 2 blocks drawn at random at the given density (a wavelet mask one level down, without the
spatial clustering real detail has: the least cache-friendly case).

Layers: channels 64 / 128 / 256 (C -> C, 3 x 3) and WaveletVFI-like decoder layers 576->216, 936->432,
1008->648 at 1/2, 1/4, 1/8 of 1080p.  CUDA runs fp16 and bf16 (fp32 accumulation); the CPU runs fp32 on
sizes cut 8x per side (CPU numbers are only indicative).  Writes JSON (torch, device, git commit) and a
time-vs-density PNG beside it; break-even density = where the sparse total meets the dense conv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from pywlc.benchmark import device_tag, median_ms, save_result
from pywlc.ops.sparse_conv import active_tiles, masked_conv2d
from pywlc.ops.wavelet_mask import wavelet_mask

ROOT = Path(__file__).resolve().parents[1]
DENSITIES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
# name -> (Cin, Cout, H, W, time forward+backward too)
LAYERS = {
    "cuda": {
        "c64_540p": (64, 64, 544, 960, True),
        "c128_540p": (128, 128, 544, 960, True),
        "c256_270p": (256, 256, 272, 480, True),
        "vfi_576to216_half": (576, 216, 544, 960, False),
        "vfi_936to432_quarter": (936, 432, 272, 480, False),
        "vfi_1008to648_eighth": (1008, 648, 136, 240, False),
    },
    "cpu": {
        "c64_96": (64, 64, 96, 96, True),
        "c128_96": (128, 128, 96, 96, True),
        "c256_48": (256, 256, 48, 48, True),
        "vfi_576to216_half/8": (576, 216, 68, 120, False),
        "vfi_936to432_quarter/8": (936, 432, 34, 60, False),
        "vfi_1008to648_eighth/8": (1008, 648, 18, 30, False),
    },
}
QUICK = {
    "cuda": {"c64_540p": (64, 64, 544, 960, True), "vfi_936to432_quarter": (936, 432, 272, 480, False)},
    "cpu": {"c64_48": (64, 64, 48, 48, True), "vfi_936to432_quarter/16": (936, 432, 18, 30, False)},
}
QUICK_DENSITIES = (0.05, 0.25, 1.0)


def block_mask(n: int, h: int, w: int, density: float, device: torch.device, seed: int = 0) -> torch.Tensor:
    """``Tensor[N, 1, h, w]`` bool of 2 x 2 blocks, each on with probability ``density`` (exactly all at 1.0)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, (h + 1) // 2, (w + 1) // 2, generator=g) < density
    return coarse.repeat_interleave(2, 2).repeat_interleave(2, 3)[..., :h, :w].contiguous().to(device)


def bench_layer(cin: int, cout: int, h: int, w: int, backward: bool, dtype, device, densities, reps: int) -> list:
    warm = 3 if device.type == "cuda" else 1
    x = torch.randn(1, cin, h, w, device=device, dtype=dtype)
    wt = torch.randn(cout, cin, 3, 3, device=device, dtype=dtype) / (9 * cin) ** 0.5
    b = torch.randn(cout, device=device, dtype=dtype)
    dense_ms = median_ms(lambda: F.conv2d(x, wt, b, padding=1), device, reps, warm)
    dense_bwd_ms = None
    if backward:
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, wt, b))
        dense_bwd_ms = median_ms(lambda: F.conv2d(xg, wg, bg, padding=1).sum().backward(), device, reps, warm)
    # The level's detail bands one scale down (C channels) and its LL: what wavelet_mask reads.
    hf = torch.randn(1, 3 * cin, (h + 1) // 2, (w + 1) // 2, device=device, dtype=dtype)
    ll = torch.randn(1, cin, (h + 1) // 2, (w + 1) // 2, device=device, dtype=dtype)
    mask_ms = median_ms(lambda: wavelet_mask(hf, ll, 0.05, block=2, dilate=1), device, reps, warm)
    rows = []
    for d in densities:
        mask = block_mask(1, h, w, d, device)
        act = active_tiles(mask)
        row = {
            "cin": cin,
            "cout": cout,
            "hw": [h, w],
            "dtype": str(dtype).replace("torch.", ""),
            "density": d,
            "measured_density": act.density,
            "dense_ms": dense_ms,
            "wavelet_mask_ms": mask_ms,
        }
        row["dense_formula_ms"] = median_ms(
            lambda m=mask: torch.where(m, F.conv2d(x, wt, b, padding=1), 0.0), device, reps, warm
        )
        row["compaction_ms"] = median_ms(lambda m=mask: active_tiles(m), device, reps, warm)
        row["sparse_conv_ms"] = median_ms(
            lambda m=mask, a=act: masked_conv2d(x, wt, b, m, active=a), device, reps, warm
        )
        row["sparse_total_ms"] = median_ms(lambda m=mask: masked_conv2d(x, wt, b, m), device, reps, warm)
        row["speedup_vs_dense"] = dense_ms / row["sparse_total_ms"]
        if backward:
            row["dense_fwd_bwd_ms"] = dense_bwd_ms
            row["sparse_fwd_bwd_ms"] = median_ms(
                lambda m=mask, t=(xg, wg, bg): masked_conv2d(*t, m).sum().backward(), device, reps, warm
            )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            masked_conv2d(x, wt, b, mask, active=act)
            row["sparse_peak_extra_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        rows.append(row)
    return rows


def break_even(rows: list[dict]) -> float | None:
    """Density where the sparse total time meets the dense conv (linear interpolation between measured densities):
    1.0 if sparse is faster at every density, 0.0 if it is slower already at the lowest."""
    pts = [(r["density"], r["sparse_total_ms"] - r["dense_ms"]) for r in rows]
    for (d0, e0), (d1, e1) in zip(pts, pts[1:], strict=False):
        if e0 < 0 <= e1:
            return d0 + (d1 - d0) * (-e0) / (e1 - e0)
    if not pts:
        return None
    return 1.0 if all(e < 0 for _, e in pts) else 0.0


def plot(cases: dict[str, list[dict]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, rows in cases.items():
        ds = [r["density"] * 100 for r in rows]
        ax.plot(ds, [r["sparse_total_ms"] / r["dense_ms"] for r in rows], marker="o", label=name)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="dense conv")
    ax.set_xlabel("mask density, %")
    ax.set_ylabel("masked_conv2d (incl. compaction) / dense conv time")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="two small layers, three densities (CI smoke)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 5))
    layers = (QUICK if args.quick else LAYERS)[device.type]
    densities = QUICK_DENSITIES if args.quick else DENSITIES
    dtypes = (torch.float16, torch.bfloat16) if device.type == "cuda" else (torch.float32,)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    all_rows, cases = [], {}
    for tag, (cin, cout, h, w, backward) in layers.items():
        for dtype in dtypes:
            rows = bench_layer(cin, cout, h, w, backward, dtype, device, densities, reps)
            name = f"{tag} {str(dtype).replace('torch.', '')}"
            be = break_even(rows)
            for r in rows:
                r["case"] = tag
                r["break_even_density"] = be
            cases[name] = rows
            all_rows += rows
            cells = " ".join(f"{r['density']:.0%}:{r['sparse_total_ms']:.2f}" for r in rows)
            print(
                f"{name:32s} dense {rows[0]['dense_ms']:.2f} ms | sparse total (ms) {cells} | "
                f"mask {rows[0]['wavelet_mask_ms']:.2f} ms | break-even {be:.0%}",
                flush=True,
            )
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"{device_tag(device)}-sparse.json"
    save_result("sparse_conv", device, reps, all_rows, out, ROOT)
    plot(cases, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
