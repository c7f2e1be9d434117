"""WL-SVC's learned post-filter: the luma of each decoded frame corrected from itself and its two decoded
neighbours (the decoder side of WL-SVC: "MCTF synthesis, then a post-processing network trained on decoded vs
original frames").

MCTF spreads the quantisation error of one temporal subband over every frame it synthesises, so neighbouring
decoded frames carry partly independent errors of the same content: where they agree (static or slowly moving
areas) a filter can average them, as multi-frame quality enhancement does for block codecs (Yang et al., MFQE,
CVPR 2018).  The network is the image codec's :class:`~pywlc.codecs.wavelet.postfilter.PostFilter` with frames
``t - 1, t, t + 1`` in its three input channels; its residual on the middle channel corrects frame ``t``.  At the
ends of a segment the missing neighbour is the frame itself.  Trained (``python -m pywlc.train video-postfilter``)
with neighbours 1, 2 or 4 frames apart, so that it also serves decoding at 1/2 and 1/4 of the frame rate.

Shapes: ``frames: Tensor[T, H, W]`` luma in 0..255 (float), one coded segment in display order.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..codecs.wavelet.postfilter import PostFilter

__all__ = ["TemporalPostFilter", "neighbour_stack"]

_CHUNK = 8  # frames filtered per network call: bounds the hidden activations (32 x H/2 x W/2 floats per frame)


def neighbour_stack(frames: Tensor, index: Tensor, distance: int = 1) -> Tensor:
    """``Tensor[len(index), 3, H, W]``: frames ``t - distance, t, t + distance`` for each ``t`` of ``index``
    (clamped to the segment: the frame itself stands in for a missing neighbour)."""
    last = frames.shape[0] - 1
    prev = (index - distance).clamp(0, last)
    nxt = (index + distance).clamp(0, last)
    return torch.stack([frames[prev], frames[index], frames[nxt]], 1)


class TemporalPostFilter(nn.Module):
    """Three-frame luma post-filter.  ``hidden``/``layers``: of the underlying :class:`PostFilter`."""

    def __init__(self, hidden: int = 32, layers: int = 4) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.net = PostFilter(hidden, layers)

    def correct(self, stack: Tensor, step_code: Tensor) -> Tensor:
        """``stack: Tensor[N, 3, H, W]`` (:func:`neighbour_stack`), ``step_code: Tensor[N]`` -> the filtered middle
        frames ``Tensor[N, 1, H, W]`` (differentiable: the training path)."""
        return self.net(stack, step_code)[:, 1:2]

    @torch.no_grad()
    def forward(self, frames: Tensor, step_code: int) -> Tensor:
        """Filter a decoded segment ``frames: Tensor[T, H, W]`` coded at ``step_code`` -> ``Tensor[T, H, W]``
        clamped to 0..255."""
        if frames.dim() != 3:
            raise ValueError(f"frames must be Tensor[T, H, W], got shape {tuple(frames.shape)}")
        out = torch.empty_like(frames)
        for s in range(0, frames.shape[0], _CHUNK):
            idx = torch.arange(s, min(s + _CHUNK, frames.shape[0]))
            codes = torch.full((len(idx),), int(step_code))
            out[idx] = self.correct(neighbour_stack(frames, idx).to(torch.float32), codes)[:, 0].to(out.dtype)
        return out.clamp_(0, 255)

    def state(self) -> dict:
        return {"postfilter": self.net.state_dict(), "hidden": self.hidden, "layers": self.layers}

    @classmethod
    def from_state(cls, state: dict) -> TemporalPostFilter:
        m = cls(int(state["hidden"]), int(state["layers"]))
        m.net.load_state_dict(state["postfilter"])
        return m.eval()
