"""The wavelet subband coder of the image codec applied to MCTF subbands: one plane, a batch of frames, per
spatial resolution layer.

A temporal subband group (the ``K`` H frames of one temporal level, or the L frames, of one colour plane) is
``Tensor[K, 1, H, W]`` float.  It is transformed with the image codec's CDF 9/7 (:mod:`pywlc.codecs.wavelet.transform`),
quantised with its dead-zone quantiser at the step ``2^(code / 16)`` (band steps divided by the synthesis norms, so
that every band costs the same image-domain MSE per unit of error), and coded with the learned
:class:`~pywlc.codecs.wavelet.entropy_model.SubbandEntropyModel` (luma networks, four parallel passes per level,
decoder-side parameters in exact fixed point) -- the WL-SVC design: classical transforms, learned entropy model.

Payload ``j`` (coarsest first) holds: for ``j = 0``, the approximation (DPCM, one tabulated Laplace whose scale
index is the first byte) and the coarsest detail level; for ``j > 0``, detail level ``j``.  Every detail payload
starts with the ``K`` reconstruction offsets of its level (a byte per frame: the centroid of the nonzero bins,
:func:`~pywlc.codecs.wavelet.pyramid.optimal_deltas`).  Decoding fewer payloads gives the subbands at a lower
resolution (spatial scalability).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..codecs.wavelet import context as ctx
from ..codecs.wavelet import transform as T
from ..codecs.wavelet.codec import band_geometry
from ..codecs.wavelet.coder import (
    LayerDecoder,
    LayerEncoder,
    ll_from_residuals,
    ll_residuals,
    ll_scale_indices,
    pass_indices,
    walk_level,
)
from ..codecs.wavelet.entropy_model import N_SCALES, SubbandEntropyModel
from ..codecs.wavelet.layered import ll_prediction, refined_pyramid, walk_refinement
from ..codecs.wavelet.lifting import closed_loop_quantize
from ..codecs.wavelet.pyramid import QPyramid, dequantize_pyramid, optimal_deltas, quantize_pyramid
from ..codecs.wavelet.rdoq import RdoQuantizer
from ..codecs.wavelet.refine_model import MAX_CODE_GAP, RefineEntropyModel, codes_refine, gap_ratio, nest
from ..errors import BitstreamError
from . import classical

__all__ = ["decode_subband_layers", "decode_subbands", "encode_subband_layers", "encode_subbands", "levels_for",
           "temporal_class"]

MAX_LL_MAGNITUDE = 1 << 24


def temporal_class(group: int, levels: int) -> float:
    """Conditioning value of temporal group ``group`` (0: L frames, like pictures; g >= 1: the H frames of level
    ``levels - g + 1`` get ``-level / 8``), fed to the entropy model's third conditioning plane (dyadic: exact in
    fixed point)."""
    return 0.0 if group == 0 else -(levels - group + 1) / 8


def levels_for(height: int, width: int) -> int:
    """Spatial levels of a subband of ``height x width``: the image codec's rule (coarsest LL >= ~8 samples)."""
    return T.levels_for(height, width)


def _classical_scales(qp: QPyramid, j: int) -> list[int]:
    """Encoder side of the classical model: the table index per (orientation, class) for level ``j``."""
    valid_ph = ctx.space_to_depth(qp.valid(j))
    phases = ctx.space_to_depth(qp.levels[j])
    qs, cs, os_ = [], [], []
    for k, phase in enumerate(ctx.PASS_PHASES):
        cls = classical.contexts(qp, j, k)
        sel = valid_ph[:, phase].expand_as(cls)
        orient = torch.arange(3).view(1, 1, 3, 1, 1).expand_as(cls)
        qs.append(phases[:, :, :, phase][sel].long())
        cs.append(cls[sel])
        os_.append(orient[sel])
    return classical.choose_scales(torch.cat(qs), torch.cat(cs), torch.cat(os_), T.XI_LOSSY)


