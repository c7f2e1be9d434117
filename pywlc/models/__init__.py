"""Learned codecs on CompressAI's contract: WeConvene (ECCV 2024) and its wavelet-free ablation baseline."""

from .slices import ChannelSlices
from .weconv import WeConvDown, WeConvUp, haar_merge, haar_split
from .weconvene import CONFIGS, WeConvene, WeConveneBaseline

__all__ = [
    "CONFIGS",
    "WeConvene",
    "WeConveneBaseline",
    "WeConvDown",
    "WeConvUp",
    "ChannelSlices",
    "haar_split",
    "haar_merge",
]
