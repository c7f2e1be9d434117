"""Image codec: a learned model's strings written as layers of a pywlc container (``pywlc.bitstream``).

Stream layout (codec ids from :class:`pywlc.bitstream.CodecId`)::

    WECONVENE:           layer 0 "z" | layer 1 "ll" (depends on z) | layer 2 "hf" (depends on ll)
    WECONVENE_BASELINE:  layer 0 "z" | layer 1 "y"  (depends on z)
    header:   width, height, colour format (GRAY or RGB), bit depth 8, quality (the model's rate index)
    metadata: "tile" = u16 tile size in pixels (multiple of 64), "arch" = the model's shape
              (class name, N, M, Z, slices) so that a stream is never decoded with a model of another shape,
              "entropy" = b"exact-v1": the means/scales came from the fixed-point entropy path (below); a
              stream without it was coded with float means/scales and is refused rather than mis-decoded

Tiling bounds the memory: the picture is cut into ``tile x tile`` blocks (the last row / column smaller), each
coded independently by the model; a layer's payload is the tiles' strings in raster order, each prefixed by its
length (u32 little-endian).  Dropping the "hf" layer (``drop_layers(data, ["z", "ll"])``) leaves a stream that
decodes from the LL base layer alone (WeConvene's scalable base layer, see ``pywlc.models.weconvene``).

Peak memory: the decoded picture (``3 * H * W`` bytes) plus one tile through the model.  Measured on CPU
(float32, torch 2.14, "compact" configuration, one 1024x1024 tile): the process's peak resident memory grows by
about 0.45 GB while encoding and 0.5 GB while decoding; the "paper" configuration (2x the width) needs a few
times more, so pass a smaller ``tile`` on small machines.  Tiles are coded
independently, so a tiled picture can show faint seams at tile borders at low rates; a picture no larger than
one tile has none and decodes exactly as ``model.decompress`` would.

Determinism: the entropy coder's means and scales come from the models' exact (fixed-point) entropy path
(:mod:`pywlc.models.exact`), so a stream decodes to the same latents on any device, thread count or tiling of
the batch, given the same weights and CDF tables (``update()`` once, then move the model: the tables are
computed with the device's ``erfc``).  The reconstruction ``g_s`` is float: pixels may differ by rounding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from compressai.models import CompressionModel
from torch import Tensor

from ..bitstream import CodecId, ColorFormat, Container, Layer, decode_container, encode_container
from ..errors import BitstreamError
from ..models import WeConvene, WeConveneBaseline
from .budget import DEFAULT_BUDGET, DecodeBudget, check_budget

__all__ = [
    "DEFAULT_TILE",
    "MAX_PIXELS",
    "ModelLoader",
    "StreamInfo",
    "codec_id_of",
    "encode_image",
    "decode_image",
    "stream_info",
]

DEFAULT_TILE = 1024
MAX_TILE = 4096
MAX_PIXELS = 1 << 26  # default bound on W * H accepted by the decoder (64 Mpixel, 192 MB of RGB output)
_ALIGN = 64  # the models' total down-sampling (to z)
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
# Marks streams whose Gaussian means/scales come from the exact fixed-point entropy path (pywlc.models.exact).
ENTROPY_PATH = b"exact-v1"

ModelLoader = Callable[[int, int], CompressionModel]
"""``loader(codec_id, quality) -> model``: picks the model a stream needs (e.g. :func:`pywlc.zoo.loader`)."""

_LAYERS: dict[int, tuple[str, ...]] = {
    CodecId.WECONVENE: ("z", "ll", "hf"),
    CodecId.WECONVENE_BASELINE: ("z", "y"),
}


def codec_id_of(model: CompressionModel) -> CodecId:
    """The :class:`CodecId` of a model instance (``TypeError`` for a model pywlc has no codec for)."""
    if isinstance(model, WeConvene):
        return CodecId.WECONVENE
    if isinstance(model, WeConveneBaseline):
        return CodecId.WECONVENE_BASELINE
    raise TypeError(f"model must be a WeConvene or WeConveneBaseline, got {type(model).__name__}")


def _arch(model: CompressionModel) -> bytes:
    slices = model.ll_slices.slices if isinstance(model, WeConvene) else model.y_slices.slices
    return f"{type(model).__name__}:{model.N},{model.M},{model.Z},{slices}".encode("ascii")


def _tiles(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """``(top, left, h, w)`` of each tile in raster order."""
    return [
        (t, left, min(tile, height - t), min(tile, width - left))
        for t in range(0, height, tile)
        for left in range(0, width, tile)
    ]


def _to_float(x: Tensor) -> tuple[Tensor, ColorFormat]:
    """``Tensor[C, H, W]`` (C in {1, 3}; uint8 in [0, 255] or float in [0, 1]) -> ``Tensor[1, 3, H, W]`` float."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a Tensor, got {type(x).__name__}")
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"x must be Tensor[1 | 3, H, W], got shape {tuple(x.shape)}")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"x must not be empty, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        xf = x.float() / 255.0
    elif x.is_floating_point():
        # NaN survives clamp and would reach the entropy coder (issue 10, finding 3): refuse it here.
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x has non-finite values (NaN or inf): the codec needs finite pixels")
        xf = x.float().clamp(0.0, 1.0)
    else:
        raise TypeError(f"x must be uint8 or floating point, got {x.dtype}")
    color = ColorFormat.GRAY if x.shape[0] == 1 else ColorFormat.RGB
    return xf.expand(3, -1, -1).unsqueeze(0), color


