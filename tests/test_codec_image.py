"""Image codec (pywlc.codecs.image): container layout, exact round trip, base layer, bad and corrupt streams."""

from __future__ import annotations

import hashlib
import random

import pytest
import torch

from pywlc.bitstream import CodecId, ColorFormat, Layer, decode_container, drop_layers, reencode
from pywlc.codecs import decode_image, encode_image, stream_info
from pywlc.errors import BitstreamError
from pywlc.zoo import WeightsNotFoundError, baseline, build, load_checkpoint, loader, save_checkpoint, weconvene

TINY = dict(N=16, M=24, Z=16, slices=3, depth=1, slice_hidden=(16, 16))


def _model(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    m = build(arch, TINY).eval()
    m.update(force=True)
    return m


@pytest.fixture(scope="module")
def models():
    return {"weconvene": _model("weconvene"), "baseline": _model("baseline")}


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    # A smooth picture plus noise: something the untrained model codes into non-trivial strings.
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 70), torch.linspace(0, 1, 50), indexing="ij")
    base = torch.stack([yy, xx, (yy + xx) / 2]) * 200
    return (base + 40 * torch.rand(3, 70, 50, generator=g)).clamp(0, 255).to(torch.uint8)


def _reference(model, x: torch.Tensor) -> torch.Tensor:
    xf = x.float().unsqueeze(0) / 255
    enc = model.compress(xf)
    x_hat = model.decompress(enc["strings"], enc["shape"])["x_hat"][0]
    return (x_hat.clamp(0, 1) * 255).round().to(torch.uint8)


@pytest.mark.parametrize("arch", ["weconvene", "baseline"])
def test_round_trip_equals_model(models, image, arch):
    m = models[arch]
    data = encode_image(m, image, quality=3)
    c = decode_container(data)
    assert c.codec == (CodecId.WECONVENE if arch == "weconvene" else CodecId.WECONVENE_BASELINE)
    assert (c.width, c.height, c.quality, c.color, c.bit_depth) == (50, 70, 3, ColorFormat.RGB, 8)
    labels = ["z", "ll", "hf"] if arch == "weconvene" else ["z", "y"]
    assert [lay.label for lay in c.layers] == labels
    assert [lay.depends_on for lay in c.layers] == [None, *range(len(labels) - 1)]
    out = decode_image(data, m)
    assert out.dtype == torch.uint8 and out.shape == image.shape
    assert torch.equal(out, _reference(m, image))


def test_float_and_gray_inputs(models, image):
    m = models["weconvene"]
    assert encode_image(m, image.float() / 255, 1) == encode_image(m, image, 1)
    gray = image[:1]
    data = encode_image(m, gray, 1)
    assert decode_container(data).color == ColorFormat.GRAY
    assert decode_image(data, m).shape == (1, 70, 50)


def test_bytes_stable(image):
    # Same seed -> same weights -> same bytes (pinned by md5 within one run of the library versions).
    a = encode_image(_model("weconvene", seed=7), image, 2)
    b = encode_image(_model("weconvene", seed=7), image, 2)
    assert hashlib.md5(a).hexdigest() == hashlib.md5(b).hexdigest()


def test_tiled_round_trip(models):
    m = models["baseline"]
    torch.manual_seed(1)
    x = (torch.rand(3, 130, 70) * 255).to(torch.uint8)
    data = encode_image(m, x, 4, tile=64)
    info = stream_info(data)
    assert info.tile == 64 and info.arch.startswith("WeConveneBaseline")
    out = decode_image(data, m)
    # Each 64x64 tile decodes as the model codes that block on its own.
    for top, left in [(0, 0), (64, 64), (128, 0)]:
        blk = x[:, top : top + 64, left : left + 64]
        h, w = blk.shape[-2:]
        assert torch.equal(out[:, top : top + h, left : left + w], _reference(m, blk))


def test_dropped_hf_decodes_base_layer(models, image):
    m = models["weconvene"]
    data = encode_image(m, image, 2)
    base = drop_layers(data, keep=["z", "ll"])
    assert len(base) < len(data)
    info = stream_info(base)
    assert info.base_only and info.layers == ("z", "ll")
    out = decode_image(base, m)
    assert out.shape == image.shape
    xf = image.float().unsqueeze(0) / 255
    enc = m.compress(xf)
    ll, _, z = enc["strings"]
    ref = m.decompress([ll, None, z], enc["shape"])["x_hat"][0]
    assert torch.equal(out, (ref.clamp(0, 1) * 255).round().to(torch.uint8))


def test_loader_and_model_checks(models, image, tmp_path):
    m = models["weconvene"]
    data = encode_image(m, image, 2)
    # A loader receives the header's codec and quality.
    seen = []
    out = decode_image(data, lambda codec, q: seen.append((codec, q)) or m)
    assert seen == [(CodecId.WECONVENE, 2)] and torch.equal(out, decode_image(data, m))
    with pytest.raises(BitstreamError, match="WECONVENE_BASELINE"):
        decode_image(data, models["baseline"])
    other = build("weconvene", {**TINY, "M": 36}).eval()
    other.update(force=True)
    with pytest.raises(BitstreamError, match="coded by a WeConvene:16,24"):
        decode_image(data, other)
    # A checkpoint round trip keeps the bytes.
    save_checkpoint(tmp_path / "m.pt", m, config=TINY, quality=2)
    again = load_checkpoint(tmp_path / "m.pt")
    assert again.quality == 2 and torch.equal(decode_image(data, again), out)
    assert encode_image(again, image, 2) == data


