"""The wavelet image codec: bitwise lossless round trips, lossy quality, resolution layers, determinism,
corrupt streams and bad arguments.  Uses the shipped weights when the package has them, else a seeded
random model (the coding machinery is the same)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SHARED

from pywlc import BitstreamError
from pywlc import fixed_point as fp
from pywlc.bitstream import decode_container, reencode
from pywlc.codecs import wavelet as W
from pywlc.codecs.budget import DecodeBudget
from pywlc.codecs.wavelet.entropy_model import SubbandEntropyModel
from pywlc.codecs.wavelet.model import WEIGHTS, WaveletModel
from pywlc.codecs.wavelet.postfilter import PostFilter
from pywlc.imageio import load_image


@pytest.fixture(scope="module")
def model() -> WaveletModel:
    if WEIGHTS:
        return W.load_model()
    torch.manual_seed(0)
    ent = SubbandEntropyModel(32)
    for p in ent.parameters():
        p.data.normal_(0, 0.05)
    return WaveletModel(ent, PostFilter(), "random")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    img = load_image(Path(W.__file__).parents[2] / "data" / "seeding_by_Clements_Engelhardt.png")[0]
    return img[:, 40:136, 60:188].contiguous()  # 96 x 128


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.double() - b.double()) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(255.0**2 / mse)).item()


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 1, 7), (3, 2, 2), (3, 17, 9), (1, 33, 20), (3, 40, 64), (1, 5, 5)])
def test_lossless_bitwise(model, shape):
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    y = W.decode(W.encode(x, lossless=True, model=model), model=model)
    assert y.dtype == torch.uint8 and torch.equal(y, x)


def test_lossless_photo_and_grey_2d(model, photo):
    assert torch.equal(W.decode(W.encode(photo, lossless=True, model=model), model=model), photo)
    grey = photo[1]
    assert torch.equal(W.decode(W.encode(grey, lossless=True, model=model), model=model), grey[None])


def test_lossy_quality_orders_rate_and_psnr(model, photo):
    sizes, psnrs = [], []
    for q in (20, 45, 70):
        d = W.encode(photo, quality=q, model=model)
        y = W.decode(d, model=model, postfilter=False)
        assert y.shape == photo.shape
        sizes.append(len(d))
        psnrs.append(_psnr(y, photo))
    assert sizes == sorted(sizes) and psnrs == sorted(psnrs)
    assert psnrs[-1] > 40


def test_lossy_odd_sizes_and_grey(model):
    g = torch.Generator().manual_seed(3)
    for shape in [(3, 1, 1), (3, 13, 7), (1, 19, 30)]:
        x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
        y = W.decode(W.encode(x, quality=90, model=model), model=model)
        assert y.shape == x.shape
        assert (y.int() - x.int()).abs().max() <= 8


def test_bpp_target(model, photo):
    ref = W.encode(photo, quality=40, model=model)  # quality 40 is step code 61
    target = len(ref) * 8 / (96 * 128)
    d = W.encode(photo, bpp=target, model=model)
    # The bisection returns the finest step within the budget: quality 40's own step, so the same stream.
    assert d == ref
    assert len(W.encode(photo, bpp=target * 0.7, model=model)) <= len(ref) * 0.7


def test_resolution_layers(model, photo):
    d = W.encode(photo, quality=50, model=model)
    hdr = W.read_header(d)
    assert hdr.layers == tuple(f"res{j}" for j in range(hdr.levels))
    for r in (2, 4):
        sub = W.extract(d, resolution=r)
        assert len(sub) < len(d)
        a, b = W.decode(sub, model=model), W.decode(d, resolution=r, model=model)
        assert torch.equal(a, b) and a.shape == (3, 96 // r, 128 // r)
    lossless = W.encode(photo, lossless=True, model=model)
    half = W.decode(W.extract(lossless, resolution=2), model=model)
    assert half.shape == (3, 48, 64)


def test_encoding_is_deterministic_over_threads_and_conv_order(model, photo):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = W.encode(photo, quality=40, model=model)
        torch.set_num_threads(2)
        two = W.encode(photo, quality=40, model=model)
    finally:
        torch.set_num_threads(threads)
    assert one == two
    saved = fp.conv_impl
    try:  # another summation order in every conv: integer-exact, so the same indices and bytes
        fp.conv_impl = fp.scrambled_conv2d
        assert W.encode(photo, quality=40, model=model) == one
        assert torch.equal(W.decode(one, model=model), W.decode(two, model=model))
    finally:
        fp.conv_impl = saved


def test_other_weights_refused(model, photo):
    d = W.encode(photo[:, :16, :16], quality=50, model=model)
    other = SubbandEntropyModel(8)
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        W.decode(d, model=WaveletModel(other, None, "other"))


@pytest.mark.skipif(len(WEIGHTS) < 2, reason="needs two shipped weight versions")
def test_default_decoder_finds_the_shipped_version_of_the_stream(photo):
    older = W.load_model(list(WEIGHTS)[-1])  # the oldest shipped weights, not the default
    assert older.model_id != W.load_model().model_id
    for d in (W.encode(photo[:, :24, :40], quality=45, model=older), W.encode(photo[:3, :9, :14], lossless=True,
                                                                               model=older)):
        assert torch.equal(W.decode(d), W.decode(d, model=older))


def test_corrupt_streams_raise_bitstream_error(model, photo):
    d = W.encode(photo[:, :32, :48], quality=50, model=model)
    rng = random.Random(0)
    for i in range(150):
        b = bytearray(d)
        kind = i % 3
        if kind == 0:
            b = b[: rng.randrange(len(b))]
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        else:
            pos = rng.randrange(len(b))
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        try:
            y = W.decode(bytes(b), model=model)
        except BitstreamError:
            continue
        assert y.shape == (3, 32, 48)  # a flip that left every CRC intact cannot happen; shape stays bounded


def test_payload_corruption_with_fixed_crc(model, photo):
    """A payload edit whose CRCs are recomputed reaches the entropy decoder: still only BitstreamError or a
    picture of the header's size."""
    d = W.encode(photo[:, :32, :48], quality=50, model=model)
    c = decode_container(d)
    rng = random.Random(1)
    for _ in range(40):
        layers = list(c.layers)
        k = rng.randrange(len(layers))
        p = bytearray(layers[k].payload)
        if p:
            p[rng.randrange(len(p))] ^= 1 << rng.randrange(8)
        layers[k] = type(layers[k])(layers[k].id, layers[k].label, bytes(p), layers[k].depends_on)
        try:
            y = W.decode(reencode(c, layers=tuple(layers)), model=model)
        except BitstreamError:
            continue
        assert y.shape == (3, 32, 48)


