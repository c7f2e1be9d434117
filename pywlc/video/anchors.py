"""x264 and x265 through ffmpeg: the video anchors WL-SVC's RD curves are compared with (issue 13).

Settings (``shared/specs/anchors.md``): ``-preset medium -tune psnr``, one intra picture every ``gop`` frames and
nowhere else (x264: ``-g gop -keyint_min gop -x264-params scenecut=0``; x265: ``keyint=gop:min-keyint=gop:
scenecut=0``), closed GOPs (x265's default open GOP would let the pictures before each intra picture reference the
previous GOP; WL-SVC's GOPs are independent, and x264's GOPs are closed by default), constant ``qp`` or ``crf``, the
encoders' own defaults otherwise (B-frames, references, ...).

* Input: the video is written with :func:`~pywlc.video.io.write_y4m` and fed to ffmpeg in its own pixel format
  (``yuv420p``, ``yuv444p``, ``gray``), so no resampling or range conversion touches the samples (checked bitwise in
  the tests with x264's lossless ``qp=0``).  Mono video is coded as 4:0:0 (``gray``, which libx264 and libx265
  take); were ``gray`` not offered by the encoder, it would be coded as 4:2:0 with neutral (128) chroma written
  by us (and cropped to even).  Either way only Y is measured: :attr:`AnchorResult.decoded` is mono.
* 4:2:0 video of odd width or height is cropped to even (the last row / column dropped): H.264 and HEVC 4:2:0
  pictures have even sizes.  :attr:`AnchorResult.cropped` says so and :attr:`AnchorResult.reference` is the cropped
  video: compare the decoded video with it, not with the original.
* Rate: ``bytes`` is the size of the raw Annex-B elementary stream (``.264`` / ``.265``: start codes, parameter
  sets and slices; no container) after removing every SEI NAL unit with ffmpeg's ``filter_units`` bitstream
  filter.  The SEIs the encoders write are informative (x264's ~600-byte settings string, x265's ~2 kB one); they
  are not needed to decode and would dominate the rate of small test clips.  ``kbps`` is ``8 bytes / 1000`` over the
  clip's duration (``frames / fps``).
* Decoding: ffmpeg decodes the stream to Y4M in the decoder's own pixel format (no conversion), read back with
  :func:`~pywlc.video.io.read_video`; H.264 4:0:0 decodes to 4:2:0 with flat chroma, of which Y is kept.
* ``seconds``: wall-clock time of the ffmpeg encode command (process start and Y4M parsing included); ``threads``
  (None: the encoders' defaults, all cores) is passed as x264's ``threads`` / x265's ``pools`` and
  ``frame-threads``.  The encoders are deterministic for a given thread count; results differ slightly between
  thread counts.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from .io import Video, read_video, write_y4m

__all__ = ["CODECS", "AnchorResult", "encode_anchor", "encode_anchor_curve", "encoder_available", "ffmpeg_available"]

# codec -> (ffmpeg encoder, raw elementary-stream muxer, stream suffix, SEI NAL unit types to drop)
CODECS = {
    "x264": ("libx264", "h264", ".264", "6"),  # H.264 Table 7-1: 6 = SEI
    "x265": ("libx265", "hevc", ".265", "39|40"),  # H.265 Table 7-1: 39 / 40 = prefix / suffix SEI
}
_PIX_FMT = {"420": "yuv420p", "444": "yuv444p", "mono": "gray"}


@dataclass(eq=False)
class AnchorResult:
    """One coded clip.  ``decoded`` and ``reference`` have the same geometry: measure ``psnr(reference, decoded)``."""

    bytes: int  # Annex-B elementary stream, SEI removed
    kbps: float  # 8 * bytes / 1000 / (frames / fps)
    decoded: Video
    seconds: float  # wall-clock of the encode command
    command: list[str]  # the encode command
    cropped: bool  # 4:2:0 of odd size, cropped to even
    reference: Video  # the frames that were coded (== the input unless cropped)
    codec: str = ""
    qp: int | None = None
    crf: float | None = None
    gop: int = 0
    pix_fmt: str = ""  # what the encoder coded: yuv420p, yuv444p or gray


def ffmpeg_available() -> bool:
    """ffmpeg is on the PATH."""
    return shutil.which("ffmpeg") is not None


@functools.cache
def _encoder_pix_fmts(encoder: str) -> tuple[str, ...]:
    """The pixel formats ``ffmpeg -h encoder=<encoder>`` lists (empty when the encoder is missing)."""
    run = subprocess.run(["ffmpeg", "-hide_banner", "-h", f"encoder={encoder}"], capture_output=True, text=True)
    for line in run.stdout.splitlines():
        if "Supported pixel formats:" in line:
            return tuple(line.split(":", 1)[1].split())
    return ()


def encoder_available(codec: str) -> bool:
    """ffmpeg is installed and has ``codec``'s encoder (``"x264"``: libx264, ``"x265"``: libx265)."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {tuple(CODECS)}, got {codec!r}")
    return ffmpeg_available() and bool(_encoder_pix_fmts(CODECS[codec][0]))


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()[-800:]}")
    return seconds


