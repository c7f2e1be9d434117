"""The wavelet image codec: ``encode(image, quality=... | bpp=... | lossless=True) -> bytes`` and ``decode``.

Pipeline (lossy): ICT -> CDF 9/7, J levels (:func:`.transform.levels_for`) -> (with a model that has one) the
closed-loop learned lifting step (:mod:`.lifting`) -> dead-zone quantiser, step ``2^(code/16)`` divided per band by
its synthesis norm -> learned entropy model + ANS -> container.  Decoding mirrors it, reconstructs every
coefficient at its bin's encoder-measured centroid (one offset per level, and per colour group with lifting,
carried in the stream) and runs the learned post-filter.  Lossless: RCT -> int 5/3 -> the same entropy coder
with step 1; bitwise lossless.

Stream (``pywlc.bitstream`` container, codec :attr:`~pywlc.bitstream.CodecId.WAVELET`):

* header: width, height, colour (GRAY or RGB), bit depth 8, quality byte (informative);
* metadata ``"wl"``: ``version u8 | mode u8 | levels u8 | step_code i16 | model_id 8 bytes |
  ll_scale u8 per channel | deltas u8`` -- mode 0: lossy (fixed 9/7), 1: lossless, 2: lossy with the learned
  lifting step; deltas (reconstruction offset x 255): none for lossless, one per level for mode 0, one per level
  and colour group (level-major) for mode 2;
* layers ``res0`` (the coarsest approximation + the coarsest detail level), ``res1`` ... ``res{J-1}`` (one finer
  level each), each depending on the previous one and each its own ANS stream.  Dropping the last ``k``
  layers (:func:`extract`) leaves a stream that decodes at 1/2^k resolution, without re-encoding.

Determinism: the entropy model's scale indices are computed in integer-exact fixed point, the tables are
bit-identical everywhere (:mod:`.tables`), so a stream decodes to the same coefficients on any machine and
thread count; encoding is deterministic too.  A model with the approximation context (:mod:`.approx`) also
reads each level's approximation, synthesised from the decoded coarser levels by IEEE-exact float64 operations
and rounded to integer features before the nets see it.  Pixels after the (float) synthesis and post-filter are rounded.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ...bitstream import CodecId, ColorFormat, Container, Layer, decode_container, drop_layers, encode_container
from ...errors import BitstreamError
from ..budget import DEFAULT_BUDGET, DecodeBudget, check_budget
from . import context as ctx
from . import transform as T
from .approx import ApproxContext
from .coder import (
    LayerDecoder,
    LayerEncoder,
    ll_from_residuals,
    ll_residuals,
    ll_scale_indices,
    pass_indices,
    walk_level,
)
from .entropy_model import N_SCALES, group_channels
from .lifting import closed_loop_quantize, closed_loop_synthesis, quantize_ll
from .model import WaveletModel, load_model, shipped_model_with_id
from .pyramid import QPyramid, dequantize_pyramid, optimal_deltas, quantize_pyramid
from .rdoq import DEFAULT_LAMBDA, RdoQuantizer

__all__ = ["DEFAULT_DECODE_BUDGET", "StreamHeader", "band_geometry", "decode", "encode", "extract", "quality_code",
           "rd_settings", "read_header"]

FORMAT_VERSION = 1
MODE_LOSSY, MODE_LOSSLESS, MODE_LIFTING = 0, 1, 2
_FIXED = struct.Struct("<BBBh8s")
# Streams below 1024 pixels per byte (0.0078 bpp) are refused unless the caller raises the budget: real pictures
# code above it (0.01-0.04 bpp at quality 0-15 on smooth photos); fuzzing found 1-3 kB corrupt streams claiming
# 4 Mpixel (10-15 CPU s of decoding each) under the generic 4096.
# Memory: 8 GiB, as WL-SVC's decoder (about 15 Mpixel at the estimate below; the generic 2 GiB would refuse
# 4 Mpixel photos).
DEFAULT_DECODE_BUDGET = replace(DEFAULT_BUDGET, max_pixels_per_byte=1024.0, max_memory=8 << 30)
# Decoder peak memory per pixel: 466 B measured with wavelet-v6 and v7 (peak RSS of a warmed process over its RSS
# before the call, 2048x1536 RGB, quality 40, 2 threads; lossless 378 / 385; v5 424 / 337) + 20 %.
_BYTES_PER_PIXEL_ESTIMATE = 560


@dataclass(frozen=True)
class StreamHeader:
    """What a wavelet stream's header says (read without decoding anything)."""

    width: int
    height: int
    channels: int
    lossless: bool
    levels: int
    step_code: int
    model_id: bytes
    ll_scales: tuple[int, ...]
    deltas: tuple[float, ...]
    layers: tuple[str, ...]  # labels of the layers present (a prefix of res0..res{levels})
    layer_bytes: tuple[int, ...]
    lifting: bool = False  # mode 2: details are closed-loop residuals of the learned predict step

    @property
    def step(self) -> float:
        return 1.0 if self.lossless else float(T.step_of_code(self.step_code))

    @property
    def full_layers(self) -> int:
        return max(1, self.levels)


