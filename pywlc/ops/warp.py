"""Differentiable image warping: dense relative flow (:func:`warp`) and block motion vectors (:func:`warp_blocks`).

Conventions
-----------
* Pixel coordinates with ``align_corners=True`` semantics: pixel ``x`` sits at coordinate ``x`` and
  ``out[n, c, y, x] = img[n, c]`` interpolated at ``(x + dx, y + dy)``.  Given the same sampling points
  the result equals ``F.grid_sample(img, grid, mode, padding_mode, align_corners=True)``; no normalised
  grid is built.
* ``bilinear``: 2 x 2 taps.  ``border`` padding clamps the coordinate to ``[0, W-1]`` (zero flow gradient
  outside), as grid_sample does.
* ``bicubic``: 4 x 4 taps of Keys' cubic convolution with ``A = -0.75`` (grid_sample's kernel).  ``border``
  clamps each tap's coordinate (the sampling coordinate itself is not clipped), as grid_sample does.
* ``hevc8`` (block vectors only): the HEVC luma interpolation filter, ITU-T H.265 Table 8-11, separable,
  taps for samples ``-3..+4`` around ``floor(position)``::

      0:    [ 0, 0,   0, 64,  0,   0, 0,  0]
      1/4:  [-1, 4, -10, 58, 17,  -5, 1,  0]
      1/2:  [-1, 4, -11, 40, 40, -11, 4, -1]
      3/4:  [ 0, 1,  -5, 17, 58, -10, 4, -1]

  Normalisation: each axis' taps are divided by 64 and applied in floating point with no intermediate
  rounding or clipping (the integer codec's ``>> 6`` shifts and 14-bit intermediates are not modelled;
  for integer-valued input, rounding the output to the nearest integer and clipping to the sample range
  gives the HEVC uni-prediction sample except for rare ties from its intermediate floor shift).
  Integer vectors (multiples of 4 quarter-pels) reproduce a pure translation exactly.
* ``zeros`` padding: taps outside the frame read 0.

dtypes: images float32, float64, float16, bfloat16; flows / vectors float32, float64, float16, bfloat16 (and
int32 / int64 vectors).  Coordinates, weights and sums are float32 (float64 when the image or the flow is
float64); float16 / bfloat16 outputs are one rounding of the float32 result.

Backward is its own kernel.  Image gradient: a scatter.  On the CPU every thread owns whole (n, c) planes of
it, so it is deterministic in both modes.  On CUDA the default accumulates with float ``atomicAdd``
(bits vary run to run); ``deterministic=True`` accumulates in int64 fixed point (value * 2^32, each
contribution rounded to nearest, exact integer sums; range ``|grad_img| < 2^31``) and is bitwise
reproducible.  The flow gradient is a gather (one thread per pixel, deterministic everywhere).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .._alloc import allocation, check_size
from .._checks import FLOATS, check_float_4d, check_int
from .._extension import kernel
from . import _reference_warp as ref

__all__ = ["warp", "warp_blocks", "Warp", "WarpBlocks"]

_MODES = {"bilinear": 0, "bicubic": 1}
_INTERPS = {"bilinear": 0, "hevc8": 2}
_CODE_NAMES = {0: "bilinear", 1: "bicubic", 2: "hevc8"}
_PADDINGS = {"border": 0, "zeros": 1}
_MV_DTYPES = FLOATS + (torch.int32, torch.int64)


# ----------------------------------------------------------------------------------------------------
# Validation


def _check_image(img: object) -> Tensor:
    img = check_float_4d(img, "img", "N, C, H, W")
    check_size(img, "img", "pywlc.warp")  # the output has img's shape: say so before torch's allocator fails
    return img


def _check_field(field: object, name: str, img: Tensor, want: tuple[int, ...], dtypes: tuple) -> Tensor:
    if not isinstance(field, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(field).__name__}")
    if field.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise TypeError(f"{name} must be one of {names}, got {field.dtype}")
    if tuple(field.shape) != want:
        raise ValueError(f"{name} must have shape {want} for img of shape {tuple(img.shape)}, got {tuple(field.shape)}")
    if field.device != img.device:
        raise ValueError(f"{name} is on {field.device} but img is on {img.device}")
    return field


def _check_choice(value: object, name: str, choices: dict) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------------------------------
# Kernel dispatch


def _compute_dtype(img: Tensor, field: Tensor) -> torch.dtype:
    return torch.float64 if torch.float64 in (img.dtype, field.dtype) else torch.float32


def _geometry_args(img: Tensor, field: Tensor, interp: int, padding: int, block: int, scale: float) -> tuple:
    return (
        0 if img.dtype == torch.float32 else 1,
        interp,
        padding,
        list(img.shape),
        img.data_ptr(),
        list(img.stride()),
        field.data_ptr(),
        list(field.stride()),
        block,
        scale,
    )


def _check_finite(field: Tensor, name: str) -> None:
    # Inside the op's implementation (not the traced wrapper): a data-dependent check, one reduction.
    if field.is_floating_point() and not bool(torch.isfinite(field).all()):
        raise ValueError(f"{name} must be finite (it has NaN or inf values)")


def _reference_forward(img: Tensor, field: Tensor, interp: int, padding: int, block: int, scale: float) -> Tensor:
    name, pad = _CODE_NAMES[interp], "border" if padding == 0 else "zeros"
    if block == 1 and scale == 1.0:
        return ref.warp_reference(img, field, name, pad)
    return ref.warp_blocks_reference(img, field * (scale * 4), block, name, pad)


def _forward_impl(img: Tensor, field: Tensor, interp: int, padding: int, block: int, scale: float, name: str) -> Tensor:
    """``img Tensor[N, C, H, W]`` warped by ``field Tensor[N, 2, H/block, W/block] * scale`` (validated except
    for finiteness, checked here; ``name`` is the field's argument name for the error)."""
    cd = _compute_dtype(img, field)
    launch = None if img.numel() == 0 else kernel("warp_forward", img)
    if launch is None or img.is_cuda:
        _check_finite(field, name)
    if img.numel() == 0:
        return torch.zeros(img.shape, dtype=img.dtype, device=img.device)
    img_c, field_c = img.to(cd), field.to(cd)
    if launch is None:
        return _reference_forward(img_c, field_c, interp, padding, block, scale).to(img.dtype)
    out = torch.empty(img.shape, dtype=cd, device=img.device)
    nonfinite = launch(*_geometry_args(img_c, field_c, interp, padding, block, scale), out.data_ptr())
    if not img.is_cuda and nonfinite:
        # The CPU kernel counts non-finite displacements while it reads them: no extra pass over the flow.
        raise ValueError(f"{name} must be finite (it has NaN or inf values)")
    return out if out.dtype == img.dtype else out.to(img.dtype)


def _backward_impl(
    grad: Tensor,  # Tensor[N, C, H, W]
    img: Tensor,  # Tensor[N, C, H, W]; only read for the flow gradient
    field: Tensor,  # Tensor[N, 2, H/block, W/block]
    interp: int,
    padding: int,
    block: int,
    scale: float,
    deterministic: bool,
    need_flow: bool,
) -> tuple[Tensor, Tensor | None]:
    """``(grad_img, grad_flow)``; grad_flow (dense flow only) is None unless ``need_flow``."""
    cd = _compute_dtype(img, field)
    if img.numel() == 0:
        return torch.zeros(img.shape, dtype=img.dtype, device=img.device), (
            torch.zeros(field.shape, dtype=field.dtype, device=field.device) if need_flow else None
        )
    img_c, field_c, grad_c = img.to(cd), field.to(cd), grad.to(cd)
    launch = kernel("warp_backward", img)
    if launch is None:
        with torch.enable_grad():
            probe_img = img_c.detach().requires_grad_(True)
            probe_field = field_c.detach().requires_grad_(need_flow)
            out = _reference_forward(probe_img, probe_field, interp, padding, block, scale)
            inputs = (probe_img, probe_field) if need_flow else (probe_img,)
            grads = torch.autograd.grad(out, inputs, grad_c)
        gi = grads[0].to(img.dtype)
        return gi, grads[1].to(field.dtype) if need_flow else None
    grad_img = torch.empty(img.shape, dtype=cd, device=img.device)
    grad_flow = torch.empty(field.shape, dtype=cd, device=img.device) if need_flow else None
    args = _geometry_args(img_c, field_c, interp, padding, block, scale)
    tail = (grad_c.data_ptr(), list(grad_c.stride()), grad_img.data_ptr(), grad_flow.data_ptr() if need_flow else 0)
    if img.is_cuda:  # the fixed-point workspace of the deterministic image gradient
        workspace = torch.empty(img.shape, dtype=torch.int64, device=img.device) if deterministic else None
        launch(*args, *tail, workspace.data_ptr() if workspace is not None else 0, deterministic)
    else:
        launch(*args, *tail, deterministic)
    gi = grad_img if grad_img.dtype == img.dtype else grad_img.to(img.dtype)
    if grad_flow is not None and grad_flow.dtype != field.dtype:
        grad_flow = grad_flow.to(field.dtype)
    return gi, grad_flow


def _mvs_impl_checks(mvs: Tensor, interp: int) -> None:
    if interp == _INTERPS["hevc8"] and mvs.is_floating_point() and not bool((mvs == torch.round(mvs)).all()):
        raise ValueError("mvs must be integer quarter-pel values for interp='hevc8'")


# ----------------------------------------------------------------------------------------------------
# Custom ops (torch.compile, opcheck) and their autograd


@torch.library.custom_op("pywlc::warp", mutates_args=())
def warp_op(img: Tensor, flow: Tensor, mode: str, padding: str, deterministic: bool) -> Tensor:
    """``img Tensor[N, C, H, W]``, ``flow Tensor[N, 2, H, W]`` -> ``Tensor[N, C, H, W]`` (see :func:`warp`)."""
    return _forward_impl(img, flow, _MODES[mode], _PADDINGS[padding], 1, 1.0, "flow")


@warp_op.register_fake
def _(img, flow, mode, padding, deterministic):
    return torch.empty(img.shape, dtype=img.dtype, device=img.device)


@torch.library.custom_op("pywlc::warp_backward", mutates_args=())
def warp_backward_op(
    grad: Tensor, img: Tensor, flow: Tensor, mode: str, padding: str, deterministic: bool
) -> tuple[Tensor, Tensor]:
    """``(grad_img Tensor[N, C, H, W], grad_flow Tensor[N, 2, H, W])`` of :func:`warp`."""
    gi, gf = _backward_impl(grad, img, flow, _MODES[mode], _PADDINGS[padding], 1, 1.0, deterministic, True)
    return gi, gf


@warp_backward_op.register_fake
def _(grad, img, flow, mode, padding, deterministic):
    return (
        torch.empty(img.shape, dtype=img.dtype, device=img.device),
        torch.empty(flow.shape, dtype=flow.dtype, device=flow.device),
    )


def _warp_setup_context(ctx, inputs, output) -> None:
    img, flow, mode, padding, deterministic = inputs
    ctx.save_for_backward(img, flow)
    ctx.args = (mode, padding, deterministic)


def _warp_backward(ctx, grad: Tensor):
    img, flow = ctx.saved_tensors
    gi, gf = torch.ops.pywlc.warp_backward(grad, img, flow, *ctx.args)
    return gi, gf, None, None, None


warp_op.register_autograd(_warp_backward, setup_context=_warp_setup_context)


@torch.library.custom_op("pywlc::warp_blocks", mutates_args=())
def warp_blocks_op(img: Tensor, mvs: Tensor, block: int, interp: str, padding: str, deterministic: bool) -> Tensor:
    """``img Tensor[N, C, H, W]``, ``mvs Tensor[N, 2, H/block, W/block]`` (quarter-pel) -> ``Tensor[N, C, H, W]``."""
    _mvs_impl_checks(mvs, _INTERPS[interp])
    return _forward_impl(img, mvs, _INTERPS[interp], _PADDINGS[padding], block, 0.25, "mvs")


@warp_blocks_op.register_fake
def _(img, mvs, block, interp, padding, deterministic):
    return torch.empty(img.shape, dtype=img.dtype, device=img.device)


@torch.library.custom_op("pywlc::warp_blocks_backward", mutates_args=())
def warp_blocks_backward_op(
    grad: Tensor, mvs: Tensor, block: int, interp: str, padding: str, deterministic: bool
) -> Tensor:
    """``grad_img Tensor[N, C, H, W]`` of :func:`warp_blocks` (linear in the image: the image is not needed)."""
    gi, _ = _backward_impl(grad, grad, mvs, _INTERPS[interp], _PADDINGS[padding], block, 0.25, deterministic, False)
    return gi


@warp_blocks_backward_op.register_fake
def _(grad, mvs, block, interp, padding, deterministic):
    return torch.empty(grad.shape, dtype=grad.dtype, device=grad.device)


def _blocks_setup_context(ctx, inputs, output) -> None:
    _, mvs, block, interp, padding, deterministic = inputs
    ctx.save_for_backward(mvs)
    ctx.args = (block, interp, padding, deterministic)


def _blocks_backward(ctx, grad: Tensor):
    (mvs,) = ctx.saved_tensors
    # Motion vectors get no gradient: the block search that makes them is discrete.
    return torch.ops.pywlc.warp_blocks_backward(grad, mvs, *ctx.args), None, None, None, None, None


warp_blocks_op.register_autograd(_blocks_backward, setup_context=_blocks_setup_context)


class _WarpFn(torch.autograd.Function):
    """Eager path straight to the kernels (a custom-op call costs ~10 us more dispatch)."""

    @staticmethod
    def forward(ctx, img, flow, mode, padding, deterministic):  # noqa: D102
        ctx.save_for_backward(img, flow)
        ctx.args = (mode, padding, deterministic)
        return _forward_impl(img, flow, _MODES[mode], _PADDINGS[padding], 1, 1.0, "flow")

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        img, flow = ctx.saved_tensors
        mode, padding, deterministic = ctx.args
        need_img, need_flow = ctx.needs_input_grad[:2]
        gi, gf = _backward_impl(grad, img, flow, _MODES[mode], _PADDINGS[padding], 1, 1.0, deterministic, need_flow)
        return (gi if need_img else None), gf, None, None, None


class _WarpBlocksFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, img, mvs, block, interp, padding, deterministic):  # noqa: D102
        _mvs_impl_checks(mvs, _INTERPS[interp])
        ctx.save_for_backward(mvs)
        ctx.args = (block, interp, padding, deterministic)
        return _forward_impl(img, mvs, _INTERPS[interp], _PADDINGS[padding], block, 0.25, "mvs")

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        (mvs,) = ctx.saved_tensors
        block, interp, padding, deterministic = ctx.args
        gi, _ = _backward_impl(grad, grad, mvs, _INTERPS[interp], _PADDINGS[padding], block, 0.25, deterministic, False)
        return gi, None, None, None, None, None


