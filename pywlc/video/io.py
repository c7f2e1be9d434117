"""8-bit planar video in and out: Y4M, raw YUV and folders of PNG frames (issue 13).

Video is coded as its Y, Cb, Cr planes (:class:`Video`); colour conversion happens only where RGB is involved (PNG
folders, :func:`rgb_to_yuv`, :func:`yuv_to_rgb`), in **full range** (JPEG / ITU-T T.871 style: Y, Cb, Cr in
[0, 255], no 16-235 head-room) with the BT.601 (Kr = 0.299, Kb = 0.114) or BT.709 (Kr = 0.2126, Kb = 0.0722) luma
weights::

    Y  = Kr R + (1 - Kr - Kb) G + Kb B
    Cb = 128 + (B - Y) / (2 (1 - Kb))
    Cr = 128 + (R - Y) / (2 (1 - Kr))

rounded half up and clamped to [0, 255].  4:2:0 chroma is the mean of each 2x2 block of the unrounded full-resolution
chroma (rounded once; a block cut by an odd edge averages the samples it has), i.e. chroma sited at the block centre
as Y4M's ``C420jpeg`` (which :func:`write_y4m` writes) says.  Going back (:func:`yuv_to_rgb`) upsamples 4:2:0 chroma by
pixel replication: exact for flat chroma, no invented detail, and the inverse of the 2x2 mean on 2x2-constant chroma.

Y4M (the YUV4MPEG2 format of mjpegtools / ffmpeg): colour tags ``C420jpeg``, ``C420paldv``, ``C420mpeg2``, ``C420``
(all read as 4:2:0 planes; their chroma siting is not resampled), ``C444`` and ``Cmono``; an absent tag is 4:2:0.
Interlaced files (``It`` / ``Ib``) are read as progressive frames; mixed-mode (``Im``) files and every other colour
tag (``C422``, ``C444alpha``, high bit depths, ...) raise ``ValueError`` naming the tag.  Reading is one pass with
fixed-size reads straight into the output planes (no per-frame concatenation: linear in the file's size).

Errors: a missing file is ``FileNotFoundError``; a bad header, a bad frame marker or truncated frame data is
:class:`pywlc.BitstreamError` (a ``ValueError``) naming the frame; bad arguments and sizes over ``max_pixels`` are
``ValueError`` naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

from ..errors import BitstreamError

__all__ = [
    "CHROMA_FORMATS",
    "MATRICES",
    "PIX_FMTS",
    "Video",
    "chroma_size",
    "read_video",
    "rgb_to_yuv",
    "write_png_folder",
    "write_y4m",
    "write_yuv",
    "yuv_to_rgb",
]

CHROMA_FORMATS = ("420", "444", "mono")
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}  # (Kr, Kb): ITU-R BT.601 / BT.709 luma weights
PIX_FMTS = {"yuv420p": "420", "yuv444p": "444", "gray": "mono"}  # ffmpeg's names for the raw layouts
_Y4M_CHROMA = {
    "420jpeg": "420",
    "420paldv": "420",
    "420mpeg2": "420",
    "420": "420",
    "444": "444",
    "mono": "mono",
}
_Y4M_MAGIC = b"YUV4MPEG2"
_MAX_HEADER = 4096  # bytes of a Y4M stream / frame header line we read before calling it corrupt


@dataclass(eq=False)
class Video:
    """8-bit planar video.

    ``y``: uint8 ``Tensor[T, H, W]``; ``u``, ``v``: uint8 ``Tensor[T, Hc, Wc]``, or ``None`` for ``chroma="mono"``.
    ``chroma``: ``"420"`` (``Hc = ceil(H / 2)``, ``Wc = ceil(W / 2)``), ``"444"`` (``Hc, Wc = H, W``) or ``"mono"``.
    ``fps``: frames per second as a :class:`fractions.Fraction` (ints, floats and ``"30000/1001"`` are converted).
    The planes may live on any (one) device; the writers copy them to the CPU.
    """

    y: Tensor
    u: Tensor | None
    v: Tensor | None
    chroma: str
    fps: Fraction = Fraction(25)

    def __post_init__(self) -> None:
        if self.chroma not in CHROMA_FORMATS:
            raise ValueError(f"chroma must be one of {CHROMA_FORMATS}, got {self.chroma!r}")
        if not isinstance(self.y, Tensor) or self.y.dtype != torch.uint8 or self.y.dim() != 3:
            raise ValueError(f"y must be a uint8 Tensor[T, H, W], got {_describe(self.y)}")
        t, h, w = self.y.shape
        if h < 1 or w < 1:
            raise ValueError(f"y must have H, W >= 1, got {tuple(self.y.shape)}")
        if self.chroma == "mono":
            for name in ("u", "v"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} must be None for chroma='mono', got {_describe(getattr(self, name))}")
        else:
            want = (t, *chroma_size(h, w, self.chroma))
            for name in ("u", "v"):
                p = getattr(self, name)
                if not isinstance(p, Tensor) or p.dtype != torch.uint8 or tuple(p.shape) != want:
                    raise ValueError(f"{name} must be a uint8 Tensor{list(want)} for chroma={self.chroma!r}, "
                                     f"got {_describe(p)}")
                if p.device != self.y.device:
                    raise ValueError(f"{name} is on {p.device} but y is on {self.y.device}")
        self.fps = _as_fps(self.fps)

    @property
    def frames(self) -> int:
        return int(self.y.shape[0])

    @property
    def height(self) -> int:
        return int(self.y.shape[1])

    @property
    def width(self) -> int:
        return int(self.y.shape[2])

    def planes(self) -> list[Tensor]:
        """``[y]`` (mono) or ``[y, u, v]``."""
        return [self.y] if self.chroma == "mono" else [self.y, self.u, self.v]  # type: ignore[list-item]

    def slice(self, start: int, stop: int | None = None) -> Video:
        """Frames ``start:stop`` (Python slice semantics) as a Video sharing this one's storage."""
        sl = slice(start, stop)
        u = None if self.u is None else self.u[sl]
        v = None if self.v is None else self.v[sl]
        return Video(self.y[sl], u, v, self.chroma, self.fps)

    def __repr__(self) -> str:
        return f"Video({self.frames} x {self.width}x{self.height}, chroma={self.chroma!r}, fps={self.fps})"


