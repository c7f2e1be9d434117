"""The scalable wavelet codec: embedded quality layers equal the single-layer codec at their steps, extraction
equals prefix decoding, resolution x quality cuts, dropped corrupt/missing layers, bit-exact refinement tables,
bad arguments, a small fuzz and the CLI.  Uses the shipped layered weights when the package has them, else the
single-layer weights reused for refinement (the coding machinery is the same)."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import SHARED

from pywlc import BitstreamError
from pywlc.bitstream import decode_container
from pywlc.codecs import wavelet as W
from pywlc.codecs.wavelet import layered as L
from pywlc.codecs.wavelet.layered_model import LAYERED_WEIGHTS, LayeredModel, load_layered_model
from pywlc.codecs.wavelet.refine_coder import refine_table
from pywlc.codecs.wavelet.refine_model import fine_interval, gap_ratio, nest, refine_nll_bits
from pywlc.imageio import load_image

QUALITIES = [20, 40, 60, 80]


@pytest.fixture(scope="module")
def model() -> LayeredModel:
    return load_layered_model() if LAYERED_WEIGHTS else LayeredModel.from_base(W.load_model())


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    img = load_image(Path(W.__file__).parents[2] / "data" / "seeding_by_Clements_Engelhardt.png")[0]
    return img[:, 40:136, 60:188].contiguous()  # 96 x 128: 3 levels


@pytest.fixture(scope="module")
def stream(photo, model) -> bytes:
    return W.encode(photo, layers=QUALITIES, model=model)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * torch.log10(255.0**2 / ((a.double() - b.double()) ** 2).mean()).item()


def test_each_layer_matches_the_single_layer_picture(photo, model, stream):
    """Layer 1 is the single-layer picture bit for bit; upper layers hold the single-layer encoder's indices and
    use the coarse bins too, so they are at least as close (postfilter off: the indices alone)."""
    for k, q in enumerate(QUALITIES, 1):
        single = W.decode(W.encode(photo, quality=q, model=model.base), model=model.base, postfilter=False)
        ours = W.decode(stream, layers=k, model=model, postfilter=False)
        if k == 1:
            assert torch.equal(ours, single)
        else:
            assert _psnr(ours, photo) >= _psnr(single, photo) and (ours.int() - single.int()).abs().max() <= 8


def test_base_layer_is_the_single_layer_stream(photo, model, stream):
    single = decode_container(W.encode(photo, quality=QUALITIES[0], model=model.base))
    cont = decode_container(stream)
    assert [cont.layer(f"r{j}q0").payload for j in range(3)] == [lay.payload for lay in single.layers]


def test_extract_equals_prefix_decode_and_cuts_bytes(model, stream):
    sizes = []
    for k in range(1, 5):
        sub = W.extract(stream, layers=k)
        sizes.append(len(sub))
        assert torch.equal(W.decode(sub, model=model), W.decode(stream, layers=k, model=model))
        assert L.read_layered_header(sub).layers == tuple(f"r{j}q{i}" for i in range(k) for j in range(3))
    assert sizes == sorted(sizes) and sizes[-1] == len(stream)


@pytest.mark.parametrize("resolution", [2, 4])  # 3 levels: res0 holds the coarsest detail level
def test_resolution_and_quality_cut(model, stream, resolution):
    sub = W.extract(stream, layers=2, resolution=resolution)
    a = L.decode_layers(sub, model=model)
    b = L.decode_layers(stream, layers=2, resolution=resolution, model=model)
    assert torch.equal(a.image, b.image) and a.dropped == () and (a.layers, a.resolution) == (2, resolution)
    assert a.image.shape[-2:] == ((96 + resolution - 1) // resolution, (128 + resolution - 1) // resolution)


def test_corrupt_upper_layer_is_dropped(model, stream):
    bad = bytearray(stream)
    bad[-5] ^= 0x40  # inside the last payload: r2q3
    with pytest.raises(BitstreamError):
        decode_container(bytes(bad))
    res = L.decode_layers(bytes(bad), model=model)
    assert res.layers == 3 and res.resolution == 1 and res.corrupt == ("r2q3",)
    assert res.dropped == ("r0q3", "r1q3", "r2q3")
    assert torch.equal(res.image, W.decode(stream, layers=3, model=model))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        W.decode(bytes(bad), model=model)
    assert any(issubclass(w.category, L.LayersDroppedWarning) and "r2q3" in str(w.message) for w in caught)
    # Asking for fewer layers than the corrupt one: nothing dropped.
    assert L.decode_layers(bytes(bad), layers=2, model=model).dropped == ()


def test_corrupt_finest_base_layer_costs_resolution(model, stream):
    cont = decode_container(stream)
    start = len(stream) - sum(len(lay.payload) for lay in cont.layers)
    for lay in cont.layers:
        if lay.label == "r2q0":
            break
        start += len(lay.payload)
    bad = bytearray(stream)
    bad[start + 1] ^= 0x01
    res = L.decode_layers(bytes(bad), model=model)
    assert res.resolution == 2 and res.layers == 4 and res.corrupt == ("r2q0",)
    assert torch.equal(res.image, L.decode_layers(stream, resolution=2, model=model).image)


def test_truncated_stream_decodes_its_prefix(model, stream):
    hdr = L.read_layered_header(stream)
    cut = len(stream) - sum(hdr.layer_bytes[-3:])  # q3 gone entirely
    res = L.decode_layers(stream[:cut], model=model)
    assert res.layers == 3 and set(res.corrupt) == {f"r{j}q3" for j in range(3)}
    assert torch.equal(res.image, W.decode(stream, layers=3, model=model))


def test_corrupt_header_or_base_is_an_error(model, stream):
    bad = bytearray(stream)
    bad[20] ^= 0xFF  # header (its CRC fails)
    with pytest.raises(BitstreamError):
        L.decode_layers(bytes(bad), model=model)
    hdr_len = len(stream) - sum(L.read_layered_header(stream).layer_bytes)
    bad = bytearray(stream)
    bad[hdr_len + 2] ^= 0x10  # r0q0: nothing decodable
    with pytest.raises(BitstreamError, match="base layer"):
        L.decode_layers(bytes(bad), model=model)
    with pytest.raises(BitstreamError):
        W.extract(bytes(bad), layers=1)


def test_other_weights_are_refused(photo, model, stream):
    other = LayeredModel(model.base, type(model.refine)(model.refine.hidden), "zeros")
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        L.decode_layers(stream, model=other)


def test_grey_odd_and_tiny_pictures(model):
    g = torch.Generator().manual_seed(5)
    for shape in [(3, 1, 1), (1, 5, 3), (3, 13, 7), (1, 40, 33)]:
        x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
        s = W.encode(x, layers=[30, 60, 90], model=model)
        single = W.decode(W.encode(x, quality=30, model=model.base), model=model.base)
        assert torch.equal(W.decode(s, layers=1, model=model), single)
        for k in (2, 3):
            assert W.decode(s, layers=k, model=model).shape == x.shape


def test_layers_bpp_targets(photo, model):
    targets = [0.3, 0.8, 1.6]
    s = W.encode(photo, layers_bpp=targets, model=model)
    hdr = L.read_layered_header(s)
    assert hdr.qualities == 3
    pixels = photo.shape[-1] * photo.shape[-2]
    for k, t in enumerate(targets):
        prefix = W.extract(s, layers=k + 1)
        payload = sum(L.read_layered_header(prefix).layer_bytes)
        assert 8 * payload / pixels <= t
    assert list(hdr.codes) == sorted(hdr.codes, reverse=True)


def test_bad_arguments(photo, model, stream):
    with pytest.raises(ValueError, match="increase"):
        W.encode(photo, layers=[40, 20], model=model)
    with pytest.raises(ValueError, match="increase"):
        W.encode(photo, layers=[50, 50.1], model=model)  # the same step code twice
    with pytest.raises(ValueError, match="exactly one"):
        W.encode(photo, quality=20, layers=[20, 40], model=model)
    with pytest.raises(ValueError, match="bpps"):
        W.encode(photo, layers_bpp=[0.5, 0.2], model=model)
    with pytest.raises(ValueError, match="layers"):
        W.decode(stream, layers=0, model=model)
    with pytest.raises(ValueError, match="resolution"):
        W.extract(stream, layers=1, resolution=3)
    with pytest.raises(BitstreamError, match="layered"):
        W.read_header(stream)


def test_refinement_tables_match_the_training_likelihood():
    """The coder's decimal tables and the trainer's float NLL describe the same distribution."""
    for d in (8, 23, 64):
        r = gap_ratio(d)
        for qa in (0, 1, 2, 7, 40):
            lo, hi = (int(t) for t in fine_interval(torch.tensor([qa]), r))
            for s in (0, 30, 60, 96):
                t = refine_table(s, qa, d)
                vals = torch.arange(-hi, hi + 1) if qa == 0 else torch.arange(lo, hi + 1)
                log2b = torch.full(vals.shape, -5.0 + s / 6, dtype=torch.float64)
                p = torch.exp2(-refine_nll_bits(vals, torch.full_like(vals, qa), log2b, r))
                assert t.n == len(vals) and abs(float(p.sum()) - 1) < 1e-9
                ok = p > 1e-9
                assert torch.allclose(torch.from_numpy(t.probs)[ok], p[ok], rtol=1e-6)


def test_nest_keeps_fine_indices_inside_coarse_bins():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, generator=g, dtype=torch.float64) * 30
    for d in (5, 16, 37):
        coarse = torch.sign(x) * torch.floor(x.abs() / 2 ** (d / 16) + 0.2)
        fine = torch.sign(x) * torch.floor(x.abs() + 0.2)
        lo, hi = fine_interval(coarse.abs().long(), gap_ratio(d))
        nested = nest(fine.long(), coarse.long(), gap_ratio(d))
        assert torch.equal(nested, fine.long())  # the quantisers agree: nothing to clamp
        a = nested.abs()
        assert bool(((a >= lo) & (a <= hi) & ((coarse != 0) | (a <= hi))).all())


def test_fuzz_only_bitstream_errors_or_drops(model, photo):
    small = W.encode(photo[:, :32, :48].contiguous(), layers=[30, 60], model=model)
    rng = random.Random(11)
    for _ in range(150):
        data = bytearray(small)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            res = L.decode_layers(bytes(data), model=model)
        except BitstreamError:
            continue
        assert res.image.dtype == torch.uint8 and res.layers >= 1


def _wlc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pywlc.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not LAYERED_WEIGHTS, reason="the CLI uses the shipped layered weights")
def test_cli_layers(tmp_path, photo):
    from pywlc.imageio import save_image

    src = tmp_path / "in.png"
    save_image(photo, src)
    s = tmp_path / "s.wlc"
    r = _wlc("encode", str(src), str(s), "--layers", "20,50,80")
    assert r.returncode == 0, r.stderr
    info = _wlc("info", str(s))
    assert info.returncode == 0 and "r2q2" in info.stdout and "quality 2" in info.stdout
    sub = tmp_path / "sub.wlc"
    assert _wlc("extract", str(s), str(sub), "--layers", "2", "--resolution", "1/2").returncode == 0
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert _wlc("decode", str(sub), str(a)).returncode == 0
    assert _wlc("decode", str(s), str(b), "--layers", "2", "--resolution", "1/2").returncode == 0
    assert torch.equal(load_image(a)[0], load_image(b)[0])
    bad = bytearray(s.read_bytes())
    bad[-2] ^= 1
    s.write_bytes(bytes(bad))
    r = _wlc("decode", str(s), str(a))
    assert r.returncode == 0 and "wlc: warning:" in r.stderr and "r2q2" in r.stderr


@pytest.mark.skipif(not (SHARED / "data" / "SPLITS.md").is_file(), reason="needs ../shared/data")
def test_bench_scalable_smoke(tmp_path):
    """``bench_scalable --quick`` on one test photo at 128 px: well-formed results, prefixes equal extracts."""
    import json

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scalable.py"
    out = tmp_path / "s.json"
    r = subprocess.run([sys.executable, str(bench), "--quick", "--images", "1", "--fit", "128", "--data",
                        str(SHARED / "data"), "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    s = res["summary"]
    assert s["all_extract_equal"] and len(res["images"]) == 1 and len(res["images"][0]["layers"]) == 4
    assert s["simulcast_saving"]["saving"] > 0 and "bd_rate" in s["layered_vs_single_layer"]["mean_curve"]
    assert out.with_suffix(".png").is_file()
    r = subprocess.run([sys.executable, str(bench), "--fuzz", "20", "--out", str(tmp_path / "f.json")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "f.json").read_text())["unexpected"] == {}
