"""pywlc.dwt / idwt: kernels vs the pure-torch reference, perfect reconstruction, autograd, layouts."""

from __future__ import annotations

import pytest
import torch
from conftest import TOL, assert_close

import pywlc
from pywlc._extension import load, use_kernels
from pywlc.ops import _reference_dwt as ref
from pywlc.ops.dwt import FORWARD_ADJOINT, INVERSE_ADJOINT, _run
from pywlc.ops.wavelets import get_scheme, max_level

FLOAT_WAVELETS = ["haar", "bior2.2", "bior4.4"]
# (spatial shape, levels) per ndim: odd, even, not divisible by 2^J, tiny.
SHAPES = {
    1: [((37,), 3), ((64,), 4), ((2,), 1)],
    2: [((17, 23), 3), ((32, 48), 3), ((5, 2), 1), ((64, 33), 5)],
    3: [((9, 10, 11), 2), ((8, 16, 16), 3)],
}
CASES = [(nd, s, j) for nd, shapes in SHAPES.items() for s, j in shapes]


def _even(shape, levels):
    return all(n % (1 << levels) == 0 for n in shape)


def _modes(shape, levels):
    return ["symmetric", "periodization"] if _even(shape, levels) else ["symmetric"]


def _rand(shape, dtype, device, batch=(2, 3)):
    return torch.randn(*batch, *shape, dtype=torch.float64).to(dtype).to(device)


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("ndim,shape,levels", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_and_inverse_match_reference(device, wavelet, ndim, shape, levels, dtype):
    x = _rand(shape, dtype, device)
    scheme = get_scheme(wavelet)
    for mode in _modes(shape, levels):
        periodic = mode == "periodization"
        y = pywlc.dwt(x, wavelet, levels, ndim=ndim, mode=mode)
        assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
        assert_close(y, ref.dwt_packed_reference(x.cpu(), scheme, levels, ndim, periodic))
        assert_close(
            pywlc.idwt(x, wavelet, levels, ndim=ndim, mode=mode),
            ref.idwt_packed_reference(x.cpu(), scheme, levels, ndim, periodic),
        )


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("ndim,shape,levels", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_perfect_reconstruction(device, wavelet, ndim, shape, levels, dtype):
    x = _rand(shape, dtype, device)
    for mode in _modes(shape, levels):
        y = pywlc.dwt(x, wavelet, levels, ndim=ndim, mode=mode)
        xr = pywlc.idwt(y, wavelet, levels, ndim=ndim, mode=mode)
        assert xr.dtype == dtype
        if dtype in (torch.float16, torch.bfloat16):
            # Coefficients are rounded to the storage dtype once between the two transforms.
            assert_close(xr, x, dtype) if dtype == torch.float16 else assert_close(xr.float(), x.float(), dtype)
        else:
            assert_close(xr, x)


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_one_rounding_of_fp32(device, wavelet, dtype):
    x = _rand((19, 24), dtype, device)
    y = pywlc.dwt(x, wavelet, 2)
    assert torch.equal(y, pywlc.dwt(x.float(), wavelet, 2).to(dtype))


@pytest.mark.parametrize("ndim,shape,levels", CASES)
def test_integer_53_round_trip_is_bitwise(device, ndim, shape, levels):
    g = torch.Generator().manual_seed(ndim * 100 + levels)
    x = torch.randint(-(2**31), 2**31 - 1, (2, 2, *shape), dtype=torch.int32, generator=g)
    x.view(-1)[::7] = 2**31 - 1  # extremes: the wrapped int32 lifting must still invert exactly
    x.view(-1)[3::11] = -(2**31)
    small = torch.randint(0, 256, x.shape, dtype=torch.int32, generator=g)  # 8-bit images
    for data in (x, small):
        data = data.to(device)
        for mode in _modes(shape, levels):
            y = pywlc.dwt(data, "int5/3", levels, ndim=ndim, mode=mode)
            assert y.dtype == torch.int32
            expected = ref.dwt_packed_reference(data.cpu(), get_scheme("int5/3"), levels, ndim, mode == "periodization")
            assert torch.equal(y.cpu(), expected)
            assert torch.equal(pywlc.idwt(y, "int5/3", levels, ndim=ndim, mode=mode), data)


def test_integer_53_matches_hand_computed_ramp():
    # T.800 eq. F-5/F-6 by hand on x = 0, 3, ..., 27: interior details of a ramp are 0; the last one sees the
    # mirrored x[10] = x[8]: d4 = 27 - floor((24 + 24) / 2) = 3, so s4 = 24 + floor((0 + 3 + 2) / 4) = 25.
    x = torch.arange(10, dtype=torch.int32).view(1, 10) * 3
    y = pywlc.dwt(x, "int5/3", 1, ndim=1)
    assert torch.equal(y[0], torch.tensor([0, 6, 12, 18, 25, 0, 0, 0, 0, 3], dtype=torch.int32))


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("mode", ["symmetric", "periodization"])
def test_adjoints_satisfy_inner_product_identity(device, wavelet, mode):
    # <A x, g> == <x, A^T g> and <A^-1 x, g> == <x, A^-T g>, the maps the backward passes use.
    shape = (12, 16) if mode == "periodization" else (13, 10)
    x, g = _rand(shape, torch.float64, device), _rand(shape, torch.float64, device)
    fwd = pywlc.dwt(x, wavelet, 2, mode=mode)
    inv = pywlc.idwt(x, wavelet, 2, mode=mode)
    fa = _run(g, wavelet, 2, 2, mode, FORWARD_ADJOINT)
    ia = _run(g, wavelet, 2, 2, mode, INVERSE_ADJOINT)
    assert abs((fwd * g).sum() - (x * fa).sum()) < 1e-10
    assert abs((inv * g).sum() - (x * ia).sum()) < 1e-10


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("ndim,shape,levels", [(1, (7,), 2), (2, (5, 6), 2), (3, (3, 4, 5), 1)])
@pytest.mark.parametrize("inverse", [False, True])
def test_gradcheck(device, wavelet, ndim, shape, levels, inverse):
    x = _rand(shape, torch.float64, device, batch=(2,)).requires_grad_()
    fn = pywlc.idwt if inverse else pywlc.dwt
    assert torch.autograd.gradcheck(lambda t: fn(t, wavelet, levels, ndim=ndim), (x,))
    assert torch.autograd.gradgradcheck(lambda t: fn(t, wavelet, levels, ndim=ndim), (x,))


@pytest.mark.parametrize("wavelet", FLOAT_WAVELETS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backward_matches_reference_autograd(device, wavelet, dtype):
    x = _rand((17, 14), dtype, device).requires_grad_()
    g = torch.randn_like(x)
    scheme = get_scheme(wavelet)
    for fn, rfn in ((pywlc.dwt, ref.dwt_packed_reference), (pywlc.idwt, ref.idwt_packed_reference)):
        (gx,) = torch.autograd.grad(fn(x, wavelet, 3), x, g)
        xr = x.detach().cpu().requires_grad_()
        (gr,) = torch.autograd.grad(rfn(xr, scheme, 3, 2, False), xr, g.cpu())
        assert_close(gx, gr)


def test_batch_zero_and_leading_dims(device):
    x = torch.randn(0, 3, 16, 16, device=device)
    assert pywlc.dwt(x, "haar", 2).shape == x.shape
    x5 = torch.randn(2, 2, 3, 9, 12, device=device)
    y5 = pywlc.dwt(x5, "bior2.2", 2)
    assert_close(y5.view(12, 9, 12), pywlc.dwt(x5.reshape(12, 9, 12), "bior2.2", 2))
    assert torch.equal(pywlc.dwt(x5, "haar", 0), x5)


def test_non_contiguous_input(device):
    base = torch.randn(2, 3, 20, 30, device=device)
    for x in (base.transpose(-1, -2), base[..., ::2, 1::2], base.permute(0, 2, 3, 1)[..., :2, :, :]):
        assert not x.is_contiguous()
        assert_close(pywlc.dwt(x, "bior4.4", 2), pywlc.dwt(x.contiguous(), "bior4.4", 2))


def test_deepest_level_default_and_max_level():
    x = torch.randn(1, 1, 17, 40)
    assert max_level(17, "symmetric") == 5 and max_level(40, "periodization") == 3
    approx, details = pywlc.wavedec2(x, "haar")
    assert len(details) == 5 and approx.shape[-2:] == (1, 2)


def test_reference_fallback_when_compiled_core_missing():
    x = torch.randn(2, 3, 11, 14, dtype=torch.float64, requires_grad=True)
    y_kernel = pywlc.dwt(x, "bior4.4", 2)
    (g_kernel,) = torch.autograd.grad(y_kernel.sum(), x)
    with use_kernels(False):
        y_ref = pywlc.dwt(x, "bior4.4", 2)
        (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    assert_close(y_ref, y_kernel)
    assert_close(g_ref, g_kernel)


def test_opcheck_custom_op():
    x = torch.randn(2, 3, 10, 12, dtype=torch.float64, requires_grad=True)
    for op in range(4):
        torch.library.opcheck(torch.ops.pywlc.lifting_dwt.default, (x, "bior2.2", 2, 2, "symmetric", op))


def test_torch_compile_traces_the_custom_op():
    x = torch.randn(2, 3, 16, 16, requires_grad=True)

    def f(t):
        return pywlc.idwt(pywlc.dwt(t, "bior4.4", 2) * 2.0, "bior4.4", 2).sum()

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    (g,) = torch.autograd.grad(out, x)
    assert_close(out.detach(), f(x).detach())
    assert_close(g, torch.full_like(x, 2.0))


def test_tolerance_table_is_tight_enough():
    # Guard against silently loosened tolerances: an fp32 9/7 round trip of unit-variance data (|x| < 5)
    # measures ~2e-6 max error (a few ulps per lifting step), a quarter of the table's bound.
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    err = (pywlc.idwt(pywlc.dwt(x, "bior4.4", 3), "bior4.4", 3) - x).abs().max().item()
    assert err < TOL[torch.float32] / 2


# ----------------------------------------------------------------------------------------------------
# The fused one-pass-per-level 2-D CPU kernel (csrc/dwt/dwt2_fused.h): every instruction set it was compiled
# for, strips, half types read directly


def _fused_cases():
    # odd sizes (symmetric only), even sizes (both modes), a tall plane cut into strips, a single row pair
    return [((37, 53), 3, "symmetric"), ((64, 96), 3, "periodization"), ((600, 40), 2, "symmetric"),
            ((256, 34), 1, "periodization"), ((2, 9), 1, "symmetric")]  # fmt: skip


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_fused_2d_kernel_on_every_instruction_set(isa):
    c = load()
    if c is None or not hasattr(c, "dwt_cpu_isa") or isa not in c.dwt_cpu_isa()["supported"]:
        pytest.skip(f"{isa} is not compiled in or not run by this CPU")
    before = c.dwt_cpu_isa()["selected"]
    g = torch.Generator().manual_seed(12)
    try:
        c.dwt_cpu_isa(isa)
        for shape, levels, mode in _fused_cases():
            periodic = mode == "periodization"
            x = torch.randn(2, 3, *shape, generator=g, dtype=torch.float64)
            for wavelet in ("bior2.2", "bior4.4"):
                s = get_scheme(wavelet)
                for fn, rf in ((pywlc.dwt, ref.dwt_packed_reference), (pywlc.idwt, ref.idwt_packed_reference)):
                    y, r = fn(x, wavelet, levels, mode=mode), rf(x, s, levels, 2, periodic)
                    # the bound for fp64: 1e-13 relative (measured ~1e-15 on every instruction set)
                    assert (y - r).abs().max() <= 1e-13 * r.abs().max(), (isa, shape, wavelet, fn.__name__)
                    assert_close(fn(x.float(), wavelet, levels, mode=mode), r.float())
            # int32 extremes: T.800's increments are formed without int32 overflow, sums wrap modulo 2^32
            i = torch.randint(-(2**31), 2**31 - 1, (2, 3, *shape), generator=g, dtype=torch.int32)
            s = get_scheme("int5/3")
            y = pywlc.dwt(i, "int5/3", levels, mode=mode)
            assert torch.equal(y, ref.dwt_packed_reference(i, s, levels, 2, periodic)), (isa, shape)
            assert torch.equal(
                pywlc.idwt(i, "int5/3", levels, mode=mode), ref.idwt_packed_reference(i, s, levels, 2, periodic)
            )
            assert torch.equal(pywlc.idwt(y, "int5/3", levels, mode=mode), i)
    finally:
        c.dwt_cpu_isa(before)


@pytest.mark.skipif(pywlc.build_info().get("omp_max_threads", 1) < 2, reason="strips need more than one thread")
@pytest.mark.parametrize("wavelet", ["bior4.4", "int5/3"])
@pytest.mark.parametrize("shape,mode", [((515, 301), "symmetric"), ((512, 304), "periodization")])
def test_fused_2d_result_does_not_depend_on_the_strips(wavelet, shape, mode):
    # One plane is cut into one strip per 16 output row pairs (16 strips here), each of 16 planes into one:
    # the halo a strip re-lifts must make the split invisible, bit for bit.
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 1, *shape, generator=g, dtype=torch.float64)
    if wavelet == "int5/3":
        x = (x * 1000).to(torch.int32)
    many = x.expand(16, 1, *shape).contiguous()
    for fn in (pywlc.dwt, pywlc.idwt):
        assert torch.equal(fn(x, wavelet, 3, mode=mode), fn(many, wavelet, 3, mode=mode)[:1]), fn.__name__


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape,mode", [((131, 200), "symmetric"), ((128, 256), "periodization")])
def test_fused_2d_half_types_read_directly_round_once(dtype, shape, mode):
    x = _rand(shape, dtype, "cpu", batch=(2, 3))
    for wavelet in ("bior2.2", "bior4.4"):
        for fn in (pywlc.dwt, pywlc.idwt):
            y = fn(x, wavelet, 3, mode=mode)
            assert y.dtype == dtype and torch.equal(y, fn(x.float(), wavelet, 3, mode=mode).to(dtype)), fn.__name__


@pytest.mark.parametrize(
    "dtype,wavelet", [(torch.float32, "bior4.4"), (torch.float32, "haar"), (torch.int32, "int5/3")]
)
def test_fused_2d_streaming_stores_on_a_large_tensor(dtype, wavelet):
    # >= 8 MiB of output switches the kernels (lifting and Haar) to non-temporal stores; odd widths give unaligned
    # row starts.
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2, 1031, 1023, generator=g)
    x = (x * 2**20).to(dtype) if dtype == torch.int32 else x.to(dtype)
    with use_kernels(False):
        ref_fwd = pywlc.dwt(x, wavelet, 3)
        ref_inv = pywlc.idwt(x, wavelet, 3)
    fwd, inv = pywlc.dwt(x, wavelet, 3), pywlc.idwt(x, wavelet, 3)
    if dtype == torch.int32:
        assert torch.equal(fwd, ref_fwd) and torch.equal(inv, ref_inv)
    else:
        assert_close(fwd, ref_fwd)
        assert_close(inv, ref_inv)


@pytest.mark.parametrize("wavelet", ["bior2.2", "bior4.4"])
@pytest.mark.parametrize(
    "shape,levels,mode",
    [((2, 3), 1, "symmetric"), ((5, 7), 2, "symmetric"), ((131, 200), 3, "symmetric"), ((128, 96), 3, "periodization")],
)
def test_fused_2d_adjoints_match_reference_vjp(wavelet, shape, levels, mode):
    # The fused CPU kernel's transposed steps (folded symmetric boundaries, strips on several threads) against the
    # vjp of the pure-torch reference: fp64 to 1e-13 relative.
    g = _rand(shape, torch.float64, "cpu")
    scheme, periodic = get_scheme(wavelet), mode == "periodization"
    for op, rfn in ((FORWARD_ADJOINT, ref.dwt_packed_reference), (INVERSE_ADJOINT, ref.idwt_packed_reference)):
        probe = torch.zeros_like(g, requires_grad=True)
        (expected,) = torch.autograd.grad(rfn(probe, scheme, levels, 2, periodic), probe, g)
        got = _run(g, wavelet, levels, 2, mode, op)
        scale = expected.abs().max().item()
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-13 * scale)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fused_2d_half_adjoints_round_once(dtype):
    g = _rand((37, 50), dtype, "cpu")
    for op in (FORWARD_ADJOINT, INVERSE_ADJOINT):
        got = _run(g, "bior4.4", 2, 2, "symmetric", op)
        assert got.dtype == dtype and torch.equal(got, _run(g.float(), "bior4.4", 2, 2, "symmetric", op).to(dtype))
