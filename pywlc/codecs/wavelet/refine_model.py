"""The learned entropy model of quality refinement: a fine quantisation index coded inside its coarse bin.

Quality layer k quantises the detail coefficients with the codec's dead-zone quantiser at a finer step
``2^(c_k / 16)`` (``c_k < c_{k-1}``; band steps divided by the same synthesis norms).  The fine bin of a
coefficient overlaps the coarse bin the lower layers decoded, so the fine index lies in a small known range
(:func:`fine_interval`): for a coarse zero the fine dead zone ``-a..a`` (most of the rate), for a coarse index
``q`` the fine bins that cut ``[(|q| - xi) R, (|q| + 1 - xi) R)`` in fine units (``R = 2^(d / 16)``, ``d`` the
code gap).  The bins are not nested for a dead-zone quantiser (xi = 0.2), so the first and last fine bins are cut;
the model gives every fine bin the Laplace mass of its intersection with the coarse bin (exact Bayesian
conditioning of the dead-zone Laplace, :func:`refine_nll_bits`) -- a layer's fine indices are those a
single-layer encoder at ``c_k`` would send, so every layer decodes to the single-layer codec's picture at its step.

This is the latent-feature reuse and prediction of Mei et al. (IEEE TMM 2021) in the wavelet domain: the scale
network of each pass sees, besides the single-layer model's context at the fine step (decoded fine neighbours of
earlier passes, fine parents, luma for chroma, step and level planes), the coarse layer's values of the whole
level (all four polyphase components, as fine-unit magnitudes) and the code gap.  :meth:`RefineEntropyModel.from_base`
starts it from the shipped single-layer weights (the new inputs' weights zero: the base model truncated to the bin).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, localcontext
from functools import cache

import torch
from torch import Tensor, nn

from . import context as ctx
from .entropy_model import LOG2_MAX, LOG2_MIN, PassNet, SubbandEntropyModel, group_channels
from .pyramid import QPyramid, level_inputs
from .transform import XI_LOSSY

__all__ = [
    "MAX_CODE_GAP",
    "RefineEntropyModel",
    "coarse_features",
    "codes_refine",
    "fine_interval",
    "gap_ratio",
    "nest",
    "refine_bits",
    "refine_nll_bits",
]

MAX_CODE_GAP = 128  # 8 octaves between two layers: fine ranges of at most ~260 indices per coarse bin
_EXTRA_COND = 1  # the code-gap plane


def codes_refine(codes: Sequence[int]) -> bool:
    """Whether each step code of ``codes`` (quality layers, coarse to fine) is 1..:data:`MAX_CODE_GAP` codes finer
    than the one before: what every refinement layer's coder needs."""
    return all(1 <= a - b <= MAX_CODE_GAP for a, b in zip(codes, codes[1:], strict=False))


@cache
def gap_ratio(d: int) -> float:
    """``R = 2^(d / 16)`` correctly rounded (decimal), the coarse/fine step ratio of a code gap ``d`` in 1..128."""
    if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_CODE_GAP:
        raise ValueError(f"code gap must be an int in [1, {MAX_CODE_GAP}], got {d!r}")
    with localcontext() as c:
        c.prec = 40
        return float(Decimal(2) ** (Decimal(d) / 16))


def fine_interval(qa: Tensor, ratio: Tensor | float) -> tuple[Tensor, Tensor]:
    """The fine magnitudes ``[lo, hi]`` (int64) possible inside coarse magnitude ``qa`` (int, any shape).

    ``ratio``: ``R`` (float, or a ``float64 Tensor`` broadcastable to ``qa``).  Coarse zero: ``lo = 0``, ``hi = a``
    (the fine indices ``-a..a``); else the fine bins ``j`` with ``j + 1 - xi > u`` and ``j - xi < v``.  Each
    value is one IEEE float64 product, sum and floor/ceil: the same integers on every machine.
    """
    q = qa.double()
    r = torch.as_tensor(ratio, dtype=torch.float64)
    u = (q - XI_LOSSY) * r
    v = (q + (1 - XI_LOSSY)) * r
    lo = torch.where(q > 0, torch.floor(u + XI_LOSSY), torch.zeros_like(u))
    hi = torch.ceil(v + XI_LOSSY) - 1
    return lo.long(), hi.long()


