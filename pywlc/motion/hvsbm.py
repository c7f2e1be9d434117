"""HVSBM: MC-EZBC's hierarchical variable-size block matching motion estimator.

The estimator is the torch-free C++ library ``ezbc_port/`` (bound as ``pywlc._C.hvsbm_cpu``), a clean-room port of
the behaviour in the HVSBM spec (Choi & Woods, IEEE TIP 1999; Chen & Woods, IEEE TCSVT 2004):

* quadtree from 64x64 root blocks down to 4x4, decided bottom-up (split kept when the children's J <= the
  parent's, a split flag costing ``lam``); J = SAD + ``lam`` * (MV bits + mode bits), the MV bits being the
  exp-Golomb length of the difference to the median of the left, top and top-right neighbours' vectors;
* integer spiral search around the predicted vector with early termination, then half- and quarter-pel
  refinement on references interpolated with the HEVC 8-tap luma filter (edge-replicated borders);
* with a right reference, the modes left / right / bidirectional (averaged prediction, 2 iterative refinement
  passes) / PARALLEL (right = -left) / MERGE (inherit the vectors of the block above or to the left);
* a scene-cut test: the motion cost is compared with 0.85 x the frame's 8x8 Hadamard SATD;
* connectivity masks: first come, first served in raster order through integer-rounded vectors.

Sign convention: pixel ``p`` of ``cur`` is predicted from ``ref(p + v)``, with ``v`` the vector in pixels.
Results are bitwise identical for every ``threads`` value (wavefront order over the root blocks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._checks import FLOATS, check_int_choice, check_number
from .._checks import check_int as _int_arg
from .._extension import kernel

__all__ = ["MODES", "HvsbmResult", "hvsbm", "chroma_field"]

#: Block modes by code (``HvsbmResult.block_mode``).
MODES = ("left", "right", "bi", "parallel", "merge_up", "merge_left")
_MAX_LEVELS = 5  # 64x64 down to 4x4


@dataclass(frozen=True)
class HvsbmResult:
    """Output of :func:`hvsbm` for a frame of size ``H x W`` with ``N`` quadtree leaves.

    Vectors of the leaf table are in quarter pels (int32, ``[..., 0]`` horizontal, ``[..., 1]`` vertical);
    dense fields are in pixels (float32, channel 0 horizontal, channel 1 vertical).  ``*_right`` are ``None``
    without a right reference.
    """

    block_xy: Tensor  # Tensor[N, 2] int32: top-left corner (x, y) of each leaf
    block_size: Tensor  # Tensor[N] int32: nominal square size (4..64); may extend past the frame border
    block_mode: Tensor  # Tensor[N] int8: index into MODES
    block_uses_left: Tensor  # Tensor[N] bool
    block_uses_right: Tensor  # Tensor[N] bool
    mv_left: Tensor  # Tensor[N, 2] int32, quarter pels (zero where unused)
    mv_right: Tensor  # Tensor[N, 2] int32, quarter pels (zero where unused)
    block_cost: Tensor  # Tensor[N] float64: J of each leaf
    field_left: Tensor  # Tensor[2, H, W] float32, pixels
    field_right: Tensor | None  # Tensor[2, H, W] float32, pixels
    uses_left: Tensor  # Tensor[H, W] bool: pixel predicted from the left reference
    uses_right: Tensor | None  # Tensor[H, W] bool
    connected_left: Tensor  # Tensor[H, W] bool, on the left reference's grid
    connected_right: Tensor | None  # Tensor[H, W] bool, on the right reference's grid
    first_left: Tensor  # Tensor[H, W] bool, on cur's grid: this pixel's mapping connected its target
    first_right: Tensor | None  # Tensor[H, W] bool
    cost: float  # total J of the quadtree (split flags included)
    sad: float  # total motion-compensated SAD of the leaves (no side information)
    intra_cost: float  # 0.85 x SATD(cur), DC excluded (8x8 orthonormal Hadamard)
    inter_cost: float  # SATD of the motion-compensated residual, DC included
    scene_cut: bool  # inter_cost > intra_cost: no motion model predicts better than intra coding


def _plane(x: object, name: str) -> np.ndarray:
    """``Tensor[H, W]`` or ``Tensor[1, H, W]`` uint8 / float -> a numpy [H, W] uint8 or float32 view or copy."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape [H, W] or [1, H, W] (a grey frame), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        pass
    elif x.dtype in FLOATS:
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} has non-finite values")
        x = x.float()
    else:
        raise TypeError(f"{name} must be uint8 or floating point, got {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    return x.detach().cpu().contiguous().numpy()


def hvsbm(
    cur: Tensor,
    ref_left: Tensor,
    ref_right: Tensor | None = None,
    *,
    lam: float = 24.0,
    levels: int | None = None,
    subpel: int = 4,
    search_range: int = 16,
    temporal_distance: int = 1,
    threads: int | None = None,
    bi_iterations: int = 2,
) -> HvsbmResult:
    """Estimate the motion of ``cur`` against ``ref_left`` (and ``ref_right``) with HVSBM.

    Args:
        cur: ``Tensor[H, W]`` or ``Tensor[1, H, W]``, uint8 or floating (grey, 0..255 scale expected by ``lam``).
        ref_left: previous frame, same shape (dtype may differ).
        ref_right: next frame, same shape, or ``None`` for single-reference (left) estimation.
        lam: Lagrange multiplier of J = SAD + lam * bits (per temporal level; default 24).
        levels: quadtree depths, 1..5: root 64x64 down to ``64 >> (levels - 1)``; ``None``: 5 (down to 4x4).
        subpel: 1 (integer), 2 (half-pel) or 4 (quarter-pel) accuracy.
        search_range: base integer search range in pixels; multiplied by ``temporal_distance`` and capped by the
            frame size.
        temporal_distance: frame distance of the references at this temporal level (>= 1).
        threads: worker threads (``None``: all cores).  The result does not depend on it.
        bi_iterations: passes of iterative bidirectional refinement.

    Returns:
        :class:`HvsbmResult` (CPU tensors).
    """
    run_hvsbm = kernel("hvsbm", torch.empty(0), required=True)  # CPU only; no pure-torch twin
    cur_np = _plane(cur, "cur")
    left_np = _plane(ref_left, "ref_left")
    right_np = None if ref_right is None else _plane(ref_right, "ref_right")
    for name, r in (("ref_left", left_np), ("ref_right", right_np)):
        if r is not None and r.shape != cur_np.shape:
            raise ValueError(f"{name} has size {tuple(r.shape)}, cur has {tuple(cur_np.shape)}: they must match")
    lam = check_number(lam, "lam", 0)
    levels = _MAX_LEVELS if levels is None else _int_arg(levels, "levels", 1, _MAX_LEVELS)
    subpel = check_int_choice(subpel, "subpel", (1, 2, 4))
    search_range = _int_arg(search_range, "search_range", 0, 4096)
    temporal_distance = _int_arg(temporal_distance, "temporal_distance", 1, 64)
    threads = (os.cpu_count() or 1) if threads is None else _int_arg(threads, "threads", 1, 1024)
    bi_iterations = _int_arg(bi_iterations, "bi_iterations", 0, 16)

    out = run_hvsbm(
        cur_np, left_np, right_np, float(lam), levels, subpel, search_range, temporal_distance, threads,
        bi_iterations, 0.85,
    )  # fmt: skip

    def t(key: str) -> Tensor | None:
        return torch.from_numpy(out[key]) if key in out else None

    def mask(key: str) -> Tensor | None:
        v = t(key)
        return None if v is None else v.bool()

    blocks = torch.from_numpy(out["blocks"])  # [N, 10] int32
    return HvsbmResult(
        block_xy=blocks[:, 0:2].contiguous(),
        block_size=blocks[:, 2].contiguous(),
        block_mode=blocks[:, 3].to(torch.int8),
        block_uses_left=blocks[:, 4].bool(),
        block_uses_right=blocks[:, 5].bool(),
        mv_left=blocks[:, 6:8].contiguous(),
        mv_right=blocks[:, 8:10].contiguous(),
        block_cost=t("block_cost"),
        field_left=t("field_left"),
        field_right=t("field_right"),
        uses_left=mask("uses_left"),
        uses_right=mask("uses_right"),
        connected_left=mask("connected_left"),
        connected_right=mask("connected_right"),
        first_left=mask("first_left"),
        first_right=mask("first_right"),
        cost=float(out["cost"]),
        sad=float(out["sad"]),
        intra_cost=float(out["intra_cost"]),
        inter_cost=float(out["inter_cost"]),
        scene_cut=bool(out["scene_cut"]),
    )


def chroma_field(field: Tensor) -> Tensor:
    """Chroma 4:2:0 vectors from a luma field: ``Tensor[2, H, W]`` -> ``Tensor[2, ceil(H/2), ceil(W/2)]``.

    The chroma vector is the luma vector halved (spec "Chroma"), in chroma pixels; sampled at the even luma
    positions, which are the 4:2:0 chroma sites' co-located luma pixels.
    """
    if not isinstance(field, Tensor):
        raise TypeError(f"field must be a torch.Tensor, got {type(field).__name__}")
    if field.dim() != 3 or field.shape[0] != 2:
        raise ValueError(f"field must have shape [2, H, W], got {tuple(field.shape)}")
    return field[:, ::2, ::2] * 0.5
