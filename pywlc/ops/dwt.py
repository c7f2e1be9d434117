"""Lifting wavelet transforms: 1-D along any axis, 2-D (H, W), 3-D (T, H, W); J levels; autograd.

Layouts
-------
* **packed** (:func:`dwt`, :func:`idwt`): one tensor the size of the input, the Mallat layout -- along
  every transformed axis the low band (``ceil(n/2)`` samples) comes first, then the high band
  (``floor(n/2)``); level ``l+1`` transforms the all-low corner of level ``l``.  What codecs use.
* **pywt-like** (:func:`wavedec2` ...): ``(LL, [(cH, cV, cD), ...])`` coarsest level first, views into
  the packed tensor.  ``cH`` is high-pass along H and low-pass along W (pywt key ``'da'``), ``cV`` is
  ``'ad'``, ``cD`` is ``'dd'`` -- pywt's names and order.  3-D levels are dicts with pywt's keys.

Wavelets: ``haar``, ``bior2.2`` (CDF/LeGall 5/3), ``bior4.4`` (CDF 9/7), scaled like PyWavelets, and the
reversible ``int5/3`` of JPEG 2000 on int32 (bitwise lossless).  Modes: ``symmetric`` (JPEG 2000
non-expansive symmetric extension, any size) and ``periodization`` (even sizes at every level; equals
pywt's ``periodization``).  pywt's own ``symmetric`` mode is expansive and differs at the borders.

dtypes: float32, float64, float16 and bfloat16 (computed in float32, rounded once at the end; the fused 2-D
kernels, CPU and CUDA, read and write the half types directly, with no float32 copy of the tensor; Haar, 1-D and
3-D take a float32 copy); int32 for ``int5/3``.
Backward is the adjoint transform, a kernel of its own (in 2-D, on the CPU and on CUDA, the same fused
one-pass-per-level kernel as the forward and inverse, with transposed lifting steps).
"""

from __future__ import annotations

import functools
import itertools

import torch
from torch import Tensor, nn

from .._alloc import allocation, check_size
from .._checks import FLOATS, HALF_DTYPES, check_int
from .._extension import kernel
from . import _reference_dwt as ref
from .wavelets import MODES, LiftingScheme, get_scheme, max_level

__all__ = [
    "dwt",
    "idwt",
    "wavedec",
    "waverec",
    "wavedec2",
    "waverec2",
    "wavedec3",
    "waverec3",
    "DWT2d",
    "IDWT2d",
    "DWT3d",
    "IDWT3d",
]

FORWARD, INVERSE, FORWARD_ADJOINT, INVERSE_ADJOINT = 0, 1, 2, 3
_ADJOINT = {FORWARD: FORWARD_ADJOINT, INVERSE: INVERSE_ADJOINT, FORWARD_ADJOINT: FORWARD, INVERSE_ADJOINT: INVERSE}
_KERNEL_DTYPE = {torch.float32: 0, torch.float64: 1, torch.int32: 2, torch.float16: 3, torch.bfloat16: 4}


# ----------------------------------------------------------------------------------------------------
# Validation


def _check_tensor(x: object, name: str, scheme: LiftingScheme, ndim: int) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if scheme.integer and x.dtype != torch.int32:
        raise TypeError(f"{name}: wavelet 'int5/3' needs an int32 tensor, got {x.dtype}")
    if not scheme.integer and x.dtype not in FLOATS:
        hint = " (use wavelet='int5/3' for integers)" if x.dtype == torch.int32 else ""
        raise TypeError(f"{name} must be float32, float64, float16 or bfloat16, got {x.dtype}{hint}")
    if x.dim() < ndim:
        raise ValueError(f"{name} must have at least {ndim} dims (the transformed axes), got shape {tuple(x.shape)}")
    check_size(x, name, "pywlc.dwt")  # the output has x's shape: say so before torch's allocator fails
    return x


@functools.lru_cache(maxsize=1024)
def _deepest(shape: tuple[int, ...], mode: str) -> int:
    return min((max_level(n, mode) for n in shape), default=0)


