"""Fixed-grid block matching: integer full search, then half- and quarter-pel refinement (CPU and CUDA).

The GPU motion estimator of pywlc: where :func:`pywlc.motion.hvsbm` (MC-EZBC's variable-size search, CPU only)
is too slow or the frames live on the GPU, :func:`block_match` gives one vector per ``block x block`` block,
computed by the same integer rules on both devices, so a CUDA result equals the CPU result bit for bit
(``csrc/motion/block_match.h`` defines them once for both):

- samples are uint8 (float frames are rounded and clamped to 0..255 first); out-of-frame references replicate
  the edge, so vectors may point outside the frame;
- sub-pel samples: HEVC's 8-tap luma filter in integers (one axis ``clip((s + 32) >> 6)``, both axes
  ``clip((s + 2048) >> 12)`` on exact horizontal sums);
- cost ``J = SAD + lam * (|vx| + |vy|)`` (vector length in pixels; a small ``lam`` keeps flat areas still),
  computed in fixed point (``lam`` in 1/16 steps);
- ties: lower J, then shorter vector, then the earlier candidate in raster order (of the search window, then of
  each 3 x 3 refinement neighbourhood);
- search: every integer vector in ``[-R, R]^2``; then the 8 neighbours at +-1/2 pel around the best
  (``subpel >= 2``), then at +-1/4 pel around that (``subpel == 4``).

Sign convention (as :func:`pywlc.motion.hvsbm` and :func:`pywlc.ops.warp_blocks`): pixel ``p`` of ``cur`` is
predicted by ``ref(p + v)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from .._checks import check_int as _int
from .._checks import check_int_choice, check_number
from .._extension import kernel
from ._reference_block_match import block_match_reference

__all__ = ["BlockMatch", "block_match", "block_field"]

_MAX_RANGE = 256
_MAX_LAM = 4096.0
_CUDA_SHARED_LIMIT = 96 * 1024  # csrc/motion/cuda/block_match_cuda.cu: kMaxShared


@dataclass(frozen=True)
class BlockMatch:
    """Result of :func:`block_match` for ``N`` frame pairs of size ``H x W`` and ``Hb = ceil(H / block)`` rows
    (``Wb`` columns) of blocks, on the input's device."""

    mvs: Tensor  # Tensor[N, 2, Hb, Wb] int32: quarter-pel vectors, channel 0 horizontal, 1 vertical
    sad: Tensor  # Tensor[N, Hb, Wb] int32: SAD of each block at its vector (the penalty not included)
    block: int

    def field(self, size: tuple[int, int] | None = None) -> Tensor:
        """The dense per-pixel field in pixels, ``Tensor[N, 2, H, W]`` float32 (see :func:`block_field`)."""
        return block_field(self.mvs, self.block, size)


