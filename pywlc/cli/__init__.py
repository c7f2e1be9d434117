"""``wlc``: the pywlc image codec on the command line.

::

    wlc encode IMG|DIR OUT --quality Q | --bpp B | --lossless          # the wavelet codec (default)
    wlc encode IMG OUT --layers 20,40,60,80 | --layers-bpp 0.1,0.3,0.6,1.2   # one stream, embedded quality layers
    wlc encode IMG OUT.wlc --codec weconvene --quality 1..6 [--checkpoint CKPT] [--device cpu|cuda] [--tile T]
    wlc decode IN.wlc|DIR OUT.png [--resolution 1/2] [--layers K] [--no-postfilter] [--max-pixels N] [--trusted]
    wlc extract IN.wlc OUT.wlc [--resolution 1/2] [--layers K]           # lower resolution / quality, no re-encoding
    wlc info IN.wlc
    wlc eval DIR --codecs wavelet,jpeg,webp,jpeg2000 [--checkpoints CKPT ...] --out results.json

Codecs come from the registry (:mod:`pywlc.codecs.registry`); decoding picks the stream's codec.  WeConvene
without ``--checkpoint`` uses shipped weights of the quality (none ship yet: the error names the missing
file).  A folder as input codes every file in it into the output folder, with a progress bar.
User errors (missing files, unreadable or too-large images, bad arguments,
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

from .._plugins import register_all

__all__ = ["main"]


def _device(name: str) -> str:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return name


def _quality(args: argparse.Namespace, codec: str) -> None:
    """``--quality`` / ``--bpp`` / ``--lossless``, checked before any file is read or model built."""
    layered = (args.layers, args.layers_bpp)
    chosen = sum(v is not None for v in (args.quality, args.bpp, *layered)) + bool(args.lossless)
    if codec == "wavelet":
        if chosen != 1:
            raise ValueError("give exactly one of --quality Q (0..100), --bpp B, --lossless, --layers Q1,Q2,... or "
                             "--layers-bpp B1,B2,...")
        if args.quality is not None and not 0 <= args.quality <= 100:
            raise ValueError(f"--quality must be in [0, 100] for the wavelet codec, got {args.quality:g}")
        if args.bpp is not None and not args.bpp > 0:
            raise ValueError(f"--bpp must be positive, got {args.bpp:g}")
        return
    if args.bpp is not None or args.lossless or any(v is not None for v in layered):
        raise ValueError(f"--bpp, --lossless and --layers are options of the wavelet codec, not of {codec}")
    if args.quality is not None and (args.quality != int(args.quality) or not 0 <= args.quality <= 255):
        raise ValueError(
            f"--quality must be a rate index: 1..6 (shipped models) or 0..255 (a checkpoint), got {args.quality:g}"
        )


def _note(info_conversion: str | None, src: object) -> None:
    if info_conversion:
        print(f"wlc: note: {src}: {info_conversion}", file=sys.stderr)


def _codec_name(args: argparse.Namespace) -> str:
    if args.codec:
        return args.codec
    return args.model or "weconvene" if args.checkpoint else "wavelet"


def _pairs(src: Path, dst: str, suffix: str, kind: str) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs: one file, or every file of a folder into an output folder (``suffix``)."""
    from ..imageio import check_output_path

    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file() and (kind != "image" or p.suffix.lower() in
                       (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")))
        if not files:
            raise ValueError(f"no {kind}s in {src}")
        out = Path(dst)
        out.mkdir(parents=True, exist_ok=True)
        pairs = [(f, out / (f.stem + suffix)) for f in files]
    elif src.is_file():
        pairs = [(src, Path(dst))]
    else:
        raise FileNotFoundError(f"input {kind} not found: {src}")
    for _, o in pairs:
        check_output_path(o, image=suffix != ".wlc")
    return pairs


def _progress(items: list, desc: str):
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file")


def _encode(args: argparse.Namespace) -> int:
    from ..imageio import load_image

    name = _codec_name(args)
    _quality(args, name)
    pairs = _pairs(Path(args.image), args.output, ".wlc", "image")
    from ..codecs import codec

    impl = codec(name).load()
    if name == "wavelet":
        opts = {"quality": args.quality, "bpp": args.bpp, "lossless": args.lossless, "layers": args.layers,
                "layers_bpp": args.layers_bpp}
    else:
        opts = {"quality": None if args.quality is None else int(args.quality), "checkpoint": args.checkpoint,
                "config": args.config, "device": _device(args.device), "tile": args.tile}
    for src, dst in _progress(pairs, "wlc encode"):
        x, info = load_image(src, max_pixels=args.max_pixels, mode="keep")  # header checked before decoding
        _note(info.conversion, src)
        data = impl.encode(x, **opts)
        dst.write_bytes(data)
        h, w = x.shape[-2:]
        from ..bitstream import decode_container

        q = decode_container(data).quality
        what = "lossless" if args.lossless else f"target {args.bpp:g} bpp, quality {q}" if args.bpp else f"quality {q}"
        if args.layers or args.layers_bpp:
            what = f"{len(args.layers or args.layers_bpp)} quality layers, top quality {q}"
        print(f"{dst}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp ({w}x{h}, {name}, {what})")
    return 0


def _numbers(text: str) -> list[float]:
    """``"20,40,60"`` -> ``[20.0, 40.0, 60.0]`` (argparse type of ``--layers`` / ``--layers-bpp``)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def _layer_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of quality layers, got {text!r}")
    return value


def _resolution(text: str) -> int:
    """``"1"``, ``"1/2"``, ``"1/4"`` ... -> the divisor."""
    try:
        num, _, den = text.partition("/")
        value = int(den) if den else 1
        if int(num) != 1 or value < 1 or value & (value - 1):
            raise ValueError
    except ValueError:
        raise ValueError(f"--resolution must be 1, 1/2, 1/4, ... got {text!r}") from None
    return value


def _decode(args: argparse.Namespace) -> int:
    from ..imageio import save_image

    pairs = _pairs(Path(args.input), args.output, ".png", "stream")
    from ..codecs import DecodeBudget, codec_for_stream

    if getattr(args, "trusted", False):
        budget = DecodeBudget(max_pixels=args.max_pixels, max_tile=None, max_pixels_per_byte=None, max_memory=None)
    else:
        budget = DecodeBudget(max_pixels=args.max_pixels)
    resolution = _resolution(args.resolution)
    if getattr(args, "trusted", False):
        wl_budget = budget
    else:  # the wavelet codec's own defaults (its tile and memory bounds), with the user's pixel limit
        from dataclasses import replace

        from ..codecs.wavelet.codec import DEFAULT_DECODE_BUDGET

        wl_budget = replace(DEFAULT_DECODE_BUDGET, max_pixels=args.max_pixels)
    for src, dst in _progress(pairs, "wlc decode"):
        data = _read(str(src))
        if _layered(data):  # before codec_for_stream: a layered stream with corrupt upper layers still decodes
            from ..codecs.wavelet.layered import decode_layers, dropped_message

            res = decode_layers(data, layers=args.layers, resolution=resolution, postfilter=not args.no_postfilter,
                                budget=wl_budget)
            if res.dropped:
                print(f"wlc: warning: {src}: {dropped_message(res)}", file=sys.stderr)
            save_image(res.image, dst)
            print(f"{dst}: {res.image.shape[-1]}x{res.image.shape[-2]}, {res.layers} quality layer(s)")
            continue
        _check_single_layer(args.layers, src)
        spec = codec_for_stream(data)
        if spec.name == "wavelet":
            opts = {"resolution": resolution, "postfilter": not args.no_postfilter, "budget": wl_budget}
        else:
            if resolution != 1:
                raise ValueError(f"--resolution: {spec.name} streams decode at full resolution only")
            opts = {"checkpoint": args.checkpoint, "config": args.config, "device": _device(args.device),
                    "budget": budget}
        x = spec.load().decode(data, **opts)
        save_image(x, dst if len(pairs) == 1 else dst)
        print(f"{dst}: {x.shape[-1]}x{x.shape[-2]}")
    return 0


def _check_single_layer(layers: int | None, src: object) -> None:
    """``--layers K`` on a stream of one quality layer: only K = 1 (or none) makes sense."""
    if layers is not None and layers != 1:
        raise ValueError(f"--layers {layers}: {src} is not a layered stream (it has one quality layer)")


def _extract(args: argparse.Namespace) -> int:
    from ..imageio import check_output_path

    if args.resolution is None and args.layers is None:
        raise ValueError("give --resolution 1/2, 1/4, ... and/or --layers K")
    data = _read(args.input)
    check_output_path(args.output)
    from ..codecs import codec_for_stream

    spec = codec_for_stream(data)
    impl = spec.load()
    if not hasattr(impl, "extract"):
        raise ValueError(f"{spec.name} streams have no resolution layers to extract")
    resolution = _resolution(args.resolution or "1")
    if args.layers is not None:
        if not _layered(data):
            _check_single_layer(args.layers, args.input)
        out = impl.extract(data, resolution=resolution, layers=args.layers)
    else:
        out = impl.extract(data, resolution=resolution)
    Path(args.output).write_bytes(out)
    what = ", ".join(w for w in (f"resolution {args.resolution}" if args.resolution else "",
                                 f"{args.layers} quality layer(s)" if args.layers else "") if w)
    print(f"{args.output}: {len(out)} of {len(data)} bytes ({what})")
    return 0


def _layered(data: bytes) -> bool:
    from ..codecs.wavelet.layered import is_layered

    return is_layered(data)


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
        print(f"  layer {lay.id:<3} {lay.label:<5} depends on {dep:<3} {size:>10} bytes  {8 * size / pixels:.4f} bpp")
    wl = c.metadata.get("wl") if codec == "WAVELET" else None
    if wl is not None and len(wl) >= 2:  # single-layer: version, mode (pywlc.codecs.wavelet.codec)
        modes = {0: "lossy, CDF 9/7", 1: "lossless, RCT + integer 5/3", 2: "lossy, CDF 9/7 + learned lifting step"}
        print(f"  mode      {modes.get(wl[1], f'unknown ({wl[1]})')}")
    wq = c.metadata.get("wq") if codec == "WAVELET" else None
    if wq is not None and len(wq) >= 19 and len(wq) >= 19 + 2 * wq[2]:  # layered: version, levels, K, 2 model ids
        codes = struct.unpack_from(f"<{wq[2]}h", wq, 19)
        total = header
        for k, code in enumerate(codes):
            part = sum(len(lay.payload) for lay in c.layers if lay.label.endswith(f"q{k}"))
            if not part:
                break
            total += part
            print(f"  quality {k}  step code {code:>4} (quality {(7 - code / 16) * 12.5:5.1f})  prefix "
                  f"{total:>10} bytes  {8 * total / pixels:.4f} bpp (all resolutions present)")
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

    e = sub.add_parser("encode", help="encode an image (or a folder of images) into .wlc streams")
    e.add_argument("image", help="an image file, or a folder (then OUTPUT is a folder)")
    e.add_argument("output")
    e.add_argument("--codec", choices=["wavelet", "weconvene", "baseline"],
                   help="default: wavelet (weconvene when --checkpoint is given)")
    e.add_argument("--quality", "-q", type=float,
                   help="wavelet: 0..100 (continuous); weconvene/baseline: rate index 1..6 or a checkpoint's")
    e.add_argument("--bpp", type=float, help="wavelet: target bits per pixel (the best quality within it)")
    e.add_argument("--lossless", action="store_true", help="wavelet: bitwise lossless")
    e.add_argument("--layers", type=_numbers, help="wavelet: one scalable stream of embedded quality layers at these "
                   "increasing qualities, e.g. 20,40,60,80")
    e.add_argument("--layers-bpp", type=_numbers, help="wavelet: quality layers by increasing cumulative bits per "
                   "pixel, e.g. 0.1,0.3,0.6,1.2")
    e.add_argument("--checkpoint", help="weconvene/baseline: a checkpoint instead of shipped weights")
    e.add_argument("--model", choices=["weconvene", "baseline"], help="weconvene/baseline: the shipped model")
    e.add_argument("--config", default="compact", help="configuration of the shipped weights")
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    e.add_argument("--tile", type=int, default=1024, help="tile size, a multiple of 64 (bounds memory)")
    e.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=_MAX_PIXELS_HELP)
    e.set_defaults(func=_encode)

    d = sub.add_parser("decode", help="decode a .wlc stream (or a folder of them) into an image (format by extension)")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--resolution", default="1", help="wavelet: decode at 1, 1/2, 1/4 ... of the size")
    d.add_argument("--layers", type=_layer_count, help="layered wavelet streams: decode the first K quality layers")
    d.add_argument("--no-postfilter", action="store_true", help="wavelet: skip the learned post-filter")
    d.add_argument("--checkpoint")
    d.add_argument("--config", default="compact")
    d.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    d.add_argument(
        "--max-pixels", type=int, default=1 << 26, help="refuse streams of larger pictures (default 64 Mpixel)"
    )
    d.add_argument(
        "--trusted",
        action="store_true",
        help="lift the decode budget's tile, pixels-per-byte and memory limits (for streams you produced); "
        "without it, streams that could be decompression bombs are refused before decoding",
    )
    d.set_defaults(func=_decode)

    x = sub.add_parser("extract", help="cut a wavelet stream down to a lower resolution / fewer quality layers "
                       "(no re-encoding)")
    x.add_argument("input")
    x.add_argument("output")
    x.add_argument("--resolution", help="1/2, 1/4, ...")
    x.add_argument("--layers", type=_layer_count, help="layered streams: keep the first K quality layers")
    x.set_defaults(func=_extract)

    i = sub.add_parser("info", help="print a stream's header and layers")
    i.add_argument("input")
    i.set_defaults(func=_info)

    v = sub.add_parser("eval", help="rate-distortion evaluation on a folder of images")
    v.add_argument("folder")
    v.add_argument("--codecs", default="wavelet,jpeg,webp,jpeg2000",
                   help="registered codecs (wavelet, weconvene, baseline) and anchors (jpeg, webp, jpeg2000)")
    v.add_argument("--checkpoints", nargs="*", default=[], help="checkpoints of the learned codecs (one RD point each)")
    v.add_argument("--out", default="results.json")
    v.add_argument("--plot", help="RD plot PNG (default: --out with .png)")
    v.add_argument("--anchor", help="BD-rate anchor codec (default: jpeg)")
    v.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=_MAX_PIXELS_HELP)
    v.set_defaults(func=_eval)
    register_all(_SUBCOMMAND_MODULES, sub)
    return p


# Command families in their own modules (``wlc video ...``, ``wlc interpolate ...``): each has
# ``register(subparsers)``; one that is not installed in this tree is skipped.
_SUBCOMMAND_MODULES = ("pywlc.cli.video", "pywlc.cli.vfi")



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
