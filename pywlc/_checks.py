"""Argument checks shared by the public APIs: one wording for every "must be" error."""

from __future__ import annotations

import math

import torch
from torch import Tensor

FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
HALF_DTYPES = (torch.float16, torch.bfloat16)  # computed in float32 where there is no fast half arithmetic


def check_int(value: object, name: str, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (``hi=None``: no upper bound); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if hi is None and value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    if hi is not None and not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def check_int_choice(value: object, name: str, choices: tuple[int, ...]) -> int:
    """``value`` as one of the ints ``choices`` (e.g. a sub-pel factor ``(1, 2, 4)``); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value not in choices:
        listed = ", ".join(map(str, choices[:-1])) + f" or {choices[-1]}" if len(choices) > 1 else str(choices[0])
        raise ValueError(f"{name} must be {listed}, got {value}")
    return int(value)


def check_number(value: object, name: str, lo: float, hi: float | None = None) -> float:
    """``value`` (int or float, not bool) as a finite float in ``[lo, hi]`` (``hi=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if hi is None and not (math.isfinite(value) and value >= lo):
        raise ValueError(f"{name} must be finite and >= {lo:g}, got {value}")
    if hi is not None and not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value}")
    return float(value)


def check_float_4d(value: object, name: str, layout: str) -> Tensor:
    """``value`` as a floating ``Tensor`` (fp32/64/16, bf16) of 4 dims; ``layout`` names them, e.g. ``"N, C, H, W"``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype not in FLOATS:
        raise TypeError(f"{name} must be float32, float64, float16 or bfloat16, got {value.dtype}")
    if value.dim() != 4:
        raise ValueError(f"{name} must be Tensor[{layout}], got shape {tuple(value.shape)}")
    return value
