"""Pure-torch twins of the warping kernels: the test oracle, and the fallback without compiled kernels.

Explicit tap arithmetic (no ``F.grid_sample``), written to be read: per axis the tap indices and weights
of the interpolation, then one gather per 2-D tap.  Differentiable in ``img`` and ``flow`` by torch's
autograd.  Conventions are those of :mod:`pywlc.ops.warp` (``F.grid_sample(align_corners=True)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["warp_reference", "warp_blocks_reference", "HEVC_LUMA_TAPS", "CUBIC_A"]

CUBIC_A = -0.75  # grid_sample's bicubic (Keys cubic convolution)

# ITU-T H.265 Table 8-11: luma taps for samples -3..+4 at fractional positions 0, 1/4, 1/2, 3/4 (sum 64).
HEVC_LUMA_TAPS = (
    (0, 0, 0, 64, 0, 0, 0, 0),
    (-1, 4, -10, 58, 17, -5, 1, 0),
    (-1, 4, -11, 40, 40, -11, 4, -1),
    (0, 1, -5, 17, 58, -10, 4, -1),
)

_NUM_TAPS = {"bilinear": 2, "bicubic": 4, "hevc8": 8}


def _cubic_weights(t: Tensor) -> list[Tensor]:
    a = CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _axis_taps(coord: Tensor, size: int, interp: str, padding: str) -> tuple[list[Tensor], list[Tensor]]:
    """Tap indices (inside ``[0, size)``) and weights of one axis at ``coord`` (pixels)."""
    k = _NUM_TAPS[interp]
    if interp == "bilinear" and padding == "border":
        coord = coord.clamp(0, size - 1)  # grid_sample clips the coordinate itself here
    else:
        # Beyond the filter support the sample no longer depends on coord: clamping keeps floor() finite.
        coord = coord.clamp(-(k + 2), size - 1 + k + 2)
    base = torch.floor(coord.detach())
    t = coord - base
    if interp == "bilinear":
        weights = [1 - t, t]
    elif interp == "bicubic":
        weights = _cubic_weights(t)
    else:
        frac = torch.round(t.detach() * 4).long() % 4
        table = torch.tensor(HEVC_LUMA_TAPS, dtype=coord.dtype, device=coord.device) / 64
        weights = [table[frac, j] for j in range(8)]
    first = base.long() - (k // 2 - 1)
    indices = []
    for j in range(k):
        idx = first + j
        if padding == "zeros":
            weights[j] = weights[j] * ((idx >= 0) & (idx < size)).to(coord.dtype)
        indices.append(idx.clamp(0, size - 1))
    return indices, weights


def _sample(img: Tensor, cx: Tensor, cy: Tensor, interp: str, padding: str) -> Tensor:
    """``img Tensor[N, C, H, W]`` sampled at ``cx, cy Tensor[N, H, W]`` -> ``Tensor[N, C, H, W]``."""
    n, c, h, w = img.shape
    ix, wx = _axis_taps(cx, w, interp, padding)
    iy, wy = _axis_taps(cy, h, interp, padding)
    flat = img.reshape(n, c, h * w)
    out = img.new_zeros(n, c, h * w)
    for i in range(len(iy)):
        for j in range(len(ix)):
            index = (iy[i] * w + ix[j]).reshape(n, 1, h * w).expand(n, c, h * w)
            weight = (wy[i] * wx[j]).reshape(n, 1, h * w)
            out = out + weight * torch.gather(flat, 2, index)
    return out.reshape(n, c, h, w)


def _grid(flow: Tensor, scale: float, block: int) -> tuple[Tensor, Tensor]:
    n, _, h, w = flow.shape
    h, w = h * block, w * block
    d = flow.repeat_interleave(block, 2).repeat_interleave(block, 3) * scale
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    return xs + d[:, 0], ys + d[:, 1]


def warp_reference(img: Tensor, flow: Tensor, mode: str = "bilinear", padding: str = "border") -> Tensor:
    """``img Tensor[N, C, H, W]`` sampled at ``(x + flow[:, 0], y + flow[:, 1])``; math in the promoted dtype."""
    dtype = torch.promote_types(img.dtype, flow.dtype)
    cx, cy = _grid(flow.to(dtype), 1.0, 1)
    return _sample(img.to(dtype), cx, cy, mode, padding)


def warp_blocks_reference(
    img: Tensor, mvs: Tensor, block: int, interp: str = "bilinear", padding: str = "border"
) -> Tensor:
    """``img`` moved by one quarter-pel vector per ``block x block`` tile (``mvs Tensor[N, 2, H/b, W/b]``)."""
    dtype = img.dtype if img.dtype.is_floating_point else torch.float64
    cx, cy = _grid(mvs.to(dtype), 0.25, block)
    return _sample(img.to(dtype), cx, cy, interp, padding)
