"""Probability tables of the dead-zone Laplace, built bit-identically on every machine, and their ANS models.

Entry ``s`` of :data:`~.entropy_model.N_SCALES` is the scale ``b = 2^(LOG2_MIN + s / SCALES_PER_OCTAVE)``.  Its
alphabet is ``-M..M`` plus an escape symbol (``M = min(ceil(14 b), MAX_M)``: the escape's mass is about
``e^-14`` unless the cap bites).  ``exp`` is taken from :mod:`decimal` (correctly rounded by specification) and
the rest is IEEE float64 products, so encoder and decoder hand ``constriction`` the same floats everywhere --
and constriction's quantisation of a float table is deterministic.  Escaped magnitudes ``|q| - M - 1`` are sent
as two 12-bit uniform symbols and the sign as one bit (they are rare: only symbols 14 scales out).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import cache

import constriction
import numpy as np

from .entropy_model import LOG2_MIN, N_SCALES, SCALES_PER_OCTAVE

__all__ = ["ESCAPE_BITS", "MAX_M", "Table", "table"]

MAX_M = 4095
ESCAPE_BITS = 12  # escape magnitude in two uniform 12-bit halves: |q| < MAX_M + 1 + 2^24
MAX_MAGNITUDE = MAX_M + (1 << (2 * ESCAPE_BITS))


def _exp(x: Decimal) -> float:
    with localcontext() as c:
        c.prec = 40
        return float(x.exp())


class Table:
    """One scale's PMF over ``-M..M`` + escape, with its constriction model (built once, cached)."""

    def __init__(self, index: int, xi: float) -> None:
        with localcontext() as c:
            c.prec = 40
            log2b = Decimal(index) / SCALES_PER_OCTAVE + Decimal(LOG2_MIN)
            b = Decimal(2) ** log2b
            inv = 1 / b
            r = _exp(-inv)
            p0 = 1.0 - _exp(-(1 - Decimal(str(xi))) * inv)
            coef = 0.5 * _exp(Decimal(str(xi)) * inv) * (1.0 - r)
            bf = float(b)
        self.m = int(min(MAX_M, max(2, math.ceil(14 * bf))))
        tail = np.empty(self.m, dtype=np.float64)
        v = coef
        for k in range(self.m):  # coef r^k by repeated IEEE products: the same floats on every machine
            v *= r
            tail[k] = v
        # The escape's mass: 2 * sum_{k > M} coef r^k = 2 coef r^(M+1) / (1 - r); floored so it stays codable.
        esc = 2.0 * tail[-1] * r / (1.0 - r) if r < 1.0 else 0.0
        probs = np.concatenate([tail[::-1], [p0], tail, [max(esc, 1e-12)]])
        self.probs = probs
        self.model = constriction.stream.model.Categorical(probs, perfect=False)


@cache
def table(index: int, xi: float) -> Table:
    """The cached :class:`Table` of scale ``index`` for quantiser offset ``xi``."""
    if not 0 <= index < N_SCALES:
        raise ValueError(f"scale index must be in [0, {N_SCALES}), got {index}")
    return Table(index, xi)


UNIFORM_ESCAPE = constriction.stream.model.Uniform(1 << ESCAPE_BITS)
UNIFORM_SIGN = constriction.stream.model.Uniform(2)
