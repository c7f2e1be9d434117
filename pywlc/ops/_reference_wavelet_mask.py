"""Pure-torch twin of :func:`pywlc.ops.wavelet_mask.wavelet_mask`: the test oracle.

:func:`wavelet_mask_reference` builds the WaveletVFI detail mask one sample at a time with explicit shifts (no
pooling, no interpolation), written to be read rather than to be fast.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["wavelet_mask_reference"]


def _dilate3x3(m: Tensor) -> Tensor:  # [h, w] bool -> [h, w] bool
    """One 3 x 3 binary dilation: OR of the nine shifts, outside the frame reads False."""
    h, w = m.shape
    p = torch.zeros(h + 2, w + 2, dtype=torch.bool, device=m.device)
    p[1:-1, 1:-1] = m
    out = torch.zeros_like(m)
    for dy in range(3):
        for dx in range(3):
            out |= p[dy : dy + h, dx : dx + w]
    return out


def wavelet_mask_reference(
    hf: Tensor,  # [N, B, C, h, w]: B detail bands (3 for cH, cV, cD) of C channels
    ll: Tensor,  # [N, C, h, w]
    ratio: float | Tensor,  # scalar or [N]
    block: int = 2,
    dilate: int = 1,
) -> Tensor:  # [N, 1, h * block, w * block] bool
    """Per sample: ``max_{band, channel} |hf| > ratio * (max LL - min LL)``, dilated ``dilate`` times with a
    3 x 3 square on the coarse grid, then every coarse location repeated as a ``block x block`` block."""
    n = hf.shape[0]
    ratios = ratio.tolist() if isinstance(ratio, Tensor) else [float(ratio)] * n
    out = []
    for i in range(n):
        detail = hf[i].double().abs().amax(dim=(0, 1))  # [h, w]
        spread = ll[i].double().max() - ll[i].double().min()
        m = detail > ratios[i] * spread
        for _ in range(dilate):
            m = _dilate3x3(m)
        m = torch.kron(m.to(torch.int32), torch.ones(block, block, dtype=torch.int32, device=m.device)).bool()
        out.append(m[None])
    return torch.stack(out) if out else torch.zeros(0, 1, hf.shape[-2] * block, hf.shape[-1] * block, dtype=torch.bool)
