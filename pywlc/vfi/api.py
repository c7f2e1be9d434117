"""``pywlc.vfi.interpolate``: the middle frame(s) between two frames, any size, grey or RGB, batched."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import MULTIPLE, RATIOS, WaveletVFI
from .motion import bidirectional_flow

__all__ = ["interpolate", "Interpolation"]


@dataclass
class Interpolation:
    """:func:`interpolate` with ``details=True``: the frame and what the model decided."""

    frame: Tensor  # like the inputs
    ratio: Tensor  # Tensor[N] float64: the threshold ratio used per sample (0 for "dense")
    densities: list[Tensor] = field(default_factory=list)  # per masked level (1/4, 1/2): Tensor[N] active fraction


def _check_frames(frame0: object, frame1: object) -> tuple[Tensor, Tensor, bool]:
    for name, f in (("frame0", frame0), ("frame1", frame1)):
        if not isinstance(f, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(f).__name__}")
        if f.dim() not in (3, 4):
            raise ValueError(f"{name} must be Tensor[N, C, H, W] or Tensor[C, H, W], got shape {tuple(f.shape)}")
        if f.dtype != torch.uint8 and not f.is_floating_point():
            raise TypeError(f"{name} must be uint8 or floating point (values in [0, 1]), got {f.dtype}")
    if frame0.shape != frame1.shape:
        raise ValueError(f"frame0 and frame1 must have the same shape, got {tuple(frame0.shape)} and "
                         f"{tuple(frame1.shape)}")
    if frame0.dtype != frame1.dtype:
        raise TypeError(f"frame0 and frame1 must have the same dtype, got {frame0.dtype} and {frame1.dtype}")
    if frame0.device != frame1.device:
        raise ValueError(f"frame0 is on {frame0.device} but frame1 on {frame1.device}")
    unbatched = frame0.dim() == 3
    if unbatched:
        frame0, frame1 = frame0[None], frame1[None]
    c = frame0.shape[1]
    if c not in (1, 3):
        raise ValueError(f"frames must have 1 (grey) or 3 (RGB) channels, got {c} (shape {tuple(frame0.shape)})")
    if frame0.shape[2] < 2 or frame0.shape[3] < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {tuple(frame0.shape[2:])}")
    if frame0.is_floating_point():
        for name, f in (("frame0", frame0), ("frame1", frame1)):
            if not bool(torch.isfinite(f).all()):
                raise ValueError(f"{name} has NaN or infinite values")
    return frame0, frame1, unbatched


def _check_t(t: object, n: int, device: torch.device) -> Tensor:
    if isinstance(t, Tensor):
        if t.dim() > 1 or (t.dim() == 1 and t.shape[0] != n):
            raise ValueError(f"t must be a float or Tensor[{n}], got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"t must be a float tensor, got {t.dtype}")
        tt = t.detach().to(device=device, dtype=torch.float32).expand(n)
    elif isinstance(t, int | float) and not isinstance(t, bool):
        tt = torch.full((n,), float(t), device=device)
    else:
        raise TypeError(f"t must be a float in (0, 1) or a Tensor[N], got {type(t).__name__}")
    if n and not bool(((tt > 0) & (tt < 1)).all()):
        raise ValueError(f"t must be strictly between 0 and 1, got {t}")
    return tt


def _mode(ratio: str | float) -> str:
    if isinstance(ratio, str):
        if ratio not in ("dynamic", "dense"):
            raise ValueError(f"ratio must be 'dynamic', 'dense' or a float >= 0, got {ratio!r}")
        return ratio
    if isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio >= 0:
        return f"ratio:{float(ratio)}"
    raise ValueError(f"ratio must be 'dynamic', 'dense' or a float >= 0, got {ratio!r}")


@torch.no_grad()
def interpolate(
    frame0: Tensor,
    frame1: Tensor,
    t: float | Tensor = 0.5,
    *,
    ratio: str | float = "dynamic",
    model: WaveletVFI | None = None,
    details: bool = False,
) -> Tensor | Interpolation:
    """The frame at time ``t`` between ``frame0`` (t = 0) and ``frame1`` (t = 1).

    Args:
        frame0, frame1: ``Tensor[N, C, H, W]`` or ``Tensor[C, H, W]``, C = 1 (grey) or 3 (RGB), any H, W >= 2;
            uint8, or float in [0, 1]; same shape, dtype and device (CPU or CUDA: the DIS flow runs on the
            CPU, the networks on the frames' device).
        t: time in (0, 1): a float or ``Tensor[N]``.
        ratio: ``"dynamic"`` (the model's classifier picks the threshold ratio per sample, from
            :data:`pywlc.vfi.model.RATIOS`), ``"dense"`` (every layer dense: the same weights without the
            sparse saving), or a fixed float ratio >= 0.
        model: a :class:`WaveletVFI` (default: the shipped weights, :func:`pywlc.vfi.weights.load_model`).
        details: return an :class:`Interpolation` (frame, ratio, mask densities) instead of the frame.

    Returns:
        The frame, like ``frame0`` (shape, dtype, device); float output is clamped to [0, 1].
    """
    frame0, frame1, unbatched = _check_frames(frame0, frame1)
    n, c, h, w = frame0.shape
    tt = _check_t(t, n, frame0.device)
    mode = _mode(ratio)
    if model is None:
        from .weights import load_model

        model = load_model()
    out_dtype = frame0.dtype
    if n == 0:
        out = frame0.clone()
        res = Interpolation(out, torch.zeros(0, dtype=torch.float64), [])
        return (res if details else out) if not unbatched else (res if details else out[0])
    x0, x1 = (f.float() / 255 if f.dtype == torch.uint8 else f.float() for f in (frame0, frame1))
    if c == 1:  # grey: the model is trained on RGB with grey sequences replicated
        x0, x1 = x0.expand(-1, 3, -1, -1), x1.expand(-1, 3, -1, -1)
    # Pad (replicate) to a multiple of MULTIPLE and to at least 2 * MULTIPLE, the smallest picture DIS handles.
    ph, pw = max(-(-h // MULTIPLE) * MULTIPLE, 2 * MULTIPLE), max(-(-w // MULTIPLE) * MULTIPLE, 2 * MULTIPLE)
    pad = (0, pw - w, 0, ph - h)
    if pw != w or ph != h:
        x0, x1 = (F.pad(x, pad, mode="replicate") for x in (x0, x1))
    model_device = next(model.parameters()).device
    if model_device != x0.device:
        model = model.to(x0.device)
    f01, f10 = bidirectional_flow(x0, x1, model.cfg.dis_scale, model.cfg.dis_preset)
    out, logits, choice = model(x0.contiguous(), x1.contiguous(), f01, f10, tt, mode)
    frame = out.frame[:, :, :h, :w].clamp(0, 1)
    if c == 1:
        frame = frame.mean(1, keepdim=True)
    frame = (frame * 255).round().to(torch.uint8) if out_dtype == torch.uint8 else frame.to(out_dtype)
    if unbatched:
        frame = frame[0]
    if not details:
        return frame
    if mode == "dense":
        used = torch.zeros(n, dtype=torch.float64)
    elif mode.startswith("ratio:"):
        used = torch.full((n,), float(mode[6:]), dtype=torch.float64)
    else:
        used = torch.tensor(RATIOS, dtype=torch.float64)[choice.argmax(1).cpu()]
    return Interpolation(frame, used, [d.cpu() for d in out.densities])
