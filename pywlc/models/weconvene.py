"""WeConvene learned image codec (Fu et al., "WeConvene: Learned Image Compression with Wavelet-Domain
Convolution and Entropy Model", ECCV 2024) and its wavelet-free ablation baseline, on CompressAI's contract.

Architecture (written from the paper's description; see ``shared/specs/weconvene.md``)::

    x [3, H, W] --g_a--> y [M, H/8] --Haar--> LL [M, H/16], HF [3M, H/16] --h_a--> z [Z, H/64]
    z_hat --h_mean_s / h_scale_s--> hyper means, scales [M, H/16] each
    WeChARM: LL in S slices | hyper;            HF in S slices | hyper, all of LL_hat
    y_hat = inverse Haar(LL_hat, HF_hat) --g_s--> x_hat

* g_a: WeConv down (3 -> N), residual blocks, WeConv down, residual blocks, conv 3x3 stride 2 (N -> M): the
  CNN form of TCM (Liu et al., CVPR 2023) with WeConv at the 1st and 2nd x2 steps; g_s mirrors it with WeConv
  up at its first two steps and a sub-pixel conv last.
* h_a starts with a WeConv block on all 4M channels of (LL, HF); both hyper-synthesis branches start with a
  WeConv up block (paper Sec. 3.3).
* Strings: ``[LL, HF, z]``.  LL needs only z to decode: a base layer (``decompress([ll, None, z], ...)``).

Configurations (:data:`CONFIGS`): ``"paper"`` is N=128, M=320, Z=192, 5 slices, 2 residual blocks per stage and
slice transforms of width (224, 128) (Minnen & Singh's); ``"compact"`` (N=64, M=96, Z=64, 4 slices, 1 residual
block, (64, 48)) is small enough to train and test on a CPU.  The width of the residual stages is N (TCM's
mixed blocks are 2N wide, half CNN half Swin; the CNN form here keeps only N).

Inputs of any size are padded on the right and bottom (replicating the border) to a multiple of 64, the total
down-sampling down to z, and the reconstruction is cropped back.  ``compress`` returns the image size as
``"shape"`` so that ``decompress`` can crop without side information.

Determinism: ``compress``, ``decompress`` and eval-mode ``forward`` compute the hyper means/scales and every
slice's mean, scale and LRP with :func:`pywlc.models.exact.exact_forward`, so a stream decodes to the same
latents on any device, thread count or batch; training mode keeps the float (differentiable) path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride, conv3x3, subpel_conv3x3
from compressai.models import CompressionModel
from torch import Tensor, nn

from .exact import exact_forward, prepare
from .slices import ChannelSlices, check_codable
from .weconv import WeConvDown, WeConvUp, haar_merge, haar_split

__all__ = ["CONFIGS", "WeConvene", "WeConveneBaseline"]

CONFIGS: dict[str, dict] = {
    "paper": dict(N=128, M=320, Z=192, slices=5, depth=2, slice_hidden=(224, 128)),
    "compact": dict(N=64, M=96, Z=64, slices=4, depth=1, slice_hidden=(64, 48)),
}


def _blocks(ch: int, depth: int) -> list[nn.Module]:
    return [ResidualBlock(ch, ch) for _ in range(depth)]


class _SlicedHyperprior(CompressionModel):
    """Padding, cropping and size bookkeeping shared by both models; ``downsampling`` is the factor down to z."""

    downsampling = 64

    @classmethod
    def from_config(cls, name: str = "compact"):
        """A model of the named configuration in :data:`CONFIGS` (``"compact"`` or ``"paper"``)."""
        if name not in CONFIGS:
            raise ValueError(f"config must be one of {sorted(CONFIGS)}, got {name!r}")
        return cls(**CONFIGS[name])

    def _pad(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be Tensor[N, 3, H, W], got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        d = self.downsampling
        return F.pad(x, (0, -w % d, 0, -h % d), mode="replicate")

    def _z_size(self, shape: Sequence[int]) -> tuple[int, int]:
        h, w = (int(s) for s in shape)
        d = self.downsampling
        return -(-h // d), -(-w // d)

    def _hyper(self, z_hat: Tensor, exact: bool) -> tuple[Tensor, Tensor]:
        """``z_hat: Tensor[N, Z, h, w]`` -> hyper (means, scales), each ``Tensor[N, M, 4h, 4w]``.

        ``exact``: through :func:`~pywlc.models.exact.exact_forward` (float64, the same bits on any device).
        """
        if exact:
            return exact_forward(self.h_mean_s, z_hat), exact_forward(self.h_scale_s, z_hat)
        return self.h_mean_s(z_hat), self.h_scale_s(z_hat)

    def update(self, scale_table=None, force: bool = False, update_quantiles: bool = False) -> bool:
        """CompressAI's CDF tables, and the fixed-point weights of the entropy networks (errors surface here)."""
        updated = super().update(scale_table, force=force, update_quantiles=update_quantiles)
        prepare(self.h_mean_s, self.h_scale_s, *(m for m in self.modules() if isinstance(m, ChannelSlices)))
        return updated