# ----------------------------------------------------------------------------------------------------
# Public API


def warp(
    img: Tensor, flow: Tensor, *, mode: str = "bilinear", padding: str = "border", deterministic: bool = False
) -> Tensor:
    """Backward-warp ``img`` by a dense relative flow.

    Args:
        img: ``Tensor[N, C, H, W]``, float32/64/16 or bfloat16, CPU or CUDA.
        flow: ``Tensor[N, 2, H, W]`` displacement in pixels on ``img``'s device; channel 0 is x (width),
            channel 1 is y (height).  Must be finite.
        mode: ``bilinear`` or ``bicubic`` (A = -0.75).
        padding: ``border`` or ``zeros``.
        deterministic: bitwise-reproducible image gradient on CUDA (int64 fixed-point accumulation instead
            of float atomics; see the module doc).  The CPU is always deterministic.

    Returns:
        ``Tensor[N, C, H, W]`` of ``img``'s dtype: ``out[n, c, y, x] = img[n, c]`` at
        ``(x + flow[n, 0, y, x], y + flow[n, 1, y, x])``, equal to ``F.grid_sample(align_corners=True)`` at
        those points.  Differentiable in ``img`` and ``flow``.  Reference: ``warp_reference``.
    """
    _check_image(img)
    n, _, h, w = img.shape
    _check_field(flow, "flow", img, (n, 2, h, w), FLOATS)
    _check_choice(mode, "mode", _MODES)
    _check_choice(padding, "padding", _PADDINGS)
    _check_bool(deterministic, "deterministic")
    if torch.compiler.is_compiling():
        return torch.ops.pywlc.warp(img, flow, mode, padding, deterministic)
    if torch.is_grad_enabled() and (img.requires_grad or flow.requires_grad):
        return _WarpFn.apply(img, flow, mode, padding, deterministic)
    check_size(flow, "flow", "pywlc.warp")
    with allocation("pywlc.warp"):
        return _forward_impl(img, flow, _MODES[mode], _PADDINGS[padding], 1, 1.0, "flow")


