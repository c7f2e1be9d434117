"""The lossless mean of the wavelet entropy model: signed features, centred tables, exact means, round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pywlc.codecs.wavelet as W
from pywlc import BitstreamError
from pywlc import fixed_point as fp
from pywlc.codecs.wavelet import context as ctx
from pywlc.codecs.wavelet import transform as T
from pywlc.codecs.wavelet.entropy_model import (
    LOSSY_MEAN_LIMIT,
    MEAN_LIMIT,
    MEAN_STEPS,
    N_SCALES,
    SubbandEntropyModel,
    laplace_nll_bits,
    live_channels,
    mean_split,
)
from pywlc.codecs.wavelet.model import WaveletModel
from pywlc.codecs.wavelet.pyramid import model_bits, quantize_pyramid
from pywlc.codecs.wavelet.tables import N_KEYS, key_scale_and_centre, table, table_key
from pywlc.train.wavelet import WaveletTrainConfig, _new_model, _param_groups


def _random(model: torch.nn.Module, seed: int, std: float = 0.05) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def _mean_model(seed: int = 0, hidden: int = 8) -> WaveletModel:
    ent = _random(SubbandEntropyModel(hidden, mean_hidden=hidden), seed)
    for net in list(ent.luma_mean) + list(ent.chroma_mean):  # means of a few units, both signs
        torch.nn.init.normal_(net[-1].weight, std=0.5)
        torch.nn.init.normal_(net[-1].bias, std=2.0)
    return WaveletModel(ent, None, "mean-test")


def test_signed_features_exact_and_odd():
    q = torch.tensor([-300, -5, -1, 0, 1, 5, 300])
    f = ctx.signed_features(q, torch.float64)
    assert f.shape == (2, 7)
    assert torch.equal(f[0], -f[0].flip(0)) and torch.equal(f[1], -f[1].flip(0))
    assert f[0, 3] == 0 and f[0, 4] == 1.0 and f[1, 0] == -4.0 and f[1, 2] == -1 / 64
    assert torch.equal(ctx.signed_features(q, torch.float32).double(), f)  # dyadic: exact in float32


@pytest.mark.parametrize("offset", [-4, -3, -1, 0, 1, 3])
@pytest.mark.parametrize("index", [0, 20, 50, 96])
def test_centred_tables_match_the_laplace(index, offset):
    key = table_key(torch.tensor(index), torch.tensor(offset))
    t = table(int(key), 0.5)
    assert t.probs.min() > 0 and abs(t.probs.sum() - 1) < 1e-9
    log2b = torch.tensor(-5.0 + index / 6, dtype=torch.float64)
    mu = torch.tensor(offset / MEAN_STEPS, dtype=torch.float64)
    ks = torch.arange(-min(t.m, 40), min(t.m, 40) + 1)
    want = torch.exp2(-laplace_nll_bits(ks, log2b, 0.5, mu))
    got = torch.from_numpy(t.probs[t.m + ks.numpy()])
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("offset", [-32, -9, 1, 17, 32])
@pytest.mark.parametrize("index", [0, 33, 96])
def test_dead_zone_tables_with_a_centre(index, offset):
    key = table_key(torch.tensor(index), torch.tensor(offset))
    assert key_scale_and_centre(key) == (index, offset / MEAN_STEPS)
    t = table(int(key), T.XI_LOSSY)
    assert t.probs.min() > 0 and abs(t.probs.sum() - 1) < 1e-9
    log2b = torch.tensor(-5.0 + index / 6, dtype=torch.float64)
    ks = torch.arange(-min(t.m, 40), min(t.m, 40) + 1)
    want = torch.exp2(-laplace_nll_bits(ks, log2b, T.XI_LOSSY, torch.tensor(offset / MEAN_STEPS).double()))
    assert torch.allclose(torch.from_numpy(t.probs[t.m + ks.numpy()]), want, rtol=1e-9, atol=1e-15)


def test_table_keys_bounded():
    assert int(table_key(torch.tensor(N_SCALES - 1), torch.tensor(-LOSSY_MEAN_LIMIT * MEAN_STEPS))) == N_KEYS - 1
    with pytest.raises(ValueError, match="table key"):
        table(N_KEYS, 0.5)
    with pytest.raises(ValueError, match="table key"):
        table(-1, 0.2)


def test_centred_bits_reduce_to_zero_mean_and_are_finite():
    q = torch.arange(-50, 51).double()
    for lb in (-5.0, -1.0, 0.0, 3.0, 11.0):
        log2b = torch.full_like(q, lb)
        a = laplace_nll_bits(q, log2b, 0.5)
        b = laplace_nll_bits(q, log2b, 0.5, torch.zeros_like(q))
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)
    mu = torch.linspace(-60, 60, 101, dtype=torch.float64, requires_grad=True)
    bits = laplace_nll_bits(q, torch.full_like(q, -5.0), 0.5, mu)
    bits.sum().backward()
    assert torch.isfinite(bits).all() and torch.isfinite(mu.grad).all()
    for lb in (-3.0, 0.0, 4.0):  # the dead-zone bins too
        log2b = torch.full_like(q, lb)
        a = laplace_nll_bits(q, log2b, T.XI_LOSSY)
        b = laplace_nll_bits(q, log2b, T.XI_LOSSY, torch.zeros_like(q))
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_mean_split():
    mu = torch.tensor([0.0, 0.06, 0.0626, 0.49, 0.5, -0.5, -0.6, 7.3, -7.3, 1e9, -1e9], dtype=torch.float64)
    m, off = mean_split(mu, True)
    assert ((off >= -MEAN_STEPS // 2) & (off < MEAN_STEPS // 2)).all()
    mu8 = torch.round(mu * 8).clamp(-MEAN_LIMIT * 8, MEAN_LIMIT * 8)
    assert torch.equal((m * MEAN_STEPS + off).double(), mu8)
    assert m.tolist()[:7] == [0, 0, 0, 1, 1, 0, -1] and int(m[-2]) == MEAN_LIMIT
    m, off = mean_split(mu, False)  # lossy: no shift, the clamped centre is the table's
    assert not m.any() and off.tolist()[:9] == [0, 0, 1, 4, 4, -4, -5, 32, -32] and int(off[-1]) == -32


def test_zero_init_mean_is_the_scale_model(tmp_path):
    base = _random(SubbandEntropyModel(8), 1)
    ckpt = tmp_path / "base.pt"
    torch.save({"model": base.state_dict(), "config": {"stage": "entropy"}}, ckpt)
    cfg = WaveletTrainConfig(data="", out="", hidden=8, mean_hidden=4, init=str(ckpt), init_lr_factor=0.25)
    m, had = _new_model(cfg)
    assert m.mean and all(float(net[-1].weight.detach().abs().max()) == 0 for net in m.luma_mean)
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, 256, (2, 3, 40, 48), generator=g, dtype=torch.uint8)
    qp = quantize_pyramid(T.forward(x, True), 1.0, True)
    codes = torch.zeros(2, dtype=torch.long)
    a = model_bits(base, qp, codes, True, T.XI_LOSSLESS)
    b = model_bits(m, qp, codes, True, T.XI_LOSSLESS)
    assert torch.allclose(a, b, rtol=1e-5)
    groups = _param_groups(m, cfg, had)
    assert [g["lr_factor"] for g in groups] == [0.25, 1.0]
    n_new = sum(p.numel() for p in groups[1]["params"])
    assert n_new == sum(p.numel() for n, p in m.named_parameters() if "_mean." in n)


def test_mean_lowers_bits_when_it_predicts():
    """A mean net that predicts a coefficient from its decoded neighbour saves bits on data built that way."""
    g = torch.Generator().manual_seed(5)
    base = torch.randint(-3, 4, (1, 1, 64, 64), generator=g).double() * 40
    x = (128 + base).clamp(0, 255).byte()  # steps of 40 grey levels: detail coefficients with strong signs
    x = torch.repeat_interleave(torch.repeat_interleave(x, 2, -1), 2, -2)[..., :64, :64]
    ent = SubbandEntropyModel(8, mean_hidden=8)
    qp = quantize_pyramid(T.forward(x, True), 1.0, True)
    codes = torch.zeros(1, dtype=torch.long)
    before = float(model_bits(ent, qp, codes, True, T.XI_LOSSLESS).detach())
    opt = torch.optim.Adam(ent.parameters(), lr=3e-3)
    for _ in range(60):
        loss = model_bits(ent, qp, codes, True, T.XI_LOSSLESS).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.9 * before


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 17, 9), (1, 33, 20), (3, 40, 64)])
def test_lossless_round_trip_with_means(shape):
    model = _mean_model(3)
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    assert torch.equal(W.decode(W.encode(x, lossless=True, model=model), model=model), x)


def test_means_are_exact_and_deterministic():
    model = _mean_model(4)
    g = torch.Generator().manual_seed(6)
    x = torch.randint(0, 256, (3, 45, 38), generator=g, dtype=torch.uint8)
    d = W.encode(x, lossless=True, model=model)
    saved = fp.conv_impl
    try:  # another summation order in every conv: the same means, so the same bytes
        fp.conv_impl = fp.scrambled_conv2d
        assert W.encode(x, lossless=True, model=model) == d
        assert torch.equal(W.decode(d, model=model), x)
    finally:
        fp.conv_impl = saved
    # The mean nets are part of the model id: a decoder without them refuses the stream.
    plain = WaveletModel(SubbandEntropyModel(8), None, "plain")
    plain.entropy.load_state_dict({k: v for k, v in model.entropy.state_dict().items() if "_mean." not in k})
    plain = WaveletModel(plain.entropy, None, "plain")
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        W.decode(d, model=plain)
    again = WaveletModel.from_state(model.state())
    assert again.entropy.mean and again.model_id == model.model_id


def test_zero_means_code_as_the_plain_model():
    """Mean nets that output 0 pick the zero-mean tables: the plain model's symbols, tables and pixels."""
    model = _mean_model(7)
    for net in list(model.entropy.luma_mean) + list(model.entropy.chroma_mean):
        torch.nn.init.zeros_(net[-1].weight)
        torch.nn.init.zeros_(net[-1].bias)
    model = WaveletModel(model.entropy, None, "zero-mean")
    plain_ent = SubbandEntropyModel(8)
    plain_ent.load_state_dict({k: v for k, v in model.entropy.state_dict().items() if "_mean." not in k})
    plain = WaveletModel(plain_ent, None, "plain")
    g = torch.Generator().manual_seed(8)
    x = torch.randint(0, 256, (3, 30, 41), generator=g, dtype=torch.uint8)
    for kw in ({"quality": 40}, {"quality": 40, "rdoq": False}, {"lossless": True}):
        a, b = W.encode(x, model=model, **kw), W.encode(x, model=plain, **kw)
        assert len(a) == len(b)  # only the model id in the header differs
        assert torch.equal(W.decode(a, model=model), W.decode(b, model=plain))


