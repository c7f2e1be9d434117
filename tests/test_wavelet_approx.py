"""The approximation context of the wavelet entropy model: exact constants, the synthesis of A_j, its features
(integers, from what a decoder has), the 1x1 side layers (zero: the base model), round trips and training."""

from __future__ import annotations

import math

import pytest
import torch

import pywlc.codecs.wavelet as W
from pywlc import fixed_point as fp
from pywlc.bitstream import decode_container
from pywlc.codecs.wavelet import approx as A
from pywlc.codecs.wavelet import context as ctx
from pywlc.codecs.wavelet import transform as T
from pywlc.codecs.wavelet.coder import pass_indices
from pywlc.codecs.wavelet.entropy_model import SubbandEntropyModel
from pywlc.codecs.wavelet.lifting import LiftingPredictor
from pywlc.codecs.wavelet.model import WaveletModel
from pywlc.codecs.wavelet.pyramid import dequantize_pyramid, model_bits, quantize_pyramid
from pywlc.train.wavelet import WaveletTrainConfig, _new_model, _param_groups


def _picture(shape=(2, 3, 45, 70), seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    smooth = (128 + 60 * torch.sin(xx / 7.0) * torch.cos(yy / 5.0)).expand(n, c, h, w)
    return (smooth + 20 * torch.randn(shape, generator=g)).clamp(0, 255).round().byte()


def _models(seed: int = 0, lifting: bool = False) -> tuple[WaveletModel, WaveletModel]:
    """A small random model and the same with approximation layers (random, not zero)."""
    g = torch.Generator().manual_seed(seed)
    base = SubbandEntropyModel(8, mean_hidden=8)
    for p in base.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * 0.05)
    ext = SubbandEntropyModel(8, mean_hidden=8, approx=True)
    missing, unexpected = ext.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all("approx" in k for k in missing)
    for name, p in ext.named_parameters():
        if "approx" in name:
            p.data.copy_(torch.randn(p.shape, generator=g) * 0.05)
    lift = None
    if lifting:
        lift = LiftingPredictor(8)
        for p in lift.parameters():
            p.data.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return WaveletModel(base, None, "base", lift), WaveletModel(ext, None, "approx", lift)


