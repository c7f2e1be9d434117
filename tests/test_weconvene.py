"""WeConvene and its baseline (compact config, CPU): shapes, likelihoods, exact compress/decompress, base layer."""

from __future__ import annotations

import pytest
import torch
from compressai.models import CompressionModel
from conftest import TINY

from pywlc.bitstream import CodecId, Layer, decode_container, drop_layers, encode_container
from pywlc.models import CONFIGS, WeConvDown, WeConvene, WeConveneBaseline, WeConvUp, haar_merge, haar_split

# TINY (conftest): every code path of "compact", at a fraction of its cost.
SIZES = [(64, 64), (70, 50)]


@pytest.fixture(scope="module")
def models(tiny_models) -> dict[str, CompressionModel]:
    return tiny_models


def test_haar_split_merge():
    pywt = pytest.importorskip("pywt")
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    ll, hf = haar_split(x)
    assert ll.shape == (2, 3, 4, 3) and hf.shape == (2, 9, 4, 3)
    ref_ll, (c_h, c_v, c_d) = pywt.dwt2(x.numpy(), "haar")
    torch.testing.assert_close(ll, torch.from_numpy(ref_ll))
    torch.testing.assert_close(hf, torch.cat([torch.from_numpy(c) for c in (c_h, c_v, c_d)], dim=1))
    torch.testing.assert_close(haar_merge(ll, hf), x)


def test_weconv_blocks_shapes_and_gradients():
    x = torch.randn(2, 5, 16, 12, requires_grad=True)
    down = WeConvDown(5, 8)(x)
    assert down.shape == (2, 8, 8, 6)
    up = WeConvUp(8, 4)(down)
    assert up.shape == (2, 4, 16, 12)
    up.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
@pytest.mark.parametrize("size", SIZES)
def test_forward_shapes_and_likelihoods(models, name, size):
    m = models[name]
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        out = m(x)
    assert out["x_hat"].shape == x.shape
    h, w = (-(-s // 64) * 4 for s in size)
    expected = (
        {"ll": (2, 24, h, w), "hf": (2, 72, h, w), "z": (2, 16, h // 4, w // 4)}
        if name == "WeConvene"
        else {"y": (2, 24, h, w), "z": (2, 16, h // 4, w // 4)}
    )
    assert {k: tuple(v.shape) for k, v in out["likelihoods"].items()} == expected
    for lik in out["likelihoods"].values():
        assert torch.isfinite(lik).all() and lik.min() > 0 and lik.max() <= 1


@pytest.mark.parametrize("cls", [WeConvene, WeConveneBaseline])
def test_training_step(cls):
    # Training mode: noisy likelihoods, straight-through rounding; gradients reach g_a and the aux loss works.
    torch.manual_seed(1)
    m = cls(**TINY).train()
    x = torch.rand(1, 3, 64, 64)
    out = m(x)
    bpp = sum(torch.log2(v).sum() for v in out["likelihoods"].values()) / (-64 * 64)
    loss = 0.01 * 255**2 * torch.mean((out["x_hat"] - x) ** 2) + bpp
    loss.backward()
    first = next(m.g_a.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert torch.isfinite(m.aux_loss())


@pytest.mark.parametrize("name", ["WeConvene", "WeConveneBaseline"])
@pytest.mark.parametrize("size", SIZES)
def test_compress_decompress_equals_forward(models, name, size):
    m = models[name]
    torch.manual_seed(2)
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        ref = m(x)["x_hat"]
    enc = m.compress(x)
    assert enc["shape"] == size
    assert len(enc["strings"]) == (3 if name == "WeConvene" else 2)
    assert all(len(s) == 2 and all(isinstance(b, bytes) for b in s) for s in enc["strings"])
    dec = m.decompress(enc["strings"], enc["shape"])
    # Eval-mode forward rounds exactly as the coder does: the same quantised latents, the same x_hat.
    torch.testing.assert_close(dec["x_hat"], ref, rtol=0, atol=1e-5)


def test_ll_base_layer_decodes_alone(models):
    m = models["WeConvene"]
    x = torch.rand(1, 3, 70, 50)
    enc = m.compress(x)
    ll, hf, z = enc["strings"]
    full = m.decompress([ll, hf, z], enc["shape"])
    base = m.decompress([ll, None, z], enc["shape"])
    # The LL latent does not depend on the HF string; the base reconstruction is a full-size picture.
    assert torch.equal(base["ll_hat"], full["ll_hat"])
    assert base["x_hat"].shape == full["x_hat"].shape and torch.isfinite(base["x_hat"]).all()

    # The same through the container: z, ll (base) and hf (depends on ll); extraction drops hf.
    data = encode_container(
        codec=CodecId.WECONVENE,
        quality=0,
        width=50,
        height=70,
        layers=[Layer(0, "z", z[0]), Layer(1, "ll", ll[0], depends_on=0), Layer(2, "hf", hf[0], depends_on=1)],
    )
    c = decode_container(drop_layers(data, keep=["z", "ll"]))
    assert [lay.label for lay in c.layers] == ["z", "ll"]
    again = m.decompress([[c.layer("ll").payload], None, [c.layer("z").payload]], (c.height, c.width))
    assert torch.equal(again["x_hat"], base["x_hat"])


def test_interface_and_configs():
    for cls in (WeConvene, WeConveneBaseline):
        assert issubclass(cls, CompressionModel)
        for attr in ("forward", "compress", "decompress", "update", "aux_loss"):
            assert callable(getattr(cls, attr))
    assert CONFIGS["paper"]["N"] == 128 and CONFIGS["paper"]["M"] == 320 and CONFIGS["paper"]["slices"] == 5
    with pytest.raises(ValueError, match="config"):
        WeConvene.from_config("huge")
    with pytest.raises(ValueError, match="multiple of slices"):
        WeConvene(**{**TINY, "slices": 5})
    with pytest.raises(ValueError, match=r"Tensor\[N, 3, H, W\]"):
        WeConvene(**TINY)(torch.rand(1, 1, 64, 64))


# Parameter counts (reported in the docs; a change here is an architecture change).
PARAMS = {
    ("WeConvene", "compact"): 10_055_692,
    ("WeConvene", "paper"): 89_752_012,
    ("WeConveneBaseline", "compact"): 4_555_084,
    ("WeConveneBaseline", "paper"): 37_356_588,
}


@pytest.mark.parametrize("key", list(PARAMS))
def test_parameter_counts(key):
    cls = {"WeConvene": WeConvene, "WeConveneBaseline": WeConveneBaseline}[key[0]]
    n = sum(p.numel() for p in cls.from_config(key[1]).parameters())
    print(f"{key[0]} {key[1]}: {n / 1e6:.2f} M parameters")
    assert n == PARAMS[key]


def test_compact_config_round_trip():
    # The documented CPU configuration itself, once, at the smallest size.
    torch.manual_seed(3)
    m = WeConvene.from_config("compact").eval()
    m.update(force=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = m(x)["x_hat"]
    enc = m.compress(x)
    torch.testing.assert_close(m.decompress(enc["strings"], enc["shape"])["x_hat"], ref, rtol=0, atol=1e-5)
