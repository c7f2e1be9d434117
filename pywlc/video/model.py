"""WL-SVC's shipped weights, sha256-pinned like the image codec's (:mod:`pywlc.codecs.wavelet.model`): the subband
entropy model fine-tuned on MCTF subbands (``python -m pywlc.train video``) and the three-frame post-filter trained
on decoded train video (``python -m pywlc.train video-postfilter``, :mod:`pywlc.video.postfilter`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from .._pinned import load_pinned
from ..codecs.wavelet.model import WaveletModel
from .postfilter import TemporalPostFilter

__all__ = ["VIDEO_POSTFILTERS", "VIDEO_WEIGHTS", "load_video_postfilter", "load_video_weights"]

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


# name -> sha256 of WL-SVC's post-filter weights; the first entry is the default (records in weights/<name>.json).
VIDEO_POSTFILTERS: dict[str, str] = {
    # wlsvc-pf-v1's recipe with the 1/2 and 1/4 frame-rate decodes of every training stream in the data (half the
    # crops at full rate): 0.52 CPU-hours (0.26 to code and decode the clips, 0.25 to train).  Held-out train clips,
    # Y-PSNR over no filter at full / 1/2 / 1/4 frame rate: +0.09 / +0.14 / +0.42 dB (wlsvc-pf-v1: +0.14 / +0.02 /
    # -0.09; the image filter: +0.04 / +0.01 / -0.04).
    "wlsvc-pf-v2": "3721f4e8f0ca99ce8e28d8d02994303dfe98b38c8e07567384e08c9b8a13e934",
    # The image codec's wavelet-v1 post-filter fine-tuned 6,000 steps as a three-frame filter on WL-SVC's own decoded
    # train video (mire2 and forensics_dog, first 64 frames, + 12 synthetic pans over train photos; step codes 44-98):
    # 0.51 CPU-hours (0.20 to code the clips, 0.31 to train).  Held-out train clips: +0.14 dB Y-PSNR over no filter,
    # against +0.04 dB for the image filter it replaces.  On the test sequences it is a wash: Y BD-rate +2.2 % (cube,
    # clean rendered content) and -1.7 % (kivy_city) against the image filter (README, video section).
    "wlsvc-pf-v1": "c41afcb4335954cffea485e3101351a670182d520262f156a37005c098c250c8",
}


@cache
def load_video_postfilter(name: str | None = None) -> TemporalPostFilter | None:
    """The shipped WL-SVC post-filter ``name`` (default: the first), sha256-checked; None when none ships."""
    if not VIDEO_POSTFILTERS:
        return None
    _, state = load_pinned(VIDEO_POSTFILTERS, name, lambda n: _DIR / f"{n}.pt", "WL-SVC post-filter")
    return TemporalPostFilter.from_state(state)