# ---------------------------------------------------------------------------------------------------- encode


def _as_image(image: object, lossless: bool) -> Tensor:
    """``image`` as ``Tensor[1, C, H, W]``: uint8, or (lossy only) a finite float tensor in [0, 255]."""
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor [C, H, W] or [H, W], got {type(image).__name__}")
    x = image.detach().cpu()
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"image must be Tensor[C, H, W] with C in (1, 3), or [H, W]; got shape {tuple(image.shape)}")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"image must have at least one pixel, got shape {tuple(image.shape)}")
    if max(x.shape[1:]) > 1 << 16:
        raise ValueError(f"image sides must be at most 65536 pixels, got {tuple(x.shape[1:])}")
    if x.dtype != torch.uint8:
        if lossless:
            raise TypeError(f"lossless coding needs a uint8 image, got {x.dtype}")
        if not x.is_floating_point():
            raise TypeError(f"image must be uint8 or floating point (0..255), got {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("image holds NaN or infinite values")
    return x[None]


def quality_code(quality: object) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int | float):
        raise TypeError(f"quality must be a number, got {type(quality).__name__}")
    if not math.isfinite(quality) or not 0 <= quality <= 100:
        raise ValueError(f"quality must be in [0, 100], got {quality}")
    return min(max(T.step_code_for_quality(quality), T.STEP_CODE_MIN), T.STEP_CODE_MAX)


def encode(
    image: Tensor,
    quality: float | None = None,
    *,
    bpp: float | None = None,
    lossless: bool = False,
    layers: list[float] | tuple[float, ...] | None = None,
    layers_bpp: list[float] | tuple[float, ...] | None = None,
    model: WaveletModel | None = None,
    lifting: bool | None = None,
    rdoq: bool | None = None,
) -> bytes:
    """Compress an 8-bit picture.

    Args:
        image: ``uint8 Tensor[C, H, W]`` (C = 1 grey or 3 RGB) or ``[H, W]``; lossy coding also takes floats in
            0..255 (rounded to 8 bits in the decoder's output).
        quality: 0..100 (higher is better; ``log2 step = 7 - quality / 12.5``, continuous).
        bpp: instead of ``quality``: the best quality whose stream has at most ``bpp`` bits per pixel
            (bisection over the step codes; the coarsest step if even that is larger).
        lossless: bitwise lossless coding (RCT + integer 5/3); excludes ``quality`` and ``bpp``.
        layers: instead: embedded quality layers at these increasing qualities, one scalable stream
            (:func:`.layered.encode_layers`); ``layers_bpp``: the same with cumulative bits-per-pixel targets.
        model: the learned parts (default: the shipped weights, :func:`.model.load_model`; for ``layers``, a
            :class:`.layered_model.LayeredModel`).
        lifting: lossy coding with the model's learned lifting step (:mod:`.lifting`); default: whenever the
            model has one.  ``False`` codes the plain 9/7 pyramid (the ablation).
        rdoq: rate-distortion optimised quantisation with the entropy model's rates (:mod:`.rdoq`); default: on
            for models with a lifting step (the current weights), off for older ones (whose streams -- and the
            layered codec's base layer built on them -- stay byte for byte as they were).
    Returns:
        The stream (a pywlc container).
    Raises:
        TypeError / ValueError: bad arguments, non-finite pixels.
    """
    given = sum(v is not None for v in (quality, bpp, layers, layers_bpp)) + bool(lossless)
    if given != 1:
        raise ValueError("give exactly one of quality=, bpp=, lossless=True, layers= or layers_bpp=")
    if layers is not None or layers_bpp is not None:
        from .layered import encode_layers

        if lifting is not None or rdoq is not None:
            raise ValueError("lifting= and rdoq= apply to single-layer lossy coding, not to layers=")
        return encode_layers(image, layers, bpps=layers_bpp, model=model)  # type: ignore[arg-type]
    x = _as_image(image, bool(lossless))
    model = load_model() if model is None else model
    for name, v in (("lifting", lifting), ("rdoq", rdoq)):
        if v is not None and not isinstance(v, bool):
            raise TypeError(f"{name} must be a bool or None, got {type(v).__name__}")
    if lossless:
        if lifting or rdoq:
            raise ValueError("lifting=True / rdoq=True: lossy-only (lossless codes int 5/3 as it is)")
        return _encode_at(x, 0, True, model)
    if lifting and model.lifting is None:
        raise ValueError(f"lifting=True, but model '{model.name}' has no learned lifting step")
    opts = {"lifting": model.lifting is not None if lifting is None else lifting,
            "rdoq_lambda": DEFAULT_LAMBDA if (model.lifting is not None if rdoq is None else rdoq) else None}
    if bpp is not None:
        if isinstance(bpp, bool) or not isinstance(bpp, int | float) or not math.isfinite(bpp) or bpp <= 0:
            raise ValueError(f"bpp must be a positive number, got {bpp}")
        return _encode_bpp(x, float(bpp), model, opts)
    return _encode_at(x, quality_code(quality), False, model, quality=float(quality), **opts)


