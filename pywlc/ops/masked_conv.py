"""Mask-sparse 2-D convolution (WaveletVFI, Kong et al. 2023, Sec. 3.3): compute a convolution only where a
wavelet-threshold mask says detail exists, with exactly the dense semantics.

Semantics
---------
``masked_conv2d(x, w, b, mask, stride, padding, fill)`` equals
``torch.where(mask, F.conv2d(x, w, b, stride, padding), fill)``: every active output reads its **real**
(dense) input neighbours -- inactive inputs are not zeroed, unlike point-cloud sparse convolution -- and
inactive outputs are ``fill``.  Gradients are those of that formula: only active outputs contribute to the
input, weight and bias gradients.

Algorithms (same torch ops on the CPU and CUDA; ``algo=`` picks, ``"auto"`` by a measured rule)
----------------------------------------------------------------------------------------------------
Compaction (:func:`active_tiles`, shared): an inclusive prefix sum over the flattened mask gives every
active pixel (or ``tile x tile`` tile) its slot; one scatter writes the flat indices (no ``torch.nonzero``;
one host sync to learn the count, which sizes the result).  The :class:`ActiveSet` can be reused by several
convolutions that share a mask.

``"pixels"`` -- gather, GEMM, scatter per active pixel:

1. The input is copied once, zero-padded, into channels-last ``[N, Hp, Wp, Cin]``.  An active output pixel
   ``(n, oy, ox)`` reads rows ``n*Hp*Wp + (oy*s + ky)*Wp + ox*s + kx`` of it -- precomputed tap offsets, no
   ``F.unfold`` -- so its im2col patch is one ``index_select``.
2. One GEMM per chunk of active pixels: ``patches[K, kh*kw*Cin] @ weight[Cout, kh*kw*Cin]^T (+ bias)``,
   scattered into the output that was filled with ``fill``.  Chunks bound the patch matrix to
   ``_PATCH_BUDGET`` elements.
3. Backward recomputes the patches: ``grad_weight = g^T @ patches``, ``grad_bias = sum g``, and
   ``grad_input`` is ``g @ weight`` scatter-added (``index_add_``) into the padded channels-last buffer.

Exact work (K outputs), but the im2col copies every active input ``kh * kw`` times: best for scattered
pixels and wide layers.

``"tiles"`` -- SBNet (Ren et al., CVPR 2018): each active output tile's input window (halo included) is
gathered into a channels-last batch, one dense ``F.conv2d`` computes the tiles, the outputs are written back
where the pixel mask is set; backward runs the conv's backward on the tile batch and scatter-adds the window
gradients (see :mod:`pywlc.ops._masked_conv_tiles`).  Computes whole tiles (``T * tile**2`` outputs) but feeds
oneDNN / cuDNN a plain conv: best for clustered masks such as WaveletVFI's, and near-full masks (when the
tiles cover the frame it runs one dense conv).

dtypes: float32 and float64 everywhere; float16 and bfloat16 on CUDA run the GEMM (cuBLAS) or the batch conv
(cuDNN) in the input dtype with float32 accumulation (tensor cores), on the CPU they are computed in float32
and rounded once at the end (the CPU has no fast half GEMM).  On CUDA the input gradient's ``index_add_``
uses atomics, so its bits may vary run to run.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .._extension import kernels_enabled
from . import _masked_conv_tiles as _tiles
from ._masked_conv_active import ActiveSet, active_tiles, compact, tile_mask
from ._masked_conv_args import DEFAULT_TILE, active_lists, check_algo, check_args, check_padding, pair
from ._masked_conv_pixels import backward_impl as _backward_impl
from ._masked_conv_pixels import compute_dtype as _compute_dtype
from ._masked_conv_pixels import forward_impl as _forward_impl
from ._masked_conv_pixels import out_size as _out_size
from ._masked_conv_tiles import TileGeometry
from ._reference_masked_conv import masked_conv2d_reference

__all__ = ["DEFAULT_TILE", "ActiveSet", "active_tiles", "masked_conv2d", "MaskedConv2d"]

# "auto": the pixel path's im2col gather costs about this many output-channel MACs per output (CPU, measured).
_AUTO_GATHER_COST = 64.0


# ----------------------------------------------------------------------------------------------------
# Algorithm choice ("auto") and dispatch


def _choose(num_pixels: int, num_tiles: int, g: TileGeometry, cout: int) -> str:
    """The ``"auto"`` rule: tiles when the output area the tile path computes is at most ``1 + 64 / Cout``
    times the active pixel count, else pixels.

    The tile path computes ``T * tile**2`` outputs (the whole frame once its dense shortcut runs), the pixel
    path exactly K but after an im2col copy of ``kh * kw`` input rows per pixel.  On the CPU both GEMMs run
    at about the same FLOP rate, so the tiles' extra outputs cost ``Cout``-proportional work while the
    pixels' gather costs a ``Cout``-independent ~64-MAC-equivalent per output (measured with
    benchmarks/bench_masked_conv.py, 2 cores, image wavelet masks and i.i.d. masks: the pixel path wins on
    scattered pixels and wide layers, the tile path on clustered masks of narrow layers and near-full
    masks).  A GPU (cuDNN batch conv vs a gather + cuBLAS GEMM) likely wants a looser bound: calibrate
    ``_AUTO_GATHER_COST`` there.
    """
    if g.cin == 0 or num_pixels == 0:
        return "pixels"  # no GEMM to batch (the bias alone), or nothing to compute
    area = g.n * g.ho * g.wo if _tiles.dense_is_cheaper(num_tiles, g) else num_tiles * g.tile * g.tile
    return "tiles" if area <= (1 + _AUTO_GATHER_COST / max(cout, 1)) * num_pixels else "pixels"


def _plan(
    mask: Tensor, pixels: Tensor | None, tiles: Tensor | None, algo: str, g: TileGeometry, cout: int
) -> tuple[str, Tensor]:
    """Resolve ``algo`` (``"auto"`` by :func:`_choose`) and compact the index list it needs.

    Returns ``("pixels", Tensor[K] flat active pixels)``, ``("tiles", Tensor[T] flat active tiles)``, or
    ``("dense", Tensor[0])`` where the tile path's tiles cover the frame (counted, not compacted).
    """
    if g.cin == 0:
        algo = "pixels"  # an empty-channel conv is the bias alone: the pixel path handles it
    tmask, t = None, None
    if algo != "pixels":  # the tile count (one host sync, as the compaction's)
        tmask = tile_mask(mask, g.tile) if tiles is None else None
        t = tiles.numel() if tiles is not None else int(tmask.sum())
    if algo == "auto":
        algo = _choose(pixels.numel() if pixels is not None else int(mask.sum()), t, g, cout)
    if algo == "pixels":
        return algo, compact(mask.reshape(-1)) if pixels is None else pixels
    if _tiles.dense_is_cheaper(t, g):
        return "dense", torch.zeros(0, dtype=torch.int64, device=mask.device)
    return algo, compact(tmask.reshape(-1)) if tiles is None else tiles


def _geometry(x: Tensor, weight: Tensor, stride, padding, tile: int) -> TileGeometry:
    n, cin, h, w = x.shape
    kh, kw = weight.shape[2:]
    ho, wo = _out_size(h, w, kh, kw, stride, padding)
    return TileGeometry(n, cin, h, w, kh, kw, tuple(stride), tuple(padding), tile, ho, wo)


def _forward(x, weight, bias, mask, algo: str, index: Tensor, tile: int, stride, padding, fill: float) -> Tensor:
    if algo == "pixels":
        return _forward_impl(x, weight, bias, index, tuple(stride), tuple(padding), fill)
    g, dtype = _geometry(x, weight, stride, padding, tile), _compute_dtype(x)
    if algo == "dense":
        return _tiles.dense_forward(x, weight, bias, mask, g, fill, dtype)
    return _tiles.tiles_forward(x, weight, bias, mask.contiguous(), index, g, fill, dtype)


def _backward(grad, x, weight, mask, algo: str, index: Tensor, tile: int, stride, padding, need_x=True, need_w=True):
    if algo == "pixels":
        return _backward_impl(grad, x, weight, index, tuple(stride), tuple(padding), need_x, need_w)
    g, dtype = _geometry(x, weight, stride, padding, tile), _compute_dtype(x)
    if algo == "dense":
        return _tiles.dense_backward(grad, x, weight, mask, g, dtype, need_x, need_w)
    return _tiles.tiles_backward(grad, x, weight, mask.contiguous(), index, g, dtype, need_x, need_w)


# ----------------------------------------------------------------------------------------------------
# Custom ops (torch.compile, opcheck) and their autograd


@torch.library.custom_op("pywlc::masked_conv2d", mutates_args=())
def masked_conv2d_op(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    mask: Tensor,
    stride: list[int],
    padding: list[int],
    fill: float,
    pixels: Tensor | None,
    tiles: Tensor | None,
    algo: str,
    tile: int,
) -> Tensor:
    """``x Tensor[N, Cin, H, W]``, ``mask Tensor[N, 1, Ho, Wo]`` bool -> ``Tensor[N, Cout, Ho, Wo]``.

    ``pixels`` (``Tensor[K] int64``) / ``tiles`` (``Tensor[T] int64``, ``tile x tile`` tiles) are the mask's
    active sets, each may be None: compacted from ``mask`` when the algorithm (``"auto"``, ``"pixels"``,
    ``"tiles"``) needs it.
    """
    algo, index = _plan(mask, pixels, tiles, algo, _geometry(x, weight, stride, padding, tile), weight.shape[0])
    return _forward(x, weight, bias, mask, algo, index, tile, stride, padding, fill)


@masked_conv2d_op.register_fake
def _(x, weight, bias, mask, stride, padding, fill, pixels, tiles, algo, tile):
    ho, wo = _out_size(x.shape[2], x.shape[3], weight.shape[2], weight.shape[3], tuple(stride), tuple(padding))
    return x.new_empty((x.shape[0], weight.shape[0], ho, wo))


@torch.library.custom_op("pywlc::masked_conv2d_backward", mutates_args=())
def masked_conv2d_backward_op(
    grad: Tensor,
    x: Tensor,
    weight: Tensor,
    mask: Tensor,
    pixels: Tensor | None,
    tiles: Tensor | None,
    stride: list[int],
    padding: list[int],
    algo: str,
    tile: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(grad_x Tensor[N, Cin, H, W], grad_weight Tensor[Cout, Cin, kh, kw], grad_bias Tensor[Cout])``.

    ``"auto"`` resolves as in the forward (the same mask gives the same choice).
    """
    algo, index = _plan(mask, pixels, tiles, algo, _geometry(x, weight, stride, padding, tile), weight.shape[0])
    return _backward(grad, x, weight, mask, algo, index, tile, stride, padding)


