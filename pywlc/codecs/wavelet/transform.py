"""Colour transforms, the subband pyramid and the dead-zone quantiser of the wavelet image codec.

Lossy (ITU-T T.800 Annex G): the irreversible colour transform ICT (BT.601 YCbCr, chroma centred on 0), then
CDF 9/7 (``bior4.4``, pywlc's orthonormal-like scaling: low-pass DC gain sqrt(2) per axis) in the library's
non-expansive symmetric mode, so any size works.  Lossless: the reversible colour transform RCT
(Y = floor((R + 2G + B) / 4), Cb = B - G, Cr = R - G) and the reversible integer 5/3 (``int5/3``).

A pyramid is ``Pyramid(ll, bands)``: ``ll: Tensor[N, C, h_J, w_J]`` (coarsest approximation) and ``bands[j]``
for levels j = 0 (coarsest) .. J-1 (finest), each ``Tensor[N, C, 3, Hq, Wq]``-shaped after :func:`pad_level`
(orientations H, V, D zero-padded to the level's common even size, see :mod:`.context`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import cache

import torch
from torch import Tensor

from ...ops.dwt import wavedec2, waverec2

__all__ = [
    "ICT",
    "Pyramid",
    "analysis",
    "forward",
    "band_norms",
    "dequantize",
    "ict_forward",
    "ict_inverse",
    "levels_for",
    "quantize",
    "rct_forward",
    "rct_inverse",
    "synthesis",
    "step_code_for_quality",
    "step_of_code",
    "XI_LOSSY",
    "XI_LOSSLESS",
    "STEP_CODE_MIN",
    "STEP_CODE_MAX",
]

# BT.601 YCbCr as in JPEG 2000's ICT (T.800 Eq. G-5).
ICT = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)
MAX_LEVELS = 6
MIN_COARSE = 8  # the coarsest LL keeps at least ~8 samples along the short side


def levels_for(height: int, width: int) -> int:
    """Decomposition depth J for a picture: 6 for ~768 px pictures, fewer for small ones, at least 1 (for 2x2+)."""
    short = min(height, width)
    if short < 2:
        return 0
    return max(1, min(MAX_LEVELS, int(math.floor(math.log2(short / MIN_COARSE)))))


def ict_forward(rgb: Tensor) -> Tensor:
    """``Tensor[N, 3, H, W]`` RGB (0..255 floats) -> YCbCr (Y in 0..255, chroma centred)."""
    return torch.einsum("oc,nchw->nohw", ICT.to(rgb), rgb)


def ict_inverse(ycc: Tensor) -> Tensor:
    """Inverse of :func:`ict_forward` (the exact matrix inverse)."""
    return torch.einsum("oc,nchw->nohw", torch.linalg.inv(ICT).to(ycc), ycc)


def rct_forward(rgb: Tensor) -> Tensor:
    """Reversible colour transform of integer ``Tensor[N, 3, H, W]`` (int32) -> (Y, Cb, Cr), T.800 Eq. G-1."""
    r, g, b = rgb.unbind(1)
    y = torch.div(r + 2 * g + b, 4, rounding_mode="floor")
    return torch.stack([y, b - g, r - g], 1)


def rct_inverse(ycc: Tensor) -> Tensor:
    """Inverse RCT (T.800 Eq. G-2): G = Y - floor((Cb + Cr) / 4), R = Cr + G, B = Cb + G."""
    y, cb, cr = ycc.unbind(1)
    g = y - torch.div(cb + cr, 4, rounding_mode="floor")
    return torch.stack([cr + g, g, cb + g], 1)


@dataclass
class Pyramid:
    """Subband pyramid of ``levels`` levels: ``ll`` and ``details[j] = (cH, cV, cD)``, coarsest level first."""

    ll: Tensor
    details: list[tuple[Tensor, Tensor, Tensor]]

    @property
    def levels(self) -> int:
        return len(self.details)


def analysis(x: Tensor, levels: int, lossless: bool) -> Pyramid:
    """``x: Tensor[N, C, H, W]`` (float, or int32 when ``lossless``) -> :class:`Pyramid` (same dtype)."""
    ll, det = wavedec2(x, "int5/3" if lossless else "bior4.4", levels)
    return Pyramid(ll, [tuple(d) for d in det])


def forward(x: Tensor, lossless: bool) -> Pyramid:
    """uint8 ``Tensor[N, C, H, W]`` (C = 1 or 3) -> the codec's pyramid: RCT + int 5/3, or ICT + 9/7, J by size."""
    levels = levels_for(*x.shape[-2:])
    if lossless:
        xi = x.to(torch.int32)
        return analysis(rct_forward(xi) if x.shape[1] == 3 else xi, levels, True)
    xf = x.float()
    return analysis(ict_forward(xf) if x.shape[1] == 3 else xf, levels, False)


