"""WaveletVFI on the CPU (Kong et al., "Dynamic Frame Interpolation in Wavelet Domain", TIP 2023), resized for
two cores: DIS flows refined by a small network, then a wavelet synthesis network that predicts the middle
frame's Haar coefficients as a residual over the warped-and-blended frame, densely at the coarsest scale and
with :func:`pywlc.ops.masked_conv2d` at the finer scales, only where :func:`pywlc.ops.wavelet_mask` says the
coarser residual is significant.

Pipeline for frames ``I0, I1`` and a time ``t`` (shapes for one ``Tensor[N, 3, H, W]``, H and W multiples of
:data:`MULTIPLE`):

1. motion (:class:`MotionRefiner`, 1/4 resolution): DIS flows -> Super SloMo's linear ``F_t0, F_t1`` ->
   learned residual flows and a merge-mask logit; a classifier picks the threshold ratio from
   :data:`RATIOS` (Gumbel-softmax while training, WaveletVFI Sec. 3.4).
2. ``base = m' * warp(I0, F_t0) + (1 - m') * warp(I1, F_t1)`` (``m'`` the t-weighted merge mask).
3. synthesis (:class:`WaveletSynthesis`): 3-level Haar pyramids of both warped frames and of ``base``
   (:func:`pywlc.ops.dwt`); level 3 (1/8) dense -> residual LL3 + HF3; level 2 and 1 (1/4, 1/2): residual HF
   computed by masked convolutions where the coarser level's residual exceeds ``ratio * range(LL)``;
   elsewhere the residual is zero (the coefficient is the blend's); inverse DWT level by level.

Exactness of the sparse path: every masked layer is ``act(where(mask, conv(h), 0))`` with ``act(0) = 0``, so
the training formula (dense conv times the mask) and the inference kernels (``masked_conv2d`` with a shared
:class:`pywlc.ops.ActiveSet`) compute the same function.  ``ratio=None`` ("forced dense") runs every layer
densely with the same weights.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import active_tiles, dwt, idwt, masked_conv2d, warp, wavelet_mask
from .motion import intermediate_flows

__all__ = ["MULTIPLE", "RATIOS", "VFIConfig", "WaveletVFI", "haar_split", "haar_merge", "conv_macs"]

# Frames are padded to a multiple of this: 3 Haar levels (8) and the motion net's 1/4 grid of DIS at 1/2.
MULTIPLE = 16
# Threshold ratios the classifier picks from; 0 computes wherever the residual is non-zero.  WaveletVFI picks from
# {0, 0.005, 0.01, 0.015} because its masks threshold the frame's own coefficients; ours threshold a residual over
# the warped blend, ~10x smaller: measured with the static-phase weights (step 1000, 10 test triplets each), ratio
# 0.0005 / 0.001 / 0.002 leave 70 / 45 / 12 % of kivy_city's fine level active at -0.05 / -0.19 / -0.62 dB.
RATIOS = (0.0, 0.0005, 0.001, 0.002)


def haar_split(x: Tensor) -> Tensor:
    """One Haar level: ``Tensor[N, C, H, W]`` (H, W even) -> ``Tensor[N, 4C, H/2, W/2]`` (LL, then HF bands).

    ``pywlc.ops.dwt``'s packed Mallat layout regrouped band-major: channels ``[LL_c..., V_c..., H_c..., D_c...]``.
    """
    n, c, h, w = x.shape
    p = dwt(x, "haar", 1)
    return p.reshape(n, c, 2, h // 2, 2, w // 2).permute(0, 2, 4, 1, 3, 5).reshape(n, 4 * c, h // 2, w // 2)


def haar_merge(b: Tensor) -> Tensor:
    """Inverse of :func:`haar_split`: ``Tensor[N, 4C, h, w]`` -> ``Tensor[N, C, 2h, 2w]``."""
    n, c4, h, w = b.shape
    c = c4 // 4
    p = b.reshape(n, 2, 2, c, h, w).permute(0, 3, 1, 4, 2, 5).reshape(n, c, 2 * h, 2 * w)
    return idwt(p.contiguous(), "haar", 1)


@dataclass(frozen=True)
class VFIConfig:
    """Widths of the networks (the shipped weights' record stores these)."""

    motion: int = 32
    coarse: int = 48
    mid: int = 32
    fine: int = 32
    feat: int = 16
    dis_scale: int = 1
    dis_preset: str = "fast"
    # Interpolation of the two frame warps (``pywlc.warp``): bicubic keeps the texture that bilinear resampling
    # blurs at every sub-pixel shift (DIS blend on the held-out train tails: +0.50 dB mire2, +0.08 dB
    # forensics_dog).  vfi-v1/v2 were trained with bilinear.
    warp_mode: str = "bilinear"
    # Width of the context pyramid (0: none, as vfi-v1..v3): features of each input frame at 1/2, 1/4 and 1/8,
    # warped by the intermediate flows and fed to the synthesis level of that scale (WaveletVFI's warped context
    # features, Kong et al. Sec. 3.2; Niklaus & Liu's context-aware synthesis).
    context: int = 0


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class MotionRefiner(nn.Module):
    """Residual intermediate flows, merge mask and ratio logits at 1/4 resolution.

    ``forward(x Tensor[N, 17, H/4, W/4])`` (both frames, both warped frames, ``F_t0 / 4``, ``F_t1 / 4``, t)
    -> ``(delta Tensor[N, 4, H/4, W/4]`` in 1/4-resolution pixels, ``logit Tensor[N, 1, H/4, W/4]``,
    ``ratio_logits Tensor[N, len(RATIOS)])``.
    """

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.ModuleList([_conv(17, width), _conv(width, width), _conv(width, width), _conv(width, width)])
        self.head = _conv(width, 5)
        # The classifier sees the pooled features and the warps' disagreement (WaveletVFI feeds its motion
        # features to a small MLP, Sec. 3.4).
        self.classifier = nn.Sequential(nn.Linear(width + 2, 32), nn.LeakyReLU(0.1), nn.Linear(32, len(RATIOS)))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, disagreement: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # noqa: D102
        h = x
        for k, conv in enumerate(self.body):
            y = F.leaky_relu(conv(h), 0.1)
            h = y if k == 0 else h + y
        out = self.head(h)
        pooled = torch.cat([h.mean((2, 3)), disagreement], 1)
        return out[:, :4], out[:, 4:5], self.classifier(pooled)


# Sparse execution of a masked level (see _Level): "stack" (default) or "masked_conv2d".
SPARSE_ALGOS = ("stack", "masked_conv2d")
STACK_TILE = 16  # output tile edge of the "stack" path (its input window adds 1 px per layer on each side)
# The "stack" path runs the dense formula instead when its windows' work exceeds this fraction of the dense work
# (the gather, scatter and per-window overheads eat the rest).
STACK_DENSE_ABOVE = 0.7


def _window_cost(tile: int, halo: int) -> float:
    """Work of one window through the stack relative to its ``tile x tile`` output (the layers' shrinking sizes)."""
    return sum((tile + 2 * (halo - k)) ** 2 for k in range(1, halo + 1)) / (halo * tile * tile)


class _Level(nn.Module):
    """A stack of 3x3 convolutions that may run masked: ``run(x, mask) -> Tensor[N, cout, h, w]``.

    Every layer is ``where(mask, conv(h), 0)`` (then LeakyReLU, which keeps 0): the semantics of
    :func:`pywlc.ops.masked_conv2d` with ``fill=0``.  ``mask`` None: dense.  A float tensor (training): dense conv
    times the mask after every layer.  A bool tensor: computed only on the active part, by ``algo``:

    * ``"stack"`` (default): SBNet-style (Ren et al., CVPR 2018) for the whole stack at once -- every
      ``STACK_TILE``-square output tile holding an active pixel gathers its input window once (a halo of one
      pixel per layer), the layers run as plain convolutions on the batch of windows, each shrinking it by one
      pixel and multiplied by the window's mask, and the last one's tiles are scattered back.  One gather and
      one scatter per level instead of one per layer: on 2 cores, at these widths (32 channels), per-layer
      ``masked_conv2d`` costs more than the dense layer at 20 % density (bench_vfi, 720p), the fused stack
      about a third of it.
    * ``"masked_conv2d"``: the library op per layer, one compaction shared by the layers.

    All three compute the same function (tests/test_vfi.py).
    """

    def __init__(self, cin: int, width: int, cout: int, depth: int = 3):
        super().__init__()
        self.convs = nn.ModuleList([_conv(cin, width)] + [_conv(width, width) for _ in range(depth - 1)])
        self.out = _conv(width, cout)

    def run(self, x: Tensor, mask: Tensor | None, algo: str = "stack") -> Tensor:
        layers = [*self.convs, self.out]
        if mask is not None and mask.dtype == torch.bool:
            if algo == "stack":
                return self._run_stack(x, mask)
            active = active_tiles(mask, 8)
            for k, conv in enumerate(layers):
                x = masked_conv2d(x, conv.weight, conv.bias, mask, padding=1, active=active)
                if k < len(layers) - 1:
                    x = F.leaky_relu(x, 0.1)
            return x
        for k, conv in enumerate(layers):
            x = conv(x)
            if mask is not None:
                x = x * mask
            if k < len(layers) - 1:
                x = F.leaky_relu(x, 0.1)
        return x

    def _run_stack(self, x: Tensor, mask: Tensor, tile: int = STACK_TILE) -> Tensor:
        """The ``"stack"`` path: ``x Tensor[N, Cin, h, w]``, ``mask Tensor[N, 1, h, w]`` bool."""
        layers = [*self.convs, self.out]
        halo = len(layers)
        n, _, h, w = x.shape
        th, tw = -(-h // tile), -(-w // tile)
        out = x.new_zeros((n, th * tile, tw * tile, self.out.out_channels))  # channels-last
        tiles = F.max_pool2d(F.pad(mask.to(x.dtype), (0, tw * tile - w, 0, th * tile - h)), tile)
        active = (tiles[:, 0] > 0).nonzero().tolist()  # [[n, ty, tx], ...]
        if not active:
            return out.permute(0, 3, 1, 2)[:, :, :h, :w]
        win = tile + 2 * halo
        if len(active) * _window_cost(tile, halo) > STACK_DENSE_ABOVE * n * th * tw:
            return self.run(x, mask.to(x.dtype))  # the windows would cost about the dense stack: run that
        pad = (halo, halo + tw * tile - w, halo, halo + th * tile - h)
        # Windows copied slice by slice (contiguous rows, unlike a gather through a 6-D strided view), then made
        # channels-last: oneDNN's fast layout for a batch of small pictures.  Only the windows are reordered.
        xp = F.pad(x, pad)  # [N, Cin, Hp, Wp]
        mp = F.pad(mask[:, 0].to(x.dtype), pad)  # [N, Hp, Wp]
        at = [(b, ty * tile, tx * tile) for b, ty, tx in active]
        y = torch.stack([xp[b, :, i : i + win, j : j + win] for b, i, j in at])  # [K, Cin, win, win]
        y = y.contiguous(memory_format=torch.channels_last)
        mw = torch.stack([mp[b, i : i + win, j : j + win] for b, i, j in at])[:, None]  # [K, 1, win, win]
        for k, conv in enumerate(layers):
            y = F.conv2d(y, conv.weight, conv.bias)  # "valid": the window shrinks by one pixel a side
            c = k + 1
            y = y * mw[:, :, c : win - c, c : win - c]
            if k < len(layers) - 1:
                y = F.leaky_relu(y, 0.1)
        y = y.permute(0, 2, 3, 1)  # [K, tile, tile, Cout]
        for k, (b, i, j) in enumerate(at):
            out[b, i : i + tile, j : j + tile] = y[k]
        return out.permute(0, 3, 1, 2)[:, :, :h, :w]


class StageTimer:
    """Wall-clock seconds per named stage (``times``), summed over calls; ``stage(name)`` is a context manager.

    The benchmark's per-stage breakdown; a model without one (``WaveletVFI.timer = None``) times nothing.
    """

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):  # noqa: D102
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0


@contextmanager
def _untimed(name: str):
    yield


def conv_macs(module: nn.Module) -> int:
    """Multiply-accumulates per output pixel of every ``nn.Conv2d`` in ``module`` (3x3, groups=1)."""
    return sum(m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
               for m in module.modules() if isinstance(m, nn.Conv2d))


@dataclass
class SynthesisOutput:
    """What one synthesis pass returns (shapes for frames ``[N, C, H, W]``)."""

    frame: Tensor  # Tensor[N, C, H, W]
    residuals: list[Tensor]  # per level, coarsest first: [N, 4C, H/8, W/8], [N, 3C, H/4, W/4], [N, 3C, H/2, W/2]
    base_pyramid: list[Tensor]  # the blend's coefficients, same layout (level 3: 4C; levels 2, 1: 4C too)
    densities: list[Tensor]  # per masked level: Tensor[N] fraction of active pixels (1 when dense)


class ContextEncoder(nn.Module):
    """``forward(x Tensor[N, 3, H, W]) -> [Tensor[N, w, H/2, W/2], [.., H/4, W/4], [.., H/8, W/8]]``: one strided
    3x3 convolution per scale (the context pyramid a frame's warp carries into the synthesis)."""

    def __init__(self, width: int):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3 if k == 0 else width, width, 3, stride=2, padding=1)
                                    for k in range(3)])

    def forward(self, x: Tensor) -> list[Tensor]:  # noqa: D102
        out = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            out.append(x)
        return out