def chroma_size(height: int, width: int, chroma: str) -> tuple[int, int]:
    """``(Hc, Wc)`` of the chroma planes of a ``height x width`` picture (``(0, 0)`` for mono)."""
    if chroma == "420":
        return (height + 1) // 2, (width + 1) // 2
    if chroma == "444":
        return height, width
    if chroma == "mono":
        return 0, 0
    raise ValueError(f"chroma must be one of {CHROMA_FORMATS}, got {chroma!r}")


def _describe(x: object) -> str:
    return f"{x.dtype} {list(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def _as_fps(fps: object) -> Fraction:
    try:
        if isinstance(fps, float):
            f = Fraction(fps).limit_denominator(1_001_000)
        elif isinstance(fps, Fraction | int | str) and not isinstance(fps, bool):
            f = Fraction(fps)
        else:
            raise TypeError
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"fps must be a positive number or 'num/den', got {fps!r}") from None
    if f <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return f


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


# --- reading ------------------------------------------------------------------------------------------------------


def read_video(
    path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    pix_fmt: str | None = None,
    fps: Fraction | int | float | str | None = None,
    max_frames: int | None = None,
    start: int = 0,
    matrix: str = "bt601",
    chroma: str = "420",
    max_pixels: int = 1 << 31,
) -> Video:
    """Read frames ``start .. start + max_frames - 1`` of a video (all to the end when ``max_frames`` is None).

    * ``*.y4m``: geometry, colour format and frame rate from the header (``fps`` overrides the rate).
    * ``*.yuv`` / ``*.raw``: raw planar frames; ``size=(W, H)`` and ``pix_fmt`` (``"yuv420p"``, ``"yuv444p"`` or
      ``"gray"``) are required, and the file must hold a whole number of frames.  ``fps`` defaults to 25.
    * a folder: its ``*.png`` files sorted by name, one frame each, all of one size; RGB frames are converted with
      ``matrix`` (``"bt601"`` or ``"bt709"``, full range, see the module docstring) to ``chroma`` (``"420"`` or
      ``"444"``), greyscale frames give a mono video.  ``fps`` defaults to 25.

    ``max_pixels`` bounds the luma samples of the result (frames x H x W): a header or a request over it raises
    ``ValueError`` before anything is allocated (read fewer frames with ``max_frames``).
    """
    p = Path(path)
    if max_frames is not None:
        _check_count("max_frames", max_frames, 0)
    _check_count("start", start, 0)
    _check_count("max_pixels", max_pixels, 1)
    fps_value = None if fps is None else _as_fps(fps)
    if p.is_dir():
        if matrix not in MATRICES:
            raise ValueError(f"matrix must be one of {tuple(MATRICES)}, got {matrix!r}")
        if chroma not in ("420", "444"):
            raise ValueError(f"chroma must be '420' or '444' for PNG frames, got {chroma!r}")
        return _read_png_folder(p, fps_value, max_frames, start, matrix, chroma, max_pixels)
    if not p.is_file():
        raise FileNotFoundError(f"video not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".y4m":
        return _read_y4m(p, fps_value, max_frames, start, max_pixels)
    if suffix in (".yuv", ".raw"):
        return _read_raw(p, size, pix_fmt, fps_value, max_frames, start, max_pixels)
    raise ValueError(f"{p}: unknown video extension {p.suffix!r} (use .y4m, .yuv / .raw or a folder of PNG frames)")


def _alloc(n: int, h: int, w: int, chroma: str) -> list[np.ndarray]:
    hc, wc = chroma_size(h, w, chroma)
    planes = [np.empty((n, h, w), np.uint8)]
    if chroma != "mono":
        planes += [np.empty((n, hc, wc), np.uint8), np.empty((n, hc, wc), np.uint8)]
    return planes


def _to_video(planes: list[np.ndarray], n: int, chroma: str, fps: Fraction) -> Video:
    ts = [torch.from_numpy(a[:n]) for a in planes]
    if chroma == "mono":
        return Video(ts[0], None, None, chroma, fps)
    return Video(ts[0], ts[1], ts[2], chroma, fps)


def _check_pixels(what: str, frames: int, h: int, w: int, max_pixels: int) -> None:
    if frames * h * w > max_pixels:
        raise ValueError(f"{what}: {frames} frames of {w}x{h} = {frames * h * w} luma samples exceed max_pixels="
                         f"{max_pixels} (read fewer frames with max_frames, or raise max_pixels)")


def _read_frame(f: BinaryIO, planes: list[np.ndarray], i: int, frame: int, frame_bytes: int, name: str) -> None:
    """Read one frame's planes straight into ``planes[k][i]``; a short read is a truncated ``frame``."""
    got = 0
    for a in planes:
        view = memoryview(a[i]).cast("B")
        n = f.readinto(view)
        got += n or 0
        if n != len(view):
            raise BitstreamError(f"{name}: frame {frame} is truncated ({got} of {frame_bytes} bytes)")


def _parse_y4m_header(line: bytes, name: str) -> tuple[int, int, str, Fraction | None]:
    tokens = line.split()
    if not tokens or tokens[0] != _Y4M_MAGIC:
        raise BitstreamError(f"{name}: not a Y4M file (no YUV4MPEG2 signature)")
    w = h = None
    chroma, fps = "420", None
    for tok in tokens[1:]:
        key, val = chr(tok[0]), tok[1:].decode("ascii", "replace")
        if key in "WH":
            if not val.isdigit() or int(val) < 1:
                raise BitstreamError(f"{name}: bad Y4M header, {key}{val}")
            w, h = (int(val), h) if key == "W" else (w, int(val))
        elif key == "F":
            num, _, den = val.partition(":")
            if not (num.isdigit() and den.isdigit()):
                raise BitstreamError(f"{name}: bad Y4M header, frame rate F{val}")
            if int(num) > 0 and int(den) > 0:  # F0:0 means unknown: 25 is assumed below
                fps = Fraction(int(num), int(den))
        elif key == "C":
            if val not in _Y4M_CHROMA:
                raise ValueError(f"{name}: unsupported Y4M colour format C{val} "
                                 f"(supported: {', '.join('C' + c for c in _Y4M_CHROMA)})")
            chroma = _Y4M_CHROMA[val]
        elif key == "I":
            if val == "m":
                raise ValueError(f"{name}: unsupported Y4M interlacing Im (mixed modes)")
        # A (aspect ratio) and X (extensions) do not change the samples.
    if w is None or h is None:
        raise BitstreamError(f"{name}: bad Y4M header, W and H are required")
    return w, h, chroma, fps


def _read_y4m(p: Path, fps: Fraction | None, max_frames: int | None, start: int, max_pixels: int) -> Video:
    name = str(p)
    file_size = p.stat().st_size
    with open(p, "rb") as f:
        line = f.readline(_MAX_HEADER)
        if not line.endswith(b"\n"):
            raise BitstreamError(f"{name}: bad Y4M header (no end of line in the first {_MAX_HEADER} bytes)")
        w, h, chroma, header_fps = _parse_y4m_header(line, name)
        _check_pixels(name, 1, h, w, max_pixels)
        hc, wc = chroma_size(h, w, chroma)
        frame_bytes = h * w + 2 * hc * wc
        # Every frame takes at least "FRAME\n" + its samples: an upper bound on the frames we can get.
        capacity = max(0, (file_size - f.tell()) // (6 + frame_bytes) - start)
        if max_frames is not None:
            capacity = min(capacity, max_frames)
        _check_pixels(name, capacity, h, w, max_pixels)
        planes = _alloc(capacity, h, w, chroma)
        frame, n = 0, 0
        while max_frames is None or n < max_frames:
            marker = f.readline(_MAX_HEADER)
            if not marker:
                break
            if not (marker.startswith(b"FRAME") and marker.endswith(b"\n") and marker[5:6] in (b" ", b"\n")):
                if b"FRAME".startswith(marker.rstrip(b"\n")) or not marker.endswith(b"\n"):
                    raise BitstreamError(f"{name}: frame {frame} is truncated (incomplete FRAME marker)")
                raise BitstreamError(f"{name}: bad frame marker at frame {frame}: {marker[:20]!r}")
            if frame < start:
                f.seek(frame_bytes, 1)
                if f.tell() > file_size:
                    raise BitstreamError(f"{name}: frame {frame} is truncated "
                                         f"({file_size - f.tell() + frame_bytes} of {frame_bytes} bytes)")
            elif n < capacity:
                _read_frame(f, planes, n, frame, frame_bytes, name)
                n += 1
            else:  # more markers than complete frames fit in the file: this one is short
                rest = min(frame_bytes, file_size - f.tell())
                raise BitstreamError(f"{name}: frame {frame} is truncated ({rest} of {frame_bytes} bytes)")
            frame += 1
    if start > 0 and frame <= start and (max_frames is None or max_frames > 0):
        raise ValueError(f"start={start} is past the end of {name} ({frame} frames)")
    return _to_video(planes, n, chroma, fps or header_fps or Fraction(25))


def _read_raw(
    p: Path,
    size: tuple[int, int] | None,
    pix_fmt: str | None,
    fps: Fraction | None,
    max_frames: int | None,
    start: int,
    max_pixels: int,
) -> Video:
    name = str(p)
    if size is None or pix_fmt is None:
        raise ValueError(f"{name}: raw YUV needs size=(W, H) and pix_fmt (one of {tuple(PIX_FMTS)})")
    if (not isinstance(size, tuple | list) or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size)):
        raise ValueError(f"size must be (W, H) with positive ints, got {size!r}")
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"pix_fmt must be one of {tuple(PIX_FMTS)}, got {pix_fmt!r}")
    w, h = size
    chroma = PIX_FMTS[pix_fmt]
    hc, wc = chroma_size(h, w, chroma)
    frame_bytes = h * w + 2 * hc * wc
    file_size = p.stat().st_size
    total, rest = divmod(file_size, frame_bytes)
    if rest:
        raise BitstreamError(f"{name}: {file_size} bytes is not a whole number of {w}x{h} {pix_fmt} frames "
                             f"({frame_bytes} bytes each): frame {total} is truncated ({rest} bytes)")
    if start > 0 and start >= total and (max_frames is None or max_frames > 0):
        raise ValueError(f"start={start} is past the end of {name} ({total} frames)")
    n = max(0, total - start) if max_frames is None else max(0, min(max_frames, total - start))
    _check_pixels(name, n, h, w, max_pixels)
    planes = _alloc(n, h, w, chroma)
    with open(p, "rb") as f:
        f.seek(start * frame_bytes)
        for i in range(n):
            _read_frame(f, planes, i, start + i, frame_bytes, name)
    return _to_video(planes, n, chroma, fps or Fraction(25))


