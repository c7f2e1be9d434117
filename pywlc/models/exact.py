"""Integer-exact evaluation of the entropy-model networks of the CompressAI-based codecs (WeConvene).

The fixed-point arithmetic itself (grids, weight quantisation, the order-independent conv, GELU/tanh tables) is
:mod:`pywlc.fixed_point`, which needs no CompressAI; this module adds the layers these networks use on top of
it (CompressAI's ``GDN`` and ``ResidualBlockUpsample``, pywlc's ``WeConvUp``/``WeConvDown``) and re-exports the
fixed-point names, so ``pywlc.models.exact.to_grid`` etc. keep working.  Only the entropy path (hyper
synthesis, slice mean/scale/LRP transforms) is evaluated this way; the image synthesis stays float.
:func:`exact_forward` is the evaluator.  To swap the integer conv (tests), patch ``pywlc.fixed_point.conv_impl``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from compressai.layers import GDN, ResidualBlockUpsample
from torch import Tensor, nn

from .. import fixed_point as _fp
from ..fixed_point import (
    ACC_BITS,
    FA,
    GDN_RA,
    MAX_WEIGHT_BITS,
    MIN_WEIGHT_BITS,
    RA,
    Prepared,
    conv_params,
    default_conv2d,
    exact_conv2d,
    exact_gelu,
    exact_tanh,
    haar_merge_exact,
    haar_split_exact,
    on_grid,
    prepared,
    quantize_weights,
    scrambled_conv2d,
    to_grid,
)
from .weconv import WeConvDown, WeConvUp, _WeConvBands

__all__ = [
    "ACC_BITS",
    "FA",
    "RA",
    "GDN_RA",
    "MAX_WEIGHT_BITS",
    "MIN_WEIGHT_BITS",
    "default_conv2d",
    "exact_conv2d",
    "exact_forward",
    "exact_gelu",
    "exact_tanh",
    "haar_merge_exact",
    "haar_split_exact",
    "prepare",
    "quantize_weights",
    "scrambled_conv2d",
    "to_grid",
]


def __getattr__(name: str) -> Any:
    # ``conv_impl`` is read through, so it is always the one pywlc.fixed_point uses (patch it there).
    if name == "conv_impl":
        return _fp.conv_impl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _gdn_params(m: GDN, device) -> Prepared:
    def make() -> Prepared:
        # compressai's reparametrisation (max(p, bound)^2 - pedestal), here in float64 on the CPU.
        def value(p: Tensor, reparam: nn.Module) -> Tensor:
            q = torch.maximum(p.detach().cpu().double(), reparam.lower_bound.bound.cpu().double())
            return q * q - reparam.pedestal.cpu().double()

        beta, gamma = value(m.beta, m.beta_reparam), value(m.gamma, m.gamma_reparam)
        c = beta.numel()
        # Inputs x^2: integers up to 2^(2 (FA + GDN_RA) - FA).
        w_q, b_q, scale = quantize_weights(gamma.reshape(c, c, 1, 1), beta, 2 ** (FA + 2 * GDN_RA), repr(m))
        return w_q, b_q.clamp(min=1), scale  # beta > 0 keeps the norm positive

    return prepared(m, [m.beta, m.gamma], make, device)


def _gdn(m: GDN, x: Tensor) -> Tensor:
    """``y = x / sqrt(beta + conv1x1(gamma, x^2))`` (``x *`` for the inverse), compressai's GDN."""
    w_q, b_q, scale = _gdn_params(m, x.device)
    a = to_grid(x, GDN_RA)
    sq = (a * a).mul_(2.0**-FA).round_()  # a^2 < 2^48 exact; x^2 back on the activation grid
    norm = _fp.conv_impl(sq, w_q, (1, 1), (0, 0)).add_(b_q[:, None, None]).mul_(scale[:, None, None])
    root = norm.sqrt_()  # IEEE sqrt and division: correctly rounded everywhere (unlike rsqrt)
    xg = a.mul_(2.0**-FA)
    return xg.mul_(root) if m.inverse else xg.div_(root)


@torch.no_grad()
def exact_forward(module: nn.Module, x: Tensor) -> Tensor:
    """Evaluate ``module`` on ``x: Tensor[N, C, H, W]`` with the same bits on any device (float64 in and out).

    Supports ``nn.Sequential``, ``nn.Conv2d`` (groups 1), ``nn.PixelShuffle``, ``nn.GELU`` (erf form),
    ``nn.LeakyReLU``, ``nn.Identity``, compressai's ``GDN`` and ``ResidualBlockUpsample``, and pywlc's
    ``WeConvUp``/``WeConvDown`` and their Haar core.  Not differentiable (runs without autograd).

    Raises:
        TypeError: for any other module type.
    """
    x = x.double()
    if isinstance(module, nn.Sequential):
        for m in module:
            x = exact_forward(m, x)
        return x
    if isinstance(module, nn.Conv2d):
        return exact_conv2d(module, x)
    if isinstance(module, nn.PixelShuffle):
        return F.pixel_shuffle(x, module.upscale_factor)
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise TypeError(f"exact_forward supports GELU(approximate='none'), got {module}")
        return exact_gelu(x)
    if isinstance(module, nn.LeakyReLU):
        return torch.where(x >= 0, x, x * module.negative_slope)  # one correctly rounded product
    if isinstance(module, nn.Identity):
        return x
    if isinstance(module, GDN):
        return _gdn(module, x)
    if isinstance(module, WeConvUp | WeConvDown):
        main = exact_forward(module.bands, exact_forward(module.act, exact_forward(module.conv, x)))
        return main + exact_forward(module.skip, x)
    if isinstance(module, _WeConvBands):
        ll, hf = haar_split_exact(on_grid(x))
        return haar_merge_exact(on_grid(exact_forward(module.low, ll)), on_grid(exact_forward(module.high, hf)))
    if isinstance(module, ResidualBlockUpsample):
        out = exact_forward(module.leaky_relu, exact_forward(module.subpel_conv, x))
        out = exact_forward(module.igdn, exact_forward(module.conv, out))
        return out + exact_forward(module.upsample, x)
    raise TypeError(f"exact_forward does not support {type(module).__module__}.{type(module).__qualname__}")


def prepare(*modules: nn.Module) -> None:
    """Quantise (and cache) the weights of every conv and GDN in ``modules`` now, so errors surface early."""
    for root in modules:
        for m in root.modules():
            device = next(m.parameters(), torch.empty(0)).device
            if isinstance(m, nn.Conv2d):
                conv_params(m, device)
            elif isinstance(m, GDN):
                _gdn_params(m, device)
