"""Smoke run of ``benchmarks/bench_image_codec.py --quick`` on one small picture: the harness writes well-formed
results (RD points, BD-rates, lossless bpsp checked bitwise, speed) and the RD plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _ours_available() -> bool:
    try:
        from pywlc.codecs import wavelet

        wavelet.decode(wavelet.encode(torch.full((3, 16, 16), 128, dtype=torch.uint8), quality=50.0))
        return True
    except Exception:
        return False


def _run(tmp_path: Path, *extra: str) -> dict:
    g = np.random.default_rng(3)
    yy, xx = np.mgrid[0:180, 0:200]
    img = 128 + 60 * np.sin(xx / 9)[..., None] * np.cos(yy / 7)[..., None] + g.normal(0, 6, (180, 200, 3))
    src = tmp_path / "tiny.png"
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(src)
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_image_codec.py"), "--quick", "--image", str(src)]
    cmd += ["--downscale", "1", "--no-progress", "--out", str(out), *extra]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.with_suffix(".png").stat().st_size > 1000
    return json.loads(out.read_text())


def _check(result: dict, lossy: set[str], lossless: set[str]) -> None:
    assert result["torch"] and result["device"] and result["git_commit"] is not None
    assert set(result["lossy"]) >= lossy and set(result["lossless"]) >= lossless
    for name, curve in result["lossy"].items():
        assert len(curve["points"]) == 3
        for p in curve["points"]:
            # The ablation rows are compared on PSNR only (bench_image_codec: with_ms_ssim=False).
            assert p["bpp"] > 0 and p["psnr"] > 15 and (p["ms_ssim"] is not None or name not in lossy)
            assert p["images"][0]["bytes"] * 8 / (180 * 200) == pytest.approx(p["images"][0]["bpp"])
    for r in result["lossless"].values():
        assert r["all_bitwise"] and 0 < r["bpsp_mean"] < 8
    ref = result["bd_rate"][f"{sorted(lossy - {'jpeg2000'})[0]} vs jpeg2000"]
    assert set(ref["psnr"]) == {"per_image", "mean_curve", "images"}
    assert ref["psnr"]["per_image"]["n"] + ref["psnr"]["per_image"]["failed"] == 1
    for s in result["speed"].values():
        assert s["encode_ms"]["median"] > 0 and s["decode_ms"]["median"] > 0 and len(s["encode_ms"]["all"]) == 2


def test_quick_anchors_only(tmp_path):
    result = _run(tmp_path, "--no-ours", "--codecs", "jpeg,jpeg2000,png")
    _check(result, {"jpeg", "jpeg2000"}, {"png", "jpeg2000-lossless"})
    assert "ours" not in result["lossy"]


@pytest.mark.skipif(not _ours_available(), reason="pywlc.codecs.wavelet or its shipped weights are not available")
def test_quick_with_ours(tmp_path):
    result = _run(tmp_path, "--codecs", "jpeg,jpeg2000,png")
    _check(result, {"ours", "jpeg", "jpeg2000"}, {"ours", "png"})
    assert "ours vs jpeg2000" in result["bd_rate"] and "ours vs jpeg" in result["bd_rate"]
    assert "ours" in result["speed"] and "ours lossless" in result["speed"]


class _FakeWavelet:
    """Stands in for ``pywlc.codecs.wavelet`` (JPEG 2000 underneath; quality -> bpp; lifting and post-filter
    change the stream / picture) so the harness's handling of ours and its ablations is tested without weights."""

    def __init__(self, has_lifting: bool) -> None:
        from pywlc import anchors

        self.j2k, self.ll = anchors.get("jpeg2000"), anchors.get("jpeg2000-lossless")
        self.has_lifting = has_lifting

    def encode(self, img, quality=None, bpp=None, lossless=False, **kw):
        if kw and not self.has_lifting:
            raise TypeError(f"encode() got an unexpected keyword argument {next(iter(kw))!r}")
        lifting, rdoq = kw.get("lifting", True), kw.get("rdoq", True)
        if lossless:
            return b"L" + self.ll.encode(img)
        rate = (bpp if bpp is not None else quality / 40) * (1.0 if lifting else 1.2) * (0.95 if rdoq else 1.0)
        return bytes([65 + 2 * lifting + rdoq]) + self.j2k.encode(img, rate)

    def decode(self, data, postfilter=True):
        x = (self.ll if data[:1] == b"L" else self.j2k).decode(data[1:])
        return x if postfilter or data[:1] == b"L" else (x.int() ^ 1).to(torch.uint8)