def _walk(model: SubbandEntropyModel | None, qp: QPyramid, j: int, code: int, tclass: float,
          enc: LayerEncoder | None, dec: LayerDecoder | None, scales: list[int] | None = None,
          indices: dict | None = None) -> None:
    """Code or decode (in place) detail level ``j`` of a one-channel ``qp`` (:func:`~pywlc.codecs.wavelet.coder.
    walk_level`: four passes, grouped by table).

    ``model`` None: the classical context model with the per-(orientation, class) tables ``scales``.
    ``indices``: the scale indices per (level, 0, pass) RDOQ already computed (encoder)."""
    table_of = None if scales is None else torch.tensor(scales, dtype=torch.int64).view(3, classical.N_CONTEXTS)

    def index_of(g: int, k: int) -> Tensor:
        if model is None:
            cls = classical.contexts(qp, j, k)  # [N, 1, 3, Hq, Wq]
            return table_of[torch.arange(3).view(1, 1, 3, 1, 1), cls]
        if indices is not None:
            return indices[(j, 0, k)]
        # tclass takes the model's third conditioning plane (pywlc.train.video.temporal_class).
        return pass_indices(model, qp, j, 0, k, code, False, tclass=tclass)  # [N, 1, 3, Hq, Wq]

    walk_level(qp, j, index_of, T.XI_LOSSY, enc, dec)


@torch.no_grad()
def encode_subbands(x: Tensor, code: int, model: SubbandEntropyModel | None,
                    tclass: float = 0.0, rdoq_lambda: float | None = None) -> tuple[list[bytes], Tensor]:
    """Code ``x: float Tensor[K, 1, H, W]`` at step code ``code`` with the learned ``model`` (conditioned on the
    temporal class ``tclass``) or, for ``model=None``, the classical context model (:mod:`.classical`).
    ``rdoq_lambda``: with the learned model, rate-distortion optimised quantisation with that multiplier
    (:mod:`pywlc.codecs.wavelet.rdoq`; an encoder choice, the stream format is the same).

    Returns:
        ``(payloads, recon)``: one payload per resolution layer (coarsest first; at least one), and the decoder's
        full-resolution reconstruction ``float32 Tensor[K, 1, H, W]`` (bit-identical to :func:`decode_subbands`).
    """
    payloads, qp, _, dbytes = _encode_base(x, code, model, tclass, rdoq_lambda)
    return payloads, _reconstruct(qp, T.step_of_code(code), dbytes.double() / 255, len(qp.levels))


def _encode_base(x: Tensor, code: int, model: SubbandEntropyModel | None, tclass: float,
                 rdoq_lambda: float | None) -> tuple[list[bytes], QPyramid, T.Pyramid, Tensor]:
    """:func:`encode_subbands` without the reconstruction: ``(payloads, indices, the 9/7 pyramid, offset bytes
    uint8 Tensor[K, J])``."""
    k, c, h, w = x.shape
    if c != 1:
        raise ValueError(f"x must have one channel, got shape {tuple(x.shape)}")
    levels = levels_for(h, w)
    step = T.step_of_code(code)
    p = T.analysis(x.float(), levels, False)
    indices = None
    if model is not None and rdoq_lambda and levels:
        shapes = [[tuple(b.shape[-2:]) for b in bands] for bands in p.details]
        rq = RdoQuantizer(model, 1, shapes, code, rdoq_lambda, batch=k, tclass=tclass)
        ll_q, _, _ = closed_loop_quantize(p, torch.full((k,), step), torch.full((k,), code), None,
                                          quantize_group=rq)
        qp, indices = rq.qp, rq.indices
        qp.ll = ll_q
    else:
        qp = quantize_pyramid(p, step, False)
    if qp.ll.numel() and int(qp.ll.abs().max()) >= MAX_LL_MAGNITUDE:
        raise ValueError("subband values out of the coder's range")
    deltas = optimal_deltas(p, qp, step) if levels else torch.zeros(k, 0, dtype=torch.float64)  # [K, J]
    dbytes = (deltas * 255).round().clamp(0, 255).to(torch.uint8)
    def level(j: int, enc: LayerEncoder, side: bytearray) -> None:
        scales = None
        if model is None:
            scales = _classical_scales(qp, j)
            side += bytes(scales)
        _walk(model, qp, j, code, tclass, enc, None, scales, indices)

    return _payloads(levels, ll_residuals(qp.ll), dbytes, level), qp, p, dbytes


