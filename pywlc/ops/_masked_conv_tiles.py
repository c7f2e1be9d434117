"""Active-tile kernels of :func:`pywlc.ops.masked_conv.masked_conv2d` (``algo="tiles"``).

SBNet (Ren et al., CVPR 2018, "SBNet: Sparse Blocks Network for Fast Inference") computes a sparse
convolution as a *dense* convolution over a batch of gathered blocks.  WaveletVFI's masks are unions of
dilated 2 x 2 blocks, spatially clustered, so most ``tile x tile`` output tiles are either empty or well
filled; each active tile's input window (the tile plus its halo, ``(tile - 1) * stride + k`` per side) is
gathered into a batch ``Tensor[T, Cin, wh, ww]`` and one ``F.conv2d(..., padding=0)`` computes
``Tensor[T, Cout, tile, tile]``.  The GEMM work goes to oneDNN / cuDNN (tensor cores in fp16 / bf16 on GPUs)
instead of the pixel path's explicit im2col, which copies every active input ``kh * kw`` times; the tile
gather copies it ``(wh * ww) / tile**2`` times (1.56 for 8 x 8 tiles and a 3 x 3 kernel).

Layout: the input is zero-padded (by the conv padding, and at the bottom / right up to a whole number of
tiles, so every window is in bounds) into a channels-last copy; a window is then ``wh * ww`` rows of
``Cin`` contiguous values, gathered by one ``index_select``, and the batch is channels-last in memory with
no permute copy (oneDNN and cuDNN both prefer NHWC).  Tile outputs are written into the ``fill``-initialised
output only where the pixel mask is set (exact dense semantics: inactive pixels of an active tile stay
``fill``).

When the tile batch would be at least as big as the padded image (the tiles cover most of it, halos
included), one dense convolution of the whole image is cheaper than gathering: the dispatcher then runs
:func:`dense_forward`, the dense formula itself -- same result, no gather, no tile compaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import HALF_DTYPES
from .._extension import kernels_enabled

# Largest tile batch gathered at once, in elements (256 MiB in fp32 on CUDA, 64 MiB on the CPU): bounds the
# extra memory; oneDNN / cuDNN reach full speed on batches far smaller.
_TILE_BUDGET = {"cuda": 1 << 26, "cpu": 1 << 24}


@dataclass(frozen=True)
class TileGeometry:
    """Sizes of one tiled convolution (all ints).

    ``ho, wo``: output size; ``th, tw``: tiles per column / row (``ceil(ho / tile)``); ``wh, ww``: input
    window of one tile, halo included; ``hp, wp``: the padded input, a whole number of tiles plus halo.
    """

    n: int
    cin: int
    h: int
    w: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    tile: int
    ho: int
    wo: int

    @property
    def th(self) -> int:
        return -(-self.ho // self.tile)

    @property
    def tw(self) -> int:
        return -(-self.wo // self.tile)

    @property
    def wh(self) -> int:
        return (self.tile - 1) * self.stride[0] + self.kh

    @property
    def ww(self) -> int:
        return (self.tile - 1) * self.stride[1] + self.kw

    @property
    def hp(self) -> int:  # the last tile's window ends at (th*tile - 1)*s + kh
        return max(self.h + 2 * self.padding[0], (self.th * self.tile - 1) * self.stride[0] + self.kh)

    @property
    def wp(self) -> int:
        return max(self.w + 2 * self.padding[1], (self.tw * self.tile - 1) * self.stride[1] + self.kw)


def _padded_cl(x: Tensor, g: TileGeometry, dtype: torch.dtype) -> Tensor:
    """``x Tensor[N, Cin, H, W]`` -> zero-padded ``Tensor[N*Hp*Wp, Cin]`` rows (a channels-last copy).

    ``F.pad`` then ``.contiguous(channels_last)`` uses ATen's blocked transpose: ~3x faster on the CPU than
    assigning a permuted view into a preallocated NHWC buffer.
    """
    ph, pw = g.padding
    pad = (pw, g.wp - g.w - pw, ph, g.hp - g.h - ph)
    xp = F.pad(x.to(dtype), pad).contiguous(memory_format=torch.channels_last)
    return xp.permute(0, 2, 3, 1).reshape(g.n * g.hp * g.wp, g.cin)  # a view


def _tile_coords(tiles: Tensor, g: TileGeometry) -> tuple[Tensor, Tensor, Tensor]:
    """Flat tile indices ``n*Th*Tw + ty*Tw + tx`` -> ``(n, ty, tx)``, each ``Tensor[T] int64``."""
    per = g.th * g.tw
    n_idx = torch.div(tiles, per, rounding_mode="floor")
    rem = tiles - n_idx * per
    ty = torch.div(rem, g.tw, rounding_mode="floor")
    return n_idx, ty, rem - ty * g.tw


def _window_rows(coords: tuple[Tensor, Tensor, Tensor], g: TileGeometry) -> Tensor:  # [T * wh * ww]
    """Rows of the padded channels-last input read by each tile: its window's top-left plus the offsets."""
    n_idx, ty, tx = coords
    base = n_idx * (g.hp * g.wp) + ty * (g.tile * g.stride[0] * g.wp) + tx * (g.tile * g.stride[1])
    dy = torch.arange(g.wh, device=base.device)
    dx = torch.arange(g.ww, device=base.device)
    return (base[:, None] + (dy[:, None] * g.wp + dx[None, :]).reshape(1, -1)).reshape(-1)