def _encode_bpp(x: Tensor, bpp: float, model: WaveletModel, opts: dict) -> bytes:
    budget = bpp * x.shape[-1] * x.shape[-2] / 8
    lo, hi = T.STEP_CODE_MIN, T.STEP_CODE_MAX  # fine .. coarse; bytes fall as the code grows
    best = _encode_at(x, hi, False, model, **opts)
    if len(best) > budget:
        return best
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data = _encode_at(x, mid, False, model, **opts)
        if len(data) <= budget:
            hi, best = mid, data
        else:
            lo = mid
    if len(data := _encode_at(x, lo, False, model, **opts)) <= budget:
        best = data
    return best


def _layer_labels(levels: int) -> list[str]:
    return [f"res{j}" for j in range(max(1, levels))]


@torch.no_grad()
def _encode_at(x: Tensor, code: int, lossless: bool, model: WaveletModel, quality: float | None = None,
               lifting: bool = False, rdoq_lambda: float | None = None) -> bytes:
    """One stream at step code ``code``; ``rdoq_lambda`` None: the dead-zone quantiser, else RDOQ with it."""
    _, c, h, w = x.shape
    levels = T.levels_for(h, w)
    p = T.forward(x, lossless)
    step = 1.0 if lossless else T.step_of_code(code)
    lifting = lifting and levels > 0
    indices = None
    if not lossless and levels and (lifting or rdoq_lambda is not None):
        # Level by level in the coder's order (closed loop and/or RDOQ); the scale indices are kept for coding.
        shapes = [[tuple(b.shape[-2:]) for b in bands] for bands in p.details]
        rq = RdoQuantizer(model.entropy, c, shapes, code, rdoq_lambda or 0.0, ll=quantize_ll(p, step))
        ll_q, _, d = closed_loop_quantize(p, torch.tensor([step]), torch.tensor([code]),
                                          model.lifting if lifting else None, quantize_group=rq)
        qp, indices = rq.qp, rq.indices
        qp.ll = ll_q
        if not lifting:  # mode 0 carries one offset per level
            d = optimal_deltas(p, qp, step)
    else:
        qp = quantize_pyramid(p, step, lossless)
        d = torch.zeros(1, 0) if lossless or not levels else optimal_deltas(p, qp, step)
    deltas = bytes(int(round(float(v) * 255)) for v in d[0].flatten())
    xi = T.XI_LOSSLESS if lossless else T.XI_LOSSY
    r = ll_residuals(qp.ll)
    ll_idx = ll_scale_indices(r)
    approx = ApproxContext(qp, code, lossless) if model.entropy_for(lossless).approx and indices is None else None
    layers = []
    for j in range(max(1, levels)):
        enc = LayerEncoder()
        if j == 0:
            for ch in range(c):
                enc.code(r[:, ch], torch.full_like(r[:, ch], ll_idx[ch]), T.XI_LOSSLESS)
        if levels:
            _walk_level(model, qp, j, code, lossless, xi, enc=enc, indices=indices, approx=approx)
        layers.append(Layer(j, f"res{j}", enc.finish(), None if j == 0 else j - 1))
    mode = MODE_LOSSLESS if lossless else MODE_LIFTING if lifting else MODE_LOSSY
    meta = _FIXED.pack(FORMAT_VERSION, mode, levels, code, model.model_id) + bytes(ll_idx) + deltas
    q_byte = 255 if lossless else int(min(255, max(0, round(quality if quality is not None else
                                                            (7 - code / 16) * 12.5))))
    return encode_container(
        codec=CodecId.WAVELET, quality=q_byte, width=w, height=h,
        color=ColorFormat.RGB if c == 3 else ColorFormat.GRAY, bit_depth=8, layers=layers,
        metadata={"wl": meta},
    )