@pytest.mark.parametrize("has_lifting", [True, False])
def test_quick_with_a_stand_in_codec(tmp_path, monkeypatch, has_lifting):
    import importlib.util

    import pywlc.codecs

    fake = _FakeWavelet(has_lifting)
    monkeypatch.setitem(sys.modules, "pywlc.codecs.wavelet", fake)
    monkeypatch.setattr(pywlc.codecs, "wavelet", fake, raising=False)
    spec = importlib.util.spec_from_file_location("bench_image_codec", ROOT / "benchmarks" / "bench_image_codec.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_image_codec", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    src = tmp_path / "tiny.png"
    g = np.random.default_rng(5)
    Image.fromarray(g.integers(60, 200, (170, 190, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "r.json"
    argv = ["--quick", "--image", str(src), "--downscale", "1", "--no-progress", "--codecs", "jpeg,jpeg2000,png"]
    assert bench.main([*argv, "--rate-targeted", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    full = result["lossy"]["ours"]["points"]
    if has_lifting:
        assert set(result["lossy"]) == {"ours", "ours:+lifting+rdoq", "ours:+lifting", "ours:+rdoq",
                                        "ours:entropy-only", "ours@bpp", "jpeg", "jpeg2000"}
        # +lifting+rdoq decodes the default stream without the post-filter.
        both = result["lossy"]["ours:+lifting+rdoq"]["points"]
        assert [p["bpp"] for p in full] == [p["bpp"] for p in both]
        assert all(a["psnr"] > b["psnr"] for a, b in zip(full, both, strict=True))
        for name in ("ours:+lifting", "ours:+rdoq", "ours:entropy-only"):  # streams of their own
            assert all(a["bpp"] != b["bpp"] for a, b in zip(full, result["lossy"][name]["points"], strict=True))
    else:
        # Without a lifting switch, entropy-only is the default stream decoded without the post-filter.
        assert set(result["lossy"]) == {"ours", "ours:entropy-only", "ours@bpp", "jpeg", "jpeg2000"}
        no_post = result["lossy"]["ours:entropy-only"]["points"]
        assert [p["bpp"] for p in full] == [p["bpp"] for p in no_post]
        assert any("no lifting=/rdoq= switches" in n for n in result["notes"])
    assert result["lossless"]["ours"]["all_bitwise"]
    assert {"ours:entropy-only vs jpeg2000", "ours vs jpeg"} <= set(result["bd_rate"])
    assert {"ours", "ours lossless", "jpeg", "png"} <= set(result["speed"])


def test_bd_rate_helper():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_image_codec_bd", ROOT / "benchmarks" / "bench_image_codec.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    try:
        spec.loader.exec_module(bench)
        rate, quality = [0.1, 0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.0, 37.0, 40.0]
        r = bench.bd_rate(rate, quality, [0.8 * v for v in rate], quality)
        assert r["bd_rate"] == pytest.approx(-20.0, abs=1e-6) and r["overlap"] == pytest.approx(1.0)
        # A saturated anchor (repeated points, as JPEG 2000 on a smooth picture) is reduced to its monotone part.
        r = bench.bd_rate([*rate, 2.0, 2.0], [*quality, 41.0, 41.0], rate, quality)
        assert "bd_rate" in r
        assert "error" in bench.bd_rate(rate, quality, rate, [q + 20 for q in quality])  # no overlap
    finally:
        del sys.modules[spec.name]


def test_fast_ms_ssim_equals_pytorch_msssim():
    import importlib.util

    from pytorch_msssim import ms_ssim

    spec = importlib.util.spec_from_file_location("bench_image_codec_ms", ROOT / "benchmarks" / "bench_image_codec.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    try:
        spec.loader.exec_module(bench)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (3, 181, 203), generator=g, dtype=torch.uint8)  # odd sides: the padded pooling
        y = (x.int() + torch.randint(-20, 21, x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
        expected = ms_ssim(x[None].float(), y[None].float(), data_range=255.0).item()
        # scipy filters in float64, torch in float32: measured 1.3e-6 apart here (1e-4 of 1 - MS-SSIM).
        assert bench.ms_ssim(x, y) == pytest.approx(expected, abs=5e-6)
        assert bench.ms_ssim(x[:, :100], y[:, :100]) is None
    finally:
        del sys.modules[spec.name]