def _payloads(levels: int, r: Tensor, dbytes: Tensor, level: Callable[[int, LayerEncoder, bytearray], None]
              ) -> list[bytes]:
    """One payload per resolution layer ``j``: side information (the approximation's scale index for ``j = 0``,
    the offsets ``dbytes[:, j]``), then the coded approximation residuals ``r: int64 Tensor[K, 1, lh, lw]``
    (``j = 0``) and detail level ``j`` (``level(j, enc, side)`` codes it, appending its own side information)."""
    ll_idx = ll_scale_indices(r)[0]
    payloads = []
    for j in range(max(1, levels)):
        enc = LayerEncoder()
        side = bytearray()
        if j == 0:
            side.append(ll_idx)
            enc.code(r[:, 0], torch.full_like(r[:, 0], ll_idx), T.XI_LOSSLESS)
        if levels:
            side += bytes(dbytes[:, j].tolist())
            level(j, enc, side)
        payloads.append(bytes(side) + enc.finish())
    return payloads


def _reconstruct(qp: QPyramid, step: float, deltas: Tensor, use_levels: int) -> Tensor:
    full = dequantize_pyramid(qp, step, deltas)
    p = T.Pyramid(full.ll, full.details[:use_levels])
    reduce = len(qp.levels) - use_levels
    return T.synthesis(p, False) / (2.0**reduce)  # 9/7 approximation: DC gain 2 per 2-D level


def _read_side(data: bytes, j: int, frames: int, levels: int, n_scales: int, deltas: Tensor,
               what: str) -> tuple[int, list[int] | None, int]:
    """Parse a payload's side information (approximation scale index for ``j = 0``, the ``frames`` offsets of
    level ``j`` into ``deltas[:, j]``, ``n_scales`` classical table indices): ``(ll_idx, scales, coded start)``."""
    side = (1 if j == 0 else 0) + (frames if levels else 0) + n_scales
    if len(data) < side:
        raise BitstreamError(f"{what}: layer {j} truncated")
    pos, ll_idx, scales = 0, 0, None
    if j == 0:
        ll_idx = data[0]
        if ll_idx >= N_SCALES:
            raise BitstreamError(f"{what}: approximation scale index {ll_idx} out of range")
        pos = 1
    if levels:
        deltas[:, j] = torch.tensor(list(data[pos : pos + frames]), dtype=torch.float64) / 255
        pos += frames
        if n_scales:
            scales = list(data[pos : pos + n_scales])
            if max(scales) >= N_SCALES:
                raise BitstreamError(f"{what}: table index out of range")
            pos += n_scales
    return ll_idx, scales, pos


def _decode_ll(dec: LayerDecoder, ll_idx: int, frames: int, shape: tuple[int, int], prediction: Tensor | None,
               what: str) -> Tensor:
    """The approximation band ``int32 Tensor[K, 1, lh, lw]``: DPCM residuals (base layer, ``prediction`` None) or
    the difference from the coarse layer's values rescaled (refinement layers)."""
    res = dec.decode(torch.full((frames, *shape), ll_idx, dtype=torch.int64), T.XI_LOSSLESS)[:, None]
    ll = ll_from_residuals(res) if prediction is None else res + prediction
    if ll.numel() and int(ll.abs().max()) >= MAX_LL_MAGNITUDE:
        raise BitstreamError(f"{what}: approximation values out of range (corrupt stream)")
    return ll.to(torch.int32)


def _decode_base(payloads: list[bytes], frames: int, height: int, width: int, code: int,
                 model: SubbandEntropyModel | None, what: str, tclass: float) -> tuple[QPyramid, Tensor, int]:
    """The base layer's indices, offsets ``float64 Tensor[K, J]`` and the detail levels decoded."""
    levels = levels_for(height, width)
    n_layers = len(payloads)
    if not 1 <= n_layers <= max(1, levels):
        raise BitstreamError(f"{what}: {n_layers} resolution layers for a {levels}-level subband")
    (lh, lw), shapes = band_geometry(height, width, levels)
    qp = QPyramid.zeros(frames, 1, (lh, lw), shapes)
    deltas = torch.full((frames, levels), 0.5, dtype=torch.float64)
    n_scales = 3 * classical.N_CONTEXTS if model is None and levels else 0
    for j in range(n_layers):
        ll_idx, scales, pos = _read_side(payloads[j], j, frames, levels, n_scales, deltas, what)
        dec = LayerDecoder(payloads[j][pos:], f"{what} layer {j}")
        if j == 0:
            qp.ll = _decode_ll(dec, ll_idx, frames, (lh, lw), None, what)
        if levels:
            _walk(model, qp, j, code, tclass, None, dec, scales)
        dec.close()
    return qp, deltas, n_layers if levels else 0


