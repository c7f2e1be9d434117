"""Exact entropy path (pywlc.models.exact): order-independent convs, libm-free tables, device-independent decoding.

A CPU-only machine cannot run a GPU, but it can run the same integer arithmetic in other summation orders
(``scrambled_conv2d``: permuted, chunked reductions), other thread counts and other batch compositions: the bits
must not change.  The CUDA test at the end does the real cross-device round trip where a GPU exists.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pywlc import _fixed_point_tables as tables
from pywlc import fixed_point
from pywlc.models import ChannelSlices, exact, haar_merge, haar_split


def bits(t: Tensor) -> Tensor:
    """The raw bit patterns (signed zeros and NaN payloads included) for bitwise comparisons."""
    return t.contiguous().view(torch.int64 if t.dtype == torch.float64 else torch.int32)


def same_bits(a: Tensor, b: Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a.cpu()), bits(b.cpu()))


@contextmanager
def threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@pytest.fixture
def scrambled(monkeypatch):
    """Route every exact conv through the permuted/chunked reduction (seeded per call)."""
    calls = [0]

    def conv(a, w, stride, padding):
        calls[0] += 1
        return exact.scrambled_conv2d(a, w, stride, padding, seed=calls[0])

    monkeypatch.setattr(fixed_point, "conv_impl", conv)
    return calls


@pytest.fixture(scope="module")
def models(tiny_models) -> dict[str, nn.Module]:
    return tiny_models


# --- convolutions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (1, 0)])
def test_exact_conv_is_exact_and_order_independent(monkeypatch, stride, padding):
    torch.manual_seed(0)
    conv = nn.Conv2d(20, 12, 3, stride=stride, padding=padding)
    with torch.no_grad():
        conv.weight.mul_(torch.logspace(-3, 1, 12)[:, None, None, None])  # channels of very different norms
        conv.bias.mul_(10)
    x = torch.randn(2, 20, 9, 11, dtype=torch.float64) * 50
    x[0, :, :2] = 4096.0 * torch.sign(torch.randn(20, 2, 11))  # at the clamp
    x[1, 0, 0, 0] = 1e6  # beyond it: clamped to 4096
    out = exact.exact_forward(conv, x)

    # The accumulator bound holds: |acc| < 2^52 for any input on the grid.
    w_q, b_q, scale = exact.quantize_weights(conv.weight, conv.bias, 2 ** (exact.FA + exact.RA))
    assert bool((w_q.abs().flatten(1).sum(1) * 2.0 ** (exact.FA + exact.RA) + b_q.abs() < 2.0**52).all())
    assert bool((w_q == w_q.round()).all()) and bool((b_q == b_q.round()).all())
    # It is the float64 conv of the dequantised operands, up to float64 rounding of that reference.
    a = exact.to_grid(x) * 2.0**-exact.FA
    ref = F.conv2d(a, w_q * (scale * 2.0**exact.FA)[:, None, None, None], b_q * scale, stride, padding)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # ... and close to the float layer (weights and activations rounded to ~2^-16 relative).
    inside = x.clamp(-4096, 4096)
    torch.testing.assert_close(out, conv.double()(inside), rtol=1e-3, atol=1e-3 * float(out.abs().max()))

    for seed in range(3):
        impl = lambda a, w, s, p, seed=seed: exact.scrambled_conv2d(a, w, s, p, seed)  # noqa: E731
        monkeypatch.setattr(fixed_point, "conv_impl", impl)
        assert same_bits(exact.exact_forward(conv, x), out)
    monkeypatch.setattr(fixed_point, "conv_impl", exact.default_conv2d)
    with threads(1):
        assert same_bits(exact.exact_forward(conv, x), out)
    assert same_bits(exact.exact_forward(conv, x[1:]), out[1:])  # batch composition


@pytest.mark.parametrize("n", [1, 3])  # one picture: the 1x1 layers' direct GEMM
@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (3, 1, 0), (1, 1, 0), (3, 2, 1), (5, 1, 2)])
def test_default_conv_is_float_conv_on_integers(k, stride, padding, n):
    torch.manual_seed(k + stride + padding)
    a = torch.round(torch.randn(n, 7, 10, 13, dtype=torch.float64) * 2**20)
    w = torch.round(torch.randn(5, 7, k, k, dtype=torch.float64) * 2**20)
    got = exact.default_conv2d(a, w, (stride, stride), (padding, padding))
    assert same_bits(got, F.conv2d(a, w, None, stride, padding))
    assert same_bits(got, exact.scrambled_conv2d(a, w, (stride, stride), (padding, padding)))


def test_weight_grid_does_not_depend_on_summation_order():
    # The grid search starts from a float sum; its exact checks make the answer independent of that sum's order.
    torch.manual_seed(2)
    w = torch.randn(8, 300, 3, 3) * torch.logspace(-4, 0, 8)[:, None, None, None]
    b = torch.randn(8)
    w_q, b_q, scale = exact.quantize_weights(w, b, 2 ** (exact.FA + exact.RA))
    perm = torch.randperm(300)
    w_q2, b_q2, scale2 = exact.quantize_weights(w[:, perm], b, 2 ** (exact.FA + exact.RA))
    assert same_bits(scale2, scale) and same_bits(b_q2, b_q) and same_bits(w_q2, w_q[:, perm])
    # The finest grid: one bit finer breaks the 2^52 bound (or the 24-bit cap) for every channel.
    finer = (w.double().flatten(1) * (2.0 / (scale * 2.0**exact.FA))[:, None]).round().abs().sum(1)
    peak_bits = (w_q.flatten(1).abs().amax(1) * 2).log2()
    assert bool(((finer * 2.0 ** (exact.FA + exact.RA) >= 2.0**52) | (peak_bits >= 24)).all())


def test_oversized_layer_is_refused():
    wide = nn.Conv2d(2048, 1, 3)  # 18432 equal weights: at most 24 - log2(18432) < 10 bits each
    with torch.no_grad():
        wide.weight.fill_(0.01)
    with pytest.raises(ValueError, match="cannot be evaluated exactly"):
        exact.exact_forward(wide, torch.zeros(1, 2048, 3, 3))
    with pytest.raises(ValueError, match="cannot be evaluated exactly"):
        exact.prepare(nn.Sequential(nn.Conv2d(4, 4, 1), wide))


def test_weight_cache_follows_parameter_updates():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 5, 5)
    before = exact.exact_forward(conv, x)
    with torch.no_grad():
        conv.weight.mul_(2)  # in place: same storage, new version
    torch.testing.assert_close(
        exact.exact_forward(conv, x), 2 * before - conv.bias.double()[:, None, None], atol=1e-4, rtol=0
    )


def test_unsupported_modules():
    with pytest.raises(TypeError, match="Linear"):
        exact.exact_forward(nn.Linear(3, 3), torch.zeros(1, 3))
    with pytest.raises(TypeError, match="approximate"):
        exact.exact_forward(nn.GELU(approximate="tanh"), torch.zeros(1, 3, 2, 2))
    with pytest.raises(TypeError, match="groups"):
        exact.exact_forward(nn.Conv2d(4, 4, 3, groups=2), torch.zeros(1, 4, 5, 5))


# --- tables, Haar -------------------------------------------------------------------------------------------


def test_tables_accuracy():
    x = torch.linspace(-20, 20, 400_001, dtype=torch.float64)
    x = torch.round(x * 2.0**exact.FA) * 2.0**-exact.FA  # grid points: the tables' inputs
    gelu = 0.5 * x * (1 + torch.special.erf(x / math.sqrt(2)))
    assert float((exact.exact_gelu(x) - gelu).abs().max()) <= 2e-6
    assert float((exact.exact_tanh(x) - torch.tanh(x)).abs().max()) <= 2e-6
    # The knots themselves are the true values to the 2^-40 grid.
    for knots, limit, fn in (
        (tables.gelu_knots(), 8, lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
        (tables.tanh_knots(), 12, math.tanh),
    ):
        step = 2.0**-tables.STEP_BITS
        err = max(abs(t * 2.0**-tables.KNOT_BITS - fn(-limit + i * step)) for i, t in list(enumerate(knots))[::97])
        assert err < 1e-12


def test_knots_are_recomputed_identically():
    # The cached knots are a pure function of the code: recomputing gives the same integers.
    assert tables.gelu_knots.__wrapped__() == tables.gelu_knots()
    assert tables.tanh_knots.__wrapped__() == tables.tanh_knots()
    assert len(tables.gelu_knots()) == 16 * 512 + 1 and len(tables.tanh_knots()) == 24 * 512 + 1


def test_tables_are_layout_and_thread_independent():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 33, 17, dtype=torch.float64) * 5
    for fn in (exact.exact_gelu, exact.exact_tanh):
        ref = fn(x)
        with threads(1):
            assert same_bits(fn(x), ref)
        assert same_bits(fn(x.transpose(-1, -2).contiguous()).transpose(-1, -2), ref)
        assert same_bits(fn(x.transpose(-1, -2)).transpose(-1, -2), ref)  # non-contiguous input
        assert same_bits(fn(x[2:3]), ref[2:3])


def test_haar_exact_matches_kernel():
    torch.manual_seed(0)
    x = exact.to_grid(torch.randn(2, 3, 8, 6) * 30) * 2.0**-exact.FA
    ll, hf = exact.haar_split_exact(x)
    ref_ll, ref_hf = haar_split(x)
    torch.testing.assert_close(ll, ref_ll, rtol=0, atol=1e-12)
    torch.testing.assert_close(hf, ref_hf, rtol=0, atol=1e-12)
    torch.testing.assert_close(exact.haar_merge_exact(ll, hf), haar_merge(ll, hf), rtol=0, atol=1e-12)
    assert torch.equal(exact.haar_merge_exact(ll, hf), x)  # exact on grid values


# --- entropy networks ----------------------------------------------------------------------------------------


def _entropy_nets(m: nn.Module) -> list[tuple[nn.Module, Tensor]]:
    """(network, a plausible input) for the hyper synthesis and the first and last slice transforms."""
    g = torch.Generator().manual_seed(1)
    z = torch.round(torch.randn(2, m.Z, 2, 3, generator=g) * 4)
    cases = [(m.h_mean_s, z), (m.h_scale_s, z)]
    for s in (mod for mod in m.modules() if isinstance(mod, ChannelSlices)):
        for i in (0, s.slices - 1):
            for net in (s.mean[i], s.scale[i], s.lrp[i]):
                cases.append((net, torch.randn(2, net[0].in_channels, 8, 12, generator=g) * 3))
    return cases


@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
def test_exact_networks_match_float_and_any_order(models, scrambled, name):
    m = models[name]
    cases = _entropy_nets(m)
    outs = []
    for net, x in cases:
        with torch.no_grad():
            ref = net(x)
        fixed_point.conv_impl = exact.default_conv2d  # the reference bits: the default conv
        out = exact.exact_forward(net, x)
        outs.append(out)
        torch.testing.assert_close(out.float(), ref, rtol=1e-3, atol=1e-3 * float(ref.abs().max()))
    # Scrambled reductions, one thread, other batch: the same bits.
    fixed_point.conv_impl = lambda a, w, s, p: exact.scrambled_conv2d(a, w, s, p, seed=7)
    with threads(1):
        for (net, x), out in zip(cases, outs, strict=True):
            assert same_bits(exact.exact_forward(net, x[1:]), out[1:]), type(net).__name__


# --- round trips -------------------------------------------------------------------------------------------


@contextmanager
def latents(monkeypatch):
    """Record the latents (incl. LRP) every ChannelSlices.compress / .decompress returns, in call order."""
    seen: list[Tensor] = []
    comp, decomp = ChannelSlices.compress, ChannelSlices.decompress

    def compress(self, *a, **k):
        strings, y_hat = comp(self, *a, **k)
        seen.append(y_hat)
        return strings, y_hat

    def decompress(self, *a, **k):
        y_hat = decomp(self, *a, **k)
        seen.append(y_hat)
        return y_hat

    with monkeypatch.context() as mp:
        mp.setattr(ChannelSlices, "compress", compress)
        mp.setattr(ChannelSlices, "decompress", decompress)
        yield seen


def _synthesis_input(m: nn.Module, run) -> Tensor:
    """The tensor g_s receives during ``run()``: y_hat as the decoder reconstructs it."""
    got = []
    handle = m.g_s.register_forward_pre_hook(lambda mod, args: got.append(args[0].clone()))
    try:
        out = run()
    finally:
        handle.remove()
    return got[0], out


@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
def test_round_trip_equals_eval_forward(models, name):
    m = models[name]
    torch.manual_seed(4)
    x = torch.rand(2, 3, 64, 70)
    with torch.no_grad():
        y_fwd, fwd = _synthesis_input(m, lambda: m(x))
    enc = m.compress(x)
    y_dec, dec = _synthesis_input(m, lambda: m.decompress(enc["strings"], enc["shape"]))
    assert same_bits(y_dec, y_fwd)
    assert same_bits(dec["x_hat"], fwd["x_hat"])


@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
def test_decoding_is_independent_of_conv_order_threads_and_batch(models, monkeypatch, name):
    m = models[name]
    torch.manual_seed(5)
    x = torch.rand(2, 3, 64, 64)
    with latents(monkeypatch) as enc_latents:
        enc = m.compress(x)  # default conv, 2 threads, batch of 2
    monkeypatch.setattr(fixed_point, "conv_impl", lambda a, w, s, p: exact.scrambled_conv2d(a, w, s, p, seed=11))
    with threads(1):
        for b in range(2):  # each image alone: other batch composition
            one = [[s[b]] for s in enc["strings"]]
            with latents(monkeypatch) as dec_latents:
                m.decompress(one, enc["shape"])
            assert len(dec_latents) == len(enc_latents)
            for e, d in zip(enc_latents, dec_latents, strict=True):
                assert same_bits(d, e[b : b + 1])


def test_training_mode_keeps_float_path(models):
    m = copy.deepcopy(models["WeConveneBaseline"]).train()
    x = torch.rand(1, 3, 64, 64)
    out = m(x)
    sum(v.log2().sum() for v in out["likelihoods"].values()).backward()
    assert m.y_slices.mean[0][0].weight.grad is not None  # gradients reach the slice transforms


# --- CUDA ----------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
def test_cpu_and_cuda_decode_each_others_streams(models, monkeypatch, name):
    # The entropy tables are computed once (on the CPU, by update()) and travel with the model's buffers:
    # recomputing them on the GPU would use CUDA's erfc, whose last bits may differ.
    cpu = models[name]
    gpu = copy.deepcopy(cpu).cuda()
    torch.manual_seed(6)
    x = torch.rand(2, 3, 64, 64)

    z = torch.round(torch.randn(2, cpu.Z, 2, 2) * 4)
    for net in (cpu.h_mean_s, cpu.h_scale_s):
        gnet = gpu.h_mean_s if net is cpu.h_mean_s else gpu.h_scale_s
        with torch.backends.cudnn.flags(enabled=True, benchmark=True):
            assert same_bits(exact.exact_forward(gnet, z.cuda()), exact.exact_forward(net, z))

    for enc_model, dec_model, xin in ((cpu, gpu, x), (gpu, cpu, x.cuda())):
        with latents(monkeypatch) as enc_latents:
            enc = enc_model.compress(xin)
        with latents(monkeypatch) as dec_latents:
            dec_model.decompress(enc["strings"], enc["shape"])
        assert len(dec_latents) == len(enc_latents)
        for e, d in zip(enc_latents, dec_latents, strict=True):
            assert same_bits(d, e)


def test_scrambled_order_does_change_float_bits():
    # The harness has teeth: on ordinary float operands the other summation order does change the last bits.
    torch.manual_seed(0)
    a, w = torch.randn(1, 20, 8, 8, dtype=torch.float64), torch.randn(6, 20, 3, 3, dtype=torch.float64)
    assert not same_bits(exact.scrambled_conv2d(a, w, (1, 1), (1, 1)), exact.default_conv2d(a, w, (1, 1), (1, 1)))
    torch.testing.assert_close(exact.scrambled_conv2d(a, w, (1, 1), (1, 1)), F.conv2d(a, w, None, 1, 1))