def encode_image(
    model: CompressionModel,
    x: Tensor,
    quality: int,
    codec_id: int | None = None,
    *,
    tile: int = DEFAULT_TILE,
) -> bytes:
    """Encode one picture into a pywlc container.

    Args:
        model: a :class:`~pywlc.models.WeConvene` or :class:`~pywlc.models.WeConveneBaseline` after ``update()``
            (CompressAI's CDF tables), on any device; it is put in eval mode.
        x: ``Tensor[3, H, W]`` RGB or ``Tensor[1, H, W]`` gray (a leading batch of 1 is accepted), uint8 in
            [0, 255] or float in [0, 1] (clamped; NaN or inf is a ``ValueError``), any size up to 65536 x 65536.
        quality: the model's rate index written in the header, 0..255 (the zoo's quality for pretrained models).
        codec_id: the :class:`CodecId` to write; None infers it from the model (a mismatch is a ``ValueError``).
        tile: tile size in pixels, a multiple of 64 in [64, 4096]; pictures up to ``tile x tile`` are one tile.

    Returns:
        The stream's bytes.  Same model, input and device -> same bytes.
    """
    expected = codec_id_of(model)
    if codec_id is not None and int(codec_id) != expected:
        raise ValueError(f"codec_id {codec_id!r} does not match the model ({expected.name})")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 255:
        raise ValueError(f"quality must be an int in [0, 255], got {quality!r}")
    if isinstance(tile, bool) or not isinstance(tile, int) or not _ALIGN <= tile <= MAX_TILE or tile % _ALIGN:
        raise ValueError(f"tile must be a multiple of {_ALIGN} in [{_ALIGN}, {MAX_TILE}], got {tile!r}")
    xf, color = _to_float(x)
    height, width = xf.shape[-2:]
    device = next(model.parameters()).device
    model.eval()
    names = _LAYERS[expected]
    # strings from compress(): [ll, hf, z] / [y, z]; container order: z first, then what depends on it.
    order = (2, 0, 1) if expected == CodecId.WECONVENE else (1, 0)
    payloads: list[list[bytes]] = [[] for _ in names]
    with torch.no_grad():
        for top, left, h, w in _tiles(height, width, tile):
            out = model.compress(xf[..., top : top + h, left : left + w].to(device))
            for k, idx in enumerate(order):
                s = out["strings"][idx][0]
                payloads[k].append(_U32.pack(len(s)) + s)
    layers = [
        Layer(k, name, b"".join(payloads[k]), depends_on=None if k == 0 else k - 1) for k, name in enumerate(names)
    ]
    return encode_container(
        codec=expected,
        quality=quality,
        width=width,
        height=height,
        color=color,
        bit_depth=8,
        layers=layers,
        metadata={"tile": _U16.pack(tile), "arch": _arch(model), "entropy": ENTROPY_PATH},
    )


@dataclass(frozen=True)
class StreamInfo:
    """What a decoder needs to know about an image stream, validated (see :func:`stream_info`)."""

    container: Container
    codec: CodecId
    tile: int
    arch: str
    layers: tuple[str, ...]  # labels present, in table order
    base_only: bool  # a WeConvene stream whose "hf" layer was dropped

    @property
    def width(self) -> int:
        return self.container.width

    @property
    def height(self) -> int:
        return self.container.height


