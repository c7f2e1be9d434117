"""The compiled MCTF geometry kernel (predict weights + first-come-first-served connectivity) equals the torch
reference bit for bit."""

from __future__ import annotations

import pytest
import torch

from pywlc import mctf
from pywlc._extension import load, use_kernels
from pywlc.mctf import _geometry

pytestmark = pytest.mark.skipif(
    load() is None or not hasattr(load(), "mctf_geometry_cpu"), reason="compiled core without the MCTF geometry"
)


def _case(k: int, h: int, w: int, seed: int, scale: float, far: float):
    g = torch.Generator().manual_seed(seed)
    fl = torch.randn(k, 2, h, w, generator=g) * scale
    fr = torch.randn(k, 2, h, w, generator=g) * scale
    # Some vectors far out of the frame, some exactly on rounding ties (x.5), many pixels sharing targets.
    fl[torch.rand(k, 2, h, w, generator=g) < far] *= 100
    fr[torch.rand(k, 2, h, w, generator=g) < 0.1] = 0.5
    fl[torch.rand(k, 2, h, w, generator=g) < 0.1] = -1.5
    ul = torch.rand(k, h, w, generator=g) < 0.8
    ur = torch.rand(k, h, w, generator=g) < 0.7
    cut = torch.rand(k, generator=g) < 0.25
    has_right = torch.rand(k, generator=g) < 0.8
    return fl, fr, ul, ur, cut, has_right


@pytest.mark.parametrize("k,h,w,scale,far", [(3, 17, 23, 3.0, 0.1), (2, 64, 48, 0.6, 0.0), (1, 5, 7, 8.0, 0.3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_reference(k, h, w, scale, far, seed):
    args = _case(k, h, w, seed, scale, far)
    got = _geometry._geometry(*args)
    want = _geometry._geometry_reference(*args)
    for name in ("wl", "wr", "conn_l", "src_l", "conn_r", "src_r"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name


def test_analyze_synthesize_same_with_and_without_kernel():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(7, 2, 24, 30, generator=g, dtype=torch.float64) * 255

    def motion(cur, left, right, *, level, temporal_distance):
        f = torch.randn(2, *cur.shape, generator=g) * 4
        return mctf.MotionFields(f, None if right is None else -f, scene_cut=level == 2)

    state = g.get_state()
    r1 = mctf.analyze(x, levels=2, motion=motion)
    g.set_state(state)
    with use_kernels(False):
        r2 = mctf.analyze(x, levels=2, motion=motion)
        x2 = mctf.synthesize(r2)
    assert torch.equal(r1.low, r2.low) and all(torch.equal(a, b) for a, b in zip(r1.high, r2.high, strict=True))
    assert torch.equal(x2, mctf.synthesize(r1))
