"""Lifting factorisations of the wavelets pywlc implements, and the subband-size rule.

One table serves both the pure-torch reference and the compiled kernels (which receive the steps as
arguments), so the constants live in exactly one place.

A 1-D analysis step splits ``x[0..n)`` into even samples ``e[i] = x[2i]`` (``ceil(n/2)`` of them, the
low band) and odd samples ``o[i] = x[2i+1]`` (``floor(n/2)``, the high band), then applies lifting steps
(Daubechies & Sweldens 1998, "Factoring wavelet transforms into lifting steps", sec. 7):

* predict: ``o[i] += a * e[i] + b * e[i+1]``
* update:  ``e[i] += a * o[i-1] + b * o[i]``

and finally scales ``e *= k_low``, ``o *= k_high``.  Synthesis runs the same steps backwards with the
opposite sign.  Scalings are chosen so the float transforms equal PyWavelets' ``haar``, ``bior2.2`` and
``bior4.4`` with ``mode='periodization'`` (low-pass DC gain sqrt(2)); see
``tests/test_dwt_api.py::test_wavedec2_equals_pywt_periodization``.

Boundary handling in the lifting domain:

* ``symmetric``: JPEG 2000 whole-sample symmetric extension (ITU-T T.800 Annex F.3.7). For the
  odd-length symmetric filters (5/3, 9/7) it is exactly "clamp the neighbour index" in each of e and o.
  Haar has even-length filters, for which the natural extension is half-sample symmetric: an unpaired
  last sample is its own partner, so its detail is 0 -- a missing neighbour contributes 0.
* ``periodization``: indices wrap; every transformed length must be even.

The reversible integer 5/3 (ITU-T T.800 eq. F-5/F-6) uses floor divisions instead of products:
``o[i] -= floor((e[i] + e[i+1]) / 2)``, ``e[i] += floor((o[i-1] + o[i] + 2) / 4)``, in 64-bit, with the
result wrapped to int32 so the round trip is bitwise exact for every int32 input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LiftingScheme", "WAVELETS", "MODES", "get_scheme", "subband_sizes", "max_level"]

PREDICT = 0  # target odd samples, source even samples, neighbours (i, i+1)
UPDATE = 1  # target even samples, source odd samples, neighbours (i-1, i)

MODES = {"symmetric": 0, "periodization": 1}


@dataclass(frozen=True)
class LiftingScheme:
    name: str
    steps: tuple[tuple[int, float, float], ...]  # (PREDICT|UPDATE, a, b)
    k_low: float
    k_high: float
    zero_tail: bool  # missing neighbour contributes 0 (half-sample symmetric, Haar)
    integer: bool = False

    def flat(self) -> list[float]:
        """Steps flattened as ``[kind, a, b] * len(steps)``, the form the compiled kernels take."""
        return [float(v) for step in self.steps for v in step]


_SQRT2 = math.sqrt(2.0)

# CDF 9/7 lifting constants (Daubechies & Sweldens 1998, eq. 7.8; ITU-T T.800 Table F.4).
_A97 = -1.586134342059924
_B97 = -0.052980118572961
_G97 = 0.882911075530934
_D97 = 0.443506852043971
_K97 = 1.230174104914001  # T.800's K: low band scaled by 1/K, high band by K/2 (DC gain 1)

WAVELETS: dict[str, LiftingScheme] = {
    # Haar: d = o - e, s = e + d/2 = (e+o)/2; pywt: cA = (e+o)/sqrt2, cD = (e-o)/sqrt2.
    "haar": LiftingScheme("haar", ((PREDICT, -1.0, 0.0), (UPDATE, 0.0, 0.5)), _SQRT2, -1.0 / _SQRT2, True),
    # LeGall / CDF 5/3 (T.800 eq. F-7 without rounding); pywt bior2.2 = sqrt2 * these low-pass taps.
    "bior2.2": LiftingScheme("bior2.2", ((PREDICT, -0.5, -0.5), (UPDATE, 0.25, 0.25)), _SQRT2, -1.0 / _SQRT2, False),
    # CDF 9/7 (T.800 irreversible), rescaled from DC gain 1 to pywt's sqrt2.
    "bior4.4": LiftingScheme(
        "bior4.4",
        ((PREDICT, _A97, _A97), (UPDATE, _B97, _B97), (PREDICT, _G97, _G97), (UPDATE, _D97, _D97)),
        _SQRT2 / _K97,
        -_K97 / _SQRT2,
        False,
    ),
    # JPEG 2000 reversible 5/3 on int32 (T.800 eq. F-5, F-6); the step values are the rounding offsets'
    # divisors and are used by the integer path only.
    "int5/3": LiftingScheme("int5/3", ((PREDICT, -0.5, -0.5), (UPDATE, 0.25, 0.25)), 1.0, 1.0, False, True),
}

_ALIASES = {
    "cdf53": "bior2.2",
    "legall": "bior2.2",
    "5/3": "bior2.2",
    "cdf97": "bior4.4",
    "9/7": "bior4.4",
    "int53": "int5/3",
    "reversible53": "int5/3",
}


def get_scheme(wavelet: str) -> LiftingScheme:
    """Look a wavelet up by name (``haar``, ``bior2.2``/``cdf53``, ``bior4.4``/``cdf97``, ``int5/3``)."""
    if not isinstance(wavelet, str):
        raise TypeError(f"wavelet must be a str, got {type(wavelet).__name__}")
    key = _ALIASES.get(wavelet.lower(), wavelet.lower())
    if key not in WAVELETS:
        names = sorted(set(WAVELETS) | set(_ALIASES))
        raise ValueError(f"wavelet must be one of {names}, got {wavelet!r}")
    return WAVELETS[key]


def subband_sizes(n: int, levels: int) -> list[tuple[int, int]]:
    """``[(low, high), ...]`` per level, finest first: low = ceil(n/2), high = floor(n/2) (T.800 eq. B-15)."""
    out = []
    for _ in range(levels):
        low, high = (n + 1) // 2, n // 2
        out.append((low, high))
        n = low
    return out


def max_level(n: int, mode: str) -> int:
    """Deepest level for length ``n``: every transformed length must be >= 2 (and even for periodization)."""
    level = 0
    while n >= 2 and (mode != "periodization" or n % 2 == 0):
        n = (n + 1) // 2
        level += 1
    return level
