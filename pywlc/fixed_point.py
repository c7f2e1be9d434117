"""Fixed-point evaluation of float networks: the same bits on every device, thread count and batch.

A learned codec's decoder recomputes the entropy model's parameters (Gaussian means and scales, Laplace scales)
from already decoded data.  With float convolutions the summation order depends on the device, the conv algorithm
and the thread count, so a parameter can differ by an ulp between encoder and decoder, a quantised scale or a
rounding flips, and the entropy decoder reads garbage.  Ballé, Johnston & Minnen ("Integer networks for data
compression with latent-variable models", ICLR 2019) fix this with trained integer networks; here trained float
networks are evaluated *post training* in fixed point instead, which needs no retraining:

* IEEE float64 arithmetic on integers is exact while every partial sum stays below 2^53, so a float64 conv of
  integer-valued tensors gives the same bits in any summation order (BLAS blocking, cuBLAS split-K, threads).
* Before every conv the activation is put on the grid 2^-FA (``round(x 2^FA)``, clamped to ±2^(FA+RA)), and
  each output channel's weights on a grid 2^-FW_c, FW_c as fine as the 2^52 accumulator bound allows (chosen
  by exact integer checks, see :func:`quantize_weights`): the accumulator is an exact integer.
* Elementwise IEEE ``+ - * /`` and ``sqrt`` are correctly rounded on every CPU and GPU, so they are used freely
  as separate torch ops (separate kernels: no FMA contraction).  Transcendental functions are not (libm, CUDA
  and SLEEF differ), so GELU and tanh are piecewise-linear tables whose knots are computed in exact Python
  arithmetic (:mod:`pywlc._fixed_point_tables`) and interpolated in exact integer arithmetic.
* The convs are plain GEMMs (:func:`default_conv2d`), never cuDNN: Winograd and FFT algorithms transform the
  operands with non-integer coefficients, which would round.  GEMMs only multiply and add.  (cuBLAS's opt-in
  FP64 emulation on integer tensor cores must stay off: it is not IEEE FP64 arithmetic.)

Needs torch only (no CompressAI): the wavelet codec uses it directly; :mod:`pywlc.models.exact` adds the
CompressAI layers (GDN, residual blocks) and WeConvene's blocks on top.  Tests swap the integer conv by patching
``pywlc.fixed_point.conv_impl``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _fixed_point_tables as _tables

__all__ = [
    "ACC_BITS",
    "FA",
    "GDN_RA",
    "MAX_WEIGHT_BITS",
    "MIN_WEIGHT_BITS",
    "RA",
    "Prepared",
    "conv_impl",
    "conv_params",
    "default_conv2d",
    "exact_conv2d",
    "exact_gelu",
    "exact_tanh",
    "haar_merge_exact",
    "haar_split_exact",
    "on_grid",
    "prepared",
    "quantize_weights",
    "scrambled_conv2d",
    "to_grid",
]

FA = 16  # activations on the grid 2^-16 (1.5e-5) ...
RA = 12  # ... with |x| <= 4096: an activation integer has at most 28 bits
GDN_RA = 8  # GDN inputs |x| <= 256, so that x^2 on the 2^-FA grid stays within 2^(FA + 16) = 2^32
ACC_BITS = 52  # |accumulator| < 2^52: exact in float64 with a factor 2 to spare
MAX_WEIGHT_BITS = 24  # finer weights than float32's 24 bits would be pointless
MIN_WEIGHT_BITS = 10  # a layer whose largest weight would keep fewer bits is refused
_FW_CAP = 48


def to_grid(x: Tensor, ra: int = RA) -> Tensor:
    """``Tensor[...]`` -> the integers ``clamp(round(x 2^FA), ±2^(FA+ra))`` as float64 (both steps exact)."""
    lim = 2.0 ** (FA + ra)
    return (x.double() * 2.0**FA).round_().clamp_(-lim, lim)


def on_grid(x: Tensor, ra: int = RA) -> Tensor:
    """``Tensor[...]`` -> its grid values ``to_grid(x, ra) 2^-FA`` (float64)."""
    return to_grid(x, ra).mul_(2.0**-FA)


def default_conv2d(a: Tensor, w: Tensor, stride: tuple[int, int], padding: tuple[int, int]) -> Tensor:
    """Integer-valued float64 ``a: Tensor[N, C, H, W]``, ``w: Tensor[O, C, kh, kw]`` -> ``Tensor[N, O, H', W']``.

    Stride 1 (all the entropy networks): one GEMM per kernel tap over the zero-padded input flattened to
    ``[C, N (H+2p) (W+2p)]``, tap (i, j) reading it shifted by ``i (W+2p) + j`` columns (a strided view, no
    im2col copy); the outputs at the padded border columns/rows are computed and dropped.  On the CPU this is
    1.5-2x faster than float64 ``F.conv2d`` (im2col + gemm), and it is the same GEMM on CUDA, where cuDNN never
    gets to pick a Winograd/FFT algorithm (those round).  Other strides: ``F.conv2d`` with cuDNN disabled.
    """
    if tuple(stride) != (1, 1):
        with torch.backends.cudnn.flags(enabled=False):
            return F.conv2d(a, w, None, stride, padding)
    n, c, h, wd = a.shape
    o, _, kh, kw = w.shape
    ph, pw = padding
    if kh == kw == 1 and ph == pw == 0:  # a 1x1 layer is one GEMM over the pixels, without the padded copy
        if n == 1:
            return (w.reshape(o, c) @ a.reshape(c, h * wd)).view(1, o, h, wd)
        out = w.reshape(o, c) @ a.transpose(0, 1).reshape(c, n * h * wd)
        return out.view(o, n, h, wd).transpose(0, 1).contiguous()
    hp, wp = h + 2 * ph, wd + 2 * pw
    length = n * hp * wp
    buf = a.new_zeros(c, length + (kh - 1) * wp + kw - 1)  # zero tail: the last taps' views stay in range
    buf[:, :length].view(c, n, hp, wp)[:, :, ph : ph + h, pw : pw + wd] = a.transpose(0, 1)
    taps = w.permute(2, 3, 0, 1).reshape(kh * kw, o, c)
    out = taps[0] @ buf[:, :length]
    for t in range(1, kh * kw):
        off = (t // kw) * wp + t % kw
        out.addmm_(taps[t], buf[:, off : off + length])
    return out.view(o, n, hp, wp)[:, :, : hp - kh + 1, : wp - kw + 1].transpose(0, 1).contiguous()


def scrambled_conv2d(a: Tensor, w: Tensor, stride: tuple[int, int], padding: tuple[int, int], seed: int = 0) -> Tensor:
    """:func:`default_conv2d` by unfold + matmul with the reduction permuted and summed in uneven chunks.

    Another summation order than any conv kernel's (for the tests): on integer operands it must give the same bits.
    """
    n, _, h, wd = a.shape
    o, _, kh, kw = w.shape
    cols = F.unfold(a, (kh, kw), padding=padding, stride=stride)  # [N, C kh kw, L]
    g = torch.Generator().manual_seed(seed)
    k = cols.shape[1]
    perm = torch.randperm(k, generator=g).to(a.device)
    cols, wm = cols[:, perm], w.reshape(o, k)[:, perm]
    cuts = [0, *sorted(torch.randperm(k - 1, generator=g)[: min(3, k - 1)].add(1).tolist()), k]
    out = None
    for lo, hi in reversed(list(zip(cuts[:-1], cuts[1:], strict=True))):  # last chunk first
        part = wm[:, lo:hi] @ cols[:, lo:hi]
        out = part if out is None else part + out
    ho = (h + 2 * padding[0] - kh) // stride[0] + 1
    wo = (wd + 2 * padding[1] - kw) // stride[1] + 1
    return out.reshape(n, o, ho, wo)


# The integer conv of every exact layer (here and in pywlc.models.exact); tests swap in scrambled_conv2d here.
conv_impl: Callable[[Tensor, Tensor, tuple[int, int], tuple[int, int]], Tensor] = default_conv2d


def quantize_weights(
    weight: Tensor, bias: Tensor | None, in_max: int, name: str = "conv"
) -> tuple[Tensor, Tensor, Tensor]:
    """Fixed-point weights of a layer whose inputs are integers of at most ``in_max`` (on the grid 2^-FA).

    Per output channel c: the largest ``FW_c`` (``MAX_WEIGHT_BITS`` for its largest weight at most) with
    ``sum_k |w_q[c, k]| in_max + |b_q[c]| < 2^52``, where ``w_q = round(w 2^FW_c)``, ``b_q = round(b 2^(FA+FW_c))``.
    The check is on exact integers (computed on the CPU), so the choice is the same on every machine.

    Args:
        weight: ``Tensor[O, C, kh, kw]``; bias: ``Tensor[O]`` or None.
    Returns:
        ``(w_q, b_q, scale)``: float64 ``Tensor[O, C, kh, kw]``, ``Tensor[O]`` of integers and ``Tensor[O]`` of
        ``2^-(FA + FW_c)``, the factor that turns the integer accumulator into the output.
    Raises:
        ValueError: when some channel would keep fewer than ``MIN_WEIGHT_BITS`` bits for its largest weight.
    """
    w = weight.detach().to("cpu", torch.float64).reshape(weight.shape[0], -1)
    k = w.shape[1]
    if k * in_max >= 2**50:  # the search below relies on it (and real layers are far from it)
        raise ValueError(f"{name} {tuple(weight.shape)}: {k} inputs per output are too many for exact evaluation")
    b = torch.zeros(w.shape[0], dtype=torch.float64) if bias is None else bias.detach().to("cpu", torch.float64)
    absw, absb = w.abs(), b.abs()  # round() is odd-symmetric: |round(v)| = round(|v|)
    peak = absw.amax(dim=1)
    cap = (MAX_WEIGHT_BITS - torch.frexp(peak).exponent).clamp(max=_FW_CAP)  # peak 2^fw < 2^MAX_WEIGHT_BITS
    # Since |round(v/2)| <= |round(v)|/2 + 3/4 and k in_max < 2^50, a grid that passes the exact check below
    # makes every coarser one pass: the answer is the finest passing FW_c <= cap, whatever FW_c the search
    # starts from above it.  Start one above the float estimate (sum|round(w 2^f)| >= 2^f sum|w| - k/2), which
    # is >= the answer whatever the last bits of the float sum; usually one or two exact checks follow.
    start = torch.floor(torch.log2((2.0**ACC_BITS / in_max + k / 2) / absw.sum(dim=1))) + 1
    fw = torch.minimum(cap, start.clamp(max=_FW_CAP).long())
    rows = torch.arange(w.shape[0])  # rows to (re)check: all, then those that failed
    while rows.numel():
        sub = absw if rows.numel() == w.shape[0] else absw[rows]
        p = _pow2(fw[rows])
        # sum of integers < 2^24 over k < 2^22 terms: < 2^46, exact in float64 in any order.
        total = (sub * p[:, None]).round_().sum(dim=1)
        ok = total * in_max + (absb[rows] * p * 2.0**FA).round_() < 2.0**ACC_BITS
        fw[rows[~ok]] -= 1
        rows = rows[~ok]
    p = _pow2(fw)
    w_q, b_q = (w * p[:, None]).round_(), (b * p * 2.0**FA).round_()
    bits = torch.log2(peak * p).floor()
    weak = (peak > 0) & (bits < MIN_WEIGHT_BITS)
    if bool(weak.any()):
        c = int(weak.nonzero()[0])
        raise ValueError(
            f"{name} {tuple(weight.shape)} cannot be evaluated exactly: output channel {c} (sum |w| = "
            f"{float(w[c].abs().sum()):.4g}) with inputs up to {in_max * 2.0**-FA:g} leaves {int(bits[c])} < "
            f"{MIN_WEIGHT_BITS} bits for its largest weight within the 2^{ACC_BITS} accumulator"
        )
    return w_q.reshape(weight.shape), b_q, p.reciprocal() * 2.0**-FA


def _pow2(e: Tensor) -> Tensor:
    """``2.0**e`` for integer ``e: Tensor[K]``, from Python's exact ``ldexp`` (not an exp2/ldexp kernel)."""
    return torch.tensor([math.ldexp(1.0, f) for f in e.tolist()], dtype=torch.float64)


