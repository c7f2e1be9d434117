"""Learned lifting of the lossy wavelet codec: a CNN predict step from each level's approximation to its details,
added around the fixed CDF 9/7 steps and run closed-loop.

Lifting (iWave, Ma et al. TMM 2020; arXiv 2402.18761): after the fixed 2-D 9/7 step of level j has split its input
into the approximation ``A_j`` and the details ``D_j = (H, V, D)``, one more predict step subtracts a learned
function of the other half, ``D'_j = D_j - P(A_j)``.  Any ``P`` keeps perfect reconstruction
(``D_j = D'_j + P(A_j)``), and a nonlinear ``P`` removes what the fixed linear 4-tap predict leaves at edges
(their sign and shape follow from the coarse picture).  With a quantiser in between, the step runs **closed-loop**:
the encoder codes levels coarsest first and predicts from ``Â_j``, the approximation the decoder will have
(decoded coarser levels + their predictions), so quantisation errors of coarse levels never leak into fine ones
and at low rates, where most residuals quantise to zero, ``P(Â_j)`` is the decoder's best guess of the details.
Chroma is predicted from its own approximation, the luma approximation and luma's *decoded* details of the same
level (coded before chroma), which carry the edges chroma shares with luma.

Only the reconstruction uses ``P`` (the entropy model sees integer residuals), so a float ``P`` is enough: the
stream decodes to the same symbols on every machine, and the pixels to within float rounding.

Shapes: ``A: Tensor[N, C, h, w]``; details of the level: three ``Tensor[N, C, h_b, w_b]`` with ``h_b <= h``,
``w_b <= w`` (symmetric mode, :func:`pywlc.ops.dwt.wavedec2`); predictions are cropped to each band.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...ops.dwt import waverec2
from . import context as ctx
from . import transform as T
from .entropy_model import group_channels
from .transform import Pyramid

__all__ = ["LiftingPredictor", "closed_loop_quantize", "closed_loop_synthesis", "quantize_ll"]

_SLOPE = 0.125


def _net(in_ch: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Conv2d(in_ch, hidden, 3, padding=1, padding_mode="replicate"), nn.LeakyReLU(_SLOPE)]
    for _ in range(layers - 2):
        mods += [nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode="replicate"), nn.LeakyReLU(_SLOPE)]
    mods.append(nn.Conv2d(hidden, 3, 3, padding=1, padding_mode="replicate"))
    nn.init.zeros_(mods[-1].weight)  # starts as the plain 9/7 (P = 0)
    nn.init.zeros_(mods[-1].bias)
    return nn.Sequential(*mods)


class LiftingPredictor(nn.Module):
    """``P``: approximation (+ luma context) -> the level's three detail bands, one net for luma/grey, one for chroma.

    Inputs are normalised by the approximation's DC gain ``2^s`` (s = 2-D analysis steps below full resolution)
    and conditioned on ``s`` and the step code, so one set of weights serves every level and rate.
    """

    def __init__(self, hidden: int = 32, layers: int = 3) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.luma = _net(1 + 2, hidden, layers)
        self.chroma = _net(2 + 3 + 2, hidden, layers)

    @staticmethod
    def _cond(z: Tensor, s: int, step_code: Tensor) -> Tensor:
        n, _, h, w = z.shape
        cond = torch.stack([step_code.to(z.dtype) / 128, torch.full((n,), s / 8, dtype=z.dtype)], 1)
        return cond.view(n, 2, 1, 1).expand(n, 2, h, w)

    def predict(self, approx: Tensor, luma_details: Tensor | None, s: int, step_code: Tensor) -> Tensor:
        """Predicted details of one colour group at the level whose approximation is ``approx: [N, C, h, w]``.

        Args:
            luma_details: None: predict luma (or grey), ``Tensor[N, 1, 3, h, w]``.  Else (RGB): the luma
                channel's reconstructed details of this level ``Tensor[N, 1, 3, h, w]`` (zero outside the bands);
                predict chroma, ``Tensor[N, 2, 3, h, w]``.
            s: 2-D analysis steps that produced ``approx`` (1 = the finest level).
            step_code: ``Tensor[N]``, the quantiser's step code.
        """
        gain = float(2**s)
        z = approx / (128.0 * gain)
        cond = self._cond(z, s, step_code)
        if luma_details is None:
            return self.luma(torch.cat([z[:, :1], cond], 1))[:, None] * (16.0 * gain)
        ld = luma_details[:, 0] / (16.0 * gain)
        out = [self.chroma(torch.cat([z[:, ch : ch + 1], z[:, :1], ld, cond], 1)) for ch in (1, 2)]
        return torch.stack(out, 1) * (16.0 * gain)


def _groups(c: int) -> list[slice]:
    """The coder's colour groups (:func:`.entropy_model.group_channels`) as channel slices."""
    return [slice(g[0], g[-1] + 1) for g in group_channels(c)]