def _check_levels(levels: object, shape: tuple[int, ...], mode: str) -> int:
    deepest = _deepest(shape, mode)
    if levels is None:
        return deepest
    levels = check_int(levels, "levels", 0)
    if levels > deepest:
        rule = " with even lengths at every level" if mode == "periodization" else ""
        raise ValueError(f"levels={levels} is too large for spatial size {tuple(shape)}{rule}: at most {deepest}")
    return levels


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------
# Kernel dispatch


def _adjoint_by_vjp(x: Tensor, scheme: LiftingScheme, levels: int, ndim: int, periodic: bool, op: int) -> Tensor:
    """Reference adjoint: the vjp of the (linear) reference map.  Used only without compiled kernels."""
    fn = ref.dwt_packed_reference if op == FORWARD_ADJOINT else ref.idwt_packed_reference
    with torch.enable_grad():
        probe = torch.zeros_like(x, requires_grad=True)
        (grad,) = torch.autograd.grad(fn(probe, scheme, levels, ndim, periodic), probe, x)
    return grad


@functools.cache
def _kernel_scheme(wavelet: str) -> tuple:
    """The scheme as the compiled kernels take it (built once per wavelet: eager calls stay lean)."""
    s = get_scheme(wavelet)
    return s.flat(), s.k_low, s.k_high, s.zero_tail, s.integer


def _reads_half(x: Tensor, wavelet: str, ndim: int) -> bool:
    """Whether the kernel reads and writes ``x``'s half dtype itself, computing in float32 registers without a
    float32 copy of the tensor: in 2-D, the fused CPU kernel (``csrc/dwt/dwt2_fused.h``) and the CUDA tile
    kernel (``csrc/dwt/cuda/dwt2_tile_cuda.cu``), all four maps, every level count (the tile kernel's limit, 32,
    would need both sides >= 2**32).  Each rounds once, so a half result equals the same kernel's float32
    result rounded.  Not Haar: its float32 kernels are the direct 2x2 ones (``haar2_cpu.cpp``,
    ``haar2_cuda.cu``), and half results must equal their rounding.  1-D, 3-D and Haar take a float32 copy."""
    return x.device.type in ("cpu", "cuda") and ndim == 2 and wavelet != "haar"


def _run(x: Tensor, wavelet: str, levels: int, ndim: int, mode: str, op: int) -> Tensor:
    """Apply one of the four lifting maps to ``Tensor[..., *S]`` (validated); returns a new tensor."""
    out_dtype = x.dtype
    launch = kernel("dwt", x)
    if out_dtype in HALF_DTYPES and not (launch is not None and _reads_half(x, wavelet, ndim)):
        x = x.float()  # fp32 arithmetic inside, one rounding at the end
    x = x.contiguous()
    if x.numel() == 0 or levels == 0:
        return x.clone().to(out_dtype)
    if launch is not None:
        shape = x.shape
        dims = [1] * (3 - ndim) + list(shape[len(shape) - ndim :])
        out = torch.empty_like(x)
        launch(
            x.data_ptr(),
            out.data_ptr(),
            _KERNEL_DTYPE[x.dtype],
            x.numel() // (dims[0] * dims[1] * dims[2]),
            dims,
            ndim,
            levels,
            MODES[mode],
            op,
            *_kernel_scheme(wavelet),
        )
        return out if out.dtype == out_dtype else out.to(out_dtype)
    scheme = get_scheme(wavelet)
    periodic = mode == "periodization"
    if op == FORWARD:
        y = ref.dwt_packed_reference(x, scheme, levels, ndim, periodic)
    elif op == INVERSE:
        y = ref.idwt_packed_reference(x, scheme, levels, ndim, periodic)
    else:
        y = _adjoint_by_vjp(x, scheme, levels, ndim, periodic, op)
    return y.to(out_dtype)


@torch.library.custom_op("pywlc::lifting_dwt", mutates_args=())
def lifting_dwt(x: Tensor, wavelet: str, levels: int, ndim: int, mode: str, op: int) -> Tensor:
    """Custom op behind every transform: ``op`` 0 analysis, 1 synthesis, 2 / 3 their adjoints."""
    return _run(x, wavelet, levels, ndim, mode, op)


