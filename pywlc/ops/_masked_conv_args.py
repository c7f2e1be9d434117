"""Argument checks of :func:`pywlc.ops.masked_conv.masked_conv2d` and :class:`~pywlc.ops.masked_conv.MaskedConv2d`:
clear ``TypeError`` / ``ValueError`` naming the argument, before any work."""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_float_4d
from ._masked_conv_active import ActiveSet, check_mask, check_tile
from ._masked_conv_pixels import out_size

__all__ = ["ALGOS", "DEFAULT_TILE", "active_lists", "check_algo", "check_args", "check_padding", "pair"]

ALGOS = ("auto", "pixels", "tiles")
# Default tile edge (measured on the CPU, benchmarks/bench_masked_conv.py): 8 x 8 tiles follow WaveletVFI's
# 2 x 2-block masks closely enough, and a 10 x 10 window (3 x 3 kernel) still feeds oneDNN a useful GEMM.
DEFAULT_TILE = 8


def pair(v: object, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(v, bool) or not isinstance(v, int | tuple | list):
        raise TypeError(f"{name} must be an int or a pair of ints, got {type(v).__name__}")
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(p, int) and not isinstance(p, bool) for p in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v!r}")
    return pair  # type: ignore[return-value]


def check_padding(padding: object, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    if padding is None or padding == "same":
        if padding == "same" and stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride {stride}")
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise ValueError(
                f"unsupported kernel size {kernel} for padding=None / 'same': 'same' padding needs odd kernels "
                "(give an explicit int padding for even kernels)"
            )
        return kernel[0] // 2, kernel[1] // 2
    if padding == "valid":
        return 0, 0
    if isinstance(padding, str):
        raise ValueError(f"padding must be an int, a pair, None, 'same' or 'valid', got {padding!r}")
    return pair(padding, "padding", 0)


def check_args(x, weight, bias, mask, stride, padding, fill):
    check_float_4d(x, "x", "N, Cin, H, W")
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be Tensor[Cout, Cin, kh, kw], got shape {tuple(weight.shape)}")
    if weight.dtype != x.dtype or weight.device != x.device:
        raise TypeError(f"weight is {weight.dtype} on {weight.device}, expected x's {x.dtype} on {x.device}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has {weight.shape[1]} input channels but x has {x.shape[1]} (only groups=1 is supported)"
        )
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias must be Tensor[{weight.shape[0]}], got shape {tuple(bias.shape)}")
        if bias.dtype != x.dtype or bias.device != x.device:
            raise TypeError(f"bias is {bias.dtype} on {bias.device}, expected x's {x.dtype} on {x.device}")
    if isinstance(fill, bool) or not isinstance(fill, int | float):
        raise TypeError(f"fill must be a float, got {type(fill).__name__}")
    kernel = (weight.shape[2], weight.shape[3])
    if min(kernel) < 1:
        raise ValueError(f"unsupported kernel size {kernel}: must be >= 1")
    stride = pair(stride, "stride", 1)
    padding = check_padding(padding, kernel, stride)
    h, w = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if kernel[0] > h or kernel[1] > w:
        raise ValueError(f"unsupported kernel size {kernel}: larger than the padded input {h} x {w}")
    ho, wo = out_size(x.shape[2], x.shape[3], *kernel, stride, padding)
    mask = check_mask(mask)
    if tuple(mask.shape) != (x.shape[0], 1, ho, wo):
        raise ValueError(f"mask must have the output's shape {(x.shape[0], 1, ho, wo)}, got {tuple(mask.shape)}")
    if mask.device != x.device:
        raise ValueError(f"mask is on {mask.device}, expected x's device {x.device}")
    return mask, stride, padding, float(fill)


def check_algo(algo: object, tile: object) -> tuple[str, int | None]:
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    return algo, (None if tile is None else check_tile(tile))


def active_lists(
    active: ActiveSet | None, mask: Tensor, device: torch.device, tile: int | None
) -> tuple[Tensor | None, Tensor | None, int]:
    """``(pixels, tiles, tile)`` from a precomputed :class:`ActiveSet` (None where it has none)."""
    if active is None:
        return None, None, tile or DEFAULT_TILE
    if not isinstance(active, ActiveSet):
        raise TypeError(f"active must be an ActiveSet from active_tiles(mask), got {type(active).__name__}")
    want = (mask.shape[0], mask.shape[2], mask.shape[3])
    if tuple(active.shape) != want or active.pixels.device != device:
        raise ValueError(
            f"active describes a mask of shape {active.shape} on {active.pixels.device}, expected {want} on {device}"
        )
    if not torch.compiler.is_compiling() and not active.describes(mask):
        raise ValueError(
            "active was compacted from another mask than the one passed (same shape, other pixels): pass "
            "active_tiles(mask) of this mask, or active=None"
        )
    if active.tile == 1:  # a pixel-only set: the tiles (if needed) are compacted from the mask
        return active.pixels, None, tile or DEFAULT_TILE
    if tile is not None and tile != active.tile:
        raise ValueError(
            f"active was compacted with tile={active.tile} but tile={tile} was asked: pass "
            f"active_tiles(mask, {tile}), or leave tile=None to use the ActiveSet's"
        )
    return active.pixels, active.tiles, active.tile
