"""pywlc.vfi: the Haar helpers, the sparse path against the training formula, the API's shapes and errors, the
shipped weights' pin, and interpolation quality on a known motion."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import pywt
import torch
import torch.nn.functional as F
from conftest import assert_close

from pywlc.vfi import RATIOS, WaveletVFI, interpolate, load_model
from pywlc.vfi import model as model_mod
from pywlc.vfi import weights as vfi_weights
from pywlc.vfi.model import haar_merge, haar_split
from pywlc.vfi.motion import bidirectional_flow, intermediate_flows


@pytest.fixture(scope="module")
def model() -> WaveletVFI:
    return load_model()


def _moving_pair(h: int, w: int, c: int, shift: float, seed: int = 0):
    """A smooth random texture and the same texture moved by ``shift`` px in x: ``(i0, i1, middle)`` float
    ``Tensor[1, c, h, w]`` in [0, 1], the middle moved by ``shift / 2``."""
    g = torch.Generator().manual_seed(seed)
    big = F.avg_pool2d(torch.rand((1, c, h + 64, w + 64), generator=g), 7, 1, 3)
    big = (big - big.min()) / (big.max() - big.min())
    up = F.interpolate(big, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)
    s = int(round(shift))  # whole pixels at the 2x scale -> half pixels at 1x
    frames = [up[..., 64 : 64 + 2 * h, 64 + d : 64 + d + 2 * w] for d in (0, s, 2 * s)]
    i0, mid, i1 = (F.avg_pool2d(f, 2) for f in frames)
    return i0, i1, mid


def _random_model_and_pair(seed: int, context: int, h: int, w: int, shift: float):
    """A model with random N(0, 0.05) weights (large residuals) and a moving pair with its DIS flows:
    ``(model, i0, i1, f01, f10, t)``."""
    from pywlc.vfi.model import VFIConfig

    torch.manual_seed(seed)
    m = WaveletVFI(VFIConfig(context=context)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.05)
    i0, i1, _ = _moving_pair(h, w, 3, shift)
    f01, f10 = bidirectional_flow(i0, i1)
    return m, i0, i1, f01, f10, torch.tensor([0.5])


def test_haar_split_is_pywt_haar():
    x = torch.rand(2, 3, 8, 12, dtype=torch.float64)
    b = haar_split(x)
    ll, (ch, cv, cd) = pywt.dwt2(x.numpy(), "haar", axes=(-2, -1))
    c = 3
    np.testing.assert_allclose(b[:, :c].numpy(), ll, atol=1e-12)
    got = {tuple(np.round(b[:, k * c:(k + 1) * c].numpy().ravel()[:5], 8)) for k in (1, 2, 3)}
    want = {tuple(np.round(v.ravel()[:5], 8)) for v in (ch, cv, cd)}
    assert got == want
    assert_close(haar_merge(b), x)


def test_intermediate_flows_linear_motion():
    # constant motion v: F01 = v, F10 = -v -> F_t0 = -t v, F_t1 = (1 - t) v
    v = torch.tensor([3.0, -2.0]).reshape(1, 2, 1, 1).expand(1, 2, 4, 4)
    ft0, ft1 = intermediate_flows(v, -v, torch.tensor([0.25]))
    assert_close(ft0, -0.25 * v)
    assert_close(ft1, 0.75 * v)


# With these random weights the residuals are large: without context 0.3 gives partial masks at both levels
# (0.79 / 0.53 active), with an 8-wide context 0.2 a partial 1/2 level (0.63); 0.0 full ones, 0.5 empty ones.
@pytest.mark.parametrize("algo", ["stack", "masked_conv2d"])
@pytest.mark.parametrize("context,ratio,partial", [(0, 0.0, False), (0, 0.3, True), (0, 0.5, False),
                                                   (8, 0.0, False), (8, 0.2, True), (8, 0.5, False)])
def test_sparse_kernels_equal_the_training_formula(ratio, partial, algo, context, monkeypatch):
    """Bool masks (masked_conv2d on the active pixels) == dense conv times the float mask (training); with and
    without the warped context pyramid."""
    m, i0, i1, f01, f10, t = _random_model_and_pair(0, context, 48, 64, 4)
    m.synthesis.sparse_algo = algo
    monkeypatch.setattr(model_mod, "STACK_DENSE_ABOVE", 1e9)  # the windows even where dense would be cheaper
    with torch.no_grad():
        sparse, _, _ = m(i0, i1, f01, f10, t, f"ratio:{ratio}")
        ratios = torch.tensor([ratio], dtype=torch.float32)
        m.ratios = ratios
        soft, _, _ = m(i0, i1, f01, f10, t, "train-dynamic")  # one ratio: the one-hot picks it
    assert (0 < float(sparse.densities[1][0]) < 1) == partial
    assert [float(d[0]) for d in sparse.densities] == [float(d[0]) for d in soft.densities]
    assert_close(sparse.frame, soft.frame)


@pytest.mark.parametrize("context", [0, 8])
def test_dense_mode_equals_all_active_masks(context):
    m, i0, i1, f01, f10, t = _random_model_and_pair(1, context, 32, 48, 2)
    with torch.no_grad():
        dense, _, _ = m(i0, i1, f01, f10, t, "dense")
        # a negative-free threshold below every |coefficient|: ratio 0 with non-zero residuals activates all
        zero, _, _ = m(i0, i1, f01, f10, t, "ratio:0.0")
    assert [float(d[0]) for d in zero.densities] == [1.0, 1.0]
    assert_close(zero.frame, dense.frame)


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 1, 20, 33), (3, 24, 17), (1, 1, 2, 2)])
def test_interpolate_any_size_grey_rgb(model, shape):
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(shape, generator=g), torch.rand(shape, generator=g)
    out = interpolate(a, b, model=model)
    assert out.shape == a.shape and out.dtype == a.dtype
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    u8 = interpolate((a * 255).to(torch.uint8), (b * 255).to(torch.uint8), 0.25, model=model)
    assert u8.dtype == torch.uint8 and u8.shape == a.shape


def test_interpolate_details_and_batch_consistency(model):
    i0, i1, _ = _moving_pair(64, 80, 3, 6)
    both = interpolate(torch.cat([i0, i1]), torch.cat([i1, i0]), torch.tensor([0.5, 0.5]), model=model,
                       details=True)
    one = interpolate(i0, i1, model=model)
    assert_close(both.frame[:1], one, torch.float16)  # DIS per sample; batched convs sum in another order
    assert all(float(r) in RATIOS for r in both.ratio)
    assert len(both.densities) == 2 and all(0 <= float(d.min()) and float(d.max()) <= 1 for d in both.densities)
    dense = interpolate(i0, i1, ratio="dense", model=model, details=True)
    assert float(dense.ratio[0]) == 0 and [float(d[0]) for d in dense.densities] == [1.0, 1.0]


def test_interpolate_beats_averaging_on_known_motion(model):
    i0, i1, mid = _moving_pair(96, 128, 3, 8, seed=3)
    out = interpolate(i0, i1, model=model)
    avg = (i0 + i1) / 2

    def psnr(x):
        return float(-10 * torch.log10(F.mse_loss(x[..., 8:-8, 8:-8], mid[..., 8:-8, 8:-8])))

    assert psnr(out) > psnr(avg) + 6, (psnr(out), psnr(avg))


@pytest.mark.parametrize(
    "a,b,kwargs,err,match",
    [
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), {}, ValueError, "same shape"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8).double(), {}, TypeError, "same dtype"),
        (torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8), {}, ValueError, "1 \\(grey\\) or 3"),
        (torch.rand(8, 8), torch.rand(8, 8), {}, ValueError, "Tensor\\[N, C, H, W\\]"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int32), torch.zeros(1, 3, 8, 8, dtype=torch.int32), {}, TypeError,
         "uint8 or floating"),
        (torch.full((1, 3, 8, 8), float("nan")), torch.rand(1, 3, 8, 8), {}, ValueError, "NaN"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"t": 1.0}, ValueError, "strictly between"),
        (torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), {"t": torch.ones(3) / 2}, ValueError, "Tensor\\[2\\]"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"ratio": "fast"}, ValueError, "'dynamic', 'dense'"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"ratio": -0.1}, ValueError, "float >= 0"),
        ("frame", torch.rand(1, 3, 8, 8), {}, TypeError, "frame0 must be a torch.Tensor"),
    ],
)
def test_interpolate_bad_inputs(model, a, b, kwargs, err, match):
    with pytest.raises(err, match=match):
        interpolate(a, b, model=model, **kwargs)


def test_weights_pinned(monkeypatch, tmp_path):
    name = next(iter(vfi_weights.WEIGHTS))
    raw = vfi_weights.weights_file(name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == vfi_weights.WEIGHTS[name]
    assert (vfi_weights.weights_file(name).with_suffix(".json")).is_file()
    bad = tmp_path / f"{name}.pt"
    bad.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    monkeypatch.setattr(vfi_weights, "_DIR", tmp_path)
    vfi_weights.load_model.cache_clear()
    try:
        with pytest.raises(ValueError, match="does not match the pinned"):
            vfi_weights.load_model(name)
        with pytest.raises(FileNotFoundError, match="no shipped"):
            vfi_weights.load_model("nope")
    finally:
        vfi_weights.load_model.cache_clear()


def test_cuda_matches_cpu(model, device):
    if device == "cpu":
        pytest.skip("the CPU is the reference here")
    i0, i1, _ = _moving_pair(48, 64, 3, 4)
    cpu = interpolate(i0, i1, ratio="dense", model=model)
    gpu_model = WaveletVFI(model.cfg)
    gpu_model.load_state_dict(model.state_dict())
    gpu = interpolate(i0.to(device), i1.to(device), ratio="dense", model=gpu_model.eval().to(device))
    assert gpu.device.type == "cuda"
    assert float((gpu.cpu() - cpu).abs().max()) < 1e-3
    dyn = interpolate(i0.to(device), i1.to(device), model=gpu_model, details=True)
    assert dyn.frame.device.type == "cuda" and len(dyn.densities) == 2


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_warp_mode_is_the_frame_warps_interpolation(mode):
    # Untrained, the residual heads are zero: the output is the t-weighted blend of the two warps of that mode.
    from pywlc.ops import warp
    from pywlc.vfi.model import VFIConfig

    torch.manual_seed(0)
    m = WaveletVFI(VFIConfig(warp_mode=mode)).eval()
    i0, i1 = torch.rand(2, 1, 3, 32, 48).unbind(0)
    f01, f10 = torch.randn(2, 1, 2, 32, 48).mul(2).unbind(0)
    t = torch.tensor([0.5])
    with torch.no_grad():
        out, _, _ = m(i0, i1, f01, f10, t, "dense")
    ft0, ft1 = intermediate_flows(f01, f10, t)
    want = (warp(i0, ft0, mode=mode) + warp(i1, ft1, mode=mode)) / 2
    assert float((out.frame - want).abs().max()) < 1e-5
    # weights records without the field (vfi-v1, vfi-v2) run bilinear, as they were trained
    assert load_model("vfi-v1").cfg.warp_mode == "bilinear"


def test_context_pyramid_reaches_every_level():
    # The warped context is an input of all three synthesis levels: perturbing one frame's context features at
    # one scale changes the output (through that level), and a model without context has no encoder.
    assert WaveletVFI().context is None and "context.convs.0.weight" not in WaveletVFI().state_dict()
    m, i0, i1, f01, f10, t = _random_model_and_pair(2, 4, 32, 48, 2)
    ft0, ft1 = intermediate_flows(f01, f10, t)
    ctx = m.warped_context(i0, i1, ft0, ft1)
    assert [tuple(c.shape) for c in ctx] == [(1, 8, 16, 24), (1, 8, 8, 12), (1, 8, 4, 6)]
    with torch.no_grad():
        base, _, _ = m(i0, i1, f01, f10, t, "dense")
        for scale in range(3):
            orig = m.warped_context

            def bumped(*a, scale=scale, orig=orig):
                c = orig(*a)
                c[scale] = c[scale] + 1.0
                return c

            m.warped_context = bumped
            out, _, _ = m(i0, i1, f01, f10, t, "dense")
            m.warped_context = orig
            assert float((out.frame - base.frame).abs().max()) > 1e-4, scale