@torch.no_grad()
def decode_subbands(payloads: list[bytes], frames: int, height: int, width: int, code: int,
                    model: SubbandEntropyModel | None, what: str = "subband", tclass: float = 0.0) -> Tensor:
    """Inverse of :func:`encode_subbands` from the first ``len(payloads)`` layers: ``float32 Tensor[K, 1, h, w]``
    at ``1 / 2^(levels - len(payloads) + 1)`` resolution when payloads are missing (full size when all are there).

    Raises:
        BitstreamError: corrupt or truncated payloads.
    """
    qp, deltas, use = _decode_base(payloads, frames, height, width, code, model, what, tclass)
    return _reconstruct(qp, T.step_of_code(code), deltas, use)


# ------------------------------------------------------------------------------------------------ quality layers
#
# Refinement layer k of a subband group re-quantises the same 9/7 pyramid with the dead-zone quantiser at the finer
# step code c_k and codes each fine index inside the coarse bin of layer k - 1 with the image codec's learned
# refinement model (pywlc.codecs.wavelet.layered: exact tables; the model is the image one, so it reads no temporal
# class).  The base may be RDOQ'd: its bins then need not contain the dead-zone fine index, which is clamped into
# the fine range of the bin the decoder has (refine_model.nest), so every layer's value lies in every lower layer's
# bin; the reconstruction places straddling coefficients inside the intersection (layered.refined_pyramid).
# Payload j of a refinement layer: [approximation scale index (j = 0)] [K offsets of level j] coded symbols
# (approximation difference for j = 0, then the refinement of detail level j).


def _encode_refinement(p: T.Pyramid, coarse: QPyramid, code: int, gap: int,
                       refine: RefineEntropyModel) -> tuple[list[bytes], QPyramid, Tensor]:
    """One refinement layer at step code ``code`` over ``coarse`` (``gap`` codes coarser): ``(payloads, fine
    indices, offsets float64 Tensor[K, J])``."""
    levels = len(coarse.levels)
    step, ratio = T.step_of_code(code), gap_ratio(gap)
    fine = quantize_pyramid(p, step, False)
    fine.levels = [nest(f, c, ratio) for f, c in zip(fine.levels, coarse.levels, strict=True)]
    if fine.ll.numel() and int(fine.ll.abs().max()) >= MAX_LL_MAGNITUDE:
        raise ValueError("subband values out of the coder's range")
    k = fine.ll.shape[0]
    deltas = optimal_deltas(p, fine, step) if levels else torch.zeros(k, 0, dtype=torch.float64)
    dbytes = (deltas * 255).round().clamp(0, 255).to(torch.uint8)

    def level(j: int, enc: LayerEncoder, side: bytearray) -> None:
        walk_refinement(refine, fine, coarse, j, code, gap, enc=enc)

    payloads = _payloads(levels, fine.ll.long() - ll_prediction(coarse.ll, gap), dbytes, level)
    return payloads, fine, dbytes.double() / 255


def _decode_refinement(payloads: list[bytes], coarse: QPyramid, code: int, gap: int, refine: RefineEntropyModel,
                       what: str) -> tuple[QPyramid, Tensor]:
    """Inverse of :func:`_encode_refinement` from the first ``len(payloads)`` resolution layers: ``(fine indices,
    offsets float64 Tensor[K, J])``."""
    levels = len(coarse.levels)
    frames, _, lh, lw = coarse.ll.shape
    fine = QPyramid.zeros(frames, 1, (lh, lw), coarse.shapes)
    deltas = torch.full((frames, levels), 0.5, dtype=torch.float64)
    for j, data in enumerate(payloads):
        ll_idx, _, pos = _read_side(data, j, frames, levels, 0, deltas, what)
        dec = LayerDecoder(data[pos:], f"{what} layer {j}")
        if j == 0:
            fine.ll = _decode_ll(dec, ll_idx, frames, (lh, lw), ll_prediction(coarse.ll, gap), what)
        if levels:
            walk_refinement(refine, fine, coarse, j, code, gap, dec=dec)
        dec.close()
    return fine, deltas


