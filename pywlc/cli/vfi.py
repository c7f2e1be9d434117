"""``wlc interpolate IN OUT --factor 2|4``: frame-rate up-conversion with :func:`pywlc.vfi.interpolate`.

``IN`` is a folder of PNG frames (sorted by name; grey or RGB, one size) or a ``.y4m`` file; ``OUT`` is a ``.y4m``
file or a folder for PNG frames (``0000.png`` ...).  For N input frames it writes ``factor * (N - 1) + 1``
frames: every input frame unchanged, with ``factor - 1`` new ones between each pair (t = 1/2, or 1/4, 1/2, 3/4).
Y4M keeps its colour format (4:2:0 and 4:4:4 are interpolated in RGB, mono as grey; input frames are copied
plane for plane) and gets ``factor`` times the frame rate; PNG input written as Y4M is 4:4:4 (RGB) or mono.
A progress bar on stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["register"]


def _png_files(folder: Path) -> list[Path]:
    if not folder.exists():
        raise FileNotFoundError(f"input not found: {folder}")
    files = sorted(q for q in folder.iterdir() if q.suffix.lower() == ".png" and q.is_file())
    if len(files) < 2:
        raise ValueError(f"{folder}: need at least 2 PNG frames to interpolate, found {len(files)}")
    return files


def _png_frames(files: list[Path], max_pixels: int) -> Iterator[Tensor]:
    """uint8 ``Tensor[C, H, W]`` per file (C = 1 grey, 3 RGB), all of the first frame's size and colour."""
    from ..imageio import load_image

    first = None
    for p in files:
        img, _ = load_image(p, max_pixels=max_pixels, mode="keep")
        if first is None:
            first = tuple(img.shape)
        elif tuple(img.shape) != first:
            raise ValueError(f"{p}: frame is {tuple(img.shape)} (C, H, W) but the first frame is {first}")
        yield img


def _check_output(out: Path, overwrite: bool) -> str:
    if out.suffix.lower() == ".y4m":
        if out.exists() and not overwrite:
            raise ValueError(f"{out} exists (pass --overwrite to replace it)")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"output folder {out.parent} does not exist")
        return "y4m"
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a folder (name a folder for PNG frames, or a .y4m file)")
    if out.is_dir() and any(q.suffix.lower() == ".png" for q in out.iterdir()) and not overwrite:
        raise ValueError(f"output folder {out} already holds PNG files (pass --overwrite to replace them)")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"output's parent folder {out.parent} does not exist")
    return "png"


def _times(factor: int) -> list[float]:
    return [k / factor for k in range(1, factor)]


def _upconvert(frames: Iterator[Tensor], n: int, factor: int, ratio, progress: bool) -> Iterator[Tensor]:
    """Every input frame and the ``factor - 1`` interpolated ones after it (``[C, H, W]`` uint8 each)."""
    from tqdm import tqdm

    from ..vfi import interpolate, load_model

    model = load_model()
    times = _times(factor)
    bar = tqdm(total=(n - 1) * len(times), desc="wlc interpolate", unit="frame", disable=not progress)
    prev = None
    for cur in frames:
        if prev is not None:
            batch0 = prev[None].expand(len(times), -1, -1, -1)
            batch1 = cur[None].expand(len(times), -1, -1, -1)
            mids = interpolate(batch0, batch1, torch.tensor(times), ratio=ratio, model=model)
            yield from mids
            bar.update(len(times))
        yield cur
        prev = cur
    bar.close()


def _write_pngs(out: Path, frames: Iterator[Tensor], total: int) -> int:
    from PIL import Image

    out.mkdir(exist_ok=True)
    for q in out.iterdir():
        if q.suffix.lower() == ".png":
            q.unlink()
    digits = max(4, len(str(total - 1)))
    count = 0
    for f in frames:
        a = f.permute(1, 2, 0).numpy()
        Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(out / f"{count:0{digits}d}.png")
        count += 1
    return count


def _interpolate(args: argparse.Namespace) -> int:
    from ..imageio import MAX_PIXELS
    from ..video import io as vio

    if args.factor not in (2, 4):
        raise ValueError(f"--factor must be 2 or 4, got {args.factor}")
    ratio = args.ratio if args.ratio in ("dynamic", "dense") else float(args.ratio)
    src, out = Path(args.input), Path(args.output)
    kind = _check_output(out, args.overwrite)
    progress = not args.quiet
    if src.suffix.lower() == ".y4m" or src.is_file():
        video = vio.read_video(src, max_pixels=args.max_pixels or (1 << 31))
        if video.frames < 2:
            raise ValueError(f"{src}: need at least 2 frames to interpolate, found {video.frames}")
        grey = video.chroma == "mono"
        frames = (video.y[i][None] if grey else vio.yuv_to_rgb(video.slice(i, i + 1))[0] for i in range(video.frames))
        n, fps, chroma = video.frames, video.fps, video.chroma
    else:
        files = _png_files(src)
        frames, n, fps, chroma = _png_frames(files, args.max_pixels or MAX_PIXELS), len(files), Fraction(25), None
    stream = _upconvert(frames, n, args.factor, ratio, progress)
    total = args.factor * (n - 1) + 1
    if kind == "png":
        written = _write_pngs(out, stream, total)
    else:
        frames_out = list(stream)
        grey = frames_out[0].shape[0] == 1
        if grey:
            planes = torch.stack([f[0] for f in frames_out])
            result = vio.Video(planes, None, None, "mono", fps * args.factor)
        else:
            rgb = torch.stack(frames_out)
            result = vio.rgb_to_yuv(rgb, chroma=chroma or "444", fps=fps * args.factor)
            if chroma is not None:  # the input frames keep their exact planes
                for i in range(n):
                    for name in ("y", "u", "v"):
                        getattr(result, name)[i * args.factor] = getattr(video, name)[i]
        vio.write_y4m(out, result)
        written = result.frames
    if not args.quiet:
        print(f"wlc interpolate: {n} frames -> {written} frames in {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``wlc interpolate`` to the ``wlc`` parser."""
    p = sub.add_parser("interpolate", help="frame-rate up-conversion (WaveletVFI on the CPU)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("input", help="folder of PNG frames or a .y4m file")
    p.add_argument("output", help="folder for PNG frames, or a .y4m file")
    p.add_argument("--factor", type=int, default=2, help="2 (one new frame per pair) or 4 (three)")
    p.add_argument("--ratio", default="dynamic",
                   help="'dynamic' (the model picks the sparsity per frame), 'dense', or a threshold ratio >= 0")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse input frames larger than this")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_interpolate)