Prepared = tuple[Tensor, Tensor, Tensor]
_cache: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, Prepared]] = weakref.WeakKeyDictionary()


def prepared(module: nn.Module, params: list[Tensor], make: Callable[[], Prepared], device) -> Prepared:
    """``make()`` cached per module, invalidated when a parameter changes (in place or replaced) or the device."""
    # Inference tensors have no version counter (and cannot be changed in place outside inference mode).
    key = (str(device), *((-1 if p.is_inference() else p._version, p.data_ptr(), p.device) for p in params))
    hit = _cache.get(module)
    if hit is not None and hit[0] == key:
        return hit[1]
    out = tuple(t.to(device) for t in make())
    _cache[module] = (key, out)
    return out


def conv_params(m: nn.Conv2d, device) -> Prepared:
    """``(w_q, b_q, scale)`` of :func:`quantize_weights` for ``m``, cached, on ``device``."""
    if m.groups != 1 or m.padding_mode != "zeros" or m.dilation != (1, 1) or isinstance(m.padding, str):
        raise TypeError(f"exact_forward supports Conv2d with groups=1, dilation 1, numeric zero padding: {m}")
    params = [m.weight] + ([] if m.bias is None else [m.bias])
    return prepared(m, params, lambda: quantize_weights(m.weight, m.bias, 2 ** (FA + RA), repr(m)), device)


