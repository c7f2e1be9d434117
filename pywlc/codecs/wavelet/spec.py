"""Registry entry of the wavelet image codec (light: imports nothing of the codec itself)."""

from ...bitstream import CodecId
from ..registry import CodecSpec, register_codec

SPEC = register_codec(
    CodecSpec(
        name="wavelet",
        codec_id=CodecId.WAVELET,
        module="pywlc.codecs.wavelet",
        description="lifting wavelets + learned entropy model + learned post-filter (lossy and lossless); "
        "scalable streams of embedded quality layers",
        layers=("res0", "res1", "...", "| layered: r0q0", "r1q0", "...", "r0q1", "..."),
        options={"quality": "0..100", "bpp": "target bits per pixel", "lossless": "bitwise lossless",
                 "layers": "increasing qualities of embedded quality layers (one scalable stream)",
                 "layers_bpp": "increasing cumulative bits-per-pixel targets of the quality layers"},
    )
)