class WaveletSynthesis(nn.Module):
    """Coarse-to-fine residual wavelet synthesis (see the module doc), for ``C = 3`` channels."""

    def __init__(self, cfg: VFIConfig, c: int = 3):
        super().__init__()
        self.c, fe, cx = c, cfg.feat, 2 * cfg.context
        # inputs per level: both warped frames' and the blend's coefficients, merge mask, flows (coarse only),
        # both frames' warped context features (if any)
        self.coarse = _Level(3 * 4 * c + 1 + 4 + cx, cfg.coarse, 4 * c + 4 * fe, depth=4)
        self.mid = _Level(3 * 3 * c + c + fe + 1 + cx, cfg.mid, 3 * c + 4 * fe)
        self.fine = _Level(3 * 3 * c + c + fe + 1 + cx, cfg.fine, 3 * c)
        self.sparse_algo = "stack"  # how bool masks run: one of SPARSE_ALGOS (see _Level)
        for lvl in (self.coarse, self.mid, self.fine):
            nn.init.zeros_(lvl.out.weight)
            nn.init.zeros_(lvl.out.bias)

    def forward(self, w0: Tensor, w1: Tensor, base: Tensor, merge: Tensor, flows: Tensor, masks,
                stage=_untimed, context: list[Tensor] | None = None) -> SynthesisOutput:
        """``w0, w1, base Tensor[N, C, H, W]``, ``merge Tensor[N, 1, H, W]``, ``flows Tensor[N, 4, H, W]``;
        ``masks``: ``fn(level, residual, base_ll) -> mask or None`` giving each masked level's mask from the
        coarser level's residual (see :meth:`WaveletVFI.forward`); ``stage``: :meth:`StageTimer.stage`;
        ``context``: both frames' warped context features at 1/2, 1/4, 1/8 (``Tensor[N, 2 * context, ...]``)."""
        c = self.c
        cx = [[t] for t in context] if context is not None else [[], [], []]  # per scale: [] or [features]
        with stage("synthesis.dwt"):
            pyr = []  # per level 1..3: (w0, w1, base) coefficients [N, 4C, ...]
            cur = (w0, w1, base)
            for _ in range(3):
                cur = tuple(haar_split(x) for x in cur)
                pyr.append(cur)
                cur = tuple(x[:, :c] for x in cur)
        with stage("synthesis.coarse"):
            m8 = F.avg_pool2d(merge, 8)
            f8 = F.avg_pool2d(flows, 8) / 8
            out3 = self.coarse.run(torch.cat([*pyr[2], m8, f8, *cx[2]], 1), None)
            r3, feat = out3[:, : 4 * c], F.pixel_shuffle(out3[:, 4 * c :], 2)
            ll = haar_merge(pyr[2][2] + r3)  # LL2 of the output
        residuals, densities = [r3], []
        prev = r3
        for lvl, net, name in ((1, self.mid, "synthesis.mid"), (0, self.fine, "synthesis.fine")):
            b0, b1, bb = pyr[lvl]
            with stage(name + ".mask"):
                mask = masks(lvl, prev, pyr[lvl + 1][2][:, :c])
            with stage(name):
                hf = [b0[:, c:], b1[:, c:], bb[:, c:]]
                x = torch.cat([*hf, ll, feat, F.avg_pool2d(merge, 2 ** (lvl + 1)), *cx[lvl]], 1)
                out = net.run(x, mask, self.sparse_algo)
                r = out[:, : 3 * c]
                if net is self.mid:
                    feat = F.pixel_shuffle(out[:, 3 * c :], 2)
                ll = haar_merge(torch.cat([ll, bb[:, c:] + r], 1))
            dens = torch.ones(len(x), device=x.device) if mask is None else mask.float().mean((1, 2, 3))
            densities.append(dens)
            residuals.append(r)
            prev = r
        return SynthesisOutput(ll, residuals, [p[2] for p in pyr[::-1]], densities)