def test_exact_constants_match_the_transform():
    for levels in range(0, 9):
        ll, per = T.band_norms(levels)
        e_ll, e_per = A.exact_norms(levels)
        assert abs(ll - e_ll) < 1e-13 and len(per) == len(e_per)
        for a, b in zip(per, e_per, strict=True):
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-13
    # the decimal table equals this machine's libm pow
    codes = range(T.STEP_CODE_MIN, T.STEP_CODE_MAX + 1)
    assert all(math.ldexp(2.0 ** ((c % 16) / 16), c // 16) == T.step_of_code(c) for c in codes)
    with pytest.raises(ValueError, match="levels"):
        A.exact_norms(9)


@pytest.mark.parametrize("shape", [(2, 3, 45, 70), (1, 1, 33, 20), (1, 3, 9, 5)])
def test_approximation_is_the_synthesis_of_what_is_decoded(shape):
    x = _picture(shape)
    p = T.forward(x, True)
    qp = quantize_pyramid(p, 1.0, True)
    for j in range(len(qp.levels)):  # lossless: the int 5/3 LL of level j, bitwise
        want = T.synthesis(T.Pyramid(p.ll, p.details[:j]), True)
        assert torch.equal(A.approximation(qp, j, 0, True), want.double())
    code = 40
    p = T.forward(x, False)
    qp = quantize_pyramid(p, T.step_of_code(code), False)
    deq = dequantize_pyramid(qp, T.step_of_code(code), torch.full((shape[0], p.levels), A.DELTA, dtype=torch.float64))
    ll_norm, norms = T.band_norms(p.levels)
    step = T.step_of_code(code)
    ll64 = qp.ll.double() * (step / ll_norm)
    levels64 = [tuple(A._dequantize(b, step / norms[i][o]) for o, b in enumerate(ctx.unpad_level(qp.levels[i],
                                                                                                 qp.shapes[i])))
                for i in range(len(qp.levels))]
    for j in range(len(qp.levels)):  # lossy: the 9/7 synthesis of the dequantised levels < j
        want = T.synthesis(T.Pyramid(deq.ll.double(), [tuple(b.double() for b in d) for d in deq.details[:j]]), False)
        got = A.approximation(qp, j, code, False)
        assert got.dtype == torch.float64 and got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-3)  # deq is float32 there
        # the compiled float64 kernels on the same float64 dequantisation: equal up to rounding
        want64 = T.synthesis(T.Pyramid(ll64, levels64[:j]), False)
        assert torch.allclose(got, want64, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("lossless", [False, True])
def test_features_are_integers_from_coarser_levels_only(lossless):
    x = _picture()
    p = T.forward(x, lossless)
    code = 0 if lossless else 30
    qp = quantize_pyramid(p, 1.0 if lossless else T.step_of_code(code), lossless)
    for j in range(len(qp.levels)):
        s, m = A.approx_features(qp, j, code, lossless)
        hq, wq = qp.grid(j)
        assert s.shape == (2, 3, 16, hq, wq) and m.shape == (2, 3, 32, hq, wq)
        assert torch.equal(s, fp.on_grid(s)) and torch.equal(m, fp.on_grid(m))  # dyadic: the nets' exact inputs
        assert (s >= 0).all() and s.abs().sum() > 0
        saved = [lv.clone() for lv in qp.levels[j:]]
        for lv in qp.levels[j:]:  # what is not decoded yet must not matter
            lv.random_(-50, 50)
        s2, m2 = A.approx_features(qp, j, code, lossless)
        assert torch.equal(s, s2) and torch.equal(m, m2)
        for lv, old in zip(qp.levels[j:], saved, strict=True):
            lv.copy_(old)
        one = A.approx_features(qp.select(1), j, code, lossless)  # per picture = in a batch
        assert torch.equal(one[0], s[1:]) and torch.equal(one[1], m[1:])


def test_features_do_not_depend_on_threads():
    x = _picture((1, 3, 64, 96))
    qp = quantize_pyramid(T.forward(x, False), T.step_of_code(20), False)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = [A.approx_features(qp, j, 20, False) for j in range(len(qp.levels))]
        torch.set_num_threads(2)
        two = [A.approx_features(qp, j, 20, False) for j in range(len(qp.levels))]
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, two, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_zero_side_layers_are_the_base_model():
    base, ext = _models(1)
    for name, p in ext.entropy.named_parameters():  # side layers at zero (before any use, so nothing is cached)
        if "approx" in name:
            p.data.zero_()
    x = _picture((1, 3, 40, 56))
    for lossless, q in ((True, None), (False, 35)):
        a = W.encode(x[0], lossless=True, model=base) if lossless else W.encode(x[0], quality=q, model=base)
        b = W.encode(x[0], lossless=True, model=ext) if lossless else W.encode(x[0], quality=q, model=ext)
        la, lb = decode_container(a).layers, decode_container(b).layers
        assert [layer.payload for layer in la] == [layer.payload for layer in lb]
    p = T.forward(x, False)
    qp = quantize_pyramid(p, T.step_of_code(torch.tensor([30])), False)
    with torch.no_grad():
        assert torch.allclose(model_bits(base.entropy, qp, torch.tensor([30]), False, T.XI_LOSSY),
                              model_bits(ext.entropy, qp, torch.tensor([30]), False, T.XI_LOSSY))


@pytest.mark.parametrize("lifting", [False, True])
def test_round_trips_with_an_approx_model(lifting):
    _, m = _models(2, lifting)
    for shape in ((3, 37, 51), (1, 20, 33), (3, 1, 1), (3, 8, 3)):
        x = _picture((1, *shape), seed=3)[0]
        d = W.encode(x, lossless=True, model=m)
        assert torch.equal(W.decode(d, model=m), x)
    x = _picture((1, 3, 48, 64), seed=4)[0]
    threads = torch.get_num_threads()
    for rdoq in (False, True):
        try:
            torch.set_num_threads(1)
            d1 = W.encode(x, quality=40, model=m, rdoq=rdoq, lifting=lifting)
            y1 = W.decode(d1, model=m)
            torch.set_num_threads(2)
            d2 = W.encode(x, quality=40, model=m, rdoq=rdoq, lifting=lifting)
            y2 = W.decode(d1, model=m)
        finally:
            torch.set_num_threads(threads)
        assert d1 == d2 and torch.equal(y1, y2)
        assert 10 * torch.log10(255**2 / ((y1.double() - x.double()) ** 2).mean()) > 25
        half = W.decode(W.extract(d1, resolution=2), model=m)
        assert half.shape == (3, 24, 32)
    saved = fp.conv_impl
    try:  # another summation order in every conv: the same bytes
        fp.conv_impl = fp.scrambled_conv2d
        assert W.encode(x, quality=40, model=m, rdoq=True, lifting=lifting) == d2
    finally:
        fp.conv_impl = saved


def test_level_walk_without_a_context_gives_the_same_stream():
    """A caller of the level walk without the stream's ApproxContext (e.g. the layered codec's base layer) gets
    the same features, synthesised from scratch."""
    from pywlc.codecs.wavelet.codec import _walk_level
    from pywlc.codecs.wavelet.coder import LayerEncoder

    _, m = _models(6)
    x = _picture((1, 3, 40, 52), seed=7)
    qp = quantize_pyramid(T.forward(x, True), 1.0, True)
    ctx_ = A.ApproxContext(qp, 0, True)
    with_ctx, without = LayerEncoder(), LayerEncoder()
    for j in range(len(qp.levels)):
        _walk_level(m, qp, j, 0, True, T.XI_LOSSLESS, enc=with_ctx, approx=ctx_)
        _walk_level(m, qp, j, 0, True, T.XI_LOSSLESS, enc=without)
    assert with_ctx.finish() == without.finish()


def test_approx_model_needs_the_features():
    _, m = _models(0)
    qp = quantize_pyramid(T.forward(_picture((1, 3, 32, 32)), True), 1.0, True)
    with pytest.raises(ValueError, match="approximation"):
        pass_indices(m.entropy, qp, 0, 0, 0, 0, True)
    x = torch.zeros(1, 18, 2, 2)
    with pytest.raises(ValueError, match="approximation"):
        m.entropy.logscale(0, 0, x)


def test_state_round_trip_and_training_groups(tmp_path):
    _, m = _models(5)
    back = WaveletModel.from_state(m.state(), "back")
    assert back.entropy.approx and back.model_id == m.model_id
    base = SubbandEntropyModel(8, mean_hidden=8)
    ckpt = tmp_path / "base.pt"
    torch.save({"config": {"stage": "entropy"}, "model": base.state_dict()}, ckpt)
    cfg = WaveletTrainConfig(data="", out="", hidden=8, mean_hidden=8, approx=True, init=str(ckpt),
                             init_lr_factor=0.2)
    model, had = _new_model(cfg)
    assert model.approx and all(not p.any() for n, p in model.named_parameters() if "approx" in n)
    old, new = _param_groups(model, cfg, had)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("approx" in names[id(p)] for p in new["params"]) and len(new["params"]) == 16
    assert old["lr_factor"] == 0.2 and new["lr_factor"] == 1.0