def _read_png_folder(
    folder: Path, fps: Fraction | None, max_frames: int | None, start: int, matrix: str, chroma: str,
    max_pixels: int,
) -> Video:
    from ..imageio import load_image

    files = sorted((q for q in folder.iterdir() if q.suffix.lower() == ".png" and q.is_file()), key=lambda q: q.name)
    if not files:
        raise ValueError(f"{folder}: no .png frames in the folder")
    if start > 0 and start >= len(files):
        raise ValueError(f"start={start} is past the end of {folder} ({len(files)} frames)")
    files = files[start:] if max_frames is None else files[start:start + max_frames]
    if not files:
        return _to_video(_alloc(0, 1, 1, chroma), 0, chroma, fps or Fraction(25))
    planes: list[np.ndarray] = []
    first_gray = None
    for i, q in enumerate(files):
        x, info = load_image(q, max_pixels=max_pixels, mode="keep")  # Tensor[C, H, W] uint8, C = 1 or 3
        if i == 0:
            first_gray, h, w = info.gray, x.shape[1], x.shape[2]
            out_chroma = "mono" if first_gray else chroma
            _check_pixels(str(folder), len(files), h, w, max_pixels)
            planes = _alloc(len(files), h, w, out_chroma)
        if tuple(x.shape[1:]) != (h, w):
            raise ValueError(f"{q}: frame size {x.shape[2]}x{x.shape[1]} differs from the first frame's {w}x{h}")
        if info.gray != first_gray:
            raise ValueError(f"{q}: {'grey' if info.gray else 'colour'} frame in a folder of "
                             f"{'grey' if first_gray else 'colour'} frames ({files[0].name})")
        if first_gray:
            planes[0][i] = x[0].numpy()
        else:
            frame = rgb_to_yuv(x[None], matrix=matrix, chroma=chroma)
            for a, t in zip(planes, frame.planes(), strict=True):
                a[i] = t[0].numpy()
    return _to_video(planes, len(files), out_chroma, fps or Fraction(25))