def _reconstruct_refined(fine: QPyramid, coarse: QPyramid, code: int, gap: int, deltas: Tensor,
                         use_levels: int) -> Tensor:
    """``float32 Tensor[K, 1, h, w]`` of a refinement layer from its first ``use_levels`` detail levels."""
    p = refined_pyramid(fine, coarse, gap_ratio(gap), T.step_of_code(code), deltas, use_levels)
    return T.synthesis(p, False) / (2.0 ** (len(fine.levels) - use_levels))


def _check_codes(codes: list[int]) -> None:
    if not codes or not codes_refine(codes):
        raise ValueError(f"step codes {codes} do not refine layer by layer (1..{MAX_CODE_GAP} codes finer each)")


@torch.no_grad()
def encode_subband_layers(x: Tensor, codes: list[int], model: SubbandEntropyModel, refine: RefineEntropyModel,
                          tclass: float = 0.0, rdoq_lambda: float | None = None) -> tuple[list[list[bytes]], Tensor]:
    """:func:`encode_subbands` with quality layers: ``x: float Tensor[K, 1, H, W]`` coded at ``codes[0]`` (the
    single-layer payloads, byte for byte), then refined at each finer step code ``codes[1:]`` with ``refine``.

    Returns:
        ``(payloads, recon)``: payloads per quality layer, each one per resolution layer (coarsest first), and the
        decoder's full-resolution reconstruction of the top layer ``float32 Tensor[K, 1, H, W]``.
    Raises:
        ValueError: codes that do not refine by 1..128 per layer, values out of range.
    """
    _check_codes(codes)
    base, qp, p, dbytes = _encode_base(x, codes[0], model, tclass, rdoq_lambda)
    out = [base]
    coarse, deltas = None, dbytes.double() / 255
    for a, b in zip(codes, codes[1:], strict=False):
        payloads, fine, deltas = _encode_refinement(p, qp, b, a - b, refine)
        out.append(payloads)
        coarse, qp = qp, fine
    levels = len(qp.levels)
    if coarse is None:
        return out, _reconstruct(qp, T.step_of_code(codes[0]), deltas, levels)
    return out, _reconstruct_refined(qp, coarse, codes[-1], codes[-2] - codes[-1], deltas, levels)


@torch.no_grad()
def decode_subband_layers(payloads: list[list[bytes]], frames: int, height: int, width: int, codes: list[int],
                          model: SubbandEntropyModel, refine: RefineEntropyModel | None, what: str = "subband",
                          tclass: float = 0.0) -> Tensor:
    """Inverse of :func:`encode_subband_layers` from the first ``len(payloads)`` quality layers (each with the same
    number of resolution layers): ``float32 Tensor[K, 1, h, w]`` (see :func:`decode_subbands` for the size).

    Raises:
        BitstreamError: corrupt or truncated payloads, quality layers with different resolution counts.
    """
    if not 1 <= len(payloads) <= len(codes):
        raise BitstreamError(f"{what}: {len(payloads)} quality layers for {len(codes)} step codes")
    try:
        _check_codes(list(codes))
    except ValueError as e:
        raise BitstreamError(f"{what}: {e}") from None
    qp, deltas, use = _decode_base(payloads[0], frames, height, width, codes[0], model, what, tclass)
    if len(payloads) == 1:
        return _reconstruct(qp, T.step_of_code(codes[0]), deltas, use)
    coarse = qp
    for k in range(1, len(payloads)):
        if len(payloads[k]) != len(payloads[0]):
            raise BitstreamError(f"{what}: quality layer {k} has {len(payloads[k])} resolution layers, the base "
                                 f"{len(payloads[0])}")
        coarse, (qp, deltas) = qp, _decode_refinement(payloads[k], qp, codes[k], codes[k - 1] - codes[k], refine,
                                                       f"{what} q{k}")
    return _reconstruct_refined(qp, coarse, codes[len(payloads) - 1], codes[len(payloads) - 2]
                                - codes[len(payloads) - 1], deltas, use)
