"""Pixel-path kernels of :func:`pywlc.ops.masked_conv.masked_conv2d` (``algo="pixels"``): gather, GEMM, scatter.

Each active output pixel's im2col patch is one ``index_select`` of rows of the zero-padded channels-last input
(precomputed tap offsets, no ``F.unfold``); one GEMM per chunk of active pixels computes them, scattered into the
``fill``-initialised output.  Backward recomputes the patches (see :mod:`pywlc.ops.masked_conv`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import HALF_DTYPES

__all__ = ["backward_impl", "compute_dtype", "forward_impl", "out_size"]

# Largest im2col patch matrix built at once, in elements (256 MiB in fp32 on CUDA; L2-sized chunks on the CPU).
_PATCH_BUDGET = {"cuda": 1 << 26, "cpu": 1 << 21}


def out_size(h: int, w: int, kh: int, kw: int, stride: tuple[int, int], padding: tuple[int, int]) -> tuple[int, int]:
    return (h + 2 * padding[0] - kh) // stride[0] + 1, (w + 2 * padding[1] - kw) // stride[1] + 1


def compute_dtype(t: Tensor) -> torch.dtype:
    return torch.float32 if (t.dtype in HALF_DTYPES and t.device.type != "cuda") else t.dtype


def _padded_rows(x: Tensor, padding: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """``x Tensor[N, Cin, H, W]`` -> zero-padded channels-last rows ``Tensor[N*Hp*Wp, Cin]`` (one copy)."""
    n, c, h, w = x.shape
    ph, pw = padding
    # F.pad then .contiguous(channels_last) runs ATen's blocked transpose: ~3x faster on the CPU than
    # assigning a permuted view into a preallocated NHWC buffer.
    xp = F.pad(x.to(dtype), (pw, pw, ph, ph)).contiguous(memory_format=torch.channels_last)
    return xp.permute(0, 2, 3, 1).reshape(n * (h + 2 * ph) * (w + 2 * pw), c)


def _patch_rows(
    pixels: Tensor,  # [k] flat output pixel indices
    hw_out: tuple[int, int],
    hw_pad: tuple[int, int],
    stride: tuple[int, int],
    kernel: tuple[int, int],
) -> Tensor:  # [k, kh*kw] rows of the padded channels-last input
    """Rows of the padded input read by each output pixel: its top-left base plus the tap offsets."""
    ho, wo = hw_out
    hp, wp = hw_pad
    n_idx = torch.div(pixels, ho * wo, rounding_mode="floor")
    rem = pixels - n_idx * (ho * wo)
    oy = torch.div(rem, wo, rounding_mode="floor")
    ox = rem - oy * wo
    base = n_idx * (hp * wp) + oy * (stride[0] * wp) + ox * stride[1]
    ky = torch.arange(kernel[0], device=pixels.device)
    kx = torch.arange(kernel[1], device=pixels.device)
    offsets = (ky[:, None] * wp + kx[None, :]).reshape(-1)
    return base[:, None] + offsets[None, :]


def _weight_matrix(weight: Tensor, dtype: torch.dtype) -> Tensor:
    """``weight Tensor[Cout, Cin, kh, kw]`` -> ``Tensor[Cout, kh*kw*Cin]`` in the patch order (tap-major)."""
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).to(dtype)


def _chunk(row_len: int, device: torch.device) -> int:
    return max(1, _PATCH_BUDGET["cuda" if device.type == "cuda" else "cpu"] // max(1, row_len))


def forward_impl(
    x: Tensor,  # [N, Cin, H, W]
    weight: Tensor,  # [Cout, Cin, kh, kw]
    bias: Tensor | None,  # [Cout]
    pixels: Tensor,  # [K] int64
    stride: tuple[int, int],
    padding: tuple[int, int],
    fill: float,
) -> Tensor:  # [N, Cout, Ho, Wo]
    n, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    ho, wo = out_size(h, w, kh, kw, stride, padding)
    out = torch.full((n, cout, ho, wo), fill, dtype=x.dtype, device=x.device)
    k = pixels.numel()
    if k == 0 or out.numel() == 0:
        return out
    dtype = compute_dtype(x)
    rows = _padded_rows(x, padding, dtype)
    wmat = _weight_matrix(weight, dtype)
    b = None if bias is None else bias.to(dtype)
    out_rows = out.view(n, cout, ho * wo).permute(0, 2, 1)  # [N, Ho*Wo, Cout] view, written in place
    step = _chunk(kh * kw * cin, x.device)
    hw_pad = (h + 2 * padding[0], w + 2 * padding[1])
    for start in range(0, k, step):
        pix = pixels[start : start + step]
        idx = _patch_rows(pix, (ho, wo), hw_pad, stride, (kh, kw))
        patches = rows.index_select(0, idx.reshape(-1)).view(pix.numel(), kh * kw * cin)
        y = patches @ wmat.t() if b is None else torch.addmm(b, patches, wmat.t())
        n_idx = torch.div(pix, ho * wo, rounding_mode="floor")
        out_rows.index_put_((n_idx, pix - n_idx * (ho * wo)), y.to(x.dtype))
    return out


def backward_impl(
    grad: Tensor,  # [N, Cout, Ho, Wo]
    x: Tensor,  # [N, Cin, H, W]
    weight: Tensor,  # [Cout, Cin, kh, kw]
    pixels: Tensor,  # [K] int64
    stride: tuple[int, int],
    padding: tuple[int, int],
    need_input: bool = True,
    need_weight: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:  # grad_x [N, Cin, H, W], grad_weight [Cout, Cin, kh, kw], grad_bias [Cout]
    n, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    ho, wo = grad.shape[-2:]
    dtype = compute_dtype(x)
    # Half inputs accumulate their gradients in float32 (index_add_ and the GEMM sums over many pixels).
    acc = torch.float32 if dtype in HALF_DTYPES else dtype
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    grad_rows_x = torch.zeros((n * hp * wp, cin), dtype=acc, device=x.device) if need_input else None
    grad_w = torch.zeros((cout, kh * kw * cin), dtype=acc, device=x.device)
    grad_b = torch.zeros(cout, dtype=acc, device=x.device)
    k = pixels.numel()
    if k and x.numel() and weight.numel():
        rows = _padded_rows(x, padding, dtype) if need_weight else None
        wmat = _weight_matrix(weight, dtype)
        g_rows = grad.reshape(n, cout, ho * wo).permute(0, 2, 1)  # [N, Ho*Wo, Cout]
        step = _chunk(kh * kw * cin, x.device)
        for start in range(0, k, step):
            pix = pixels[start : start + step]
            n_idx = torch.div(pix, ho * wo, rounding_mode="floor")
            g = g_rows[n_idx, pix - n_idx * (ho * wo)].to(dtype)  # [k, Cout]
            grad_b += g.sum(0, dtype=acc)
            idx = _patch_rows(pix, (ho, wo), (hp, wp), stride, (kh, kw)).reshape(-1)
            if need_weight:
                patches = rows.index_select(0, idx).view(pix.numel(), kh * kw * cin)
                grad_w += (g.t() @ patches).to(acc)
            if need_input:
                grad_rows_x.index_add_(0, idx, (g @ wmat).to(acc).view(-1, cin))
    elif k and weight.numel() == 0:
        g_rows = grad.reshape(n, cout, ho * wo).permute(0, 2, 1)
        n_idx = torch.div(pixels, ho * wo, rounding_mode="floor")
        grad_b += g_rows[n_idx, pixels - n_idx * (ho * wo)].sum(0, dtype=acc)
    if need_input:
        grad_x = grad_rows_x.view(n, hp, wp, cin)[:, padding[0] : padding[0] + h, padding[1] : padding[1] + w]
        grad_x = grad_x.permute(0, 3, 1, 2).to(x.dtype).contiguous()
    else:
        grad_x = torch.zeros_like(x, memory_format=torch.contiguous_format)
    grad_w = grad_w.view(cout, kh, kw, cin).permute(0, 3, 1, 2).to(weight.dtype).contiguous()
    return grad_x, grad_w, grad_b.to(weight.dtype)
