"""Registry entries of WeConvene and its wavelet-free baseline (need ``pip install pywlc[weconvene]``)."""

from ..bitstream import CodecId
from .registry import CodecSpec, register_codec

for _name, _id, _layers, _text in (
    ("weconvene", CodecId.WECONVENE, ("z", "ll", "hf"), "WeConvene (wavelet-domain learned transform, GPU-trained)"),
    ("baseline", CodecId.WECONVENE_BASELINE, ("z", "y"), "WeConvene's wavelet-free baseline"),
):
    register_codec(
        CodecSpec(
            name=_name,
            codec_id=_id,
            module=f"pywlc.codecs.weconvene_api:{_name.upper()}",
            description=_text,
            layers=_layers,
            extra="weconvene",
            options={"quality": "rate index 1..6 (shipped weights)", "checkpoint": "a trained checkpoint"},
        )
    )
