"""Classical image codecs a user would pick instead of pywlc's: the anchors of the codec benchmark and the demo.

Every anchor is an :class:`Anchor` with ``encode(img, rate_param) -> bytes`` and ``decode(bytes) -> img`` on
``Tensor[C, H, W]`` uint8 pictures (C = 1 grey or 3 RGB); the bytes are the complete file a user would store, header
included.  Lossy anchors (``rate_param`` as named by :attr:`Anchor.param`):

* ``jpeg``: libjpeg through Pillow, 4:2:0 chroma subsampling, optimised Huffman tables; ``quality`` 1–95.
* ``webp``: libwebp through Pillow, ``method=6`` (slowest, best); ``quality`` 0–100.
* ``jpeg2000``: OpenJPEG through Pillow, done as ``shared/specs/anchors.md`` asks: irreversible 9/7 + the
  irreversible colour transform (``mct=1``), rate-controlled (``quality_mode="rates"``); ``bpp`` is the target
  (OpenJPEG stops at a compression ratio of ``8 C / bpp`` and lands near it), raw J2K codestream.
* ``jpegxl``: ``cjxl`` / ``djxl`` (libjxl) through temporary files, effort 7 (the default); ``distance``
  (Butteraugli distance, 0.1–25; lower is better).
* ``avif``: ``avifenc`` / ``avifdec`` (libavif, libaom), speed 6 (the default), 4:4:4 (the default for RGB input);
  ``quantizer`` 0–63 (``--min = --max``; lower is better).

Lossless anchors (``rate_param`` ignored): ``png`` (zlib level 9), ``jpeg2000-lossless`` (reversible 5/3 + the
reversible colour transform RCT, ``mct=1``: without it OpenJPEG is as bad as PNG), ``webp-lossless`` (method 6,
effort 100), ``jpegxl-lossless`` (``cjxl -d 0 -e 7``), ``avif-lossless`` (``avifenc --lossless``, YUV 4:4:4 identity
matrix).

The external tools run with ``THREADS`` threads (2, the cores of the machines this project measures on); their
times include the process start and the temporary-file I/O a user of the command-line tools also pays.  A missing
tool raises :class:`AnchorUnavailable` naming the Debian package; :meth:`Anchor.available` says so up front.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = ["ANCHORS", "THREADS", "Anchor", "AnchorUnavailable", "get", "lossless_anchors", "lossy_anchors"]

THREADS = 2
_PACKAGES = {"cjxl": "libjxl-tools", "djxl": "libjxl-tools", "avifenc": "libavif-bin", "avifdec": "libavif-bin"}


class AnchorUnavailable(RuntimeError):
    """An anchor's external tool (or Pillow plug-in) is not installed."""


def _check_image(img: torch.Tensor) -> torch.Tensor:
    if not isinstance(img, torch.Tensor) or img.dtype != torch.uint8 or img.dim() != 3 or img.shape[0] not in (1, 3):
        got = f"{img.dtype} {tuple(img.shape)}" if isinstance(img, torch.Tensor) else type(img).__name__
        raise ValueError(f"img must be a uint8 Tensor[C, H, W] with C in (1, 3), got {got}")
    if img.shape[1] == 0 or img.shape[2] == 0:
        raise ValueError(f"img must not be empty, got {tuple(img.shape)}")
    return img.detach().cpu().contiguous()


def _to_pil(img: torch.Tensor) -> Image.Image:
    arr = img.numpy()
    return Image.fromarray(arr[0], "L") if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0), "RGB")


def _from_pil(im: Image.Image, channels: int) -> torch.Tensor:
    """``Tensor[channels, H, W]`` uint8 (a grey picture that a codec decodes as RGB keeps one channel)."""
    arr = np.array(im.convert("L" if channels == 1 else "RGB"))
    t = torch.from_numpy(arr)
    return t[None] if channels == 1 else t.permute(2, 0, 1).contiguous()


def _channels_of(im: Image.Image) -> int:
    return 1 if im.mode in ("L", "I;16", "I", "1") else 3


def _decode_pil(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return _from_pil(im, _channels_of(im))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AnchorUnavailable(f"{name} is not installed (Debian: apt-get install {_PACKAGES.get(name, name)})")
    return path


def _run(cmd: list[str]) -> None:
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()[-500:]}")


# --- Pillow codecs --------------------------------------------------------------------------------------------


def _jpeg_encode(img: torch.Tensor, quality: float) -> bytes:
    buf = io.BytesIO()
    _to_pil(img).save(buf, "JPEG", quality=int(round(quality)), subsampling=2, optimize=True)
    return buf.getvalue()


