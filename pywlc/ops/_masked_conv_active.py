"""Active-set compaction of :func:`pywlc.ops.masked_conv.masked_conv2d`: the active pixels and tiles of a mask.

An inclusive prefix sum over the flattened mask gives every active pixel (or ``tile x tile`` tile) its slot; one
scatter writes the flat indices (no ``torch.nonzero``; one host sync to learn the count, which sizes the result).
The :class:`ActiveSet` keeps a reference to its mask, so a set passed with another mask is detected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_int

__all__ = ["ActiveSet", "active_tiles", "check_mask", "check_tile", "compact", "tile_mask"]


@dataclass(frozen=True)
class ActiveSet:
    """The active pixels (and tiles) of a ``[N, 1, H, W]`` mask, in sample-major raster order.

    Attributes:
        pixels: ``Tensor[K] int64``, flat indices ``n*H*W + y*W + x`` of the active pixels.
        pixel_counts: ``Tensor[N] int64``, active pixels per sample (``pixels`` is grouped by sample).
        tiles: ``Tensor[T] int64``, flat indices ``n*Th*Tw + ty*Tw + tx`` of the ``tile x tile`` tiles holding at
            least one active pixel (``Th = ceil(H / tile)``); equals ``pixels`` for ``tile=1``.
        tile_counts: ``Tensor[N] int64``, active tiles per sample.
        shape: ``(N, H, W)`` of the mask.
        tile: the tile size.
        mask: the ``[N, 1, H, W]`` mask it was compacted from (kept by :func:`active_tiles`; a reference, not a
            copy), and ``mask_version`` its in-place version counter then: :meth:`describes` checks them.
    """

    pixels: Tensor
    pixel_counts: Tensor
    tiles: Tensor
    tile_counts: Tensor
    shape: tuple[int, int, int]
    tile: int
    mask: Tensor | None = field(default=None, repr=False, compare=False)
    mask_version: int = field(default=-1, repr=False, compare=False)

    def describes(self, mask: Tensor) -> bool:
        """Whether these are the active pixels of ``mask`` (``Tensor[N, 1, H, W]`` bool, the set's shape).

        O(1) when ``mask`` is the memory this set was compacted from, unchanged since (same data, strides and
        version counter); otherwise one exact check -- every listed pixel is set and none other is: a gather of
        K values and a count of the mask, one host sync -- much less than the convolution it guards.
        """
        own = self.mask
        if (
            own is not None
            and own.data_ptr() == mask.data_ptr()
            and own.shape == mask.shape
            and own.stride() == mask.stride()
            and own.device == mask.device
            and mask._version == self.mask_version
        ):
            return True
        flat = mask.reshape(-1)
        k = self.pixels.numel()
        if k == 0:
            return not bool(flat.any())
        ok = flat.index_select(0, self.pixels).all() & (flat.sum() == k)
        return bool(ok)

    @property
    def num_active(self) -> int:
        """K, the number of active pixels."""
        return self.pixels.numel()

    @property
    def density(self) -> float:
        """Fraction of active pixels."""
        total = math.prod(self.shape)
        return self.num_active / total if total else 0.0


def compact(flat: Tensor) -> Tensor:  # [M] bool -> [K] int64
    """Stream compaction by prefix sum: slot of an active element = (inclusive count before it) - 1.

    Inactive elements are all scattered to a dump slot past the end, dropped afterwards, so the result needs
    no ``torch.nonzero``; the only host sync reads the total count K.
    """
    m = flat.numel()
    if m == 0:
        return torch.zeros(0, dtype=torch.int64, device=flat.device)
    pos = torch.cumsum(flat, 0)  # int64
    k = int(pos[-1])
    dest = torch.where(flat, pos - 1, k)
    out = torch.empty(k + 1, dtype=torch.int64, device=flat.device)
    out.scatter_(0, dest, torch.arange(m, device=flat.device))
    return out[:k]


def check_mask(mask: object, name: str = "mask") -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"{name} must be a bool tensor (e.g. `m > 0`), got {mask.dtype}")
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"{name} must be Tensor[N, 1, H, W] (or [N, H, W]) bool, got shape {tuple(mask.shape)}")
    return mask


def tile_mask(mask: Tensor, tile: int) -> Tensor:  # [N, 1, H, W] bool -> [N, Th, Tw] bool
    """A tile is active when any of its pixels is (tiles at the right / bottom border may be partial)."""
    n, _, h, w = mask.shape
    th, tw = -(-h // tile), -(-w // tile)
    padded = F.pad(mask.reshape(n, h, w), (0, tw * tile - w, 0, th * tile - h))
    return padded.view(n, th, tile, tw, tile).any(4).any(2)


def check_tile(tile: object) -> int:
    return check_int(tile, "tile", 1)


def active_tiles(mask: Tensor, tile: int = 1) -> ActiveSet:
    """Compact a mask into the list of its active pixels and ``tile x tile`` tiles.

    Args:
        mask: ``Tensor[N, 1, H, W]`` (or ``[N, H, W]``) bool, CPU or CUDA.
        tile: tile edge (>= 1); tiles at the right / bottom border may be partial.

    Returns:
        :class:`ActiveSet`, reusable by every :func:`masked_conv2d` whose output mask is ``mask``.
    """
    mask = check_mask(mask)
    tile = check_tile(tile)
    n, _, h, w = mask.shape
    pixels = compact(mask.reshape(-1))
    pixel_counts = mask.reshape(n, h * w).sum(1)
    if tile == 1:
        tiles, tile_counts = pixels, pixel_counts
    else:
        tmask = tile_mask(mask, tile)  # [N, Th, Tw]
        tiles = compact(tmask.reshape(-1))
        tile_counts = tmask.reshape(n, -1).sum(1)
    return ActiveSet(pixels, pixel_counts, tiles, tile_counts, (n, h, w), tile, mask, mask._version)