# --- colour -------------------------------------------------------------------------------------------------------


def _weights(matrix: str) -> tuple[float, float, float]:
    if matrix not in MATRICES:
        raise ValueError(f"matrix must be one of {tuple(MATRICES)}, got {matrix!r}")
    kr, kb = MATRICES[matrix]
    return kr, 1.0 - kr - kb, kb


def _round_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)  # round half up, then clamp


def _rgb_frame_to_ycbcr(rgb: np.ndarray, weights: tuple[float, float, float], chroma: str) -> list[np.ndarray]:
    """uint8 ``[3, H, W]`` -> the uint8 planes ``[Y]`` or ``[Y, Cb, Cr]`` (float64 inside)."""
    kr, kg, kb = weights
    r, g, b = rgb.astype(np.float64)
    luma = kr * r + kg * g + kb * b
    if chroma == "mono":
        return [_round_u8(luma)]
    cb = 128.0 + (b - luma) / (2.0 * (1.0 - kb))
    cr = 128.0 + (r - luma) / (2.0 * (1.0 - kr))
    if chroma == "420":
        # Replicating the last row / column first makes a cut 2x2 block average only the samples it has.
        h, w = luma.shape
        c = np.pad(np.stack([cb, cr]), ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
        c = c.reshape(2, c.shape[1] // 2, 2, c.shape[2] // 2, 2).mean(axis=(2, 4))
        cb, cr = c[0], c[1]
    return [_round_u8(luma), _round_u8(cb), _round_u8(cr)]


def rgb_to_yuv(rgb: Tensor, *, matrix: str = "bt601", chroma: str = "420", fps=Fraction(25)) -> Video:
    """uint8 ``Tensor[T, 3, H, W]`` RGB -> :class:`Video` (full-range YCbCr with ``matrix``'s weights; 4:2:0 chroma is
    the rounded 2x2 mean of the unrounded chroma; ``chroma="mono"`` keeps Y only) on ``rgb``'s device.  Computed on
    the CPU with numpy in float64, one frame at a time (numpy: ~10x faster than torch's CPU kernels here)."""
    weights = _weights(matrix)
    if chroma not in CHROMA_FORMATS:
        raise ValueError(f"chroma must be one of {CHROMA_FORMATS}, got {chroma!r}")
    if not isinstance(rgb, Tensor) or rgb.dtype != torch.uint8 or rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be a uint8 Tensor[T, 3, H, W], got {_describe(rgb)}")
    t, _, h, w = rgb.shape
    planes = _alloc(t, h, w, chroma)
    src = rgb.detach().cpu()
    for i in range(t):
        for a, plane in zip(planes, _rgb_frame_to_ycbcr(src[i].numpy(), weights, chroma), strict=True):
            a[i] = plane
    video = _to_video(planes, t, chroma, _as_fps(fps))
    if rgb.device.type != "cpu":
        video = Video(*(None if q is None else q.to(rgb.device) for q in (video.y, video.u, video.v)), chroma, fps)
    return video


def yuv_to_rgb(video: Video, *, matrix: str = "bt601") -> Tensor:
    """:class:`Video` -> uint8 ``Tensor[T, 3, H, W]`` RGB on the video's device (the inverse of :func:`rgb_to_yuv`'s
    matrix, float64 on the CPU; 4:2:0 chroma upsampled by pixel replication; mono gives R = G = B = Y)."""
    kr, kg, kb = _weights(matrix)
    if not isinstance(video, Video):
        raise ValueError(f"video must be a Video, got {type(video).__name__}")
    t, h, w = video.frames, video.height, video.width
    if video.chroma == "mono":
        return video.y[:, None].expand(-1, 3, -1, -1).contiguous()
    out = np.empty((t, 3, h, w), np.uint8)
    ys, us, vs = (q.detach().cpu().numpy() for q in video.planes())
    for i in range(t):
        luma = ys[i].astype(np.float64)
        cb, cr = us[i] - 128.0, vs[i] - 128.0
        if video.chroma == "420":
            cb = cb.repeat(2, 0).repeat(2, 1)[:h, :w]
            cr = cr.repeat(2, 0).repeat(2, 1)[:h, :w]
        r = luma + 2.0 * (1.0 - kr) * cr
        b = luma + 2.0 * (1.0 - kb) * cb
        g = (luma - kr * r - kb * b) / kg
        out[i] = _round_u8(np.stack([r, g, b]))
    return torch.from_numpy(out).to(video.y.device)


# --- writing ------------------------------------------------------------------------------------------------------


def _check_video(video: object) -> Video:
    if not isinstance(video, Video):
        raise ValueError(f"video must be a Video, got {type(video).__name__}")
    return video


def _output(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"output {p} is a directory")
    if not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise FileNotFoundError(f"output folder does not exist: {p.parent}")
    return p


def _write_planes(f: BinaryIO, video: Video, marker: bytes) -> None:
    planes = [q.detach().cpu() for q in video.planes()]
    for i in range(video.frames):
        f.write(marker)
        for q in planes:
            f.write(memoryview(q[i].contiguous().numpy()).cast("B"))


def write_y4m(path: str | Path, video: Video) -> None:
    """Write ``video`` as Y4M: ``YUV4MPEG2 W H F<num>:<den> Ip A1:1 C420jpeg | C444 | Cmono``, then per frame
    ``FRAME`` and the Y, Cb, Cr planes."""
    video = _check_video(video)
    p = _output(path)
    tag = {"420": "C420jpeg", "444": "C444", "mono": "Cmono"}[video.chroma]
    fps = video.fps
    header = f"YUV4MPEG2 W{video.width} H{video.height} F{fps.numerator}:{fps.denominator} Ip A1:1 {tag}\n"
    with open(p, "wb") as f:
        f.write(header.encode("ascii"))
        _write_planes(f, video, b"FRAME\n")


def write_yuv(path: str | Path, video: Video) -> None:
    """Write ``video``'s planes as raw frames (``yuv420p`` / ``yuv444p`` / ``gray`` as ffmpeg names them): read back
    with ``read_video(path, size=(W, H), pix_fmt=...)``."""
    video = _check_video(video)
    with open(_output(path), "wb") as f:
        _write_planes(f, video, b"")


def write_png_folder(folder: str | Path, video: Video, *, matrix: str = "bt601", overwrite: bool = False) -> None:
    """Write one PNG a frame into ``folder`` (created if missing), named ``0000.png``, ``0001.png``, ... (more
    digits past 10000 frames, so that name order is frame order): RGB through :func:`yuv_to_rgb` (``matrix``, 4:2:0
    chroma replicated), or grey PNGs for mono.  A folder already holding PNG files is refused unless ``overwrite``
    (a later :func:`read_video` would mix the old frames in), which deletes them first."""
    from PIL import Image

    video = _check_video(video)
    _weights(matrix)
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ValueError(f"folder {out} exists and is not a directory")
    out.mkdir(parents=False, exist_ok=True)
    old = [q for q in out.iterdir() if q.suffix.lower() == ".png"]
    if old and not overwrite:
        raise ValueError(f"folder {out} already holds {len(old)} PNG files (pass overwrite=True to replace them)")
    for q in old:
        q.unlink()
    digits = max(4, len(str(max(video.frames - 1, 0))))
    for i in range(video.frames):
        if video.chroma == "mono":
            im = Image.fromarray(video.y[i].detach().cpu().numpy(), "L")
        else:
            rgb = yuv_to_rgb(video.slice(i, i + 1), matrix=matrix)[0]
            im = Image.fromarray(rgb.cpu().permute(1, 2, 0).numpy(), "RGB")
        im.save(out / f"{i:0{digits}d}.png", compress_level=1)
