"""Entropy coding of refinement symbols: a fine index inside its coarse bin, with bit-exact tables.

For a coarse magnitude ``qa`` and a code gap ``d`` the fine range is :func:`.refine_model.fine_interval`; the
symbol is ``q_fine + a`` for a coarse zero (alphabet ``-a..a``) and ``|q_fine| - lo`` otherwise (the sign is the
coarse one).  A range of one index carries no symbol.  The table of (scale index ``s``, ``qa``, ``d``) gives each
fine bin the mass of its intersection with the coarse bin under the dead-zone Laplace of scale
``2^(LOG2_MIN + s / SCALES_PER_OCTAVE)`` (fine-step units), normalised -- computed in :mod:`decimal` from the
IEEE float64 bin edges, so encoder and decoder hand ``constriction`` the same floats on every machine (as
:mod:`.tables` does for the single-layer model).  Symbols are grouped by (qa, s), stable order, vectorised per pass.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from functools import cache

import constriction
import numpy as np
import torch
from torch import Tensor

from .coder import LayerDecoder, LayerEncoder
from .entropy_model import LOG2_MIN, N_SCALES, SCALES_PER_OCTAVE
from .refine_model import fine_interval, gap_ratio
from .transform import XI_LOSSY

__all__ = ["RefineTable", "decode_refinement", "encode_refinement", "refine_table"]

_FLOOR = 1e-12  # every symbol stays codable (a fine bin may touch the coarse bin in a single point)


class RefineTable:
    """PMF of the fine symbols of one (scale, coarse magnitude, code gap), with its constriction model."""

    def __init__(self, index: int, qa: int, d: int) -> None:
        r = gap_ratio(d)
        lo, hi = (int(t) for t in fine_interval(torch.tensor([qa]), r))
        xi = Decimal(str(XI_LOSSY))
        with localcontext() as c:
            c.prec = 40
            b = Decimal(2) ** (Decimal(index) / SCALES_PER_OCTAVE + Decimal(LOG2_MIN))

            def tail(t: Decimal) -> Decimal:  # Laplace mass beyond t >= 0, up to the factor 1/2
                return (-t / b).exp()

            if qa == 0:
                v = Decimal((qa + (1 - XI_LOSSY)) * r)
                side = [tail(Decimal(k) - xi) - tail(min(Decimal(k + 1) - xi, v)) for k in range(1, hi + 1)]
                masses = [m / 2 for m in side[::-1]] + [1 - tail(1 - xi)] + [m / 2 for m in side]
                self.lo = -hi
            else:
                u, v = Decimal((qa - XI_LOSSY) * r), Decimal((qa + (1 - XI_LOSSY)) * r)
                masses = [tail(max(Decimal(j) - xi, u) - u) - tail(min(Decimal(j + 1) - xi, v) - u)
                          for j in range(lo, hi + 1)]
                self.lo = lo
            total = sum(masses)
            probs = [float(m / total) for m in masses]
        self.n = len(probs)
        self.probs = np.maximum(np.array(probs, dtype=np.float64), _FLOOR)
        self.model = constriction.stream.model.Categorical(self.probs, perfect=False) if self.n > 1 else None


@cache
def refine_table(index: int, qa: int, d: int) -> RefineTable:
    """The cached :class:`RefineTable` of scale ``index``, coarse magnitude ``qa`` and code gap ``d``."""
    if not 0 <= index < N_SCALES:
        raise ValueError(f"scale index must be in [0, {N_SCALES}), got {index}")
    return RefineTable(index, qa, d)


def _groups(q_coarse: Tensor, idx: Tensor, d: int):
    """``(table, flat positions)`` of the coded symbols, grouped by (coarse magnitude, scale index) in coding order
    (positions whose fine range holds one index are left out)."""
    qa = q_coarse.reshape(-1).long().abs()
    sf = idx.reshape(-1).long()
    lo, hi = fine_interval(qa, gap_ratio(d))
    n = torch.where(qa == 0, 2 * hi + 1, hi - lo + 1)
    pos = torch.nonzero(n > 1).flatten()
    key = qa[pos] * N_SCALES + sf[pos]
    order = torch.sort(key, stable=True).indices
    pos, key = pos[order], key[order]
    uniq, counts = torch.unique_consecutive(key, return_counts=True)
    start = 0
    for kv, cnt in zip(uniq.tolist(), counts.tolist(), strict=True):
        yield refine_table(kv % N_SCALES, kv // N_SCALES, d), pos[start : start + cnt]
        start += cnt


def encode_refinement(enc: LayerEncoder, q_fine: Tensor, q_coarse: Tensor, idx: Tensor, d: int) -> None:
    """Append the refinement symbols of ``q_fine`` (nested in ``q_coarse``, same shape) with scale indices ``idx``."""
    qf = q_fine.reshape(-1).long()
    for t, pos in _groups(q_coarse, idx, d):
        sym = qf[pos].abs() - t.lo if t.lo >= 0 else qf[pos] - t.lo
        enc.ops.append((t.model, sym.numpy().astype(np.int32)))


def decode_refinement(dec: LayerDecoder, q_coarse: Tensor, idx: Tensor, d: int) -> Tensor:
    """The fine indices (int64, shape of ``q_coarse``): decoded symbols, or the one index a range allows."""
    qc = q_coarse.reshape(-1).long()
    lo, _ = fine_interval(qc.abs(), gap_ratio(d))
    out = torch.sign(qc) * lo  # the lowest fine magnitude, with the coarse sign (0 for coarse zeros)
    for t, pos in _groups(q_coarse, idx, d):
        sym = torch.from_numpy(dec._decode(t.model, pos.numel()))
        out[pos] = torch.sign(qc[pos]) * (sym + t.lo) if t.lo >= 0 else sym + t.lo
    return out.view(q_coarse.shape)
