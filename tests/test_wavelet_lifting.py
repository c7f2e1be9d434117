"""The wavelet codec's learned lifting step (closed loop) and rate-distortion optimised quantisation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SHARED

from pywlc import BitstreamError
from pywlc.codecs import wavelet as W
from pywlc.codecs.wavelet import codec as C
from pywlc.codecs.wavelet import transform as T
from pywlc.codecs.wavelet.coder import pass_indices
from pywlc.codecs.wavelet.entropy_model import LOG2_MIN, SCALES_PER_OCTAVE, laplace_nll_bits
from pywlc.codecs.wavelet.lifting import LiftingPredictor, closed_loop_quantize, closed_loop_synthesis
from pywlc.codecs.wavelet.model import WaveletModel, load_model
from pywlc.codecs.wavelet.pyramid import quantize_pyramid
from pywlc.codecs.wavelet.rdoq import RdoQuantizer
from pywlc.imageio import load_image


def _random_predictor(seed: int = 0, std: float = 0.2) -> LiftingPredictor:
    torch.manual_seed(seed)
    pred = LiftingPredictor(8)
    for p in pred.parameters():
        p.data.normal_(0, std)
    return pred.eval()


@pytest.fixture(scope="module")
def base() -> WaveletModel:
    return load_model("wavelet-v1")


@pytest.fixture(scope="module")
def lifted(base) -> WaveletModel:
    """The shipped entropy model with a random (non-zero) lifting step: streams must still round-trip."""
    return WaveletModel(base.entropy, base.postfilter, "random-lifting", _random_predictor(0, 0.03))


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    img = load_image(Path(W.__file__).parents[2] / "data" / "seeding_by_Clements_Engelhardt.png")[0]
    return img[:, 40:137, 60:189].contiguous()  # 97 x 129: odd sizes


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.double() - b.double()) ** 2).mean().item()
    return 10 * torch.log10(torch.tensor(255.0**2 / mse)).item()


@pytest.mark.parametrize("shape", [(2, 3, 37, 51), (1, 1, 16, 16), (1, 3, 9, 40)])
def test_perfect_reconstruction_before_quantisation(shape):
    """A nonzero learned step around 9/7 still reconstructs (step -> 0: error -> 0, whatever P is)."""
    torch.manual_seed(1)
    pred = _random_predictor(2)
    x = torch.rand(shape) * 255
    p = T.forward(x, False)
    n = shape[0]
    for step in (1e-3, 1e-5):
        s, code = torch.full((n,), step), torch.full((n,), -100)
        ll_q, levels, d = closed_loop_quantize(p, s, code, pred)
        y = closed_loop_synthesis(ll_q, levels, p.levels, s, code, d, pred)
        ref = T.ict_forward(x) if shape[1] == 3 else x
        # measured: 1.2 step at 1e-3, a float32 floor of ~2e-4 below
        assert (y - ref).abs().max() < 2 * step + 5e-4
    # ... and the step really changes the coefficients: the residuals are not the 9/7 details.
    plain = quantize_pyramid(p, 1e-3, False)
    h, w = levels[-1][0].shape[-2:]
    assert not torch.equal(levels[-1][0], plain.levels[-1][0, :, 0, :h, :w])


def test_reduced_resolution_synthesis_and_8_bit_offsets():
    torch.manual_seed(3)
    pred = _random_predictor(4)
    x = torch.rand(1, 3, 45, 60) * 255
    p = T.forward(x, False)
    s, code = torch.tensor([6.0]), torch.tensor([41])
    ll_q, levels, d = closed_loop_quantize(p, s, code, pred)
    full = closed_loop_synthesis(ll_q, levels, p.levels, s, code, d, pred)
    half = closed_loop_synthesis(ll_q, levels[:-1], p.levels, s, code, d, pred)
    assert full.shape[-2:] == (45, 60) and half.shape[-2:] == (23, 30)
    assert d.shape == (1, p.levels, 2) and bool(((d * 255).round() == d * 255).all())


def test_lifting_gradients_reach_the_predictor():
    pred = LiftingPredictor(8)
    x = torch.rand(2, 3, 32, 32) * 255
    res: list = []
    closed_loop_quantize(T.forward(x, False), torch.tensor([4.0, 16.0]), torch.tensor([32, 64]), pred, residuals=res)
    loss = sum((torch.log2(1 + u.square()) * m).sum() for u, m in res)
    loss.backward()
    assert pred.luma[-1].weight.grad.abs().sum() > 0 and pred.chroma[-1].weight.grad.abs().sum() > 0


def test_lifting_streams_round_trip(lifted, base, photo):
    for q in (20.0, 70.0):
        data = W.encode(photo, quality=q, model=lifted)
        hdr = W.read_header(data)
        assert hdr.lifting and len(hdr.deltas) == 2 * hdr.levels
        y = W.decode(data, model=lifted, postfilter=False)
        assert y.shape == photo.shape and _psnr(y, photo) > (28 if q < 50 else 42)
        assert torch.equal(W.decode(W.extract(data, resolution=2), model=lifted),
                           W.decode(data, model=lifted, resolution=2))
        with pytest.raises(BitstreamError, match="other entropy-model weights"):
            W.decode(data, model=base)
    grey = photo[:1]
    y = W.decode(W.encode(grey, quality=50, model=lifted), model=lifted)
    assert y.shape == grey.shape and _psnr(y, grey) > 30
    plain = W.encode(photo, quality=50, model=lifted, lifting=False)
    assert not W.read_header(plain).lifting and len(W.read_header(plain).deltas) == W.read_header(plain).levels
    assert _psnr(W.decode(plain, model=lifted), photo) > 30
    assert W.encode(photo, quality=50, model=lifted) == W.encode(photo, quality=50, model=lifted)


def test_lifting_arguments(lifted, base, photo):
    with pytest.raises(ValueError, match="no learned lifting step"):
        W.encode(photo, quality=50, model=base, lifting=True)
    with pytest.raises(ValueError, match="lossy-only"):
        W.encode(photo, lossless=True, model=lifted, lifting=True)
    with pytest.raises(TypeError, match="lifting must be a bool"):
        W.encode(photo, quality=50, model=lifted, lifting="yes")
    assert W.decode(W.encode(photo, lossless=True, model=lifted), model=lifted).equal(photo)
    assert lifted.model_id != base.model_id  # the lifting weights are part of what a stream depends on


def test_bad_mode_byte_refused(lifted, photo):
    from pywlc.bitstream import decode_container, reencode

    data = W.encode(photo, quality=40, model=lifted)
    cont = decode_container(data)
    meta = bytearray(cont.metadata["wl"])
    meta[1] = 7
    with pytest.raises(BitstreamError, match="coding mode"):
        W.read_header(reencode(cont, metadata={"wl": bytes(meta)}))


def _cost(u: torch.Tensor, q: torch.Tensor, idx: torch.Tensor, lam: float) -> float:
    a, m = u.abs(), q.abs().double()
    r = torch.where(m > 0, m - T.XI_LOSSY + 0.45, torch.zeros_like(m))
    bits = laplace_nll_bits(q, LOG2_MIN + idx.double() / SCALES_PER_OCTAVE, T.XI_LOSSY)
    return float(((a - r).square() + lam * bits).sum())


def test_rdoq_lambda_zero_is_the_dead_zone_quantiser(base, photo):
    pred = _random_predictor(5)
    p = T.forward(photo[None], False)
    s, code = torch.tensor([T.step_of_code(40)]), torch.tensor([40])
    ref = closed_loop_quantize(p, s, code, pred)
    shapes = [[tuple(b.shape[-2:]) for b in bands] for bands in p.details]
    rq = RdoQuantizer(base.entropy, 3, shapes, 40, 0.0)
    got = closed_loop_quantize(p, s, code, pred, quantize_group=rq)
    for a, b in zip(ref[1], got[1], strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    # The indices it kept are the ones a decoder computes from the final symbols.
    rq.qp.ll = got[0]
    for (j, g, k), idx in rq.indices.items():
        assert torch.equal(idx, pass_indices(base.entropy, rq.qp, j, g, k, 40, False))


def test_rdoq_lowers_the_lagrangian_cost(base, photo):
    """Per pass, RDOQ's choice never costs more (D + lambda R, same scales) than the dead-zone index."""
    p = T.forward(photo[None], False)
    pred = LiftingPredictor(8)  # P = 0: plain 9/7 residuals
    shapes = [[tuple(b.shape[-2:]) for b in bands] for bands in p.details]
    lam = 0.1
    rq = RdoQuantizer(base.entropy, 3, shapes, 48, lam)
    checked = []

    orig = rq._choose

    def spy(u, idx):
        q = orig(u, idx)
        dz = T.quantize(u, 1.0, T.XI_LOSSY)
        checked.append((_cost(u, q, idx, lam), _cost(u, dz, idx, lam), int((q != dz).sum())))
        return q

    rq._choose = spy
    closed_loop_quantize(p, torch.tensor([T.step_of_code(48)]), torch.tensor([48]), pred, quantize_group=rq)
    assert all(c <= d + 1e-9 for c, d, _ in checked)
    assert sum(n for *_, n in checked) > 0  # it did change something