def _webp_encode(img: torch.Tensor, quality: float) -> bytes:
    buf = io.BytesIO()
    _to_pil(img).save(buf, "WEBP", quality=float(quality), method=6)
    return buf.getvalue()


def _webp_lossless_encode(img: torch.Tensor, _: float | None = None) -> bytes:
    buf = io.BytesIO()
    _to_pil(img).save(buf, "WEBP", lossless=True, quality=100, method=6, exact=True)
    return buf.getvalue()


def _j2k_encode(img: torch.Tensor, bpp: float) -> bytes:
    if not bpp > 0:
        raise ValueError(f"jpeg2000: the target bpp must be positive, got {bpp}")
    ratio = 8.0 * img.shape[0] / float(bpp)  # OpenJPEG's rate: raw size (8 bits a component) / coded size
    buf = io.BytesIO()
    _to_pil(img).save(
        buf,
        "JPEG2000",
        no_jp2=True,
        irreversible=True,
        mct=1 if img.shape[0] == 3 else 0,
        quality_mode="rates",
        quality_layers=[ratio],
    )
    return buf.getvalue()


def _j2k_lossless_encode(img: torch.Tensor, _: float | None = None) -> bytes:
    buf = io.BytesIO()
    _to_pil(img).save(buf, "JPEG2000", no_jp2=True, irreversible=False, mct=1 if img.shape[0] == 3 else 0)
    return buf.getvalue()


def _png_encode(img: torch.Tensor, _: float | None = None) -> bytes:
    buf = io.BytesIO()
    _to_pil(img).save(buf, "PNG", optimize=True)
    return buf.getvalue()


# --- command-line codecs --------------------------------------------------------------------------------------


def _cli_encode(tool: str, suffix: str, args: Callable[[str, str], list[str]], img: torch.Tensor) -> bytes:
    exe = _tool(tool)
    with tempfile.TemporaryDirectory(prefix="pywlc-anchor-") as tmp:
        src, dst = str(Path(tmp) / "in.png"), str(Path(tmp) / f"out{suffix}")
        _to_pil(img).save(src, "PNG", compress_level=1)
        _run([exe, *args(src, dst)])
        return Path(dst).read_bytes()


def _cli_decode(tool: str, suffix: str, args: Callable[[str, str], list[str]], data: bytes) -> torch.Tensor:
    exe = _tool(tool)
    with tempfile.TemporaryDirectory(prefix="pywlc-anchor-") as tmp:
        src, dst = str(Path(tmp) / f"in{suffix}"), str(Path(tmp) / "out.png")
        Path(src).write_bytes(data)
        _run([exe, *args(src, dst)])
        with Image.open(dst) as im:
            im.load()
            return _from_pil(im, _channels_of(im))


def _jxl_encode(img: torch.Tensor, distance: float) -> bytes:
    return _cli_encode(
        "cjxl", ".jxl", lambda s, d: [s, d, "-d", f"{float(distance):g}", "-e", "7", f"--num_threads={THREADS}"], img
    )


def _jxl_lossless_encode(img: torch.Tensor, _: float | None = None) -> bytes:
    return _cli_encode("cjxl", ".jxl", lambda s, d: [s, d, "-d", "0", "-e", "7", f"--num_threads={THREADS}"], img)


def _jxl_decode(data: bytes) -> torch.Tensor:
    return _cli_decode("djxl", ".jxl", lambda s, d: [s, d, f"--num_threads={THREADS}"], data)


def _avif_encode(img: torch.Tensor, quantizer: float) -> bytes:
    q = str(int(round(quantizer)))
    if not 0 <= int(q) <= 63:
        raise ValueError(f"avif: the quantizer must be in [0, 63], got {quantizer}")
    return _cli_encode("avifenc", ".avif", lambda s, d: ["-j", str(THREADS), "--min", q, "--max", q, s, d], img)


def _avif_lossless_encode(img: torch.Tensor, _: float | None = None) -> bytes:
    return _cli_encode("avifenc", ".avif", lambda s, d: ["-j", str(THREADS), "--lossless", s, d], img)


def _avif_decode(data: bytes) -> torch.Tensor:
    return _cli_decode("avifdec", ".avif", lambda s, d: ["-j", str(THREADS), s, d], data)


