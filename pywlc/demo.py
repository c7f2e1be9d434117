"""The README's main job: wavelet round trips on the shipped sample images, a short speed table, and
motion-compensated temporal filtering of a sequence made from the sample.

    python -m pywlc.demo [--device cuda] [--levels 3] [IMAGE ...]

For each image and wavelet: 3-level forward + inverse, the reconstruction error (bitwise for the
reversible int5/3), how much energy the low band holds and how many coefficients are near zero; then
forward+inverse times of pywlc and of the installed anchors, measured in this run.  Finally 8 frames panning
across the first image (frame k samples it at p + k (1.25, -0.5) px) go through 2-level 5/3 MCTF with zero motion, block
matching and HVSBM: H-frame energy below the frames, the recovered vector, and the round-trip error.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

import pywlc
from pywlc.benchmark import dwt_contenders, median_ms

SAMPLES = Path(__file__).resolve().parent / "data"


def load_image(path: Path) -> torch.Tensor:
    """``Tensor[1, 3, H, W]`` uint8 RGB."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)


def round_trip_rows(img: torch.Tensor, levels: int, device: str) -> list[tuple[str, str, str, str, str]]:
    rows = []
    x = img.to(device, torch.float32) / 255.0
    for wavelet in ("haar", "bior2.2", "bior4.4"):
        y = pywlc.dwt(x, wavelet, levels)
        xr = pywlc.idwt(y, wavelet, levels)
        err = (xr - x).abs().max().item()
        psnr = 10 * math.log10(1.0 / max((xr - x).pow(2).mean().item(), 1e-30))
        approx, _ = pywlc.wavedec2(x, wavelet, levels)
        ll_share = approx.pow(2).sum().item() / y.pow(2).sum().item()
        small = (y.abs() < 1.0 / 255).float().mean().item()
        rows.append((wavelet, f"{err:.1e}", f"{psnr:.1f} dB", f"{100 * ll_share:.2f}%", f"{100 * small:.1f}%"))
    xi = img.to(device, torch.int32)
    yi = pywlc.dwt(xi, "int5/3", levels)
    lossless = torch.equal(pywlc.idwt(yi, "int5/3", levels), xi)
    approx_i = yi[..., : -(-img.shape[-2] // 2**levels), : -(-img.shape[-1] // 2**levels)]
    ll_share = approx_i.double().pow(2).sum().item() / yi.double().pow(2).sum().item()
    small = (yi.abs() < 1).float().mean().item()
    rows.append(
        (
            "int5/3",
            "0 (bitwise)" if lossless else "NOT LOSSLESS",
            "inf",
            f"{100 * ll_share:.2f}%",
            f"{100 * small:.1f}%",
        )
    )
    return rows


def mctf_rows(img: torch.Tensor, device: str) -> list[tuple[str, ...]]:
    """8 frames panning across ``img`` (frame k = bicubic resampling at p + k (1.25, -0.5)), 2-level 5/3 MCTF."""
    from pywlc import mctf

    grey = (img[0].double() * torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(3, 1, 1)).sum(0)
    h, w = 192, 256
    y0, x0 = (grey.shape[0] - h) // 2, (grey.shape[1] - w) // 2
    big = grey[None, None].float().to(device)
    frames = []
    for k in range(8):
        flow = torch.zeros(1, 2, *big.shape[-2:], device=device)
        flow[:, 0], flow[:, 1] = 1.25 * k, -0.5 * k
        frames.append(pywlc.warp(big, flow, mode="bicubic")[0, :, y0 : y0 + h, x0 : x0 + w])
    x = torch.stack(frames)
    rows = []
    for motion in ("zero", "block", "hvsbm"):
        if motion == "hvsbm" and device != "cpu":
            x_m = x.cpu()
        else:
            x_m = x
        r = mctf.analyze(x_m, levels=2, motion=motion)
        b = 16
        inner = (..., slice(b, -b), slice(b, -b))
        db = [10 * math.log10(x_m[inner].var().item() / (hh / r.alpha)[inner].pow(2).mean().item()) for hh in r.high]
        lvl = r.motion[0]
        use = lvl.uses_left[:, b:-b, b:-b]
        vec = lvl.field_left[:, :, b:-b, b:-b].permute(1, 0, 2, 3)[:, use]
        v = f"({vec[0].median().item():+.2f}, {vec[1].median().item():+.2f})" if vec.numel() else "-"
        err = (mctf.synthesize(r) - x_m).abs().max().item()
        rows.append((motion, f"{db[0]:.1f} dB", f"{db[1]:.1f} dB", v, f"{err:.1e}"))
    return rows


def print_table(header: tuple[str, ...], rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", type=Path, help="images (default: the shipped samples)")
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions per contender")
    args = parser.parse_args(argv)
    images = args.images or sorted(SAMPLES.glob("*.png"))
    if not images:
        parser.error(f"no images given and none shipped in {SAMPLES}")
    info = pywlc.build_info()
    print(
        f"pywlc {info['version']}  compiled={info['compiled']}  cuda={info['cuda']}  torch {info['torch']}  "
        f"device={args.device}"
    )
    for path in images:
        img = load_image(path)
        print(f"\n{path.name}: {img.shape[-1]}x{img.shape[-2]} RGB, {args.levels} levels, symmetric extension")
        print_table(
            ("wavelet", "max |x - x'|", "round-trip PSNR", "energy in LL", "|coef| < 1/255"),
            round_trip_rows(img, args.levels, args.device),
        )
    x = load_image(images[0]).to(args.device, torch.float32) / 255.0
    print(f"\nforward + inverse, {tuple(x.shape)} float32, median of {args.reps} (same run):")
    rows = []
    for wavelet in ("haar", "bior2.2", "bior4.4"):
        times = {}
        for name, (fwd, inv) in dwt_contenders(wavelet, args.levels, args.device).items():
            xx = x.cpu() if name == "pywt" else x
            times[name] = median_ms(lambda f=fwd, i=inv, t=xx: i(f(t)), args.device, reps=args.reps)
        base = times["pywlc"]
        rows.extend((wavelet, n, f"{t:.2f}", f"{t / base:.1f}x") for n, t in times.items())
    print_table(("wavelet", "library", "ms", "vs pywlc"), rows)
    print("\nMCTF (5/3, 2 levels), 8 frames: frame k = image at p + k (1.25, -0.5); true left vector (+1.25, -0.50):")
    print_table(
        ("motion", "H energy below frames, level 1", "level 2", "median left vector (px)", "max |x - x'|"),
        mctf_rows(load_image(images[0]), args.device),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
