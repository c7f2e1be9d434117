"""Training of pywlc's learned codecs.

``python -m pywlc.train wavelet --data SHARED/data --out DIR [--stage entropy|postfilter]`` trains the wavelet
codec's parts on the CPU (:mod:`.wavelet`); ``python -m pywlc.train image --data DIR ...`` trains WeConvene
(:mod:`.image`, needs ``pywlc[weconvene]``; its names load on first use, so this package imports without it).
"""

from __future__ import annotations

from typing import Any

from .wavelet import WaveletTrainConfig, export_weights, train_wavelet

_IMAGE_NAMES = ("TrainConfig", "prepare_data", "rd_loss", "train")


def __getattr__(name: str) -> Any:
    if name in _IMAGE_NAMES:
        from . import image

        return getattr(image, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["WaveletTrainConfig", "export_weights", "train_wavelet", *_IMAGE_NAMES]
