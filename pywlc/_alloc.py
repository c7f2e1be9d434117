"""Allocation guards: say what was asked, in a pywlc error, instead of torch's allocator error (issue 10, 6).

A stride-0 view (``torch.zeros(1).expand(1, 1, 100000, 100000)``) costs nothing until an op makes it contiguous
or allocates an output of its shape; then torch fails with ``DefaultCPUAllocator: can't allocate memory`` (or,
with overcommit, the process is killed later).  The ops check the *logical* size of their tensors against the
device's memory before they allocate (:func:`check_size`), and turn an allocation that still fails into an
:class:`~pywlc.errors.AllocationError` naming the op (:func:`allocation`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from .errors import AllocationError

__all__ = ["allocation", "check_bytes", "check_size", "device_memory"]


@functools.cache
def _host_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: no pre-check


def device_memory(device: torch.device) -> int:
    """Total memory in bytes of ``device`` (host RAM for the CPU)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu":
        return _host_memory()
    return 1 << 62  # meta and other devices: nothing to check


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_bytes(need: int, device: torch.device, what: str, desc: str) -> None:
    """``AllocationError`` if ``need`` bytes (``desc`` says of what) exceed ``device``'s memory."""
    if torch.compiler.is_compiling():  # shapes are symbolic there; the eager call checks
        return
    have = device_memory(device)
    if need > have:
        raise AllocationError(f"{what}: {desc} needs {_gib(need)}, more than the {_gib(have)} of memory of {device}")


def check_size(t: Tensor, name: str, what: str) -> None:
    """``AllocationError`` if a dense tensor of ``t``'s shape and dtype exceeds its device's memory (an op
    allocates at least its output, and a stride-0 view costs its full size once made contiguous)."""
    if torch.compiler.is_compiling():
        return
    view = " (a stride-0 / expanded view, materialised)" if t.numel() and 0 in t.stride() else ""
    check_bytes(t.numel() * t.element_size(), t.device, what, f"{name} Tensor{list(t.shape)} {t.dtype}{view}")


_ALLOC_FAILED = re.compile(r"DefaultCPUAllocator|out of memory|tried to allocate (\d+) bytes", re.IGNORECASE)


@contextmanager
def allocation(what: str) -> Iterator[None]:
    """Turn torch's allocator failures inside the block into an :class:`AllocationError` naming ``what``."""
    try:
        yield
    except (RuntimeError, MemoryError) as e:
        if isinstance(e, AllocationError) or not _ALLOC_FAILED.search(str(e)):
            raise
        m = re.search(r"allocate (\d+) bytes", str(e))
        asked = f" of {int(m.group(1))} bytes ({_gib(int(m.group(1)))})" if m else ""
        raise AllocationError(f"{what}: an allocation{asked} failed: not enough memory") from None
