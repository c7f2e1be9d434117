"""The CUDA kernels, run on the CPU: each .cu file is compiled as C++ against a CUDA emulation
(``tests/cuda_emu/``: blocks of real threads, real barriers, shuffles, atomics, garbage-filled shared memory)
and its results are compared with the CPU kernels' through the public Python API.

A machine without a GPU can thus check the CUDA kernels' indexing, synchronisation, shared-memory sizing and
arithmetic; the GPU machine still has the last word (``tests/*`` CUDA tests, ``scripts/device/gpu_check.sh``).
The first run compiles the emulated module (~1 min on 2 cores; cached under ``~/.cache/pywlc``).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import pywlc
import pywlc._extension as ext
from pywlc.motion import block_match
from pywlc.ops import dwt, idwt, warp, warp_blocks
from pywlc.ops.dwt import _kernel_scheme, _reads_half

sys.path.insert(0, str(Path(__file__).resolve().parent / "cuda_emu"))
from build import build  # noqa: E402

pytestmark = [
    pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emulated kernels"),
    pytest.mark.skipif(ext.load() is None, reason="needs the compiled core"),
]


class _EmulatedCuda:
    """Stands in for ``pywlc._C``: the ``*_cpu`` entry points run the emulated ``*_cuda`` kernels instead, so the
    ordinary CPU code paths of the Python API drive the CUDA kernels."""

    def __init__(self, real, emu) -> None:
        self._real, self._emu = real, emu
        self.calls = 0  # emulated launches made: a test asserts it really went through the emulator
        self.dwt_dtypes: list[int] = []  # the dtype code of each DWT call: which storage type the kernel got

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def dwt_cpu(self, *args):
        self.calls += 1
        self.dwt_dtypes.append(args[2])
        self._emu.dwt_cuda(*args, 0)

    def warp_forward_cpu(self, *args):
        self.calls += 1
        self._emu.warp_forward_cuda(*args, 0)
        return 0  # the CUDA kernel does not count non-finite displacements

    def warp_backward_cpu(self, *args):
        self.calls += 1
        *head, deterministic = args
        sizes = head[3]
        ws = torch.zeros(math.prod(sizes), dtype=torch.int64) if deterministic else None
        self._emu.warp_backward_cuda(*head, ws.data_ptr() if ws is not None else 0, deterministic, 0)

    def block_match_cpu(self, *args):
        self.calls += 1
        *head, _threads = args
        self._emu.block_match_cuda(*head, 0)

    def mctf_predict_cpu(self, *args):
        self.calls += 1
        self._emu.mctf_predict_cuda(*args, 0)

    def mctf_update_cpu(self, *args):
        self.calls += 1
        self._emu.mctf_update_cuda(*args, 0)


@pytest.fixture(scope="module")
def emu_module():
    so = build()
    spec = importlib.util.spec_from_file_location("_pywlc_cuda_emu._C", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.build_info()["cuda"] is True
    return mod


@pytest.fixture
def on_emulated_cuda(emu_module, monkeypatch):
    """A context manager: inside it, pywlc's CPU ops run the emulated CUDA kernels (it yields the proxy)."""
    import contextlib

    real = ext.load()

    @contextlib.contextmanager
    def ctx():
        proxy = _EmulatedCuda(real, emu_module)
        with monkeypatch.context() as m:
            m.setattr(ext, "_C", proxy)
            yield proxy
        assert proxy.calls > 0, "nothing ran on the emulated kernels"

    return ctx


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype in (torch.int32, torch.int64):
        assert torch.equal(a, b)
        return
    scale = max(1.0, b.abs().max().item()) if b.numel() else 1.0
    err = (a - b).abs().max().item() if b.numel() else 0.0
    assert err <= tol * scale, f"max error {err:.3e} > {tol:.1e} * {scale:.3g}"


TOL = {torch.float32: 2e-6, torch.float64: 1e-13}