@lifting_dwt.register_fake
def _(x: Tensor, wavelet: str, levels: int, ndim: int, mode: str, op: int) -> Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _setup_context(ctx, inputs, output) -> None:
    ctx.args = inputs[1:]


def _backward(ctx, grad: Tensor):
    wavelet, levels, ndim, mode, op = ctx.args
    g = torch.ops.pywlc.lifting_dwt(grad, wavelet, levels, ndim, mode, _ADJOINT[op])
    return g, None, None, None, None, None


lifting_dwt.register_autograd(_backward, setup_context=_setup_context)


class _LiftingFn(torch.autograd.Function):
    """Eager path straight to the kernel: a custom-op call costs ~14 us of dispatch, this ~2 us."""

    @staticmethod
    def forward(ctx, x, wavelet, levels, ndim, mode, op):  # noqa: D102
        ctx.args = (wavelet, levels, ndim, mode, op)
        return _run(x, wavelet, levels, ndim, mode, op)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        wavelet, levels, ndim, mode, op = ctx.args
        return _apply(grad, wavelet, levels, ndim, mode, _ADJOINT[op]), None, None, None, None, None


def _apply(x: Tensor, wavelet: str, levels: int, ndim: int, mode: str, op: int) -> Tensor:
    if torch.compiler.is_compiling():
        return torch.ops.pywlc.lifting_dwt(x, wavelet, levels, ndim, mode, op)
    if x.requires_grad and torch.is_grad_enabled():
        return _LiftingFn.apply(x, wavelet, levels, ndim, mode, op)
    return _run(x, wavelet, levels, ndim, mode, op)


# ----------------------------------------------------------------------------------------------------
# Packed API


def dwt(x: Tensor, wavelet: str = "bior4.4", levels: int | None = 1, *, ndim: int = 2, mode: str = "symmetric"):
    """Multi-level DWT over the last ``ndim`` axes, packed layout.

    Args:
        x: ``Tensor[..., H, W]`` (``ndim=2``), ``[..., T, H, W]`` (3) or ``[..., L]`` (1); any leading
            batch dims; float32/64/16, bfloat16, or int32 with ``wavelet='int5/3'``; CPU or CUDA.
        wavelet: ``haar``, ``bior2.2`` (5/3), ``bior4.4`` (9/7) or ``int5/3``.
        levels: J >= 0, or None for the deepest possible.
        mode: ``symmetric`` or ``periodization``.

    Returns:
        ``Tensor`` of ``x``'s shape and dtype (see module doc). Reference: ``dwt_packed_reference``.
    """
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    scheme = get_scheme(wavelet)
    _check_tensor(x, "x", scheme, ndim)
    mode = _check_mode(mode)
    levels = _check_levels(levels, tuple(x.shape[x.dim() - ndim :]), mode)
    with allocation("pywlc.dwt"):
        return _apply(x, scheme.name, levels, ndim, mode, FORWARD)


def idwt(y: Tensor, wavelet: str = "bior4.4", levels: int | None = 1, *, ndim: int = 2, mode: str = "symmetric"):
    """Inverse of :func:`dwt` (same arguments): packed coefficients ``Tensor[..., *S]`` -> signal."""
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    scheme = get_scheme(wavelet)
    _check_tensor(y, "y", scheme, ndim)
    mode = _check_mode(mode)
    levels = _check_levels(levels, tuple(y.shape[y.dim() - ndim :]), mode)
    with allocation("pywlc.idwt"):
        return _apply(y, scheme.name, levels, ndim, mode, INVERSE)


# ----------------------------------------------------------------------------------------------------
# pywt-like API: views into the packed tensor, and assembly back into it


