"""Pure-torch reference of :func:`pywlc.motion.block_match` (the test oracle): the same integer rules,
written for clarity — every candidate's SAD is computed in full, for every block at once."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["block_match_reference", "qpel_predict"]

# HEVC luma taps at -3..+4 for quarter-pel phases 0..3 (H.265 Table 8-11).
_TAPS = torch.tensor(
    [
        [0, 0, 0, 64, 0, 0, 0, 0],
        [-1, 4, -10, 58, 17, -5, 1, 0],
        [-1, 4, -11, 40, 40, -11, 4, -1],
        [0, 1, -5, 17, 58, -10, 4, -1],
    ],
    dtype=torch.int64,
)


def qpel_predict(ref: Tensor, mvx: Tensor, mvy: Tensor) -> Tensor:
    """``ref Tensor[H, W]`` uint8 and per-pixel quarter-pel vectors ``Tensor[H, W]`` int -> prediction
    ``Tensor[H, W]`` int64: ``ref`` at ``p + v`` with edge replication and the integer HEVC filter."""
    h, w = ref.shape
    r = ref.to(torch.int64)
    ys = torch.arange(h).view(h, 1).expand(h, w)
    xs = torch.arange(w).view(1, w).expand(h, w)
    mvx, mvy = mvx.to(torch.int64), mvy.to(torch.int64)
    iy, ix = ys + torch.div(mvy, 4, rounding_mode="floor"), xs + torch.div(mvx, 4, rounding_mode="floor")
    fy, fx = mvy.remainder(4), mvx.remainder(4)

    def at(dy: int, dx: int) -> Tensor:
        return r[(iy + dy).clamp(0, h - 1), (ix + dx).clamp(0, w - 1)]

    # Horizontal sums (exact) for the 8 rows -3..+4, then the vertical filter.
    hor = [sum(_TAPS[fx, k] * at(row - 3, k - 3) for k in range(8)) for row in range(8)]
    both = sum(_TAPS[fy, row] * hor[row] for row in range(8))
    only_x = hor[3]  # row offset 0
    only_y = sum(_TAPS[fy, row] * at(row - 3, 0) for row in range(8))
    out = torch.where(
        (fx != 0) & (fy != 0),
        torch.div(both + 2048, 4096, rounding_mode="floor"),
        torch.where(fx != 0, torch.div(only_x + 32, 64, rounding_mode="floor"),
                    torch.div(only_y + 32, 64, rounding_mode="floor")),
    )  # fmt: skip
    out = torch.where((fx == 0) & (fy == 0), at(0, 0), out)
    return out.clamp(0, 255)


def _block_sums(x: Tensor, block: int) -> Tensor:
    """``Tensor[..., H, W]`` -> per-block sums ``Tensor[..., Hb, Wb]`` (partial border blocks)."""
    h, w = x.shape[-2:]
    hb, wb = -(-h // block), -(-w // block)
    x = torch.nn.functional.pad(x, (0, wb * block - w, 0, hb * block - h))
    return x.reshape(*x.shape[:-2], hb, block, wb, block).sum((-3, -1))


def _key(sad: Tensor, lam16: int, mvx: Tensor, mvy: Tensor, index: Tensor) -> Tensor:
    l1 = mvx.abs() + mvy.abs()
    return ((64 * sad + lam16 * l1) << 31) | (l1 << 19) | index


def block_match_reference(
    cur: Tensor, ref: Tensor, block: int, search_range: int, subpel: int, lam: float
) -> tuple[Tensor, Tensor]:
    """``cur``, ``ref`` uint8 ``Tensor[N, H, W]`` -> ``(mvs Tensor[N, 2, Hb, Wb], sad Tensor[N, Hb, Wb])`` int32."""
    n, h, w = cur.shape
    lam16, r = round(16 * lam), search_range
    hb, wb = -(-h // block), -(-w // block)
    mvs = torch.zeros((n, 2, hb, wb), dtype=torch.int32)
    sads = torch.zeros((n, hb, wb), dtype=torch.int32)
    for i in range(n):
        c = cur[i].to(torch.int64)
        best_key = torch.full((hb, wb), torch.iinfo(torch.int64).max, dtype=torch.int64)
        best_sad = torch.zeros((hb, wb), dtype=torch.int64)
        bx, by = torch.zeros((hb, wb), dtype=torch.int64), torch.zeros((hb, wb), dtype=torch.int64)
        zeros = torch.zeros((h, w), dtype=torch.int64)
        side = 2 * r + 1
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                pred = qpel_predict(ref[i], zeros + 4 * dx, zeros + 4 * dy)
                sad = _block_sums((c - pred).abs(), block)
                vx, vy = torch.full_like(sad, 4 * dx), torch.full_like(sad, 4 * dy)
                key = _key(sad, lam16, vx, vy, torch.full_like(sad, (dy + r) * side + dx + r))
                better = key < best_key
                best_key = torch.where(better, key, best_key)
                best_sad = torch.where(better, sad, best_sad)
                bx, by = torch.where(better, vx, bx), torch.where(better, vy, by)
        for step in (2, 1):
            if step * subpel < 4:
                continue
            cx, cy = bx, by
            best_key = _key(best_sad, lam16, cx, cy, torch.full_like(cx, 4))
            for k in range(9):
                if k == 4:
                    continue
                vx, vy = cx + step * (k % 3 - 1), cy + step * (k // 3 - 1)
                dense_x = vx.repeat_interleave(block, 0).repeat_interleave(block, 1)[:h, :w]
                dense_y = vy.repeat_interleave(block, 0).repeat_interleave(block, 1)[:h, :w]
                sad = _block_sums((c - qpel_predict(ref[i], dense_x, dense_y)).abs(), block)
                key = _key(sad, lam16, vx, vy, torch.full_like(vx, k))
                better = key < best_key
                best_key = torch.where(better, key, best_key)
                best_sad = torch.where(better, sad, best_sad)
                bx, by = torch.where(better, vx, bx), torch.where(better, vy, by)
        mvs[i, 0], mvs[i, 1], sads[i] = bx.to(torch.int32), by.to(torch.int32), best_sad.to(torch.int32)
    return mvs, sads