def stream_info(data: bytes | bytearray | memoryview, *, max_pixels: int = MAX_PIXELS) -> StreamInfo:
    """Parse and validate an image stream's container without running a model.

    Raises:
        pywlc.errors.BitstreamError: not a valid pywlc image stream (corrupt container, unknown codec, colour
            format, bit depth, frames, layers, tile size, or a picture larger than ``max_pixels``).
    """
    c = decode_container(data)
    try:
        codec = CodecId(c.codec)
    except ValueError:
        raise BitstreamError(f"unknown codec id {c.codec}") from None
    if codec not in _LAYERS:
        raise BitstreamError(f"codec {codec.name} is not an image codec")
    if c.color not in (ColorFormat.GRAY, ColorFormat.RGB):
        raise BitstreamError(f"colour format {c.color.name} is not supported by the image codec (GRAY, RGB)")
    if c.bit_depth != 8 or c.frames != 1:
        raise BitstreamError(f"image streams are 8-bit single frames, got bit depth {c.bit_depth}, {c.frames} frames")
    if c.width * c.height > max_pixels:
        raise BitstreamError(f"picture {c.width}x{c.height} exceeds the decoder's limit of {max_pixels} pixels")
    raw_tile = c.metadata.get("tile")
    if raw_tile is None or len(raw_tile) != _U16.size:
        raise BitstreamError("missing or malformed 'tile' metadata")
    (tile,) = _U16.unpack(raw_tile)
    if not _ALIGN <= tile <= MAX_TILE or tile % _ALIGN:
        raise BitstreamError(f"tile size {tile} is not a multiple of {_ALIGN} in [{_ALIGN}, {MAX_TILE}]")
    if c.metadata.get("entropy") != ENTROPY_PATH:
        raise BitstreamError(
            f"entropy path {c.metadata.get('entropy')!r} is not {ENTROPY_PATH!r}: the stream was coded by another "
            "(e.g. pre-fixed-point) pywlc; re-encode it"
        )
    try:
        arch = c.metadata["arch"].decode("ascii")
    except (KeyError, UnicodeDecodeError):
        raise BitstreamError("missing or malformed 'arch' metadata") from None
    names = _LAYERS[codec]
    labels = tuple(lay.label for lay in c.layers)
    expected = [(k, name, None if k == 0 else k - 1) for k, name in enumerate(names)]
    got = [(lay.id, lay.label, lay.depends_on) for lay in c.layers]
    # The full stream, or (WeConvene) the base layer z + ll with hf dropped.
    if got == expected:
        base_only = False
    elif codec == CodecId.WECONVENE and got == expected[:2]:
        base_only = True
    else:
        raise BitstreamError(f"layers {got} do not form a {codec.name} stream (expected {expected})")
    return StreamInfo(c, codec, tile, arch, labels, base_only)


def _split(payload: bytes, n: int, label: str) -> list[bytes]:
    """A layer's payload -> the ``n`` tiles' strings (each u32-length-prefixed), every length checked first."""
    if len(payload) < n * _U32.size:
        raise BitstreamError(f"layer {label!r}: {len(payload)} bytes cannot hold {n} tiles")
    out, pos = [], 0
    for i in range(n):
        if pos + _U32.size > len(payload):
            raise BitstreamError(f"layer {label!r}: truncated at tile {i}")
        (length,) = _U32.unpack_from(payload, pos)
        pos += _U32.size
        if length > len(payload) - pos:
            raise BitstreamError(f"layer {label!r}: tile {i} claims {length} bytes, {len(payload) - pos} left")
        out.append(payload[pos : pos + length])
        pos += length
    if pos != len(payload):
        raise BitstreamError(f"layer {label!r}: {len(payload) - pos} bytes after the last tile")
    return out


def _guard(s: bytes, symbols: int) -> bytes:
    """Zero-pad an rANS string so that decoding garbage cannot read past the end of the buffer.

    CompressAI's rANS decoder reads 32-bit words without bounds checks: two at init, at most one per decoded
    symbol, and for an escaped (bypass) value one per 4-bit chunk, whose count is itself read from the stream.
    Zeros end every bypass run, so only chunks of value 15 read from the real bytes (at most ``2 * len(s) + 16``
    of them, 15 chunks each) can lengthen a run: ``16 + 4 * symbols + 4 * (32 * len(s) + 256)`` bytes of zeros
    bound every read.  The padding is transient (one tile's string at a time).
    """
    return s + bytes(16 + 4 * symbols + 4 * (32 * len(s) + 256))