def _steps(step: Tensor, levels: int) -> tuple[Tensor, list[Tensor]]:
    """Per-picture approximation step ``[N, 1, 1, 1]`` and per-level band steps ``[N, 1, 3, 1, 1]`` (float64)."""
    ll_norm, norms = T.band_norms(levels)
    s = step.to(torch.float64).reshape(-1, 1, 1, 1)
    return s / ll_norm, [s[:, :, :, :, None] / torch.tensor(n, dtype=torch.float64).view(1, 1, 3, 1, 1)
                         for n in norms]


def quantize_ll(p: Pyramid, step: Tensor | float) -> Tensor:
    """The coarsest approximation's indices ``int32 [N, C, h, w]`` (rounded at its step) for ``step: Tensor[N]``
    -- every lossy path quantises it so; an RDOQ quantiser needs it before the levels (:mod:`.approx`)."""
    ll_step, _ = _steps(torch.as_tensor(step), p.levels)
    return T.quantize(p.ll.double(), ll_step, 0.5)


def _centroid(u: Tensor, q: Tensor, mask: Tensor) -> Tensor:
    """Per picture: mean of ``|u| - |q| + xi`` over the nonzero ``q`` inside ``mask`` (0.5 if none), in [0, 1]."""
    nz = (q != 0) & mask
    v = ((u.abs() - q.abs() + T.XI_LOSSY) * nz).flatten(1).sum(1)
    cnt = nz.flatten(1).sum(1)
    return torch.where(cnt > 0, v / cnt.clamp(min=1), torch.full_like(v, 0.5)).clamp(0.0, 1.0)


def _reconstruct_group(guess: Tensor, q: Tensor, delta: Tensor, band_step: Tensor, mask: Tensor) -> Tensor:
    """Details of one colour group as the decoder rebuilds them: prediction + dequantised residual (``float32``),
    zero outside the bands.  The encoder's closed loop calls the same function, so both sides agree."""
    return (guess.double() + T.dequantize(q, 1.0, T.XI_LOSSY, delta.view(-1, 1, 1, 1, 1)) * band_step).float() * mask


def _delta_byte(d: Tensor) -> Tensor:
    """The stream's 8-bit reconstruction offset (the decoder only ever sees the rounded value)."""
    return torch.round(d * 255) / 255


def dead_zone(j: int, g: int, u: Tensor, shapes: list[tuple[int, int]]) -> Tensor:
    """The default group quantiser of :func:`closed_loop_quantize`: the codec's dead-zone quantiser of ``u`` (in
    band-step units, ``[N, Cg, 3, h, w]``)."""
    return T.quantize(u, 1.0, T.XI_LOSSY)


