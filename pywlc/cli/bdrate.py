"""Bjøntegaard delta rate and PSNR (G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves",
ITU-T SG16 Q.6 VCEG-M33, Austin, 2001), computed by the maintained ``bjontegaard`` package (the same numbers as
the JVET tools); this module validates the curves and keeps pywlc's signatures.

Each rate-distortion curve is fitted as a function of the other axis and the two fits are integrated over the
overlapping interval:

* BD-rate: ``log(rate)`` as a function of quality; the mean difference ``d`` of the two fits over the common
  quality range gives ``(exp(d) - 1) * 100`` percent (negative: the test codec needs fewer bits).
* BD-PSNR: quality as a function of ``log10(rate)``; the mean difference in dB.

``method="cubic"`` is VCEG-M33's third-order polynomial least-squares fit (exact through four points);
``method="pchip"`` the piecewise cubic Hermite interpolation used by later common test conditions
(JCTVC-L1100 / JVET CTC), which does not overshoot between points; ``"akima"`` is also accepted.  Every method
needs at least four points per curve here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bd_rate", "bd_psnr"]

_METHODS = ("cubic", "pchip", "akima")


def _bjontegaard():
    try:
        import bjontegaard
    except ImportError as exc:  # an optional dependency of the evaluation tools
        raise ImportError(f"BD-rate needs the bjontegaard package ({exc}): `pip install pywlc[eval]`") from exc
    return bjontegaard


def _prepare(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rate, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if r.ndim != 1 or r.shape != q.shape:
        raise ValueError(f"{name}: rate and quality must be 1-D of the same length, got {r.shape} and {q.shape}")
    if len(r) < 4:
        raise ValueError(f"{name}: a Bjøntegaard fit needs at least 4 points, got {len(r)}")
    if not (np.isfinite(r).all() and np.isfinite(q).all()) or (r <= 0).any():
        raise ValueError(f"{name}: rates must be positive and all values finite")
    return r, q


def _check_method(method: str, *axes: np.ndarray) -> None:
    """``method`` is known; the interpolating fits need strictly monotonic axes (sorted here by the caller)."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method != "cubic" and any((np.diff(np.sort(x)) <= 0).any() for x in axes):
        raise ValueError(f"{method} needs strictly monotonic curves")


def _sorted_by(key: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(key, kind="stable")
    return [key[order], *(v[order] for v in values)]


def bd_rate(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "cubic",
) -> float:
    """Average bit-rate difference of the test curve against the anchor at equal quality, in percent.

    Args:
        rate_anchor, quality_anchor: the anchor's points (rate in any positive unit, e.g. bpp; quality in dB).
        rate_test, quality_test: the test codec's points, same units.
        method: ``"cubic"`` (VCEG-M33), ``"pchip"`` or ``"akima"``.

    Raises:
        ValueError: fewer than 4 points, non-positive rates, or quality ranges that do not overlap.
    """
    ra, qa = _prepare(rate_anchor, quality_anchor, "anchor")
    rt, qt = _prepare(rate_test, quality_test, "test")
    qa, ra = _sorted_by(qa, ra)
    qt, rt = _sorted_by(qt, rt)
    lo, hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    if hi <= lo:
        raise ValueError(f"the quality ranges do not overlap ([{qa.min()}, {qa.max()}] vs [{qt.min()}, {qt.max()}])")
    _check_method(method, qa, qt)
    bd = _bjontegaard().bd_rate(ra, qa, rt, qt, method=method, require_matching_points=False, min_overlap=0)
    return float(bd)


def bd_psnr(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "cubic",
) -> float:
    """Average quality difference (test minus anchor, dB) at equal rate over the common ``log10(rate)`` range."""
    ra, qa = _prepare(rate_anchor, quality_anchor, "anchor")
    rt, qt = _prepare(rate_test, quality_test, "test")
    ra, qa = _sorted_by(ra, qa)
    rt, qt = _sorted_by(rt, qt)
    la, lt = np.log10(ra), np.log10(rt)
    if min(la.max(), lt.max()) <= max(la.min(), lt.min()):
        raise ValueError("the rate ranges do not overlap")
    _check_method(method, la, lt)
    bd = _bjontegaard().bd_psnr(ra, qa, rt, qt, method=method, require_matching_points=False, min_overlap=0)
    return float(bd)
