"""Codecs: models' strings in pywlc containers.  ``pywlc.codecs.image``: still pictures."""

from .image import DEFAULT_TILE, MAX_PIXELS, StreamInfo, codec_id_of, decode_image, encode_image, stream_info

__all__ = ["DEFAULT_TILE", "MAX_PIXELS", "StreamInfo", "codec_id_of", "decode_image", "encode_image", "stream_info"]
