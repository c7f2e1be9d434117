"""Probability tables of the dead-zone Laplace, built bit-identically on every machine, and their ANS models.

Entry ``s`` of :data:`~.entropy_model.N_SCALES` is the scale ``b = 2^(LOG2_MIN + s / SCALES_PER_OCTAVE)``.  Its
alphabet is ``-M..M`` plus an escape symbol (``M = min(ceil(14 b), MAX_M)``: the escape's mass is about
``e^-14`` unless the cap bites).  ``exp`` is taken from :mod:`decimal` (correctly rounded by specification) and
the rest is IEEE float64 products, so encoder and decoder hand ``constriction`` the same floats everywhere --
and constriction's quantisation of a float table is deterministic.  Escaped magnitudes ``|q| - M - 1`` are sent
as two 12-bit uniform symbols and the sign as one bit (they are rare: only symbols 14 scales out).

Models with a mean (:func:`~.entropy_model.mean_split`) add tables of the Laplace centred at ``off / 8`` steps
(lossless: -4..3, the fraction of the mean; lossy: -32..32): key ``s + N_SCALES zigzag(off)``
(:func:`table_key`), so key ``s`` stays the zero-mean table.  The bins near zero are integrated in decimal, the
geometric tails beyond by repeated IEEE products.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import cache

import constriction
import numpy as np
import torch
from torch import Tensor

from .entropy_model import LOG2_MIN, LOSSY_MEAN_LIMIT, MEAN_STEPS, N_SCALES, SCALES_PER_OCTAVE

__all__ = ["ESCAPE_BITS", "MAX_M", "N_KEYS", "Table", "key_scale_and_centre", "table", "table_key"]

MAX_M = 4095
ESCAPE_BITS = 12  # escape magnitude in two uniform 12-bit halves: |q| < MAX_M + 1 + 2^24
MAX_MAGNITUDE = MAX_M + (1 << (2 * ESCAPE_BITS))
N_KEYS = N_SCALES * (2 * LOSSY_MEAN_LIMIT * MEAN_STEPS + 1)  # every centre of mean_split, lossless and lossy


def _exp(x: Decimal) -> float:
    with localcontext() as c:
        c.prec = 40
        return float(x.exp())


class Table:
    """One table's PMF over ``-M..M`` + escape, with its constriction model (built once, cached).

    ``offset``: the Laplace's centre ``offset / MEAN_STEPS`` (in steps); 0: the zero-mean table.
    """

    def __init__(self, index: int, xi: float, offset: int = 0) -> None:
        with localcontext() as c:
            c.prec = 40
            log2b = Decimal(index) / SCALES_PER_OCTAVE + Decimal(LOG2_MIN)
            b = Decimal(2) ** log2b
            inv = 1 / b
            r = _exp(-inv)
            bf = float(b)
        if offset:
            self._centred(inv, r, bf, Decimal(str(xi)), Decimal(offset) / MEAN_STEPS)
            return
        with localcontext() as c:
            c.prec = 40
            p0 = 1.0 - _exp(-(1 - Decimal(str(xi))) * inv)
            coef = 0.5 * _exp(Decimal(str(xi)) * inv) * (1.0 - r)
        self.m = int(min(MAX_M, max(2, math.ceil(14 * bf))))
        tail = _geometric(coef, r, 1, self.m)
        # The escape's mass: 2 * sum_{k > M} coef r^k = 2 coef r^(M+1) / (1 - r); floored so it stays codable.
        esc = 2.0 * tail[-1] * r / (1.0 - r) if r < 1.0 else 0.0
        self._finish(tail, p0, tail, esc)

    def _centred(self, inv: Decimal, r: float, bf: float, xi: Decimal, mu: Decimal) -> None:
        """The PMF of the Laplace centred at ``mu``: the bins within ``near`` of zero integrated exactly (decimal),
        the rest -- unit bins wholly on one side of ``mu`` -- as geometric tails by IEEE products."""
        self.m = int(min(MAX_M, max(2, math.ceil(14 * bf + abs(float(mu))))))
        near = min(self.m, 2 + math.ceil(abs(float(mu))))
        with localcontext() as c:
            c.prec = 40

            def side(d: Decimal) -> Decimal:  # P(X > mu + d) for d >= 0: e^(-d / b) / 2
                return (-d * inv).exp() / 2

            def mass(lo: Decimal, hi: Decimal) -> float:
                if lo >= mu:
                    return float(side(lo - mu) - side(hi - mu))
                if hi <= mu:
                    return float(side(mu - hi) - side(mu - lo))
                return float(1 - side(hi - mu) - side(mu - lo))

            p0 = mass(xi - 1, 1 - xi)
            up = [mass(k - xi, k + 1 - xi) for k in range(1, near + 1)]
            dn = [mass(-k - 1 + xi, -k + xi) for k in range(1, near + 1)]
            edge = Decimal(self.m + 1) - xi
            esc = float(side(edge - mu) + side(edge + mu))  # both tails beyond the alphabet
        up_t = np.concatenate([up, _geometric(up[-1], r, 1, self.m - near)])
        dn_t = np.concatenate([dn, _geometric(dn[-1], r, 1, self.m - near)])
        self._finish(dn_t, p0, up_t, esc)

    def _finish(self, dn: np.ndarray, p0: float, up: np.ndarray, esc: float) -> None:
        probs = np.concatenate([dn[::-1], [p0], up, [max(esc, 1e-12)]])
        self.probs = probs
        self.model = constriction.stream.model.Categorical(probs, perfect=False)


def _geometric(coef: float, r: float, first: int, m: int) -> np.ndarray:
    """``coef r^k`` for k = first..first + m - 1 by repeated IEEE products: the same floats on every machine."""
    tail = np.empty(m, dtype=np.float64)
    v = coef
    for _ in range(first - 1):
        v *= r
    for k in range(m):
        v *= r
        tail[k] = v
    return tail


def zigzag(off: Tensor) -> Tensor:
    """0, 1, -1, 2, -2, ... -> 0, 1, 2, 3, 4, ... (int64)."""
    return torch.where(off > 0, 2 * off - 1, -2 * off)


def table_key(index: Tensor, off: Tensor) -> Tensor:
    """The table key of scale ``index`` and centre ``off / MEAN_STEPS`` (:func:`~.entropy_model.mean_split`):
    ``index + N_SCALES zigzag(off)`` -- the zero-mean tables keep their keys."""
    return index + N_SCALES * zigzag(off)


def key_scale_and_centre(key: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`table_key`: ``(scale index, centre in steps as float64)``."""
    z = torch.div(key, N_SCALES, rounding_mode="floor")
    off = torch.where(z % 2 == 1, (z + 1) // 2, -(z // 2))
    return key - N_SCALES * z, off.double() / MEAN_STEPS


@cache
def table(index: int, xi: float) -> Table:
    """The cached :class:`Table` of key ``index`` (:func:`table_key`) for quantiser offset ``xi``."""
    if not 0 <= index < N_KEYS:
        raise ValueError(f"table key must be in [0, {N_KEYS}), got {index}")
    z = index // N_SCALES
    return Table(index % N_SCALES, xi, (z + 1) // 2 if z % 2 else -(z // 2))


UNIFORM_ESCAPE = constriction.stream.model.Uniform(1 << ESCAPE_BITS)
UNIFORM_SIGN = constriction.stream.model.Uniform(2)
