"""Contexts of the learned subband entropy model: level layout, polyphase passes and exact input features.

Every level's three detail bands (H, V, D) are zero-padded to one even grid ``[2 Hq, 2 Wq]`` and split into
four polyphase components (space-to-depth), each ``[Hq, Wq]``: component ``2 dy + dx`` holds the samples at
``(2i + dy, 2j + dx)``.  The coarser level's bands have exactly the ``[Hq, Wq]`` size (a band's parent at
``(i, j)`` covers the 2x2 block of its children), so parents align with the quarter grid without resampling.

Decoding order inside a level (after all coarser levels): the luma group (Y, or the only channel), then the
chroma group (Cb and Cr together, conditioned on the whole luma level); inside a group four parallel passes,
one polyphase component each, for all channels and orientations at once, in the order of :data:`PASS_PHASES`
((0,0), (1,1), (0,1), (1,0): the second pass sees its four diagonal neighbours, the last two their four
direct neighbours -- the four-step parallel context of pWave++, a refinement of He et al.'s checkerboard).

Features are ``log2(1 + min(|q|, 255))`` on the 2^-16 grid, from an integer table computed with
:mod:`decimal` (correctly rounded by specification, unlike libm), so the encoder and any decoder feed the
networks the same numbers.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "FEATURE_CLIP",
    "PASS_PHASES",
    "band_mask",
    "cond_planes",
    "depth_to_space",
    "grid_of_shapes",
    "level_grid",
    "magnitude",
    "pad_level",
    "pass_mask",
    "phase_view",
    "signed_features",
    "space_to_depth",
    "stack_bands",
    "unpad_level",
]

PASS_PHASES = (0, 3, 1, 2)  # polyphase components (2 dy + dx) decoded by passes 0..3
FEATURE_CLIP = 255
_FEATURE_BITS = 16


@cache
def _log_table() -> tuple[int, ...]:
    """``round(log2(1 + v) 2^16)`` for v = 0..255, exactly (decimal ln at 40 digits)."""
    with localcontext() as ctx:
        ctx.prec = 40
        ln2 = Decimal(2).ln()
        return tuple(int(((Decimal(1 + v).ln() / ln2) * (1 << _FEATURE_BITS)).to_integral_value()) for v in range(256))


_tables: dict[tuple[str, torch.dtype], Tensor] = {}


def magnitude(q: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """``log2(1 + min(|q|, 255))`` of integer ``q: Tensor[...]`` on the 2^-16 grid (exact in float32/64)."""
    key = (str(q.device), dtype)
    if key not in _tables:
        t = torch.tensor(_log_table(), dtype=torch.float64) * 2.0**-_FEATURE_BITS
        _tables[key] = t.to(device=q.device, dtype=dtype)
    return _tables[key][q.abs().clamp_(max=FEATURE_CLIP).long()]


def signed_features(q: Tensor, dtype: torch.dtype = torch.float32, mag: Tensor | None = None) -> Tensor:
    """Signed features of integer ``q: Tensor[...]`` for the mean nets: ``Tensor[2, ...]`` holding
    ``sign(q) log2(1 + min(|q|, 255))`` (:func:`magnitude` with the sign) and ``clamp(q / 64, -4, 4)`` -- the first
    resolves small values, the second keeps large ones linear (a mean is mostly a linear prediction from the
    neighbours).  Both are exact dyadic values in float32/64, so encoder and decoder feed the same numbers.
    ``mag``: ``magnitude(q, dtype)`` if the caller has it."""
    m = magnitude(q, dtype) if mag is None else mag
    return torch.stack([torch.where(q < 0, -m, m), (q.to(dtype) / 64).clamp_(-4, 4)])


def level_grid(bands: tuple[Tensor, Tensor, Tensor]) -> tuple[int, int]:
    """``(Hq, Wq)`` of a level from its bands ``(cH [.., floor(h/2), ceil(w/2)], cV [.., ceil, floor], cD)``."""
    return grid_of_shapes([tuple(b.shape[-2:]) for b in bands])


def grid_of_shapes(shapes: list[tuple[int, int]]) -> tuple[int, int]:
    """:func:`level_grid` from the bands' ``(h, w)`` alone."""
    return (shapes[1][0] + 1) // 2, (shapes[0][1] + 1) // 2