def _frames(x: object, name: str) -> Tensor:
    """``Tensor[H, W]``, ``[N, H, W]`` or ``[N, 1, H, W]``, uint8 or float (0..255 scale) -> uint8 [N, H, W]."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be grey frames [N, 1, H, W], [N, H, W] or [H, W], got {tuple(x.shape)}")
        x = x[:, 0]
    elif x.dim() == 2:
        x = x.unsqueeze(0)
    elif x.dim() != 3:
        raise ValueError(f"{name} must be grey frames [N, 1, H, W], [N, H, W] or [H, W], got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if not x.is_floating_point():
        raise TypeError(f"{name} must be uint8 or floating point (0..255 scale), got {x.dtype}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has non-finite values")
    return x.detach().float().round().clamp(0, 255).to(torch.uint8).contiguous()


def block_match(
    cur: Tensor,
    ref: Tensor,
    *,
    block: int = 16,
    search_range: int = 16,
    subpel: int = 4,
    lam: float = 4.0,
    threads: int | None = None,
) -> BlockMatch:
    """Motion of ``cur`` against ``ref``, one vector per block.

    Args:
        cur: grey frames ``Tensor[N, 1, H, W]``, ``[N, H, W]`` or ``[H, W]``; uint8, or floating point on the
            0..255 scale (rounded and clamped to uint8); CPU or CUDA.
        ref: reference frames, same shape and device.
        block: block edge, 1..128 (border blocks are partial when it does not divide H or W).
        search_range: integer search range R (vectors in ``[-R, R]^2`` pixels), 0..256.  On CUDA the block and its
            reference window must fit in 96 KiB of shared memory: ``block^2 + (block + 2R)^2 <= 98304``.
        subpel: 1 (integer), 2 (half-pel) or 4 (quarter-pel).
        lam: penalty per pixel of vector length (L1), 0..4096, applied in 1/16 steps.
        threads: CPU worker threads (``None``: all cores); the result does not depend on it.

    Returns:
        :class:`BlockMatch` with ``mvs Tensor[N, 2, Hb, Wb]`` (quarter-pel) and ``sad Tensor[N, Hb, Wb]``.
        Reference implementation: :func:`pywlc.motion._reference_block_match.block_match_reference`.
    """
    cur_u, ref_u = _frames(cur, "cur"), _frames(ref, "ref")
    if cur_u.shape != ref_u.shape:
        raise ValueError(f"ref has shape {tuple(ref_u.shape)} but cur has {tuple(cur_u.shape)} (as [N, H, W])")
    if cur_u.device != ref_u.device:
        raise ValueError(f"ref is on {ref_u.device} but cur is on {cur_u.device}")
    block = _int(block, "block", 1, 128)
    search_range = _int(search_range, "search_range", 0, _MAX_RANGE)
    subpel = check_int_choice(subpel, "subpel", (1, 2, 4))
    lam = check_number(lam, "lam", 0, _MAX_LAM)
    threads = (os.cpu_count() or 1) if threads is None else _int(threads, "threads", 1, 1024)
    n, h, w = cur_u.shape
    hb, wb = -(-h // block), -(-w // block)
    mvs = torch.zeros((n, 2, hb, wb), dtype=torch.int32, device=cur_u.device)
    sad = torch.zeros((n, hb, wb), dtype=torch.int32, device=cur_u.device)
    args = (n, h, w, cur_u.data_ptr(), ref_u.data_ptr(), block, search_range, subpel, round(16 * lam))
    if cur_u.numel() == 0:
        return BlockMatch(mvs, sad, block)
    if cur_u.device.type not in ("cpu", "cuda"):
        raise ValueError(f"cur must be on the CPU or a CUDA device, got {cur_u.device}")
    launch = kernel("block_match", cur_u)
    if launch is None:  # no kernel for this device, or inside use_kernels(False)
        ref_mvs, ref_sad = block_match_reference(cur_u.cpu(), ref_u.cpu(), block, search_range, subpel, lam)
        return BlockMatch(ref_mvs.to(mvs.device), ref_sad.to(sad.device), block)
    if cur_u.device.type == "cuda":
        shared = block * block + (block + 2 * search_range) ** 2
        if shared > _CUDA_SHARED_LIMIT:
            raise ValueError(
                f"block={block} with search_range={search_range} needs {shared} bytes of shared memory on CUDA "
                f"(> {_CUDA_SHARED_LIMIT}); use a smaller range or block, or the CPU"
            )
        launch(*args, mvs.data_ptr(), sad.data_ptr())
    else:
        launch(*args, mvs.data_ptr(), sad.data_ptr(), threads)
    return BlockMatch(mvs, sad, block)


def block_field(mvs: Tensor, block: int, size: tuple[int, int] | None = None) -> Tensor:
    """Block vectors -> dense field: ``mvs Tensor[N, 2, Hb, Wb]`` (quarter-pel) -> ``Tensor[N, 2, H, W]`` float32
    pixels, each block's vector repeated over its pixels; ``size`` = ``(H, W)`` crops partial border blocks
    (default ``(Hb * block, Wb * block)``)."""
    if not isinstance(mvs, Tensor) or mvs.dim() != 4 or mvs.shape[1] != 2:
        raise ValueError(f"mvs must be Tensor[N, 2, Hb, Wb], got {getattr(mvs, 'shape', type(mvs).__name__)}")
    block = _int(block, "block", 1, 1 << 16)
    field = mvs.float().mul(0.25).repeat_interleave(block, 2).repeat_interleave(block, 3)
    if size is None:
        return field
    h, w = size
    if (
        not (0 < h <= field.shape[2] and 0 < w <= field.shape[3])
        or h <= field.shape[2] - block
        or w <= (field.shape[3] - block)
    ):
        raise ValueError(f"size {tuple(size)} does not match {mvs.shape[2]} x {mvs.shape[3]} blocks of {block}")
    return field[:, :, :h, :w].contiguous()
