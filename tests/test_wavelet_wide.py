"""The wide entropy model (a residual 3x3 layer per pass net) and the trainer's rescaling augmentation."""

from __future__ import annotations

import pytest
import torch

import pywlc.codecs.wavelet as W
from pywlc import fixed_point as fp
from pywlc.codecs.wavelet.entropy_model import SubbandEntropyModel, live_channels
from pywlc.codecs.wavelet.model import WaveletModel
from pywlc.train.wavelet import WaveletTrainConfig, _new_model, sample_batch


def _random(model: torch.nn.Module, seed: int, std: float = 0.05) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def test_zero_residual_is_the_narrow_model():
    narrow = _random(SubbandEntropyModel(8), 0)
    wide = SubbandEntropyModel(8, wide=True)
    missing, unexpected = wide.load_state_dict(narrow.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(("luma_wide.", "chroma_wide.")) for k in missing)
    x = torch.randn(2, 45, 5, 7)
    for g, k in ((0, 0), (1, 3)):
        xi = x[:, :18] if g == 0 else x
        assert torch.equal(wide.logscale(g, k, xi), narrow.logscale(g, k, xi))
        assert torch.equal(wide.exact_logscale(g, k, xi), narrow.exact_logscale(g, k, xi))
    # The narrow model's state -- and so the id its streams carry -- has no new entries.
    assert not any("wide" in k for k in narrow.state_dict())


def test_wide_layer_changes_the_output_and_exact_follows_float():
    wide = _random(SubbandEntropyModel(8, wide=True), 1, 0.1)
    x = torch.zeros(1, 18, 6, 6)
    live = live_channels(0, 2, False)  # what inputs() can set for pass 2 (the exact path skips the rest)
    x[:, live] = torch.randn(1, len(live), 6, 6)
    narrow = SubbandEntropyModel(8)
    narrow.load_state_dict({k: v for k, v in wide.state_dict().items() if "wide" not in k})
    assert not torch.allclose(wide.logscale(0, 2, x), narrow.logscale(0, 2, x))
    f = wide.logscale(0, 2, x).flatten(1).double()
    e = wide.exact_logscale(0, 2, x).flatten(1)
    assert (f - e).abs().max() < 5e-5  # fixed point: activations on the 2^-16 grid (measured <= 4.6e-6)


def test_wide_codec_round_trip_and_exactness():
    model = WaveletModel(_random(SubbandEntropyModel(8, wide=True), 2), None, "wide")
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (3, 37, 50), generator=g, dtype=torch.uint8)
    assert torch.equal(W.decode(W.encode(x, lossless=True, model=model), model=model), x)
    d = W.encode(x, quality=40, model=model)
    saved = fp.conv_impl
    try:  # another summation order in every conv (the residual one too): the same bytes
        fp.conv_impl = fp.scrambled_conv2d
        assert W.encode(x, quality=40, model=model) == d
    finally:
        fp.conv_impl = saved
    assert W.decode(d, model=model).shape == x.shape
    # Saved and loaded weights keep the layer (and the id).
    again = WaveletModel.from_state(model.state())
    assert again.entropy.wide and again.model_id == model.model_id


def test_trainer_init_from_narrow_and_refuses_foreign(tmp_path):
    narrow = _random(SubbandEntropyModel(8), 4)
    ckpt = tmp_path / "narrow.pt"
    torch.save({"model": narrow.state_dict(), "config": {"stage": "entropy"}}, ckpt)
    cfg = WaveletTrainConfig(data="", out="", hidden=8, wide=True, init=str(ckpt))
    m, _ = _new_model(cfg)
    assert m.wide and torch.equal(m.luma[0][0].weight, narrow.luma[0][0].weight)
    assert all(float(p.detach().abs().max()) == 0 for p in m.luma_wide.parameters())
    torch.save({"model": SubbandEntropyModel(16).state_dict(), "config": {"stage": "entropy"}}, ckpt)
    with pytest.raises(RuntimeError, match="size mismatch"):  # weights of another hidden size
        _new_model(cfg)
    torch.save({"model": {**narrow.state_dict(), "extra.weight": torch.zeros(1)}, "config": {"stage": "entropy"}},
               ckpt)
    with pytest.raises(ValueError, match="not weights of this network"):
        _new_model(cfg)


def test_rescale_augmentation_sizes_and_determinism():
    g = torch.Generator().manual_seed(5)
    pics = [torch.randint(0, 256, (3, 300, 500), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (3, 900, 700), generator=g, dtype=torch.uint8)]
    cfg = WaveletTrainConfig(data="", out="", batch=6, patch=64, rescale_max=4.0)
    a, b = sample_batch(pics, cfg, 7), sample_batch(pics, cfg, 7)
    assert a["x"].shape == (6, 3, 64, 64) and a["x"].dtype == torch.uint8 and torch.equal(a["x"], b["x"])
    plain = WaveletTrainConfig(data="", out="", batch=6, patch=64)
    # Downscaled crops are smoother than plain ones (the antialiasing filter): a weaker horizontal gradient on noise.
    grad = [float((s["x"].float().diff(dim=-1)).abs().mean()) for s in (a, sample_batch(pics, plain, 7))]
    assert grad[0] < grad[1]
