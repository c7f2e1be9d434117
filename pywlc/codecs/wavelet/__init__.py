"""The pywlc wavelet image codec: lifting DWT + learned entropy model + learned post-filter, lossy and lossless.

``encode(image, quality=... | bpp=... | lossless=True) -> bytes``, ``decode(bytes) -> uint8 Tensor[C, H, W]``,
``extract(bytes, resolution=2)`` (a lower-resolution sub-stream, no re-encoding), ``read_header(bytes)``.
See :mod:`.codec` for the stream layout and :mod:`.entropy_model` for the model.
"""

from .codec import StreamHeader, decode, encode, extract, rd_settings, read_header
from .model import WaveletModel, load_model

__all__ = ["StreamHeader", "WaveletModel", "decode", "encode", "extract", "load_model", "rd_settings", "read_header"]
