"""Codecs: models' strings in pywlc containers.  ``pywlc.codecs.image``: still pictures; ``budget``: the resource
limits every decoder checks before decoding."""

from .budget import DEFAULT_BUDGET, DecodeBudget, check_budget
from .image import DEFAULT_TILE, MAX_PIXELS, StreamInfo, codec_id_of, decode_image, encode_image, stream_info

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_TILE",
    "MAX_PIXELS",
    "DecodeBudget",
    "StreamInfo",
    "check_budget",
    "codec_id_of",
    "decode_image",
    "encode_image",
    "stream_info",
]
