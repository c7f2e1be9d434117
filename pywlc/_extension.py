"""The only module that touches the compiled core ``pywlc._C``: lazy loader, build info, one kernel gateway.

- :func:`kernel` (gsplat's ``_make_lazy_cuda_func`` is the model) finds ``<name>_cpu`` / ``<name>_cuda`` for a
  tensor's device and, on CUDA, calls it under the tensor's device guard with the current stream appended;
- :func:`use_kernels` switches every op to its pure-torch reference (tests, benchmarks).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

__all__ = ["abi", "build_info", "has_cuda_ops", "has_kernel", "kernel", "kernels_enabled", "load", "use_kernels"]

_C: ModuleType | None = None
_error: str | None = None
_loaded = False
_load_lock = threading.Lock()

_BUILD_HINT = "build it with `pip install -e .` (or `python setup.py build_ext --inplace`)"


def load() -> ModuleType | None:
    """Import ``pywlc._C`` once; ``None`` (with the reason kept for :func:`build_info`) if it is missing."""
    global _C, _error, _loaded
    if not _loaded:
        with _load_lock:
            if not _loaded:
                try:
                    _C = importlib.import_module("pywlc._C")
                except ImportError as exc:  # pure-Python install: every op falls back to its torch reference
                    _error = f"{exc}. pywlc runs its pure-torch reference ops (slow); {_BUILD_HINT}."
                _loaded = True
    return _C


# ----------------------------------------------------------------------------------------------------
# The switch: kernels on (default) or every op on its pure-torch reference


# Process-wide, not per thread: autograd runs CUDA backward passes on its own threads, which must see the switch.
_switch: list[tuple[object, bool, frozenset[str] | None]] = []  # (block token, setting, kernel names), innermost last
_switch_lock = threading.Lock()


@contextlib.contextmanager
def use_kernels(enabled: bool, *names: str) -> Iterator[None]:
    """Within the block, ``enabled=False`` makes every op take its pure-torch reference path (:func:`kernel`
    returns ``None``); ``True`` restores the compiled kernels.  With ``names`` (e.g. ``"mctf_predict"``) only
    those kernels are switched.  Nests (the innermost block that names a kernel, or names none, decides); for
    tests and benchmarks.  It is process-wide (autograd's worker threads see it too), so threads that enter it
    concurrently see each other's settings.

    Ops that have no reference (HVSBM) keep their kernel (:func:`kernel` with ``required=True``).
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"kernel names must be strings, got {names!r}")
    token = object()
    with _switch_lock:
        _switch.append((token, enabled, frozenset(names) if names else None))
    try:
        yield
    finally:
        with _switch_lock:
            _switch[:] = [e for e in _switch if e[0] is not token]


def kernels_enabled(name: str | None = None) -> bool:
    """False inside ``use_kernels(False)`` (or ``use_kernels(False, name, ...)`` for this ``name``)."""
    for _, enabled, names in reversed(_switch[:]):  # a copy: another thread may pop meanwhile
        if names is None or (name is not None and name in names):
            return enabled
    return True


# ----------------------------------------------------------------------------------------------------
# The gateway


def _cuda_launcher(fn: Callable[..., Any], device: torch.device) -> Callable[..., Any]:
    def launch(*args: Any) -> Any:
        with torch.cuda.device(device):
            return fn(*args, torch.cuda.current_stream(device).cuda_stream)

    return launch


def kernel(name: str, like: Tensor, *, required: bool = False) -> Callable[..., Any] | None:
    """The compiled kernel ``name`` for ``like``'s device, or ``None``.

    Probes ``_C.<name>_cpu`` for CPU tensors and ``_C.<name>_cuda`` for CUDA tensors.  The CPU callable is the
    binding itself; the CUDA one runs under ``like``'s device guard and gets the current stream as its last
    argument (callers pass everything else).  ``None`` when the core or the kernel is missing, the device is
    neither, or inside ``use_kernels(False)``: the caller then runs its pure-torch reference.

    ``required=True`` (ops without a reference): ignores ``use_kernels`` and raises ``RuntimeError`` saying
    what to build instead of returning ``None``.
    """
    if not required and not kernels_enabled(name):
        return None
    c = load()
    device = like.device
    fn = None
    if c is not None and device.type in ("cpu", "cuda"):
        fn = getattr(c, f"{name}_{device.type}", None)
    if fn is None:
        if required:
            if c is None:
                raise RuntimeError(f"pywlc needs the compiled core for {name!r} ({_error}); {_BUILD_HINT}")
            raise RuntimeError(
                f"pywlc._C has no {name!r} kernel for {device.type} tensors (built without it; see "
                f"pywlc.build_info()); move the tensors to the CPU or rebuild with CUDA"
            )
        return None
    return _cuda_launcher(fn, device) if device.type == "cuda" else fn


def has_kernel(name: str, device: str = "cpu") -> bool:
    """Whether the compiled core has ``<name>_<device>`` (regardless of :func:`use_kernels`)."""
    c = load()
    return c is not None and hasattr(c, f"{name}_{device}")


def has_cuda_ops() -> bool:
    """True when the compiled core has CUDA kernels (says nothing of a GPU being present)."""
    return has_kernel("dwt", "cuda")


def abi() -> dict[str, dict[str, int]]:
    """The integer codes the kernels take (dtypes, modes, interpolations, paddings, ops), as the compiled core
    declares them (``csrc/abi.h``); empty without the core."""
    c = load()
    return c.abi() if c is not None and hasattr(c, "abi") else {}


def build_info() -> dict[str, Any]:
    """What was built: version, compiled core, CUDA version and archs, OpenMP; the CPU DWT's instruction set
    (``simd``: the one in use, chosen at run time for this CPU; ``simd_supported``: those compiled in that this
    CPU runs, widest first); and the torch in use."""
    from ._version import __version__

    c = load()
    info: dict[str, Any] = {"version": __version__, "compiled": c is not None, "torch": torch.__version__}
    if c is None:
        info.update(cuda=False, openmp=False, simd=None, simd_supported=[], error=_error)
    else:
        info.update(c.build_info())
        isa = c.dwt_cpu_isa() if hasattr(c, "dwt_cpu_isa") else {"selected": None, "supported": []}
        info.update(simd=isa["selected"], simd_supported=list(isa["supported"]))
    info["gpu_available"] = torch.cuda.is_available()
    return info
