"""Codecs: pictures in pywlc containers.

``encode(image, quality=... | bpp=... | lossless=True, codec="wavelet") -> bytes`` and ``decode(data)`` go
through the codec registry (:mod:`.registry`): the wavelet codec (:mod:`.wavelet`, the default, weights
shipped) and WeConvene / its baseline (:mod:`.image`, ``pip install pywlc[weconvene]``, train your own).
``budget``: the resource limits every decoder checks before decoding.  The WeConvene names of
:mod:`.image` are loaded on first use, so this package imports without CompressAI.
"""

from __future__ import annotations

from typing import Any

from .budget import DEFAULT_BUDGET, DecodeBudget, check_budget
from .registry import CodecSpec, codec, codec_for_stream, codecs, register_codec


def encode(image: Any, quality: float | None = None, *, codec: str = "wavelet", **options: Any) -> bytes:
    """Compress ``image`` (``uint8 Tensor[C, H, W]``) with a registered codec (default: the wavelet codec)."""
    from .registry import encode as _encode

    if quality is not None:
        options["quality"] = quality
    return _encode(image, codec, **options)


def decode(data: bytes | bytearray | memoryview, **options: Any) -> Any:
    """Decompress any registered codec's stream to ``uint8 Tensor[C, H, W]``."""
    from .registry import decode as _decode

    return _decode(data, **options)


_IMAGE_NAMES = ("DEFAULT_TILE", "MAX_PIXELS", "StreamInfo", "codec_id_of", "decode_image", "encode_image",
                "stream_info")


def __getattr__(name: str) -> Any:
    if name in _IMAGE_NAMES:  # WeConvene's codec: imports CompressAI
        from . import image

        return getattr(image, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BUDGET",
    "CodecSpec",
    "DecodeBudget",
    "check_budget",
    "codec",
    "codec_for_stream",
    "codecs",
    "decode",
    "encode",
    "register_codec",
    *_IMAGE_NAMES,
]
