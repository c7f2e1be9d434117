"""The pywlc wavelet image codec: lifting DWT + learned entropy model + learned post-filter, lossy and lossless.

``encode(image, quality=... | bpp=... | lossless=True) -> bytes``, ``decode(bytes) -> uint8 Tensor[C, H, W]``,
``extract(bytes, resolution=2)`` (a lower-resolution sub-stream, no re-encoding), ``read_header(bytes)``.
See :mod:`.codec` for the stream layout and :mod:`.entropy_model` for the model.  Scalable streams (embedded
quality layers x resolutions): ``encode(image, layers=[Q1, ..., QK])``, ``decode(bytes, layers=k)``,
``extract(bytes, layers=k, resolution=2)``; :mod:`.layered` (``decode_layers`` reports dropped layers).
"""

from .codec import StreamHeader, decode, encode, extract, rd_settings, read_header
from .layered import LayeredResult, decode_layers, encode_layers, extract_layers, read_layered_header
from .model import WaveletModel, load_model

__all__ = ["LayeredResult", "StreamHeader", "WaveletModel", "decode", "decode_layers", "encode", "encode_layers",
           "extract", "extract_layers", "load_model", "rd_settings", "read_header", "read_layered_header"]
