"""``wlc video``: the WL-SVC video codec on the command line.

::

    wlc video encode IN OUT.wlv (--quality Q [--layers Q2,Q3] | --kbps R) [--gop 16] [--segment 64] [--frames N]
                     [--size WxH --pix-fmt yuv420p|yuv444p|gray] [--fps F] [--matrix bt601|bt709]
    wlc video decode IN.wlv OUT.y4m|OUT.yuv|OUT_DIR [--fps 1/2] [--resolution 1/2] [--layers K] [--trusted]
    wlc video extract IN.wlv OUT.wlv [--fps 1/2|1/4] [--resolution 1/2] [--layers K]     # no re-encoding
    wlc video info IN.wlv
    wlc video eval SEQ [SEQ ...] --out results.json [--qualities ...] [--anchors x264,x265] [--frames 64]

Inputs: Y4M, raw YUV (with ``--size`` and ``--pix-fmt``) or a folder of PNG frames (RGB converted to YCbCr 4:2:0
with ``--matrix``, grey kept mono; :mod:`pywlc.video.io`).  Errors are one line on stderr (``wlc``'s main).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

__all__ = ["register"]


def _fraction(text: str, name: str) -> int:
    """``"1"``, ``"1/2"``, ``"1/4"`` -> the divisor 1, 2, 4."""
    t = text.strip()
    if t == "1":
        return 1
    if t.startswith("1/") and t[2:].isdigit() and int(t[2:]) >= 1:
        d = int(t[2:])
        if d & (d - 1) == 0:
            return d
    raise ValueError(f"{name} must be 1, 1/2, 1/4, ... got {text!r}")


def _qualities(text: str | None) -> list[float] | None:
    """``--layers 45,60`` (encode): the refinement layers' qualities."""
    if text is None:
        return None
    try:
        out = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--layers must be qualities separated by commas (e.g. 45,60), got {text!r}") from None
    for q in out:
        if not 0 <= q <= 100:
            raise ValueError(f"--layers: qualities must be in [0, 100], got {q:g}")
    return out


def _count(text: str | None) -> int | None:
    """``--layers K`` (decode, extract): keep the first K quality layers."""
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"--layers must be a positive number of quality layers, got {text!r}")
    return int(text)


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input stream not found: {p}")
    return p.read_bytes()


def _bar(desc: str):
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=desc, unit="step", file=sys.stderr)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _encode(args: argparse.Namespace) -> int:
    from ..video import codec as C
    from ..video.io import read_video

    if (args.quality is None) == (args.kbps is None):
        raise ValueError("give exactly one of --quality Q (0..100) or --kbps R")
    if args.quality is not None and not 0 <= args.quality <= 100:
        raise ValueError(f"--quality must be in [0, 100], got {args.quality:g}")
    if args.kbps is not None and not args.kbps > 0:
        raise ValueError(f"--kbps must be positive, got {args.kbps:g}")
    layers = _qualities(args.layers)
    if layers is not None and args.kbps is not None:
        raise ValueError("--layers needs --quality (the base layer's), not --kbps")
    out = Path(args.output)
    if out.exists() and out.is_dir():
        raise ValueError(f"output {out} is a folder")
    video = read_video(args.input, size=_size(args.size), pix_fmt=args.pix_fmt,
                       fps=None if args.fps is None else Fraction(args.fps), max_frames=args.frames,
                       matrix=args.matrix)  # fmt: skip
    opts = C.EncodeOptions(gop=args.gop, segment=args.segment, lam=args.lam)
    data = C.encode(video, args.quality, kbps=args.kbps, gop=args.gop, segment=args.segment, options=opts,
                    progress=None if args.quiet else _bar("wlc video encode"), layers=layers)  # fmt: skip
    out.write_bytes(data)
    seconds = video.frames / float(video.fps)
    print(f"{out}: {video.frames} frames {video.width}x{video.height} {video.chroma}, {len(data)} bytes, "
          f"{8 * len(data) / seconds / 1000:.1f} kbps at {float(video.fps):g} fps")  # fmt: skip
    return 0


