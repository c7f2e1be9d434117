"""Image files in and out: the one loader the CLI, evaluation, demo and benchmarks share (issue 10, finding 5).

* The size is checked from the header before any pixel is decoded (``max_pixels``, default 256 Mpixel), and
  Pillow's own decompression-bomb guard surfaces as one :class:`ImageTooLargeError` line, not a traceback.
* 16-bit (and 32-bit integer / float) greyscale is converted to 8 bits properly -- ``round(v * 255 / 65535)``,
  not Pillow's saturating ``convert("L")`` (which made 99.4 % of a 16-bit PNG's pixels 255) -- and the returned
  :class:`ImageInfo` says what was done (``info.conversion``).
* ``mode="rgb"`` gives three channels (grey replicated), ``mode="keep"`` one channel for greyscale files; an alpha
  channel is dropped (and said so).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch
from torch import Tensor

__all__ = ["MAX_PIXELS", "ImageInfo", "ImageTooLargeError", "check_output_path", "load_image", "save_image"]

MAX_PIXELS = 1 << 28  # default bound on width * height of an input picture (256 Mpixel, 768 MB as RGB)
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_PIL_LOCK = threading.Lock()


class ImageTooLargeError(ValueError):
    """The picture's header claims more pixels than allowed (a decompression bomb or a too-large input)."""


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`load_image` read and did."""

    width: int
    height: int
    mode: str  # Pillow's mode of the file (e.g. "RGB", "L", "I;16", "RGBA", "P")
    bit_depth: int  # bits per sample in the file: 1, 8, 16 or 32
    gray: bool  # a greyscale file
    conversion: str | None  # what was done beyond a plain 8-bit read (16 -> 8 bits, alpha dropped, palette), or None


def _open(src: str | Path | IO[bytes], max_pixels: int):
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            if max_pixels <= (Image.MAX_IMAGE_PIXELS or max_pixels) * 2:
                return Image.open(src)
            # A bound above Pillow's own: lift Pillow's for this open only (under a lock: it is a global).
            with _PIL_LOCK:
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = max_pixels
                try:
                    return Image.open(src)
                finally:
                    Image.MAX_IMAGE_PIXELS = saved
        except Image.DecompressionBombError as e:
            raise ImageTooLargeError(f"{_name(src)}: {e} (raise --max-pixels / max_pixels for trusted files)") from None


def _name(src: object) -> str:
    return str(src) if isinstance(src, str | Path) else "image"


def _to_8bit(a: np.ndarray, mode: str) -> tuple[np.ndarray, int, str | None]:
    """A greyscale array of any Pillow integer / float mode -> uint8, bit depth of the file, what was done."""
    if a.dtype == np.uint8 or a.dtype == bool:
        return a.astype(np.uint8) * (255 if a.dtype == bool else 1), 1 if mode == "1" else 8, None
    if mode == "F":
        clipped = bool((a < 0).any() or (a > 255).any())
        out = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return out, 32, "32-bit float samples rounded to 8 bits" + (" (clipped to [0, 255])" if clipped else "")
    # "I;16*" or "I" (Pillow opens 16-bit PNG greyscale as "I" or "I;16"): 16-bit samples, scaled with rounding.
    a = a.astype(np.int64)
    clipped = bool((a < 0).any() or (a > 65535).any())
    a = np.clip(a, 0, 65535)
    out = ((a * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535), half up
    msg = "16-bit samples scaled to 8 bits (round(v * 255 / 65535))"
    return out, 16, msg + (" (values outside [0, 65535] clipped)" if clipped else "")


def load_image(
    src: str | Path | IO[bytes], *, max_pixels: int = MAX_PIXELS, mode: str = "rgb"
) -> tuple[Tensor, ImageInfo]:
    """Read an image file: ``(Tensor[C, H, W] uint8, ImageInfo)``.

    Args:
        src: a path or a binary file object.
        max_pixels: refuse pictures whose header claims more than this many pixels (``ImageTooLargeError``)
            before decoding them.
        mode: ``"rgb"`` (C = 3; greyscale replicated) or ``"keep"`` (C = 1 for greyscale files, else 3).

    Raises:
        FileNotFoundError: no such file.  ImageTooLargeError: over ``max_pixels``.  ValueError: not an image
        Pillow can read (``PIL.UnidentifiedImageError`` is an ``OSError``; it is re-raised as ``ValueError``
        with the file's name), or a bad argument.
    """
    from PIL import UnidentifiedImageError

    if mode not in ("rgb", "keep"):
        raise ValueError(f"mode must be 'rgb' or 'keep', got {mode!r}")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    if isinstance(src, str | Path) and not Path(src).is_file():
        raise FileNotFoundError(f"image not found: {src}")
    try:
        im = _open(src, max_pixels)
    except UnidentifiedImageError:
        raise ValueError(f"{_name(src)}: not an image file Pillow can read") from None
    with im:
        w, h = im.size
        if w * h > max_pixels:
            raise ImageTooLargeError(
                f"{_name(src)}: {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} "
                "(raise --max-pixels / max_pixels for trusted files)"
            )
        try:
            im.load()
        except OSError as e:  # truncated or corrupt data after a valid header
            raise ValueError(f"{_name(src)}: cannot decode the image data ({e})") from None
        src_mode = im.mode
        gray = src_mode in _GRAY_MODES
        conversion = None
        if gray:
            depth_im = im.convert("L") if src_mode in ("LA", "La") else im
            if src_mode in ("LA", "La"):
                conversion = "alpha channel dropped"
            arr, depth, conversion_8 = _to_8bit(np.asarray(depth_im), depth_im.mode)
            conversion = conversion_8 or conversion
            t = torch.from_numpy(np.ascontiguousarray(arr))[None]
        else:
            depth = 8
            if "A" in src_mode or (src_mode == "P" and "transparency" in im.info):
                conversion = "alpha channel dropped"
            elif src_mode not in ("RGB",):
                conversion = f"{src_mode} converted to RGB"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's palette-transparency notice: said in `conversion`
                rgb = np.asarray(im.convert("RGB"))
            t = torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()
        if mode == "rgb" and t.shape[0] == 1:
            t = t.expand(3, -1, -1).contiguous()
    return t, ImageInfo(w, h, src_mode, depth, gray, conversion)


_SUFFIXES: dict[str, str] | None = None


def _formats() -> dict[str, str]:
    global _SUFFIXES
    if _SUFFIXES is None:
        from PIL import Image

        Image.init()
        _SUFFIXES = {ext.lower(): fmt for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    return _SUFFIXES


def check_output_path(path: str | Path, *, image: bool = False) -> Path:
    """Check before any work that ``path`` can be written: its folder exists, it is not a folder, and (``image``)
    its extension names a format Pillow writes.  Returns it as a Path; raises ``ValueError`` /
    ``FileNotFoundError``."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"output {p} is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {parent}")
    if image and p.suffix.lower() not in _formats():
        raise ValueError(f"output {p}: unknown image extension {p.suffix!r} (use .png, .bmp, .tif, ...)")
    return p


def save_image(x: Tensor, path: str | Path) -> None:
    """Write ``Tensor[C, H, W]`` uint8 (C = 1 or 3, any device) to ``path``, format from the extension."""
    from PIL import Image

    if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.dim() != 3 or x.shape[0] not in (1, 3):
        what = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"save_image needs Tensor[1 | 3, H, W] uint8, got {what}")
    p = check_output_path(path, image=True)
    arr = x.detach().cpu().permute(1, 2, 0).numpy()
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(p)
