"""Pure-torch twins of the compiled ops: readable, differentiable by autograd, slow.

They are the test oracle and the fallback where ``pywlc._C`` lacks a kernel.  Each function mirrors one
public op and documents the same layout; see ``pywlc/ops/wavelets.py`` for the lifting conventions.
"""

from __future__ import annotations

import torch

from .wavelets import PREDICT, LiftingScheme

__all__ = ["lift_forward_1d", "lift_inverse_1d", "dwt_packed_reference", "idwt_packed_reference"]

_INT32_WRAP = 1 << 32


def _wrap_int32(v: torch.Tensor) -> torch.Tensor:
    """int64 -> int32 modulo 2^32 (two's complement), so integer lifting is invertible for every input."""
    return (((v + (1 << 31)) % _INT32_WRAP) - (1 << 31)).to(torch.int32)


def _neighbours(src: torch.Tensor, count: int, offset: int, dim: int, periodic: bool, zero_tail: bool):
    """``src[i + offset]`` for ``i in range(count)`` along ``dim``, with the boundary rule applied.

    Returns ``(values, valid)``; ``valid`` is None unless a missing neighbour must contribute 0 (Haar).
    """
    n = src.shape[dim]
    i = torch.arange(count, device=src.device) + offset
    valid = None
    if periodic:
        idx = i % n
    else:
        if zero_tail:
            valid = ((i >= 0) & (i < n)).to(src.dtype)
            shape = [1] * src.dim()
            shape[dim] = count
            valid = valid.view(shape)
        idx = i.clamp(0, n - 1)
    return src.index_select(dim, idx), valid


def _step_delta(scheme: LiftingScheme, kind: int, a: float, b: float, target, source, dim, periodic):
    """The increment a lifting step adds to ``target`` (Daubechies & Sweldens 1998, eq. 5.4)."""
    count = target.shape[dim]
    first, second = (0, 1) if kind == PREDICT else (-1, 0)
    s0, v0 = _neighbours(source, count, first, dim, periodic, scheme.zero_tail)
    s1, v1 = _neighbours(source, count, second, dim, periodic, scheme.zero_tail)
    if scheme.integer:
        # T.800 eq. F-5/F-6: predict -floor((e0+e1)/2), update +floor((o0+o1+2)/4); 64-bit sums.
        total = s0.long() + s1.long()
        return (
            -torch.div(total, 2, rounding_mode="floor")
            if kind == PREDICT
            else torch.div(total + 2, 4, rounding_mode="floor")
        )
    t0 = a * s0 if v0 is None else a * s0 * v0
    t1 = b * s1 if v1 is None else b * s1 * v1
    return t0 + t1


def _apply(scheme, target, delta, sign):
    if scheme.integer:
        return _wrap_int32(target.long() + sign * delta)
    return target + sign * delta


def lift_forward_1d(x: torch.Tensor, scheme: LiftingScheme, periodic: bool, dim: int) -> torch.Tensor:
    """One analysis level along ``dim``: ``Tensor[..., n, ...] -> [low (ceil n/2) | high (floor n/2)]``."""
    e = x.index_select(dim, torch.arange(0, x.shape[dim], 2, device=x.device))
    o = x.index_select(dim, torch.arange(1, x.shape[dim], 2, device=x.device))
    for kind, a, b in scheme.steps:
        if kind == PREDICT:
            o = _apply(scheme, o, _step_delta(scheme, kind, a, b, o, e, dim, periodic), 1)
        else:
            e = _apply(scheme, e, _step_delta(scheme, kind, a, b, e, o, dim, periodic), 1)
    if not scheme.integer:
        e = e * scheme.k_low
        o = o * scheme.k_high
    return torch.cat([e, o], dim)


def lift_inverse_1d(y: torch.Tensor, scheme: LiftingScheme, periodic: bool, dim: int) -> torch.Tensor:
    """Inverse of :func:`lift_forward_1d`: ``[low | high]`` along ``dim`` back to interleaved samples."""
    n = y.shape[dim]
    ne = (n + 1) // 2
    e, o = y.narrow(dim, 0, ne), y.narrow(dim, ne, n - ne)
    if not scheme.integer:
        e = e / scheme.k_low
        o = o / scheme.k_high
    for kind, a, b in reversed(scheme.steps):
        if kind == PREDICT:
            o = _apply(scheme, o, _step_delta(scheme, kind, a, b, o, e, dim, periodic), -1)
        else:
            e = _apply(scheme, e, _step_delta(scheme, kind, a, b, e, o, dim, periodic), -1)
    out = torch.empty_like(y)
    out.index_copy_(dim, torch.arange(0, n, 2, device=y.device), e)
    out.index_copy_(dim, torch.arange(1, n, 2, device=y.device), o)
    return out


def _regions(shape: tuple[int, ...], levels: int) -> list[tuple[int, ...]]:
    """Spatial size of the region transformed at each level (the LL of the level before)."""
    regions, cur = [], tuple(shape)
    for _ in range(levels):
        regions.append(cur)
        cur = tuple((s + 1) // 2 for s in cur)
    return regions


def _with_region(y: torch.Tensor, region: tuple[int, ...], fn) -> torch.Tensor:
    """Apply ``fn`` to ``y[..., :r0, :r1, ...]`` out of place (keeps autograd clean)."""
    index = (Ellipsis,) + tuple(slice(0, r) for r in region)
    sub = fn(y[index])
    y = y.clone()
    y[index] = sub
    return y


def dwt_packed_reference(x: torch.Tensor, scheme: LiftingScheme, levels: int, ndim: int, periodic: bool):
    """Multi-level DWT over the last ``ndim`` dims in the packed (Mallat) layout, ``Tensor[..., *S]``.

    Each level transforms the current low-pass region along every axis, first axis first (JPEG 2000
    applies the vertical filter before the horizontal one, T.800 F.3.2), lows before highs per axis.
    """
    dims = list(range(x.dim() - ndim, x.dim()))
    y = x
    for region in _regions(x.shape[-ndim:], levels):

        def level(sub):
            for d in dims:
                sub = lift_forward_1d(sub, scheme, periodic, d)
            return sub

        y = _with_region(y, region, level)
    return y


def idwt_packed_reference(y: torch.Tensor, scheme: LiftingScheme, levels: int, ndim: int, periodic: bool):
    """Inverse of :func:`dwt_packed_reference`: coarsest level first, axes in reverse order."""
    dims = list(range(y.dim() - ndim, y.dim()))
    for region in reversed(_regions(y.shape[-ndim:], levels)):

        def level(sub):
            for d in reversed(dims):
                sub = lift_inverse_1d(sub, scheme, periodic, d)
            return sub

        y = _with_region(y, region, level)
    return y
