"""Probability tables of the dead-zone Laplace, built bit-identically on every machine, and their ANS models.

Entry ``s`` of :data:`~.entropy_model.N_SCALES` is the scale ``b = 2^(LOG2_MIN + s / SCALES_PER_OCTAVE)``.  Its
alphabet is ``-M..M`` plus an escape symbol (``M = min(ceil(14 b), MAX_M)``: the escape's mass is about
``e^-14`` unless the cap bites).  ``exp`` is taken from :mod:`decimal` (correctly rounded by specification) and
the rest is IEEE float64 products, so encoder and decoder hand ``constriction`` the same floats everywhere --
and constriction's quantisation of a float table is deterministic.  Escaped magnitudes ``|q| - M - 1`` are sent
as two 12-bit uniform symbols and the sign as one bit (they are rare: only symbols 14 scales out).

Models with a mean (:func:`~.entropy_model.mean_split`) add tables of the Laplace centred at ``off / 8`` steps
(lossless: -4..3, the fraction of the mean; lossy: -32..32): key ``s + N_SCALES zigzag(off)``
(:func:`table_key`), so key ``s`` stays the zero-mean table.  The bins near the centre are integrated from
per-scale exponentials on a 1/40 grid (decimal, once per scale), the geometric tails beyond by IEEE products.
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


_GRID = 40  # bin edges (k +- xi, xi in 1/40) and table centres (1/8) lie on the 1/40 grid of the step


class _Scale:
    """Per scale index: ``b``, ``r = e^(-1/b)`` and ``e^(-n / (40 b))`` for n < 40 from decimal (once), and the
    powers ``r^a`` by repeated IEEE products: :meth:`e` gives ``e^(-n / (40 b))`` for any n >= 0 as
    ``r^(n // 40) e^(-(n % 40) / (40 b))``."""

    def __init__(self, index: int) -> None:
        with localcontext() as c:
            c.prec = 40
            b = Decimal(2) ** (Decimal(index) / SCALES_PER_OCTAVE + Decimal(LOG2_MIN))
            self.inv = 1 / b  # kept in decimal for the zero-mean tables' own exponentials
            self.b, self.r = float(b), float((-self.inv).exp())
            self.frac = [float((-self.inv * n / _GRID).exp()) for n in range(_GRID)]
        self.pow = [1.0]

    def e(self, n: int) -> float:
        a, f = divmod(n, _GRID)
        while len(self.pow) <= a:
            self.pow.append(self.pow[-1] * self.r)
        return self.pow[a] * self.frac[f]


@cache
def _scale(index: int) -> _Scale:
    return _Scale(index)


class Table:
    """One table's PMF over ``-M..M`` + escape, with its constriction model (built once, cached).

    ``offset``: the Laplace's centre ``offset / MEAN_STEPS`` (in steps); 0: the zero-mean table.
    """

    def __init__(self, index: int, xi: float, offset: int = 0) -> None:
        sc = _scale(index)
        if offset:
            self._centred(sc, xi, offset)
            return
        r = sc.r
        with localcontext() as c:
            c.prec = 40
            p0 = 1.0 - _exp(-(1 - Decimal(str(xi))) * sc.inv)
            coef = 0.5 * _exp(Decimal(str(xi)) * sc.inv) * (1.0 - r)
        self.m = int(min(MAX_M, max(2, math.ceil(14 * sc.b))))
        tail = _geometric(coef, r, 1, self.m)
        # The escape's mass: 2 * sum_{k > M} coef r^k = 2 coef r^(M+1) / (1 - r); floored so it stays codable.
        esc = 2.0 * tail[-1] * r / (1.0 - r) if r < 1.0 else 0.0
        self._finish(tail, p0, tail, esc)

    def _centred(self, sc: _Scale, xi: float, offset: int) -> None:
        """The PMF of the Laplace centred at ``offset / 8``: the bins near the centre integrated from the scale's
        exponentials on the 1/40 grid (bin edges ``k +- xi`` and centres ``offset / 8`` both lie on it), the rest --
        unit bins wholly on one side of the centre -- as geometric tails.  IEEE products and sums in a fixed
        order, from decimal-rounded constants: the same floats on every machine, and cheap (a few thousand tables
        per picture at high rates)."""
        xi_g = round(xi * _GRID)
        if abs(xi * _GRID - xi_g) > 1e-9:
            raise ValueError(f"centred tables need a quantiser offset on the 1/{_GRID} grid, got xi = {xi}")
        mu = offset * (_GRID // MEAN_STEPS)
        self.m = int(min(MAX_M, max(2, math.ceil(14 * sc.b + abs(offset) / MEAN_STEPS))))
        near = min(self.m, 2 + math.ceil(abs(offset) / MEAN_STEPS))
        e, one = sc.e, _GRID

        def mass(lo: int, hi: int) -> float:  # P(lo < X < hi), edges in 1/40 steps
            if lo >= mu:
                return 0.5 * (e(lo - mu) - e(hi - mu))
            if hi <= mu:
                return 0.5 * (e(mu - hi) - e(mu - lo))
            return 1.0 - 0.5 * e(hi - mu) - 0.5 * e(mu - lo)

        p0 = mass(xi_g - one, one - xi_g)
        up = [mass(k * one - xi_g, (k + 1) * one - xi_g) for k in range(1, near + 1)]
        dn = [mass(-(k + 1) * one + xi_g, -k * one + xi_g) for k in range(1, near + 1)]
        edge = (self.m + 1) * one - xi_g
        esc = 0.5 * e(edge - mu) + 0.5 * e(edge + mu)  # both tails beyond the alphabet
        up_t = np.concatenate([up, _geometric(up[-1], sc.r, 1, self.m - near)])
        dn_t = np.concatenate([dn, _geometric(dn[-1], sc.r, 1, self.m - near)])
        self._finish(dn_t, p0, up_t, esc)

    def _finish(self, dn: np.ndarray, p0: float, up: np.ndarray, esc: float) -> None:
        probs = np.concatenate([dn[::-1], [p0], up, [max(esc, 1e-12)]])
        self.probs = probs
        self.model = constriction.stream.model.Categorical(probs, perfect=False)


def _geometric(coef: float, r: float, first: int, m: int) -> np.ndarray:
    """``coef r^k`` for k = first..first + m - 1 by repeated IEEE products (``multiply.accumulate`` is a sequential
    prefix product: ``((coef r) r) ...``, the same floats on every machine)."""
    seq = np.full(first + m, r, dtype=np.float64)
    seq[0] = coef
    return np.multiply.accumulate(seq)[first:]


def zigzag(off: Tensor) -> Tensor:
    """0, 1, -1, 2, -2, ... -> 0, 1, 2, 3, 4, ... (int64)."""
    return torch.where(off > 0, 2 * off - 1, -2 * off)


def _unzigzag(z):
    """Inverse of :func:`zigzag`, for an int or an int64 Tensor (odd -> positive, even -> non-positive)."""
    odd = z % 2
    return odd * ((z + 1) // 2) - (1 - odd) * (z // 2)


def table_key(index: Tensor, off: Tensor) -> Tensor:
    """The table key of scale ``index`` and centre ``off / MEAN_STEPS`` (:func:`~.entropy_model.mean_split`):
    ``index + N_SCALES zigzag(off)`` -- the zero-mean tables keep their keys."""
    return index + N_SCALES * zigzag(off)


def key_scale_and_centre(key: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`table_key`: ``(scale index, centre in steps as float64)``."""
    z = torch.div(key, N_SCALES, rounding_mode="floor")
    return key - N_SCALES * z, _unzigzag(z).double() / MEAN_STEPS


@cache
def table(index: int, xi: float) -> Table:
    """The cached :class:`Table` of key ``index`` (:func:`table_key`) for quantiser offset ``xi``."""
    if not 0 <= index < N_KEYS:
        raise ValueError(f"table key must be in [0, {N_KEYS}), got {index}")
    return Table(index % N_SCALES, xi, _unzigzag(index // N_SCALES))


UNIFORM_ESCAPE = constriction.stream.model.Uniform(1 << ESCAPE_BITS)
UNIFORM_SIGN = constriction.stream.model.Uniform(2)