class WaveletVFI(nn.Module):
    """Motion refiner + ratio classifier + wavelet synthesis.  See the module doc."""

    def __init__(self, cfg: VFIConfig | None = None):
        super().__init__()
        self.cfg = cfg or VFIConfig()
        self.motion = MotionRefiner(self.cfg.motion)
        self.synthesis = WaveletSynthesis(self.cfg)
        self.context = ContextEncoder(self.cfg.context) if self.cfg.context else None
        self.register_buffer("ratios", torch.tensor(RATIOS), persistent=False)
        self.timer: StageTimer | None = None  # set one to time the stages (benchmarks/bench_vfi.py)

    def motion_stage(self, i0: Tensor, i1: Tensor, f01: Tensor, f10: Tensor, t: Tensor):
        """``-> (ft0, ft1, merge, ratio_logits)``: refined ``Tensor[N, 2, H, W]`` flows, merge ``[N, 1, H, W]``
        in (0, 1) (the weight of frame 0, t-weighted), ``Tensor[N, len(RATIOS)]``."""
        ft0, ft1 = intermediate_flows(f01, f10, t)
        q0, q1 = F.avg_pool2d(i0, 4), F.avg_pool2d(i1, 4)
        s0, s1 = F.avg_pool2d(ft0, 4) / 4, F.avg_pool2d(ft1, 4) / 4
        qw0, qw1 = warp(q0, s0), warp(q1, s1)
        tt = t.reshape(-1, 1, 1, 1).expand(-1, 1, *q0.shape[2:]).to(i0.dtype)
        dis = (qw0 - qw1).abs().mean((1, 2, 3))
        disagreement = torch.stack([dis * 10, (qw0 - qw1).abs().amax(1).flatten(1).quantile(0.9, 1) * 10], 1)
        delta, logit, ratio_logits = self.motion(torch.cat([q0, q1, qw0, qw1, s0, s1, tt], 1), disagreement)
        size = i0.shape[2:]
        up = F.interpolate(delta, size=size, mode="bilinear", align_corners=False) * 4
        ft0, ft1 = ft0 + up[:, :2], ft1 + up[:, 2:]
        tw = t.reshape(-1, 1, 1, 1).to(i0.dtype)
        # Super SloMo eq. 1: the visibility weights are scaled by the temporal distance.
        v0 = torch.sigmoid(F.interpolate(logit, size=size, mode="bilinear", align_corners=False))
        merge = (1 - tw) * v0 / ((1 - tw) * v0 + tw * (1 - v0) + 1e-6)
        return ft0, ft1, merge, ratio_logits

    def warped_context(self, i0: Tensor, i1: Tensor, ft0: Tensor, ft1: Tensor) -> list[Tensor]:
        """Both frames' context pyramids (:class:`ContextEncoder`) warped by the intermediate flows, averaged
        down to each scale: ``[Tensor[N, 2 * context, H / 2 ** s, W / 2 ** s] for s in (1, 2, 3)]``."""
        both = self.context(torch.cat([i0, i1]))  # one batch: the two frames share the encoder
        n, out = len(i0), []
        for s, feat in enumerate(both, start=1):
            k = 2**s
            a = warp(feat[:n].contiguous(), F.avg_pool2d(ft0, k) / k)
            b = warp(feat[n:].contiguous(), F.avg_pool2d(ft1, k) / k)
            out.append(torch.cat([a, b], 1))
        return out

    def forward(self, i0: Tensor, i1: Tensor, f01: Tensor, f10: Tensor, t: Tensor, mode: str = "dynamic",
                gumbel_tau: float = 1.0) -> tuple[SynthesisOutput, Tensor, Tensor]:
        """``i0, i1 Tensor[N, 3, H, W]`` in [0, 1]; ``f01, f10`` DIS flows ``[N, 2, H, W]``; ``t Tensor[N]``.

        ``mode``: ``"dense"`` (every layer dense), ``"dynamic"`` (masks from the classifier's ratio; bool masks
        and sparse kernels unless training), ``"train-dynamic"`` (straight-through Gumbel-softmax over the ratios:
        soft masks, WaveletVFI Sec. 3.4), or ``"ratio:<float>"`` (one fixed ratio for every sample).
        Returns ``(synthesis output, ratio_logits Tensor[N, R], choice Tensor[N, R]`` one-hot or soft).
        """
        stage = self.timer.stage if self.timer is not None else _untimed
        with stage("motion"):
            ft0, ft1, merge, ratio_logits = self.motion_stage(i0, i1, f01, f10, t)
        with stage("warp"):
            w0, w1 = warp(i0, ft0, mode=self.cfg.warp_mode), warp(i1, ft1, mode=self.cfg.warp_mode)
            base = merge * w0 + (1 - merge) * w1
        n = len(i0)
        if mode == "train-dynamic":
            choice = F.gumbel_softmax(ratio_logits, tau=gumbel_tau, hard=True)
        elif mode.startswith("ratio:"):
            k = torch.full((n,), float(mode[6:]), device=i0.device)
            choice = None
        else:
            choice = F.one_hot(ratio_logits.argmax(1), len(RATIOS)).to(i0.dtype)
        if mode == "dense":
            masks = _no_masks
        elif mode == "train-dynamic":
            masks = _soft_masks(choice, self.ratios)
        else:
            ratio = (choice @ self.ratios.to(choice.dtype)) if choice is not None else k
            masks = _hard_masks(ratio)
        flows = torch.cat([ft0, ft1], 1)
        ctx = None
        if self.context is not None:
            with stage("context"):
                ctx = self.warped_context(i0, i1, ft0, ft1)
        out = self.synthesis(w0, w1, base, merge, flows, masks, stage, ctx)
        return out, ratio_logits, choice if choice is not None else ratio_logits.new_zeros(n, len(RATIOS))


def _no_masks(level: int, residual: Tensor, ll: Tensor) -> None:
    return None


def _level_mask(residual: Tensor, ll: Tensor, ratio: float | Tensor) -> Tensor:
    # WaveletVFI Sec. 3.3: a finer location is computed where the coarser coefficients exceed ratio x range(LL).
    size = (ll.shape[2] * 2, ll.shape[3] * 2)
    return wavelet_mask(residual.detach(), ll.detach(), ratio, block=2, dilate=1, size=size)


def _hard_masks(ratio: Tensor):
    def masks(level: int, residual: Tensor, ll: Tensor) -> Tensor:
        return _level_mask(residual, ll, ratio)

    return masks


def _soft_masks(choice: Tensor, ratios: Tensor):
    """Straight-through mix ``sum_k choice_k * mask_k``: the forward value is the chosen ratio's mask; the
    gradient reaches the classifier through ``choice`` (WaveletVFI Sec. 3.4)."""

    def masks(level: int, residual: Tensor, ll: Tensor) -> Tensor:
        stack = torch.stack([_level_mask(residual, ll, float(r)).to(choice.dtype) for r in ratios.tolist()], 1)
        return (stack * choice[:, :, None, None, None]).sum(1)

    return masks
