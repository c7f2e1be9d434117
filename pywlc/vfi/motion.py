"""The motion stage's classical start: OpenCV DIS optical flow (Kroeger et al., ECCV 2016) at reduced
resolution, both directions, and the linear intermediate-flow approximation of Super SloMo.

DIS is what a CPU user runs for dense flow: ~10 ms per direction on a 640x360 picture on 2 cores (preset
``fast``).  The learned refiner (:class:`pywlc.vfi.model.MotionRefiner`) corrects what the linear
approximation and the reduced resolution miss.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DIS_PRESETS", "bidirectional_flow", "dis_flow", "intermediate_flows", "to_grey_u8"]

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def to_grey_u8(x: Tensor) -> np.ndarray:
    """``Tensor[C, H, W]`` in [0, 1] (C = 1 or 3) -> ``uint8 ndarray[H, W]`` luma (BT.601), DIS's input."""
    if x.shape[0] == 3:
        x = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    else:
        x = x[0]
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """``float32 ndarray[H, W, 2]`` flow from ``a`` to ``b`` (both ``uint8 [H, W]``): ``a(p) ~ b(p + flow(p))``."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return dis.calc(a, b, None)


def bidirectional_flow(frame0: Tensor, frame1: Tensor, scale: int = 2, preset: str = "fast") -> tuple[Tensor, Tensor]:
    """DIS flows ``(F01, F10)``, each ``Tensor[N, 2, H, W]`` (x then y, in full-resolution pixels).

    ``frame0``, ``frame1``: ``Tensor[N, C, H, W]`` in [0, 1]; the flow is computed on the luma area-downscaled
    by ``scale`` (H, W divisible by it) and upsampled bilinearly.
    """
    n, _, h, w = frame0.shape
    small0 = F.avg_pool2d(frame0, scale) if scale > 1 else frame0
    small1 = F.avg_pool2d(frame1, scale) if scale > 1 else frame1
    f01, f10 = [], []
    for i in range(n):
        a, b = to_grey_u8(small0[i]), to_grey_u8(small1[i])
        f01.append(torch.from_numpy(dis_flow(a, b, preset)))
        f10.append(torch.from_numpy(dis_flow(b, a, preset)))
    out = []
    for fl in (f01, f10):
        f = torch.stack(fl).permute(0, 3, 1, 2).to(device=frame0.device, dtype=frame0.dtype)
        if scale > 1:
            f = F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False) * scale
        out.append(f.contiguous())
    return out[0], out[1]


def intermediate_flows(f01: Tensor, f10: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Super SloMo's linear approximation (Jiang et al., CVPR 2018, eq. 4): ``(F_t0, F_t1)`` for ``t Tensor[N]``.

    ``F_t0 = -(1 - t) t F01 + t^2 F10``, ``F_t1 = (1 - t)^2 F01 - t (1 - t) F10``: backward flows from the
    middle frame to frame 0 and frame 1.
    """
    t = t.reshape(-1, 1, 1, 1).to(f01.dtype)
    return -(1 - t) * t * f01 + t * t * f10, (1 - t) ** 2 * f01 - t * (1 - t) * f10
