"""Mask-sparse convolution benchmark: pywlc.ops.masked_conv2d (both algorithms) vs the dense ATen / cuDNN conv.

    python benchmarks/bench_masked_conv.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

Per layer, mask and density, in one run: the dense conv (``F.conv2d``), the dense formula
(``torch.where(mask, F.conv2d(...), fill)``), and :func:`masked_conv2d` with ``algo="pixels"`` (im2col gather
of the active pixels, one GEMM), ``"tiles"`` (SBNet-style active ``8 x 8`` tiles, one batch conv) and
``"auto"``.  Every sparse time is the whole sparse path -- the mask, the compaction and the conv:

* ``wavelet`` rows (WaveletVFI's case): the mask is :func:`wavelet_mask` of a real image's detail bands (the
  shipped sample, resized to the layer's input; one bior4.4 level, 2 x 2 blocks, one dilation), its ratio
  bisected to the target density; the timed call runs ``wavelet_mask`` itself.  Such masks are spatially
  clustered, the case the tile path is for.
* ``iid`` rows (the worst case for tiles): i.i.d. pixels at the density; the layer's measured
  ``wavelet_mask_ms`` is added so both row sets count a mask.

Forward, and forward+backward for the channel sweep (wavelet masks).  Layers: channels 64 / 128 / 256
(C -> C, 3 x 3) and WaveletVFI-like decoder layers 576->216, 936->432, 1008->648 at 1/2, 1/4, 1/8 of 1080p
(and the 64-channel layer at 1080p and 4K) on CUDA in fp16 and bf16; the CPU runs fp32 on sizes cut 8x per
side, plus the 64-channel layer cut 2x per side (CPU numbers are only indicative).  Writes JSON (torch,
device, git commit) and a time-vs-density PNG beside it (a panel per layer, a line per algorithm, dense =
1.0); break-even density = where a sparse total meets the dense conv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from pywlc.benchmark import device_tag, median_ms, median_ms_interleaved, save_result
from pywlc.ops.dwt import wavedec2
from pywlc.ops.masked_conv import DEFAULT_TILE, active_tiles, masked_conv2d
from pywlc.ops.wavelet_mask import wavelet_mask

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "pywlc" / "data" / "seeding_by_Clements_Engelhardt.png"
ALGOS = ("pixels", "tiles", "auto")
DENSITIES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
IID_DENSITIES = (0.1, 0.25, 0.5)
# name -> (Cin, Cout, H, W, time forward+backward too)
LAYERS = {
    "cuda": {
        "c64_540p": (64, 64, 544, 960, True),
        "c128_540p": (128, 128, 544, 960, True),
        "c256_270p": (256, 256, 272, 480, True),
        "vfi_576to216_half": (576, 216, 544, 960, False),
        "vfi_936to432_quarter": (936, 432, 272, 480, False),
        "vfi_1008to648_eighth": (1008, 648, 136, 240, False),
        "c64_1080p": (64, 64, 1088, 1920, False),
        "c64_4k": (64, 64, 2160, 3840, False),
    },
    "cpu": {
        "c64_96": (64, 64, 96, 96, True),
        "c128_96": (128, 128, 96, 96, True),
        "c256_48": (256, 256, 48, 48, True),
        "vfi_576to216_half/8": (576, 216, 68, 120, False),
        "vfi_936to432_quarter/8": (936, 432, 34, 60, False),
        "vfi_1008to648_eighth/8": (1008, 648, 18, 30, False),
        # The 64-channel 540p layer cut only 2x per side: masks as clustered (relative to the tiles) as at
        # full resolution, which the 8x cuts are not.
        "c64_272x480": (64, 64, 272, 480, False),
    },
}
QUICK = {
    "cuda": {"c64_540p": (64, 64, 544, 960, True), "vfi_936to432_quarter": (936, 432, 272, 480, False)},
    "cpu": {"c64_48": (64, 64, 48, 48, True), "vfi_936to432_quarter/16": (936, 432, 18, 30, False)},
}
QUICK_DENSITIES = (0.1, 1.0)


def image_bands(h: int, w: int, device: torch.device, dtype: torch.dtype) -> tuple[tuple, torch.Tensor]:
    """One bior4.4 level of the sample image resized to ``h x w``: ``((cH, cV, cD), LL)``, ``[1, 3, h/2, w/2]``."""
    from pywlc.demo import load_image

    img = load_image(SAMPLE).float() / 255
    img = F.interpolate(img, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    ll, ((ch, cv, cd),) = wavedec2(img.to(device), "bior4.4", level=1)
    return tuple(t.to(dtype) for t in (ch, cv, cd)), ll.to(dtype)


def ratio_for(bands: tuple, ll: torch.Tensor, size: tuple[int, int], density: float) -> float:
    """The ``wavelet_mask`` ratio whose mask density is closest to ``density`` (bisection: density falls as the
    ratio grows).  1.0 gives ratio 0 (every location with any detail)."""
    if density >= 1.0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if wavelet_mask(bands, ll, mid, size=size).float().mean().item() > density:
            lo = mid
        else:
            hi = mid
    dens = {r: abs(wavelet_mask(bands, ll, r, size=size).float().mean().item() - density) for r in (lo, hi)}
    return min(dens, key=dens.get)


def iid_mask(h: int, w: int, density: float, device: torch.device, seed: int = 0) -> torch.Tensor:
    """``Tensor[1, 1, h, w]`` bool of i.i.d. pixels, each on with probability ``density``."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 1, h, w, generator=g) < density).to(device)


