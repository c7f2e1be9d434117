"""Quantised pyramids in the coder's layout, and the model's ideal code length over one (training and tests).

``QPyramid``: the coarsest approximation ``ll: int32 Tensor[N, C, h, w]`` and the detail levels, coarsest
first, each padded to ``int32 Tensor[N, C, 3, 2Hq, 2Wq]`` (:func:`.context.pad_level`) with the band shapes
kept, so that :func:`to_pyramid` restores the exact :class:`.transform.Pyramid` layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import context as ctx
from .entropy_model import LOSSY_MEAN_LIMIT, SubbandEntropyModel, group_channels, laplace_nll_bits
from .transform import Pyramid

__all__ = [
    "QPyramid",
    "dequantize_pyramid",
    "from_pyramid",
    "group_symbols",
    "level_inputs",
    "mean_inputs",
    "model_bits",
    "optimal_deltas",
    "quantize_pyramid",
    "to_pyramid",
]


@dataclass
class QPyramid:
    ll: Tensor
    levels: list[Tensor]  # [N, C, 3, 2Hq, 2Wq] per level, coarsest first
    shapes: list[list[tuple[int, int]]]  # band (h, w) per level and orientation

    def grid(self, j: int) -> tuple[int, int]:
        return self.levels[j].shape[-2] // 2, self.levels[j].shape[-1] // 2

    def valid(self, j: int) -> Tensor:
        return ctx.valid_mask(self.shapes[j], self.grid(j), self.levels[j].device)

    def select(self, i: int) -> QPyramid:
        """Picture ``i`` of the batch (views)."""
        return QPyramid(self.ll[i : i + 1], [lv[i : i + 1] for lv in self.levels], self.shapes)

    @classmethod
    def zeros(cls, n: int, c: int, ll_shape: tuple[int, int], shapes: list[list[tuple[int, int]]]) -> QPyramid:
        """An all-zero pyramid of ``n`` pictures of ``c`` channels in the coder's layout (what a decoder fills):
        approximation ``ll_shape``, detail levels of band shapes ``shapes`` (:func:`.codec.band_geometry`)."""
        levels = []
        for level in shapes:
            hq, wq = ctx.grid_of_shapes(level)
            levels.append(torch.zeros(n, c, 3, 2 * hq, 2 * wq, dtype=torch.int32))
        return cls(torch.zeros(n, c, *ll_shape, dtype=torch.int32), levels, [[tuple(s) for s in lv] for lv in shapes])


def from_pyramid(p: Pyramid, quantize_band) -> QPyramid:
    """``quantize_band(band, level, orientation) -> int32`` applied to every detail band (LL: orientation -1)."""
    levels, shapes = [], []
    for j, bands in enumerate(p.details):
        q = tuple(quantize_band(b, j, o) for o, b in enumerate(bands))
        grid = ctx.level_grid(q)
        levels.append(ctx.pad_level(q, grid))
        shapes.append([tuple(b.shape[-2:]) for b in q])
    return QPyramid(quantize_band(p.ll, -1, -1), levels, shapes)


def to_pyramid(qp: QPyramid, dequantize_band) -> Pyramid:
    """Inverse layout of :func:`from_pyramid`."""
    det = []
    for j in range(len(qp.levels)):
        bands = ctx.unpad_level(qp.levels[j], qp.shapes[j])
        det.append(tuple(dequantize_band(b, j, o) for o, b in enumerate(bands)))
    return Pyramid(dequantize_band(qp.ll, -1, -1), det)


def level_inputs(qp: QPyramid, j: int, dtype: torch.dtype = torch.float32):
    """Features of level ``j``: ``(cur [N, C, 3, 4, Hq, Wq], parent [N, C, 3, Hq, Wq] or None)``."""
    cur = ctx.magnitude(ctx.space_to_depth(qp.levels[j]), dtype)
    parent = None
    if j > 0:
        hq, wq = qp.grid(j)
        parent = ctx.magnitude(qp.levels[j - 1][..., :hq, :wq], dtype)
    return cur, parent


def group_symbols(qp: QPyramid, j: int, chans: list[int]) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """The integer context of colour group ``chans`` at level ``j``: its level in polyphase
    ``[N, Cg, 3, 4, Hq, Wq]``, the coarser level ``[N, Cg, 3, Hq, Wq]`` (None at the coarsest) and, for chroma,
    the luma level ``[N, 1, 3, 4, Hq, Wq]`` (None for luma)."""
    lv = qp.levels[j]
    cur = ctx.space_to_depth(lv[:, chans[0] : chans[-1] + 1])
    parent = None
    if j > 0:
        hq, wq = qp.grid(j)
        parent = qp.levels[j - 1][:, chans, :, :hq, :wq]
    luma = ctx.space_to_depth(lv[:, :1]) if chans[0] > 0 else None
    return cur, parent, luma


def mean_inputs(qp: QPyramid, j: int, chans: list[int], k: int, cond: Tensor) -> Tensor:
    """The mean net's input (:meth:`SubbandEntropyModel.mean_inputs`) of pass ``k`` of the colour group ``chans``
    of level ``j``, in ``cond``'s dtype."""
    return SubbandEntropyModel.mean_inputs(*group_symbols(qp, j, chans), k, cond)