def _crop_even(video: Video) -> Video:
    h, w = video.height & ~1, video.width & ~1
    if h == 0 or w == 0:
        raise ValueError(f"a {video.width}x{video.height} video is too small to crop to even and code as 4:2:0")
    if video.chroma == "mono":
        return Video(video.y[:, :h, :w], None, None, "mono", video.fps)
    return Video(video.y[:, :h, :w], video.u[:, : h // 2, : w // 2], video.v[:, : h // 2, : w // 2],  # type: ignore
                 "420", video.fps)


def _prepare(video: Video, codec: str) -> tuple[Video, Video, bool, str]:
    """``(reference, coded, cropped, pix_fmt)``: the frames measured (cropped to even for odd 4:2:0), the video
    written for the encoder (``reference``, or for mono without ``gray`` support ``reference`` as 4:2:0 with
    neutral chroma), whether it was cropped, the pixel format coded."""
    if not isinstance(video, Video):
        raise ValueError(f"video must be a Video, got {type(video).__name__}")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {tuple(CODECS)}, got {codec!r}")
    if video.frames == 0:
        raise ValueError("video has no frames")
    if not ffmpeg_available():
        raise RuntimeError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    encoder = CODECS[codec][0]
    formats = _encoder_pix_fmts(encoder)
    if not formats:
        raise RuntimeError(f"this ffmpeg has no {encoder} encoder")
    pix_fmt = _PIX_FMT[video.chroma]
    if pix_fmt not in formats:
        if video.chroma != "mono" or "yuv420p" not in formats:
            raise RuntimeError(f"{encoder} does not take {pix_fmt} (it takes {', '.join(formats)})")
        pix_fmt = "yuv420p"
    odd = bool(video.height % 2 or video.width % 2)
    cropped = pix_fmt == "yuv420p" and odd
    ref = _crop_even(video) if cropped else video
    coded = ref
    if video.chroma == "mono" and pix_fmt == "yuv420p":
        # Mono through a 4:2:0-only encoder: neutral chroma written by us (an ffmpeg gray -> yuv420p conversion
        # would rescale Y from full to limited range); only Y is measured.
        neutral = torch.full((ref.frames, ref.height // 2, ref.width // 2), 128, dtype=torch.uint8)
        coded = Video(ref.y, neutral, neutral.clone(), "420", ref.fps)
    return ref, coded, cropped, pix_fmt


def _encode_command(src: Path, dst: Path, codec: str, pix_fmt: str, qp: int | None, crf: float | None, gop: int,
                    preset: str, tune_psnr: bool, threads: int | None) -> list[str]:
    encoder, muxer, _, sei = CODECS[codec]
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
           "-c:v", encoder, "-pix_fmt", pix_fmt, "-preset", preset]
    if tune_psnr:
        cmd += ["-tune", "psnr"]
    cmd += ["-qp", str(qp)] if qp is not None else ["-crf", f"{crf:g}"]
    if codec == "x264":
        cmd += ["-g", str(gop), "-keyint_min", str(gop), "-x264-params", "scenecut=0:open-gop=0"]
        if threads is not None:
            cmd += ["-threads", str(threads)]
    else:
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error"
        if threads is not None:
            params += f":pools={threads}:frame-threads={threads}"
        cmd += ["-x265-params", params]
    return [*cmd, "-bsf:v", f"filter_units=remove_types={sei}", "-f", muxer, str(dst)]


def _check_args(qp: int | None, crf: float | None, gop: int, threads: int | None) -> None:
    if (qp is None) == (crf is None):
        raise ValueError(f"give exactly one of qp and crf, got qp={qp!r}, crf={crf!r}")
    if qp is not None and (isinstance(qp, bool) or not isinstance(qp, int) or not 0 <= qp <= 51):
        raise ValueError(f"qp must be an int in [0, 51], got {qp!r}")
    if crf is not None and (isinstance(crf, bool) or not isinstance(crf, int | float) or not 0 <= crf <= 51):
        raise ValueError(f"crf must be a number in [0, 51], got {crf!r}")
    if isinstance(gop, bool) or not isinstance(gop, int) or gop < 1:
        raise ValueError(f"gop must be a positive int, got {gop!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")


def _encode_prepared(src: Path, ref: Video, cropped: bool, pix_fmt: str, codec: str, qp: int | None,
                     crf: float | None, gop: int, preset: str, tune_psnr: bool, threads: int | None,
                     work: Path) -> AnchorResult:
    stream = work / f"{codec}-{'qp' if qp is not None else 'crf'}{qp if qp is not None else crf:g}{CODECS[codec][2]}"
    cmd = _encode_command(src, stream, codec, pix_fmt, qp, crf, gop, preset, tune_psnr, threads)
    seconds = _run(cmd)
    decoded_path = stream.with_suffix(".decoded.y4m")
    _run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(stream),
          "-fps_mode", "passthrough", "-f", "yuv4mpegpipe", str(decoded_path)])
    dec = read_video(decoded_path, fps=ref.fps, max_pixels=2 * ref.frames * ref.height * ref.width + 1)
    if ref.chroma == "mono" and dec.chroma != "mono":
        dec = Video(dec.y, None, None, "mono", ref.fps)  # 4:0:0 (or neutral-chroma 4:2:0) decoded as 4:2:0: Y only
    got = (dec.chroma, dec.frames, dec.height, dec.width)
    want = (ref.chroma, ref.frames, ref.height, ref.width)
    if got != want:
        raise RuntimeError(f"{codec} decoded (chroma, frames, H, W) {got}, expected {want}")
    size = stream.stat().st_size
    kbps = 8.0 * size / 1000.0 / float(ref.frames / ref.fps)
    return AnchorResult(size, kbps, dec, seconds, cmd, cropped, ref, codec, qp, crf, gop, pix_fmt)


