"""The compiled bindings refuse inconsistent raw arguments themselves (csrc/bind_checks.h; issue 10, finding 1).

A second line of defence behind the Python validation: calls that bypass it with negative or overflowing sizes,
null or misaligned pointers, overlapping frame strides, out-of-range gather indices or non-finite vectors get a
ValueError instead of touching memory.
"""

from __future__ import annotations

import pytest
import torch

from pywlc._extension import load

C = load()
pytestmark = pytest.mark.skipif(C is None or not hasattr(C, "mctf_geometry_cpu"), reason="compiled core not built")


def _geometry_buffers(k: int, h: int, w: int) -> dict:
    f32, u8, i64 = torch.float32, torch.uint8, torch.int64
    return dict(
        field_l=torch.zeros(k, 2, h, w, dtype=f32), field_r=torch.zeros(k, 2, h, w, dtype=f32),
        uses_l=torch.ones(k, h, w, dtype=u8), uses_r=torch.ones(k, h, w, dtype=u8), cut=torch.zeros(k, dtype=u8),
        has_right=torch.ones(k, dtype=u8), wl=torch.empty(k, h, w, dtype=f32), wr=torch.empty(k, h, w, dtype=f32),
        conn_l=torch.empty(k, h, w, dtype=u8), src_l=torch.empty(k, h, w, dtype=i64),
        conn_r=torch.empty(k, h, w, dtype=u8), src_r=torch.empty(k, h, w, dtype=i64),
    )  # fmt: skip


def _geometry(k: int, h: int, w: int, b: dict, **ptr_override) -> None:
    ptrs = {name: t.data_ptr() for name, t in b.items()}
    ptrs.update(ptr_override)
    C.mctf_geometry_cpu(k, h, w, *ptrs.values())


def test_geometry_checks():
    b = _geometry_buffers(2, 4, 5)
    _geometry(2, 4, 5, b)  # consistent: runs
    with pytest.raises(ValueError, match="negative size"):
        _geometry(-1, 4, 5, b)
    with pytest.raises(ValueError, match="overflow"):
        _geometry(1 << 30, 1 << 20, 1 << 20, b)
    with pytest.raises(ValueError, match="null pointer"):
        _geometry(2, 4, 5, b, uses_r=0)
    with pytest.raises(ValueError, match="aligned"):
        _geometry(2, 4, 5, b, src_l=b["src_l"].data_ptr() + 1)
    for bad in (float("nan"), float("inf"), 1e30):
        b["field_r"][1, 0, 3, 4] = bad
        with pytest.raises(ValueError, match="field_r"):
            _geometry(2, 4, 5, b)
        b["field_r"].zero_()


def _update_args(k: int, e: int, c: int, h: int, w: int) -> tuple:
    high = torch.zeros(k, c, h, w)
    src, dst = torch.zeros(e, c, h, w), torch.empty(e, c, h, w)
    wl, wr = torch.full((k, h, w), 0.5), torch.full((k, h, w), 0.5)
    conn = torch.ones(k, h, w, dtype=torch.uint8)
    srcs = torch.arange(h * w).repeat(k, 1).reshape(k, h, w)
    return high, src, dst, wl, wr, conn, srcs


def _update(frames, high, src, dst, wl, wr, conn, srcs, high_stride=None) -> None:
    stride = src[0].numel()
    C.mctf_update_cpu(0, True, frames, high.data_ptr(), high_stride or stride, src.data_ptr(), stride, dst.data_ptr(),
                      stride, wl.data_ptr(), wr.data_ptr(), conn.data_ptr(), conn.data_ptr(), srcs.data_ptr(),
                      srcs.data_ptr(), 0.8, 1.2)  # fmt: skip


def test_update_checks():
    args = _update_args(2, 3, 2, 4, 5)
    _update([2, 3, 2, 4, 5], *args)
    high, src, dst, wl, wr, conn, srcs = args
    bad = srcs.clone()
    bad[1, 2, 3] = 20  # H * W = 20: one past the end of H_k
    with pytest.raises(ValueError, match=r"src_l: index 20 outside \[0, 20\)"):
        _update([2, 3, 2, 4, 5], high, src, dst, wl, wr, conn, bad)
    bad[1, 2, 3] = -1
    with pytest.raises(ValueError, match="outside"):
        _update([2, 3, 2, 4, 5], high, src, dst, wl, wr, conn, bad)
    with pytest.raises(ValueError, match="frame stride"):
        _update([2, 3, 2, 4, 5], *args, high_stride=7)
    with pytest.raises(ValueError, match="K or K \\+ 1"):
        _update([2, 5, 2, 4, 5], *args)


def test_dwt_and_warp_checks():
    x = torch.zeros(8, 8)
    steps = [0.0, -0.5, -0.5, 1.0, 0.25, 0.25]
    args = (0, 1, [1, 8, 8], 2, 1, 0, 0, steps, 1.0, 1.0, False, False)
    with pytest.raises(ValueError, match="aligned"):
        C.dwt_cpu(x.data_ptr() + 2, x.data_ptr(), *args)
    with pytest.raises(ValueError, match="null"):
        C.dwt_cpu(0, x.data_ptr(), *args)
    img = torch.zeros(1, 1, 4, 4)
    flow = torch.zeros(1, 2, 4, 4)
    big = [1 << 20, 1 << 20, 1 << 20, 1 << 20]
    with pytest.raises(ValueError, match="overflow"):
        C.warp_forward_cpu(0, 0, 0, big, img.data_ptr(), [0, 0, 0, 0], flow.data_ptr(), [0, 0, 0, 0], 1, 1.0,
                           img.data_ptr())  # fmt: skip
    with pytest.raises(ValueError, match="negative stride"):
        C.warp_forward_cpu(0, 0, 0, [1, 1, 4, 4], img.data_ptr(), [16, 16, -4, 1], flow.data_ptr(), [32, 16, 4, 1],
                           1, 1.0, img.data_ptr())  # fmt: skip
    with pytest.raises(ValueError, match="warp out"):
        C.warp_forward_cpu(0, 0, 0, [1, 1, 4, 4], img.data_ptr(), [16, 16, 4, 1], flow.data_ptr(), [32, 16, 4, 1],
                           1, 1.0, 0)  # fmt: skip


def test_hvsbm_plane_size_checked():
    import numpy as np

    if not hasattr(C, "hvsbm_cpu"):
        pytest.skip("no HVSBM binding")
    wide = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(4, (1 << 31) + 8), strides=(0, 0))
    with pytest.raises(ValueError, match="2\\^20"):
        C.hvsbm_cpu(wide, wide, None, 1.0, 3, 4, 8, 1, 1, 2, 3.0)