def _walk_level(model: WaveletModel, qp: QPyramid, j: int, code: int, lossless: bool, xi: float,
                enc: LayerEncoder | None = None, dec: LayerDecoder | None = None,
                indices: dict | None = None, approx: ApproxContext | None = None) -> None:
    """Code (``enc``) or decode in place (``dec``) detail level ``j`` of ``qp`` with the learned model
    (:func:`.coder.walk_level`).

    ``indices``: the scale indices per (level, group, pass) the encoder already computed (:mod:`.rdoq`).
    ``approx``: for a model with the approximation context, the stream's :class:`.approx.ApproxContext` (without
    one, level ``j``'s approximation is synthesised from scratch: the same features, more work).
    """
    net = model.entropy_for(lossless)
    features = None
    if indices is None and net.approx:  # what a decoder has before level j: the LL and levels < j
        features = (approx or ApproxContext(qp, code, lossless)).features(j)

    def index_of(g: int, k: int) -> Tensor:
        if indices is not None:
            return indices[(j, g, k)]
        return pass_indices(net, qp, j, g, k, code, lossless, approx=features)  # [N, Cg, 3, Hq, Wq]

    walk_level(qp, j, index_of, xi, enc, dec)


# ---------------------------------------------------------------------------------------------------- decode


def _check_resolution(resolution: object) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1 or resolution & resolution - 1:
        raise ValueError(f"resolution must be a power of two >= 1, got {resolution}")


def read_header(data: bytes | bytearray | memoryview) -> StreamHeader:
    """Parse and validate a wavelet stream's header and layer table (no decoding).

    Raises:
        BitstreamError: not a wavelet stream, or an inconsistent header.
    """
    return _header_of(decode_container(data))


def _header_of(cont: Container) -> StreamHeader:
    if cont.codec != CodecId.WAVELET:
        raise BitstreamError(f"not a wavelet-codec stream (codec id {cont.codec})")
    if cont.color not in (ColorFormat.GRAY, ColorFormat.RGB) or cont.bit_depth != 8 or cont.frames != 1:
        raise BitstreamError(f"unsupported format: {cont.color.name}, {cont.bit_depth} bits, {cont.frames} frames")
    c = 3 if cont.color == ColorFormat.RGB else 1
    meta = cont.metadata.get("wl")
    if meta is None and "wq" in cont.metadata:
        raise BitstreamError("a layered (scalable) wavelet stream: read it with layered.read_layered_header")
    if meta is None or len(meta) < _FIXED.size:
        raise BitstreamError("missing or short 'wl' metadata")
    version, mode, levels, code, model_id = _FIXED.unpack_from(meta, 0)
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unsupported wavelet stream version {version} (this decoder reads {FORMAT_VERSION})")
    if mode not in (MODE_LOSSY, MODE_LOSSLESS, MODE_LIFTING):
        raise BitstreamError(f"bad coding mode {mode}")
    lossless = mode == MODE_LOSSLESS
    if levels != T.levels_for(cont.height, cont.width):
        raise BitstreamError(f"{levels} levels do not fit a {cont.width}x{cont.height} picture")
    if not T.STEP_CODE_MIN <= code <= T.STEP_CODE_MAX or (lossless and code != 0):
        raise BitstreamError(f"step code {code} out of range")
    rest = meta[_FIXED.size :]
    n_delta = 0 if lossless else levels * (len(group_channels(c)) if mode == MODE_LIFTING else 1)
    if len(rest) != c + n_delta:
        raise BitstreamError(f"'wl' metadata holds {len(rest)} trailing bytes, expected {c + n_delta}")
    ll_scales = tuple(rest[:c])
    if max(ll_scales) >= N_SCALES:
        raise BitstreamError(f"approximation scale index {max(ll_scales)} out of range")
    labels = tuple(lay.label for lay in cont.layers)
    expected = _layer_labels(levels)
    if not labels or labels != tuple(expected[: len(labels)]):
        raise BitstreamError(f"layers {list(labels)} are not a prefix of {expected}")
    for i, lay in enumerate(cont.layers):
        if lay.id != i or lay.depends_on != (None if i == 0 else i - 1):
            raise BitstreamError(f"layer {lay.label}: unexpected id {lay.id} or dependency {lay.depends_on}")
    return StreamHeader(cont.width, cont.height, c, bool(lossless), levels, code, model_id, ll_scales,
                        tuple(b / 255 for b in rest[c:]), labels, tuple(len(lay.payload) for lay in cont.layers),
                        mode == MODE_LIFTING)


