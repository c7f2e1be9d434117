"""Validation of MCTF inputs: frames and motion for :func:`analyze`, and the side information of a result before
:func:`synthesize` hands any of it to a kernel (issue 10, finding 1).

:func:`pywlc.mctf.synthesize` hands raw pointers and sizes to compiled kernels (``csrc/mctf``) that index the
side information with the frames' ``K``, ``H`` and ``W``.  A decoder rebuilding an :class:`MctfResult` from a
stream feeds it whatever the stream says, so every tensor of every level is checked here against the sizes the
subbands imply: type, shape, dtype, device, and the values the kernels turn into indices (finite vectors of
bounded length).  Everything is normalised to what the kernels expect (contiguous, float32 fields, bool masks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from .._alloc import check_size
from ._types import _FILTERS, _INTERPS, MctfLevel, MctfResult

# Longest accepted motion vector, in pixels per axis: far beyond any frame (motion longer than the frame only
# points outside it) and small enough that p + round(v) stays exact in float32 and int64 everywhere.
MAX_VECTOR = float(1 << 22)
_FLOATS = (torch.float32, torch.float64)


def _where(t: Tensor) -> str:
    return f"{t.dtype} on {t.device}"


def check_tensor(
    t: object,
    name: str,
    shape: tuple[int, ...],
    dtypes: tuple[torch.dtype, ...],
    devices: tuple[torch.device, ...],
) -> Tensor:
    """``t`` as a contiguous tensor of exactly ``shape``, one of ``dtypes``, on one of ``devices`` (else raise)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if t.dtype not in dtypes:
        raise TypeError(f"{name} must be {' or '.join(str(d) for d in dtypes)}, got {_where(t)}")
    if t.device not in devices:
        raise ValueError(f"{name} must be on {' or '.join(str(d) for d in devices)}, got {_where(t)}")
    check_size(t, name, "pywlc.mctf.synthesize")  # before .contiguous() materialises a stride-0 view
    return t.detach().contiguous()


def check_vectors(f: Tensor, name: str) -> Tensor:
    """A field ``Tensor[..., 2, H, W]`` as float32, finite and within ``MAX_VECTOR`` pixels per axis."""
    f = f.to(torch.float32)
    if f.numel() and not bool((f.abs() <= MAX_VECTOR).all()):  # NaN fails the comparison too
        raise ValueError(f"{name} must be finite vectors of at most {MAX_VECTOR:.0f} pixels per axis")
    return f