def _level_regions(shape: tuple[int, ...], levels: int) -> list[tuple[int, ...]]:
    regions, cur = [], tuple(shape)
    for _ in range(levels):
        regions.append(cur)
        cur = tuple((s + 1) // 2 for s in cur)
    return regions + [cur]


def _keys(ndim: int) -> list[str]:
    return ["".join(k) for k in itertools.product("ad", repeat=ndim) if "d" in k]


def _band_slices(key: str, region: tuple[int, ...]) -> tuple:
    return (Ellipsis,) + tuple(
        slice(0, (n + 1) // 2) if c == "a" else slice((n + 1) // 2, n) for c, n in zip(key, region, strict=False)
    )


def _unpack(packed: Tensor, levels: int, ndim: int) -> tuple[Tensor, list[dict[str, Tensor]]]:
    regions = _level_regions(tuple(packed.shape[packed.dim() - ndim :]), levels)
    details = [{k: packed[_band_slices(k, r)] for k in _keys(ndim)} for r in regions[:-1]]
    approx = packed[(Ellipsis,) + tuple(slice(0, n) for n in regions[-1])]
    return approx, details[::-1]


def _pack(approx: Tensor, details: list[dict[str, Tensor]], ndim: int, name: str) -> Tensor:
    """Assemble ``(approx, [dict per level, coarsest first])`` into the packed layout, checking shapes."""
    if not isinstance(approx, Tensor):
        raise TypeError(f"{name}[0] must be a torch.Tensor, got {type(approx).__name__}")
    batch = approx.shape[: approx.dim() - ndim]
    size = list(approx.shape[approx.dim() - ndim :])
    regions = []
    for lvl, bands in enumerate(details):
        full = "d" * ndim
        if set(bands) != set(_keys(ndim)) or not all(isinstance(t, Tensor) for t in bands.values()):
            raise ValueError(f"{name}: level {lvl} must hold tensors for {_keys(ndim)}")
        dd = bands[full]
        region = [a + d for a, d in zip(size, dd.shape[dd.dim() - ndim :], strict=False)]
        if any((n + 1) // 2 != a for n, a in zip(region, size, strict=False)):
            raise ValueError(f"{name}: level {lvl} detail shape {tuple(dd.shape)} does not fit approximation {size}")
        for k, t in bands.items():
            want = tuple(batch) + tuple(((n + 1) // 2 if c == "a" else n // 2) for c, n in zip(k, region, strict=False))
            if tuple(t.shape) != want:
                raise ValueError(f"{name}: level {lvl} band {k!r} has shape {tuple(t.shape)}, expected {want}")
            if t.device != approx.device or t.dtype != approx.dtype:
                raise ValueError(
                    f"{name}: level {lvl} band {k!r} is {t.dtype} on {t.device}, "
                    f"expected {approx.dtype} on {approx.device}"
                )
        regions.append(tuple(region))
        size = region
    out = approx.new_empty(tuple(batch) + tuple(size))
    out[(Ellipsis,) + tuple(slice(0, n) for n in approx.shape[approx.dim() - ndim :])] = approx
    for bands, region in zip(details, regions, strict=False):
        for k, t in bands.items():
            out[_band_slices(k, region)] = t
    return out


_KEYS2 = ("da", "ad", "dd")  # pywt's (cH, cV, cD)


def wavedec2(x: Tensor, wavelet: str = "bior4.4", level: int | None = None, mode: str = "symmetric"):
    """pywt-style 2-D decomposition of ``Tensor[..., H, W]``: ``(LL, [(cH, cV, cD) coarsest first])``."""
    packed = dwt(x, wavelet, level, ndim=2, mode=mode)
    levels = _check_levels(level, tuple(x.shape[-2:]), mode)
    approx, details = _unpack(packed, levels, 2)
    return approx, [tuple(d[k] for k in _KEYS2) for d in details]


def waverec2(coeffs, wavelet: str = "bior4.4", mode: str = "symmetric") -> Tensor:
    """Inverse of :func:`wavedec2`: ``(LL, [(cH, cV, cD), ...])`` -> ``Tensor[..., H, W]``."""
    approx, details = _split_coeffs(coeffs, "coeffs")
    for lvl, d in enumerate(details):
        if not isinstance(d, tuple | list) or len(d) != 3:
            raise ValueError(f"coeffs: level {lvl} must be a (cH, cV, cD) tuple")
    packed = _pack(approx, [dict(zip(_KEYS2, d, strict=False)) for d in details], 2, "coeffs")
    return idwt(packed, wavelet, len(details), ndim=2, mode=mode)


def wavedec3(x: Tensor, wavelet: str = "bior4.4", level: int | None = None, mode: str = "symmetric"):
    """3-D decomposition of ``Tensor[..., T, H, W]``: ``(LLL, [{'aad': ..., ...} coarsest first])``."""
    packed = dwt(x, wavelet, level, ndim=3, mode=mode)
    levels = _check_levels(level, tuple(x.shape[-3:]), mode)
    return _unpack(packed, levels, 3)


def waverec3(coeffs, wavelet: str = "bior4.4", mode: str = "symmetric") -> Tensor:
    """Inverse of :func:`wavedec3`."""
    approx, details = _split_coeffs(coeffs, "coeffs")
    packed = _pack(approx, [dict(d) for d in details], 3, "coeffs")
    return idwt(packed, wavelet, len(details), ndim=3, mode=mode)


def wavedec(x: Tensor, wavelet: str = "bior4.4", level: int | None = None, dim: int = -1, mode: str = "symmetric"):
    """1-D decomposition along ``dim``: ``(cA, [cD coarsest first])``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    xm = x.movedim(dim, -1)
    packed = dwt(xm, wavelet, level, ndim=1, mode=mode)
    levels = _check_levels(level, (xm.shape[-1],), mode)
    approx, details = _unpack(packed, levels, 1)
    return approx.movedim(-1, dim), [d["d"].movedim(-1, dim) for d in details]


def waverec(coeffs, wavelet: str = "bior4.4", dim: int = -1, mode: str = "symmetric") -> Tensor:
    """Inverse of :func:`wavedec`."""
    approx, details = _split_coeffs(coeffs, "coeffs")
    packed = _pack(approx.movedim(dim, -1), [{"d": d.movedim(dim, -1)} for d in details], 1, "coeffs")
    return idwt(packed, wavelet, len(details), ndim=1, mode=mode).movedim(-1, dim)


def _split_coeffs(coeffs, name: str):
    if not isinstance(coeffs, tuple | list) or len(coeffs) != 2 or not isinstance(coeffs[1], tuple | list):
        raise TypeError(f"{name} must be (approx, [details per level, coarsest first])")
    return coeffs[0], list(coeffs[1])


# ----------------------------------------------------------------------------------------------------
# Modules


class _DWTBase(nn.Module):
    ndim = 2

    def __init__(self, wavelet: str = "bior4.4", levels: int = 1, mode: str = "symmetric", packed: bool = False):
        super().__init__()
        self.wavelet = get_scheme(wavelet).name
        self.levels = levels
        self.mode = _check_mode(mode)
        self.packed = packed

    def extra_repr(self) -> str:
        return f"wavelet={self.wavelet!r}, levels={self.levels}, mode={self.mode!r}, packed={self.packed}"


class DWT2d(_DWTBase):
    """``Tensor[N, C, H, W]`` -> packed tensor, or ``(LL, [(cH, cV, cD) coarsest first])``."""

    def forward(self, x: Tensor):
        if self.packed:
            return dwt(x, self.wavelet, self.levels, ndim=2, mode=self.mode)
        return wavedec2(x, self.wavelet, self.levels, self.mode)


class IDWT2d(_DWTBase):
    """Inverse of :class:`DWT2d` with the same settings."""

    def forward(self, coeffs):
        if self.packed:
            return idwt(coeffs, self.wavelet, self.levels, ndim=2, mode=self.mode)
        return waverec2(coeffs, self.wavelet, self.mode)


class DWT3d(_DWTBase):
    """``Tensor[N, C, T, H, W]`` -> packed tensor, or ``(LLL, [dict of 7 bands, coarsest first])``."""

    def forward(self, x: Tensor):
        if self.packed:
            return dwt(x, self.wavelet, self.levels, ndim=3, mode=self.mode)
        return wavedec3(x, self.wavelet, self.levels, self.mode)


class IDWT3d(_DWTBase):
    """Inverse of :class:`DWT3d` with the same settings."""

    def forward(self, coeffs):
        if self.packed:
            return idwt(coeffs, self.wavelet, self.levels, ndim=3, mode=self.mode)
        return waverec3(coeffs, self.wavelet, self.mode)