def _decode(args: argparse.Namespace) -> int:
    from ..codecs import DecodeBudget
    from ..video import codec as C
    from ..video.io import write_png_folder, write_y4m, write_yuv

    data = _read(args.input)
    budget = DecodeBudget.trusted() if args.trusted else None
    fps, res = _fraction(args.fps, "--fps"), _fraction(args.resolution, "--resolution")
    video = C.decode(data, fps_divisor=fps, resolution=res, budget=budget, layers=_count(args.layers),
                     progress=None if args.quiet else _bar("wlc video decode"))
    out = Path(args.output)
    if out.suffix.lower() == ".y4m":
        write_y4m(out, video)
    elif out.suffix.lower() in (".yuv", ".raw"):
        write_yuv(out, video)
    elif out.suffix == "":
        write_png_folder(out, video, matrix=args.matrix, overwrite=True)
    else:
        raise ValueError(f"output {out}: use .y4m, .yuv or a folder (PNG frames)")
    print(f"{out}: {video.frames} frames {video.width}x{video.height} {video.chroma} at {float(video.fps):g} fps")
    return 0


def _extract(args: argparse.Namespace) -> int:
    from ..video import codec as C

    data = _read(args.input)
    out = C.extract(data, fps_divisor=_fraction(args.fps, "--fps"),
                    resolution=_fraction(args.resolution, "--resolution"), layers=_count(args.layers))  # fmt: skip
    Path(args.output).write_bytes(out)
    print(f"{args.output}: {len(out)} of {len(data)} bytes (fps {args.fps}, resolution {args.resolution}, "
          f"{C.stream_info(out).quality_layers} quality layer(s))")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..video import codec as C

    data = _read(args.input)
    info = C.stream_info(data)
    seconds = info.frames / float(info.fps)
    print(f"{args.input}: WL-SVC stream, {len(data)} bytes, {info.frames} frames {info.width}x{info.height} "
          f"{info.chroma} at {float(info.fps):g} fps, {8 * len(data) / seconds / 1000:.1f} kbps")  # fmt: skip
    print(f"  operating point: 1/{info.frame_rate_divisor} frame rate, 1/{info.resolution_divisor} resolution, "
          f"{info.quality_layers} quality layer(s); model {info.model_id.hex()}")  # fmt: skip
    for s in info.segments:
        mv = sum(b for lab, b in s.layers if lab.startswith("mv"))
        total = sum(b for _, b in s.layers)
        codes = ", ".join(str(c) for c in s.step_codes[: s.quality_layers])
        print(f"  segment frames {s.first}..{s.first + s.frames - 1}: {s.temporal_levels} temporal levels, step "
              f"code{'s' if s.quality_layers > 1 else ''} {codes}, {total} bytes (motion {mv}, "
              f"{100 * mv / max(1, total):.1f} %)")  # fmt: skip
        if s.quality_layers > 1:
            # subband layers t<g>r<d> (quality 0) and t<g>q<k>
            per = [0] * s.quality_layers
            for lab, b in s.layers:
                k = int(lab.split("q")[1]) if "q" in lab else 0
                if lab.startswith("t") and k < s.quality_layers:
                    per[k] += b
            print("    quality layers (bytes, motion excluded): " + ", ".join(f"q{k}:{b}" for k, b in enumerate(per)))
        print("    " + " ".join(f"{lab}:{b}" for lab, b in s.layers))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..video.evaluate import run_eval

    qualities = [float(q) for q in args.qualities.split(",")]
    anchors = [a for a in args.anchors.split(",") if a]
    run_eval(args.sequences, out=args.out, qualities=qualities, anchors=anchors, frames=args.frames, gop=args.gop,
             plot_path=args.plot, quiet=args.quiet, ablation=args.ablation,
             scalability=args.scalability)  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``wlc video ...`` to ``wlc``'s subcommands."""
    v = sub.add_parser("video", help="WL-SVC video codec: encode, decode, extract, info, eval")
    vs = v.add_subparsers(dest="video_command", required=True)

    e = vs.add_parser("encode", help="encode a Y4M / raw YUV / PNG-folder video into a .wlv stream")
    e.add_argument("input")
    e.add_argument("output")
    e.add_argument("--quality", "-q", type=float, help="0..100 (the image codec's scale)")
    e.add_argument("--kbps", type=float, help="target rate (the best quality within it)")
    e.add_argument("--layers", help="quality scalability: qualities of refinement layers above --quality, e.g. 45,60")
    e.add_argument("--gop", type=int, default=16, help="GOP size 2^T (temporal levels), default 16")
    e.add_argument("--segment", type=int, default=64, help="frames per independently coded segment (x gop)")
    e.add_argument("--frames", type=int, help="code only the first N frames")
    e.add_argument("--size", help="raw YUV: WIDTHxHEIGHT")
    e.add_argument("--pix-fmt", choices=["yuv420p", "yuv444p", "gray"], help="raw YUV layout")
    e.add_argument("--fps", help="frame rate (raw YUV / PNG folders; default 25 or the Y4M's)")
    e.add_argument("--matrix", choices=["bt601", "bt709"], default="bt601", help="RGB->YCbCr for PNG folders")
    e.add_argument("--lam", type=float, help="HVSBM Lagrange multiplier (default: clamp(3 step, 24, 192))")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_encode)

    d = vs.add_parser("decode", help="decode a .wlv stream (any operating point) to Y4M, raw YUV or PNG frames")
    d.add_argument("input")
    d.add_argument("output", help=".y4m, .yuv, or a folder for PNG frames")
    d.add_argument("--fps", default="1", help="1, 1/2, 1/4 ... of the frame rate")
    d.add_argument("--resolution", default="1", help="1, 1/2, 1/4 ... of the size")
    d.add_argument("--layers", help="decode the first K quality layers (default: all the stream holds)")
    d.add_argument("--matrix", choices=["bt601", "bt709"], default="bt601", help="YCbCr->RGB for PNG output")
    d.add_argument("--trusted", action="store_true", help="lift the decode budget (streams you produced)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_decode)

    x = vs.add_parser("extract", help="cut a .wlv stream to a lower frame rate / resolution (no re-encoding)")
    x.add_argument("input")
    x.add_argument("output")
    x.add_argument("--fps", default="1", help="1/2, 1/4 ... of the frame rate")
    x.add_argument("--resolution", default="1", help="1/2, 1/4 ... of the size")
    x.add_argument("--layers", help="keep the first K quality layers")
    x.set_defaults(func=_extract)

    i = vs.add_parser("info", help="print a .wlv stream's segments and layers")
    i.add_argument("input")
    i.set_defaults(func=_info)

    ev = vs.add_parser("eval", help="RD of WL-SVC and the x264/x265 anchors on sequences, in one run")
    ev.add_argument("sequences", nargs="+", help="Y4M files or PNG-frame folders")
    ev.add_argument("--out", default="video-results.json")
    ev.add_argument("--plot", help="RD plot PNG (default: --out with .png)")
    ev.add_argument("--qualities", default="25,35,45,55", help="WL-SVC qualities")
    ev.add_argument("--anchors", default="x264,x265", help="ffmpeg anchors (x264, x265; empty for none)")
    ev.add_argument("--frames", type=int, default=64, help="first N frames of each sequence")
    ev.add_argument("--gop", type=int, default=16)
    ev.add_argument("--ablation", action="store_true", help="also WL-SVC with the classical (non-learned) model")
    ev.add_argument("--scalability", action="store_true",
                    help="also the 1/2, 1/4 frame-rate and 1/2 resolution sub-streams vs the first anchor")
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(func=_eval)
