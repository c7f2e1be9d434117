"""Bjøntegaard delta rate and PSNR (G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves",
ITU-T SG16 Q.6 VCEG-M33, Austin, 2001).

Each rate-distortion curve is fitted as a function of the other axis and the two fits are integrated over the
overlapping interval:

* BD-rate: ``log(rate)`` as a function of quality; the mean difference ``d`` of the two fits over the common
  quality range gives ``(exp(d) - 1) * 100`` percent (negative: the test codec needs fewer bits).
* BD-PSNR: quality as a function of ``log10(rate)``; the mean difference in dB.

``method="cubic"`` is VCEG-M33's third-order polynomial least-squares fit (``numpy.polyfit``, exact through four
points); ``method="pchip"`` the piecewise cubic Hermite interpolation used by later common test conditions
(JCTVC-L1100 / JVET CTC), which does not overshoot between points.  Both need at least four points per curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

__all__ = ["bd_rate", "bd_psnr"]


def _prepare(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rate, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if r.ndim != 1 or r.shape != q.shape:
        raise ValueError(f"{name}: rate and quality must be 1-D of the same length, got {r.shape} and {q.shape}")
    if len(r) < 4:
        raise ValueError(f"{name}: a Bjøntegaard fit needs at least 4 points, got {len(r)}")
    if not (np.isfinite(r).all() and np.isfinite(q).all()) or (r <= 0).any():
        raise ValueError(f"{name}: rates must be positive and all values finite")
    order = np.argsort(q)
    return r[order], q[order]


def _mean_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Mean of the fit ``y(x)`` over ``[lo, hi]`` (x sorted ascending, strictly increasing for pchip)."""
    if method == "cubic":
        p = np.polyint(np.polyfit(x, y, 3))
        return float((np.polyval(p, hi) - np.polyval(p, lo)) / (hi - lo))
    if method == "pchip":
        if (np.diff(x) <= 0).any():
            raise ValueError("pchip needs strictly monotonic curves")
        return float(PchipInterpolator(x, y).integrate(lo, hi) / (hi - lo))
    raise ValueError(f"method must be 'cubic' or 'pchip', got {method!r}")


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
        method: ``"cubic"`` (VCEG-M33) or ``"pchip"``.

    Raises:
        ValueError: fewer than 4 points, non-positive rates, or quality ranges that do not overlap.
    """
    ra, qa = _prepare(rate_anchor, quality_anchor, "anchor")
    rt, qt = _prepare(rate_test, quality_test, "test")
    lo, hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    if hi <= lo:
        raise ValueError(f"the quality ranges do not overlap ([{qa.min()}, {qa.max()}] vs [{qt.min()}, {qt.max()}])")
    d = _mean_over(qt, np.log(rt), lo, hi, method) - _mean_over(qa, np.log(ra), lo, hi, method)
    return float((np.exp(d) - 1.0) * 100.0)


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
    la, lt = np.log10(ra), np.log10(rt)
    oa, ot = np.argsort(la), np.argsort(lt)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    if hi <= lo:
        raise ValueError("the rate ranges do not overlap")
    return _mean_over(lt[ot], qt[ot], lo, hi, method) - _mean_over(la[oa], qa[oa], lo, hi, method)