@pytest.mark.parametrize(
    "wavelet,mode,shape,levels,ndim",
    [
        ("haar", "symmetric", (2, 3, 21, 34), 2, 2),
        ("haar", "periodization", (1, 2, 64, 96), 3, 2),  # the fused all-levels Haar kernel's case
        ("haar", "periodization", (1, 1, 200, 136), 3, 2),  # several 64 x 64 tiles
        ("bior2.2", "symmetric", (2, 2, 37, 29), 3, 2),
        ("bior2.2", "periodization", (1, 3, 32, 48), 2, 2),
        ("bior4.4", "symmetric", (1, 2, 45, 61), 3, 2),
        ("bior4.4", "periodization", (2, 1, 40, 24), 2, 2),
        ("bior4.4", "symmetric", (3, 77), 2, 1),
        ("bior2.2", "symmetric", (1, 1, 9, 14, 11), 2, 3),
        ("haar", "symmetric", (1, 1, 8, 10, 12), 1, 3),
        ("bior4.4", "symmetric", (1, 3, 130, 257), 3, 2),  # many line groups per pass, odd at every level
        ("haar", "periodization", (2, 3, 128, 192), None, 2),  # fused Haar down to the deepest level
        ("bior2.2", "periodization", (1, 1, 8, 16, 16), 3, 3),
        ("bior4.4", "symmetric", (1, 20001), 2, 1),  # a line longer than 48 KiB: opt-in shared memory
        # the fused 2-D tile kernel (dwt2_tile_cuda.cu): 3 x 4 tiles of 32 x 32 pairs, periodic across tiles,
        # and a plane smaller than the halo (the extension reflects more than once)
        ("bior4.4", "symmetric", (1, 2, 131, 250), 2, 2),
        ("bior2.2", "periodization", (2, 1, 136, 200), 3, 2),
        ("bior4.4", "symmetric", (1, 1, 3, 5), 1, 2),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dwt_kernels(on_emulated_cuda, wavelet, mode, shape, levels, ndim, dtype):
    g = torch.Generator().manual_seed(len(shape) * 7 + (levels or 0))
    x = torch.randn(shape, generator=g, dtype=dtype)
    fwd = dwt(x, wavelet, levels, mode=mode, ndim=ndim)
    inv = idwt(fwd, wavelet, levels, mode=mode, ndim=ndim)
    xr = x.clone().requires_grad_(True)
    (dwt(xr, wavelet, levels, mode=mode, ndim=ndim) * fwd).sum().backward()  # the forward's adjoint
    yr = fwd.clone().requires_grad_(True)
    (idwt(yr, wavelet, levels, mode=mode, ndim=ndim) * x).sum().backward()  # the inverse's adjoint
    with on_emulated_cuda():
        fwd_e = dwt(x, wavelet, levels, mode=mode, ndim=ndim)
        inv_e = idwt(fwd, wavelet, levels, mode=mode, ndim=ndim)
        xe = x.clone().requires_grad_(True)
        (dwt(xe, wavelet, levels, mode=mode, ndim=ndim) * fwd).sum().backward()
        ye = fwd.clone().requires_grad_(True)
        (idwt(ye, wavelet, levels, mode=mode, ndim=ndim) * x).sum().backward()
    for a, b in ((fwd_e, fwd), (inv_e, inv), (xe.grad, xr.grad), (ye.grad, yr.grad)):
        _close(a, b, TOL[dtype])


def _four_maps(x: torch.Tensor, wavelet: str, levels: int, mode: str) -> list[torch.Tensor]:
    """Forward, inverse and both adjoints (the backward of each, one shared cotangent) of a 2-D DWT."""
    fwd = dwt(x, wavelet, levels, mode=mode)
    inv = idwt(x, wavelet, levels, mode=mode)
    xr = x.clone().requires_grad_(True)
    (fwd_adj,) = torch.autograd.grad(dwt(xr, wavelet, levels, mode=mode), xr, x.flip(-1))
    (inv_adj,) = torch.autograd.grad(idwt(xr, wavelet, levels, mode=mode), xr, x.flip(-1))
    return [fwd, inv, fwd_adj, inv_adj]


# The fused 2-D tile kernel's adjoints (dwt2_tile_cuda.cu): transposed steps, at a symmetric boundary computed
# from the boundary rule in global coordinates.  Each (h, w) parity at every level, signal edges just past a tile
# boundary (129 = 2 * 64 + 1), inside a tile's last pairs (127) and inside the next tile's halo (130), planes
# smaller than the 9/7 halo at every level, batches of planes; Haar deeper than the all-levels Haar kernel takes
# (7 > 6 levels) reaches the tile kernel with its zero tail and unequal weights.
@pytest.mark.parametrize(
    "wavelet,mode,shape,levels",
    [
        ("bior2.2", "symmetric", (1, 2, 129, 127), 3),
        ("bior4.4", "symmetric", (2, 1, 130, 67), 3),
        ("bior4.4", "symmetric", (1, 1, 4, 7), 2),
        ("bior4.4", "symmetric", (1, 1, 2, 3), 1),
        ("bior2.2", "symmetric", (1, 1, 5, 4), 2),
        ("bior4.4", "periodization", (1, 2, 72, 136), 3),
        ("bior2.2", "periodization", (1, 1, 4, 6), 1),
        ("haar", "symmetric", (1, 1, 131, 140), 7),
        ("haar", "periodization", (1, 1, 128, 128), 7),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dwt2_tile_kernel_all_maps(on_emulated_cuda, wavelet, mode, shape, levels, dtype):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=dtype)
    want = _four_maps(x, wavelet, levels, mode)
    with on_emulated_cuda():
        got = _four_maps(x, wavelet, levels, mode)
    for a, b in zip(got, want, strict=True):
        _close(a, b, TOL[dtype])


@pytest.mark.parametrize("mode,shape", [("symmetric", (7, 29303)), ("periodization", (8, 29304))])
def test_dwt2_adjoints_run_on_the_tile_kernel(on_emulated_cuda, mode, shape):
    """Rows longer than the two-pass kernels take (a line must fit the 227 KiB opt-in shared memory: they raise
    ValueError beyond) go through the tile kernel only, so both adjoints' results prove which kernel ran."""
    x = torch.randn(1, 1, *shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)  # 229 KiB rows
    want = _four_maps(x, "bior4.4", 2, mode)
    with on_emulated_cuda():
        got = _four_maps(x, "bior4.4", 2, mode)
        with pytest.raises(ValueError, match="exceeds shared memory"):  # the two-pass kernels' limit is real
            dwt(x[0, 0], "bior4.4", 1, mode=mode, ndim=1)
    for a, b in zip(got, want, strict=True):
        _close(a, b, TOL[torch.float64])


# float16 / bfloat16 on the tile kernel (dwt2_tile_cuda.cu): read and written in the half type, computed in
# float32 (tile and scratch low bands), rounded once.  Several tiles with odd sizes at every level, a plane smaller
# than the 9/7 halo, both modes, multi-level.
HALF_CASES = [
    ("bior2.2", "symmetric", (1, 2, 129, 127), 3),
    ("bior4.4", "symmetric", (2, 1, 130, 67), 3),
    ("bior4.4", "symmetric", (1, 1, 4, 7), 2),
    ("bior4.4", "periodization", (1, 2, 72, 136), 3),
    ("bior2.2", "periodization", (1, 1, 136, 200), 2),
]
_DTYPE_CODE = {torch.float32: 0, torch.float16: 3, torch.bfloat16: 4}


def _half_ulp(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The spacing of ``dtype`` at v (float16: 10 fraction bits, subnormal below 2**-14; bfloat16: 7)."""
    _, e = torch.frexp(v.float())  # |v| in [2**(e-1), 2**e)
    e = torch.where(v == 0, -200, e)  # frexp(0) = (0, 0): the smallest spacing instead
    one = torch.ones_like(v, dtype=torch.float32)
    return torch.ldexp(one, (e - 1).clamp(min=-14) - 10) if dtype == torch.float16 else torch.ldexp(one, e - 8)


@pytest.mark.parametrize("wavelet,mode,shape,levels", HALF_CASES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_dwt2_tile_kernel_half(on_emulated_cuda, wavelet, mode, shape, levels, dtype):
    """All four maps (the adjoints through autograd: the backward of a half tensor) in float16 / bfloat16.

    Bitwise: the kernel's half result is its own float32 result for the same (exactly widened) input, rounded to
    nearest even once -- a scratch level rounded to the half type, a wrong conversion or a half read as float32
    all break it.  Against the CPU kernel's half path (the same rule on the CPU's float32 arithmetic, which
    orders and contracts differently: the float32 results agree to TOL, see test_dwt_kernels): at most one unit
    in the last place of the half type apart, plus that float32 difference."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float32).to(dtype)
    want = _four_maps(x, wavelet, levels, mode)  # the CPU kernel, reading the half type itself
    with on_emulated_cuda() as emu:
        got = _four_maps(x, wavelet, levels, mode)
        # six calls (the adjoints are the backward of a forward and an inverse): none on a float32 copy
        assert emu.dwt_dtypes == [_DTYPE_CODE[dtype]] * 6
        got32 = _four_maps(x.float(), wavelet, levels, mode)
    for a, a32, b in zip(got, got32, want, strict=True):
        assert a.dtype == dtype and torch.equal(a, a32.to(dtype))
        scale = max(1.0, b.float().abs().max().item())
        # a and b round float32 values u, v with |u - v| <= TOL * scale: |a - b| <= ulp(a) / 2 + ulp(b) / 2 + that
        bound = (_half_ulp(a, dtype) + _half_ulp(b, dtype)) / 2 + TOL[torch.float32] * scale
        assert ((a.float() - b.float()).abs() <= bound).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_dwt_half_outside_the_tile_kernel(on_emulated_cuda, emu_module, dtype):
    """Haar (its all-levels kernel is float32), 1-D and 3-D get a float32 copy; dwt_cuda refuses a half call that
    reaches it outside the tile kernel with a clear error."""
    g = torch.Generator().manual_seed(11)
    cases = [("haar", (1, 2, 40, 36), 2), ("bior4.4", (2, 3, 45), 1), ("bior2.2", (1, 1, 6, 10, 12), 3)]
    for wavelet, shape, ndim in cases:
        x = torch.randn(shape, generator=g).to(dtype)
        with on_emulated_cuda() as emu:
            got = dwt(x, wavelet, 2, ndim=ndim)
            assert emu.dwt_dtypes == [0]
            assert torch.equal(got, dwt(x.float(), wavelet, 2, ndim=ndim).to(dtype))
    x, y = torch.randn(3, 45).to(dtype), torch.empty(3, 45, dtype=dtype)
    flat, k_low, k_high, zero_tail, integer = _kernel_scheme("bior4.4")
    with pytest.raises(ValueError, match="float16 / bfloat16 run only on the 2-D tile kernel"):
        emu_module.dwt_cuda(x.data_ptr(), y.data_ptr(), _DTYPE_CODE[dtype], 3, [1, 1, 45], 1, 1, 0, 0, flat, k_low,
                            k_high, zero_tail, integer, 0)  # fmt: skip


def test_cuda_half_routing():
    """Which CUDA half calls go to the kernel in their own type (_reads_half): 2-D lifting schemes but Haar."""
    cuda = SimpleNamespace(device=torch.device("cuda", 0))
    assert _reads_half(cuda, "bior4.4", 2) and _reads_half(cuda, "bior2.2", 2)
    assert not _reads_half(cuda, "haar", 2)
    assert not _reads_half(cuda, "bior4.4", 1) and not _reads_half(cuda, "bior4.4", 3)
    assert not _reads_half(SimpleNamespace(device=torch.device("meta")), "bior4.4", 2)


@pytest.mark.parametrize(
    "shape,levels", [((1, 2, 23, 30), 2), ((2, 1, 64, 64), 3), ((1, 1, 17, 9), 1), ((1, 1, 150, 133), 3)]
)
def test_dwt_integer_kernel(on_emulated_cuda, shape, levels):
    g = torch.Generator().manual_seed(3)
    x = torch.randint(-(2**31), 2**31 - 1, shape, generator=g, dtype=torch.int64).to(torch.int32)
    fwd = dwt(x, "int5/3", levels)
    with on_emulated_cuda():
        fwd_e = dwt(x, "int5/3", levels)
        inv_e = idwt(fwd, "int5/3", levels)
    assert torch.equal(fwd_e, fwd)
    assert torch.equal(inv_e, x)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("deterministic", [False, True])
def test_warp_kernels(on_emulated_cuda, mode, padding, deterministic):
    g = torch.Generator().manual_seed(5)
    img = torch.randn(2, 3, 13, 19, generator=g, dtype=torch.float64)
    flow = torch.randn(2, 2, 13, 19, generator=g, dtype=torch.float64) * 4  # some samples leave the frame
    cot = torch.randn(2, 3, 13, 19, generator=g, dtype=torch.float64)

    def run():
        i, f = img.clone().requires_grad_(True), flow.clone().requires_grad_(True)
        out = warp(i, f, mode=mode, padding=padding, deterministic=deterministic)
        out.backward(cot)
        return out.detach(), i.grad, f.grad

    ref = run()
    with on_emulated_cuda():
        got = run()
    for a, b in zip(got, ref, strict=True):
        _close(a, b, 1e-6 if deterministic else 1e-12)  # the fixed-point accumulator rounds at 2^-33


def test_warp_kernel_strided_inputs(on_emulated_cuda):
    g = torch.Generator().manual_seed(8)
    img = torch.randn(2, 21, 17, 3, generator=g).permute(0, 3, 2, 1)  # Tensor[2, 3, 17, 21], channels last
    flow = (torch.randn(2, 17, 21, 2, generator=g) * 3).permute(0, 3, 1, 2)
    ref = warp(img, flow, mode="bicubic")
    with on_emulated_cuda():
        got = warp(img, flow, mode="bicubic")
    _close(got, ref, 1e-5)


@pytest.mark.parametrize("interp", ["bilinear", "hevc8"])
def test_warp_blocks_kernel(on_emulated_cuda, interp):
    g = torch.Generator().manual_seed(6)
    img = torch.randn(1, 2, 16, 24, generator=g)
    mvs = torch.randint(-20, 21, (1, 2, 4, 6), generator=g, dtype=torch.int32)
    ref = warp_blocks(img, mvs, 4, interp=interp)
    with on_emulated_cuda():
        got = warp_blocks(img, mvs, 4, interp=interp)
    _close(got, ref, 1e-6)


@pytest.mark.parametrize(
    "block,search_range,subpel,lam,size",
    [
        (8, 3, 4, 4.0, (27, 37)),
        (5, 2, 2, 0.0, (27, 37)),
        (16, 4, 1, 1.0, (27, 37)),
        (16, 16, 4, 4.0, (48, 64)),
        (32, 100, 4, 2.0, (32, 32)),  # window > 48 KiB: the opt-in shared-memory launch
    ],
)
def test_block_match_kernel(on_emulated_cuda, block, search_range, subpel, lam, size):
    g = torch.Generator().manual_seed(block)
    h, w = size
    base = torch.nn.functional.avg_pool2d(torch.rand(2, 1, h + 10, w + 10, generator=g) * 255, 3, 1, 1)[:, 0]
    cur, ref = (
        base[:, 3 : 3 + h, 5 : 5 + w].round().to(torch.uint8),
        base[:, 4 : 4 + h, 2 : 2 + w].round().to(torch.uint8),
    )
    want = block_match(cur, ref, block=block, search_range=search_range, subpel=subpel, lam=lam)
    with on_emulated_cuda():
        got = block_match(cur, ref, block=block, search_range=search_range, subpel=subpel, lam=lam)
    assert torch.equal(got.mvs, want.mvs) and torch.equal(got.sad, want.sad)


@pytest.mark.parametrize(
    "filt,interp,integer,dtype,n,levels,c",
    [
        ("5/3", "bilinear", False, torch.float32, 7, 3, 3),
        ("5/3", "bicubic", False, torch.float64, 8, 2, 1),
        ("haar", "bilinear", False, torch.float64, 5, 2, 3),
        ("5/3", "bilinear", True, torch.int32, 9, 3, 3),
        ("haar", "bicubic", True, torch.int32, 6, 2, 1),
    ],
)
def test_mctf_kernels(on_emulated_cuda, filt, interp, integer, dtype, n, levels, c):
    """Fused MCTF predict / update: the emulated CUDA kernels against the CPU ones, random fields with
    out-of-frame vectors, one-sided pixels and scene cuts."""
    from pywlc.mctf import MotionFields, analyze, synthesize

    h, w = 13, 17

    def motion(seed):
        gen = torch.Generator().manual_seed(seed)
        count = [0]

        def est(cur, left, right, *, level, temporal_distance):
            count[0] += 1

            def field():
                f = torch.round(torch.randn(2, h, w, generator=gen) * 16) / 4
                far = torch.rand(1, h, w, generator=gen) < 0.2
                return torch.where(far, f * 100, f)

            ul = torch.rand(h, w, generator=gen) < 0.7
            return MotionFields(field(), None if right is None else field(), ul, None, count[0] % 4 == 0)

        return est

    g = torch.Generator().manual_seed(n)
    x = torch.rand(n, c, h, w, generator=g, dtype=torch.float64) * 255
    x = x.round().to(torch.int32) if integer else x.to(dtype)
    assert ext.kernels_enabled()
    kw = dict(levels=levels, filter=filt, interp=interp, integer=integer)
    ref = analyze(x, motion=motion(1), **kw)
    ref_x = synthesize(ref)
    with on_emulated_cuda():
        got = analyze(x, motion=motion(1), **kw)
        got_x = synthesize(ref)
    tol = 0.0 if integer else TOL[dtype]  # the CUDA kernel sums the taps separably, the CPU one flattened
    for a, b in zip([got.low, *got.high, got_x], [ref.low, *ref.high, ref_x], strict=True):
        _close(a, b, tol)


def test_harness_detects_a_wrong_kernel(emu_module, monkeypatch):
    """The comparison is live: a proxy whose DWT does nothing is caught."""
    real = ext.load()
    x = torch.randn(1, 1, 16, 16)
    ref = dwt(x, "bior4.4", 2)

    class Broken(_EmulatedCuda):
        def dwt_cpu(self, *args):
            self.calls += 1

    monkeypatch.setattr(ext, "_C", Broken(real, emu_module))
    assert not torch.allclose(dwt(x, "bior4.4", 2), ref)
    assert hasattr(emu_module, "dwt_cuda") and pywlc.build_info()["compiled"]
