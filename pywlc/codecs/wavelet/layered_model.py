"""The scalable wavelet codec's learned parts: the single-layer model (base layer, post-filter) + the refinement
entropy model, loaded from shipped weights pinned by sha256.

A layered stream records the 8-byte digests of both entropy models; a decoder holding other weights refuses it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import torch

from ..._pinned import load_pinned
from .model import WaveletModel, load_model, weights_file
from .refine_model import RefineEntropyModel

__all__ = ["LAYERED_WEIGHTS", "LayeredModel", "load_layered_model"]

# name -> sha256 of the file; the default model is the first entry.  Training record: weights/<name>.json.
LAYERED_WEIGHTS: dict[str, str] = {
    # From wavelet-v1; 200 steps (batch 8 of 256^2 crops) + 500 steps (batch 4 of 192^2): 0.063 CPU-hours.
    "wavelet-layers-v1": "5a3467baed2cd641eb4bf30cdb43704bd989e62554f370357c25bf2ca8dc176e",
}


@dataclass
class LayeredModel:
    base: WaveletModel
    refine: RefineEntropyModel
    name: str = "untrained"

    def __post_init__(self) -> None:
        self.refine.eval()
        h = hashlib.sha256()
        for k, v in sorted(self.refine.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        self.model_id = h.digest()[:8]

    @classmethod
    def from_base(cls, base: WaveletModel) -> LayeredModel:
        """The base model's entropy networks reused for refinement, coarse inputs unused (no training)."""
        return cls(base, RefineEntropyModel.from_base(base.entropy), f"{base.name}+untrained-refinement")


@cache
def load_layered_model(name: str | None = None) -> LayeredModel:
    """The shipped layered model ``name`` (default: the first of :data:`LAYERED_WEIGHTS`), sha256-checked.

    Raises:
        FileNotFoundError: no shipped weights of that name; ValueError: a digest mismatch.
    """
    name, state = load_pinned(LAYERED_WEIGHTS, name, weights_file, "layered wavelet-codec")
    with torch.inference_mode(False):  # ordinary parameters: the fixed-point weight cache reads version counters
        refine = RefineEntropyModel(int(state["hidden"]))
        refine.load_state_dict(state["refine"])
        return LayeredModel(load_model(state["base"]), refine, name)
