"""``wlc``: the pywlc image codec on the command line.

::

    wlc encode IMG OUT.wlc --quality Q [--checkpoint CKPT] [--model weconvene|baseline] [--device cpu|cuda]
               [--max-pixels N]
    wlc decode IN.wlc OUT.png [--checkpoint CKPT] [--device cpu|cuda] [--max-pixels N]
    wlc info IN.wlc
    wlc eval DIR --codecs weconvene,baseline,jpeg,webp,jpeg2000 [--checkpoints CKPT ...] --out results.json

Without ``--checkpoint`` the shipped pretrained weights of the quality are used (none are shipped yet: the
error names the missing file).  User errors (missing files, unreadable or too-large images, bad arguments,
corrupt streams, unwritable outputs) print one line on stderr and exit with status 2, as do usage errors; output
paths are checked before any work.  Input images go through :func:`pywlc.imageio.load_image`: ``--max-pixels``
(default 2^28) is checked from the header before decoding, 16-bit greyscale is scaled to 8 bits with rounding
and a ``wlc: note:`` line says so.  ``wlc info`` reads only the container header.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

__all__ = ["main"]


def _device(name: str) -> str:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return name


def _quality(args: argparse.Namespace) -> None:
    """``--quality`` range, checked before any file is read or model built."""
    if args.quality is not None and not 0 <= args.quality <= 255:
        raise ValueError(
            f"--quality must be a rate index: 1..6 (shipped models) or 0..255 (a checkpoint), got {args.quality}"
        )


def _note(info_conversion: str | None, src: object) -> None:
    if info_conversion:
        print(f"wlc: note: {src}: {info_conversion}", file=sys.stderr)


def _encode(args: argparse.Namespace) -> int:
    from ..imageio import check_output_path, load_image

    _quality(args)
    src = Path(args.image)
    if not src.is_file():
        raise FileNotFoundError(f"input image not found: {src}")
    check_output_path(args.output)
    x, info = load_image(src, max_pixels=args.max_pixels, mode="keep")  # header checked before decoding
    _note(info.conversion, src)
    from ..codecs import encode_image
    from ..zoo import LAMBDAS, load_checkpoint, load_pretrained

    device = _device(args.device)
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint, map_location=device)
        quality = args.quality if args.quality is not None else model.quality
        if args.quality is not None and model.quality and args.quality != model.quality:
            raise ValueError(f"--quality {args.quality}: the checkpoint was trained for quality {model.quality}")
        if not 0 <= quality <= 255:
            raise ValueError(f"--quality must be in [0, 255], got {quality}")
    else:
        if args.quality is None or not 1 <= args.quality <= len(LAMBDAS):
            raise ValueError(f"--quality must be in [1, {len(LAMBDAS)}] for the shipped models, got {args.quality}")
        quality = args.quality
        model = load_pretrained(args.model, quality, args.config).to(device)
    data = encode_image(model, x, quality, tile=args.tile)
    Path(args.output).write_bytes(data)
    h, w = x.shape[-2:]
    print(f"{args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp ({w}x{h}, quality {quality})")
    return 0


def _decode(args: argparse.Namespace) -> int:
    from ..imageio import check_output_path, save_image

    data = _read(args.input)
    check_output_path(args.output, image=True)
    from ..codecs import DecodeBudget, decode_image
    from ..zoo import load_checkpoint, loader

    device = _device(args.device)
    model = load_checkpoint(args.checkpoint, map_location=device) if args.checkpoint else None
    if model is None:
        base = loader(args.config)

        def model_loader(codec: int, quality: int):
            return base(codec, quality).to(device)

    budget = DecodeBudget(max_pixels=args.max_pixels)
    x = decode_image(data, model if model is not None else model_loader, budget=budget)
    save_image(x, args.output)
    print(f"{args.output}: {x.shape[-1]}x{x.shape[-2]}")
    return 0


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input stream not found: {p}")
    return p.read_bytes()


def _info(args: argparse.Namespace) -> int:
    # The container's header and layer table only: no codec module, no model (fast, small).
    import struct

    from ..bitstream import CodecId, decode_container

    data = _read(args.input)
    c = decode_container(data)
    try:
        codec = CodecId(c.codec).name
    except ValueError:
        codec = f"unknown codec {c.codec}"
    arch = c.metadata.get("arch", b"").decode("ascii", "replace")
    tile = c.metadata.get("tile")
    pixels = max(1, c.width * c.height)
    print(f"{args.input}: pywlc container {c.version[0]}.{c.version[1]}, {len(data)} bytes")
    print(f"  codec     {codec}" + (f" ({arch})" if arch else "") + f", quality {c.quality}")
    tile_text = f", tile {struct.unpack('<H', tile)[0]}" if tile is not None and len(tile) == 2 else ""
    print(f"  picture   {c.width}x{c.height} {c.color.name} {c.bit_depth}-bit{tile_text}")
    base_only = codec == "WECONVENE" and [lay.label for lay in c.layers] == ["z", "ll"]
    print(f"  rate      {8 * len(data) / pixels:.4f} bpp" + (" (base layer only: hf dropped)" if base_only else ""))
    header = len(data) - sum(len(lay.payload) for lay in c.layers)
    print(f"  header    {header} bytes ({8 * header / pixels:.4f} bpp)")
    for lay in c.layers:
        dep = "-" if lay.depends_on is None else str(lay.depends_on)
        size = len(lay.payload)
        print(f"  layer {lay.id}   {lay.label:<3} depends on {dep:<2} {size:>10} bytes  {8 * size / pixels:.4f} bpp")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..imageio import check_output_path
    from .evaluate import evaluate as run
    from .evaluate import plot_rd, write_results

    check_output_path(args.out)
    if args.plot:
        check_output_path(args.plot, image=True)

    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    for ckpt in args.checkpoints:
        if not Path(ckpt).is_file():
            raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    results = run(
        Path(args.folder),
        codecs,
        [Path(p) for p in args.checkpoints],
        device=_device(args.device),
        anchor=args.anchor,
        progress=not args.quiet,
        max_pixels=args.max_pixels,
    )
    out = Path(args.out)
    write_results(results, out)
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    plot_rd(results, plot)
    bd = results["bd_rate"]
    print(f"{out}: {len(results['images'])} images; RD plot {plot}")
    for codec, row in bd["codecs"].items():
        cells = []
        for metric in ("psnr", "ms_ssim"):
            v = row[metric]
            cells.append(f"{metric} {v['cubic']:+.2f}%" if "cubic" in v else f"{metric} n/a")
        print(f"  BD-rate {codec} vs {bd['anchor']}: " + ", ".join(cells))
    return 0


# pywlc.imageio.MAX_PIXELS, repeated so that building the parser imports nothing heavy.
MAX_PIXELS = 1 << 28
_MAX_PIXELS_HELP = (
    "refuse input images whose header claims more pixels (default 2^28 = 268435456); checked before decoding, "
    "so decompression bombs fail fast"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wlc", description="pywlc learned image codec")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("encode", help="encode an image into a .wlc stream")
    e.add_argument("image")
    e.add_argument("output")
    e.add_argument("--quality", "-q", type=int, help="rate index 1..6 (shipped models) or the header's quality")
    e.add_argument("--checkpoint", help="a checkpoint (pywlc.zoo / python -m pywlc.train) instead of shipped weights")
    e.add_argument("--model", choices=["weconvene", "baseline"], default="weconvene")
    e.add_argument("--config", default="compact", help="configuration of the shipped weights")
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    e.add_argument("--tile", type=int, default=1024, help="tile size, a multiple of 64 (bounds memory)")
    e.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=_MAX_PIXELS_HELP)
    e.set_defaults(func=_encode)

    d = sub.add_parser("decode", help="decode a .wlc stream into an image (format from the extension)")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--checkpoint")
    d.add_argument("--config", default="compact")
    d.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    d.add_argument(
        "--max-pixels", type=int, default=1 << 26, help="refuse streams of larger pictures (default 64 Mpixel)"
    )
    d.set_defaults(func=_decode)

    i = sub.add_parser("info", help="print a stream's header and layers")
    i.add_argument("input")
    i.set_defaults(func=_info)

    v = sub.add_parser("eval", help="rate-distortion evaluation on a folder of images")
    v.add_argument("folder")
    v.add_argument("--codecs", default="weconvene,baseline,jpeg,webp,jpeg2000")
    v.add_argument("--checkpoints", nargs="*", default=[], help="checkpoints of the learned codecs (one RD point each)")
    v.add_argument("--out", default="results.json")
    v.add_argument("--plot", help="RD plot PNG (default: --out with .png)")
    v.add_argument("--anchor", help="BD-rate anchor codec (default: jpeg)")
    v.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=_MAX_PIXELS_HELP)
    v.set_defaults(func=_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``wlc``; returns the exit status (0 ok, 2 user or usage error, 1 internal error)."""
    # CompressAI's import warns about torch.jit.script on recent torch: noise for a command-line user.
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage message
        return int(e.code or 0)
    from ..errors import BitstreamError

    try:
        return args.func(args)
    except BitstreamError as e:
        print(f"wlc: error: invalid stream: {e}", file=sys.stderr)
    except (OSError, ValueError, TypeError) as e:  # missing files, unreadable images, bad arguments: user errors
        print(f"wlc: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("wlc: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("wlc: error: out of memory (try a smaller --tile, or --max-pixels)", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line (PYWLC_DEBUG=1 shows the traceback)
        if os.environ.get("PYWLC_DEBUG"):
            raise
        print(f"wlc: internal error: {type(e).__name__}: {e} (PYWLC_DEBUG=1 shows where)", file=sys.stderr)
        return 1
    return 2
