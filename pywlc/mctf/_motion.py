"""Motion estimators for :func:`pywlc.mctf.analyze`: HVSBM, fixed-grid block matching, zero motion, and the
normalisation of a motion callable's output (module doc of :mod:`pywlc.mctf.mctf`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..ops.warp import warp
from ._types import MotionFields
from ._validate import check_field as _check_field
from ._validate import check_mask as _check_mask

# BT.601 luma weights for 3-channel (RGB) frames.
_LUMA = (0.299, 0.587, 0.114)


def _grey(x: Tensor) -> Tensor:
    """``Tensor[C, H, W]`` -> ``Tensor[H, W]`` float32: the grey plane (C=1), BT.601 luma (C=3), else the mean."""
    x = x.to(torch.float32)
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 3:
        return _LUMA[0] * x[0] + _LUMA[1] * x[1] + _LUMA[2] * x[2]
    return x.mean(0)


def _hvsbm_motion(options: dict) -> Callable[..., MotionFields]:
    from ..motion import hvsbm

    def est(cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int) -> MotionFields:
        r = hvsbm(cur.cpu(), left.cpu(), None if right is None else right.cpu(),
                  temporal_distance=temporal_distance, **options)  # fmt: skip
        return MotionFields(r.field_left, r.field_right, r.uses_left, r.uses_right, r.scene_cut)

    return est


def _block_sums(x: Tensor, block: int) -> Tensor:
    """``Tensor[..., H, W]`` -> per-block sums ``Tensor[..., ceil(H / block), ceil(W / block)]``."""
    h, w = x.shape[-2:]
    x = torch.nn.functional.pad(x, (0, -w % block, 0, -h % block))
    return x.reshape(*x.shape[:-2], x.shape[-2] // block, block, x.shape[-1] // block, block).sum((-3, -1))


def block_motion(**options: object) -> Callable[..., MotionFields]:
    """The ``motion="block"`` estimator as a callable for :func:`analyze` (``options``: :func:`pywlc.motion.block_match`
    keywords ``block``, ``search_range``, ``subpel``, ``lam``).

    Fixed-grid :func:`pywlc.motion.block_match` on the frames' device (the GPU path of MCTF).

    Each block is then predicted from the left, the right or both references, whichever gives the lowest SAD
    of the actual MCTF prediction (bilinear warp of the field; ties prefer bidirectional, then left).
    """
    from ..motion import block_match

    opts = {"block": 16, "search_range": 16, "subpel": 4, "lam": 4.0, **options}
    block = opts["block"]

    def est(cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int) -> MotionFields:
        h, w = cur.shape
        rng = min(opts["search_range"] * temporal_distance, 256)
        if cur.is_cuda:  # the CUDA kernel's shared-memory window: block^2 + (block + 2R)^2 <= 96 KiB
            rng = min(rng, (math.isqrt(96 * 1024 - block * block) - block) // 2)
        kw = {**opts, "search_range": rng}
        fl = block_match(cur, left, **kw).field((h, w))[0]
        if right is None:
            return MotionFields(fl)
        fr = block_match(cur, right, **kw).field((h, w))[0]
        pl = warp(left[None, None], fl[None])[0, 0]
        pr = warp(right[None, None], fr[None])[0, 0]
        cost = torch.stack([_block_sums((cur - p).abs(), block) for p in ((pl + pr) / 2, pl, pr)])
        mode = cost.argmin(0)  # first minimum: bidirectional, then left, then right
        mode = mode.repeat_interleave(block, 0).repeat_interleave(block, 1)[:h, :w]
        return MotionFields(fl, fr, mode != 2, mode != 1)

    est.on_device = True  # type: ignore[attr-defined]
    return est


def _zero_motion(
    cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int
) -> MotionFields:
    z = torch.zeros(2, *cur.shape, dtype=torch.float32)
    return MotionFields(z, None if right is None else z)


def _normalise_motion(out: object, h: int, w: int, has_right: bool, haar: bool) -> tuple:
    """A motion callable's output -> (field_left, field_right, uses_left, uses_right, scene_cut) on the CPU."""
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"motion must return MotionFields or (field_left, field_right), got a {len(out)}-tuple")
        out = MotionFields(out[0], out[1])
    if not isinstance(out, MotionFields):
        raise TypeError(f"motion must return MotionFields or (field_left, field_right), got {type(out).__name__}")
    fl = _check_field(out.field_left, "motion(...).field_left", h, w).cpu()
    fr = None
    if has_right and not haar and out.field_right is not None:
        fr = _check_field(out.field_right, "motion(...).field_right", h, w).cpu()
    ul = torch.ones(h, w, dtype=torch.bool)
    if out.uses_left is not None:
        ul = _check_mask(out.uses_left, "motion(...).uses_left", h, w).cpu()
    ur = torch.zeros(h, w, dtype=torch.bool)
    if fr is not None:
        ur = torch.ones(h, w, dtype=torch.bool)
        if out.uses_right is not None:
            ur = _check_mask(out.uses_right, "motion(...).uses_right", h, w).cpu()
    if haar:
        ul = torch.ones(h, w, dtype=torch.bool)
    elif not bool((ul | ur).all()):
        # A pixel with no reference is predicted from the left one (deterministic, keeps every pixel predicted).
        ul = ul | ~ur
    if fr is None:
        fr = torch.zeros(2, h, w, dtype=torch.float32)
    return fl, fr, ul, ur, bool(out.scene_cut)
