"""Fused MCTF lifting steps on the compiled kernels (``csrc/mctf``): one pass per step, no warped frames.

The predict kernel samples both references, weighs them and applies the lifting step per pixel; the update
kernel gathers the connected H samples and applies its step.  Per-pixel math and float operation order are
those of mctf.py's composed ``_predict`` / ``_update`` (see ``csrc/mctf/mctf_common.h``), so on the CPU the
fused result equals the composed one (bitwise up to the sign of a zero), and the integer variant stays
bitwise invertible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._extension import kernel

_DTYPES = {torch.float32: 0, torch.float64: 1, torch.int32: 2}
_INTERPS = {"bilinear": 0, "bicubic": 1}
_FLOATS = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Kernels:
    """The fused predict and update kernels for one device (from :func:`pywlc._extension.kernel`)."""

    predict: Callable[..., Any]
    update: Callable[..., Any]


def kernels(x: Tensor, integer: bool) -> Kernels | None:
    """The fused kernels for ``x``'s device and dtype, else ``None`` (also inside ``use_kernels(False)``)."""
    if x.dtype not in ((torch.int32,) if integer else _FLOATS):
        return None
    predict, update = kernel("mctf_predict", x), kernel("mctf_update", x)
    return None if predict is None or update is None else Kernels(predict, update)


@dataclass(frozen=True)
class Side:
    """One level's side information on the frames' device, in the kernels' layout (all contiguous)."""

    field_l: Tensor  # Tensor[K, 2, H, W] float32
    field_r: Tensor  # Tensor[K, 2, H, W] float32
    wl: Tensor  # Tensor[K, H, W] float32
    wr: Tensor  # Tensor[K, H, W] float32
    conn_l: Tensor  # Tensor[K, H, W] uint8
    conn_r: Tensor  # Tensor[K, H, W] uint8
    src_l: Tensor  # Tensor[K, H, W] int64
    src_r: Tensor  # Tensor[K, H, W] int64


def side(g, field_l: Tensor, field_r: Tensor, device: torch.device) -> Side:
    """``g``: mctf.py's ``_Geometry`` of the level; fields ``Tensor[K, 2, H, W]``."""

    def to(t: Tensor, dtype: torch.dtype) -> Tensor:
        return t.to(device=device, dtype=dtype).contiguous()

    f32, u8, i64 = torch.float32, torch.uint8, torch.int64
    return Side(to(field_l, f32), to(field_r, f32), to(g.wl, f32), to(g.wr, f32), to(g.conn_l, u8),
                to(g.conn_r, u8), to(g.src_l, i64), to(g.src_r, i64))  # fmt: skip


def _frame_stride(t: Tensor) -> int:
    """Frame stride of ``Tensor[F, C, H, W]`` whose frames are contiguous (e.g. ``x[0::2]`` of a contiguous
    ``x``): what the kernels address frames by."""
    _, c, h, w = t.shape
    if t.shape[0] > 1 and tuple(t.stride()[1:]) != (h * w, w, 1):
        raise ValueError(f"fused MCTF needs contiguous frames, got strides {t.stride()}")
    return t.stride(0)


def _predict(c: Kernels, even: Tensor, src: Tensor, dst: Tensor, s: Side, interp: str, inverse: bool, alpha: float):
    k, ch, h, w = src.shape
    frames = [k, even.shape[0], ch, h, w]
    c.predict(_DTYPES[src.dtype], _INTERPS[interp], inverse, frames,
              even.data_ptr(), _frame_stride(even), src.data_ptr(), _frame_stride(src), dst.data_ptr(),
              _frame_stride(dst), s.field_l.data_ptr(), s.field_r.data_ptr(), s.wl.data_ptr(), s.wr.data_ptr(),
              float(alpha))  # fmt: skip


def _update(c: Kernels, high: Tensor, src: Tensor, dst: Tensor, s: Side, inverse: bool, alpha: float, beta: float):
    e, ch, h, w = src.shape
    frames = [high.shape[0], e, ch, h, w]
    c.update(_DTYPES[src.dtype], inverse, frames, high.data_ptr(), _frame_stride(high),
             src.data_ptr(), _frame_stride(src), dst.data_ptr(), _frame_stride(dst), s.wl.data_ptr(),
             s.wr.data_ptr(), s.conn_l.data_ptr(), s.conn_r.data_ptr(), s.src_l.data_ptr(), s.src_r.data_ptr(),
             float(alpha), float(beta))  # fmt: skip


def analysis_step(c: Kernels, cur: Tensor, s: Side, interp: str, alpha: float, beta: float) -> tuple[Tensor, Tensor]:
    """One level: ``cur Tensor[N, C, H, W]`` contiguous -> ``(H Tensor[N // 2, ...], L Tensor[(N + 1) // 2, ...])``."""
    n = cur.shape[0]
    even, odd = cur[0::2], cur[1::2]
    high = torch.empty((n // 2, *cur.shape[1:]), dtype=cur.dtype, device=cur.device)
    low = torch.empty(((n + 1) // 2, *cur.shape[1:]), dtype=cur.dtype, device=cur.device)
    _predict(c, even, odd, high, s, interp, False, alpha)  # every H first: the update gathers across H_k
    _update(c, high, even, low, s, False, alpha, beta)
    return high, low


def synthesis_step(c: Kernels, low: Tensor, high: Tensor, s: Side, interp: str, alpha: float, beta: float) -> Tensor:
    """Invert :func:`analysis_step`: ``Tensor[N, C, H, W]``, even and odd frames written in place (interleaved)."""
    low, high = low.contiguous(), high.contiguous()
    n = low.shape[0] + high.shape[0]
    out = torch.empty((n, *low.shape[1:]), dtype=low.dtype, device=low.device)
    _update(c, high, low, out[0::2], s, True, alpha, beta)  # every even frame first: predict reads x_{2k + 2}
    _predict(c, out[0::2], high, out[1::2], s, interp, True, alpha)
    return out
