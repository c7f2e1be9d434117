"""MCTF's data types (:class:`MotionFields`, :class:`MctfLevel`, :class:`MctfResult`) and filter constants;
the conventions are in :mod:`pywlc.mctf.mctf`'s module doc."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

_FILTERS = {
    # name: (alpha, beta), see the module doc "Normalisation".
    "5/3": (math.sqrt(23.0 / 32.0), math.sqrt(1.5)),
    "haar": (1.0 / math.sqrt(2.0), math.sqrt(2.0)),
}
_INTERPS = ("bilinear", "bicubic")
_FLOATS = (torch.float32, torch.float64)


@dataclass(frozen=True)
class MotionFields:
    """Motion of one odd frame against its references, as returned by a ``motion`` callable of :func:`analyze`.

    Fields are in pixels (channel 0 horizontal, channel 1 vertical), sign as :func:`pywlc.motion.hvsbm`: pixel
    ``p`` of the current frame is predicted from ``ref(p + v)``.
    """

    field_left: Tensor  # Tensor[2, H, W] float
    field_right: Tensor | None = None  # Tensor[2, H, W] float, None: left only
    uses_left: Tensor | None = None  # Tensor[H, W] bool, None: every pixel (when field_left is given)
    uses_right: Tensor | None = None  # Tensor[H, W] bool, None: every pixel when field_right is given
    scene_cut: bool = False


@dataclass(frozen=True)
class MctfLevel:
    """Side information of one temporal level with ``K`` H frames of size ``H x W`` (what synthesis needs).

    ``weight_*`` and ``connected_*`` are derived from the fields, ``uses_*`` and ``scene_cut`` (a decoder
    recomputes them; synthesis does); they are kept for inspection.
    """

    temporal_distance: int  # frame distance of the references in the input sequence: 2 ** (level - 1)
    num_frames: int  # frames entering this level
    field_left: Tensor  # Tensor[K, 2, H, W] float32, pixels
    field_right: Tensor  # Tensor[K, 2, H, W] float32, pixels (zeros where unused)
    uses_left: Tensor  # Tensor[K, H, W] bool
    uses_right: Tensor  # Tensor[K, H, W] bool (all False without a right reference)
    scene_cut: Tensor  # Tensor[K] bool
    weight_left: Tensor  # Tensor[K, H, W] float32: predict weight w_L
    weight_right: Tensor  # Tensor[K, H, W] float32: predict weight w_R
    connected_left: Tensor  # Tensor[K, H, W] bool, on the grid of x_{2k} (updated from H_k)
    connected_right: Tensor  # Tensor[K, H, W] bool, on the grid of x_{2k+2} (updated from H_k)


@dataclass(frozen=True)
class MctfResult:
    """Temporal subbands and side information of :func:`analyze` for ``N`` frames of ``C x H x W``.

    ``high[l]`` holds the H frames of level ``l + 1`` (``floor(n_l / 2)`` of them, ``n_l`` the frames entering
    it); ``low`` the L frames of the last level (``ceil(n_L / 2)``).  ``motion[l]`` is that level's side
    information.
    """

    low: Tensor  # Tensor[ceil(n_L / 2), C, H, W]
    high: list[Tensor]  # per level: Tensor[floor(n_l / 2), C, H, W]
    motion: list[MctfLevel]
    filter: str
    integer: bool
    interp: str
    alpha: float
    beta: float
    num_frames: int

    @property
    def levels(self) -> int:
        return len(self.high)