# --- registry -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """One classical codec at one operating mode.

    Attributes:
        name: registry key (``"jpeg2000"``, ``"png"``, ...).
        lossless: whether the round trip is bitwise.
        param: what ``rate_param`` means (``"quality"``, ``"bpp"``, ``"distance"``, ``"quantizer"``; ``None``
            for lossless anchors).
        grid: default rate parameters, low rate first: about 0.1–2 bpp on detailed photos (downscaled by 2), and
            reaching high enough on smooth ones that the curves overlap JPEG 2000's (0.02–2 bpp).
        tools: external executables needed (empty for the Pillow codecs).
        higher_is_better: whether a larger ``rate_param`` gives more bits.
    """

    name: str
    lossless: bool
    param: str | None
    _encode: Callable[[torch.Tensor, float], bytes] = field(repr=False)
    _decode: Callable[[bytes], torch.Tensor] = field(repr=False)
    grid: tuple[float, ...] = ()
    tools: tuple[str, ...] = ()
    higher_is_better: bool = True

    def available(self) -> bool:
        """Whether every tool this anchor needs is installed."""
        return all(shutil.which(t) is not None for t in self.tools)

    def encode(self, img: torch.Tensor, rate_param: float | None = None) -> bytes:
        """Compress ``img`` (``Tensor[C, H, W]`` uint8, C in 1, 3) at ``rate_param`` (ignored when lossless).

        Raises:
            ValueError: bad image or parameter; AnchorUnavailable: the tool is missing.
        """
        img = _check_image(img)
        if not self.lossless and rate_param is None:
            raise ValueError(f"{self.name}: a {self.param} is needed")
        return self._encode(img, rate_param)  # type: ignore[arg-type]

    def decode(self, data: bytes, channels: int | None = None) -> torch.Tensor:
        """Decompress to ``Tensor[C, H, W]`` uint8.

        Args:
            data: what :meth:`encode` returned.
            channels: 1 or 3 to get that many channels; ``None``: as the file says (WebP has no grey mode and
                decodes a grey picture as three equal channels, so pass ``channels=1`` to get it back as encoded).
        """
        img = self._decode(bytes(data))
        if channels is None or channels == img.shape[0]:
            return img
        if channels == 1:
            return img[:1].clone()
        if channels == 3:
            return img.expand(3, -1, -1).contiguous()
        raise ValueError(f"channels must be 1, 3 or None, got {channels}")


ANCHORS: dict[str, Anchor] = {
    a.name: a
    for a in (
        Anchor("jpeg", False, "quality", _jpeg_encode, _decode_pil, (5, 10, 20, 35, 50, 70, 80, 88, 94, 97)),
        Anchor("webp", False, "quality", _webp_encode, _decode_pil, (0, 5, 15, 30, 50, 70, 80, 88, 94, 98)),
        Anchor(
            "jpeg2000",
            False,
            "bpp",
            _j2k_encode,
            _decode_pil,
            (0.02, 0.035, 0.06, 0.1, 0.15, 0.25, 0.4, 0.6, 0.9, 1.3, 2.0),
        ),
        Anchor(
            "jpegxl",
            False,
            "distance",
            _jxl_encode,
            _jxl_decode,
            (15.0, 10.0, 6.5, 4.5, 3.0, 2.0, 1.3, 0.9, 0.6, 0.4),
            ("cjxl", "djxl"),
            higher_is_better=False,
        ),
        Anchor(
            "avif",
            False,
            "quantizer",
            _avif_encode,
            _avif_decode,
            (60, 54, 48, 42, 36, 30, 24, 18, 12, 6),
            ("avifenc", "avifdec"),
            higher_is_better=False,
        ),
        Anchor("png", True, None, _png_encode, _decode_pil),
        Anchor("jpeg2000-lossless", True, None, _j2k_lossless_encode, _decode_pil),
        Anchor("webp-lossless", True, None, _webp_lossless_encode, _decode_pil),
        Anchor("jpegxl-lossless", True, None, _jxl_lossless_encode, _jxl_decode, tools=("cjxl", "djxl")),
        Anchor("avif-lossless", True, None, _avif_lossless_encode, _avif_decode, tools=("avifenc", "avifdec")),
    )
}


def get(name: str) -> Anchor:
    """The anchor called ``name`` (``ValueError`` listing the choices otherwise)."""
    try:
        return ANCHORS[name]
    except KeyError:
        raise ValueError(f"unknown anchor {name!r}: choose from {sorted(ANCHORS)}") from None


def lossy_anchors() -> list[Anchor]:
    """The lossy anchors, in the order the benchmark reports them."""
    return [a for a in ANCHORS.values() if not a.lossless]


def lossless_anchors() -> list[Anchor]:
    """The lossless anchors, in the order the benchmark reports them."""
    return [a for a in ANCHORS.values() if a.lossless]