def _resolve(model_or_loader: CompressionModel | ModelLoader, info: StreamInfo) -> CompressionModel:
    if isinstance(model_or_loader, torch.nn.Module):
        model = model_or_loader
    elif callable(model_or_loader):
        model = model_or_loader(int(info.codec), info.container.quality)
    else:
        raise TypeError(f"model_or_loader must be a model or a callable, got {type(model_or_loader).__name__}")
    try:
        have = codec_id_of(model)
    except TypeError as e:
        raise TypeError(f"the loader returned an unusable model: {e}") from None
    if have != info.codec:
        raise BitstreamError(f"the stream is {info.codec.name}, the model is {have.name}")
    if _arch(model).decode("ascii") != info.arch:
        raise BitstreamError(f"the stream was coded by a {info.arch} model, this model is {_arch(model).decode()}")
    return model


def _memory_estimate(model: CompressionModel, info: StreamInfo) -> int:
    """Peak working memory of :func:`decode_image` in bytes: one tile through the model plus the picture.

    Measured (module doc, issue 10): ~480 bytes per tile pixel for the compact configuration (N = 64) at tiles of
    1024^2 to 4096^2; the activations scale with the width N, hence ``8 * N`` bytes per tile pixel.
    """
    c = info.container
    tile_px = min(info.tile, c.height) * min(info.tile, c.width)
    return 8 * int(getattr(model, "N", 128)) * tile_px + 4 * c.width * c.height


def decode_image(
    data: bytes | bytearray | memoryview,
    model_or_loader: CompressionModel | ModelLoader,
    *,
    max_pixels: int | None = None,
    budget: DecodeBudget = DEFAULT_BUDGET,
) -> Tensor:
    """Decode a stream written by :func:`encode_image` (or one with its "hf" layer dropped).

    Args:
        data: the stream.
        model_or_loader: the model that encoded it, or ``loader(codec_id, quality) -> model``.
        max_pixels: refuse pictures with more pixels than this (overrides ``budget.max_pixels``).
        budget: resource limits checked from the header before anything is decoded (:mod:`pywlc.codecs.budget`):
            output pixels, tile size (default at most 1024, the encoder's default), pixels per stream byte and
            the memory estimate.  The defaults suit untrusted input; raise them for trusted streams coded with
            large tiles (``DecodeBudget(max_tile=MAX_TILE)``) or of nearly flat pictures.

    Returns:
        ``Tensor[C, H, W]`` uint8 on the CPU, C = 1 for a GRAY stream (the mean of the decoded channels), 3 for RGB.

    Raises:
        pywlc.errors.BitstreamError: the stream is corrupt, truncated, of another codec, was coded with a model
            of another shape, or exceeds the budget.
    """
    if max_pixels is not None:
        budget = replace(budget, max_pixels=max_pixels)
    info = stream_info(data, max_pixels=MAX_PIXELS if budget.max_pixels is None else budget.max_pixels)
    c = info.container
    # Header-only checks first: a bomb is refused before a model is even loaded.
    limits = dict(width=c.width, height=c.height, stream_bytes=len(data), tile=min(info.tile, max(c.width, c.height)))
    check_budget(budget, **limits)
    model = _resolve(model_or_loader, info)
    check_budget(budget, **limits, memory=_memory_estimate(model, info))
    model.eval()
    tiles = _tiles(c.height, c.width, info.tile)
    strings = {lay.label: _split(lay.payload, len(tiles), lay.label) for lay in c.layers}
    out = torch.empty(3, c.height, c.width, dtype=torch.uint8)
    m = model.M
    with torch.no_grad():
        for i, (top, left, h, w) in enumerate(tiles):
            # Latent sizes: z at ceil(./64), y / LL / HF at 4x that.
            zh, zw = -(-h // _ALIGN), -(-w // _ALIGN)
            z = [_guard(strings["z"][i], model.Z * zh * zw)]
            if info.codec == CodecId.WECONVENE:
                ll = [_guard(strings["ll"][i], m * 16 * zh * zw)]
                hf = None if info.base_only else [_guard(strings["hf"][i], 3 * m * 16 * zh * zw)]
                x_hat = model.decompress([ll, hf, z], (h, w))["x_hat"]
            else:
                x_hat = model.decompress([[_guard(strings["y"][i], m * 16 * zh * zw)], z], (h, w))["x_hat"]
            x_hat = torch.nan_to_num(x_hat[0].float(), nan=0.0).clamp(0.0, 1.0)
            out[:, top : top + h, left : left + w] = (x_hat * 255.0).round().to(torch.uint8).cpu()
    if c.color == ColorFormat.GRAY:
        return out.float().mean(0, keepdim=True).round().to(torch.uint8)
    return out