def exact_conv2d(m: nn.Conv2d, x: Tensor, channels: Tensor | None = None) -> Tensor:
    """``m(x)`` for ``x: Tensor[N, C, H, W]`` in fixed point (float64 out): the same bits on any device.

    ``channels``: the input channels that can be nonzero (int64); the others are skipped -- the same integer
    sums, so the same bits, for fewer multiplications.
    """
    w_q, b_q, scale = conv_params(m, x.device)
    if channels is not None:
        x, w_q = x[:, channels], w_q[:, channels]
    # In place on the fresh accumulator: CPU allocations of large buffers cost as much as the ops.
    return conv_impl(to_grid(x), w_q, m.stride, m.padding).add_(b_q[:, None, None]).mul_(scale[:, None, None])


_knots: dict[tuple[str, str], tuple[Tensor, Tensor]] = {}


def _table(name: str, device) -> tuple[Tensor, Tensor]:
    """``(t[k] 2^d, t[k+1] - t[k])`` per knot interval k, float64 integers (|t| < 2^43: exact)."""
    key = (name, str(device))
    if key not in _knots:
        ints = _tables.gelu_knots() if name == "gelu" else _tables.tanh_knots()
        t = torch.tensor(ints, dtype=torch.float64, device=device)
        _knots[key] = (t[:-1] * 2.0 ** (FA - _tables.STEP_BITS), t[1:] - t[:-1])
    return _knots[key]