class WeConvene(_SlicedHyperprior):
    """WeConvene: WeConv transforms and the wavelet-domain channel-wise entropy model WeChARM.

    Args:
        N: width of the analysis/synthesis and hyper transforms.
        M: channels of y (LL has M, HF 3M).
        Z: channels of the hyper latent z.
        slices: slices per group (LL and HF); M must be divisible by it.
        depth: residual blocks per stage of g_a / g_s.
        slice_hidden: hidden widths of the slice mean/scale/LRP transforms.
    """

    def __init__(
        self,
        N: int = 128,
        M: int = 320,
        Z: int = 192,
        slices: int = 5,
        depth: int = 2,
        slice_hidden: tuple[int, int] = (224, 128),
    ) -> None:
        super().__init__()
        self.N, self.M, self.Z = N, M, Z
        self.g_a = nn.Sequential(
            WeConvDown(3, N), *_blocks(N, depth), WeConvDown(N, N), *_blocks(N, depth), conv3x3(N, M, stride=2)
        )
        self.g_s = nn.Sequential(
            WeConvUp(M, N), *_blocks(N, depth), WeConvUp(N, N), *_blocks(N, depth), subpel_conv3x3(N, 3, 2)
        )
        self.h_a = nn.Sequential(WeConvDown(4 * M, N), nn.GELU(), conv3x3(N, Z, stride=2))
        self.h_mean_s = nn.Sequential(WeConvUp(Z, N), nn.GELU(), subpel_conv3x3(N, M, 2))
        self.h_scale_s = nn.Sequential(WeConvUp(Z, N), nn.GELU(), subpel_conv3x3(N, M, 2))
        self.ll_slices = ChannelSlices(M, slices, hyper_ch=M, context_ch=0, hidden=slice_hidden)
        self.hf_slices = ChannelSlices(3 * M, slices, hyper_ch=M, context_ch=M, hidden=slice_hidden)
        self.entropy_bottleneck = EntropyBottleneck(Z)
        self.gaussian_ll = GaussianConditional(None)
        self.gaussian_hf = GaussianConditional(None)

    def _analysis(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ll, hf = haar_split(self.g_a(self._pad(x)))
        return ll, hf, self.h_a(torch.cat([ll, hf], dim=1))

    def _synthesis(self, ll_hat: Tensor, hf_hat: Tensor, size: Sequence[int]) -> Tensor:
        h, w = size
        return self.g_s(haar_merge(ll_hat, hf_hat))[..., :h, :w]

    def forward(self, x: Tensor) -> dict:
        """``x``: ``Tensor[N, 3, H, W]`` in [0, 1], any H, W.

        Returns:
            ``{"x_hat": Tensor[N, 3, H, W], "likelihoods": {"ll": Tensor[N, M, h, w], "hf": Tensor[N, 3M, h, w],
            "z": Tensor[N, Z, h/4, w/4]}}`` with ``h, w = ceil(H/64)*4, ceil(W/64)*4``.
        """
        ll, hf, z = self._analysis(x)
        z_hat, z_lik = self.entropy_bottleneck(z)
        # Eval mode: the exact path of compress/decompress, so that x_hat equals decompress()'s.
        hm, hs = self._hyper(z_hat, exact=not self.training)
        ll_hat, ll_lik = self.ll_slices(ll, hm, hs, [], self.gaussian_ll)
        hf_hat, hf_lik = self.hf_slices(hf, hm, hs, [ll_hat], self.gaussian_hf)
        x_hat = self._synthesis(ll_hat, hf_hat, x.shape[-2:])
        return {"x_hat": x_hat, "likelihoods": {"ll": ll_lik, "hf": hf_lik, "z": z_lik}}

    @torch.no_grad()
    def compress(self, x: Tensor) -> dict:
        """``x``: ``Tensor[N, 3, H, W]`` -> ``{"strings": [ll, hf, z] (lists of N bytes), "shape": (H, W)}``.

        Needs :meth:`update` first (CompressAI's CDF tables).
        """
        ll, hf, z = self._analysis(x)
        check_codable(z, "z")
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        hm, hs = self._hyper(z_hat, exact=True)
        ll_strings, ll_hat = self.ll_slices.compress(ll, hm, hs, [], self.gaussian_ll)
        hf_strings, _ = self.hf_slices.compress(hf, hm, hs, [ll_hat], self.gaussian_hf)
        return {"strings": [ll_strings, hf_strings, z_strings], "shape": tuple(x.shape[-2:])}

    @torch.no_grad()
    def decompress(self, strings: Sequence, shape: Sequence[int]) -> dict:
        """``strings`` ``[ll, hf, z]`` from :meth:`compress`, ``shape`` its ``(H, W)`` -> ``{"x_hat", "ll_hat"}``.

        ``hf`` may be None: the base layer (LL + z) is decoded and the high bands are their predicted means.
        ``x_hat`` is ``Tensor[N, 3, H, W]`` (not clamped); ``ll_hat`` the decoded LL latent.
        """
        if len(strings) != 3:
            raise ValueError(f"strings must be [ll, hf, z], got {len(strings)} entries")
        ll_strings, hf_strings, z_strings = strings
        z_hat = self.entropy_bottleneck.decompress(z_strings, self._z_size(shape))
        hm, hs = self._hyper(z_hat, exact=True)
        ll_hat = self.ll_slices.decompress(ll_strings, hm, hs, [], self.gaussian_ll)
        hf_hat = self.hf_slices.decompress(hf_strings, hm, hs, [ll_hat], self.gaussian_hf)
        return {"x_hat": self._synthesis(ll_hat, hf_hat, shape), "ll_hat": ll_hat}


class WeConveneBaseline(_SlicedHyperprior):
    """The ablation baseline: WeConvene's recipe without wavelets.

    CompressAI's residual blocks with stride / sub-pixel upsampling where WeConvene has WeConv blocks, g_a down
    to H/16 in four x2 steps (WeConvene's 4th step is WeChARM's Haar), and one plain channel-wise mean-scale
    hyperprior over all M channels of y (Minnen & Singh 2020, LRP included).  Same arguments and interface as
    :class:`WeConvene`; strings ``[y, z]``; likelihoods ``{"y", "z"}``.
    """

    def __init__(
        self,
        N: int = 128,
        M: int = 320,
        Z: int = 192,
        slices: int = 5,
        depth: int = 2,
        slice_hidden: tuple[int, int] = (224, 128),
    ) -> None:
        super().__init__()
        self.N, self.M, self.Z = N, M, Z
        self.g_a = nn.Sequential(
            ResidualBlockWithStride(3, N),
            *_blocks(N, depth),
            ResidualBlockWithStride(N, N),
            *_blocks(N, depth),
            ResidualBlockWithStride(N, N),
            *_blocks(N, depth),
            conv3x3(N, M, stride=2),
        )
        self.g_s = nn.Sequential(
            ResidualBlockUpsample(M, N),
            *_blocks(N, depth),
            ResidualBlockUpsample(N, N),
            *_blocks(N, depth),
            ResidualBlockUpsample(N, N),
            *_blocks(N, depth),
            subpel_conv3x3(N, 3, 2),
        )
        self.h_a = nn.Sequential(ResidualBlockWithStride(M, N), nn.GELU(), conv3x3(N, Z, stride=2))
        self.h_mean_s = nn.Sequential(ResidualBlockUpsample(Z, N), nn.GELU(), subpel_conv3x3(N, M, 2))
        self.h_scale_s = nn.Sequential(ResidualBlockUpsample(Z, N), nn.GELU(), subpel_conv3x3(N, M, 2))
        self.y_slices = ChannelSlices(M, slices, hyper_ch=M, context_ch=0, hidden=slice_hidden)
        self.entropy_bottleneck = EntropyBottleneck(Z)
        self.gaussian_conditional = GaussianConditional(None)

    def forward(self, x: Tensor) -> dict:
        """``x``: ``Tensor[N, 3, H, W]`` -> ``{"x_hat": Tensor[N, 3, H, W], "likelihoods": {"y", "z"}}``."""
        y = self.g_a(self._pad(x))
        z = self.h_a(y)
        z_hat, z_lik = self.entropy_bottleneck(z)
        y_hat, y_lik = self.y_slices(y, *self._hyper(z_hat, exact=not self.training), [], self.gaussian_conditional)
        h, w = x.shape[-2:]
        return {"x_hat": self.g_s(y_hat)[..., :h, :w], "likelihoods": {"y": y_lik, "z": z_lik}}

    @torch.no_grad()
    def compress(self, x: Tensor) -> dict:
        """``x``: ``Tensor[N, 3, H, W]`` -> ``{"strings": [y, z], "shape": (H, W)}``."""
        y = self.g_a(self._pad(x))
        z = self.h_a(y)
        check_codable(z, "z")
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        y_strings, _ = self.y_slices.compress(y, *self._hyper(z_hat, exact=True), [], self.gaussian_conditional)
        return {"strings": [y_strings, z_strings], "shape": tuple(x.shape[-2:])}

    @torch.no_grad()
    def decompress(self, strings: Sequence, shape: Sequence[int]) -> dict:
        """``strings`` ``[y, z]``, ``shape`` ``(H, W)`` -> ``{"x_hat": Tensor[N, 3, H, W]}``."""
        if len(strings) != 2:
            raise ValueError(f"strings must be [y, z], got {len(strings)} entries")
        y_strings, z_strings = strings
        z_hat = self.entropy_bottleneck.decompress(z_strings, self._z_size(shape))
        y_hat = self.y_slices.decompress(y_strings, *self._hyper(z_hat, exact=True), [], self.gaussian_conditional)
        h, w = shape
        return {"x_hat": self.g_s(y_hat)[..., :h, :w]}
