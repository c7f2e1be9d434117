"""The learned post-filter: a small residual CNN on the decoded picture, conditioned on the quantiser step.

It works at half resolution on the 2x2 space-to-depth picture (4x the channels for the same MACs, a wider
receptive field), as WL-SVC's decoder-side networks do on subbands: ``x + PixelShuffle(net(PixelUnshuffle(x),
step plane))``.  ~26k parameters, ~6.5k MAC per pixel (0.1-0.2 s for 768x512 on 2 CPU cores).  Pixels are in
0..255; grey pictures go through the same network as three equal channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PostFilter"]


class PostFilter(nn.Module):
    def __init__(self, hidden: int = 32, layers: int = 4, min_code: int = -(1 << 15)) -> None:
        super().__init__()
        # The filter was trained on steps from 2^(min_code / 16) up: finer steps are left alone.
        self.hidden, self.layers, self.min_code = hidden, layers, min_code
        convs: list[nn.Module] = [nn.Conv2d(12 + 1, hidden, 3, padding=1), nn.LeakyReLU(0.125)]
        for _ in range(layers - 2):
            convs += [nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.125)]
        convs.append(nn.Conv2d(hidden, 12, 3, padding=1))
        self.net = nn.Sequential(*convs)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: Tensor, step_code: Tensor) -> Tensor:
        """``x: Tensor[N, C, H, W]`` (C = 1 or 3, 0..255) and ``step_code: Tensor[N]`` -> filtered, same shape."""
        n, c, h, w = x.shape
        if n and bool((step_code < self.min_code).all()):
            return x
        if c == 1:
            return self.forward(x.expand(n, 3, h, w), step_code)[:, :1]
        ph, pw = h % 2, w % 2
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x
        z = F.pixel_unshuffle(xp / 255.0 - 0.5, 2)
        cond = (step_code.to(z.dtype) / 128).view(n, 1, 1, 1).expand(n, 1, *z.shape[-2:])
        r = F.pixel_shuffle(self.net(torch.cat([z, cond], 1)), 2) * 255.0
        keep = (step_code >= self.min_code).to(r.dtype).view(n, 1, 1, 1)
        return x + keep * r[..., :h, :w]
