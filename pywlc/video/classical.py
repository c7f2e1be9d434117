"""WL-SVC without learned modules: the same MCTF + 9/7 + dead-zone quantiser, coded with a classical,
forward-adaptive context model instead of the learned one (the issue's ablation: what the learning pays for).

Context of a coefficient (EBCOT / ECECOW style: significance of the neighbourhood and of the parent, Taubman 2000;
Wu 1997): ``a = sum of min(|q|, 15) over the 3x3 cells of every polyphase component decoded in earlier passes +
2 min(|q_parent|, 15)``, bucketed into :data:`N_CONTEXTS` classes by :data:`THRESHOLDS`.  All integers: the decoder
derives the same classes on any machine.  Per level, orientation and class, the encoder picks the table of
:mod:`pywlc.codecs.wavelet.tables` that codes those symbols shortest (searching every scale) and sends its index
(one byte; 3 x 8 bytes per level) before the level's symbols -- forward adaptation, no training anywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codecs.wavelet import context as ctx
from ..codecs.wavelet.entropy_model import LOG2_MIN, N_SCALES, SCALES_PER_OCTAVE, laplace_nll_bits
from ..codecs.wavelet.pyramid import QPyramid

__all__ = ["CLASSICAL_ID", "N_CONTEXTS", "choose_scales", "contexts"]

CLASSICAL_ID = b"classic1"  # the "model id" of streams coded with this model (no weights)
THRESHOLDS = (1, 3, 6, 11, 19, 32, 56)  # a < 1 -> class 0, ..., a >= 56 -> class 7
N_CONTEXTS = len(THRESHOLDS) + 1
_CLIP = 15


def contexts(qp: QPyramid, j: int, k: int) -> Tensor:
    """Classes ``int64 Tensor[N, 1, 3, Hq, Wq]`` of pass ``k`` at level ``j`` from what is decoded before it."""
    lev = qp.levels[j]
    n, c, _, h2, w2 = lev.shape
    hq, wq = h2 // 2, w2 // 2
    ph = ctx.space_to_depth(lev).abs().clamp(max=_CLIP).double()  # [N, C, 3, 4, Hq, Wq]
    a = torch.zeros(n, c, 3, hq, wq, dtype=torch.float64)
    ones = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    for phase in ctx.pass_mask(k):
        x = ph[:, :, :, phase].reshape(-1, 1, hq, wq)
        a += F.conv2d(x, ones, padding=1).view(n, c, 3, hq, wq)  # integer sums: exact in float64
    if j > 0:
        a += 2 * qp.levels[j - 1][..., :hq, :wq].abs().clamp(max=_CLIP).double()
    t = torch.tensor(THRESHOLDS, dtype=torch.float64)
    return torch.bucketize(a, t, right=True)


def choose_scales(q: Tensor, cls: Tensor, orient: Tensor, xi: float) -> list[int]:
    """Encoder: per (orientation, class) -- ``3 * N_CONTEXTS`` entries -- the table index coding ``q`` shortest.

    ``q``, ``cls``, ``orient``: flat int64 tensors of the level's valid coefficients.
    """
    grid = torch.arange(N_SCALES, dtype=torch.float64) / SCALES_PER_OCTAVE + LOG2_MIN  # log2 b of every table
    out = []
    for o in range(3):
        for c in range(N_CONTEXTS):
            sel = q[(orient == o) & (cls == c)]
            if sel.numel() == 0:
                out.append(0)
                continue
            vals, counts = torch.unique(sel.abs(), return_counts=True)
            bits = (laplace_nll_bits(vals[None].double(), grid[:, None], xi) * counts[None]).sum(1)
            out.append(int(torch.argmin(bits)))
    return out


def scale_bytes_valid(data: bytes) -> bool:
    return len(data) == 3 * N_CONTEXTS and max(data) < N_SCALES
