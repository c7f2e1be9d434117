"""Channel-conditional entropy coding of a latent in slices (Minnen & Singh, ICIP 2020), as used by TCM and WeConvene.

Slice ``i`` of a latent is coded with a Gaussian whose mean and scale are predicted from the hyperprior outputs,
a fixed context (for WeConvene's high bands: all decoded LL channels) and the slices already decoded; after
quantisation a latent residual prediction (LRP, Minnen & Singh eq. 4: ``0.5 * tanh(.)``) corrects the rounding
error from the same inputs.  One loop (:meth:`ChannelSlices._run`) serves training, compression, decompression
and prediction-only decoding, so the encoder and decoder cannot drift apart.

Outside training the mean/scale/LRP transforms run through :func:`pywlc.models.exact.exact_forward`: the
means and scales the entropy coder sees are then the same bits on every device (see :mod:`pywlc.models.exact`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import GaussianConditional
from compressai.layers import conv3x3
from compressai.ops import quantize_ste
from torch import Tensor, nn

from .exact import exact_forward, exact_tanh

__all__ = ["ChannelSlices", "check_codable"]

# Largest |symbol| handed to the rANS coder.  Its bypass path codes any int32 in 4-bit chunks, but a NaN
# becomes INT_MIN, whose negation overflows and never ends the chunk loop (issue 10, finding 3); real latents of
# pictures in [0, 1] stay within a few hundred.
MAX_SYMBOL = 1 << 20


def check_codable(t: Tensor, name: str) -> None:
    """``ValueError`` unless ``t`` (latents or symbols about to be entropy-coded) is finite and within
    ``MAX_SYMBOL``: no entropy-coder call gets a symbol outside the range it can code."""
    if t.numel() and not bool((t.detach().abs() <= MAX_SYMBOL).all()):  # NaN fails the comparison too
        raise ValueError(
            f"{name} has non-finite or out-of-range values (|v| > {MAX_SYMBOL}): non-finite input or weights?"
        )


def _slice_net(in_ch: int, hidden: tuple[int, int], out_ch: int) -> nn.Sequential:
    """The 3-layer conv stack of Minnen & Singh's mean/scale/LRP transforms (3x3 here, as in TCM).

    The last hidden layer is never narrower than the slice it predicts (WeConvene's HF slices are 3x wider).
    """
    h1, h2 = hidden[0], max(hidden[1], out_ch)
    return nn.Sequential(conv3x3(in_ch, h1), nn.GELU(), conv3x3(h1, h2), nn.GELU(), conv3x3(h2, out_ch))


class ChannelSlices(nn.Module):
    """Slice-wise conditional coding of one latent group ``Tensor[N, channels, h, w]``.

    Args:
        channels: channels of the latent (divisible by ``slices``).
        slices: number of equal channel slices, coded in order.
        hyper_ch: channels of each hyperprior output (means branch, scales branch).
        context_ch: channels of a fixed extra context given to every slice (0 for none).
        hidden: widths of the two hidden layers of each slice transform.
    """

    def __init__(self, channels: int, slices: int, hyper_ch: int, context_ch: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        if slices < 1 or channels % slices:
            raise ValueError(f"channels={channels} must be a positive multiple of slices={slices}")
        self.slices, self.width = slices, channels // slices
        s, base = self.width, hyper_ch + context_ch
        self.mean = nn.ModuleList(_slice_net(base + i * s, hidden, s) for i in range(slices))
        self.scale = nn.ModuleList(_slice_net(base + i * s, hidden, s) for i in range(slices))
        self.lrp = nn.ModuleList(_slice_net(base + (i + 1) * s, hidden, s) for i in range(slices))

    def _run(
        self,
        hyper_mean: Tensor,
        hyper_scale: Tensor,
        context: Sequence[Tensor],
        code: Callable[[int, Tensor, Tensor], Tensor],
        exact: bool = False,
    ) -> Tensor:
        """Predict each slice's (mean, scale), let ``code(i, mean, scale)`` return its quantised value, apply LRP.

        ``exact``: evaluate the transforms with :func:`~pywlc.models.exact.exact_forward` (float64 supports, the
        means and scales rounded to float32 for the coder, LRP's tanh by table): device-independent bits, no
        gradients.  The slices fed back as context are then float32, exactly what the decoder reconstructs.
        """
        if exact:
            hyper_mean, hyper_scale = hyper_mean.double(), hyper_scale.double()
            context = [c.double() for c in context]
        done: list[Tensor] = []
        for i in range(self.slices):
            prev = [d.double() for d in done] if exact else done
            support_mean = torch.cat([hyper_mean, *context, *prev], dim=1)
            support_scale = torch.cat([hyper_scale, *context, *prev], dim=1)
            if exact:
                # float64 -> float32 is correctly rounded: still the same bits everywhere.
                mu = exact_forward(self.mean[i], support_mean).float()
                sigma = exact_forward(self.scale[i], support_scale).float()
                y_hat = code(i, mu, sigma)
                lrp = exact_forward(self.lrp[i], torch.cat([support_mean, y_hat.double()], dim=1))
                y_hat = (y_hat.double() + 0.5 * exact_tanh(lrp)).float()
            else:
                mu, sigma = self.mean[i](support_mean), self.scale[i](support_scale)
                y_hat = code(i, mu, sigma)
                y_hat = y_hat + 0.5 * torch.tanh(self.lrp[i](torch.cat([support_mean, y_hat], dim=1)))
            done.append(y_hat)
        return torch.cat(done, dim=1)

    def _part(self, y: Tensor, i: int) -> Tensor:
        return y[:, i * self.width : (i + 1) * self.width]

    def forward(
        self, y: Tensor, hyper_mean: Tensor, hyper_scale: Tensor, context: Sequence[Tensor], gc: GaussianConditional
    ) -> tuple[Tensor, Tensor]:
        """Training / evaluation pass.  Returns ``(y_hat, likelihoods)``, both ``Tensor[N, channels, h, w]``.

        In eval mode the transforms take the exact path, as :meth:`compress` and :meth:`decompress` do.
        """
        likelihoods: list[Tensor] = []

        def code(i: int, mu: Tensor, sigma: Tensor) -> Tensor:
            part = self._part(y, i)
            _, lik = gc(part, sigma, means=mu)
            likelihoods.append(lik)
            # Training: straight-through rounding around the mean (Minnen & Singh 2020); evaluation: the exact
            # value the entropy coder reproduces, so that forward() and decompress() agree bit for bit.
            return quantize_ste(part - mu) + mu if self.training else torch.round(part - mu) + mu

        y_hat = self._run(hyper_mean, hyper_scale, context, code, exact=not self.training)
        return y_hat, torch.cat(likelihoods, dim=1)

    @torch.no_grad()
    def compress(
        self, y: Tensor, hyper_mean: Tensor, hyper_scale: Tensor, context: Sequence[Tensor], gc: GaussianConditional
    ) -> tuple[list[bytes], Tensor]:
        """rANS-code all slices into one string per image.  Returns ``(strings, y_hat)``."""
        cdf, lengths, offsets = _tables(gc)
        encoders = [BufferedRansEncoder() for _ in range(y.shape[0])]

        def code(i: int, mu: Tensor, sigma: Tensor) -> Tensor:
            part = self._part(y, i)
            check_codable(part - mu, f"slice {i} latents")
            symbols = gc.quantize(part, "symbols", mu)
            indexes = gc.build_indexes(sigma)
            for b, enc in enumerate(encoders):
                enc.encode_with_indexes(
                    symbols[b].reshape(-1).tolist(), indexes[b].reshape(-1).tolist(), cdf, lengths, offsets
                )
            return gc.dequantize(symbols, mu)

        y_hat = self._run(hyper_mean, hyper_scale, context, code, exact=True)
        return [enc.flush() for enc in encoders], y_hat

    @torch.no_grad()
    def decompress(
        self,
        strings: Sequence[bytes] | None,
        hyper_mean: Tensor,
        hyper_scale: Tensor,
        context: Sequence[Tensor],
        gc: GaussianConditional,
    ) -> Tensor:
        """Decode the slices from ``strings`` (one per image) -> ``y_hat``.

        With ``strings=None`` nothing is decoded: each slice is its predicted mean (plus LRP), the best guess
        of a decoder that received only the layers this group is conditioned on (scalable base layer).
        """
        n, _, h, w = hyper_mean.shape
        if strings is None:
            return self._run(hyper_mean, hyper_scale, context, lambda i, mu, sigma: mu, exact=True)
        if len(strings) != n:
            raise ValueError(f"got {len(strings)} strings for a batch of {n}")
        cdf, lengths, offsets = _tables(gc)
        decoders = []
        for s in strings:
            dec = RansDecoder()
            dec.set_stream(s)
            decoders.append(dec)

        def code(i: int, mu: Tensor, sigma: Tensor) -> Tensor:
            indexes = gc.build_indexes(sigma)
            rows = [
                torch.tensor(dec.decode_stream(indexes[b].reshape(-1).tolist(), cdf, lengths, offsets))
                for b, dec in enumerate(decoders)
            ]
            symbols = torch.stack(rows).reshape(n, self.width, h, w).to(mu.device)
            return gc.dequantize(symbols, mu)

        return self._run(hyper_mean, hyper_scale, context, code, exact=True)


def _tables(gc: GaussianConditional) -> tuple[list, list[int], list[int]]:
    return gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(), gc.offset.reshape(-1).int().tolist()
