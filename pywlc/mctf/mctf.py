"""Motion-compensated temporal filtering (MCTF): bidirectional 5/3 and Haar lifting along motion trajectories.

References (clean-room, implemented from the spec ``hvsbm_mctf.md`` and the papers):

* Choi & Woods, "Motion-compensated 3-D subband coding of video", IEEE TIP 8(2) 1999: Haar MCTF, connected and
  unconnected pixels.
* Hsiang & Woods, "Invertible three-dimensional analysis/synthesis system for video coding with half-pixel-accurate
  motion compensation", SPIC 2001 (and EZBC, ISCAS 2000): lifting makes MCTF invertible for any vectors.
* Chen & Woods, "Bidirectional MC-EZBC with lifting implementation", IEEE TCSVT 14(10) 2004: the 5/3 predict and
  update steps along the left / right motion trajectories, eqs. (1)-(2) of sec. II.
* Golwelkar & Woods, sliding-window 5/3 MCTF across GOP borders.

Conventions
-----------
* Frames ``x_0 .. x_{n-1}`` of one temporal level; odd frames are predicted, even frames updated.  Vector sign as in
  :func:`pywlc.motion.hvsbm`: pixel ``p`` of the odd frame ``x_{2k+1}`` is predicted from ``x_{2k}(p + v_L)`` and
  ``x_{2k+2}(p + v_R)``; ``W_L``/``W_R`` are :func:`pywlc.ops.warp` (bilinear by default, border padding).
* Predict (Chen & Woods 2004, eq. 1): ``H_k = alpha * (x_{2k+1} - (w_L W_L(x_{2k}) + w_R W_R(x_{2k+2})))`` with
  per-pixel weights ``w_L + w_R = 1``: ``1/2, 1/2`` for bidirectional pixels, ``1, 0`` / ``0, 1`` for left- or
  right-only pixels.  A reference whose target ``round(p + v)`` falls outside the frame gets zero weight and the
  prediction is renormalised to the other one (spec: "an out-of-frame reference gets zero weight"); if both targets
  are outside, both used references keep their weights and are read with border clamping.
* Update (Chen & Woods 2004, eq. 2): ``L_k = beta * (x_{2k} + (U_L(H_k) + U_R(H_{k-1})) / alpha)`` where ``U``
  carries ``H`` back along the integer-rounded inverse of the same vectors, only to CONNECTED reference pixels
  (first come, first served in raster order, spec "Connectivity"), and weighs each carried value by half the
  predict weight of the pixel it came from: ``1/4`` for bidirectional pixels (the spec's 5/3 update), ``1/2`` for
  one-sided ones (the Haar update).  Unconnected pixels get ``L_k = beta * x_{2k}``.
  Predict and update are deterministic functions of the side information and of the even frames, so synthesis,
  which runs the steps in reverse order with opposite signs, reconstructs exactly for any vectors.
* Normalisation: 5/3: ``alpha = sqrt(23/32)``, ``beta = sqrt(3/2)`` (MC-EZBC's normalisation, spec); Haar:
  ``alpha = 1/sqrt(2)``, ``beta = sqrt(2)`` (orthonormal without motion).  The DC gain of ``L`` per level is
  ``beta``; the frames handed to the motion estimator at level ``l`` are divided by ``beta ** (l - 1)`` so ``lam``
  keeps its 0..255 meaning.
* Haar MCTF is the one-sided special case: ``x_{2k+1}`` is predicted from ``x_{2k}`` only (``w_L = 1`` everywhere,
  out-of-frame targets read with border clamping and left unconnected).
* Scene cuts (spec "Scene change"): a flagged odd frame is not predicted and updates nothing, so the filter
  degenerates to weighted copies ``H_k = alpha * x_{2k+1}``, ``L_k = beta * x_{2k}`` (at the pixels it would have
  updated).
* Sequence and GOP borders: each level filters the whole sequence at once, which is what Golwelkar & Woods'
  sliding window computes: the 5/3 filter spans GOP borders and there are no GOP-edge artefacts.  The sequence ends
  use symmetric extension: ``x_n := x_{n-2}`` when ``n`` is odd, i.e. the last odd frame of an even-length level is
  predicted from its left neighbour only (the renormalised one-sided prediction), and an update with no ``H`` on
  one side gets nothing from that side.  Any ``n >= 2`` works; a level of ``n`` frames gives ``ceil(n / 2)`` L and
  ``floor(n / 2)`` H frames (Haar with odd ``n``: the unpaired last frame becomes ``beta * x_{n-1}``).
* Integer variant (``integer=True``, int32 frames): the reversible lifting of the spec's "integer-rounded" variant,
  as in JPEG 2000's reversible 5/3: ``H = x_odd - floor(P + 1/2)`` and ``L = x_even + floor(u + 1/2)`` where the
  prediction ``P`` (sub-pel, bilinear/bicubic, float64) and the update ``u`` are computed as above without
  ``alpha``/``beta`` (scaling is not integer-invertible; :attr:`MctfResult.alpha`/``beta`` are 1).  Synthesis
  recomputes bit-identical ``P`` and ``u`` from the same integers, so the round trip is bitwise exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .._alloc import check_bytes
from .._checks import check_int as _check_int
from . import _fused, _validate
from ._geometry import _geometry, _geometry_of, connectivity
from ._lifting import _predict, _round, _update
from ._motion import _grey, _hvsbm_motion, _normalise_motion, _zero_motion, block_motion
from ._types import _FILTERS, _INTERPS, MctfLevel, MctfResult, MotionFields
from ._validate import check_frames as _check_frames

__all__ = [
    "MotionFields", "MctfLevel", "MctfResult", "analyze", "block_motion", "synthesize", "connectivity", "make_level",
]


def make_level(motion: Sequence[MotionFields], num_frames: int, temporal_distance: int,
               filter: str = "5/3") -> MctfLevel:
    """The :class:`MctfLevel` of ``num_frames`` frames of ``H x W`` from the motion of its ``num_frames // 2`` odd
    frames -- what a decoder rebuilds from coded side information (the same normalisation and geometry as
    :func:`analyze`; ``motion[k]`` as a ``motion`` callable would return it for odd frame ``2k + 1``).
    """
    if filter not in _FILTERS:
        raise ValueError(f"filter must be one of {sorted(_FILTERS)}, got {filter!r}")
    k = num_frames // 2
    if len(motion) != k:
        raise ValueError(f"motion must hold {k} entries for {num_frames} frames, got {len(motion)}")
    if k == 0:
        raise ValueError(f"num_frames must be >= 2, got {num_frames}")
    h, w = motion[0].field_left.shape[-2:]
    haar = filter == "haar"
    parts = [_normalise_motion(m, h, w, 2 * i + 2 < num_frames and not haar, haar) for i, m in enumerate(motion)]
    fl, fr, ul, ur = (torch.stack([p[i] for p in parts]) for i in range(4))
    cut = torch.tensor([p[4] for p in parts], dtype=torch.bool)
    g = _geometry(fl, fr, ul, ur, cut, 2 * torch.arange(k) + 2 < num_frames)
    return MctfLevel(temporal_distance, num_frames, fl, fr, ul, ur, cut, g.wl, g.wr, g.conn_l, g.conn_r)


def analyze(
    frames: Tensor | Sequence[Tensor],
    *,
    levels: int = 3,
    filter: str = "5/3",
    motion: str | Callable[..., MotionFields | tuple] = "hvsbm",
    lam: float = 24.0,
    integer: bool = False,
    interp: str = "bilinear",
    motion_options: dict | None = None,
) -> MctfResult:
    """Motion-compensated temporal analysis of a frame sequence (module doc gives the lifting equations).

    Args:
        frames: ``Tensor[N, C, H, W]`` (or a sequence of ``N`` ``Tensor[C, H, W]``), ``N >= 2``; float32/float64,
            or int32 with ``integer=True``; CPU or CUDA (motion estimation runs on the CPU except ``"block"``).
            Sample scale 0..255 (``lam`` assumes it).
        levels: temporal decomposition levels (default 3: GOP 8); level ``l`` needs ``ceil(N / 2**(l-1)) >= 2``.
        filter: ``"5/3"`` (bidirectional, Chen & Woods 2004) or ``"haar"`` (one-sided, Choi & Woods 1999).
        motion: ``"hvsbm"`` (:func:`pywlc.motion.hvsbm` on the grey/luma frames, CPU), ``"block"``
            (:func:`pywlc.motion.block_match` on the frames' device, CPU or CUDA, per-block left / right / bi
            choice by prediction SAD), ``"zero"``, or a callable
            ``motion(cur, left, right, *, level, temporal_distance) -> MotionFields | (field_left, field_right)``
            receiving ``Tensor[H, W]`` float32 grey frames on the 0..255 scale (``right`` is ``None`` at the
            sequence end and for Haar) and returning ``Tensor[2, H, W]`` fields in pixels.
        lam: HVSBM Lagrange multiplier (per level; default 24).
        integer: reversible integer lifting (int32 in and out, bitwise-exact round trip).
        interp: ``"bilinear"`` or ``"bicubic"`` sub-pel interpolation of the prediction (:func:`pywlc.ops.warp`).
        motion_options: extra keyword arguments for :func:`pywlc.motion.hvsbm` (``subpel``, ``search_range``,
            ``levels``, ``threads``, ...) or :func:`pywlc.motion.block_match` (``block``, ``search_range``,
            ``subpel``, ``lam``; the range is multiplied by the temporal distance like HVSBM's).

    Returns:
        :class:`MctfResult` with subbands of ``frames``' dtype and device; invert with :func:`synthesize`.
    """
    if not isinstance(integer, bool):
        raise TypeError(f"integer must be a bool, got {type(integer).__name__}")
    x = _check_frames(frames, integer)
    n_frames, _, h, w = x.shape
    levels = _check_int(levels, "levels", 1)
    if math.ceil(n_frames / 2 ** (levels - 1)) < 2:
        raise ValueError(f"levels={levels} needs more than {2 ** (levels - 1)} frames, got {n_frames} frames")
    if filter not in _FILTERS:
        raise ValueError(f"filter must be one of {sorted(_FILTERS)}, got {filter!r}")
    if interp not in _INTERPS:
        raise ValueError(f"interp must be one of {list(_INTERPS)}, got {interp!r}")
    if isinstance(lam, bool) or not isinstance(lam, int | float):
        raise TypeError(f"lam must be a number, got {type(lam).__name__}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam}")
    if motion_options is not None and not isinstance(motion_options, dict):
        raise TypeError(f"motion_options must be a dict or None, got {type(motion_options).__name__}")
    if callable(motion):
        est = motion
    elif motion == "hvsbm":
        est = _hvsbm_motion({"lam": float(lam), **(motion_options or {})})
    elif motion == "block":
        est = block_motion(**(motion_options or {}))
    elif motion == "zero":
        est = _zero_motion
    else:
        raise ValueError(f"motion must be 'hvsbm', 'block', 'zero' or a callable, got {motion!r}")
    haar = filter == "haar"
    alpha, beta = (1.0, 1.0) if integer else _FILTERS[filter]
    gain = _FILTERS[filter][1]  # DC gain of L per level (for the motion estimator's scale)
    work = torch.float64 if integer else x.dtype

    cur = x
    highs: list[Tensor] = []
    side: list[MctfLevel] = []
    for level in range(1, levels + 1):
        n = cur.shape[0]
        k = n // 2
        n_even = (n + 1) // 2
        td = 2 ** (level - 1)
        grey = torch.stack([_grey(f) for f in cur]) / (1.0 if integer else gain ** (level - 1))
        if not getattr(est, "on_device", False):
            grey = grey.cpu()
        fls, frs, uls, urs, cuts = [], [], [], [], []
        for i in range(k):
            has_r = 2 * i + 2 < n and not haar
            out = est(grey[2 * i + 1], grey[2 * i], grey[2 * i + 2] if has_r else None,
                      level=level, temporal_distance=td)  # fmt: skip
            fl, fr, ul, ur, cut = _normalise_motion(out, h, w, has_r, haar)
            fls.append(fl), frs.append(fr), uls.append(ul), urs.append(ur), cuts.append(cut)
        fl, fr, ul, ur = torch.stack(fls), torch.stack(frs), torch.stack(uls), torch.stack(urs)
        cut = torch.tensor(cuts, dtype=torch.bool)
        g = _geometry(fl, fr, ul, ur, cut, 2 * torch.arange(k) + 2 < n)
        lvl = MctfLevel(td, n, fl, fr, ul, ur, cut, g.wl, g.wr, g.conn_l, g.conn_r)
        c = _fused.kernels(cur, integer)  # None: the composed reference below (also in use_kernels(False))
        if c is not None:
            high, low = _fused.analysis_step(c, cur, _fused.side(g, fl, fr, cur.device), interp, alpha, beta)
            highs.append(high)
            side.append(lvl)
            cur = low
            continue
        even, odd = cur[0::2], cur[1::2]
        pred = _predict(even, g, lvl, interp, work)
        if integer:
            high = odd - _round(pred)
            low = even + _round(_update(high.to(work), n_even, g))
        else:
            # Chen & Woods 2004, eq. 1 (predict) and eq. 2 (update; H / alpha undoes the H scaling).
            high = alpha * (odd - pred)
            low = beta * (even + _update(high, n_even, g) / alpha)
        highs.append(high)
        side.append(lvl)
        cur = low
    return MctfResult(cur, highs, side, filter, integer, interp, alpha, beta, n_frames)


def synthesize(result: MctfResult) -> Tensor:
    """Invert :func:`analyze`: ``Tensor[N, C, H, W]`` of the subbands' dtype and device.

    Runs each level's update and predict in reverse order with opposite signs, recomputing the predict weights
    and connectivity from the side information (fields, ``uses_*``, scene cuts), so reconstruction is exact up to
    float rounding (bitwise for ``integer=True``) for any vectors.

    Raises:
        TypeError, ValueError: ``result`` is inconsistent (checked before any computation, every tensor of every
            level: shape against the subbands, dtype, device, finite vectors within ``MAX_VECTOR`` pixels), as a
            result rebuilt from a corrupt stream may be.
    """
    # Every tensor of every level against the subbands' sizes before any kernel call (the kernels index with them).
    result = _validate.check_result(result)
    low = result.low
    out_shape = [result.num_frames, *low.shape[1:]]
    check_bytes(math.prod(out_shape) * low.element_size(), low.device, "pywlc.mctf.synthesize",
                f"the output Tensor{out_shape} {low.dtype}")  # fmt: skip
    work = torch.float64 if result.integer else low.dtype
    for li in range(len(result.high) - 1, -1, -1):
        lvl, high = result.motion[li], result.high[li]
        n = lvl.num_frames
        n_even = (n + 1) // 2
        g = _geometry_of(lvl, n)
        c = _fused.kernels(low, result.integer)  # None: the composed reference below
        if c is not None:
            s = _fused.side(g, lvl.field_left, lvl.field_right, low.device)
            low = _fused.synthesis_step(c, low, high, s, result.interp, result.alpha, result.beta)
            continue
        if result.integer:
            even = low - _round(_update(high.to(work), n_even, g))
            odd = high + _round(_predict(even, g, lvl, result.interp, work))
        else:
            even = low / result.beta - _update(high, n_even, g) / result.alpha
            odd = high / result.alpha + _predict(even, g, lvl, result.interp, work)
        out = torch.empty((n, *low.shape[1:]), dtype=low.dtype, device=low.device)
        out[0::2] = even
        out[1::2] = odd
        low = out
    return low
