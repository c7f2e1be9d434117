"""The wavelet codec's learned parts as one object: entropy model, lifting step (optional) and post-filter, loaded
from shipped weights.

Weights ship inside the package (``weights/*.pt``, a few hundred kB) and are checked against the sha256 pinned
in :data:`WEIGHTS` before loading.  A stream records the first 8 bytes of the digest of the weights its decoding
depends on (the entropy model, and the lifting step when the model has one) and is refused by a decoder holding
other weights (the symbols would decode to garbage, or the details be predicted differently).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from ..._pinned import load_pinned
from .entropy_model import SubbandEntropyModel
from .lifting import LiftingPredictor
from .postfilter import PostFilter

__all__ = ["WEIGHTS", "WaveletModel", "load_model", "shipped_model_with_id", "weights_file"]

_DIR = Path(__file__).with_name("weights")
# name -> sha256 of the file; the default model is the first entry.
WEIGHTS: dict[str, str] = {
    # v7 with v6's lifting step fine-tuned 800 more steps (lr 5e-4 -> 5e-5; it had trained 1,300): 4.00 CPU-hours
    # in all (weights/wavelet-v8.json), the 2 hours of 2-core time a shipped model may take.
    "wavelet-v8": "acc009cbeb67b92a38c19587d0807720c5f0083cd1166d3b0b62625bd16839c1",
    # v6 with two entropy models, each v6's fine-tuned 2 x 1,200 steps on one path alone (lr 5e-4 -> 5e-5, then
    # 3e-4 -> 3e-5): lossy batches (all with the lifting step) for lossy streams, lossless batches for lossless
    # streams (WaveletModel.entropy_lossless); v6's lifting step and post-filter: 3.83 CPU-hours in all, v6's
    # history counted once (weights/wavelet-v7.json).
    "wavelet-v7": "aa7f06bfa54df3b66ed754a83ea6e595b68600fa3aaff29e14136d235f928274",
    # v5 + the approximation context (approx.py: each level's synthesised approximation through 1x1 side layers),
    # fine-tuned 1,200 steps (the new layers at lr 1e-3, v5's at 0.2x, cosine to 0.1x), v5's lifting step and
    # post-filter: 2.97 CPU-hours in all (weights/wavelet-v6.json).
    "wavelet-v6": "f851225e415773b239f3f74c139b9f7f7f5c13f3eb2bed3e5901814e25f002e5",
    # v4 fine-tuned: the entropy model 4,000 more steps (lr 5e-4 -> 5e-5 on every parameter, v4's recipe otherwise)
    # and the post-filter 1,500 more steps on step codes 8..120 (v4's stopped at 40, so it now also filters
    # qualities above ~56), v4's lifting step: 2.74 CPU-hours in all (weights/wavelet-v5.json).
    "wavelet-v5": "05252697f547c5f913bebae5a66e6b3fd56db3b3830fc149cfb2891f1588c225",
    # v3's entropy model + mean nets (16 channels: the Laplace's centre from the signed context), 2,500 steps
    # (v3's nets at 0.2x the rate, 35 % lossless batches), v3's lifting step and post-filter: 1.91 CPU-hours in all.
    "wavelet-v4": "47b17b6534fff0bfe49c50c1506ab588ea5013b2e5e8ce702a3b862775c13fb9",
    # v2's entropy model fine-tuned 1,200 more steps and its post-filter 1,500 steps on the lifting path, both on
    # crops also downscaled 1-3x with Lanczos (--rescale-max 3: the test photos are fitted to 768 px, sharper per
    # pixel than the trainer's /2 photos), v2's lifting step: 1.50 CPU-hours in all (weights/*.json).
    "wavelet-v3": "197c50ddd3f734ffce34476731e1adeb5bf8f6949a83863e3b5266dbbc146879",
    # The learned lifting step (1,300 steps) + the v1 entropy model fine-tuned 1,000 steps on its residuals (80 % of
    # lossy batches; plain 9/7 and lossless the rest) + v1's post-filter: 1.03 CPU-hours in all (weights/*.json).
    "wavelet-v2": "f8f2ee07b172f3ae7e7e7c07b22b345d2add0d84519a00dd5cedea414ea6c96a",
    # 2,500 entropy steps + 2,500 post-filter steps on the 64 train photos: 0.53 CPU-hours.  WL-SVC and the layered
    # codec's base layer use it.
    "wavelet-v1": "0a2972cf1942341bb8b60a4df9e7065c5386408e674be219082ab100cb3f34a5",
}


@dataclass
class WaveletModel:
    entropy: SubbandEntropyModel
    postfilter: PostFilter | None
    name: str = "untrained"
    lifting: LiftingPredictor | None = None
    # The entropy model of lossless streams, where it differs from ``entropy`` (a fine-tune on lossless batches
    # alone: the shared model spends part of its capacity on the other path).
    entropy_lossless: SubbandEntropyModel | None = None

    def __post_init__(self) -> None:
        for m in (self.entropy, self.postfilter, self.lifting, self.entropy_lossless):
            if m is not None:
                m.eval()
        self.model_id = self._digest()

    def entropy_for(self, lossless: bool) -> SubbandEntropyModel:
        """The entropy model that codes lossless (``lossless``) or lossy streams."""
        return self.entropy_lossless if lossless and self.entropy_lossless is not None else self.entropy

    def _digest(self) -> bytes:
        h = hashlib.sha256()
        parts = [("", self.entropy)] + ([] if self.lifting is None else [("lifting.", self.lifting)])
        if self.entropy_lossless is not None:
            parts.append(("lossless.", self.entropy_lossless))
        # No prefix for the entropy model: the ids of models without the other parts stay as they were.
        for prefix, module in parts:
            for k, v in sorted(module.state_dict().items()):
                h.update((prefix + k).encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.digest()[:8]

    def state(self) -> dict:
        return {
            "entropy": self.entropy.state_dict(),
            **self.entropy.settings("entropy_"),
            "entropy_lossless": None if self.entropy_lossless is None else self.entropy_lossless.state_dict(),
            **({} if self.entropy_lossless is None else self.entropy_lossless.settings("entropy_lossless_")),
            "postfilter": None if self.postfilter is None else self.postfilter.state_dict(),
            "postfilter_hidden": None if self.postfilter is None else self.postfilter.hidden,
            "postfilter_layers": None if self.postfilter is None else self.postfilter.layers,
            "postfilter_min_code": None if self.postfilter is None else self.postfilter.min_code,
            "lifting": None if self.lifting is None else self.lifting.state_dict(),
            "lifting_hidden": None if self.lifting is None else self.lifting.hidden,
            "lifting_layers": None if self.lifting is None else self.lifting.layers,
        }

    @classmethod
    def from_state(cls, state: dict, name: str = "custom") -> WaveletModel:
        ent = SubbandEntropyModel.from_settings(state, "entropy_")
        ent.load_state_dict(state["entropy"])
        pf = None
        if state.get("postfilter") is not None:
            low = state.get("postfilter_min_code")
            pf = PostFilter(int(state["postfilter_hidden"]), int(state["postfilter_layers"]),
                            -(1 << 15) if low is None else int(low))
            pf.load_state_dict(state["postfilter"])
        lift = None
        if state.get("lifting") is not None:
            lift = LiftingPredictor(int(state["lifting_hidden"]), int(state["lifting_layers"]))
            lift.load_state_dict(state["lifting"])
        ent_ll = None
        if state.get("entropy_lossless") is not None:
            ent_ll = SubbandEntropyModel.from_settings(state, "entropy_lossless_")
            ent_ll.load_state_dict(state["entropy_lossless"])
        return cls(ent, pf, name, lift, ent_ll)


def weights_file(name: str) -> Path:
    return _DIR / f"{name}.pt"


@cache
def load_model(name: str | None = None) -> WaveletModel:
    """The shipped model ``name`` (default: the first of :data:`WEIGHTS`), sha256-checked.

    Raises:
        FileNotFoundError: no shipped weights of that name; ValueError: a digest mismatch.
    """
    name, state = load_pinned(WEIGHTS, name, weights_file, "wavelet-codec")
    # Ordinary (not inference) parameters even when first called under torch.inference_mode(): the fixed-point
    # weight cache keys on the parameters' version counters.
    with torch.inference_mode(False):
        return WaveletModel.from_state(state, name)


def shipped_model_with_id(model_id: bytes) -> WaveletModel | None:
    """The shipped weights whose :attr:`WaveletModel.model_id` is ``model_id``, or None: a stream coded with any
    shipped version decodes by default, not only with the newest.  Versions are tried in :data:`WEIGHTS` order (the
    default first), each loaded once, on demand."""
    for name in WEIGHTS:
        try:
            m = load_model(name)
        except FileNotFoundError:  # a wheel may leave out older weights
            continue
        if m.model_id == model_id:
            return m
    return None
