"""WeConv blocks: convolution in the Haar wavelet domain (Fu et al., "WeConvene", ECCV 2024, Sec. 3.2).

A WeConv block resamples by 2 like the residual blocks of CompressAI/TCM it replaces, but filters the low band
and the three high bands separately between a fixed Haar analysis and synthesis, so the learned filters act on
a frequency-decomposed signal at negligible extra cost.  The Haar transform is pywlc's lifting kernel
(``pywlc.dwt(..., "haar", 1)``, packed Mallat layout), differentiable through its adjoint.
"""

from __future__ import annotations

import torch
from compressai.layers import GDN, conv1x1, conv3x3, subpel_conv3x3
from torch import Tensor, nn

from ..ops.dwt import dwt, idwt

__all__ = ["haar_split", "haar_merge", "WeConvDown", "WeConvUp"]


def haar_split(x: Tensor) -> tuple[Tensor, Tensor]:
    """One-level orthonormal Haar DWT of ``Tensor[N, C, H, W]`` (H, W even).

    Returns:
        ``(LL, HF)``: ``LL`` is ``Tensor[N, C, H/2, W/2]``; ``HF`` is ``Tensor[N, 3C, H/2, W/2]``, the bands
        ``(cH, cV, cD)`` (pywt's names and order) concatenated band-major along the channels.
    """
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    # periodization: exactly the Haar filter bank on even sizes, and an error (not a silent border) on odd ones.
    p = dwt(x, "haar", 1, mode="periodization")
    # Packed layout: rows/cols [0, h) low-pass, [h, H) high-pass; 'ad' (cV) is low along H, high along W.
    ll, c_v, c_h, c_d = p[..., :h, :w], p[..., :h, w:], p[..., h:, :w], p[..., h:, w:]
    return ll, torch.cat([c_h, c_v, c_d], dim=1)


def haar_merge(ll: Tensor, hf: Tensor) -> Tensor:
    """Inverse of :func:`haar_split`.

    ``LL``: ``Tensor[N, C, h, w]``, ``HF``: ``Tensor[N, 3C, h, w]`` (cH, cV, cD band-major) -> ``Tensor[N, C, 2h, 2w]``.
    """
    c_h, c_v, c_d = hf.chunk(3, dim=1)
    packed = torch.cat([torch.cat([ll, c_v], dim=-1), torch.cat([c_h, c_d], dim=-1)], dim=-2)
    return idwt(packed, "haar", 1, mode="periodization")


class _WeConvBands(nn.Module):
    """The wavelet-domain core shared by both variants: Haar -> (LL: conv+GDN, HF: conv+GDN) -> inverse Haar."""

    def __init__(self, ch: int, inverse: bool) -> None:
        super().__init__()
        self.low = nn.Sequential(conv3x3(ch, ch), GDN(ch, inverse=inverse))
        # The three high bands share one conv so orientations can inform each other (WeConvene Fig. 3).
        self.high = nn.Sequential(conv3x3(3 * ch, 3 * ch), GDN(3 * ch, inverse=inverse))

    def forward(self, x: Tensor) -> Tensor:
        ll, hf = haar_split(x)
        return haar_merge(self.low(ll), self.high(hf))


class WeConvDown(nn.Module):
    """WeConv block, down-sampling by 2: ``Tensor[N, in_ch, H, W]`` -> ``Tensor[N, out_ch, H/2, W/2]``.

    conv 3x3 stride 2 -> LeakyReLU -> Haar -> per-band conv 3x3 + GDN -> inverse Haar, plus a 1x1 stride-2 skip
    (the skip of CompressAI's ``ResidualBlockWithStride``, the block WeConv replaces).  H/2 and W/2 must be even.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = conv3x3(in_ch, out_ch, stride=2)
        self.act = nn.LeakyReLU(inplace=True)
        self.bands = _WeConvBands(out_ch, inverse=False)
        self.skip = conv1x1(in_ch, out_ch, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.bands(self.act(self.conv(x))) + self.skip(x)


class WeConvUp(nn.Module):
    """WeConv block, up-sampling by 2: ``Tensor[N, in_ch, H, W]`` -> ``Tensor[N, out_ch, 2H, 2W]``.

    sub-pixel conv x2 -> LeakyReLU -> Haar -> per-band conv 3x3 + IGDN -> inverse Haar, plus a sub-pixel skip
    (as CompressAI's ``ResidualBlockUpsample``).
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = subpel_conv3x3(in_ch, out_ch, 2)
        self.act = nn.LeakyReLU(inplace=True)
        self.bands = _WeConvBands(out_ch, inverse=True)
        self.skip = subpel_conv3x3(in_ch, out_ch, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.bands(self.act(self.conv(x))) + self.skip(x)
