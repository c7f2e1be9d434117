"""WaveletVFI's detail mask (Kong et al. 2023, Sec. 3.3): where a frame's high-frequency wavelet coefficients are
large relative to the low band's dynamic range, the finer decoder layers run (see
:func:`pywlc.ops.masked_conv.masked_conv2d`); elsewhere they are skipped.

A coarse location ``(i, j)`` of sample ``n`` is active when

    ``max_{band, channel} |HF[n, band, c, i, j]| > ratio[n] * (max LL[n] - min LL[n])``

(the max / min over every channel and location of the sample's LL band).  The coarse mask is dilated
``dilate`` times with a 3 x 3 square *on the coarse grid* -- so the result stays a union of whole blocks, the
layout a tiled kernel wants -- then every location becomes a ``block x block`` block of the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import FLOATS, check_float_4d
from .._checks import check_int as _check_int

__all__ = ["wavelet_mask"]



def _stack_bands(hf_coeffs: Tensor | Sequence[Tensor], ll: Tensor) -> Tensor:
    """``hf_coeffs`` in any accepted layout -> ``Tensor[N, B, C, h, w]`` (views where possible)."""
    n, c, h, w = ll.shape
    if isinstance(hf_coeffs, list | tuple):
        if len(hf_coeffs) == 0 or not all(isinstance(t, Tensor) for t in hf_coeffs):
            raise TypeError("hf_coeffs as a sequence must hold the detail bands as tensors, e.g. (cH, cV, cD)")
        bands = []
        for k, t in enumerate(hf_coeffs):
            # Odd sizes: a high band has floor(n/2) samples where LL has ceil(n/2) (pywlc's symmetric mode).
            hb, wb = t.shape[-2:] if t.dim() == 4 else (-1, -1)
            if t.dim() != 4 or tuple(t.shape[:2]) != (n, c) or not (h - 1 <= hb <= h and w - 1 <= wb <= w):
                raise ValueError(
                    f"hf_coeffs[{k}] must have ll's shape {(n, c, h, w)} (or one row / column less), "
                    f"got {tuple(t.shape)}"
                )
            # The missing border row / column reads 0, which never exceeds a threshold >= 0.
            bands.append(F.pad(t, (0, w - wb, 0, h - hb)) if (hb, wb) != (h, w) else t)
        if any(t.dtype != bands[0].dtype for t in bands):
            raise TypeError("hf_coeffs bands must share one dtype")
        return torch.stack(bands, 1)
    if not isinstance(hf_coeffs, Tensor):
        raise TypeError(f"hf_coeffs must be a torch.Tensor or a sequence of them, got {type(hf_coeffs).__name__}")
    if hf_coeffs.dim() == 5:
        if hf_coeffs.shape[0] != n or tuple(hf_coeffs.shape[2:]) != (c, h, w):
            raise ValueError(f"hf_coeffs must be Tensor[{n}, B, {c}, {h}, {w}], got shape {tuple(hf_coeffs.shape)}")
        return hf_coeffs
    if hf_coeffs.dim() == 4:
        nb = hf_coeffs.shape[1] // c if c else 0
        if hf_coeffs.shape[0] != n or tuple(hf_coeffs.shape[2:]) != (h, w) or c == 0 or nb * c != hf_coeffs.shape[1]:
            raise ValueError(
                f"hf_coeffs must be Tensor[{n}, B*{c}, {h}, {w}] (bands of ll's {c} channels), "
                f"got shape {tuple(hf_coeffs.shape)}"
            )
        return hf_coeffs.reshape(n, nb, c, h, w)
    raise ValueError(
        f"hf_coeffs must be Tensor[N, 3*C, h, w], Tensor[N, 3, C, h, w] or (cH, cV, cD), got {tuple(hf_coeffs.shape)}"
    )


def wavelet_mask(
    hf_coeffs: Tensor | Sequence[Tensor],
    ll: Tensor,
    ratio: float | Tensor,
    *,
    block: int = 2,
    dilate: int = 1,
    size: tuple[int, int] | None = None,
) -> Tensor:
    """Detail mask of a wavelet level, upsampled to the next finer resolution.

    Args:
        hf_coeffs: the detail bands of the level: ``Tensor[N, 3*C, h, w]`` (bands concatenated along channels,
            band-major: ``cat([cH, cV, cD], 1)``), ``Tensor[N, 3, C, h, w]`` (stacked), or a sequence
            ``(cH, cV, cD)`` of ``Tensor[N, C, h, w]`` as :func:`pywlc.ops.dwt.wavedec2` returns (for odd
            frame sizes its high bands may be one row / column short of LL: the missing border reads 0).  Any
            band count works.  float32/64/16 or bfloat16.
        ll: ``Tensor[N, C, h, w]``, the low band whose range ``max - min`` (per sample) scales the threshold;
            float, on hf's device.
        ratio: threshold ratio >= 0: a float, or ``Tensor[N]`` (one per sample, any float dtype).
        block: each coarse location becomes a ``block x block`` block (>= 1; 2 for the next DWT level).
        dilate: 3 x 3 dilations on the coarse grid (>= 0; 0 = none).
        size: optional ``(H, W)`` to crop the output to (for odd frame sizes, where ``h*block`` exceeds H by
            less than a block).

    Returns:
        ``Tensor[N, 1, h*block, w*block]`` bool (or ``[N, 1, H, W]`` with ``size``) on hf's device.
        Reference: ``wavelet_mask_reference``.
    """
    check_float_4d(ll, "ll", "N, C, h, w")
    hf = _stack_bands(hf_coeffs, ll)
    if hf.dtype not in FLOATS:
        raise TypeError(f"hf_coeffs must be float32, float64, float16 or bfloat16, got {hf.dtype}")
    if hf.device != ll.device:
        raise ValueError(f"hf_coeffs is on {hf.device} but ll on {ll.device}")
    block = _check_int(block, "block", 1)
    dilate = _check_int(dilate, "dilate", 0)
    n, _, _, h, w = hf.shape
    if isinstance(ratio, Tensor):
        if ratio.dim() > 1 or (ratio.dim() == 1 and ratio.shape[0] != n):
            raise ValueError(f"ratio must be a float or Tensor[{n}], got shape {tuple(ratio.shape)}")
        if not ratio.is_floating_point():
            raise TypeError(f"ratio must be a float tensor, got {ratio.dtype}")
        ratio_t = ratio.to(device=ll.device, dtype=torch.float64).expand(n)
        if ratio.numel() and bool((ratio_t < 0).any() | ratio_t.isnan().any()):
            raise ValueError("ratio must be >= 0")
    elif isinstance(ratio, int | float) and not isinstance(ratio, bool):
        if not ratio >= 0:
            raise ValueError(f"ratio must be >= 0, got {ratio}")
        ratio_t = torch.full((n,), float(ratio), dtype=torch.float64, device=ll.device)
    else:
        raise TypeError(f"ratio must be a float or a Tensor[N], got {type(ratio).__name__}")
    full = (h * block, w * block)
    if size is not None:
        if not isinstance(size, tuple | list) or len(size) != 2:
            raise TypeError(f"size must be a pair (H, W), got {size!r}")
        if not all(f - block < s <= f for s, f in zip(size, full, strict=True)):
            raise ValueError(f"size {tuple(size)} must be within one block ({block}) below {full}")
    if n == 0 or h == 0 or w == 0 or hf.shape[1] == 0 or hf.shape[2] == 0:
        out = torch.zeros((n, 1, *full), dtype=torch.bool, device=ll.device)
        return out if size is None else out[..., : size[0], : size[1]]
    # abs and max are exact in any dtype; the comparison runs in float64 so the threshold is not rounded.
    detail = hf.abs().amax(dim=(1, 2)).double()  # [N, h, w]
    flat_ll = ll.reshape(n, -1)
    spread = flat_ll.amax(1).double() - flat_ll.amin(1).double()  # [N]
    coarse = (detail > (ratio_t * spread)[:, None, None]).unsqueeze(1)  # [N, 1, h, w]
    if dilate:
        m = coarse.to(torch.float32)
        for _ in range(dilate):
            m = F.max_pool2d(m, 3, stride=1, padding=1)  # the pool pads with -inf: neutral
        coarse = m > 0
    out = coarse if block == 1 else coarse.repeat_interleave(block, 2).repeat_interleave(block, 3)
    return out if size is None else out[..., : size[0], : size[1]].contiguous()
