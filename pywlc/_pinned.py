"""Shipped weights pinned by sha256: one loader for every model the package ships (image codec, layered codec,
WL-SVC, VFI)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["load_pinned"]


def load_pinned(pins: Mapping[str, str], name: str | None, file_of: Callable[[str], Path],
                what: str) -> tuple[str, Any]:
    """``(name, state)``: the state dict of the shipped weights ``name`` (default: the first of ``pins``).

    The file's sha256 must equal its pin; it is read with ``weights_only=True`` and outside inference mode, so the
    modules built from it get ordinary parameters (the fixed-point weight caches key on their version counters).

    Raises:
        FileNotFoundError: no pinned weights (of that name); ValueError: a digest mismatch.
    """
    if name is None:
        if not pins:
            raise FileNotFoundError(f"this pywlc build ships no {what} weights")
        name = next(iter(pins))
    if name not in pins:
        raise FileNotFoundError(f"no shipped {what} weights named {name!r} (have {sorted(pins)})")
    path = file_of(name)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != pins[name]:
        raise ValueError(f"weights {path}: sha256 {digest} does not match the pinned {pins[name]}")
    with torch.inference_mode(False):
        return name, torch.load(io.BytesIO(raw), weights_only=True)
