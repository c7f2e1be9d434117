"""Image codec benchmark: pywlc's wavelet codec against the classical codecs a user would pick instead.

    python benchmarks/bench_image_codec.py [--quick] [--images N] [--data ../shared/data] [--out results.json]

One run, on the **test** photos of ``shared/data/SPLITS.md`` (14 files), each JPEG original first downscaled by 2
with Pillow's Lanczos filter (antialiasing) exactly as the trainer does, so JPEG artefacts do not dominate:

* **Lossy**: every codec at its grid of rate parameters (about 0.1–2 bpp; ours by ``quality``; the anchors of
  :mod:`pywlc.anchors`: JPEG 4:2:0, WebP method 6, JPEG 2000 = OpenJPEG irreversible 9/7 + ICT rate-controlled,
  JPEG-XL effort 7, AVIF speed 6), bpp from the bytes (header included), RGB PSNR of the decoded 8-bit picture,
  MS-SSIM (``pytorch_msssim``, data range 255), encode / decode wall time.  Ablation rows of ours:
  ``entropy-only`` (fixed 9/7 + learned entropy model: ``encode(lifting=False)``, ``decode(postfilter=False)``),
  ``+lifting`` (learned lifting steps added, no post-filter), and the full codec (``+post-filter``).
* **BD-rate** (``bjontegaard`` package, pchip; PSNR and MS-SSIM in dB = -10 log10(1 - MS-SSIM)) of every codec
  against JPEG 2000, and of ours against every anchor, computed two ways as ``wavelet_codec.md`` ("Evaluating
  fairly") asks: per image (median and mean over the images) and on the mean curves (mean bpp, mean PSNR over the
  images at each rate parameter).  The mean curve penalises a quality-driven codec against the rate-controlled
  JPEG 2000; the per-image figures do not.  ``--rate-targeted`` adds ``ours@bpp`` (ours driven by
  ``encode(bpp=...)`` to JPEG 2000's targets), whose mean curve compares like with like.
* **Lossless**: bits per sub-pixel (8 bytes / (C H W)) of ours and PNG, JPEG 2000 (5/3 + RCT), WebP lossless,
  JPEG-XL (effort 7), AVIF lossless; every round trip checked bitwise.
* **Speed** at 768x512 (the centre crop of the largest test photo): encode and decode of every codec (lossy at the
  grid point nearest 1 bpp in the RD run, and lossless), repetitions interleaved across codecs; median, min, max.

Writes ``benchmarks/results/image-codec-<device>.json`` and the RD plot (PSNR and MS-SSIM vs bpp, one curve per
codec, mean curves) beside it as ``.png``.
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pywlc import anchors
from pywlc.benchmark import _git_commit, device_name

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
OURS_QUALITIES = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0)  # log2 step = 7 - q / 12.5: steps 74 .. 2.1
REFERENCE = "jpeg2000"
SPEED_SIZE = (512, 768)  # H, W
MSSSIM_MIN_SIDE = 161  # pytorch_msssim: 5 scales of an 11-tap window need a side > 160
BD_METHOD = "pchip"


# --- pictures -------------------------------------------------------------------------------------------------


def test_files(data: Path) -> list[Path]:
    """The photo test files listed in ``data/SPLITS.md`` (section "Photos", list "test:")."""
    text = (data / "SPLITS.md").read_text()
    section = text.split("## Photos", 1)[1].split("\n## ", 1)[0]
    block = section.split("test:", 1)[1].split("\n\n", 2)
    items = re.findall(r"^- (\S+)$", "\n".join(block[:2]), re.M)
    if not items:
        raise ValueError(f"no test files found in {data / 'SPLITS.md'}")
    return [data / item for item in items]


def load_picture(path: Path, downscale: int = 2, fit: int | None = None) -> torch.Tensor:
    """``Tensor[3, H, W]`` uint8 RGB, downscaled by ``downscale`` with Lanczos (as ``pywlc.train.image`` does), or,
    with ``fit``, once so that the long side is at most ``fit`` (the other choice ``SPLITS.md`` allows)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if fit is not None and max(im.size) > fit:
            scale = fit / max(im.size)
            size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
            im = im.resize(size, Image.Resampling.LANCZOS)
        elif fit is None and downscale > 1:
            im = im.resize((max(1, im.width // downscale), max(1, im.height // downscale)), Image.Resampling.LANCZOS)
        return torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous()


def nearest_rate(c: Lossy, x: torch.Tensor, bpp: float) -> float:
    """The grid parameter of ``c`` whose rate on ``x`` is nearest ``bpp`` (bisection: grids run low rate first)."""
    pixels = x.shape[-2] * x.shape[-1]
    rates: dict[int, float] = {}

    def rate(i: int) -> float:
        if i not in rates:
            rates[i] = 8.0 * len(c.encode(x, c.grid[i])) / pixels
        return rates[i]

    lo, hi = 0, len(c.grid) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if rate(mid) < bpp else (lo, mid)
    best = min((lo, hi), key=lambda i: abs(math.log(max(rate(i), 1e-9) / bpp)))
    return c.grid[best]


def centre_crop(img: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The centre ``h x w`` of ``img`` (the whole side where it is smaller)."""
    H, W = img.shape[-2:]
    h, w = min(h, H), min(w, W)
    y, x = (H - h) // 2, (W - w) // 2
    return img[:, y : y + h, x : x + w].contiguous()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _gaussian_filter_scipy(input: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """``pytorch_msssim``'s ``gaussian_filter`` (a "valid" 1-D correlation with ``win`` along each spatial axis
    at least as long as the window) through ``scipy.ndimage.correlate1d``: the same numbers (to float32 rounding;
    ``tests/test_bench_image_codec.py``) 3-4x faster than the grouped ``conv2d`` on this CPU, which matters for
    hundreds of multi-megapixel pictures."""
    from scipy.ndimage import correlate1d

    w = win.reshape(-1, win.shape[-1])[0].double().numpy()
    k = len(w)
    out = input.detach().cpu().numpy()
    for axis in range(2, input.dim()):
        n = out.shape[axis]
        if n >= k:
            out = correlate1d(out, w, axis=axis, mode="constant")
            out = np.take(out, np.arange(k // 2, n - k // 2), axis=axis)
    return torch.from_numpy(np.ascontiguousarray(out))


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """MS-SSIM of two ``Tensor[C, H, W]`` pictures (``pytorch_msssim.ms_ssim``, data range 255, its default
    5 scales and weights); ``None`` when a side is too short for 5 scales."""
    import importlib

    impl = importlib.import_module("pytorch_msssim.ssim")  # the module (the package exports a function "ssim")
    if min(a.shape[-2:]) < MSSSIM_MIN_SIDE:
        return None
    original = impl.gaussian_filter
    impl.gaussian_filter = _gaussian_filter_scipy
    try:
        return float(impl.ms_ssim(a[None].float(), b[None].float(), data_range=255.0).item())
    finally:
        impl.gaussian_filter = original


def ms_ssim_db(v: float | None) -> float | None:
    return None if v is None else -10 * math.log10(max(1.0 - v, 1e-12))


# --- contenders -----------------------------------------------------------------------------------------------


@dataclass
class Lossy:
    """One lossy RD curve: ``encode(img, p) -> bytes`` and ``decode(bytes) -> img`` over ``grid``.

    ``share`` names an encoding shared with other curves (ours' ablations decode the same stream two ways), so
    each stream is encoded once per picture and rate point.
    """

    name: str
    param: str
    grid: tuple[float, ...]
    encode: Callable[[torch.Tensor, float], bytes]
    decode: Callable[[bytes], torch.Tensor]
    share: str = ""
    with_ms_ssim: bool = True  # the ablation rows are compared on PSNR only (MS-SSIM is most of a point's time)
    notes: list[str] = field(default_factory=list)


def ours_contenders(
    qualities: tuple[float, ...], rate_targets: tuple[float, ...] | None, probe: torch.Tensor
) -> tuple[list[Lossy], Callable[[torch.Tensor], bytes] | None, Callable[[bytes], torch.Tensor] | None, list[str]]:
    """Ours and its ablations as lossy curves, its lossless ``(encode, decode)``, and notes on what is missing.

    ``probe`` (a small picture) checks which variants the codec supports: ``encode(lifting=..., rdoq=...)`` and
    ``decode(postfilter=False)``.
    """
    notes: list[str] = []
    try:
        from pywlc.codecs import wavelet
    except ImportError as e:
        return [], None, None, [f"ours: pywlc.codecs.wavelet not importable ({e})"]
    try:
        default = wavelet.encode(probe, quality=50.0)
        wavelet.decode(default)
    except Exception as e:  # no weights, or a broken build: say so and measure the anchors
        return [], None, None, [f"ours: encode/decode failed on a probe picture ({type(e).__name__}: {e})"]

    def supported(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (TypeError, ValueError, NotImplementedError) as e:
            notes.append(f"ours: {type(e).__name__}: {e}")
            return None

    curves = [
        Lossy("ours", "quality", qualities, lambda x, q: wavelet.encode(x, quality=q), wavelet.decode, share="ours")
    ]
    no_post = supported(lambda: wavelet.decode(default, postfilter=False))
    switches = supported(lambda: wavelet.encode(probe, quality=50.0, lifting=False, rdoq=False))
    if no_post is not None and switches is not None:
        # The ablation ladder, all decoded without the post-filter: fixed 9/7 + learned entropy model
        # alone, + RDOQ alone, + learned lifting alone, + both (the default stream); "ours" adds the post-filter.
        def variant(name: str, **kw: bool) -> Lossy:
            return Lossy(name, "quality", qualities, lambda x, q: wavelet.encode(x, quality=q, **kw),
                         lambda d: wavelet.decode(d, postfilter=False), share=name, with_ms_ssim=False)

        curves.append(Lossy("ours:+lifting+rdoq", "quality", qualities, lambda x, q: wavelet.encode(x, quality=q),
                            lambda d: wavelet.decode(d, postfilter=False), share="ours", with_ms_ssim=False))
        curves.append(variant("ours:+lifting", lifting=True, rdoq=False))
        curves.append(variant("ours:+rdoq", lifting=False, rdoq=True))
        curves.append(variant("ours:entropy-only", lifting=False, rdoq=False))
    elif no_post is not None:
        # No lifting/RDOQ switches: the default stream is fixed 9/7 + the learned entropy model.
        notes.append(
            "ours: encode() has no lifting=/rdoq= switches: entropy-only = the default stream decoded without the "
            "post-filter; full = the same stream with it"
        )
        curves.append(
            Lossy("ours:entropy-only", "quality", qualities, lambda x, q: wavelet.encode(x, quality=q),
                  lambda d: wavelet.decode(d, postfilter=False), share="ours", with_ms_ssim=False)
        )
    if rate_targets:
        curves.append(Lossy("ours@bpp", "bpp", rate_targets, lambda x, b: wavelet.encode(x, bpp=b), wavelet.decode))
    lossless = supported(lambda: wavelet.encode(probe, lossless=True))
    if lossless is None:
        return curves, None, None, notes
    return curves, (lambda x: wavelet.encode(x, lossless=True)), wavelet.decode, notes


def other_weights(name: str, qualities: tuple[float, ...]) -> tuple[Lossy, tuple[Callable, Callable]]:
    """Ours with the shipped weights ``name`` (the full codec): its lossy curve ``ours[name]`` and its lossless
    ``(encode, decode)``."""
    from pywlc.codecs import wavelet
    from pywlc.codecs.wavelet.model import load_model

    m = load_model(name)
    curve = Lossy(f"ours[{name}]", "quality", qualities, lambda x, q: wavelet.encode(x, quality=q, model=m),
                  lambda d: wavelet.decode(d, model=m))
    return curve, (lambda x: wavelet.encode(x, lossless=True, model=m), lambda d: wavelet.decode(d, model=m))


def anchor_contenders(names: list[str] | None) -> tuple[list[Lossy], list[anchors.Anchor], list[str]]:
    notes, lossy, lossless = [], [], []
    for a in anchors.ANCHORS.values():
        if names is not None and a.name not in names and a.name.replace("-lossless", "") not in names:
            continue
        if not a.available():
            notes.append(f"{a.name}: skipped, {', '.join(a.tools)} not installed")
            continue
        if a.lossless:
            lossless.append(a)
        else:
            lossy.append(Lossy(a.name, a.param or "", a.grid, a.encode, lambda d, a=a: a.decode(d, 3)))
    return lossy, lossless, notes


def tool_versions() -> dict[str, str]:
    import PIL
    import PIL.features

    out = {"pillow": PIL.__version__}
    for name, feature in (("libjpeg", "jpg"), ("libwebp", "webp"), ("openjpeg", "jpg_2000")):
        out[name] = PIL.features.version(feature) or "missing"
    for tool in ("cjxl", "avifenc"):
        try:
            run = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10)
            out[tool] = (run.stdout or run.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out[tool] = "missing"
    return out


# --- BD-rate --------------------------------------------------------------------------------------------------


def bd_rate(ra: list[float], qa: list[float | None], rt: list[float], qt: list[float | None]) -> dict[str, Any]:
    """BD-rate (%) of the test curve against the anchor with ``bjontegaard`` (pchip), or the reason it fails.

    Returns ``{"bd_rate": float, "overlap": fraction of the smaller quality range shared}`` or ``{"error": ...}``.
    """
    import bjontegaard

    if any(q is None or not math.isfinite(q) for q in (*qa, *qt)):
        return {"error": "quality not available at every point"}
    (ra, qa), (rt, qt) = _monotone(ra, qa), _monotone(rt, qt)  # type: ignore[arg-type]
    if min(len(ra), len(rt)) < 2:
        return {"error": "fewer than 2 points"}
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))  # type: ignore[type-var]
    if hi <= lo:
        return {"error": "the quality ranges do not overlap"}
    span = min(max(qa) - min(qa), max(qt) - min(qt))  # type: ignore[operator]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = bjontegaard.bd_rate(ra, qa, rt, qt, method=BD_METHOD, require_matching_points=False)
    except (ValueError, ZeroDivisionError) as e:
        return {"error": str(e)}
    if not math.isfinite(v):
        return {"error": "not finite"}
    return {"bd_rate": float(v), "overlap": float((hi - lo) / span) if span > 0 else 0.0}


def _monotone(rate: list[float], quality: list[float]) -> tuple[list[float], list[float]]:
    """The points that raise both rate and quality over every lower-rate point kept (a codec that saturates, e.g.
    JPEG 2000 asked for more bits than a smooth picture needs, repeats a point; pchip needs strictly monotonic)."""
    kept: list[tuple[float, float]] = []
    for r, q in sorted(zip(rate, quality, strict=True)):
        if not kept or (r > kept[-1][0] and q > kept[-1][1]):
            kept.append((r, q))
    return [r for r, _ in kept], [q for _, q in kept]


def _summary(values: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [v["bd_rate"] for v in values if "bd_rate" in v]
    return {
        "median": float(statistics.median(ok)) if ok else None,
        "mean": float(statistics.fmean(ok)) if ok else None,
        "n": len(ok),
        "failed": len(values) - len(ok),
        "overlap_below_half": sum(1 for v in values if v.get("overlap", 1.0) < 0.5),
    }


def bd_tables(lossy: dict[str, dict[str, Any]], images: list[str], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """BD-rate of ``test`` vs ``anchor`` for every pair, on PSNR and MS-SSIM: per image and on the mean curves."""
    out: dict[str, Any] = {}
    for test, anchor in pairs:
        if test not in lossy or anchor not in lossy:
            continue
        row: dict[str, Any] = {}
        for metric in ("psnr", "ms_ssim"):

            def q(p: dict[str, Any], metric: str = metric) -> float | None:
                return p[metric] if metric == "psnr" else ms_ssim_db(p[metric])

            per_image = []
            for i, name in enumerate(images):
                a = [p["images"][i] for p in lossy[anchor]["points"]]
                t = [p["images"][i] for p in lossy[test]["points"]]
                r = bd_rate([p["bpp"] for p in a], [q(p) for p in a], [p["bpp"] for p in t], [q(p) for p in t])
                per_image.append({"image": name, **r})
            a, t = lossy[anchor]["points"], lossy[test]["points"]
            mean_curve = bd_rate([p["bpp"] for p in a], [q(p) for p in a], [p["bpp"] for p in t], [q(p) for p in t])
            row[metric] = {"per_image": _summary(per_image), "mean_curve": mean_curve, "images": per_image}
        out[f"{test} vs {anchor}"] = {"test": test, "anchor": anchor, **row}
    return out


# --- measurement ----------------------------------------------------------------------------------------------


def measure_lossy(
    curves: list[Lossy], pictures: list[tuple[str, torch.Tensor]], bar: tqdm, failures: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every curve at every rate parameter on every picture (shared streams encoded once).

    A curve whose codec raises (or decodes a wrong shape) is dropped and the error recorded in ``failures``, so one
    broken contender does not lose the whole run.
    """
    out: dict[str, dict[str, Any]] = {c.name: {"param": c.param, "points": []} for c in curves}
    for c in curves:
        out[c.name]["points"] = [{c.param: p, "images": []} for p in c.grid]
    for name, x in pictures:
        pixels = x.shape[-2] * x.shape[-1]
        streams: dict[tuple[str, float], tuple[bytes, float]] = {}
        for c in curves:
            for k, p in enumerate(c.grid):
                bar.update()
                if c.name in failures:
                    continue
                bar.set_postfix_str(f"{c.name} {c.param}={p:g} {name}"[:60])
                key = (c.share or c.name, p)
                try:
                    if key not in streams:
                        t0 = time.perf_counter()
                        data = c.encode(x, p)
                        streams[key] = (data, time.perf_counter() - t0)
                    data, enc_s = streams[key]
                    t0 = time.perf_counter()
                    y = c.decode(data)
                    dec_s = time.perf_counter() - t0
                    if y.shape != x.shape or y.dtype != torch.uint8:
                        raise RuntimeError(f"decoded {y.dtype} {tuple(y.shape)} for {tuple(x.shape)}")
                except Exception as e:  # record, drop the curve, go on with the others
                    failures[c.name] = f"{c.param}={p:g} on {name} {tuple(x.shape)}: {type(e).__name__}: {e}"
                    continue
                out[c.name]["points"][k]["images"].append(
                    {
                        "image": name,
                        "bytes": len(data),
                        "bpp": 8.0 * len(data) / pixels,
                        "psnr": psnr(x, y),
                        "ms_ssim": ms_ssim(x, y) if c.with_ms_ssim else None,
                        "encode_s": enc_s,
                        "decode_s": dec_s,
                    }
                )
    for failed in failures:
        out.pop(failed, None)
    for curve in out.values():
        for p in curve["points"]:
            rows = p["images"]
            for key in ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s"):
                vals = [r[key] for r in rows]
                p[key] = float(statistics.fmean(vals)) if None not in vals else None
    return out


def measure_lossless(
    contenders: dict[str, tuple[Callable[[torch.Tensor], bytes], Callable[[bytes], torch.Tensor]]],
    pictures: list[tuple[str, torch.Tensor]],
    bar: tqdm,
    failures: dict[str, str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (enc, dec) in contenders.items():
        rows = []
        for img_name, x in pictures:
            bar.update()
            if f"{name} lossless" in failures:
                continue
            bar.set_postfix_str(f"{name} lossless {img_name}"[:60])
            try:
                t0 = time.perf_counter()
                data = enc(x)
                t1 = time.perf_counter()
                y = dec(data)
                t2 = time.perf_counter()
            except Exception as e:  # record, drop the contender, go on with the others
                failures[f"{name} lossless"] = f"{img_name} {tuple(x.shape)}: {type(e).__name__}: {e}"
                continue
            rows.append(
                {
                    "image": img_name,
                    "bytes": len(data),
                    "bpsp": 8.0 * len(data) / x.numel(),
                    "bitwise": bool(y.shape == x.shape and torch.equal(x, y)),
                    "encode_s": t1 - t0,
                    "decode_s": t2 - t1,
                }
            )
        if f"{name} lossless" in failures:
            continue
        subpixels = sum(x.numel() for _, x in pictures)
        out[name] = {
            "bpsp_mean": float(statistics.fmean(r["bpsp"] for r in rows)),
            "bpsp_total": 8.0 * sum(r["bytes"] for r in rows) / subpixels,
            "all_bitwise": all(r["bitwise"] for r in rows),
            "images": rows,
        }
    return out


def measure_speed(
    contenders: dict[str, tuple[Callable[[], bytes], Callable[[bytes], Any]]], reps: int, bar: tqdm
) -> dict[str, Any]:
    """Encode and decode times (ms) of each contender, repetitions interleaved across contenders."""
    streams = {name: enc() for name, (enc, _) in contenders.items()}  # warm-up, and the stream to decode
    for name, (_, dec) in contenders.items():
        dec(streams[name])
    times: dict[str, dict[str, list[float]]] = {n: {"encode": [], "decode": []} for n in contenders}
    for _ in range(reps):
        for name, (enc, dec) in contenders.items():
            bar.set_postfix_str(f"speed {name}"[:60])
            t0 = time.perf_counter()
            enc()
            t1 = time.perf_counter()
            dec(streams[name])
            t2 = time.perf_counter()
            times[name]["encode"].append((t1 - t0) * 1e3)
            times[name]["decode"].append((t2 - t1) * 1e3)
            bar.update()
    out = {}
    for name, t in times.items():
        out[name] = {"bytes": len(streams[name])}
        for op, v in t.items():
            out[name][f"{op}_ms"] = {"median": statistics.median(v), "min": min(v), "max": max(v), "all": v}
    return out


# --- plot -----------------------------------------------------------------------------------------------------


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = plt.get_cmap("tab10").colors
    for k, (name, curve) in enumerate(result["lossy"].items()):
        pts = sorted(curve["points"], key=lambda p: p["bpp"])
        kw = {
            "color": colours[k % len(colours)],
            "ls": "--" if ":" in name else "-",
            "lw": 2.2 if name == "ours" else 1.2,
            "marker": "o",
            "ms": 3,
            "label": name,
        }
        bpp = [p["bpp"] for p in pts]
        axes[0].plot(bpp, [p["psnr"] for p in pts], **kw)
        if all(p["ms_ssim"] is not None for p in pts):
            axes[1].plot(bpp, [ms_ssim_db(p["ms_ssim"]) for p in pts], **kw)
    axes[0].set(xlabel="bpp (mean over pictures)", ylabel="RGB PSNR (dB, mean)", title="PSNR")
    axes[1].set(xlabel="bpp (mean over pictures)", ylabel="MS-SSIM (dB, mean)", title="MS-SSIM, -10 log10(1 - MS-SSIM)")
    for ax in axes:
        ax.set_xlim(0, 2.2)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{len(result['images'])} pictures: {result['pictures']}\nmean curves (mean bpp and quality "
        f"at each rate parameter); {result['device']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main -----------------------------------------------------------------------------------------------------


def _subset(grid: tuple[float, ...], n: int) -> tuple[float, ...]:
    if n >= len(grid):
        return grid
    idx = np.linspace(1, len(grid) - 2, n).round().astype(int) if len(grid) > n + 1 else range(n)
    return tuple(grid[i] for i in idx)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def main(argv: list[str] | None = None) -> int:
    import json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (holds SPLITS.md)")
    parser.add_argument("--image", type=Path, action="append", help="measure these pictures instead of the split")
    parser.add_argument("--downscale", type=int, default=2, help="downscale factor of the originals (Lanczos)")
    parser.add_argument("--fit", type=int, default=None, help="instead: downscale so the long side is at most FIT")
    parser.add_argument("--images", type=int, default=None, help="only the first N test pictures")
    parser.add_argument("--quick", action="store_true", help="2 pictures, 3 rate points, 2 speed repetitions")
    parser.add_argument("--codecs", default=None, help="comma-separated anchors to run (default: all installed)")
    parser.add_argument("--no-ours", action="store_true", help="anchors only")
    parser.add_argument("--qualities", default=None, help="ours' quality grid, comma-separated")
    parser.add_argument(
        "--ms-ssim",
        default="all",
        help="curves that get MS-SSIM: 'all' or comma-separated names (it is most of an anchor point's time)",
    )
    parser.add_argument("--rate-targeted", action="store_true", help="add ours driven by encode(bpp=...)")
    parser.add_argument("--also-weights", action="append", default=[],
                        help="also measure ours with these shipped weights (curve and lossless row 'ours[NAME]', "
                             "BD-rate of ours against it)")
    parser.add_argument("--reps", type=int, default=None, help="speed repetitions (default 7, quick 2)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--markdown", type=Path, default=None, help="print the README tables of this JSON and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0

    # no_grad as a context, not set_grad_enabled(False): main() also runs inside pytest's process.
    with torch.no_grad():
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    import json

    files = args.image or test_files(args.data)
    n_images = 2 if args.quick and args.images is None else args.images
    files = files[:n_images] if n_images else files
    pictures = [(p.name, load_picture(p, args.downscale, args.fit)) for p in files]
    n_points = 3 if args.quick else None
    reps = args.reps or (2 if args.quick else 5)
    device = torch.device("cpu")
    out = args.out or ROOT / "benchmarks" / "results" / f"image-codec-cpu-{torch.get_num_threads()}core.json"

    qualities = tuple(float(q) for q in args.qualities.split(",")) if args.qualities else OURS_QUALITIES
    lossy_anchor, lossless_anchor, notes = anchor_contenders(args.codecs.split(",") if args.codecs else None)
    j2k_grid = anchors.get(REFERENCE).grid
    if n_points:
        qualities, j2k_grid = _subset(qualities, n_points), _subset(j2k_grid, n_points)
        for c in lossy_anchor:
            c.grid = _subset(c.grid, n_points)
    ours: list[Lossy] = []
    ours_ll = None
    if not args.no_ours:
        probe = centre_crop(pictures[0][1], 64, 96)
        ours, enc_ll, dec_ll, ours_notes = ours_contenders(qualities, j2k_grid if args.rate_targeted else None, probe)
        notes += ours_notes
        if enc_ll is not None and dec_ll is not None:
            ours_ll = (enc_ll, dec_ll)
    others = [other_weights(n, qualities) for n in args.also_weights] if ours else []
    curves = ours + [c for c, _ in others] + lossy_anchor
    if args.ms_ssim != "all":
        for c in curves:
            c.with_ms_ssim = c.with_ms_ssim and c.name in args.ms_ssim.split(",")
    lossless: dict[str, tuple[Callable, Callable]] = {}
    if ours_ll:
        lossless["ours"] = ours_ll
    for c, ll in others:
        lossless[c.name] = ll
    for a in lossless_anchor:
        lossless[a.name] = (a.encode, lambda d, a=a: a.decode(d, 3))

    speed_src = max(pictures, key=lambda p: p[1].shape[-2] * p[1].shape[-1])
    crop = centre_crop(speed_src[1], *SPEED_SIZE)
    n_speed = len([c for c in curves if c.share in ("", c.name, "ours")]) + len(lossless)
    total = sum(len(c.grid) for c in curves) * len(pictures) + len(lossless) * len(pictures) + reps * n_speed
    bar = tqdm(total=total, desc="image codecs", unit="run", disable=args.no_progress)
    t_start, commit = time.time(), _git_commit(ROOT)  # the code that ran, not HEAD when the run ends
    failures: dict[str, str] = {}
    lossy = measure_lossy(curves, pictures, bar, failures)
    lossless_res = measure_lossless(lossless, pictures, bar, failures)
    curves = [c for c in curves if c.name not in failures]
    lossless = {n: v for n, v in lossless.items() if f"{n} lossless" not in failures}

    # Speed: the full codecs (not the ablations) at their grid point nearest 1 bpp on the crop, and lossless.
    speed_fns: dict[str, tuple[Callable[[], bytes], Callable[[bytes], Any]]] = {}
    speed_params: dict[str, Any] = {}
    for c in curves:
        if ":" in c.name or c.name == "ours@bpp":
            continue
        bar.set_postfix_str(f"speed: {c.name} rate point nearest 1 bpp"[:60])
        p = nearest_rate(c, crop, 1.0)
        speed_params[c.name] = {c.param: p}
        speed_fns[c.name] = (lambda c=c, p=p: c.encode(crop, p), c.decode)
    for name, (enc, dec) in lossless.items():
        key = f"{name} lossless" if name.startswith("ours") else name
        speed_params[key] = {"lossless": True}
        speed_fns[key] = (lambda enc=enc: enc(crop), dec)
    bar.total = bar.n + reps * len(speed_fns)
    speed = measure_speed(speed_fns, reps, bar)
    for name, s in speed.items():
        s.update(speed_params[name])
        s["bpp"] = 8.0 * s["bytes"] / (crop.shape[-2] * crop.shape[-1])
    bar.close()

    names = [n for n, _ in pictures]
    tests = [c.name for c in curves if c.name != REFERENCE]
    pairs = [(t, REFERENCE) for t in tests]
    pairs += [(o.name, a.name) for o in ours for a in lossy_anchor if a.name != REFERENCE]
    pairs += [("ours", c.name) for c, _ in others if c.name in tests]
    import pywlc

    result = {
        "benchmark": "image-codec",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device_name(device),
        "torch": torch.__version__,
        "pywlc": pywlc.build_info(),
        "git_commit": commit,
        "tools": tool_versions(),
        "command": " ".join(["benchmarks/bench_image_codec.py", *(sys.argv[1:] if argv is None else argv)]),
        "pictures": ("test photos of shared/data/SPLITS.md" if not args.image else "given on the command line")
        + (
            f", each downscaled with Pillow's Lanczos filter so that the long side is at most {args.fit} px"
            if args.fit
            else f", each downscaled by {args.downscale} with Pillow's Lanczos filter (as the trainer does)"
            if args.downscale > 1
            else ""
        ),
        "images": names,
        "sizes": {n: list(x.shape) for n, x in pictures},
        "bd": {
            "package": "bjontegaard",
            "method": BD_METHOD,
            "reference": REFERENCE,
            "unit": "percent bit rate at equal quality (negative: fewer bits than the anchor)",
            "per_image": "BD-rate on each picture's own curves; median and mean over the pictures",
            "mean_curve": "BD-rate between the mean curves (mean bpp, mean quality over pictures at each parameter)",
        },
        "notes": notes
        + [
            "bpp = 8 * bytes / (H * W) of the complete stream or file, header included",
            "PSNR on RGB 8-bit after the decoder's rounding; MS-SSIM by pytorch_msssim (data range 255)",
            "CLI anchors (cjxl/djxl, avifenc/avifdec) run with 2 threads; their times include the process start "
            "and temporary-file I/O",
            f"speed: centre {crop.shape[-1]}x{crop.shape[-2]} crop of {speed_src[0]}, {reps} repetitions "
            "interleaved across codecs after one warm-up each",
        ],
        "failures": failures,
        "lossy": lossy,
        "bd_rate": bd_tables(lossy, names, pairs),
        "lossless": lossless_res,
        "speed": speed,
        "wall_s": time.time() - t_start,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_clean(result), indent=1))
    plot(result, out.with_suffix(".png"))
    print(summary_text(result))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _fmt(v: float | None, spec: str = "+.1f") -> str:
    return "-" if v is None else format(v, spec)


def summary_text(result: dict[str, Any]) -> str:
    """The headline numbers as text: BD-rates vs JPEG 2000, lossless bpsp, speed."""
    lines = [f"FAILED {name}: {why}" for name, why in result.get("failures", {}).items()]
    lines.append(f"{len(result['images'])} pictures; BD-rate ({BD_METHOD}) vs {REFERENCE}, %:")
    lines.append(f"{'codec':<20} {'PSNR per-image median / mean':>30} {'mean curve':>11} {'MS-SSIM median':>15}")
    for row in result["bd_rate"].values():
        if row["anchor"] != REFERENCE:
            continue
        p, m = row["psnr"], row["ms_ssim"]
        lines.append(
            f"{row['test']:<20} {_fmt(p['per_image']['median']):>14} / {_fmt(p['per_image']['mean']):<13} "
            f"{_fmt(p['mean_curve'].get('bd_rate')):>11} {_fmt(m['per_image']['median']):>15}"
        )
    others = [r for r in result["bd_rate"].values() if r["anchor"] != REFERENCE]
    if others:
        lines.append("ours vs other anchors (PSNR per-image median, mean curve):")
        for row in others:
            p = row["psnr"]
            lines.append(
                f"  {row['test']} vs {row['anchor']}: {_fmt(p['per_image']['median'])} %, "
                f"{_fmt(p['mean_curve'].get('bd_rate'))} %"
            )
    lines.append("lossless bits per sub-pixel (mean over pictures / all pixels):")
    for name, r in result["lossless"].items():
        ok = "" if r["all_bitwise"] else "  NOT BITWISE"
        lines.append(f"  {name:<20} {r['bpsp_mean']:.3f} / {r['bpsp_total']:.3f}{ok}")
    lines.append("speed (ms, median [min, max]):")
    for name, s in result["speed"].items():
        e, d = s["encode_ms"], s["decode_ms"]
        lines.append(
            f"  {name:<20} {s['bpp']:.2f} bpp  enc {e['median']:.0f} [{e['min']:.0f}, {e['max']:.0f}]"
            f"  dec {d['median']:.0f} [{d['min']:.0f}, {d['max']:.0f}]"
        )
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The README tables (lossy BD-rates, lossless bpsp, speed) from a results JSON."""
    lines = [
        f"Lossy, BD-rate ({BD_METHOD}, `bjontegaard`) vs JPEG 2000 in % (negative: fewer bits), "
        f"{len(result['images'])} test photos:",
        "",
        "| codec | PSNR, per image: median | mean | PSNR, mean curves | MS-SSIM, per image: median | mean curves |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["bd_rate"].values():
        if row["anchor"] != REFERENCE:
            continue
        p, m = row["psnr"], row["ms_ssim"]
        lines.append(
            f"| {row['test']} | {_fmt(p['per_image']['median'])} | {_fmt(p['per_image']['mean'])} | "
            f"{_fmt(p['mean_curve'].get('bd_rate'))} | {_fmt(m['per_image']['median'])} | "
            f"{_fmt(m['mean_curve'].get('bd_rate'))} |"
        )
    others = [r for r in result["bd_rate"].values() if r["anchor"] != REFERENCE and r["test"] == "ours"]
    if others:
        lines += ["", "| ours vs | PSNR, per image: median | PSNR, mean curves | MS-SSIM, per image: median |"]
        lines.append("|---|---|---|---|")
        for row in others:
            p, m = row["psnr"], row["ms_ssim"]
            lines.append(
                f"| {row['anchor']} | {_fmt(p['per_image']['median'])} | {_fmt(p['mean_curve'].get('bd_rate'))} | "
                f"{_fmt(m['per_image']['median'])} |"
            )
    lines += ["", "| lossless | bits per sub-pixel, mean over photos | all pixels | bitwise |", "|---|---|---|---|"]
    for name, r in result["lossless"].items():
        lines.append(
            f"| {name} | {r['bpsp_mean']:.3f} | {r['bpsp_total']:.3f} | {'yes' if r['all_bitwise'] else 'NO'} |"
        )
    lines += ["", "| speed, 768x512 | bpp | encode ms, median [min, max] | decode ms |", "|---|---|---|---|"]
    for name, s in result["speed"].items():
        e, d = s["encode_ms"], s["decode_ms"]
        lines.append(
            f"| {name} | {s['bpp']:.2f} | {e['median']:.0f} [{e['min']:.0f}, {e['max']:.0f}] | "
            f"{d['median']:.0f} [{d['min']:.0f}, {d['max']:.0f}] |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
