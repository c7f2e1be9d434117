"""pywlc.mctf fused lifting kernels (csrc/mctf) against the composed reference path (warp + gathers): equal on the
CPU (bitwise values; float and integer), perfect reconstruction through the fused path, the CUDA kernels on a GPU."""

from __future__ import annotations

import pytest
import torch
from test_mctf import frames_f, random_motion

from pywlc._extension import load, use_kernels
from pywlc.mctf import analyze, synthesize

pytestmark = pytest.mark.skipif(
    load() is None or not hasattr(load(), "mctf_predict_cpu"), reason="pywlc._C built without the mctf family"
)


def _frames(n, c, dtype, seed, device="cpu"):
    x = frames_f(n, c=c, dtype=torch.float64, seed=seed)
    return (x.round().to(torch.int32) if dtype == torch.int32 else x.to(dtype)).to(device)


def _run(fused, x, synth_from=None, **kw):
    """analyze (and synthesize ``synth_from``, default its own result) on the fused or the composed path."""
    with use_kernels(fused):
        r = analyze(x, **kw)
        return r, synthesize(synth_from if synth_from is not None else r)


def _same(a: torch.Tensor, b: torch.Tensor) -> None:
    # torch.equal compares values: +0 and -0 are equal (the fused predict skips w_R * S_R where w_R = 0, which
    # can only flip the sign of an exact zero), every other bit must match.
    assert a.dtype == b.dtype and a.shape == b.shape
    assert torch.equal(a, b), f"max difference {(a.double() - b.double()).abs().max().item():.3e}"


@pytest.mark.parametrize("filt", ["5/3", "haar"])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("n,levels,c", [(2, 1, 1), (7, 3, 3), (8, 3, 1), (9, 2, 3)])
def test_fused_equals_composed(filt, interp, dtype, n, levels, c):
    """Random sub-pel fields with out-of-frame vectors, random uses masks (bidirectional and one-sided pixels),
    scene cuts, odd and even frame counts."""
    x = _frames(n, c, dtype, seed=n + c)
    kw = dict(levels=levels, filter=filt, interp=interp, integer=dtype == torch.int32)
    ref, ref_x = _run(False, x, motion=random_motion(n, cut_every=3), **kw)
    got, got_x = _run(True, x, motion=random_motion(n, cut_every=3), **kw)
    _same(got.low, ref.low)
    for a, b in zip(got.high, ref.high, strict=True):
        _same(a, b)
    _same(got_x, ref_x)
    # Synthesis alone, from the same subbands.
    _, cross = _run(True, x, synth_from=ref, motion="zero", **kw)
    _same(cross, ref_x)


@pytest.mark.parametrize("filt", ["5/3", "haar"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("n,levels", [(3, 1), (8, 3), (13, 2)])
def test_fused_perfect_reconstruction(device, filt, dtype, n, levels):
    x = _frames(n, 3, dtype, seed=2 * n, device=device)
    r = analyze(x, levels=levels, filter=filt, motion=random_motion(n + 1, cut_every=4), integer=dtype == torch.int32)
    y = synthesize(r)
    assert y.dtype == x.dtype and y.device == x.device
    if dtype == torch.int32:
        assert torch.equal(y, x)
    else:
        err = (y - x).abs().max().item() / x.abs().max().item()
        assert err <= 1e-5, err


def test_fused_is_used(monkeypatch):
    """The default path calls the fused kernels (and the switch turns them off)."""
    import pywlc._extension as ext

    real = ext.load()
    seen = []

    class Spy:
        def __getattr__(self, name):
            fn = getattr(real, name)
            if not name.startswith(("mctf_predict", "mctf_update")):
                return fn

            def call(*args):
                seen.append(name)
                return fn(*args)

            return call

    x = _frames(4, 1, torch.float32, seed=0)
    monkeypatch.setattr(ext, "_C", Spy())
    synthesize(analyze(x, levels=2, motion="zero"))
    assert seen.count("mctf_predict_cpu") == 4 and seen.count("mctf_update_cpu") == 4
    seen.clear()
    with use_kernels(False):
        synthesize(analyze(x, levels=2, motion="zero"))
    assert not seen


def test_fused_strided_subbands():
    """Synthesis of non-contiguous subbands (the fused path makes them contiguous)."""
    x = _frames(6, 2, torch.float64, seed=4)
    kw = dict(levels=2, motion=random_motion(3))
    ref, ref_x = _run(False, x, **kw)
    tweak = ref.__class__(**{**ref.__dict__, "low": ref.low.transpose(2, 3).contiguous().transpose(2, 3)})
    assert not tweak.low.is_contiguous()
    _, got = _run(True, x, synth_from=tweak, motion="zero", levels=2)
    _same(got, ref_x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_fused_cuda_matches_cpu(dtype, interp):
    if not hasattr(load(), "mctf_predict_cuda"):
        pytest.skip("pywlc._C built without CUDA kernels")
    x = _frames(9, 3, dtype, seed=7)
    kw = dict(levels=3, interp=interp, integer=dtype == torch.int32)
    cpu, cpu_x = _run(True, x, motion=random_motion(5, cut_every=3), **kw)
    gpu, gpu_x = _run(True, x.cuda(), motion=random_motion(5, cut_every=3), **kw)
    # Separable (CUDA) vs flattened (CPU) tap sums: a few ulps apart in float.  The integer variant can round a
    # prediction within an ulp of a tie differently (rare), but its round trip is bitwise on either device.
    if dtype == torch.int32:
        assert torch.equal(gpu_x.cpu(), x)
        for a, b in zip([gpu.low, *gpu.high], [cpu.low, *cpu.high], strict=True):
            assert (a.cpu() != b).double().mean().item() < 1e-3
        return
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for a, b in zip([gpu.low, *gpu.high, gpu_x], [cpu.low, *cpu.high, cpu_x], strict=True):
        assert (a.cpu() - b).abs().max().item() <= tol * b.abs().max().item()