@masked_conv2d_backward_op.register_fake
def _(grad, x, weight, mask, pixels, tiles, stride, padding, algo, tile):
    return x.new_empty(x.shape), weight.new_empty(weight.shape), weight.new_empty((weight.shape[0],))


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, mask, stride, padding, fill, pixels, tiles, algo, tile = inputs
    ctx.save_for_backward(x, weight, mask, pixels, tiles)
    ctx.args = (stride, padding, algo, tile, bias is not None)


def _op_backward(ctx, grad: Tensor):
    x, weight, mask, pixels, tiles = ctx.saved_tensors
    stride, padding, algo, tile, has_bias = ctx.args
    gx, gw, gb = torch.ops.pywlc.masked_conv2d_backward(
        grad, x, weight, mask, pixels, tiles, stride, padding, algo, tile
    )
    return gx, gw, (gb if has_bias else None), *[None] * 8


masked_conv2d_op.register_autograd(_op_backward, setup_context=_setup_context)


class _MaskedConvFn(torch.autograd.Function):
    """Eager path straight to the torch-op kernels (a custom-op call costs ~10 us more dispatch).

    ``algo`` is resolved (``"pixels"``, ``"tiles"`` or ``"dense"``) and ``index`` is its active list.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mask, algo, index, tile, stride, padding, fill):  # noqa: D102
        ctx.save_for_backward(x, weight, mask, index)
        ctx.args = (algo, tile, stride, padding, bias is not None)
        return _forward(x, weight, bias, mask, algo, index, tile, stride, padding, fill)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        x, weight, mask, index = ctx.saved_tensors
        algo, tile, stride, padding, has_bias = ctx.args
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx, gw, gb = _backward(grad, x, weight, mask, algo, index, tile, stride, padding, need_x, need_w)
        return (gx if need_x else None), (gw if need_w else None), (gb if need_b and has_bias else None), *[None] * 7


# ----------------------------------------------------------------------------------------------------
# Public API


def masked_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    mask: Tensor,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str | None = None,
    fill: float = 0.0,
    active: ActiveSet | None = None,
    algo: str = "auto",
    tile: int | None = None,
) -> Tensor:
    """2-D convolution computed only where ``mask`` is set.

    Args:
        x: ``Tensor[N, Cin, H, W]``, float32/64/16 or bfloat16, CPU or CUDA; any strides.
        weight: ``Tensor[Cout, Cin, kh, kw]`` (groups=1, no dilation), x's dtype and device.  Any kernel size.
        bias: ``Tensor[Cout]`` or None.
        mask: ``Tensor[N, 1, Ho, Wo]`` (or ``[N, Ho, Wo]``) bool on x's device, the output's size.
        stride: int or pair (>= 1).
        padding: int or pair of zero padding; ``None`` / ``'same'`` = ``k // 2`` (odd kernels); ``'valid'`` = 0.
        fill: value of the inactive outputs.
        active: :func:`active_tiles` of ``mask`` (computed here when None); pass it to share one compaction
            between convolutions with the same output mask.  It must describe ``mask``.  Its tile size is
            used when ``tile`` is None; an explicit ``tile`` different from it raises ``ValueError`` (a
            silent recompaction would hide the cost the ActiveSet is meant to save), except for a pixel-only
            set (``active_tiles(mask)``, tile 1), whose tiles are then compacted here when needed.
        algo: ``"pixels"`` (gather each active pixel's im2col patch, one GEMM: best for scattered pixels),
            ``"tiles"`` (SBNet-style: gather each active ``tile x tile`` output tile's input window, one dense
            conv of the batch; one dense conv when the tiles cover most of the frame: best for clustered
            masks and high densities), or ``"auto"``: tiles when the output area they compute (``T * tile**2``,
            or the frame) is at most ``(1 + 64 / Cout) * K`` (K active pixels), else pixels -- a rule measured
            on the CPU (see ``_choose``); the GPU threshold is still to be calibrated.
        tile: tile edge for ``"tiles"`` / ``"auto"`` (>= 1; default ``DEFAULT_TILE`` = 8, or the ActiveSet's).

    Returns:
        ``Tensor[N, Cout, Ho, Wo]`` of x's dtype, contiguous: ``F.conv2d(x, weight, bias, stride, padding)``
        where ``mask``, ``fill`` elsewhere.  Differentiable in x, weight and bias (masked gradients).
        Reference: ``masked_conv2d_reference``.
    """
    mask, stride, padding, fill = check_args(x, weight, bias, mask, stride, padding, fill)
    algo, tile = check_algo(algo, tile)
    pixels, tiles, tile = active_lists(active, mask, x.device, tile)
    if not kernels_enabled("masked_conv2d"):  # use_kernels(False): the dense formula itself
        return masked_conv2d_reference(x, weight, bias, mask, stride, padding, fill).contiguous()
    if torch.compiler.is_compiling():
        return torch.ops.pywlc.masked_conv2d(
            x, weight, bias, mask, list(stride), list(padding), fill, pixels, tiles, algo, tile
        )
    algo, index = _plan(mask, pixels, tiles, algo, _geometry(x, weight, stride, padding, tile), weight.shape[0])
    needs_grad = x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    if torch.is_grad_enabled() and needs_grad:
        return _MaskedConvFn.apply(x, weight, bias, mask, algo, index, tile, stride, padding, fill)
    return _forward(x, weight, bias, mask, algo, index, tile, stride, padding, fill)


class MaskedConv2d(nn.Conv2d):
    """:func:`masked_conv2d` as a drop-in for ``nn.Conv2d`` (same parameters, initialisation and state dict).

    ``forward(x Tensor[N, Cin, H, W], mask Tensor[N, 1, Ho, Wo] bool, active=None) -> Tensor[N, Cout, Ho, Wo]``;
    ``algo`` / ``tile`` choose the kernel as in :func:`masked_conv2d`.
    Only ``groups=1``, ``dilation=1`` and ``padding_mode='zeros'`` are supported; ``padding`` defaults to
    ``kernel_size // 2``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str | None = None,
        bias: bool = True,
        fill: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        algo: str = "auto",
        tile: int | None = None,
    ):
        ks = pair(kernel_size, "kernel_size", 1)
        pad = check_padding(padding, ks, pair(stride, "stride", 1))
        super().__init__(in_channels, out_channels, ks, stride, pad, bias=bias, device=device, dtype=dtype)
        if isinstance(fill, bool) or not isinstance(fill, int | float):
            raise TypeError(f"fill must be a float, got {type(fill).__name__}")
        self.fill = float(fill)
        self.algo, self.tile = check_algo(algo, tile)

    def forward(self, x: Tensor, mask: Tensor, active: ActiveSet | None = None) -> Tensor:  # type: ignore[override]
        return masked_conv2d(
            x,
            self.weight,
            self.bias,
            mask,
            stride=self.stride,
            padding=self.padding,
            fill=self.fill,
            active=active,
            algo=self.algo,
            tile=self.tile,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", fill={self.fill}, algo={self.algo!r}, tile={self.tile}"
