"""The README's main job: pywlc's image codec on the shipped sample, then the library underneath it.

    python -m pywlc.demo [--out DIR] [--device cuda] [--levels 3] [IMAGE ...]

1. The wavelet image codec (``pywlc.codecs.wavelet``, shipped weights) compresses the first image at a few
   qualities and losslessly; a table gives bpp (from the bytes), RGB PSNR and encode / decode times next to JPEG
   (quality chosen for the nearest bpp) and JPEG 2000 (OpenJPEG 9/7 + ICT, rate-controlled to the same bpp), and
   lossless bits per sub-pixel next to PNG and JPEG 2000 (5/3 + RCT); an RD plot (PSNR vs bpp) goes to
   ``DIR/demo-rd.png``.
2. Wavelet round trips: 3-level forward + inverse, the reconstruction error (bitwise for the reversible int5/3),
   the low band's share of the energy and the near-zero coefficients; forward+inverse 9/7 times of pywlc and of
   the installed anchors, measured in this run.
3. MCTF: 8 frames panning across the image (frame k samples it at p + k (1.25, -0.5) px) go through 2-level 5/3
   MCTF with zero motion, block matching and HVSBM: H-frame energy below the frames, the recovered vector, and
   the round-trip error.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch

import pywlc
from pywlc import anchors
from pywlc.benchmark import dwt_contenders, median_ms

SAMPLES = Path(__file__).resolve().parent / "data"


def load_image(path: Path) -> torch.Tensor:
    """``Tensor[1, 3, H, W]`` uint8 RGB (:func:`pywlc.imageio.load_image`)."""
    from pywlc.imageio import load_image as load

    return load(path, mode="rgb")[0].unsqueeze(0)


QUALITIES = (20.0, 40.0, 60.0, 80.0)
JPEG_QUALITIES = (5, 10, 20, 35, 50, 70, 85, 95)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _timed(fn, reps: int) -> tuple[object, float]:
    """``fn()``'s result and its median wall time in ms over ``reps`` runs."""
    out, times = None, []
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return out, statistics.median(times)


def _wavelet_codec():
    """``pywlc.codecs.wavelet`` when it and its shipped weights work, else ``(None, reason)``."""
    try:
        from pywlc.codecs import wavelet

        wavelet.decode(wavelet.encode(torch.full((3, 16, 16), 128, dtype=torch.uint8), quality=50.0))
        return wavelet, ""
    except Exception as e:  # not built, no weights: the anchors still run
        return None, f"{type(e).__name__}: {e}"


def _point(codec: str, setting: str, x: torch.Tensor, enc, dec, reps: int) -> dict:
    data, enc_ms = _timed(lambda: enc(x), reps)
    y, dec_ms = _timed(lambda: dec(data), reps)
    bits = 8.0 * len(data)
    return {
        "codec": codec,
        "setting": setting,
        "bpp": bits / (x.shape[-2] * x.shape[-1]),
        "bpsp": bits / x.numel(),
        "psnr": _psnr(x, y),
        "bitwise": bool(torch.equal(x, y)),
        "enc_ms": enc_ms,
        "dec_ms": dec_ms,
    }


def _jpeg_at(x: torch.Tensor, bpp: float) -> int:
    """The JPEG quality (1-100) whose rate on ``x`` is nearest ``bpp`` (bisection: rate grows with quality)."""
    jpeg, pixels = anchors.get("jpeg"), x.shape[-2] * x.shape[-1]
    lo, hi = 1, 100
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if 8.0 * len(jpeg.encode(x, mid)) / pixels < bpp else (lo, mid)
    rates = {q: 8.0 * len(jpeg.encode(x, q)) / pixels for q in (lo, hi)}
    return min(rates, key=lambda q: abs(math.log(rates[q] / bpp)))


def codec_rows(x: torch.Tensor, reps: int = 3) -> tuple[list[dict], list[dict], str]:
    """Lossy and lossless points of ours (when available), JPEG and JPEG 2000 on ``x`` (``Tensor[3, H, W]``).

    Returns ``(lossy, lossless, note)``; ``note`` says why ours is missing (empty when it ran).
    """
    wavelet, note = _wavelet_codec()
    jpeg, j2k = anchors.get("jpeg"), anchors.get("jpeg2000")
    lossy: list[dict] = []
    targets: list[float] = [0.25, 0.5, 1.0, 2.0]
    if wavelet is not None:
        targets = []
        for q in QUALITIES:
            p = _point("pywlc", f"quality {q:g}", x, lambda t, q=q: wavelet.encode(t, quality=q), wavelet.decode, reps)
            lossy.append(p)
            targets.append(p["bpp"])
    for bpp in targets:
        q = _jpeg_at(x, bpp)
        lossy.append(_point("JPEG", f"quality {q}", x, lambda t, q=q: jpeg.encode(t, q), jpeg.decode, reps))
        lossy.append(_point("JPEG 2000", f"{bpp:.3f} bpp", x, lambda t, b=bpp: j2k.encode(t, b), j2k.decode, reps))
    lossless = []
    if wavelet is not None:
        lossless.append(
            _point("pywlc", "lossless", x, lambda t: wavelet.encode(t, lossless=True), wavelet.decode, reps)
        )
    for name, label in (("png", "PNG"), ("jpeg2000-lossless", "JPEG 2000")):
        a = anchors.get(name)
        lossless.append(_point(label, "5/3 + RCT" if "2000" in name else "zlib 9", x, a.encode, a.decode, reps))
    return lossy, lossless, note