def warp_blocks(
    img: Tensor,
    mvs: Tensor,
    block: int,
    *,
    interp: str = "bilinear",
    padding: str = "border",
    deterministic: bool = False,
) -> Tensor:
    """Motion-compensate ``img`` with one quarter-pel vector per ``block x block`` tile.

    Args:
        img: ``Tensor[N, C, H, W]``, float32/64/16 or bfloat16, CPU or CUDA.
        mvs: ``Tensor[N, 2, H // block, W // block]`` in quarter-pel units (x then y), int32/int64 or float,
            on ``img``'s device; finite, and integer-valued for ``hevc8``.
        block: tile size; must divide H and W.
        interp: ``bilinear`` (equals :func:`warp` with the vectors / 4 repeated over each tile) or ``hevc8``
            (the HEVC 8-tap luma filter, see the module doc).
        padding: ``border`` or ``zeros``.
        deterministic: as in :func:`warp`.

    Returns:
        ``Tensor[N, C, H, W]`` of ``img``'s dtype; differentiable in ``img`` (vectors get no gradient).
        Reference: ``warp_blocks_reference``.
    """
    _check_image(img)
    block = check_int(block, "block", 1)
    n, _, h, w = img.shape
    if h % block or w % block:
        raise ValueError(f"block={block} must divide the image size H x W = {h} x {w}")
    _check_field(mvs, "mvs", img, (n, 2, h // block, w // block), _MV_DTYPES)
    _check_choice(interp, "interp", _INTERPS)
    _check_choice(padding, "padding", _PADDINGS)
    _check_bool(deterministic, "deterministic")
    if torch.compiler.is_compiling():
        return torch.ops.pywlc.warp_blocks(img, mvs, block, interp, padding, deterministic)
    if torch.is_grad_enabled() and img.requires_grad:
        return _WarpBlocksFn.apply(img, mvs, block, interp, padding, deterministic)
    _mvs_impl_checks(mvs, _INTERPS[interp])
    with allocation("pywlc.warp_blocks"):
        return _forward_impl(img, mvs, _INTERPS[interp], _PADDINGS[padding], block, 0.25, "mvs")


class Warp(nn.Module):
    """:func:`warp` as a module: ``forward(img Tensor[N, C, H, W], flow Tensor[N, 2, H, W])``."""

    def __init__(self, mode: str = "bilinear", padding: str = "border", deterministic: bool = False):
        super().__init__()
        self.mode = _check_choice(mode, "mode", _MODES)
        self.padding = _check_choice(padding, "padding", _PADDINGS)
        self.deterministic = _check_bool(deterministic, "deterministic")

    def forward(self, img: Tensor, flow: Tensor) -> Tensor:
        return warp(img, flow, mode=self.mode, padding=self.padding, deterministic=self.deterministic)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, padding={self.padding!r}, deterministic={self.deterministic}"


class WarpBlocks(nn.Module):
    """:func:`warp_blocks` as a module: ``forward(img Tensor[N, C, H, W], mvs Tensor[N, 2, H/b, W/b])``."""

    def __init__(self, block: int, interp: str = "bilinear", padding: str = "border", deterministic: bool = False):
        super().__init__()
        self.block = block
        self.interp = _check_choice(interp, "interp", _INTERPS)
        self.padding = _check_choice(padding, "padding", _PADDINGS)
        self.deterministic = _check_bool(deterministic, "deterministic")

    def forward(self, img: Tensor, mvs: Tensor) -> Tensor:
        return warp_blocks(
            img, mvs, self.block, interp=self.interp, padding=self.padding, deterministic=self.deterministic
        )

    def extra_repr(self) -> str:
        return f"block={self.block}, interp={self.interp!r}, padding={self.padding!r}"
