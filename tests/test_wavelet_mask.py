"""pywlc.ops.wavelet_mask: hand-computed case, the reference, per-sample ratios, layouts, dilation, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import pywlc
from pywlc.ops._reference_wavelet_mask import wavelet_mask_reference
from pywlc.ops.wavelet_mask import wavelet_mask


def _bands(n=2, c=3, h=7, w=5, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    hf = torch.randn(n, 3, c, h, w, generator=g) * torch.rand(n, 3, c, h, w, generator=g) ** 4
    ll = torch.randn(n, c, h, w, generator=g) * torch.arange(1, n + 1).view(n, 1, 1, 1)
    return hf.to(dtype).to(device), ll.to(dtype).to(device)


def test_hand_computed_case():
    ll = torch.tensor([[[[0.0, 10.0], [4.0, 6.0]]]])  # range 10 -> threshold 0.1 * 10 = 1
    ch = torch.tensor([[[[2.0, 0.0], [0.0, 0.5]]]])
    cv = torch.tensor([[[[0.0, 1.0], [-1.5, 0.0]]]])  # 1.0 is not > 1: strict inequality
    cd = torch.tensor([[[[0.0, -1.0], [0.0, -0.25]]]])
    coarse = [[1, 0], [1, 0]]
    want = torch.tensor(coarse, dtype=torch.bool).repeat_interleave(2, 0).repeat_interleave(2, 1)
    got = wavelet_mask((ch, cv, cd), ll, 0.1, block=2, dilate=0)
    assert got.dtype == torch.bool and got.shape == (1, 1, 4, 4)
    assert torch.equal(got[0, 0], want)
    assert wavelet_mask((ch, cv, cd), ll, 0.1, block=2, dilate=1).all()  # one dilation covers a 2 x 2 grid
    assert torch.equal(wavelet_mask((ch, cv, cd), ll, 0.1, block=1, dilate=0)[0, 0], want[::2, ::2])
    assert not wavelet_mask((ch, cv, cd), ll, 0.2, dilate=0).any()  # threshold 2: nothing exceeds it


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("block,dilate", [(2, 0), (2, 1), (1, 2), (4, 1)])
def test_matches_reference(device, dtype, block, dilate):
    hf, ll = _bands(dtype=dtype, device=device)
    got = wavelet_mask(hf, ll, 0.05, block=block, dilate=dilate)
    assert got.shape == (2, 1, 7 * block, 5 * block) and got.device == ll.device
    want = wavelet_mask_reference(hf.cpu(), ll.cpu(), 0.05, block, dilate)
    assert torch.equal(got.cpu(), want)
    undilated = wavelet_mask_reference(hf.cpu(), ll.cpu(), 0.05, block, 0)
    assert 0 < undilated.float().mean() < 1  # the case exercises both outcomes
    assert torch.all(want >= undilated)  # dilation only adds


def test_per_sample_ratio(device):
    hf, ll = _bands(n=3, device=device, seed=1)
    ratio = torch.tensor([0.0, 0.05, 10.0], dtype=torch.float64)
    got = wavelet_mask(hf, ll, ratio.to(device), dilate=0)
    assert torch.equal(got.cpu(), wavelet_mask_reference(hf.cpu(), ll.cpu(), ratio, 2, 0))
    for i, r in enumerate(ratio.tolist()):
        assert torch.equal(got[i], wavelet_mask(hf[i : i + 1], ll[i : i + 1], r, dilate=0)[0])
    assert got[2].sum() == 0 and got[0].float().mean() > got[1].float().mean()
    assert torch.equal(wavelet_mask(hf, ll, torch.tensor(0.05), dilate=0), wavelet_mask(hf, ll, 0.05, dilate=0))


def test_layouts_agree_with_wavedec2():
    x = torch.randn(2, 3, 16, 12)
    ll, [(ch, cv, cd)] = pywlc.wavedec2(x, "haar", 1)
    by_tuple = wavelet_mask((ch, cv, cd), ll, 0.02)
    assert torch.equal(by_tuple, wavelet_mask(torch.cat([ch, cv, cd], 1), ll, 0.02))
    assert torch.equal(by_tuple, wavelet_mask(torch.stack([ch, cv, cd], 1), ll, 0.02))
    assert by_tuple.shape == (2, 1, 16, 12)


def test_size_crops_odd_frames():
    x = torch.randn(1, 1, 15, 9)
    ll, [(ch, cv, cd)] = pywlc.wavedec2(x, "bior2.2", 1)  # 8 x 5 coarse
    assert ch.shape[-2:] == (7, 5) and cv.shape[-2:] == (8, 4)  # high bands are one row / column short
    m = wavelet_mask((ch, cv, cd), ll, 0.01, size=(15, 9))
    want = wavelet_mask_reference(
        torch.stack([F.pad(t, (0, 5 - t.shape[-1], 0, 8 - t.shape[-2])) for t in (ch, cv, cd)], 1), ll, 0.01
    )
    assert torch.equal(m, want[..., :15, :9])
    assert m.shape == (1, 1, 15, 9) and m.is_contiguous()
    assert torch.equal(m, wavelet_mask((ch, cv, cd), ll, 0.01)[..., :15, :9])


def test_empty_inputs():
    hf, ll = _bands(n=0)
    assert wavelet_mask(hf, ll, 0.1).shape == (0, 1, 14, 10)


def test_bad_inputs_raise_clear_errors():
    hf, ll = _bands()
    cases = [
        (TypeError, "ll must be a torch.Tensor", lambda: wavelet_mask(hf, ll.numpy(), 0.1)),
        (TypeError, "ll must be float32", lambda: wavelet_mask(hf, ll.int(), 0.1)),
        (ValueError, r"ll must be Tensor\[N, C, h, w\]", lambda: wavelet_mask(hf, ll[0], 0.1)),
        (TypeError, "hf_coeffs must be float32", lambda: wavelet_mask(hf.int(), ll, 0.1)),
        (ValueError, r"hf_coeffs must be Tensor\[2, B\*3", lambda: wavelet_mask(hf.flatten(1, 2)[:, :8], ll, 0.1)),
        (ValueError, r"hf_coeffs must be Tensor\[2, B, 3", lambda: wavelet_mask(hf[..., :4], ll, 0.1)),
        (ValueError, r"hf_coeffs must be Tensor\[N, 3\*C", lambda: wavelet_mask(hf[0, 0, 0], ll, 0.1)),
        (ValueError, r"hf_coeffs\[1\] must have ll's shape", lambda: wavelet_mask((hf[:, 0], hf[:, 1, :2]), ll, 0.1)),
        (ValueError, r"hf_coeffs\[0\] must have ll's shape", lambda: wavelet_mask((hf[:, 0, ..., :3],), ll, 0.1)),
        (TypeError, "hf_coeffs as a sequence", lambda: wavelet_mask((), ll, 0.1)),
        (TypeError, "share one dtype", lambda: wavelet_mask((hf[:, 0], hf[:, 1].double()), ll, 0.1)),
        (TypeError, "hf_coeffs must be a torch.Tensor", lambda: wavelet_mask(hf.numpy(), ll, 0.1)),
        (ValueError, "ratio must be >= 0", lambda: wavelet_mask(hf, ll, -0.1)),
        (ValueError, "ratio must be >= 0", lambda: wavelet_mask(hf, ll, float("nan"))),
        (ValueError, "ratio must be >= 0", lambda: wavelet_mask(hf, ll, torch.tensor([0.1, -1.0]))),
        (ValueError, r"ratio must be a float or Tensor\[2\]", lambda: wavelet_mask(hf, ll, torch.ones(3))),
        (TypeError, "ratio must be a float tensor", lambda: wavelet_mask(hf, ll, torch.ones(2, dtype=torch.int64))),
        (TypeError, "ratio must be a float or a Tensor", lambda: wavelet_mask(hf, ll, "0.1")),
        (ValueError, "block must be >= 1", lambda: wavelet_mask(hf, ll, 0.1, block=0)),
        (TypeError, "block must be an int", lambda: wavelet_mask(hf, ll, 0.1, block=2.0)),
        (ValueError, "dilate must be >= 0", lambda: wavelet_mask(hf, ll, 0.1, dilate=-1)),
        (ValueError, "size .* must be within one block", lambda: wavelet_mask(hf, ll, 0.1, size=(12, 10))),
        (TypeError, "size must be a pair", lambda: wavelet_mask(hf, ll, 0.1, size=14)),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc, match=msg):
            fn()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_device_mismatch_raises():
    hf, ll = _bands()
    with pytest.raises(ValueError, match="hf_coeffs is on"):
        wavelet_mask(hf.cuda(), ll, 0.1)