def _interpolate(a: Tensor, name: str, limit: int) -> Tensor:
    """Piecewise-linear table at grid integers ``a`` (clamped to [-limit, limit)), exact float64 integer arithmetic.

    With ``d = FA - STEP_BITS`` (7): ``j = floor(a 2^-d)``, ``f = a - j 2^d`` in [0, 2^d), and
    ``t[j] 2^d + (t[j+1] - t[j]) f`` is an integer below 2^43 2^7 + 2^32 2^7 < 2^51 (|t| < 2^43, slope <= 1.13);
    the result is that integer times 2^-(KNOT_BITS + d).
    """
    d = FA - _tables.STEP_BITS
    base, slope = _table(name, a.device)
    lim = limit * 2.0**FA
    # Every value below is an integer under 2^53, so in-place and fused (FMA) kernels cannot round anything.
    a = a.clamp(-lim, lim - 1)  # the last interval ends just below x = limit: j needs no clamp
    j = (a * 2.0**-d).floor_()
    f = a.sub_(j * 2.0**d)
    k = j.long().add_(limit << _tables.STEP_BITS)
    return base[k].addcmul_(slope[k], f).mul_(2.0 ** -(_tables.KNOT_BITS + d))


@torch.no_grad()
def exact_gelu(x: Tensor) -> Tensor:
    """GELU (erf form) of ``x`` on the activation grid (x itself from 8 up): |error| < 4e-7, same bits everywhere.

    ``x: Tensor[...]`` -> float64 ``Tensor[...]``.
    """
    x = x.double()
    a = (x * 2.0**FA).round_()
    return torch.where(a >= _tables.GELU_RANGE * 2.0**FA, x, _interpolate(a, "gelu", _tables.GELU_RANGE))


@torch.no_grad()
def exact_tanh(x: Tensor) -> Tensor:
    """tanh of ``x`` on the activation grid: |error| < 4e-7, same bits everywhere.  float64 ``Tensor[...]``."""
    return _interpolate((x.double() * 2.0**FA).round_(), "tanh", _tables.TANH_RANGE)


def haar_split_exact(x: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`~pywlc.models.weconv.haar_split` of grid values ``Tensor[N, C, H, W]`` by exact float64 ops."""
    a, b, c, d = x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    ll = (((a + b) + c) + d) * 0.5
    c_h = (((a + b) - c) - d) * 0.5
    c_v = (((a - b) + c) - d) * 0.5
    c_d = (((a - b) - c) + d) * 0.5
    return ll, torch.cat([c_h, c_v, c_d], dim=1)


def haar_merge_exact(ll: Tensor, hf: Tensor) -> Tensor:
    """:func:`~pywlc.models.weconv.haar_merge` of grid values by exact float64 ops -> ``Tensor[N, C, 2h, 2w]``."""
    c_h, c_v, c_d = hf.chunk(3, dim=1)
    a = (((ll + c_h) + c_v) + c_d) * 0.5
    b = (((ll + c_h) - c_v) - c_d) * 0.5
    c = (((ll - c_h) + c_v) - c_d) * 0.5
    d = (((ll - c_h) - c_v) + c_d) * 0.5
    top = torch.stack([a, b], dim=-1).flatten(-2)  # [N, C, h, 2w]: a b a b ...
    bottom = torch.stack([c, d], dim=-1).flatten(-2)
    return torch.stack([top, bottom], dim=-2).flatten(-3, -2)