def coarse_features(q_coarse: Tensor, ratio: Tensor | float, dtype: torch.dtype = torch.float32) -> Tensor:
    """Network features of a coarse level in fine units: ``magnitude((lo + hi) // 2)`` of the fine range
    (0 for coarse zeros), same shape as ``q_coarse``; exact in any float type (see :func:`.context.magnitude`)."""
    qa = q_coarse.abs()
    lo, hi = fine_interval(qa, ratio)
    mid = torch.where(qa > 0, torch.div(lo + hi, 2, rounding_mode="floor"), torch.zeros_like(lo))
    return ctx.magnitude(mid, dtype)


class RefineEntropyModel(nn.Module):
    """Scale networks of refinement layers: luma group (index 0) and chroma group (index 1), four passes each.

    Inputs per pass: :meth:`SubbandEntropyModel.inputs` at the fine step, then the coarse level's features of the
    group (``Cg x 3 x 4`` planes) and the code gap / 128.
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.hidden = hidden
        self.luma = nn.ModuleList(PassNet(18 + 12 + _EXTRA_COND, 3, hidden) for _ in range(4))
        self.chroma = nn.ModuleList(PassNet(45 + 24 + _EXTRA_COND, 6, hidden) for _ in range(4))

    def nets(self, group: int) -> nn.ModuleList:
        return self.luma if group == 0 else self.chroma

    @classmethod
    def from_base(cls, base: SubbandEntropyModel) -> RefineEntropyModel:
        """The single-layer model's weights; the new inputs' first-layer weights zero (same predictions)."""
        m = cls(base.hidden)
        with torch.no_grad():
            for group in (0, 1):
                for mine, theirs in zip(m.nets(group), base.nets(group), strict=True):
                    for a, b in zip(mine, theirs, strict=True):
                        if isinstance(a, nn.Conv2d):
                            a.weight.zero_()
                            a.weight[:, : b.weight.shape[1]] = b.weight
                            a.bias.copy_(b.bias)
        return m

    @staticmethod
    def inputs(base_inputs: Tensor, coarse: Tensor, gap: Tensor | int) -> Tensor:
        """``Tensor[N, in_ch, Hq, Wq]`` from the base inputs ``[N, base_ch, Hq, Wq]``, the coarse level features
        ``[N, Cg, 3, 4, Hq, Wq]`` and the code gap (int, or ``Tensor[N]``)."""
        n, _, hq, wq = base_inputs.shape
        g = torch.as_tensor(gap, dtype=base_inputs.dtype).expand(n) / 128
        return torch.cat([base_inputs, coarse.reshape(n, -1, hq, wq).to(base_inputs.dtype),
                          g.view(n, 1, 1, 1).expand(n, 1, hq, wq)], 1)

    def logscale(self, group: int, k: int, x: Tensor) -> Tensor:
        """Float forward of pass ``k``: ``Tensor[N, in_ch, Hq, Wq]`` -> ``Tensor[N, Cg, 3, Hq, Wq]`` (log2 b)."""
        out = self.nets(group)[k](x)
        return out.view(out.shape[0], -1, 3, *out.shape[-2:])


def refine_nll_bits(q_fine: Tensor, q_coarse: Tensor, log2b: Tensor, ratio: Tensor | float) -> Tensor:
    """Bits ``-log2 P(q_fine | coarse bin)`` under the dead-zone Laplace of scale ``2^log2b`` (fine-step units)
    restricted to the coarse bin (differentiable in ``log2b``; all ``Tensor[...]`` broadcastable).

    A fine bin's probability is the Laplace mass of its intersection with the coarse bin over the coarse bin's
    mass; the coder's tables (:func:`.refine_coder.refine_table`) tabulate the same with decimal exps.
    """
    xi = XI_LOSSY
    b = torch.exp2(log2b.clamp(LOG2_MIN, LOG2_MAX))
    inv = 1.0 / b
    r = torch.as_tensor(ratio, dtype=torch.float64)
    qa = q_coarse.abs().double()
    fa = q_fine.abs().double()
    zero = qa == 0
    u = torch.where(zero, torch.zeros_like(qa), (qa - xi) * r)
    v = (qa + (1 - xi)) * r
    e1 = torch.where(zero & (fa == 0), torch.zeros_like(fa), torch.maximum(fa - xi, u))
    e2 = torch.minimum(torch.where(fa == 0, torch.full_like(fa, 1 - xi), fa + (1 - xi)), v)
    e1, e2, u, v = (t.to(b.dtype) for t in (e1, e2, u, v))
    width = (e2 - e1).clamp(min=1e-6)
    # log mass of the symbol's part: zero bin 1 - e^{-w/b}; else e^{-(e1 - u)/b} (1 - e^{-w/b}) (x 1/2 for coarse 0)
    log_sym = torch.log(-torch.expm1(-width * inv)) - (e1 - u) * inv
    log_sym = log_sym + torch.where(zero & (q_fine != 0), torch.full_like(log_sym, -math.log(2.0)),
                                    torch.zeros_like(log_sym))
    log_bin = torch.log(-torch.expm1(-(v - u) * inv))
    return (log_bin - log_sym) / math.log(2.0)



def nest(q_fine: Tensor, q_coarse: Tensor, ratio: Tensor | float) -> Tensor:
    """``q_fine`` clamped into the fine range of its coarse bin (same shape and dtype).

    The fine index of a coefficient always lies in that range mathematically; the clamp only catches a coefficient
    within float rounding of a bin edge, where the two quantisers' divisions may disagree.
    """
    lo, hi = fine_interval(q_coarse.abs(), ratio)
    qf = q_fine.long()
    pos = qf.clamp(min=0).clamp(lo, hi)
    neg = -(-qf).clamp(min=0).clamp(lo, hi)
    out = torch.where(q_coarse > 0, pos, torch.where(q_coarse < 0, neg, torch.maximum(torch.minimum(qf, hi), -hi)))
    return out.to(q_fine.dtype)


def refine_bits(model: RefineEntropyModel, fine: QPyramid, coarse: QPyramid, step_code: Tensor, gap: Tensor) -> Tensor:
    """Ideal code length (bits, ``Tensor[N]``) of the detail coefficients of ``fine`` given ``coarse`` (float path,
    training and tests); ``step_code``, ``gap``: ``Tensor[N]`` (the fine code and the code gap per picture)."""
    n, c = fine.levels[0].shape[:2]
    ratio = torch.exp2(gap.double() / 16).view(n, 1, 1, 1, 1, 1)
    total = fine.levels[0].new_zeros(n, dtype=torch.float32)
    depth = len(fine.levels)
    for j in range(depth):
        cur, parent = level_inputs(fine, j)
        grid = fine.grid(j)
        phases = ctx.space_to_depth(fine.levels[j])  # [N, C, 3, 4, Hq, Wq]
        cph = ctx.space_to_depth(coarse.levels[j])
        cfeat = coarse_features(cph, ratio)
        valid = ctx.space_to_depth(fine.valid(j))  # [3, 4, Hq, Wq]
        cond = ctx.cond_planes(n, grid, depth - 1 - j, step_code, False, torch.float32)
        for g, chans in enumerate(group_channels(c)):
            luma = cur[:, :1] if g == 1 else None
            for k, phase in enumerate(ctx.PASS_PHASES):
                base = SubbandEntropyModel.inputs(cur[:, chans], None if parent is None else parent[:, chans], luma,
                                                  k, cond)
                x = model.inputs(base, cfeat[:, chans], gap)
                log2b = model.logscale(g, k, x)
                bits = refine_nll_bits(phases[:, chans, :, phase], cph[:, chans, :, phase], log2b,
                                       ratio[..., 0])
                total = total + (bits * valid[:, phase]).flatten(1).sum(1)
    return total
