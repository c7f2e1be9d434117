"""Rate-distortion optimised quantisation (RDOQ) of the lossy wavelet codec, with the learned entropy model's rates.

The dead-zone quantiser picks each index from its coefficient alone.  RDOQ (as in H.264/HEVC's RDOQ and JPEG 2000
encoders' trellis-free variants) picks, per coefficient, the index ``q`` in ``{0, q0 - 1, q0, q0 + 1}`` (``q0``:
the dead-zone index) minimising

    J(q) = (|u| - r(q))^2 + lambda * bits(q | scale),

with ``u`` the coefficient in units of its band step (so every band's squared error is image-domain MSE in units of
the step squared, :func:`.transform.band_norms`), ``r(q)`` the decoder's reconstruction point and ``bits`` the
code length under the dead-zone Laplace whose scale the entropy model gives this coefficient.  It runs inside the
coder's order -- level by level, colour group by group, pass by pass -- so each pass's scales come from the final
indices of everything decoded before it, exactly as the decoder will compute them; those scale indices are kept
and reused by the entropy coder (:attr:`RdoQuantizer.indices`).  The effect of a choice on later passes' contexts
is ignored (greedy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import context as ctx
from . import transform as T
from .approx import ApproxContext
from .coder import pass_indices
from .entropy_model import LOG2_MIN, SCALES_PER_OCTAVE, SubbandEntropyModel, group_channels, laplace_nll_bits
from .pyramid import QPyramid
from .tables import key_scale_and_centre

__all__ = ["DEFAULT_LAMBDA", "RdoQuantizer"]

DEFAULT_LAMBDA = 0.1  # step^2 per bit: tuned on train photos (0.08-0.12 best, -2.5 % BD-rate; ~2 ln 2 / 12 in theory)
_DELTA_GUESS = 0.45  # the reconstruction offset the decision assumes (the stream carries the measured one)


class RdoQuantizer:
    """A ``quantize_group`` for :func:`.lifting.closed_loop_quantize` that builds the :class:`QPyramid` as it goes.

    Args:
        model: the entropy model the stream is coded with.
        shapes: the pyramid's band shapes, ``[(h, w) x 3]`` per level, coarsest first (the entropy model's
            inputs depend on the depth, so the whole layout exists from the start).
        step_code: the stream's step code.
        lam: the Lagrange multiplier (step^2 per bit); 0 gives the dead-zone indices back.
        batch: pictures coded together (WL-SVC codes a temporal group's frames as one batch).
        tclass: WL-SVC's temporal class of the subbands (:func:`.coder.pass_indices`).
    """

    def __init__(self, model: SubbandEntropyModel, channels: int, shapes: list[list[tuple[int, int]]],
                 step_code: int, lam: float = DEFAULT_LAMBDA, batch: int = 1, tclass: float | None = None,
                 ll: Tensor | None = None) -> None:
        self.model, self.code, self.lam, self.tclass = model, step_code, lam, tclass
        if model.approx and ll is None:
            raise ValueError("this entropy model reads the approximation: pass ll= (the quantised LL)")
        # The approximation: given, or set by the caller once done (a model without approx never reads it here).
        self.qp = QPyramid.zeros(batch, channels, (1, 1), shapes)
        if ll is not None:
            self.qp.ll = ll
        self.indices: dict[tuple[int, int, int], Tensor] = {}
        self._approx = ApproxContext(self.qp, step_code, False) if model.approx else None

    def __call__(self, j: int, g: int, u: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
        """Indices ``int32 [N, Cg, 3, h, w]`` of group ``g`` of level ``j`` from ``u`` (float64, band-step units)."""
        qp = self.qp
        c = qp.ll.shape[1]
        if [tuple(s) for s in shapes] != qp.shapes[j]:
            raise ValueError(f"level {j}: band shapes {shapes} differ from the layout's {qp.shapes[j]}")
        chans = group_channels(c)[g]
        hh, ww = qp.levels[j].shape[-2:]
        h, w = u.shape[-2:]
        up = F.pad(u, (0, max(0, ww - w), 0, max(0, hh - h)))[..., :hh, :ww]
        valid = qp.valid(j)  # [3, 2Hq, 2Wq]
        cs = slice(chans[0], chans[-1] + 1)
        approx = None if self._approx is None else self._approx.features(j)  # levels < j are final by now
        for k, phase in enumerate(ctx.PASS_PHASES):
            idx = pass_indices(self.model, qp, j, g, k, self.code, False, tclass=self.tclass, approx=approx)
            self.indices[(j, g, k)] = idx
            q = self._choose(ctx.phase_view(up, phase), idx) * ctx.phase_view(valid, phase)
            ctx.phase_view(qp.levels[j][:, cs], phase).copy_(q)
        return qp.levels[j][:, cs, :, :h, :w]

    def _choose(self, u: Tensor, idx: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        q0 = T.quantize(u, 1.0, T.XI_LOSSY).long().abs()
        if self.lam <= 0:
            return (q0 * torch.sign(u)).to(torch.int32)
        mu = None
        if isinstance(idx, tuple):  # (table keys, means = 0): the centre is in the key (tables.table_key)
            idx, mu = key_scale_and_centre(idx[0])
        # float32: the choice is the encoder's alone (the decoder reads indices), and elementwise float32 is as
        # deterministic as float64 while taking half the time over the passes' large tensors.
        a = u.abs().float()
        sgn = torch.where(u < 0, -1, 1)  # the candidates' sign (u = 0 keeps index 0 below, as sign(u) = 0)
        log2b = LOG2_MIN + idx.float() / SCALES_PER_OCTAVE
        mu = None if mu is None else mu.float()

        def cost(cand: Tensor, at: tuple[Tensor, ...] | None) -> Tensor:  # J of candidates >= 1 (at: a subset)
            def sel(t: Tensor | None) -> Tensor | None:
                return t if t is None or at is None else t[at]

            r = cand.float() - T.XI_LOSSY + _DELTA_GUESS
            # signed candidates: with a centre, the two signs cost differently
            return (sel(a) - r).square() + self.lam * laplace_nll_bits(cand * sel(sgn), sel(log2b), T.XI_LOSSY,
                                                                       sel(mu))

        # Candidates in the order {0, q0 - 1, q0, q0 + 1} (each >= 1), the first of equal costs winning; the
        # repeats (q0 <= 1 makes them all 1 or 2) cannot win, so q0 and q0 + 1 are weighed only where they are new:
        # at low rates, where most q0 are 0, that is half the work.
        best_q = torch.zeros_like(q0)
        best_j = a.square() + self.lam * laplace_nll_bits(best_q, log2b, T.XI_LOSSY, mu)
        low = (q0 - 1).clamp(min=1)
        c = cost(low, None)
        take = c < best_j
        best_q, best_j = torch.where(take, low, best_q), torch.where(take, c, best_j)
        for d, first in ((0, 2), (1, 1)):
            at = (q0 >= first).nonzero(as_tuple=True)
            if not at[0].numel():
                continue
            cand = q0[at] + d
            c = cost(cand, at)
            take = c < best_j[at]
            best_q[at] = torch.where(take, cand, best_q[at])
            best_j[at] = torch.where(take, c, best_j[at])
        return (best_q * torch.sign(u).long()).to(torch.int32)