def test_bad_arguments(models, image):
    m = models["weconvene"]
    for q in (-1, 256, 1.5, True):
        with pytest.raises(ValueError, match="quality"):
            encode_image(m, image, q)
    with pytest.raises(ValueError, match="codec_id"):
        encode_image(m, image, 1, codec_id=CodecId.WECONVENE_BASELINE)
    with pytest.raises(ValueError, match="tile"):
        encode_image(m, image, 1, tile=100)
    with pytest.raises(ValueError, match=r"Tensor\[1 \| 3, H, W\]"):
        encode_image(m, image[:2], 1)
    with pytest.raises(TypeError, match="uint8 or floating"):
        encode_image(m, image.int(), 1)
    with pytest.raises(TypeError, match="WeConvene"):
        encode_image(torch.nn.Conv2d(1, 1, 1), image, 1)


def test_zoo_registry():
    m = weconvene(3, config=TINY)
    assert type(m).__name__ == "WeConvene" and not m.training
    assert type(baseline(1, config=TINY)).__name__ == "WeConveneBaseline"
    with pytest.raises(ValueError, match="quality"):
        weconvene(0)
    with pytest.raises(WeightsNotFoundError, match=r"weconvene-compact-q3\.pt"):
        weconvene(3, pretrained=True)
    with pytest.raises(FileNotFoundError, match=r"baseline-compact-q1\.pt"):
        loader()(int(CodecId.WECONVENE_BASELINE), 1)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint("/nonexistent/ckpt.pt")


def test_inconsistent_headers_raise(models, image):
    m = models["weconvene"]
    c = decode_container(encode_image(m, image, 2))
    bad = [
        reencode(c, codec=99),
        reencode(c, codec=CodecId.RAW),
        reencode(c, color=ColorFormat.YUV420),
        reencode(c, bit_depth=10),
        reencode(c, frames=2),
        reencode(c, metadata={"arch": c.metadata["arch"]}),
        reencode(c, metadata={**c.metadata, "tile": b"\x10\x00"}),
        reencode(c, layers=c.layers[:1]),
        reencode(c, layers=[c.layers[0], Layer(1, "hf", c.layers[2].payload, 0)]),
        reencode(c, width=c.width + 64),  # more tiles than the payloads hold (tile 1024: same count) or wrong
        reencode(c, width=5000, height=5000),
        reencode(c, layers=[c.layers[0], Layer(1, "ll", c.layers[1].payload + b"x", 0), c.layers[2]]),
        reencode(c, layers=[Layer(0, "z", b"\xff\xff\xff\x7f"), *c.layers[1:]]),
        # Coded by a float entropy path (no marker) or an unknown one: refused, never mis-decoded.
        reencode(c, metadata={k: v for k, v in c.metadata.items() if k != "entropy"}),
        reencode(c, metadata={**c.metadata, "entropy": b"float"}),
    ]
    for i, data in enumerate(bad):
        if i == 9:
            # Same tile count at tile 1024: the picture decodes (garbage) at the new size; only check no crash.
            assert decode_image(data, m).shape == (3, c.height, c.width + 64)
            continue
        with pytest.raises(BitstreamError):
            decode_image(data, m, max_pixels=1 << 22)


def test_fuzzed_streams_never_crash(models, image):
    # Corrupt / truncated containers are rejected by the container; mutated payloads with valid CRCs reach the
    # entropy decoder, which must neither crash nor read out of bounds nor hang (see codecs.image._guard).
    m = models["weconvene"]
    data = encode_image(m, image, 2)
    c = decode_container(data)
    rng = random.Random(1234)
    outcomes = {"error": 0, "decoded": 0}
    for i in range(300):
        buf = bytearray(data)
        kind = i % 3
        if kind == 0:  # raw byte mutations and truncations of the file
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            if rng.random() < 0.3:
                del buf[rng.randrange(len(buf)) :]
            stream = bytes(buf)
        else:  # payload mutations with valid CRCs: garbage for the rANS decoder
            layers = []
            for lay in c.layers:
                p = bytearray(lay.payload)
                if rng.random() < 0.7 and len(p) > 4:
                    for _ in range(rng.randint(1, 8)):
                        p[rng.randrange(4 if kind == 1 else 0, len(p))] = rng.randrange(256)
                    if rng.random() < 0.2:
                        p = p[: rng.randrange(len(p))]
                    if rng.random() < 0.1:
                        p = p[:4] + bytes([0xFF]) * (len(p) - 4)
                layers.append(Layer(lay.id, lay.label, bytes(p), lay.depends_on))
            stream = reencode(c, layers=layers)
        try:
            out = decode_image(stream, m)
        except BitstreamError:
            outcomes["error"] += 1
        else:
            assert out.shape == image.shape and out.dtype == torch.uint8
            outcomes["decoded"] += 1
    assert outcomes["error"] > 50 and sum(outcomes.values()) == 300