def plot_rd(x: torch.Tensor, lossy: list[dict], path: Path) -> None:
    """PSNR vs bpp: ours' points, JPEG and JPEG 2000 curves over their grids (plus the table's points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pixels = x.shape[-2] * x.shape[-1]
    curves: dict[str, list[tuple[float, float]]] = {}
    for name, label, grid in (
        ("jpeg", "JPEG", JPEG_QUALITIES),
        ("jpeg2000", "JPEG 2000", anchors.get("jpeg2000").grid),
    ):
        a = anchors.get(name)
        for p in grid:
            data = a.encode(x, p)
            curves.setdefault(label, []).append((8.0 * len(data) / pixels, _psnr(x, a.decode(data))))
    for r in lossy:
        curves.setdefault(r["codec"], []).append((r["bpp"], r["psnr"]))
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, pts in curves.items():
        pts = sorted(pts)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, lw=2.2 if label == "pywlc" else 1.2, label=label)
    ax.set(xlabel="bpp", ylabel="RGB PSNR (dB)", title=f"{x.shape[-1]}x{x.shape[-2]} sample", xlim=(0, 2.5))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "pywlc-demo", help="plot folder")
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions per DWT contender")
    parser.add_argument(
        "--codec-reps", type=int, default=1, help="timed runs per codec point (after a warm-up: the probe, the search)"
    )
    args = parser.parse_args(argv)
    images = args.images or sorted(SAMPLES.glob("*.png"))
    if not images:
        parser.error(f"no images given and none shipped in {SAMPLES}")
    info = pywlc.build_info()
    print(
        f"pywlc {info['version']}  compiled={info['compiled']}  cuda={info['cuda']}  torch {info['torch']}  "
        f"device={args.device}  threads={torch.get_num_threads()}"
    )
    img = load_image(images[0])
    name = f"{images[0].name} ({img.shape[-1]}x{img.shape[-2]} RGB)"

    with torch.no_grad():  # not inference_mode: the codec's cached model must stay usable outside it
        lossy, lossless, note = codec_rows(img[0], args.codec_reps)
    runs = "one run" if args.codec_reps == 1 else f"median of {args.codec_reps} runs"
    print(f"\n1. Image codec on {name}: bpp from the bytes, RGB PSNR, times of {runs} on the CPU")
    if note:
        print(f"   pywlc.codecs.wavelet unavailable ({note}); the anchors alone:")
    print_table(
        ("codec", "setting", "bpp", "PSNR", "encode ms", "decode ms"),
        [
            (
                r["codec"],
                r["setting"],
                f"{r['bpp']:.3f}",
                f"{r['psnr']:.2f} dB",
                f"{r['enc_ms']:.0f}",
                f"{r['dec_ms']:.0f}",
            )
            for r in lossy
        ],
    )
    print("\n   lossless (bits per sub-pixel):")
    print_table(
        ("codec", "setting", "bpsp", "round trip", "encode ms", "decode ms"),
        [
            (
                r["codec"],
                r["setting"],
                f"{r['bpsp']:.3f}",
                "bitwise" if r["bitwise"] else "NOT LOSSLESS",
                f"{r['enc_ms']:.0f}",
                f"{r['dec_ms']:.0f}",
            )
            for r in lossless
        ],
    )
    plot = args.out / "demo-rd.png"
    plot_rd(img[0], lossy, plot)
    print(f"\n   RD plot: {plot}")

    print(f"\n2. Wavelet round trips on {name}, {args.levels} levels, symmetric extension")
    print_table(
        ("wavelet", "max |x - x'|", "round-trip PSNR", "energy in LL", "|coef| < 1/255"),
        round_trip_rows(img, args.levels, args.device),
    )
    x = img.to(args.device, torch.float32) / 255.0
    print(f"\n   bior4.4 forward + inverse, {tuple(x.shape)} float32, median of {args.reps} (same run):")
    times = {}
    for lib, (fwd, inv) in dwt_contenders("bior4.4", args.levels, args.device).items():
        xx = x.cpu() if lib == "pywt" else x
        times[lib] = median_ms(lambda f=fwd, i=inv, t=xx: i(f(t)), args.device, reps=args.reps)
    print_table(
        ("library", "ms", "vs pywlc"), [(n, f"{t:.2f}", f"{t / times['pywlc']:.1f}x") for n, t in times.items()]
    )

    print(
        "\n3. MCTF (5/3, 2 levels), 8 frames: frame k = image at p + k (1.25, -0.5); true left vector (+1.25, -0.50):"
    )
    print_table(
        ("motion", "H energy below frames, level 1", "level 2", "median left vector (px)", "max |x - x'|"),
        mctf_rows(img, args.device),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