def model_bits(model: SubbandEntropyModel, qp: QPyramid, step_code: Tensor, lossless: bool, xi: float) -> Tensor:
    """Ideal code length (bits, ``Tensor[N]``) of every detail coefficient of ``qp`` under ``model`` (float path).

    ``step_code: Tensor[N]`` (per sample: the codec's 1/16-octave step code).
    """
    from .approx import group_features

    n, c = qp.levels[0].shape[:2]
    approx = _batch_approx(qp, step_code, lossless) if model.approx else None
    total = qp.levels[0].new_zeros(n, dtype=torch.float32)
    depth = len(qp.levels)
    for j in range(depth):
        cur, parent = level_inputs(qp, j)
        grid = qp.grid(j)
        phases = ctx.space_to_depth(qp.levels[j])  # [N, C, 3, 4, Hq, Wq]
        valid = ctx.space_to_depth(qp.valid(j))  # [3, 4, Hq, Wq]
        cond = ctx.cond_planes(n, grid, depth - 1 - j, step_code, lossless, torch.float32)
        with_mean = model.mean
        fs, fm = approx(j) if approx is not None else (None, None)
        for g, chans in enumerate(group_channels(c)):
            luma = cur[:, :1] if g == 1 else None
            for k, phase in enumerate(ctx.PASS_PHASES):
                x = model.inputs(cur[:, chans], None if parent is None else parent[:, chans], luma, k, cond)
                log2b = model.logscale(g, k, x, group_features(fs, chans))
                mu = None
                if with_mean:
                    mu = model.mu(g, k, mean_inputs(qp, j, chans, k, cond), group_features(fm, chans))
                    if not lossless:  # the coder's range (mean_split)
                        mu = mu.clamp(-LOSSY_MEAN_LIMIT, LOSSY_MEAN_LIMIT)
                bits = laplace_nll_bits(phases[:, chans, :, phase], log2b, xi, mu)
                total = total + (bits * valid[:, phase]).flatten(1).sum(1)
    return total


def _batch_approx(qp: QPyramid, step_code: Tensor, lossless: bool):
    """``j -> (scale, mean)`` approximation features (:class:`.approx.ApproxContext`) of a training batch, whose
    pictures have their own step codes."""
    from .approx import ApproxContext

    codes = torch.as_tensor(step_code).reshape(-1).tolist()
    if lossless or len(set(codes)) <= 1:
        return ApproxContext(qp, int(codes[0]) if codes else 0, lossless).features
    per = [ApproxContext(qp.select(i), int(code), lossless) for i, code in enumerate(codes)]

    def features(j: int) -> tuple[Tensor, Tensor]:
        parts = [c.features(j) for c in per]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    return features


def quantize_pyramid(p: Pyramid, step: Tensor | float, lossless: bool) -> QPyramid:
    """Dead-zone quantisation of a 9/7 pyramid with ``step: Tensor[N]`` (per picture), or the int 5/3 pyramid as is.

    Band b's step is ``step / ||synthesis basis of b||`` (:func:`.transform.band_norms`); the LL band is rounded.
    """
    from .transform import XI_LOSSY, band_norms, quantize

    if lossless:
        return from_pyramid(p, lambda b, j, o: b.to(torch.int32))
    ll_norm, norms = band_norms(p.levels)
    s = torch.as_tensor(step, dtype=torch.float64).reshape(-1, 1, 1, 1)

    def q(b: Tensor, j: int, o: int) -> Tensor:
        if o < 0:
            return quantize(b.double(), s / ll_norm, 0.5)
        return quantize(b.double(), s / norms[j][o], XI_LOSSY)

    return from_pyramid(p, q)


def optimal_deltas(p: Pyramid, qp: QPyramid, step: Tensor | float) -> Tensor:
    """Encoder-side reconstruction offsets: per picture and level the mean of ``|x| / step_b - |q| + xi`` over
    the nonzero coefficients (the bins' centroid), ``float64 Tensor[N, J]`` (0.5 where a level has none)."""
    from .transform import XI_LOSSY, band_norms

    _, norms = band_norms(p.levels)
    s = torch.as_tensor(step, dtype=torch.float64).reshape(-1, 1, 1, 1)
    out = []
    for j, bands in enumerate(p.details):
        qb = ctx.unpad_level(qp.levels[j], qp.shapes[j])
        num = torch.zeros(qp.ll.shape[0], dtype=torch.float64)
        den = torch.zeros_like(num)
        for o in range(3):
            nz = qb[o] != 0
            v = (bands[o].double().abs() / (s / norms[j][o]) - qb[o].abs() + XI_LOSSY) * nz
            num += v.flatten(1).sum(1)
            den += nz.flatten(1).sum(1)
        out.append(torch.where(den > 0, num / den.clamp(min=1), torch.full_like(num, 0.5)))
    return torch.stack(out, 1).clamp_(0.0, 1.0)


def dequantize_pyramid(qp: QPyramid, step: Tensor | float, deltas: Tensor) -> Pyramid:
    """float32 pyramid from ``qp`` with ``step: Tensor[N]`` and ``deltas: Tensor[N, J]`` (levels coarsest first)."""
    from .transform import XI_LOSSY, band_norms, dequantize

    depth = len(qp.levels)
    ll_norm, norms = band_norms(depth)
    s = torch.as_tensor(step, dtype=torch.float64).reshape(-1, 1, 1, 1)
    d = deltas.reshape(deltas.shape[0], -1, 1, 1, 1).float()

    def dq(b: Tensor, j: int, o: int) -> Tensor:
        if o < 0:
            return b.float() * (s / ll_norm).float()
        return dequantize(b, (s / norms[j][o]).float(), XI_LOSSY, d[:, j])

    return to_pyramid(qp, dq)