def test_decode_budget(model, photo):
    d = W.encode(photo[:, :8, :8], quality=50, model=model)
    with pytest.raises(BitstreamError, match="budget"):
        W.decode(d, model=model, budget=DecodeBudget(max_pixels=32))
    assert W.decode(d, model=model, budget=DecodeBudget.trusted()).shape == (3, 8, 8)


def test_bomb_header_refused_fast(model):
    """A tiny valid stream claiming a huge picture is refused before any allocation."""
    import time

    x = torch.zeros(1, 2048, 2048, dtype=torch.uint8)
    d = W.encode(x, quality=0, model=model)
    t = time.perf_counter()
    with pytest.raises(BitstreamError, match="pixels per byte|budget"):
        W.decode(d, model=model)
    assert time.perf_counter() - t < 1.0


def test_bad_arguments(model, photo):
    with pytest.raises(ValueError, match="exactly one"):
        W.encode(photo, quality=50, bpp=1.0, model=model)
    with pytest.raises(ValueError, match="exactly one"):
        W.encode(photo, model=model)
    with pytest.raises(ValueError, match="quality"):
        W.encode(photo, quality=-1, model=model)
    with pytest.raises(ValueError, match="bpp"):
        W.encode(photo, bpp=0, model=model)
    with pytest.raises(TypeError, match="image"):
        W.encode(photo.numpy(), quality=50, model=model)
    with pytest.raises(ValueError, match="C in"):
        W.encode(torch.zeros(2, 8, 8, dtype=torch.uint8), quality=50, model=model)
    nan = photo.float()
    nan[:, 3:5, 3:5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        W.encode(nan, quality=50, model=model)
    with pytest.raises(TypeError, match="uint8"):
        W.encode(photo.float(), lossless=True, model=model)
    with pytest.raises(ValueError, match="resolution"):
        W.decode(W.encode(photo, quality=50, model=model), resolution=3, model=model)
    with pytest.raises(BitstreamError):
        W.decode(b"not a stream", model=model)


def test_noncontiguous_and_float_input(model, photo):
    x = photo.transpose(1, 2)  # non-contiguous view
    assert torch.equal(W.decode(W.encode(x, lossless=True, model=model), model=model), x)
    a = W.encode(photo, quality=50, model=model)
    b = W.encode(photo.double(), quality=50, model=model)
    assert a == b


@pytest.mark.skipif(not (SHARED / "data" / "SPLITS.md").is_file(), reason="needs ../shared/data")
def test_training_runs_a_few_steps(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pywlc.train", "wavelet", "--data", str(SHARED / "data"), "--out", str(out),
           "--steps", "2", "--batch", "2", "--patch", "64", "--save-every", "1", "--log-every", "1",
           "--cache", str(tmp_path / "cache")]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    assert (out / "last.pt").is_file() and len((out / "log.jsonl").read_text().splitlines()) == 2
    first = torch.load(out / "last.pt", weights_only=False)
    subprocess.run([*cmd[:-2], "--steps", "3", "--resume", "--cache", str(tmp_path / "cache")], check=True,
                   capture_output=True, timeout=600)
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 3 and first["step"] == 2


def test_payload_that_constriction_refuses(model, photo):
    """A payload whose last word is zero is refused by constriction's constructor: BitstreamError, not ValueError
    (found by the fuzzer: seed 0, inputs 2389 and 50078)."""
    d = W.encode(photo[:, :32, :48], quality=50, model=model)
    c = decode_container(d)
    layers = list(c.layers)
    layers[0] = type(layers[0])(layers[0].id, layers[0].label, layers[0].payload[:-4] + bytes(4), None)
    with pytest.raises(BitstreamError):
        W.decode(reencode(c, layers=tuple(layers)), model=model)


def test_inference_mode(model, photo):
    x = photo[:, :32, :48].contiguous()
    with torch.inference_mode():
        d = W.encode(x, quality=50, model=model)
        y = W.decode(d, model=model)
    assert d == W.encode(x, quality=50, model=model) and torch.equal(y, W.decode(d, model=model))
