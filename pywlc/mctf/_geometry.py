"""Lifting geometry of one MCTF level: predict weights and first-come-first-served connectivity (module doc of
:mod:`pywlc.mctf.mctf`, "Predict", "Update", "Scene cuts"); the compiled kernel or its torch reference."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._extension import kernel
from ._types import MctfLevel


def _targets(field: Tensor) -> tuple[Tensor, Tensor]:
    """``Tensor[K, 2, H, W]`` -> raster index of ``round(p + v)`` (round half up, spec "Connectivity") and
    whether it lies in the frame, both ``Tensor[K, H, W]``."""
    k, _, h, w = field.shape
    ys = torch.arange(h, device=field.device).view(1, h, 1)
    xs = torch.arange(w, device=field.device).view(1, 1, w)
    tx = xs + torch.floor(field[:, 0] + 0.5).to(torch.int64)
    ty = ys + torch.floor(field[:, 1] + 0.5).to(torch.int64)
    inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    return ty * w + tx, inside


def connectivity(field: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
    """First-come-first-served connectivity (spec "Connectivity"; Choi & Woods 1999, sec. III).

    Args:
        field: ``Tensor[K, 2, H, W]`` vectors in pixels of the predicted frames.
        active: ``Tensor[K, H, W]`` bool: pixels whose mapping may connect (those predicted from this reference).

    Returns:
        ``connected`` ``Tensor[K, H, W]`` bool on the reference grid, and ``source`` ``Tensor[K, H, W]`` int64:
        for each connected reference pixel the raster index of the first (raster order) predicted pixel whose
        rounded target it is (0 where unconnected).
    """
    k, _, h, w = field.shape
    hw = h * w
    idx, inside = _targets(field)
    ok = (inside & active).reshape(k, hw)
    raster = torch.arange(hw, device=field.device).expand(k, hw)
    dest = torch.where(ok, idx.reshape(k, hw), torch.full_like(raster, hw))  # hw: a dump slot
    first = torch.full((k, hw + 1), hw, dtype=torch.int64, device=field.device)
    first.scatter_reduce_(1, dest, raster.contiguous(), reduce="amin", include_self=True)
    first = first[:, :hw]
    connected = first < hw
    source = torch.where(connected, first, torch.zeros_like(first))
    return connected.reshape(k, h, w), source.reshape(k, h, w)


@dataclass(frozen=True)
class _Geometry:
    wl: Tensor  # Tensor[K, H, W] predict weight of the left reference
    wr: Tensor  # Tensor[K, H, W]
    conn_l: Tensor  # Tensor[K, H, W] bool on x_{2k}
    src_l: Tensor  # Tensor[K, H, W] int64
    conn_r: Tensor  # Tensor[K, H, W] bool on x_{2k+2}
    src_r: Tensor  # Tensor[K, H, W] int64


def _geometry(fl: Tensor, fr: Tensor, ul: Tensor, ur: Tensor, cut: Tensor, has_right: Tensor) -> _Geometry:
    """Predict weights and update connectivity of one level (module doc "Predict", "Update", "Scene cuts").

    The compiled kernel (``mctf_geometry_cpu``: one raster pass per frame) computes exactly what
    :func:`_geometry_reference` does with torch ops; the reference runs where the kernel is missing.
    """
    geometry = kernel("mctf_geometry", fl) if fl.device.type == "cpu" else None
    if geometry is not None:
        k, _, h, w = fl.shape
        fl_c = fl.to(torch.float32).contiguous()
        fr_c = fr.to(torch.float32).contiguous()
        u8 = [t.to(torch.uint8).contiguous() for t in (ul, ur, cut, has_right)]
        wl = torch.empty((k, h, w), dtype=torch.float32)
        wr = torch.empty_like(wl)
        conn_l = torch.empty((k, h, w), dtype=torch.bool)
        conn_r = torch.empty_like(conn_l)
        src_l = torch.empty((k, h, w), dtype=torch.int64)
        src_r = torch.empty_like(src_l)
        geometry(k, h, w, fl_c.data_ptr(), fr_c.data_ptr(), *(t.data_ptr() for t in u8), wl.data_ptr(),
                 wr.data_ptr(), conn_l.data_ptr(), src_l.data_ptr(), conn_r.data_ptr(), src_r.data_ptr())  # fmt: skip
        return _Geometry(wl, wr, conn_l, src_l, conn_r, src_r)
    return _geometry_reference(fl, fr, ul, ur, cut, has_right)


def _geometry_reference(fl: Tensor, fr: Tensor, ul: Tensor, ur: Tensor, cut: Tensor, has_right: Tensor) -> _Geometry:
    """:func:`_geometry` in torch ops (the oracle of the compiled kernel, and its fallback)."""
    _, inside_l = _targets(fl)
    _, inside_r = _targets(fr)
    ur = ur & has_right.view(-1, 1, 1)
    el = ul & inside_l
    er = ur & inside_r
    neither = ~(el | er)
    # Both targets outside the frame: keep the used references (border-clamped reads), no connection.
    pl = torch.where(neither, ul, el).float()
    pr = torch.where(neither, ur, er).float()
    live = (~cut).view(-1, 1, 1).float()
    total = (pl + pr).clamp_min(1.0)
    wl = pl / total * live
    wr = pr / total * live
    conn_l, src_l = connectivity(fl, (wl > 0) & el)
    conn_r, src_r = connectivity(fr, (wr > 0) & er)
    return _Geometry(wl, wr, conn_l, src_l, conn_r, src_r)


def _geometry_of(lvl: MctfLevel, n: int) -> _Geometry:
    has_right = 2 * torch.arange(lvl.field_left.shape[0]) + 2 < n  # symmetric extension at the sequence end
    return _geometry(lvl.field_left, lvl.field_right, lvl.uses_left, lvl.uses_right, lvl.scene_cut, has_right)
