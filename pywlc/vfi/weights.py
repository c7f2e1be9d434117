"""The interpolator's shipped weights (``weights/*.pt`` + a ``.json`` record of their training), pinned by sha256."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from .._pinned import load_pinned
from .model import VFIConfig, WaveletVFI

__all__ = ["WEIGHTS", "load_model", "weights_file"]

_DIR = Path(__file__).with_name("weights")
# name -> sha256 of the file; the default model is the first entry.  Training: weights/<name>.json.
WEIGHTS: dict[str, str] = {
    # Bicubic frame warps, synthetic triplets with a still background, sensor noise and 8-bit rounding, the last
    # 13 frames of each train sequence held out (validation: +0.25 / +0.22 dB dynamic / dense over vfi-v2 there).
    "vfi-v3": "30815469c932385f444b0726ba7f774168753cce2b53047c82dfc4d098e999b7",
    # vfi-v1's weights run with OpenCV DIS preset medium instead of fast (the preset of the benchmark's DIS
    # baseline): +0.13 / +0.25 dB dynamic on cube / kivy_city for ~190 ms more per 720p frame.
    "vfi-v2": "85bccefd5cedeb6fb693f9c2aa5a4718fbc005fd6ba9806b49a13f7425396f55",
    "vfi-v1": "ebbf025df0cbcde3710babf594e4717dd351e83d9abd3fb6c968136ba21a78bf",
}


def weights_file(name: str) -> Path:
    return _DIR / f"{name}.pt"


def model_from_state(state: dict) -> WaveletVFI:
    """A :class:`WaveletVFI` from ``{"model": state_dict, "model_config": dict}`` (eval mode)."""
    model = WaveletVFI(VFIConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()


@cache
def load_model(name: str | None = None) -> WaveletVFI:
    """The shipped interpolator ``name`` (default: the first of :data:`WEIGHTS`), sha256-checked, on the CPU.

    Raises:
        FileNotFoundError: no shipped weights of that name; ValueError: a digest mismatch.
    """
    _, state = load_pinned(WEIGHTS, name, weights_file, "frame-interpolation")
    with torch.inference_mode(False):
        return model_from_state(state)