def _check_int(v: object, name: str, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    return v


def check_level(lvl: object, li: int, n: int, h: int, w: int, devices: tuple[torch.device, ...]) -> MctfLevel:
    """Level ``li`` (0-based) of ``n`` frames of ``h x w``: every tensor checked, normalised (fields float32,
    masks bool, all contiguous)."""
    where = f"result.motion[{li}]"
    if not isinstance(lvl, MctfLevel):
        raise TypeError(f"{where} must be an MctfLevel, got {type(lvl).__name__}")
    if _check_int(lvl.num_frames, f"{where}.num_frames", 2) != n:
        raise ValueError(f"{where}.num_frames is {lvl.num_frames}, expected {n} from the levels above")
    _check_int(lvl.temporal_distance, f"{where}.temporal_distance", 1)
    k = n // 2
    kw = (k, h, w)
    out = {}
    for name in ("field_left", "field_right"):
        t = check_tensor(getattr(lvl, name), f"{where}.{name}", (k, 2, h, w), _FLOATS, devices)
        out[name] = check_vectors(t, f"{where}.{name}")
    for name in ("uses_left", "uses_right", "connected_left", "connected_right"):
        out[name] = check_tensor(getattr(lvl, name), f"{where}.{name}", kw, (torch.bool,), devices)
    for name in ("weight_left", "weight_right"):
        out[name] = check_tensor(getattr(lvl, name), f"{where}.{name}", kw, _FLOATS, devices)
    out["scene_cut"] = check_tensor(lvl.scene_cut, f"{where}.scene_cut", (k,), (torch.bool,), devices)
    return replace(lvl, **out)


def check_result(result: object) -> MctfResult:
    """An :class:`MctfResult` whose subbands and side information are consistent, normalised for the kernels.

    Raises ``TypeError`` / ``ValueError`` naming the first offending field; nothing is computed before.
    """
    if not isinstance(result, MctfResult):
        raise TypeError(f"result must be an MctfResult, got {type(result).__name__}")
    if not isinstance(result.integer, bool):
        raise TypeError(f"result.integer must be a bool, got {type(result.integer).__name__}")
    if result.filter not in _FILTERS:
        raise ValueError(f"result.filter must be one of {sorted(_FILTERS)}, got {result.filter!r}")
    if result.interp not in _INTERPS:
        raise ValueError(f"result.interp must be one of {list(_INTERPS)}, got {result.interp!r}")
    for name in ("alpha", "beta"):
        v = getattr(result, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v == 0:
            raise ValueError(f"result.{name} must be a finite non-zero number, got {v!r}")
    if not isinstance(result.high, list | tuple) or not isinstance(result.motion, list | tuple):
        raise TypeError("result.high and result.motion must be lists")
    if len(result.high) != len(result.motion) or not result.high:
        raise ValueError(f"result has {len(result.high)} H levels and {len(result.motion)} motion levels")
    n = _check_int(result.num_frames, "result.num_frames", 2)
    low = result.low
    if not isinstance(low, Tensor):
        raise TypeError(f"result.low must be a torch.Tensor, got {type(low).__name__}")
    dtypes = (torch.int32,) if result.integer else _FLOATS
    if low.dtype not in dtypes:
        kind = "int32 for an integer result" if result.integer else "float32 or float64"
        raise TypeError(f"result.low must be {kind}, got {low.dtype}")
    if low.dim() != 4 or 0 in low.shape[1:]:
        raise ValueError(f"result.low must be a non-empty Tensor[F, C, H, W], got shape {tuple(low.shape)}")
    if low.device.type not in ("cpu", "cuda"):
        raise ValueError(f"result.low must be on the CPU or a CUDA device, got {low.device}")
    _, c, h, w = low.shape
    devices = tuple({torch.device("cpu"), low.device})
    counts = [n]  # frames entering each level
    for _ in range(len(result.high) - 1):
        counts.append((counts[-1] + 1) // 2)
    if counts[-1] < 2:
        raise ValueError(f"{len(result.high)} levels need more than {2 ** (len(result.high) - 1)} frames, got {n}")
    highs = []
    for li, nl in enumerate(counts):
        highs.append(check_tensor(result.high[li], f"result.high[{li}]", (nl // 2, c, h, w), (low.dtype,),
                                  (low.device,)))  # fmt: skip
    low = check_tensor(low, "result.low", ((counts[-1] + 1) // 2, c, h, w), (low.dtype,), (low.device,))
    motion = [check_level(lvl, li, counts[li], h, w, devices) for li, lvl in enumerate(result.motion)]
    return replace(result, low=low, high=highs, motion=motion)


__all__ = [
    "MAX_VECTOR",
    "check_field",
    "check_frames",
    "check_level",
    "check_mask",
    "check_result",
    "check_tensor",
    "check_vectors",
]


# ----------------------------------------------------------------------------------------------------
# analyze's arguments and a motion callable's output


def check_frames(frames: object, integer: bool) -> Tensor:
    if isinstance(frames, Sequence) and not isinstance(frames, Tensor):
        if len(frames) == 0:
            raise ValueError("frames is empty: MCTF needs at least 2 frames")
        for i, f in enumerate(frames):
            if not isinstance(f, Tensor):
                raise TypeError(f"frames[{i}] must be a torch.Tensor, got {type(f).__name__}")
            if f.dim() != 3:
                raise ValueError(f"frames[{i}] must be Tensor[C, H, W], got shape {tuple(f.shape)}")
            if f.shape != frames[0].shape:
                raise ValueError(
                    f"frames[{i}] has shape {tuple(f.shape)} but frames[0] has {tuple(frames[0].shape)}: "
                    "all frames must have the same size"
                )
            if f.dtype != frames[0].dtype or f.device != frames[0].device:
                raise TypeError(f"frames[{i}] has dtype/device {f.dtype}/{f.device}, frames[0] has "
                                f"{frames[0].dtype}/{frames[0].device}: they must match")  # fmt: skip
        frames = torch.stack(list(frames))
    if not isinstance(frames, Tensor):
        raise TypeError(f"frames must be a torch.Tensor or a sequence of them, got {type(frames).__name__}")
    if frames.dim() != 4:
        raise ValueError(f"frames must be Tensor[N, C, H, W], got shape {tuple(frames.shape)}")
    check_size(frames, "frames", "pywlc.mctf.analyze")  # before anything materialises a stride-0 view
    if integer:
        if frames.dtype != torch.int32:
            raise TypeError(f"frames must be int32 with integer=True, got {frames.dtype}")
    else:
        if frames.dtype not in _FLOATS:
            raise TypeError(f"frames must be float32 or float64 (or int32 with integer=True), got {frames.dtype}")
        if not bool(torch.isfinite(frames).all()):
            raise ValueError("frames has non-finite values")
    n, c, h, w = frames.shape
    if n < 2:
        raise ValueError(f"frames must hold at least 2 frames for MCTF, got {n}")
    if c == 0 or h == 0 or w == 0:
        raise ValueError(f"frames is empty: shape {tuple(frames.shape)}")
    return frames.contiguous()


def check_field(f: object, name: str, h: int, w: int) -> Tensor:
    if not isinstance(f, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(f).__name__}")
    if not f.is_floating_point() and f.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{name} must be a float (or integer) tensor, got {f.dtype}")
    if tuple(f.shape) != (2, h, w):
        raise ValueError(f"{name} must have shape {(2, h, w)}, got {tuple(f.shape)}")
    f = f.detach().to(torch.float32)
    if not bool(torch.isfinite(f).all()):
        raise ValueError(f"{name} has non-finite values")
    return f


def check_mask(m: object, name: str, h: int, w: int) -> Tensor:
    if not isinstance(m, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(m).__name__}")
    if tuple(m.shape) != (h, w):
        raise ValueError(f"{name} must have shape {(h, w)}, got {tuple(m.shape)}")
    return m.detach().bool()
