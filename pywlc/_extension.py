"""Lazy loader of the compiled core ``pywlc._C`` and what it was built with."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

_C: ModuleType | None = None
_error: str | None = None
_loaded = False


def load() -> ModuleType | None:
    """Import ``pywlc._C`` once; ``None`` (with the reason kept for :func:`build_info`) if it is missing."""
    global _C, _error, _loaded
    if not _loaded:
        _loaded = True
        try:
            _C = importlib.import_module("pywlc._C")
        except ImportError as exc:  # pure-Python install: every op falls back to its torch reference
            _error = (
                f"{exc}. pywlc runs its pure-torch reference ops (slow). Build the kernels with "
                "`pip install -e .` (or `python setup.py build_ext --inplace`)."
            )
    return _C


def has_cpu_ops() -> bool:
    return load() is not None


def has_cuda_ops() -> bool:
    """True when the compiled core has CUDA kernels (says nothing of a GPU being present)."""
    c = load()
    return c is not None and hasattr(c, "dwt_cuda")


def build_info() -> dict[str, Any]:
    """What was built: version, compiled core, CUDA version and archs, OpenMP; and the torch in use."""
    import torch

    from ._version import __version__

    c = load()
    info: dict[str, Any] = {"version": __version__, "compiled": c is not None, "torch": torch.__version__}
    if c is None:
        info.update(cuda=False, openmp=False, error=_error)
    else:
        info.update(c.build_info())
    info["gpu_available"] = torch.cuda.is_available()
    return info