def stack_bands(bands: tuple[Tensor, Tensor, Tensor], h: int, w: int) -> Tensor:
    """Stack the three bands ``Tensor[N, C, h_o, w_o]`` zero-padded into ``Tensor[N, C, 3, h, w]``."""
    return torch.stack([F.pad(b, (0, w - b.shape[-1], 0, h - b.shape[-2])) for b in bands], 2)


def pad_level(bands: tuple[Tensor, Tensor, Tensor], grid: tuple[int, int]) -> Tensor:
    """Stack the three bands ``Tensor[N, C, h_o, w_o]`` zero-padded into ``Tensor[N, C, 3, 2 Hq, 2 Wq]``."""
    return stack_bands(bands, 2 * grid[0], 2 * grid[1])


def unpad_level(x: Tensor, shapes: list[tuple[int, int]]) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse of :func:`pad_level`: ``Tensor[N, C, 3, 2Hq, 2Wq]`` -> three bands of the given ``(h, w)``."""
    return tuple(x[:, :, o, : h, : w] for o, (h, w) in enumerate(shapes))  # type: ignore[return-value]


def valid_mask(shapes: list[tuple[int, int]], grid: tuple[int, int], device=None) -> Tensor:
    """``bool Tensor[3, 2Hq, 2Wq]``: True where a band has a sample (False in the zero padding)."""
    return band_mask(shapes, 2 * grid[0], 2 * grid[1], device)


def band_mask(shapes: list[tuple[int, int]], h: int, w: int, device=None) -> Tensor:
    """``bool Tensor[3, h, w]``: True where each orientation's band (zero-padded to ``(h, w)``) has a sample."""
    m = torch.zeros(3, h, w, dtype=torch.bool, device=device)
    for o, (bh, bw) in enumerate(shapes):
        m[o, :bh, :bw] = True
    return m


def space_to_depth(x: Tensor) -> Tensor:
    """``Tensor[..., 2Hq, 2Wq]`` -> ``Tensor[..., 4, Hq, Wq]`` (component 2 dy + dx)."""
    *lead, h, w = x.shape
    y = x.reshape(*lead, h // 2, 2, w // 2, 2).movedim(-3, -2)  # [..., Hq, Wq, 2(dy), 2(dx)] after the move
    return y.reshape(*lead, h // 2, w // 2, 4).movedim(-1, -3)


def phase_view(x: Tensor, phase: int) -> Tensor:
    """``space_to_depth(x)[..., phase, :, :]`` as a strided view of ``x`` (``Tensor[..., Hq, Wq]``): reading or
    writing one polyphase component costs no copy of the level."""
    dy, dx = divmod(phase, 2)
    return x[..., dy::2, dx::2]


def depth_to_space(x: Tensor) -> Tensor:
    """Inverse of :func:`space_to_depth`."""
    *lead, _, hq, wq = x.shape
    y = x.movedim(-3, -1).reshape(*lead, hq, wq, 2, 2).movedim(-2, -3)
    return y.reshape(*lead, 2 * hq, 2 * wq)


def pass_mask(k: int) -> list[int]:
    """Polyphase components already decoded before pass ``k``."""
    return list(PASS_PHASES[:k])


def cond_planes(n: int, grid: tuple[int, int], level_from_finest: int, step_code: int | Tensor, flag: float,
                dtype: torch.dtype, device=None) -> Tensor:
    """The conditioning planes ``Tensor[N, 3, Hq, Wq]``: level / 8, step code / 128 (an int, or ``Tensor[N]`` per
    picture), ``flag`` -- the image codec's lossless flag (0 or 1), or WL-SVC's temporal class of the subband
    (:func:`pywlc.video.subband.temporal_class`, non-positive) -- all dyadic, so exact in any float type."""
    code = torch.as_tensor(step_code, dtype=dtype, device=device).expand(n)
    level, flag = torch.full_like(code, level_from_finest / 8), torch.full_like(code, float(flag))
    vals = torch.stack([level, code / 128, flag], 1)
    return vals.view(n, 3, 1, 1).expand(n, 3, *grid)