def closed_loop_quantize(p: Pyramid, step: Tensor, step_code: Tensor, pred: LiftingPredictor | None,
                         residuals: list | None = None, quantize_group=dead_zone,
                         ) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor]], Tensor]:
    """Encoder: quantise a 9/7 pyramid level by level (coarsest first) with the closed-loop learned predict step.

    Args:
        p: the fixed 9/7 pyramid of ``Tensor[N, C, H, W]`` (:func:`.transform.forward`).
        pred: the predict step; None: P = 0 (the plain 9/7 pyramid, e.g. for :mod:`.rdoq` alone).
        step, step_code: ``Tensor[N]``: quantiser step (pixel units) and its code.
        residuals: if a list, receives ``(u, mask)`` per level and group -- the unquantised residuals in units
            of their band steps, ``Tensor[N, Cg, 3, h, w]`` (differentiable in ``pred``), and the band mask.
        quantize_group: ``(level, group, u, band shapes) -> int32 q`` of the same shape, called coarsest level
            first and luma before chroma -- the coder's order, so a rate-distortion optimising quantiser
            (:mod:`.rdoq`) can run the entropy model on what is already final.  Default :func:`dead_zone`.
    Returns:
        ``(ll_q int32 [N, C, h_J, w_J], levels, deltas)``: per level the three quantised residual bands (int32,
        the pyramid's band shapes) and ``deltas: float64 Tensor[N, J, G]`` (G colour groups; already rounded to
        the stream's 8 bits).
    """
    n, c = p.ll.shape[:2]
    depth = p.levels
    ll_step, band_steps = _steps(step, depth)
    ll_q = quantize_ll(p, step)
    a = (ll_q.double() * ll_step).float()  # the decoder's approximation (only predictions read it)
    h, w = a.shape[-2:]
    out, deltas = [], []
    for j, bands in enumerate(p.details):
        shapes = [tuple(b.shape[-2:]) for b in bands]
        mask = ctx.band_mask(shapes, h, w, a.device)
        det = ctx.stack_bands(bands, h, w).double()
        q_level = torch.zeros(n, c, 3, h, w, dtype=torch.int32)
        rec = torch.zeros(n, c, 3, h, w)
        d_level = []
        for g, sl in enumerate(_groups(c)):
            guess = None
            if pred is not None:
                with torch.no_grad() if residuals is None else torch.enable_grad():
                    guess = pred.predict(a.detach(), None if g == 0 else rec[:, :1], depth - j, step_code)
            u = det[:, sl] if guess is None else det[:, sl] - guess.double()
            u = u / band_steps[j]
            if residuals is not None:
                residuals.append((u, mask))
            u = u.detach()
            q = quantize_group(j, g, u, shapes) * mask
            d = _delta_byte(_centroid(u, q, mask))
            q_level[:, sl] = q
            if guess is not None:
                rec[:, sl] = _reconstruct_group(guess.detach(), q, d, band_steps[j], mask)
            d_level.append(d)
        deltas.append(torch.stack(d_level, 1))
        out.append(ctx.unpad_level(q_level, shapes))
        if pred is not None and j + 1 < depth:
            a = waverec2((a, [ctx.unpad_level(rec, shapes)]), "bior4.4")
        h, w = h + bands[0].shape[-2], w + bands[1].shape[-1]  # the next level's size: LL + cH rows, + cV columns
    dl = torch.stack(deltas, 1) if deltas else torch.zeros(n, 0, len(_groups(c)), dtype=torch.float64)
    return ll_q, out, dl


@torch.no_grad()
def closed_loop_synthesis(ll_q: Tensor, levels: list[tuple[Tensor, Tensor, Tensor]], depth: int, step: Tensor,
                          step_code: Tensor, deltas: Tensor, pred: LiftingPredictor) -> Tensor:
    """Decoder: the picture (colour-transformed domain, ``float32 Tensor[N, C, H', W']``) from quantised residuals.

    ``levels`` may hold fewer than ``depth`` levels (a reduced-resolution decode): the result is the approximation
    after them divided by its DC gain ``2^(depth - len(levels))``.  Mirrors :func:`closed_loop_quantize`.
    """
    n, c = ll_q.shape[:2]
    ll_step, band_steps = _steps(step, depth)
    a = (ll_q.double() * ll_step).float()
    for j, qb in enumerate(levels):
        h, w = a.shape[-2:]
        shapes = [tuple(b.shape[-2:]) for b in qb]
        mask = ctx.band_mask(shapes, h, w, a.device)
        q_level = ctx.stack_bands(qb, h, w)
        rec = torch.zeros(n, c, 3, h, w)
        for g, sl in enumerate(_groups(c)):
            guess = pred.predict(a, None if g == 0 else rec[:, :1], depth - j, step_code)
            rec[:, sl] = _reconstruct_group(guess, q_level[:, sl], deltas[:, j, g], band_steps[j], mask)
        a = waverec2((a, [ctx.unpad_level(rec, shapes)]), "bior4.4")
    return a / 2.0 ** (depth - len(levels))
