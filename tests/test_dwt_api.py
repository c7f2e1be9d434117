"""pywt-like API, modules, packed layout, pywt equality and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_close

import pywlc

pywt = pytest.importorskip("pywt")


@pytest.mark.parametrize("wavelet", ["haar", "bior2.2", "bior4.4"])
@pytest.mark.parametrize("levels", [1, 3])
def test_wavedec2_equals_pywt_periodization(wavelet, levels):
    x = torch.randn(2, 3, 32, 48, dtype=torch.float64)
    approx, details = pywlc.wavedec2(x, wavelet, levels, mode="periodization")
    expected = pywt.wavedec2(x.numpy(), wavelet, mode="periodization", level=levels)
    np.testing.assert_allclose(approx.numpy(), expected[0], atol=1e-10)
    assert len(details) == levels
    for ours, theirs in zip(details, expected[1:], strict=False):
        for a, b in zip(ours, theirs, strict=False):
            np.testing.assert_allclose(a.numpy(), b, atol=1e-10)


def test_haar_equals_pywt_in_every_mode_on_even_sizes():
    # Haar has no boundary taps: symmetric == periodization == pywt on even sizes.
    x = torch.randn(1, 2, 16, 8, dtype=torch.float64)
    approx, details = pywlc.wavedec2(x, "haar", 2, mode="symmetric")
    expected = pywt.wavedec2(x.numpy(), "haar", mode="symmetric", level=2)
    np.testing.assert_allclose(approx.numpy(), expected[0], atol=1e-12)
    np.testing.assert_allclose(details[0][2].numpy(), expected[1][2], atol=1e-12)


@pytest.mark.parametrize("wavelet", ["haar", "bior2.2", "bior4.4"])
def test_wavedec_1d_any_axis_equals_pywt(wavelet):
    x = torch.randn(4, 32, 5, dtype=torch.float64)
    approx, details = pywlc.wavedec(x, wavelet, 3, dim=1, mode="periodization")
    expected = pywt.wavedec(x.numpy(), wavelet, mode="periodization", level=3, axis=1)
    np.testing.assert_allclose(approx.numpy(), expected[0], atol=1e-10)
    for a, b in zip(details, expected[1:], strict=False):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-10)
    assert_close(pywlc.waverec((approx, details), wavelet, dim=1, mode="periodization"), x)


def test_wavedec3_keys_and_values_equal_pywt():
    x = torch.randn(1, 8, 8, 16, dtype=torch.float64)
    approx, details = pywlc.wavedec3(x, "bior2.2", 2, mode="periodization")
    expected = pywt.wavedecn(x.numpy(), "bior2.2", mode="periodization", level=2, axes=(1, 2, 3))
    np.testing.assert_allclose(approx.numpy(), expected[0], atol=1e-10)
    for ours, theirs in zip(details, expected[1:], strict=False):
        assert set(ours) == set(theirs)
        for k in ours:
            np.testing.assert_allclose(ours[k].numpy(), theirs[k], atol=1e-10)
    assert_close(pywlc.waverec3((approx, details), "bior2.2", mode="periodization"), x)


def test_subband_sizes_follow_ceil_floor_rule():
    x = torch.randn(1, 1, 17, 10)
    approx, details = pywlc.wavedec2(x, "bior4.4", 2)
    (h2, v2, d2), (h1, v1, d1) = details
    assert h1.shape[-2:] == (8, 5) and v1.shape[-2:] == (9, 5) and d1.shape[-2:] == (8, 5)
    assert approx.shape[-2:] == (5, 3) and d2.shape[-2:] == (4, 2)
    assert pywlc.ops.subband_sizes(17, 2) == [(9, 8), (5, 4)]


@pytest.mark.parametrize("shape", [(2, 3, 17, 23), (1, 1, 64, 64)])
def test_waverec2_inverts_wavedec2(shape):
    x = torch.randn(*shape, dtype=torch.float64)
    coeffs = pywlc.wavedec2(x, "bior4.4", 3)
    assert_close(pywlc.waverec2(coeffs, "bior4.4"), x)


def test_modules_and_packed_layout_agree():
    x = torch.randn(2, 3, 20, 28)
    fwd, inv = pywlc.DWT2d("bior2.2", 2), pywlc.IDWT2d("bior2.2", 2)
    pf, pi = pywlc.DWT2d("bior2.2", 2, packed=True), pywlc.IDWT2d("bior2.2", 2, packed=True)
    approx, details = fwd(x)
    packed = pf(x)
    assert torch.equal(approx, packed[..., :5, :7])
    assert torch.equal(details[-1][2], packed[..., 10:, 14:])  # finest cD: bottom-right quadrant
    assert_close(inv((approx, details)), x)
    assert_close(pi(packed), x)
    v = torch.randn(1, 2, 8, 12, 10)
    assert_close(pywlc.IDWT3d("haar", 2)(pywlc.DWT3d("haar", 2)(v)), v)
    assert "bior2.2" in repr(fwd)


def test_bad_input_raises_clear_errors():
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(TypeError, match="torch.Tensor"):
        pywlc.dwt(x.numpy(), "haar")
    with pytest.raises(ValueError, match="at least 2 dims"):
        pywlc.dwt(torch.randn(16), "haar")
    with pytest.raises(TypeError, match="float32"):
        pywlc.dwt(x.to(torch.int64), "haar")
    with pytest.raises(TypeError, match="int5/3"):
        pywlc.dwt(x.to(torch.int32), "haar")
    with pytest.raises(TypeError, match="int32"):
        pywlc.dwt(x, "int5/3")
    with pytest.raises(ValueError, match="too large"):
        pywlc.dwt(x, "haar", 5)
    with pytest.raises(ValueError, match="levels must be >= 0"):
        pywlc.dwt(x, "haar", -1)
    with pytest.raises(TypeError, match="levels must be an int"):
        pywlc.dwt(x, "haar", 1.5)
    with pytest.raises(ValueError, match="even lengths"):
        pywlc.dwt(torch.randn(1, 1, 18, 16), "haar", 2, mode="periodization")
    with pytest.raises(ValueError, match="mode must be one of"):
        pywlc.dwt(x, "haar", mode="zero")
    with pytest.raises(ValueError, match="wavelet must be one of"):
        pywlc.dwt(x, "db4")
    with pytest.raises(ValueError, match="ndim must be 1, 2 or 3"):
        pywlc.dwt(x, "haar", ndim=4)
    approx, details = pywlc.wavedec2(x, "haar", 2)
    with pytest.raises(ValueError, match="expected torch.float64"):
        pywlc.waverec2((approx.double(), details), "haar")
    with pytest.raises(ValueError, match="band"):
        pywlc.waverec2((approx, [details[0], (details[1][0][..., :-1, :], *details[1][1:])]), "haar")
    with pytest.raises(TypeError, match="approx"):
        pywlc.waverec2(approx, "haar")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_device_mismatch_in_coefficients_raises():
    x = torch.randn(1, 3, 16, 16)
    approx, details = pywlc.wavedec2(x, "haar", 1)
    with pytest.raises(ValueError, match="cuda"):
        pywlc.waverec2((approx.cuda(), details), "haar")


@pytest.mark.skipif(not torch.cuda.is_available() or not pywlc.has_cuda_ops(), reason="no GPU / CUDA ops")
@pytest.mark.parametrize("wavelet", ["haar", "bior2.2", "bior4.4"])
def test_cuda_equals_cpu_on_large_inputs(wavelet):
    x = torch.randn(2, 3, 517, 1031)
    for mode, xx in (("symmetric", x), ("periodization", x[..., :512, :1024].contiguous())):
        y_cpu = pywlc.dwt(xx, wavelet, 4, mode=mode)
        y_gpu = pywlc.dwt(xx.cuda(), wavelet, 4, mode=mode)
        assert_close(y_gpu, y_cpu)
        assert_close(pywlc.idwt(y_gpu, wavelet, 4, mode=mode), xx)
    xi = torch.randint(0, 1 << 16, (2, 3, 257, 333), dtype=torch.int32)
    assert torch.equal(pywlc.dwt(xi.cuda(), "int5/3", 4).cpu(), pywlc.dwt(xi, "int5/3", 4))