@pytest.mark.parametrize("kw", [{"quality": 25}, {"quality": 60, "rdoq": False}, {"quality": 45, "lifting": False}])
def test_lossy_with_means_round_trip_and_exact(kw):
    model = _mean_model(11)
    g = torch.Generator().manual_seed(12)
    x = torch.randint(0, 256, (3, 37, 29), generator=g, dtype=torch.uint8)
    d = W.encode(x, model=model, **kw)
    y = W.decode(d, model=model)
    saved = fp.conv_impl
    try:
        fp.conv_impl = fp.scrambled_conv2d
        assert W.encode(x, model=model, **kw) == d
        assert torch.equal(W.decode(d, model=model), y)
    finally:
        fp.conv_impl = saved


def test_corrupt_mean_streams_raise():
    model = _mean_model(9)
    g = torch.Generator().manual_seed(10)
    x = torch.randint(0, 256, (3, 24, 31), generator=g, dtype=torch.uint8)
    d = bytearray(W.encode(x, lossless=True, model=model))
    rng = np.random.default_rng(0)
    for _ in range(40):
        e = bytearray(d)
        for _ in range(3):
            e[int(rng.integers(len(e) // 2, len(e)))] ^= 1 << int(rng.integers(8))
        try:
            y = W.decode(bytes(e), model=model)
        except BitstreamError:
            continue
        assert y.shape == x.shape and y.dtype == torch.uint8
    for cut in (len(d) - 1, len(d) // 2, 10):
        with pytest.raises(BitstreamError):
            W.decode(bytes(d[:cut]), model=model)


@pytest.mark.parametrize("signed", [False, True])
def test_live_channels_are_the_ones_inputs_can_set(signed):
    """The exact path skips every other input channel: check that the builders leave exactly those at zero."""
    ent = SubbandEntropyModel(8, mean_hidden=8)
    g = torch.Generator().manual_seed(13)
    cur = torch.randint(1, 50, (1, 3, 3, 4, 5, 6), generator=g)
    parent = torch.randint(1, 50, (1, 3, 3, 5, 6), generator=g)
    cond = torch.ones(1, 3, 5, 6)
    for grp, cs in ((0, slice(0, 1)), (1, slice(1, 3))):
        for k in range(4):
            luma = cur[:, :1] if grp else None
            if signed:
                x = ent.mean_inputs(cur[:, cs], parent[:, cs], luma, k, cond)
            else:
                x = ent.inputs(ctx.magnitude(cur[:, cs]), ctx.magnitude(parent[:, cs]),
                               None if luma is None else ctx.magnitude(luma), k, cond)
            nonzero = (x != 0).flatten(2).any(2)[0].nonzero().flatten()
            assert torch.equal(nonzero, live_channels(grp, k, signed))
