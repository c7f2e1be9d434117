"""``wlc eval``: rate-distortion of learned and classical codecs on a folder of images.

Every number comes from a real round trip: bpp from the bytes actually written (container or image file),
PSNR and MS-SSIM (``pytorch_msssim``, data range 255, RGB) of the decoded 8-bit picture against the original,
encode and decode wall time per image.  Classical anchors go through Pillow: JPEG (libjpeg, 4:2:0), WebP
(libwebp, lossy), JPEG 2000 (OpenJPEG, irreversible 9/7, fixed compression ratios).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..codecs import codecs as registered_codecs
from ..imageio import MAX_PIXELS, load_image
from .bdrate import bd_psnr, bd_rate

__all__ = ["CLASSICAL", "IMAGE_SUFFIXES", "evaluate", "list_images", "load_rgb", "plot_rd"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp")
# Pillow settings per classical codec: quality for JPEG / WebP, compression ratio for JPEG 2000.
CLASSICAL: dict[str, tuple[str, Sequence[int]]] = {
    "jpeg": ("quality", (10, 25, 40, 60, 80, 95)),
    "webp": ("quality", (5, 20, 40, 60, 80, 95)),
    "jpeg2000": ("ratio", (200, 100, 50, 25, 12, 6)),
}
MSSSIM_MIN_SIDE = 161  # pytorch_msssim's 5 scales with an 11-tap window need a side > 160


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (``FileNotFoundError`` / ``ValueError`` if none)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def load_rgb(path: Path, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """``Tensor[3, H, W]`` uint8 RGB (:func:`pywlc.imageio.load_image`: size checked first, 16-bit scaled)."""
    return load_image(path, max_pixels=max_pixels, mode="rgb")[0]


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _ms_ssim(a: torch.Tensor, b: torch.Tensor) -> float | None:
    from pytorch_msssim import ms_ssim

    if min(a.shape[-2:]) < MSSSIM_MIN_SIDE:
        return None
    return float(ms_ssim(a[None].float(), b[None].float(), data_range=255.0).item())


def _pillow(name: str, value: int) -> tuple[Callable[[torch.Tensor], bytes], Callable[[bytes], torch.Tensor]]:
    def enc(x: torch.Tensor) -> bytes:
        im = Image.fromarray(x.permute(1, 2, 0).numpy())
        buf = io.BytesIO()
        if name == "jpeg":
            im.save(buf, "JPEG", quality=value)
        elif name == "webp":
            im.save(buf, "WEBP", quality=value, method=4)
        else:
            im.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[value], irreversible=True, mct=1)
        return buf.getvalue()

    def dec(data: bytes) -> torch.Tensor:
        return load_rgb(io.BytesIO(data))  # type: ignore[arg-type]

    return enc, dec


def _learned(model: torch.nn.Module) -> tuple[Callable[[torch.Tensor], bytes], Callable[[bytes], torch.Tensor]]:
    from ..codecs.image import decode_image, encode_image

    quality = int(getattr(model, "quality", 0))
    return (lambda x: encode_image(model, x, quality)), (lambda data: decode_image(data, model))


def _registered(impl: Any, options: dict[str, Any]) -> tuple[Callable, Callable]:
    return (lambda x: impl.encode(x, **options)), (lambda data: impl.decode(data))


def _settings(
    codecs: Sequence[str], checkpoints: Sequence[Path], device: str
) -> list[tuple[str, str, Callable, Callable]]:
    """``(codec, setting label, encode, decode)`` for every RD point to measure."""
    registry = registered_codecs()
    by_arch: dict[str, list[torch.nn.Module]] = {}
    if checkpoints:
        from ..zoo import arch_of, load_checkpoint
    for path in checkpoints:
        m = load_checkpoint(path, map_location=device)
        m.checkpoint = str(path)
        by_arch.setdefault(arch_of(m), []).append(m)
    out = []
    for codec in codecs:
        if codec in CLASSICAL:
            kind, values = CLASSICAL[codec]
            out += [(codec, f"{kind}={v}", *_pillow(codec, v)) for v in values]
        elif codec in by_arch:  # trained checkpoints of a learned model: one RD point each
            for m in by_arch[codec]:
                label = Path(getattr(m, "checkpoint", f"q{getattr(m, 'quality', 0)}")).name
                out.append((codec, label, *_learned(m)))
        elif codec in registry:  # a registered codec at its default RD points (shipped weights)
            impl = registry[codec].load()
            for opts in impl.rd_settings():
                label = ",".join(f"{k}={v}" for k, v in opts.items())
                out.append((codec, label, *_registered(impl, opts)))
        else:
            raise ValueError(f"unknown codec {codec!r}: choose from {sorted([*CLASSICAL, *registry])}")
    return out


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if len(vals) == len(values) and vals else None


def _bd_table(curves: dict[str, list[dict]], anchor: str) -> dict[str, Any]:
    """BD-rate (%) of every codec against ``anchor`` on PSNR and MS-SSIM (in dB, -10 log10(1 - MS-SSIM))."""
    table: dict[str, Any] = {}
    a = curves.get(anchor)
    for codec, pts in curves.items():
        if codec == anchor or a is None:
            continue
        row: dict[str, Any] = {}
        for metric in ("psnr", "ms_ssim"):
            try:
                qa, qt = ([_metric_db(p, metric) for p in c] for c in (a, pts))
                if None in qa or None in qt:
                    raise ValueError(f"{metric} is not available for every point (pictures too small)")
                ra, rt = [p["bpp"] for p in a], [p["bpp"] for p in pts]
                row[metric] = {m: bd_rate(ra, qa, rt, qt, method=m) for m in ("cubic", "pchip")}
                if metric == "psnr":
                    row["bd_psnr_db"] = bd_psnr(ra, qa, rt, qt)
            except ValueError as e:
                row[metric] = {"error": str(e)}
        table[codec] = row
    return {"anchor": anchor, "unit": "percent bit rate at equal quality (negative: fewer bits)", "codecs": table}


def _metric_db(point: dict, metric: str) -> float | None:
    v = point[metric]
    if v is None or metric == "psnr":
        return v
    return -10 * math.log10(max(1.0 - v, 1e-12))


def evaluate(
    folder: Path,
    codecs: Sequence[str],
    checkpoints: Sequence[Path] = (),
    *,
    device: str = "cpu",
    anchor: str | None = None,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, Any]:
    """Measure every codec setting on every image of ``folder``; returns the JSON-ready results.

    Images larger than ``max_pixels`` are refused from their header (``pywlc.imageio.ImageTooLargeError``).
    """
    images = list_images(folder)
    pictures = [(p.name, load_rgb(p, max_pixels)) for p in images]
    settings = _settings(codecs, checkpoints, device)
    per: dict[tuple[str, str], list[dict]] = {}
    bar = tqdm(total=len(settings) * len(pictures), disable=not progress, desc="wlc eval", unit="img")
    for codec, label, enc, dec in settings:
        rows = per.setdefault((codec, label), [])
        for name, x in pictures:
            bar.set_postfix_str(f"{codec} {label} {name}"[:60])
            t0 = time.perf_counter()
            data = enc(x)
            t1 = time.perf_counter()
            y = dec(data)
            t2 = time.perf_counter()
            h, w = x.shape[-2:]
            rows.append(
                {
                    "image": name,
                    "bytes": len(data),
                    "bpp": 8.0 * len(data) / (h * w),
                    "psnr": _psnr(x, y),
                    "ms_ssim": _ms_ssim(x, y),
                    "encode_s": t1 - t0,
                    "decode_s": t2 - t1,
                }
            )
            bar.update()
    bar.close()
    results: dict[str, list[dict]] = {}
    for (codec, label), rows in per.items():
        summary = {k: _mean([r[k] for r in rows]) for k in ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")}
        results.setdefault(codec, []).append({"setting": label, **summary, "images": rows})
    curves = {c: sorted(pts, key=lambda p: p["bpp"]) for c, pts in results.items()}
    anchor = anchor or ("jpeg" if "jpeg" in results else next(iter(results)))
    if anchor not in results:
        raise ValueError(f"anchor {anchor!r} is not among the evaluated codecs {list(results)}")
    return {
        "images": [p.name for p in images],
        "device": device,
        "torch": torch.__version__,
        "results": curves,
        "bd_rate": _bd_table(curves, anchor),
    }


def plot_rd(results: dict[str, Any], path: Path) -> None:
    """PSNR and MS-SSIM against bpp, one curve per codec, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for codec, pts in results["results"].items():
        bpp = [p["bpp"] for p in pts]
        axes[0].plot(bpp, [p["psnr"] for p in pts], "o-", label=codec)
        if all(p["ms_ssim"] is not None for p in pts):
            axes[1].plot(bpp, [_metric_db(p, "ms_ssim") for p in pts], "o-", label=codec)
    axes[0].set(xlabel="bpp", ylabel="PSNR (dB)", title="RGB PSNR")
    axes[1].set(xlabel="bpp", ylabel="MS-SSIM (dB)", title="MS-SSIM, -10 log10(1 - MS-SSIM)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{len(results['images'])} images")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict[str, Any], out: Path) -> None:
    """JSON with ``inf`` written as null (strict JSON)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    out.write_text(json.dumps(clean(results), indent=1))