def test_rdoq_streams_decode_and_save_rate(lifted, photo):
    lo = C._encode_at(photo[None], 48, False, lifted, lifting=True, rdoq_lambda=0.0)
    hi = C._encode_at(photo[None], 48, False, lifted, lifting=True, rdoq_lambda=0.3)
    assert len(hi) < len(lo)
    assert _psnr(W.decode(hi, model=lifted), photo) > 30


@pytest.mark.skipif(not (SHARED / "data" / "SPLITS.md").is_file(), reason="needs ../shared/data")
def test_lifting_stage_trains_and_feeds_the_other_stages(tmp_path):
    run = [sys.executable, "-m", "pywlc.train", "wavelet", "--data", str(SHARED / "data"), "--batch", "2",
           "--patch", "64", "--save-every", "1", "--log-every", "1", "--cache", str(tmp_path / "cache")]
    subprocess.run([*run, "--out", str(tmp_path / "lift"), "--stage", "lifting", "--lossless-p", "0",
                    "--steps", "2", "--hidden", "8"], check=True, capture_output=True, timeout=600)
    lift = tmp_path / "lift" / "last.pt"
    assert torch.load(lift, weights_only=False)["config"]["stage"] == "lifting"
    subprocess.run([*run, "--out", str(tmp_path / "ent"), "--stage", "entropy", "--steps", "1", "--lifting",
                    str(lift), "--lifting-p", "1", "--lossless-p", "0", "--init", "wavelet-v1"], check=True,
                   capture_output=True, timeout=600)
    subprocess.run([*run, "--out", str(tmp_path / "pf"), "--stage", "postfilter", "--steps", "1", "--hidden", "8",
                    "--layers", "3", "--lifting", str(lift), "--lossless-p", "0"], check=True,
                   capture_output=True, timeout=600)
    out = tmp_path / "w.pt"
    export = [sys.executable, "-m", "pywlc.train", "wavelet-export", "--entropy", str(tmp_path / "ent" / "last.pt"),
              "--postfilter", str(tmp_path / "pf" / "last.pt"), "--lifting", str(lift), "--out", str(out)]
    subprocess.run(export, check=True, capture_output=True, timeout=600)
    m = WaveletModel.from_state(torch.load(out, weights_only=False), "exported")
    assert m.lifting is not None and m.postfilter is not None and m.postfilter.layers == 3
    img = (torch.rand(3, 40, 48) * 255).byte()
    assert W.decode(W.encode(img, quality=40, model=m), model=m).shape == img.shape
    bad = subprocess.run([*run, "--out", str(tmp_path / "bad"), "--stage", "lifting", "--steps", "1"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "lossless_p must be 0" in bad.stderr


def test_rdoq_on_the_plain_pyramid(base, photo):
    """RDOQ without lifting (mode 0): lambda 0 gives the dead-zone stream byte for byte; the default for models
    without a lifting step stays the dead-zone quantiser (the layered codec's base layer depends on it)."""
    plain = W.encode(photo, quality=45, model=base)
    assert C._encode_at(photo[None], C.quality_code(45), False, base, quality=45.0, rdoq_lambda=0.0) == plain
    assert W.encode(photo, quality=45, model=base, rdoq=False) == plain
    opt = W.encode(photo, quality=45, model=base, rdoq=True)
    assert not W.read_header(opt).lifting and len(opt) < len(plain)
    assert _psnr(W.decode(opt, model=base, postfilter=False), photo) > 30
    with pytest.raises(TypeError, match="rdoq must be a bool"):
        W.encode(photo, quality=45, model=base, rdoq=1)
    with pytest.raises(ValueError, match="single-layer"):
        W.encode(photo, layers=[20, 40], rdoq=True)
    with pytest.raises(ValueError, match="lossy-only"):
        W.encode(photo, lossless=True, model=base, rdoq=True)
    assert len(W.encode(photo, bpp=1.0, model=base, rdoq=True)) * 8 <= 1.0 * photo.shape[1] * photo.shape[2]


def test_cli_info_names_the_mode(lifted, base, photo, tmp_path, capsys):
    from pywlc.cli import main

    for name, data, want in (("a", W.encode(photo, quality=40, model=lifted), "lossy, CDF 9/7 + learned lifting step"),
                             ("b", W.encode(photo, quality=40, model=base), "lossy, CDF 9/7\n"),
                             ("c", W.encode(photo, lossless=True, model=base), "lossless, RCT + integer 5/3")):
        (tmp_path / name).write_bytes(data)
        assert main(["info", str(tmp_path / name)]) == 0
        assert "  mode      " + want in capsys.readouterr().out
