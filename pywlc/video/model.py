"""WL-SVC's shipped weights: the subband entropy model fine-tuned on MCTF subbands (``python -m pywlc.train video``),
sha256-pinned like the image codec's (:mod:`pywlc.codecs.wavelet.model`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from .._pinned import load_pinned
from ..codecs.wavelet.model import WaveletModel

__all__ = ["VIDEO_WEIGHTS", "load_video_weights"]

_DIR = Path(__file__).with_name("weights")
# name -> sha256; the first entry is the default.  Empty: the one fine-tune run so far (1,200 steps, 0.02 CPU-hours
# after a 0.1 CPU-hour subband cache) changed the rate by -0.7 % on kivy_city and +1.1 % on cube (8 frames, one
# step each), so WL-SVC codes with the image codec's entropy model (pywlc.codecs.wavelet.model.WEIGHTS).
VIDEO_WEIGHTS: dict[str, str] = {}


@cache
def load_video_weights(name: str | None = None) -> WaveletModel | None:
    """The shipped WL-SVC model ``name`` (default: the first), sha256-checked; None when none ships."""
    if not VIDEO_WEIGHTS:
        return None
    name, state = load_pinned(VIDEO_WEIGHTS, name, lambda n: _DIR / f"{n}.pt", "WL-SVC")
    with torch.inference_mode(False):
        return WaveletModel.from_state(state, name)
