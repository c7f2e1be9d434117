"""WL-SVC's shipped weights: the subband entropy model fine-tuned on MCTF subbands (``python -m pywlc.train video``),
sha256-pinned like the image codec's (:mod:`pywlc.codecs.wavelet.model`)."""

from __future__ import annotations

import hashlib
import io
from functools import cache
from pathlib import Path

import torch

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
    name = next(iter(VIDEO_WEIGHTS)) if name is None else name
    if name not in VIDEO_WEIGHTS:
        raise FileNotFoundError(f"no shipped WL-SVC weights named {name!r} (have {sorted(VIDEO_WEIGHTS)})")
    raw = (_DIR / f"{name}.pt").read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != VIDEO_WEIGHTS[name]:
        raise ValueError(f"weights {_DIR / name}.pt: sha256 {digest} does not match the pinned {VIDEO_WEIGHTS[name]}")
    with torch.inference_mode(False):
        return WaveletModel.from_state(torch.load(io.BytesIO(raw), weights_only=True), name)
