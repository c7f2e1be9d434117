"""The same level's approximation as a context of the entropy model, computed to the bit on every machine.

Level j's three detail bands refine ``A_j``, the approximation (LL) they are synthesised with.  Where ``A_j`` has
an edge or a ramp, the details that sharpen it are large; where it is flat, they are small -- information the
parent bands carry only coarsely (a parent is one coefficient per 2x2 block, and an edge's energy often sits in
the approximation rather than in the coarser details).  A decoder has ``A_j`` before level j: it is the synthesis
of the decoded LL and levels ``0..j-1``.  Models with ``approx=True``
(:class:`~.entropy_model.SubbandEntropyModel`) feed the scale nets 16 and the mean nets 32 features of it per
channel (first and second differences along both axes in units of the level's band step, at the four polyphase
positions of each quarter-grid cell: :func:`approx_features`).  Measured before building it (ideal code lengths
on held-out train photos, 700 fine-tuning steps from v5 against a control fine-tuned alike, the codec's lifting
path, the features as extra inputs of the 3x3 first layers): -1.9 / -1.3 / -0.8 / -0.5 % bits at qualities
15 / 30 / 45 / 60, -1.0 % lossless.  The codec reads them through 1x1 side layers instead (about the same
information for a fraction of the cost; the README has the shipped model's figures).

Every machine must derive the same features, or the decoder's tables differ from the encoder's.  So:

* lossless, ``A_j`` is the reversible int 5/3 synthesis of the decoded integers (bitwise by construction);
* lossy, it is the 9/7 synthesis of the dequantised LL and detail levels (*without* the learned lifting
  prediction, whose float convs are not reproducible to the bit; the residuals carry most of the information)
  by the pure-torch lifting reference (:mod:`pywlc.ops._reference_dwt`) in float64: every operation there is one
  IEEE add, multiply or divide (no fused multiply-add, no reduction), correctly rounded on every CPU and GPU --
  unlike the compiled kernels, whose FMA contraction depends on the instruction set.  Its constants are literals
  (the band norms tabulated below) or come from :mod:`decimal` (:func:`.transform.step_of_code`), so nothing
  depends on the machine's libm.
* the features are rounded to integers before they reach the fixed-point nets (:mod:`pywlc.fixed_point`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...ops._reference_dwt import lift_inverse_1d
from ...ops.wavelets import get_scheme
from . import context as ctx
from . import transform as T
from .entropy_model import APPROX_MEAN, APPROX_SCALE
from .pyramid import QPyramid

__all__ = ["ApproxContext", "approx_features", "approximation", "exact_norms", "group_features"]

DELTA = 0.3  # reconstruction offset inside the bin for the context's dequantisation (fixed: not the stream's)
_CLAMP = 1 << 20

# 1-D 9/7 synthesis norms (pywlc's bior4.4) of a unit impulse in the approximation / the detail band after d
# levels (d = 1..8), as :func:`.transform.band_norms` measures them (15 digits; literals, so every machine has
# the same floats -- tests/test_wavelet_approx.py checks them against band_norms).
_LOW = (0.991440193500168, 1.0151859280409, 1.02571585843454, 1.02882129379396, 1.02963778221713,
        1.02984499182158, 1.02989701820291, 1.02991004044155)
_HIGH = (1.02001762915889, 0.98347130412279, 1.01962139418307, 1.03688020983584, 1.04203670327847,
         1.04339736473241, 1.04374305349697, 1.04382987759782)


def exact_norms(levels: int) -> tuple[float, tuple[tuple[float, float, float], ...]]:
    """:func:`.transform.band_norms` from the tabulated 1-D norms: ``(ll_norm, ((nH, nV, nD) per level,
    coarsest first))``, the same floats everywhere."""
    if not 0 <= levels <= len(_LOW):
        raise ValueError(f"levels must be in [0, {len(_LOW)}], got {levels}")
    if levels == 0:
        return 1.0, ()
    per = []
    for j in range(levels):
        d = levels - j  # synthesis steps above level j's bands
        lo, hi = _LOW[d - 1], _HIGH[d - 1]
        per.append((hi * lo, lo * hi, hi * hi))
    return _LOW[levels - 1] * _LOW[levels - 1], tuple(per)


def _synthesis_level(a: Tensor, bands: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """One 9/7 synthesis level by the float64 reference: ``a [N, C, hl, wl]`` and ``(cH [hh, wl], cV [hl, wh],
    cD [hh, wh])`` -> ``[N, C, hl + hh, wl + wh]`` (the compiled kernels' layout and order: rows, then columns)."""
    scheme = get_scheme("bior4.4")
    top = lift_inverse_1d(torch.cat([a, bands[1]], 3), scheme, False, 3)
    bottom = lift_inverse_1d(torch.cat([bands[0], bands[2]], 3), scheme, False, 3)
    return lift_inverse_1d(torch.cat([top, bottom], 2), scheme, False, 2)


def _dequantize(q: Tensor, band_step: float) -> Tensor:
    """``sign(q) (|q| - xi + DELTA) band_step`` in float64 (0 for q = 0)."""
    qd = q.double()
    mag = (qd.abs() + (DELTA - T.XI_LOSSY)) * band_step
    return torch.where(q == 0, torch.zeros_like(qd), torch.where(q < 0, -mag, mag))


def approximation(qp: QPyramid, j: int, step_code: int, lossless: bool) -> Tensor:
    """``A_j``, the approximation level ``j`` (coarsest first) refines: ``float64 Tensor[N, C, h_j, w_j]`` from
    ``qp.ll`` and ``qp.levels[:j]`` only (what a decoder has before level ``j``)."""
    return ApproxContext(qp, step_code, lossless).approximation(j)


class ApproxContext:
    """``A_j`` and its features level by level for one pyramid, each level synthesised once from the last.

    ``qp.ll`` must be final when it is made and levels ``< j`` when level ``j`` is asked for -- the coder's order,
    in which the encoder (RDOQ included) and the decoder fill the pyramid.  Levels are asked for in increasing
    order (asking again for the current one is free; an earlier one starts over).
    """

    def __init__(self, qp: QPyramid, step_code: int, lossless: bool) -> None:
        self.qp, self.lossless = qp, lossless
        self.step = 1.0 if lossless else T.step_of_code(int(step_code))
        self.ll_norm, self.norms = exact_norms(len(qp.levels))
        self._j, self._a = -1, None
        self._feats: tuple[int, tuple[Tensor, Tensor]] | None = None

    def approximation(self, j: int) -> Tensor:
        qp = self.qp
        if j < self._j or self._a is None:
            self._a = qp.ll if self.lossless else qp.ll.double() * (self.step / self.ll_norm)
            self._j = 0
        while self._j < j:
            bands = ctx.unpad_level(qp.levels[self._j], qp.shapes[self._j])
            if self.lossless:
                self._a = T.synthesis(T.Pyramid(self._a, [bands]), True)
            else:
                norms = self.norms[self._j]
                self._a = _synthesis_level(self._a, tuple(_dequantize(b, self.step / norms[o])
                                                          for o, b in enumerate(bands)))
            self._j += 1
        return self._a.double()

    def features(self, j: int) -> tuple[Tensor, Tensor]:
        """:func:`approx_features` of level ``j``."""
        if self._feats is None or self._feats[0] != j:
            unit = 1.0 if self.lossless else self.step / self.norms[j][0]  # the level's H-band step
            self._feats = (j, _features(self.approximation(j), self.qp.grid(j), unit))
        return self._feats[1]


def approx_features(qp: QPyramid, j: int, step_code: int, lossless: bool) -> tuple[Tensor, Tensor]:
    """Context features of ``A_j`` on level ``j``'s quarter grid ``(Hq, Wq)``, float32 (exact): for the scale nets
    ``Tensor[N, C, 16, Hq, Wq]`` (:func:`.context.magnitude`) and for the mean nets ``Tensor[N, C, 32, Hq, Wq]``
    (:func:`.context.signed_features`).

    The first differences ``A[i, j+1] - A[i, j-1]`` (and vertically) and the second differences
    ``A[i, j+1] - 2 A[i, j] + A[i, j-1]`` (edges replicated), divided by the level's H-band step (1 lossless) and
    rounded: integers, identical on every machine.  ``A_j`` is padded (replicated) to the level's even grid
    ``[2 Hq, 2 Wq]`` and split into its four polyphase positions like the bands (:func:`.context.space_to_depth`).
    (:class:`ApproxContext` computes them level after level without synthesising the coarser levels again.)
    """
    return ApproxContext(qp, step_code, lossless).features(j)


def _features(a: Tensor, grid: tuple[int, int], unit: float) -> tuple[Tensor, Tensor]:
    """:func:`approx_features` of ``a = A_j`` on the quarter grid ``grid``, differences in units of ``unit``
    (x / 1.0 is exact: lossless features are the integer differences themselves)."""
    hq, wq = grid
    h2, w2 = 2 * hq, 2 * wq
    if a.shape[-2] < h2 or a.shape[-1] < w2:
        a = F.pad(a, (0, w2 - a.shape[-1], 0, h2 - a.shape[-2]), mode="replicate")
    a = a[..., :h2, :w2]
    ap = F.pad(a, (1, 1, 1, 1), mode="replicate")
    c = ap[..., 1:-1, 1:-1]
    left, right, up, down = ap[..., 1:-1, :-2], ap[..., 1:-1, 2:], ap[..., :-2, 1:-1], ap[..., 2:, 1:-1]
    twice = c + c
    diffs = torch.stack([right - left, down - up, (right - twice) + left, (down - twice) + up], 2)
    diffs = diffs / unit
    q = torch.round(diffs).clamp_(-_CLAMP, _CLAMP).to(torch.int32)
    q = ctx.space_to_depth(q)  # [N, C, 4 (feature), 4 (phase), Hq, Wq]
    n, ch = q.shape[:2]
    # float32 holds these dyadic values exactly (< 2^4 on the 2^-16 grid) at half the memory of float64
    mag = ctx.magnitude(q, torch.float32)
    mean = ctx.signed_features(q, torch.float32, mag).movedim(0, 2).reshape(n, ch, APPROX_MEAN, hq, wq)
    return mag.reshape(n, ch, APPROX_SCALE, hq, wq), mean


def group_features(feats: Tensor | None, chans: list[int]) -> Tensor | None:
    """The approximation features of a colour group's channels as a net's side input ``[N, Cg F, Hq, Wq]``
    (``feats``: one of :func:`approx_features`' outputs; None passes through)."""
    return None if feats is None else feats[:, chans[0] : chans[-1] + 1].flatten(1, 2)  # a view for one picture