def synthesis(p: Pyramid, lossless: bool) -> Tensor:
    """Inverse of :func:`analysis` (bitwise for ``lossless``); a pyramid with fewer levels gives a smaller picture."""
    if not p.details:
        return p.ll
    return waverec2((p.ll, list(p.details)), "int5/3" if lossless else "bior4.4")


@cache
def band_norms(levels: int) -> tuple[float, tuple[tuple[float, float, float], ...]]:
    """L2 norms of the 9/7 synthesis basis functions: ``(ll_norm, ((nH, nV, nD) per level, coarsest first))``.

    The 2-D basis functions are separable, so each norm is the product of two 1-D norms, measured once by
    synthesising a unit impulse placed in the middle of a band of a 1-D signal of 64 * 2^J samples (far from
    the ends, where symmetric extension would change it).  Dividing a band's step by its norm gives every band
    the same image-domain MSE per unit of quantisation error (T.800 Annex E).
    """
    from ...ops.dwt import wavedec, waverec

    if levels == 0:
        return 1.0, ()
    zero = torch.zeros(1, 64 << levels, dtype=torch.float64)
    approx, det = wavedec(zero, "bior4.4", levels)

    def norm1(level: int | None) -> float:  # None: the approximation; else a detail level (coarsest = 0)
        a, d = approx.clone(), [t.clone() for t in det]
        t = a if level is None else d[level]
        t[..., t.shape[-1] // 2] = 1.0
        return float(waverec((a, d), "bior4.4").norm())

    low = [norm1(None)]  # low[j]: the approximation after decomposing to level j (coarsest first)
    high = [norm1(j) for j in range(levels)]
    # The approximation norm of a shallower pyramid: a 1-D low-pass chain of levels - j steps.
    for j in range(1, levels):
        z = torch.zeros(1, 64 << levels, dtype=torch.float64)
        a, d = wavedec(z, "bior4.4", levels - j)
        a[..., a.shape[-1] // 2] = 1.0
        low.append(float(waverec((a, d), "bior4.4").norm()))
    per_level = []
    for j in range(levels):
        # Level j (coarsest first) splits the approximation of level j - 1 into low (that level's LL) and high.
        lo = low[j] if j < len(low) else 1.0
        per_level.append((high[j] * lo, lo * high[j], high[j] * high[j]))
    return low[0] ** 2, tuple(per_level)


def quantize(x: Tensor, step: float | Tensor, xi: float) -> Tensor:
    """Dead-zone scalar quantiser: ``sign(x) floor(|x| / step + xi)`` as int32 (T.800 Eq. E-... with offset xi).

    ``xi = 0.5`` is rounding; ``xi < 0.5`` widens the zero bin to ``|x| < (1 - xi) step``.
    """
    return (torch.sign(x) * torch.floor(x.abs() / step + xi)).to(torch.int32)


def dequantize(q: Tensor, step: float | Tensor, xi: float, delta: float) -> Tensor:
    """float32 reconstruction ``sign(q) (|q| - xi + delta) step`` (0 for q = 0): ``delta`` is the point within the
    bin ``[|q| - xi, |q| + 1 - xi)`` (0.5 = its centre; the Laplacian centroid lies below it)."""
    qf = q.to(torch.float32)
    mag = (qf.abs() - xi + delta).clamp_(min=0) * (q != 0)
    return torch.sign(qf) * mag * step


XI_LOSSY = 0.2  # dead-zone quantiser offset: zero bin |x| < 0.8 step (wavelet_codec.md: threshold ~0.8)
XI_LOSSLESS = 0.5  # integers "quantised" with step 1: plain rounding (the identity)
STEP_CODE_MIN, STEP_CODE_MAX = -32, 127  # step = 2^(code / 16): 0.25 .. 247


def step_code_for_quality(quality: float) -> int:
    """Step code of a quality in [0, 100]: ``log2 step = 7 - quality / 12.5`` in 1/16 octaves (higher = finer)."""
    return int(round(16 * (7.0 - float(quality) / 12.5)))


@cache
def _step_fractions() -> tuple[float, ...]:
    """``2^(k / 16)`` for k = 0..15, correctly rounded (decimal at 40 digits: no libm ``pow``)."""
    with localcontext() as c:
        c.prec = 40
        return tuple(float(Decimal(2) ** (Decimal(k) / 16)) for k in range(16))


def step_of_code(code: int | Tensor) -> float | Tensor:
    """``2^(code / 16)``, the quantiser step (pixel units, before the per-band synthesis-norm division).

    An int code gives the same float on every machine (a decimal table, then an exact power of two), which the
    approximation context (:mod:`.approx`) relies on; a Tensor of codes (training batches) takes ``exp2``."""
    if isinstance(code, Tensor):
        return torch.exp2(code.double() / 16)
    return math.ldexp(_step_fractions()[code % 16], code // 16)
