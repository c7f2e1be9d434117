"""The learned entropy model of the wavelet coefficients: a dead-zone Laplace per coefficient whose scale a small
CNN predicts from the decoded context (parents, siblings, polyphase neighbours, luma for chroma, the step).

Distribution (in units of the band's step, for the dead-zone quantiser of :func:`.transform.quantize` with
offset xi): a Laplace density of scale b integrated over the quantiser's bins --
``P(0) = 1 - exp(-(1 - xi) / b)`` and ``P(k) = exp(-(|k| - xi) / b) (1 - exp(-1 / b)) / 2`` for k != 0.  With
xi = 0.5 (rounding, lossless) it is the usual discretised Laplace.  The model predicts ``log2 b``; the coder
snaps it to one of :data:`N_SCALES` tabulated scales (:mod:`.tables`).

Networks: one :class:`PassNet` per (group, pass): 3x3 conv -> LeakyReLU(1/8) -> 1x1 -> LeakyReLU -> 1x1.  A
*wide* model adds, after the first layer, a residual 3x3 conv of the hidden features, ``h + LeakyReLU(W h)``: the
receptive field grows from 3x3 to 5x5 quarter-grid positions (10x10 coefficients of each band), to bring the
parallel passes closer to a raster-causal context (the spec measured raster order ~3 BD-rate points better than a
checkerboard).  Zero-initialised, it starts as the narrow model it fine-tunes.  Measured here: 0.0-0.2 % fewer bits
after 500 fine-tuning steps from v2, for ~20 % slower decoding -- the shipped weights stay narrow.

Models with ``mean_hidden > 0`` add a **mean**: a second net per (group, pass), :class:`PassNet` on the *signed*
context (:func:`.context.signed_features` of the decoded neighbours, the parents and, for chroma, the luma level),
predicts the Laplace's centre ``mu`` in units of the band step.  The scale nets see magnitudes only, so they
cannot say *which side* of zero a coefficient falls; the neighbours' signed values often can (an edge's
coefficients share signs along it; CALIC-style context prediction, learned).  Measured on held-out train photos
(ideal code lengths, 1,000 training steps against a control fine-tuned alike): 2.8 % fewer bits lossless, 2.7 %
at steps 20 and 50, 1.6 % at step 80.  Lossless, the symbol is coded as ``q - round(mu)`` under the unit-bin
Laplace centred at ``mu``'s eighth-fraction; lossy, ``mu`` is clamped to +-:data:`LOSSY_MEAN_LIMIT` and the
dead-zone bins are integrated around it (:func:`mean_split`; the tables in :mod:`.tables`).

Training runs them in float32 (:meth:`SubbandEntropyModel.logscale`, summed by
:func:`~.pyramid.model_bits`); the codec runs them in integer-exact
fixed point (:func:`exact_logscale`) so that every machine derives the same table indices.

Models with ``approx=True`` also read the same level's approximation -- the LL that the level's details refine,
which a decoder synthesises from the coarser levels -- through a 1x1 layer beside each pass net's first layer
(:mod:`.approx`, where its measured gain is).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import torch
from torch import Tensor, nn

from ...fixed_point import exact_conv2d
from . import context as ctx

__all__ = [
    "LOG2_MAX",
    "LOG2_MIN",
    "APPROX_MEAN",
    "APPROX_SCALE",
    "LOSSY_MEAN_LIMIT",
    "MEAN_LIMIT",
    "MEAN_STEPS",
    "N_SCALES",
    "SCALES_PER_OCTAVE",
    "bin_edges",
    "exact_logscale",
    "laplace_nll_bits",
    "live_channels",
    "mean_split",
    "PassNet",
    "scale_index",
    "scale_index_of_mean",
    "SubbandEntropyModel",
]

LOG2_MIN = -5.0
LOG2_MAX = 11.0
SCALES_PER_OCTAVE = 6
N_SCALES = int((LOG2_MAX - LOG2_MIN) * SCALES_PER_OCTAVE) + 1  # 97
SLOPE = 0.125
APPROX_SCALE, APPROX_MEAN = 16, 32  # approx models: the approximation's features per channel (:mod:`.approx`)
MEAN_STEPS = 8  # the mean is quantised to 1/8: 8 fractional tables per scale
MEAN_LIMIT = 4096  # lossless |mu| is clamped here (int 5/3 coefficients of 8-bit pictures stay below 2^12)
LOSSY_MEAN_LIMIT = 4  # lossy |mu| (band steps): the dead-zone bins are not shift-invariant, so one table per offset


class PassNet(nn.Sequential):
    """``Tensor[N, in_ch, Hq, Wq]`` -> ``Tensor[N, out_ch, Hq, Wq]`` of log2-scales."""

    def __init__(self, in_ch: int, out_ch: int, hidden: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, hidden, 3, padding=1),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(hidden, hidden, 1),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(hidden, out_ch, 1),
        )
        nn.init.zeros_(self[-1].weight)
        nn.init.constant_(self[-1].bias, 0.0)


def group_channels(channels: int) -> list[list[int]]:
    """Colour groups in decoding order: ``[[0]]`` for grey, ``[[0], [1, 2]]`` for YCbCr."""
    return [[0]] if channels == 1 else [[0], [1, 2]]


def _side_conv(inputs: int, hidden: int) -> nn.Conv2d:
    conv = nn.Conv2d(inputs, hidden, 1, bias=False)
    nn.init.zeros_(conv.weight)
    return conv


def _wide_conv(hidden: int) -> nn.Conv2d:
    conv = nn.Conv2d(hidden, hidden, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class SubbandEntropyModel(nn.Module):
    """Scale networks for the luma group (index 0) and the chroma group (index 1), four passes each.

    ``wide``: add the residual 3x3 layer of each pass net (module lists ``luma_wide`` / ``chroma_wide``, so that
    the state -- and the model id streams carry -- of narrow models stays as it was).
    ``mean_hidden``: > 0 adds the mean nets of that width (``luma_mean`` / ``chroma_mean``; zero-initialised
    output, so a model starts from ``mu = 0``).
    ``approx``: every pass net's first layer also reads the same level's approximation (:mod:`.approx`: 16
    scale / 32 mean features per channel of the group) through a 1x1 conv added to its 3x3 conv
    (``luma_approx`` ... ``chroma_mean_approx``, zero-initialised: the model starts as the one it fine-tunes).
    A 1x1 layer: the features are the same for the four passes and already span the cell's neighbourhood
    (differences at its four polyphase positions), and a 3x3 layer over 16-64 more channels would about double
    the first layers' cost.
    """

    @classmethod
    def from_settings(cls, settings: dict, prefix: str = "") -> SubbandEntropyModel:
        """The (untrained) network that ``settings`` describe: a training config (``prefix=""``: ``hidden``,
        ``wide``, ``mean_hidden``, ``approx``) or a weights file's state (``prefix="entropy_"``); the keys that
        came after the first models default to their absence."""
        return cls(int(settings[prefix + "hidden"]), bool(settings.get(prefix + "wide", False)),
                   int(settings.get(prefix + "mean_hidden", 0)), bool(settings.get(prefix + "approx", False)))

    def settings(self, prefix: str = "") -> dict:
        """What :meth:`from_settings` reads back (``prefix``: the weights file's key prefix)."""
        return {prefix + "hidden": self.hidden, prefix + "wide": self.wide, prefix + "mean_hidden": self.mean_hidden,
                prefix + "approx": self.approx}

    def __init__(self, hidden: int = 32, wide: bool = False, mean_hidden: int = 0, approx: bool = False) -> None:
        super().__init__()
        self.hidden = hidden
        self.wide = wide
        self.mean_hidden = mean_hidden
        self.approx = approx
        # inputs: current level 4 phases x 3 orientations per channel, parents 3 per channel, (chroma: the
        # luma level, 12), 3 conditioning planes.
        self.luma = nn.ModuleList(PassNet(12 + 3 + 3, 3, hidden) for _ in range(4))
        self.chroma = nn.ModuleList(PassNet(24 + 6 + 12 + 3, 6, hidden) for _ in range(4))
        if wide:
            self.luma_wide = nn.ModuleList(_wide_conv(hidden) for _ in range(4))
            self.chroma_wide = nn.ModuleList(_wide_conv(hidden) for _ in range(4))
        if self.mean:  # signed features (2 per value) of the same context as the scale nets
            self.luma_mean = nn.ModuleList(PassNet(2 * (12 + 3) + 3, 3, mean_hidden) for _ in range(4))
            self.chroma_mean = nn.ModuleList(PassNet(2 * (24 + 6 + 12) + 3, 6, mean_hidden) for _ in range(4))
        if approx:
            self.luma_approx = nn.ModuleList(_side_conv(APPROX_SCALE, hidden) for _ in range(4))
            self.chroma_approx = nn.ModuleList(_side_conv(2 * APPROX_SCALE, hidden) for _ in range(4))
            if self.mean:
                self.luma_mean_approx = nn.ModuleList(_side_conv(APPROX_MEAN, mean_hidden) for _ in range(4))
                self.chroma_mean_approx = nn.ModuleList(_side_conv(2 * APPROX_MEAN, mean_hidden) for _ in range(4))

    @property
    def mean(self) -> bool:
        """Whether the model has mean nets."""
        return self.mean_hidden > 0

    def nets(self, group: int) -> nn.ModuleList:
        return self.luma if group == 0 else self.chroma

    def approx_conv(self, group: int, k: int, signed: bool) -> nn.Conv2d | None:
        """The 1x1 approximation layer of pass ``k`` of ``group``'s scale (``signed``: mean) net, or None."""
        if not self.approx:
            return None
        if signed:
            return (self.luma_mean_approx if group == 0 else self.chroma_mean_approx)[k]
        return (self.luma_approx if group == 0 else self.chroma_approx)[k]

    def wide_conv(self, group: int, k: int) -> nn.Conv2d | None:
        """The residual layer of pass ``k`` of ``group`` (None for a narrow model)."""
        if not self.wide:
            return None
        return (self.luma_wide if group == 0 else self.chroma_wide)[k]

    @staticmethod
    def inputs(cur: Tensor, parent: Tensor | None, luma: Tensor | None, k: int, cond: Tensor) -> Tensor:
        """The network input of pass ``k``.

        Args:
            cur: features of the group's level, ``Tensor[N, Cg, 3, 4, Hq, Wq]`` (anything in not-yet-decoded
                components is ignored: zeroed here).
            parent: features of the coarser level, ``Tensor[N, Cg, 3, Hq, Wq]``, or None (coarsest level).
            luma: for chroma, the luma level's features ``Tensor[N, 1, 3, 4, Hq, Wq]``; None for luma.
            cond: ``Tensor[N, 3, Hq, Wq]`` from :func:`.context.cond_planes`.
        Returns:
            ``Tensor[N, in_ch, Hq, Wq]``.
        """
        n, cg, _, _, hq, wq = cur.shape
        keep = torch.zeros(4, dtype=cur.dtype, device=cur.device)
        keep[ctx.pass_mask(k)] = 1
        parts = [(cur * keep.view(1, 1, 1, 4, 1, 1)).reshape(n, cg * 12, hq, wq)]
        parts.append(cur.new_zeros(n, cg * 3, hq, wq) if parent is None else parent.reshape(n, cg * 3, hq, wq))
        if luma is not None:
            parts.append(luma.reshape(n, 12, hq, wq))
        parts.append(cond.to(cur.dtype))
        return torch.cat(parts, 1)

    @staticmethod
    def mean_inputs(cur: Tensor, parent: Tensor | None, luma: Tensor | None, k: int, cond: Tensor) -> Tensor:
        """The mean net's input of pass ``k``, from the integer symbols themselves.

        Args:
            cur: the group's level, ``int Tensor[N, Cg, 3, 4, Hq, Wq]`` (polyphase, :func:`.context.space_to_depth`;
                components not decoded before pass ``k`` are ignored: zeroed here).
            parent: the coarser level ``int Tensor[N, Cg, 3, Hq, Wq]`` or None; luma: for chroma, the luma level
                ``int Tensor[N, 1, 3, 4, Hq, Wq]``; cond: ``Tensor[N, 3, Hq, Wq]``.
        Returns:
            ``Tensor[N, 2 (Cg 15 + [12]) + 3, Hq, Wq]`` in ``cond``'s dtype.
        """
        n, cg, _, _, hq, wq = cur.shape
        dt = cond.dtype

        def flat(v: Tensor) -> Tensor:  # [2, N, ...] -> [N, 2 * rest, Hq, Wq]
            return ctx.signed_features(v, dt).movedim(0, 1).reshape(n, -1, hq, wq)

        feats = cond.new_zeros(2, n, cg, 3, 4, hq, wq)
        done = ctx.pass_mask(k)
        if done:  # only the decoded components' features (the rest stay 0)
            feats[:, :, :, :, done] = ctx.signed_features(cur[:, :, :, done], dt)
        parts = [feats.movedim(0, 1).reshape(n, -1, hq, wq),
                 cond.new_zeros(n, 2 * cg * 3, hq, wq) if parent is None else flat(parent)]
        if luma is not None:
            parts.append(flat(luma))
        parts.append(cond)
        return torch.cat(parts, 1)

    def mean_nets(self, group: int) -> nn.ModuleList:
        if not self.mean:
            raise ValueError("this entropy model has no mean nets (mean_hidden=0)")
        return self.luma_mean if group == 0 else self.chroma_mean

    def _side(self, group: int, k: int, signed: bool, approx: Tensor | None) -> tuple[nn.Conv2d, Tensor] | None:
        if not self.approx:
            return None
        if approx is None:
            raise ValueError("this entropy model reads the approximation: pass approx (.approx.approx_features)")
        return self.approx_conv(group, k, signed), approx  # type: ignore[return-value]

    def mu(self, group: int, k: int, x: Tensor, approx: Tensor | None = None) -> Tensor:
        """Float forward of mean net ``k``: ``Tensor[N, in_ch, Hq, Wq]`` -> ``Tensor[N, Cg, 3, Hq, Wq]`` (mu).

        ``approx``: approx models, the group's mean features ``Tensor[N, Cg * 32, Hq, Wq]`` (:mod:`.approx`)."""
        out = _run(self.mean_nets(group)[k], None, x, _float_conv, _float_act, side=self._side(group, k, True, approx))
        return out.view(out.shape[0], -1, 3, *out.shape[-2:])

    def exact_mu(self, group: int, k: int, x: Tensor, approx: Tensor | None = None) -> Tensor:
        """Mean net ``k`` in integer-exact fixed point: ``Tensor[N, Cg * 3, Hq, Wq]`` float64 (``x`` from
        :meth:`mean_inputs`; its zero channels are skipped as in :meth:`exact_logscale`)."""
        with torch.no_grad():
            return _run(self.mean_nets(group)[k], None, x.double(), exact_conv2d, _exact_act,
                        live_channels(group, k, True), self._side(group, k, True, approx))

    def logscale(self, group: int, k: int, x: Tensor, approx: Tensor | None = None) -> Tensor:
        """Float forward of pass ``k``: ``Tensor[N, in_ch, Hq, Wq]`` -> ``Tensor[N, Cg, 3, Hq, Wq]`` (log2 b).

        ``approx``: approx models, the group's scale features ``Tensor[N, Cg * 16, Hq, Wq]`` (:mod:`.approx`)."""
        out = _run(self.nets(group)[k], self.wide_conv(group, k), x, _float_conv, _float_act,
                   side=self._side(group, k, False, approx))
        return out.view(out.shape[0], -1, 3, *out.shape[-2:])

    def exact_logscale(self, group: int, k: int, x: Tensor, approx: Tensor | None = None) -> Tensor:
        """Pass ``k`` in integer-exact fixed point (:func:`exact_logscale`): ``Tensor[N, Cg * 3, Hq, Wq]`` float64.

        ``x`` as :meth:`inputs` builds it: the channels of components not decoded before pass ``k`` are zero, and
        skipped here (:func:`live_channels`)."""
        with torch.no_grad():
            return _run(self.nets(group)[k], self.wide_conv(group, k), x.double(), exact_conv2d, _exact_act,
                        live_channels(group, k, False), self._side(group, k, False, approx))


def _float_conv(m: nn.Conv2d, h: Tensor) -> Tensor:
    return m(h)


def _float_act(h: Tensor) -> Tensor:
    return torch.nn.functional.leaky_relu(h, SLOPE)


def _exact_act(h: Tensor) -> Tensor:
    return torch.where(h >= 0, h, h * SLOPE)  # a power-of-two product: exact


@cache
def live_channels(group: int, k: int, signed: bool) -> Tensor:
    """Input channels of pass ``k``'s net that can be nonzero (int64): the current level's polyphase components
    decoded before the pass (:meth:`SubbandEntropyModel.inputs` / :meth:`~SubbandEntropyModel.mean_inputs` zero
    the rest) and every parent, luma and conditioning channel.  The exact path skips the others (their products
    are exact zeros): passes 0-3 read 0, 3, 6 and 9 of every 12 current-level channels."""
    cg = 1 if group == 0 else 2
    feats = 2 if signed else 1
    decoded = set(ctx.pass_mask(k))
    cur = [f * cg * 12 + c * 12 + o * 4 + ph for f in range(feats) for c in range(cg) for o in range(3)
           for ph in range(4) if ph in decoded]
    n_in = feats * (cg * 12 + cg * 3 + (12 if group else 0)) + 3
    return torch.tensor(cur + list(range(feats * cg * 12, n_in)), dtype=torch.long)


def _run(net: PassNet, wide: nn.Conv2d | None, x: Tensor, conv: Callable[..., Tensor],
         act: Callable[[Tensor], Tensor], channels: Tensor | None = None,
         side: tuple[nn.Conv2d, Tensor] | None = None) -> Tensor:
    """A pass net (+ its residual layer) with ``conv``/``act`` the float or the fixed-point implementations;
    ``channels``: the first layer's live inputs (exact path, :func:`live_channels`); ``side``: a 1x1 layer and its
    input added to the first layer's output (the approximation, :mod:`.approx`; in fixed point one IEEE sum of
    two machine-independent values, so the same bits everywhere)."""
    h = conv(net[0], x) if channels is None else conv(net[0], x, channels)
    if side is not None:
        h = h + conv(side[0], side[1].to(h.dtype))
    h = act(h)
    if wide is not None:
        h = h + act(conv(wide, h))  # the sum of two exact values on fine grids: exact in float64
    h = act(conv(net[2], h))
    return conv(net[4], h)


def laplace_nll_bits(q: Tensor, log2b: Tensor, xi: float, mu: Tensor | None = None) -> Tensor:
    """Bits ``-log2 P(q)`` of integer symbols under the dead-zone Laplace of scale ``2^log2b`` (differentiable).

    ``q``, ``log2b``: broadcastable ``Tensor[...]``; float32/64 out.  ``mu``: the Laplace's centre, in steps.
    """
    if mu is not None:
        return _centred_nll_bits(q, log2b, mu, xi)
    b = torch.exp2(log2b.clamp(LOG2_MIN, LOG2_MAX))
    a = q.abs().to(b.dtype)
    inv = 1.0 / b
    log_p0 = torch.log(-torch.expm1(-(1.0 - xi) * inv))
    log_pk = -math.log(2.0) - (a - xi) * inv + torch.log(-torch.expm1(-inv))
    nats = -torch.where(a == 0, log_p0, log_pk)
    return nats / math.log(2.0)


def bin_edges(q: Tensor, xi: float, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """The dead-zone quantiser's bin ``[lo, hi]`` of each integer ``q`` in steps (``dtype``): ``[-(1 - xi), 1 - xi]``
    for 0, ``[k - xi, k + 1 - xi]`` for ``k >= 1`` and the mirror image below (xi = 1/2: unit bins)."""
    a = q.abs().to(dtype)
    lo_mag = torch.where(a == 0, torch.full_like(a, -(1 - xi)), a - xi)
    hi_mag = torch.where(a == 0, torch.full_like(a, 1 - xi), a + 1 - xi)
    neg = q < 0
    return torch.where(neg, -hi_mag, lo_mag), torch.where(neg, -lo_mag, hi_mag)


def _centred_nll_bits(q: Tensor, log2b: Tensor, mu: Tensor, xi: float) -> Tensor:
    """``-log2 (F(hi) - F(lo))`` over the bin of ``q`` (:func:`bin_edges`) for the Laplace CDF ``F`` of centre
    ``mu``, scale ``2^log2b``; each branch in the form that keeps its difference of exponentials well conditioned."""
    inv = torch.exp2(-log2b.clamp(LOG2_MIN, LOG2_MAX))
    lo, hi = bin_edges(q, xi, inv.dtype)
    lo, hi = (lo - mu) * inv, (hi - mu) * inv
    # bin above the centre: P = e^-lo (1 - e^-(hi - lo)) / 2; below: mirrored; straddling: 1 - (e^-hi + e^lo) / 2
    far = torch.where(lo >= 0, lo, -hi).clamp(min=0)
    log_far = -far + torch.log(-torch.expm1(-(hi - lo).clamp(min=1e-30))) - math.log(2.0)
    mid = torch.log1p(-0.5 * (torch.exp(-hi.clamp(min=0)) + torch.exp(lo.clamp(max=0))))
    nats = -torch.where((lo >= 0) | (hi <= 0), log_far, mid)
    return nats / math.log(2.0)


def mean_split(mu: Tensor, lossless: bool) -> tuple[Tensor, Tensor]:
    """``mu`` (float64, from :meth:`SubbandEntropyModel.exact_mu`) -> ``(m, off)``, int64: the coder's symbol is
    ``q - m`` and its table's centre ``off / MEAN_STEPS``.

    ``mu8 = floor(mu 8 + 1/2)``.  Lossless: clamped to +-MEAN_LIMIT, ``m = floor((mu8 + 4) / 8)`` and
    ``off = mu8 - 8 m`` in ``[-4, 4)`` (unit bins are shift-invariant).  Lossy: ``m = 0`` and ``off = mu8``
    clamped to +-LOSSY_MEAN_LIMIT (the dead zone is not).  IEEE multiply, add and floor: the same integers on
    every machine.
    """
    lim = float((MEAN_LIMIT if lossless else LOSSY_MEAN_LIMIT) * MEAN_STEPS)
    mu8 = torch.floor(mu.double() * MEAN_STEPS + 0.5).clamp_(-lim, lim).long()
    if not lossless:
        return torch.zeros_like(mu8), mu8
    m = torch.div(mu8 + MEAN_STEPS // 2, MEAN_STEPS, rounding_mode="floor")
    return m, mu8 - MEAN_STEPS * m


def scale_index(log2b: Tensor) -> Tensor:
    """Table index ``round((log2 b - LOG2_MIN) * SCALES_PER_OCTAVE)`` in ``[0, N_SCALES)`` (int64).

    Exact on the fixed-point outputs of :func:`exact_logscale` (IEEE subtraction, multiplication, floor).
    """
    t = (log2b.double() - LOG2_MIN) * SCALES_PER_OCTAVE
    return torch.floor(t + 0.5).clamp_(0, N_SCALES - 1).long()


def scale_index_of_mean(mean_abs: float) -> int:
    """The table index of the Laplace whose maximum-likelihood scale fits symbols of mean magnitude ``mean_abs``
    (the ML scale of a Laplace is the mean |x|).  Encoder side only: the index is written into the stream."""
    lb = min(max(float(np.log2(max(mean_abs, 2.0**LOG2_MIN))), LOG2_MIN), LOG2_MAX)
    return int(min(N_SCALES - 1, max(0, round((lb - LOG2_MIN) * SCALES_PER_OCTAVE))))


@torch.no_grad()
def exact_logscale(net: PassNet, x: Tensor) -> Tensor:
    """``net(x)`` in integer-exact fixed point (float64 out): the same bits on any machine, device, thread count.

    Convs are float64 GEMMs of integers (activations on the 2^-16 grid, per-channel power-of-two weight grids,
    see :mod:`pywlc.fixed_point`); LeakyReLU(1/8) multiplies by a power of two (exact).
    """
    return _run(net, None, x.double(), exact_conv2d, _exact_act)
