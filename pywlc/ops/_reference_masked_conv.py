"""Pure-torch twin of :func:`pywlc.ops.masked_conv.masked_conv2d`: the test oracle and the ``use_kernels(False)``
path, the dense formula the sparse op promises to equal: ``F.conv2d(x, w, b, stride, padding)`` where the mask is
set, ``fill`` elsewhere."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["masked_conv2d_reference"]


def masked_conv2d_reference(
    x: Tensor,  # [N, Cin, H, W]
    weight: Tensor,  # [Cout, Cin, kh, kw]
    bias: Tensor | None,  # [Cout]
    mask: Tensor,  # [N, 1, Ho, Wo] bool
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    fill: float = 0.0,
) -> Tensor:  # [N, Cout, Ho, Wo]
    """``F.conv2d(x, weight, bias, stride, padding) * mask + fill * ~mask`` (``torch.where``: exact for any fill)."""
    dense = F.conv2d(x, weight, bias, stride, padding)
    return torch.where(mask.view(mask.shape[0], 1, *dense.shape[-2:]), dense, torch.full_like(dense, fill))