def _tile_view(t: Tensor, g: TileGeometry) -> Tensor:
    """``Tensor[N, C, Th*tile, Tw*tile]`` -> its ``[N, Th, Tw, C, tile, tile]`` view (tile-major)."""
    s = g.tile  # reshape: a view of a contiguous t (the output is written through it), a copy otherwise
    return t.reshape(t.shape[0], t.shape[1], g.th, s, g.tw, s).permute(0, 2, 4, 1, 3, 5)


def _pad_to_tiles(t: Tensor, g: TileGeometry, value: float | bool = 0) -> Tensor:
    """Pad ``Tensor[N, C, Ho, Wo]`` at the bottom / right up to ``[N, C, Th*tile, Tw*tile]``."""
    extra = (0, g.tw * g.tile - g.wo, 0, g.th * g.tile - g.ho)
    return F.pad(t, extra, value=value) if any(extra) else t


def _mask_tiles(mask: Tensor, coords: tuple[Tensor, Tensor, Tensor], g: TileGeometry) -> Tensor:
    """The pixel mask of every gathered tile: ``Tensor[T, 1, tile, tile]`` bool (False past the border)."""
    return _tile_view(_pad_to_tiles(mask, g, False), g)[coords]


def _chunk(g: TileGeometry, device: torch.device) -> int:
    return max(1, _TILE_BUDGET["cuda" if device.type == "cuda" else "cpu"] // max(1, g.cin * g.wh * g.ww))


def dense_is_cheaper(num_tiles: int, g: TileGeometry) -> bool:
    """True when the tile batch would hold at least as many input pixels as the whole padded input.

    ``use_kernels(False, "masked_conv2d_dense")`` turns the shortcut off (tests: the gather / batch conv / scatter
    kernels then run on every mask)."""
    if not kernels_enabled("masked_conv2d_dense"):
        return False
    return num_tiles > 0 and num_tiles * g.wh * g.ww >= g.n * (g.h + 2 * g.padding[0]) * (g.w + 2 * g.padding[1])


def dense_forward(
    x: Tensor, weight: Tensor, bias: Tensor | None, mask: Tensor, g: TileGeometry, fill: float, dtype: torch.dtype
) -> Tensor:  # [N, Cout, Ho, Wo] contiguous, x's dtype
    """The tile path's shortcut when its tiles cover the frame: the dense formula, one conv of the whole input."""
    b = None if bias is None else bias.to(dtype)
    y = F.conv2d(x.to(dtype), weight.to(dtype), b, g.stride, g.padding)
    return torch.where(mask, y, fill).to(x.dtype).contiguous()


def dense_backward(
    grad: Tensor, x: Tensor, weight: Tensor, mask: Tensor, g: TileGeometry, dtype: torch.dtype,
    need_input: bool = True, need_weight: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Gradients of :func:`dense_forward`: the conv's backward of the masked output gradient."""
    gm = torch.where(mask, grad.to(dtype), torch.zeros((), dtype=dtype, device=grad.device))
    gx, gw, gb = torch.ops.aten.convolution_backward(
        gm, x.to(dtype), weight.to(dtype), [weight.shape[0]], list(g.stride), list(g.padding), [1, 1], False,
        [0, 0], 1, [need_input, need_weight, True],
    )  # fmt: skip
    gx = gx.to(x.dtype).contiguous() if need_input else torch.zeros_like(x, memory_format=torch.contiguous_format)
    gw = gw.to(weight.dtype) if need_weight else torch.zeros_like(weight)
    return gx, gw, gb.to(weight.dtype)


def tiles_forward(
    x: Tensor,  # [N, Cin, H, W]
    weight: Tensor,  # [Cout, Cin, kh, kw]
    bias: Tensor | None,  # [Cout]
    mask: Tensor,  # [N, 1, Ho, Wo] bool
    tiles: Tensor,  # [T] int64 flat active tiles
    g: TileGeometry,
    fill: float,
    dtype: torch.dtype,  # compute dtype (float32 for CPU halves)
) -> Tensor:  # [N, Cout, Ho, Wo] contiguous, x's dtype
    """Dense conv of each active tile's window, written back where ``mask`` is set; ``fill`` elsewhere."""
    cout = weight.shape[0]
    w = weight.to(dtype)
    b = None if bias is None else bias.to(dtype)
    out = torch.full((g.n, cout, g.th * g.tile, g.tw * g.tile), fill, dtype=x.dtype, device=x.device)
    if tiles.numel() and out.numel():
        rows = _padded_cl(x, g, dtype)
        out_tiles = _tile_view(out, g)
        step = _chunk(g, x.device)
        for start in range(0, tiles.numel(), step):
            coords = _tile_coords(tiles[start : start + step], g)
            t = coords[0].numel()
            batch = rows.index_select(0, _window_rows(coords, g)).view(t, g.wh, g.ww, g.cin).permute(0, 3, 1, 2)
            y = F.conv2d(batch, w, b, g.stride)  # [t, Cout, tile, tile], channels-last
            y = torch.where(_mask_tiles(mask, coords, g), y, fill)
            out_tiles.index_put_(coords, y.to(x.dtype))
    if (out.shape[2], out.shape[3]) != (g.ho, g.wo):
        out = out[:, :, : g.ho, : g.wo].contiguous()
    return out


def tiles_backward(
    grad: Tensor,  # [N, Cout, Ho, Wo]
    x: Tensor,  # [N, Cin, H, W]
    weight: Tensor,  # [Cout, Cin, kh, kw]
    mask: Tensor,  # [N, 1, Ho, Wo] bool
    tiles: Tensor,  # [T] int64
    g: TileGeometry,
    dtype: torch.dtype,
    need_input: bool = True,
    need_weight: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:  # grad_x [N, Cin, H, W], grad_weight [Cout, Cin, kh, kw], grad_bias [Cout]
    """Gradients of the masked conv: the masked output gradient, per tile, through the conv's backward.

    Halos overlap, so the window gradients are scatter-added (``index_add_``) into the padded input buffer.
    Half inputs accumulate in float32 on every device.
    """
    cout = weight.shape[0]
    acc = torch.float32 if dtype in HALF_DTYPES else dtype
    w = weight.to(dtype)
    zero = torch.zeros((), dtype=dtype, device=grad.device)
    grad_rows = torch.zeros((g.n * g.hp * g.wp, g.cin), dtype=acc, device=x.device) if need_input else None
    grad_w = torch.zeros(weight.shape, dtype=acc, device=x.device)
    grad_b = torch.zeros(cout, dtype=acc, device=x.device)
    if tiles.numel() and x.numel() and weight.numel():
        rows = _padded_cl(x, g, dtype) if need_weight else None
        g_tiles = _tile_view(_pad_to_tiles(grad, g), g)
        step = _chunk(g, x.device)
        for start in range(0, tiles.numel(), step):
            coords = _tile_coords(tiles[start : start + step], g)
            t = coords[0].numel()
            idx = _window_rows(coords, g)
            gt = torch.where(_mask_tiles(mask, coords, g), g_tiles[coords].to(dtype), zero)
            gt = gt.contiguous(memory_format=torch.channels_last)  # [t, Cout, tile, tile]
            if need_weight:
                batch = rows.index_select(0, idx).view(t, g.wh, g.ww, g.cin).permute(0, 3, 1, 2)
            else:  # only its shape is read
                batch = torch.empty((t, g.wh, g.ww, g.cin), dtype=dtype, device=x.device).permute(0, 3, 1, 2)
            gx, gw, gb = torch.ops.aten.convolution_backward(
                gt, batch, w, [cout], list(g.stride), [0, 0], [1, 1], False, [0, 0], 1,
                [need_input, need_weight, True],
            )  # fmt: skip
            grad_b += gb.to(acc)
            if need_weight:
                grad_w += gw.to(acc)
            if need_input:  # [t, Cin, wh, ww] -> window rows [t*wh*ww, Cin], added (halos overlap)
                grad_rows.index_add_(0, idx, gx.permute(0, 2, 3, 1).reshape(-1, g.cin).to(acc))
    elif tiles.numel() and weight.numel() == 0:
        grad_b += torch.where(mask, grad, 0).sum((0, 2, 3), dtype=acc)
    if need_input:
        ph, pw = g.padding
        gx = grad_rows.view(g.n, g.hp, g.wp, g.cin)[:, ph : ph + g.h, pw : pw + g.w]
        grad_x = gx.permute(0, 3, 1, 2).to(x.dtype).contiguous()
    else:
        grad_x = torch.zeros_like(x, memory_format=torch.contiguous_format)
    return grad_x, grad_w.to(weight.dtype).contiguous(), grad_b.to(weight.dtype)
