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
from ..codecs.wavelet.lifting import closed_loop_quantize
from ..codecs.wavelet.pyramid import QPyramid, dequantize_pyramid, optimal_deltas, quantize_pyramid
from ..codecs.wavelet.rdoq import RdoQuantizer
from ..errors import BitstreamError
from . import classical

__all__ = ["decode_subbands", "encode_subbands", "levels_for", "temporal_class"]

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
    r = ll_residuals(qp.ll)
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
            scales = None
            if model is None:
                scales = _classical_scales(qp, j)
                side += bytes(scales)
            _walk(model, qp, j, code, tclass, enc, None, scales, indices)
        payloads.append(bytes(side) + enc.finish())
    recon = _reconstruct(qp, step, dbytes.double() / 255, levels)
    return payloads, recon


def _reconstruct(qp: QPyramid, step: float, deltas: Tensor, use_levels: int) -> Tensor:
    full = dequantize_pyramid(qp, step, deltas)
    p = T.Pyramid(full.ll, full.details[:use_levels])
    reduce = len(qp.levels) - use_levels
    return T.synthesis(p, False) / (2.0**reduce)  # 9/7 approximation: DC gain 2 per 2-D level


@torch.no_grad()
def decode_subbands(payloads: list[bytes], frames: int, height: int, width: int, code: int,
                    model: SubbandEntropyModel | None, what: str = "subband", tclass: float = 0.0) -> Tensor:
    """Inverse of :func:`encode_subbands` from the first ``len(payloads)`` layers: ``float32 Tensor[K, 1, h, w]``
    at ``1 / 2^(levels - len(payloads) + 1)`` resolution when payloads are missing (full size when all are there).

    Raises:
        BitstreamError: corrupt or truncated payloads.
    """
    levels = levels_for(height, width)
    n_layers = len(payloads)
    if not 1 <= n_layers <= max(1, levels):
        raise BitstreamError(f"{what}: {n_layers} resolution layers for a {levels}-level subband")
    (lh, lw), shapes = band_geometry(height, width, levels)
    qp = QPyramid.zeros(frames, 1, (lh, lw), shapes)
    deltas = torch.full((frames, levels), 0.5, dtype=torch.float64)
    step = T.step_of_code(code)
    for j in range(n_layers):
        data = payloads[j]
        n_scales = 3 * classical.N_CONTEXTS if model is None and levels else 0
        side = (1 if j == 0 else 0) + (frames if levels else 0) + n_scales
        if len(data) < side:
            raise BitstreamError(f"{what}: layer {j} truncated")
        pos = 0
        if j == 0:
            ll_idx = data[0]
            if ll_idx >= N_SCALES:
                raise BitstreamError(f"{what}: approximation scale index {ll_idx} out of range")
            pos = 1
        scales = None
        if levels:
            deltas[:, j] = torch.tensor(list(data[pos : pos + frames]), dtype=torch.float64) / 255
            pos += frames
            if model is None:
                scales = list(data[pos : pos + n_scales])
                if max(scales) >= N_SCALES:
                    raise BitstreamError(f"{what}: table index out of range")
                pos += n_scales
        dec = LayerDecoder(data[pos:], f"{what} layer {j}")
        if j == 0:
            res = dec.decode(torch.full((frames, lh, lw), ll_idx, dtype=torch.int64), T.XI_LOSSLESS)
            ll = ll_from_residuals(res[:, None])
            if ll.numel() and int(ll.abs().max()) >= MAX_LL_MAGNITUDE:
                raise BitstreamError(f"{what}: approximation values out of range (corrupt stream)")
            qp.ll = ll.to(torch.int32)
        if levels:
            _walk(model, qp, j, code, tclass, None, dec, scales)
        dec.close()
    use = n_layers if levels else 0
    return _reconstruct(qp, step, deltas, use)