def encode_anchor(
    video: Video,
    codec: str,
    *,
    qp: int | None = None,
    crf: float | None = None,
    gop: int,
    preset: str = "medium",
    tune_psnr: bool = True,
    workdir: str | Path | None = None,
    threads: int | None = None,
) -> AnchorResult:
    """Code ``video`` with x264 or x265 (``codec``) at a constant ``qp`` or ``crf`` (exactly one), an intra picture
    every ``gop`` frames; decode it and return the rate, the decoded video and the command (module docstring).
    ``workdir`` keeps the input Y4M, the stream and the decoded Y4M there (default: a temporary folder, removed)."""
    _check_args(qp, crf, gop, threads)
    ref, coded, cropped, pix_fmt = _prepare(video, codec)
    with _workdir(workdir) as work:
        src = work / "input.y4m"
        write_y4m(src, coded)
        return _encode_prepared(src, ref, cropped, pix_fmt, codec, qp, crf, gop, preset, tune_psnr, threads, work)


def encode_anchor_curve(video: Video, codec: str, qps: Iterable[int], gop: int, **kwargs) -> list[AnchorResult]:
    """:func:`encode_anchor` at each of ``qps``, the input Y4M written once; ``kwargs`` as there (but not ``qp``,
    ``crf``)."""
    for k in ("qp", "crf"):
        if k in kwargs:
            raise ValueError(f"encode_anchor_curve takes qps, not {k}")
    unknown = set(kwargs) - {"preset", "tune_psnr", "workdir", "threads"}
    if unknown:
        raise TypeError(f"encode_anchor_curve got unexpected arguments {sorted(unknown)}")
    qps = list(qps)
    if not qps:
        raise ValueError("qps must not be empty")
    for qp in qps:
        _check_args(qp, None, gop, kwargs.get("threads"))
    ref, coded, cropped, pix_fmt = _prepare(video, codec)
    with _workdir(kwargs.get("workdir")) as work:
        src = work / "input.y4m"
        write_y4m(src, coded)
        return [
            _encode_prepared(src, ref, cropped, pix_fmt, codec, qp, None, gop, kwargs.get("preset", "medium"),
                             kwargs.get("tune_psnr", True), kwargs.get("threads"), work)
            for qp in qps
        ]


class _workdir:
    """The given folder (created if missing, kept), or a temporary one removed on exit."""

    def __init__(self, path: str | Path | None) -> None:
        self.path, self.tmp = path, None

    def __enter__(self) -> Path:
        if self.path is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="pywlc-anchor-")
            return Path(self.tmp.name)
        p = Path(self.path)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