def bench_layer(cin, cout, h, w, backward, dtype, device, densities, iid_densities, reps) -> list[dict]:
    """One layer's rows: per mask kind and density, every contender timed in turn within each repetition
    (:func:`median_ms_interleaved`) so the ratios to the dense conv hold on a shared, drifting machine."""
    warm = 3 if device.type == "cuda" else 1
    x = torch.randn(1, cin, h, w, device=device, dtype=dtype)
    wt = torch.randn(cout, cin, 3, 3, device=device, dtype=dtype) / (9 * cin) ** 0.5
    b = torch.randn(cout, device=device, dtype=dtype)
    xg, wg, bg = (t.clone().requires_grad_() for t in (x, wt, b))
    bands, ll = image_bands(h, w, device, dtype)
    size = (h, w)
    mask_ms = median_ms(lambda: wavelet_mask(bands, ll, 0.05, size=size), device, reps, warm)
    rows = []
    cases = [("wavelet", d) for d in densities] + [("iid", d) for d in iid_densities]
    for kind, d in cases:
        if kind == "wavelet":
            ratio = ratio_for(bands, ll, size, d)
            mask = wavelet_mask(bands, ll, ratio, size=size)

            def make_mask(r=ratio):
                return wavelet_mask(bands, ll, r, size=size)

            extra_ms = 0.0
        else:
            mask = iid_mask(h, w, d, device)

            def make_mask(m=mask):
                return m

            extra_ms = mask_ms
        act = active_tiles(mask, DEFAULT_TILE)
        fns = {
            "dense": lambda: F.conv2d(x, wt, b, padding=1),
            "dense_formula": lambda m=mask: torch.where(m, F.conv2d(x, wt, b, padding=1), 0.0),
            "compaction": lambda m=mask: active_tiles(m, DEFAULT_TILE),
        }
        for algo in ALGOS:
            fns[algo] = lambda f=make_mask, a=algo: masked_conv2d(x, wt, b, f(), algo=a)
        if backward and kind == "wavelet":
            fns["dense_fwd_bwd"] = lambda: F.conv2d(xg, wg, bg, padding=1).sum().backward()
            for algo in ALGOS:
                fns[f"{algo}_fwd_bwd"] = (
                    lambda f=make_mask, a=algo: masked_conv2d(xg, wg, bg, f(), algo=a).sum().backward()
                )
        ms = median_ms_interleaved(fns, device, reps, warm)
        row = {
            "cin": cin,
            "cout": cout,
            "hw": [h, w],
            "dtype": str(dtype).replace("torch.", ""),
            "mask": kind,
            "density": d,
            "measured_density": act.density,
            "tile_density": act.tiles.numel() * DEFAULT_TILE**2 / (h * w),
            "tile": DEFAULT_TILE,
            "dense_ms": ms["dense"],
            "dense_formula_ms": ms["dense_formula"],
            "wavelet_mask_ms": mask_ms,
            "compaction_ms": ms["compaction"],
        }
        for algo in ALGOS:
            row[f"{algo}_total_ms"] = ms[algo] + extra_ms
            row[f"{algo}_ratio"] = row[f"{algo}_total_ms"] / ms["dense"]
            if f"{algo}_fwd_bwd" in ms:
                row["dense_fwd_bwd_ms"] = ms["dense_fwd_bwd"]
                row[f"{algo}_fwd_bwd_ms"] = ms[f"{algo}_fwd_bwd"]
                row[f"{algo}_fwd_bwd_ratio"] = ms[f"{algo}_fwd_bwd"] / ms["dense_fwd_bwd"]
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
                masked_conv2d(x, wt, b, mask, algo=algo)
                row[f"{algo}_peak_extra_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        rows.append(row)
    return rows


def break_even(rows: list[dict], algo: str) -> float | None:
    """Density where ``algo``'s sparse total meets the dense conv (linear interpolation of the time ratio between
    the measured densities): 1.0 if sparse is faster at every density, 0.0 if it is slower already at the lowest."""
    pts = [(r["measured_density"], r[f"{algo}_ratio"] - 1.0) for r in rows]
    for (d0, e0), (d1, e1) in zip(pts, pts[1:], strict=False):
        if e0 < 0 <= e1:
            return d0 + (d1 - d0) * (-e0) / (e1 - e0)
    if not pts:
        return None
    return 1.0 if all(e < 0 for _, e in pts) else 0.0


def plot(cases: dict[str, list[dict]], path: Path) -> None:
    """One panel per layer: time / dense conv vs density, a line per algorithm (wavelet masks solid, i.i.d.
    masks dotted), dense = 1.0."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    cols = 3
    nrows = -(-len(cases) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.3 * nrows), squeeze=False, sharex=True)
    for ax, (name, rows) in zip(axes.flat, cases.items(), strict=False):
        for i, algo in enumerate(ALGOS):
            for kind, ls in (("wavelet", "-"), ("iid", ":")):
                sel = [r for r in rows if r["mask"] == kind]
                ax.plot([r["measured_density"] * 100 for r in sel], [r[f"{algo}_ratio"] for r in sel], ls=ls,
                        marker="o", ms=3, color=f"C{i}", label=f"{algo} ({kind} masks)")  # fmt: skip
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3, which="both")
    for ax in axes.flat[len(cases) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("mask density, %")
    for ax in axes[:, 0]:
        ax.set_ylabel("time / dense conv")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("masked_conv2d (mask + compaction + conv) / dense conv; below 1 = faster", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="two small layers, two densities (CI smoke)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 7))
    layers = (QUICK if args.quick else LAYERS)[device.type]
    densities = QUICK_DENSITIES if args.quick else DENSITIES
    iid = IID_DENSITIES[1:2] if args.quick else IID_DENSITIES
    dtypes = (torch.float16, torch.bfloat16) if device.type == "cuda" else (torch.float32,)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    all_rows, cases = [], {}
    for tag, (cin, cout, h, w, backward) in layers.items():
        for dtype in dtypes:
            rows = bench_layer(cin, cout, h, w, backward, dtype, device, densities, iid, reps)
            name = f"{tag} {str(dtype).replace('torch.', '')}"
            for kind in ("wavelet", "iid"):
                kind_rows = [r for r in rows if r["mask"] == kind]
                for algo in ALGOS:
                    be = break_even(kind_rows, algo)
                    for r in kind_rows:
                        r["case"] = tag
                        r[f"{algo}_break_even_density"] = be
            cases[name] = rows
            all_rows += rows
            print(f"{name}: dense ~{rows[0]['dense_ms']:.2f} ms, mask {rows[0]['wavelet_mask_ms']:.2f} ms", flush=True)
            for r in rows:
                cells = " ".join(f"{a} {r[f'{a}_ratio']:.2f}" for a in ALGOS)
                print(
                    f"  {r['mask']:7s} {r['measured_density']:6.1%} (tiles {r['tile_density']:6.1%}) x dense: {cells}",
                    flush=True,
                )
            w_rows = [r for r in rows if r["mask"] == "wavelet"]
            print(
                "  break-even (wavelet): " + " ".join(f"{a} {w_rows[0][f'{a}_break_even_density']:.0%}" for a in ALGOS)
            )
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"masked_conv-{device_tag(device)}.json"
    save_result("masked_conv", device, reps, all_rows, out, ROOT)
    plot(cases, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
