"""Learned codecs on CompressAI's contract: WeConvene (ECCV 2024) and its wavelet-free ablation baseline.

Needs the optional CompressAI dependency: ``pip install pywlc[weconvene]``.
"""

try:
    import compressai  # noqa: F401
except ImportError as exc:  # the core (ops, motion, MCTF, bitstream, wavelet codec) does not need it
    raise ImportError(
        f"pywlc.models (WeConvene) needs CompressAI, which is an optional dependency ({exc}); "
        "install it with `pip install pywlc[weconvene]`"
    ) from exc

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
