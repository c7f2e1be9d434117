"""Video quality: per-plane PSNR as the JCT-VC common test conditions report it (issue 13).

Per frame and plane, ``PSNR = 10 log10(255^2 / MSE)``; a frame whose plane is reproduced exactly (MSE = 0, an
infinite PSNR) counts as ``PSNR_CAP`` = 100 dB so that means stay finite.  A sequence's PSNR is the **mean of the
per-frame PSNRs** (HM's convention; ffmpeg's ``psnr`` filter instead prints the PSNR of the mean MSE, which is lower
on sequences of uneven quality).  The combined figure is ``yuv = (6 y + u + v) / 8`` (the JCT-VC weighting for
4:2:0 coding, used here for 4:4:4 too), per frame and for the means; for mono video ``yuv`` is ``y``.
"""

from __future__ import annotations

import math

import torch

from .io import Video

__all__ = ["PSNR_CAP", "psnr"]

PSNR_CAP = 100.0  # dB given to an exactly reproduced plane of a frame (MSE = 0)


def _frame_psnr(ref: torch.Tensor, dist: torch.Tensor) -> list[float]:
    """``Tensor[T, H, W]`` uint8 pair -> per-frame PSNR (peak 255, capped at ``PSNR_CAP``)."""
    out = []
    for a, b in zip(ref, dist, strict=True):  # one frame at a time: float64 of a whole 720p clip is GBs
        mse = (a.to(torch.float64) - b.to(torch.float64)).square().mean().item()
        out.append(PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse)))
    return out


def psnr(ref: Video, dist: Video) -> dict:
    """PSNR of ``dist`` against ``ref`` (same chroma format, frame count and size, else ``ValueError``).

    Returns ``{"y", "u", "v", "yuv": mean over frames in dB, "per_frame": {"y", "u", "v", "yuv": [dB per frame]}}``;
    mono video has only ``"y"`` and ``"yuv"`` (= ``"y"``).
    """
    for name, v in (("ref", ref), ("dist", dist)):
        if not isinstance(v, Video):
            raise ValueError(f"{name} must be a Video, got {type(v).__name__}")
    geometry = [(v.chroma, v.frames, v.height, v.width) for v in (ref, dist)]
    if geometry[0] != geometry[1]:
        raise ValueError(f"ref and dist differ in (chroma, frames, height, width): {geometry[0]} vs {geometry[1]}")
    if ref.frames == 0:
        raise ValueError("ref and dist have no frames")
    names = ["y"] if ref.chroma == "mono" else ["y", "u", "v"]
    per_frame = {
        n: _frame_psnr(a.detach().cpu(), b.detach().cpu())
        for n, a, b in zip(names, ref.planes(), dist.planes(), strict=True)
    }
    if ref.chroma == "mono":
        per_frame["yuv"] = list(per_frame["y"])
    else:
        per_frame["yuv"] = [(6 * y + u + v) / 8 for y, u, v in zip(per_frame["y"], per_frame["u"], per_frame["v"],
                                                                   strict=True)]
    out: dict = {n: sum(vals) / len(vals) for n, vals in per_frame.items()}
    out["per_frame"] = per_frame
    return out
