"""Knots of the piecewise-linear GELU and tanh of :mod:`pywlc.fixed_point`, computed without the machine's libm.

``exp``/``erf`` of C libraries, CUDA and SLEEF differ in the last ulp between machines, so the knot values are
computed with Python integers and :mod:`decimal` (both specified bit for bit, whatever the machine) at
:data:`DIGITS` significant digits, far beyond float64, then rounded to the integer grid
``round(value * 2**KNOT_BITS)``: the same Python ints everywhere.  ``decimal``'s ``exp`` is correctly rounded
by specification; ``erf`` is its positive-term series and π a constant.  Both tables take ~0.2 s, once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import cache

__all__ = ["GELU_RANGE", "KNOT_BITS", "STEP_BITS", "TANH_RANGE", "gelu_knots", "tanh_knots"]

KNOT_BITS = 40  # knot values on the 2^-40 grid: |GELU| <= 8 and |tanh| <= 1 keep the integers below 2^43
STEP_BITS = 9  # knots every 2^-9: interpolation error h^2/8 * max|f''| <= 3.8e-7 (GELU), 3.7e-7 (tanh)
GELU_RANGE = 8  # GELU(x) = x above, 0 below (|error| < 5e-15)
TANH_RANGE = 12  # tanh(x) = ±1 outside (|error| < 8e-11)
DIGITS = 34
_SERIES_BITS = 160  # fixed point of the erf series: truncation errors ~ 300 * 2^-160, negligible
_PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def _series(k2: int) -> int:
    """``floor(2^160 * sum_n x^(2n) / (2n+1)!!)`` for ``x^2 = k2 / 2^(2 STEP_BITS)``, in exact integers.

    ``Phi(x) = 1/2 + phi(x) * x * sum_n x^(2n) / (2n+1)!!``: every term is positive (no cancellation, unlike
    erf's alternating Taylor series), they grow while x^2 > 2n+3 and then fall geometrically.
    """
    term = total = 1 << _SERIES_BITS
    n = 0
    while term:
        term = term * k2 // ((2 * n + 3) << (2 * STEP_BITS))
        total += term
        n += 1
    return total


def _to_grid(v: Decimal) -> int:
    return int((v * (1 << KNOT_BITS)).to_integral_value(rounding=ROUND_HALF_EVEN))


def _knots(limit: int, half: Callable[[int], tuple[Decimal, Decimal]]) -> tuple[int, ...]:
    """Knot integers at ``x = k 2^-STEP_BITS``, ``k = -limit 2^STEP_BITS .. limit 2^STEP_BITS``.

    ``half(k)`` returns ``(f(x), f(-x))`` for ``k >= 0``, so each special function is evaluated once per |x|.
    """
    pos, neg = [], []
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = DIGITS, ROUND_HALF_EVEN
        for k in range((limit << STEP_BITS) + 1):
            fp, fm = half(k)
            pos.append(_to_grid(fp))
            neg.append(_to_grid(fm))
    return tuple(neg[:0:-1] + pos)


def _gelu_pair(k: int) -> tuple[Decimal, Decimal]:
    # GELU(x) = x Phi(x) and GELU(-x) = -x (1 - Phi(x)), with phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    x = Decimal(k) / (1 << STEP_BITS)
    phi = (Decimal(-k * k) / (1 << (2 * STEP_BITS + 1))).exp() / (2 * _PI).sqrt()
    cdf = Decimal(1) / 2 + phi * x * Decimal(_series(k * k)) / (1 << _SERIES_BITS)
    return x * cdf, -x * (1 - cdf)


def _tanh_pair(k: int) -> tuple[Decimal, Decimal]:
    # tanh(x) = 1 - 2 / (exp(2x) + 1), odd.
    t = 1 - 2 / ((Decimal(2 * k) / (1 << STEP_BITS)).exp() + 1)
    return t, -t


@cache
def gelu_knots() -> tuple[int, ...]:
    """``round(GELU(x) 2^40)`` (erf form, ``nn.GELU()``) at ``x = -8, -8 + 2^-9, ..., 8``: 8193 ints."""
    return _knots(GELU_RANGE, _gelu_pair)


@cache
def tanh_knots() -> tuple[int, ...]:
    """``round(tanh(x) 2^40)`` at ``x = -12, -12 + 2^-9, ..., 12``: 12289 ints."""
    return _knots(TANH_RANGE, _tanh_pair)
