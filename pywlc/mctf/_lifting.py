"""The composed lifting steps (predict by :func:`pywlc.ops.warp`, update by gathers): the reference and fallback
of the fused kernels (``_fused.py``), Chen & Woods 2004, eqs. 1-2."""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.warp import warp
from ._geometry import _Geometry
from ._types import MctfLevel


def _warp(x: Tensor, field: Tensor, interp: str) -> Tensor:
    return warp(x, field.to(device=x.device, dtype=x.dtype), mode=interp, padding="border")


def _predict(even: Tensor, g: _Geometry, lvl: MctfLevel, interp: str, dtype: torch.dtype) -> Tensor:
    """``w_L W_L(x_{2k}) + w_R W_R(x_{2k+2})`` for every odd frame: ``Tensor[K, C, H, W]`` in ``dtype``."""
    k = g.wl.shape[0]
    e = even.to(dtype)
    dev = even.device
    pred = _warp(e[:k], lvl.field_left, interp) * g.wl.to(dev, dtype).unsqueeze(1)
    nr = min(k, e.shape[0] - 1)  # odd frames with a right neighbour
    if nr > 0 and bool((g.wr[:nr] > 0).any()):
        pred[:nr] += _warp(e[1 : nr + 1], lvl.field_right[:nr], interp) * g.wr[:nr].to(dev, dtype).unsqueeze(1)
    return pred


def _carry(high: Tensor, weight: Tensor, conn: Tensor, src: Tensor) -> Tensor:
    """``U(H)``: ``Tensor[K, C, H, W]`` carried back to the connected reference pixels, weighted by half the
    predict weight of its source pixel (module doc "Update")."""
    k, c, h, w = high.shape
    hw = h * w
    s = src.to(high.device).reshape(k, 1, hw)
    vals = torch.gather(high.reshape(k, c, hw), 2, s.expand(k, c, hw))
    wts = torch.gather(weight.to(high.device, high.dtype).reshape(k, 1, hw), 2, s) * 0.5
    return (vals * wts * conn.to(high.device).reshape(k, 1, hw).to(high.dtype)).reshape(k, c, h, w)


def _update(high: Tensor, n_even: int, g: _Geometry) -> Tensor:
    """Sum of the carried H frames per even frame: ``Tensor[n_even, C, H, W]``."""
    k = high.shape[0]
    u = torch.zeros((n_even, *high.shape[1:]), dtype=high.dtype, device=high.device)
    u[:k] += _carry(high, g.wl, g.conn_l, g.src_l)  # H_k -> x_{2k} along its left vectors
    nr = min(k, n_even - 1)
    if nr > 0:
        u[1 : nr + 1] += _carry(high[:nr], g.wr[:nr], g.conn_r[:nr], g.src_r[:nr])  # H_k -> x_{2k+2}
    return u


def _round(x: Tensor) -> Tensor:
    """Round half up, as an int32 tensor (the integer variant's rounding)."""
    return torch.floor(x + 0.5).to(torch.int32)