def band_geometry(h: int, w: int, levels: int) -> tuple[tuple[int, int], list[list[tuple[int, int]]]]:
    """Shapes of the coarsest approximation and of every level's (cH, cV, cD), coarsest first."""
    per = []
    for _ in range(levels):
        per.append([(h // 2, (w + 1) // 2), ((h + 1) // 2, w // 2), (h // 2, w // 2)])
        h, w = (h + 1) // 2, (w + 1) // 2
    return (h, w), per[::-1]


def decode(
    data: bytes | bytearray | memoryview,
    *,
    resolution: int = 1,
    postfilter: bool = True,
    budget: DecodeBudget | None = None,
    model: WaveletModel | None = None,
    layers: int | None = None,
) -> Tensor:
    """Decompress a wavelet stream to ``uint8 Tensor[C, H, W]``.

    Args:
        resolution: 1 (full), 2, 4, ... -- decode at 1/resolution of the size (fewer layers are read).  A
            stream cut by :func:`extract` decodes at its own resolution (or lower).
        postfilter: run the learned post-filter (lossy streams at full resolution).
        budget: resource limits checked before decoding (:class:`~pywlc.codecs.budget.DecodeBudget`); default
            :data:`DEFAULT_DECODE_BUDGET` (at most 1024 pixels per stream byte: the learned decoder costs ~2-4 CPU
            seconds per Mpixel, so a tiny corrupt stream must not claim a huge picture).
        model: the learned parts; default: the shipped weights the stream was coded with (any shipped version,
            :func:`.model.shipped_model_with_id`).
        layers: for a layered stream (:mod:`.layered`), the number of quality layers to decode (default all);
            missing or corrupt upper layers are dropped with a :class:`~.layered.LayersDroppedWarning`
            (:func:`.layered.decode_layers` returns them as a field).  A single-layer stream has one.
    Raises:
        BitstreamError: corrupt, truncated or foreign stream, weights other than the encoder's, over budget.
    """
    from .layered import decode_layers, is_layered, warn_dropped

    if is_layered(data):
        res = decode_layers(data, layers=layers, resolution=resolution, postfilter=postfilter, budget=budget,
                            model=model)  # type: ignore[arg-type]
        warn_dropped(res)
        return res.image
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise ValueError(f"layers must be a positive int or None, got {layers!r}")
    cont = decode_container(data)
    hdr = _header_of(cont)
    _check_resolution(resolution)
    if model is None:  # the shipped version the stream names (the default is tried first), else the default
        model = shipped_model_with_id(hdr.model_id) or load_model()
    if hdr.model_id != model.model_id:
        raise BitstreamError(
            f"the stream was coded with other entropy-model weights (id {hdr.model_id.hex()}, this decoder has "
            f"{model.model_id.hex()} '{model.name}')"
        )
    drop = int(math.log2(resolution))
    present = len(hdr.layers)
    n_layers = max(1, min(present, hdr.levels - drop)) if hdr.levels else 1
    use_levels = n_layers if hdr.levels else 0
    reduce = hdr.levels - use_levels
    out_h, out_w = hdr.height, hdr.width
    for _ in range(reduce):
        out_h, out_w = (out_h + 1) // 2, (out_w + 1) // 2
    check_budget(DEFAULT_DECODE_BUDGET if budget is None else budget, width=hdr.width, height=hdr.height,
                 stream_bytes=len(data), memory=_BYTES_PER_PIXEL_ESTIMATE * hdr.width * hdr.height)
    c = hdr.channels
    (lh, lw), shapes = band_geometry(hdr.height, hdr.width, hdr.levels)
    qp = QPyramid.zeros(1, c, (lh, lw), shapes)
    xi = T.XI_LOSSLESS if hdr.lossless else T.XI_LOSSY
    code = hdr.step_code
    # Reads qp.ll when level 0 starts (after the approximation is decoded), each level when the next starts.
    approx = ApproxContext(qp, code, hdr.lossless) if model.entropy_for(hdr.lossless).approx else None
    with torch.no_grad():
        for j in range(n_layers):
            dec = LayerDecoder(cont.layers[j].payload, f"layer {cont.layers[j].label}")
            if j == 0:
                res = torch.stack([dec.decode(torch.full((lh, lw), hdr.ll_scales[ch], dtype=torch.int64),
                                              T.XI_LOSSLESS) for ch in range(c)])[None]
                ll = ll_from_residuals(res)
                if ll.numel() and int(ll.abs().max()) >= 1 << 30:
                    raise BitstreamError("approximation values out of range (corrupt stream)")
                qp.ll = ll.to(torch.int32)
            if hdr.levels:
                _walk_level(model, qp, j, code, hdr.lossless, xi, dec=dec, approx=approx)
            dec.close()
        return _reconstruct(qp, hdr, use_levels, model, postfilter and reduce == 0)


def _reconstruct(qp: QPyramid, hdr: StreamHeader, use_levels: int, model: WaveletModel, postfilter: bool) -> Tensor:
    c = hdr.channels
    reduce = hdr.levels - use_levels
    if hdr.lossless:
        p = T.Pyramid(qp.ll, [ctx.unpad_level(qp.levels[j], qp.shapes[j]) for j in range(use_levels)])
        y = T.synthesis(p, True)
        if c == 3:
            y = T.rct_inverse(y)
        return y[0].clamp(0, 255).to(torch.uint8)
    step = hdr.step
    if hdr.lifting:
        if model.lifting is None:  # unreachable through decode(): the model id covers the lifting weights
            raise BitstreamError(f"the stream uses a learned lifting step; model '{model.name}' has none")
        deltas = torch.tensor(hdr.deltas, dtype=torch.float64).view(1, hdr.levels, -1)
        bands = [ctx.unpad_level(qp.levels[j], qp.shapes[j]) for j in range(use_levels)]
        y = closed_loop_synthesis(qp.ll, bands, hdr.levels, torch.tensor([step]), torch.tensor([hdr.step_code]),
                                  deltas, model.lifting)
    else:
        deltas = torch.tensor([hdr.deltas], dtype=torch.float64) if hdr.levels else torch.zeros(1, 0)
        # Band steps depend on the full depth: dequantise with it, then keep the levels being used.
        full = dequantize_pyramid(qp, step, deltas)
        p = T.Pyramid(full.ll, full.details[:use_levels])
        y = T.synthesis(p, False) / (2.0**reduce)  # 9/7 approximation: DC gain 2 per 2-D level
    if c == 3:
        y = T.ict_inverse(y)
    y = y.clamp(0, 255)
    if postfilter and model.postfilter is not None:
        y = model.postfilter(y, torch.tensor([hdr.step_code])).clamp(0, 255)
    return y[0].round().to(torch.uint8)


def extract(data: bytes | bytearray | memoryview, *, resolution: int = 1, layers: int | None = None) -> bytes:
    """The sub-stream that decodes at 1/``resolution`` size (and, for a layered stream, with its first ``layers``
    quality layers): the other layers dropped, nothing re-encoded."""
    from .layered import extract_layers, is_layered

    if is_layered(data):
        return extract_layers(data, layers=layers, resolution=resolution)
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise ValueError(f"layers must be a positive int or None, got {layers!r}")
    hdr = read_header(data)
    _check_resolution(resolution)
    keep = max(1, min(len(hdr.layers), hdr.levels - int(math.log2(resolution))))
    return drop_layers(data, list(hdr.layers[:keep]))


def rd_settings() -> list[dict]:
    """The RD points ``wlc eval`` measures by default (qualities spanning ~0.1 to ~3 bpp on photos)."""
    return [{"quality": q} for q in (10, 20, 30, 40, 50, 60, 70, 80)]
