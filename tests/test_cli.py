"""``wlc`` end to end on two small pictures with an untrained tiny checkpoint; BD-rate on known cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from pywlc.cli import main
from pywlc.cli.bdrate import bd_psnr, bd_rate
from pywlc.zoo import build, save_checkpoint

TINY = dict(N=16, M=24, Z=16, slices=3, depth=1, slice_hidden=(16, 16))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    imgs = d / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:176, 0:192]
    for i in range(2):
        base = np.stack([yy * (1 + i), xx, (yy + xx) // 2], axis=-1) % 256
        arr = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(imgs / f"img{i}.png")
    Image.fromarray(arr[..., 0]).save(d / "gray.png")
    torch.manual_seed(0)
    for arch in ("weconvene", "baseline"):
        m = build(arch, TINY)
        m.update(force=True)
        save_checkpoint(d / f"{arch}.pt", m, config=TINY, quality=3, lmbda=0.0067)
    return d


def test_encode_info_decode(work, capsys):
    src, out, rec = work / "imgs" / "img0.png", work / "a.wlc", work / "a.png"
    assert main(["encode", str(src), str(out), "--checkpoint", str(work / "weconvene.pt")]) == 0
    assert "bpp" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "WECONVENE" in text and "192x176 RGB" in text and "quality 3" in text
    assert all(f"layer {i}" in text for i in range(3))
    assert main(["decode", str(out), str(rec), "--checkpoint", str(work / "weconvene.pt")]) == 0
    with Image.open(rec) as im:
        assert im.size == (192, 176) and im.mode == "RGB"
    # Gray in, gray out.
    assert main(["encode", str(work / "gray.png"), str(work / "g.wlc"), "--checkpoint", str(work / "baseline.pt")]) == 0
    assert main(["decode", str(work / "g.wlc"), str(work / "g.png"), "--checkpoint", str(work / "baseline.pt")]) == 0
    with Image.open(work / "g.png") as im:
        assert im.mode == "L"


def _fails(argv, capsys, match, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    return err


def test_errors_are_one_line(work, capsys):
    src, ck = str(work / "imgs" / "img0.png"), str(work / "weconvene.pt")
    err = _fails(["encode", "missing.png", str(work / "x.wlc"), "--checkpoint", ck], capsys, "input image not found")
    assert err.count("\n") == 1
    _fails(["encode", src, str(work / "x.wlc"), "--codec", "weconvene", "--quality", "9"], capsys,
           "--quality must be in [1, 6]")
    _fails(["encode", src, str(work / "x.wlc"), "--codec", "weconvene", "--quality", "3"], capsys,
           "weconvene-compact-q3.pt")
    _fails(["encode", src, str(work / "x.wlc"), "--checkpoint", ck, "--quality", "5"], capsys, "trained for quality 3")
    _fails(["encode", src, str(work / "x.wlc"), "--checkpoint", "nope.pt"], capsys, "checkpoint not found")
    _fails(["encode", src, str(work / "x.wlc"), "--checkpoint", src], capsys, "not a readable checkpoint")
    (work / "notimg.png").write_bytes(b"hello")
    _fails(["encode", str(work / "notimg.png"), str(work / "x.wlc"), "--checkpoint", ck], capsys, "wlc: error")
    _fails(["decode", "missing.wlc", "o.png", "--checkpoint", ck], capsys, "input stream not found")
    assert main(["encode", src, str(work / "b.wlc"), "--checkpoint", ck]) == 0
    data = bytearray((work / "b.wlc").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (work / "bad.wlc").write_bytes(bytes(data))
    _fails(["decode", str(work / "bad.wlc"), str(work / "o.png"), "--checkpoint", ck], capsys, "invalid stream")
    _fails(["info", str(work / "bad.wlc")], capsys, "CRC32 mismatch")
    (work / "short.wlc").write_bytes(bytes(data[:20]))
    _fails(["info", str(work / "short.wlc")], capsys, "truncated")
    _fails(["decode", str(work / "b.wlc"), str(work / "o.png")], capsys, "weconvene-compact-q3.pt")
    bl = str(work / "baseline.pt")
    _fails(["decode", str(work / "b.wlc"), str(work / "o.png"), "--checkpoint", bl], capsys, "the model is")
    assert main(["encode"]) == 2  # usage error from argparse
    capsys.readouterr()
    _fails(["encode", src, str(work / "x.wlc"), "--quality", "-1", "--checkpoint", ck], capsys, "got -1")
    _fails(["eval", str(work / "nodir"), "--codecs", "jpeg"], capsys, "image folder not found")
    _fails(["eval", str(work / "imgs"), "--codecs", "png"], capsys, "unknown codec 'png'")


def test_eval_end_to_end(work, capsys):
    out = work / "results.json"
    argv = ["eval", str(work / "imgs"), "--codecs", "weconvene,baseline,jpeg,webp,jpeg2000", "--quiet"]
    argv += ["--checkpoints", str(work / "weconvene.pt"), str(work / "baseline.pt"), "--out", str(out)]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert res["images"] == ["img0.png", "img1.png"]
    assert set(res["results"]) == {"weconvene", "baseline", "jpeg", "webp", "jpeg2000"}
    for codec, pts in res["results"].items():
        assert len(pts) == (1 if codec in ("weconvene", "baseline") else 6)
        for p in pts:
            assert len(p["images"]) == 2
            for r in p["images"]:
                assert math.isclose(r["bpp"], 8 * r["bytes"] / (192 * 176))
                assert r["psnr"] > 5 and 0 < r["ms_ssim"] <= 1 and r["encode_s"] > 0 and r["decode_s"] > 0
    bd = res["bd_rate"]
    assert bd["anchor"] == "jpeg"
    assert "error" in bd["codecs"]["weconvene"]["psnr"]  # one RD point: no Bjøntegaard fit
    assert isinstance(bd["codecs"]["webp"]["psnr"]["cubic"], float)
    assert (work / "results.png").stat().st_size > 1000
    assert "BD-rate webp vs jpeg" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_bd_rate_known_cases(method):
    psnr = [30.0, 33.0, 36.0, 39.0, 42.0]
    anchor = [0.2, 0.35, 0.6, 1.1, 2.0]
    # The test codec needs 80% of the anchor's rate at every quality: BD-rate is exactly -20%, any fit.
    assert bd_rate(anchor, psnr, [0.8 * r for r in anchor], psnr, method) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(anchor, psnr, anchor, psnr, method) == pytest.approx(0.0, abs=1e-12)
    # PSNR linear in log10(rate) (6 dB per doubling is 19.93 dB/decade): a +1 dB shift at equal rate is a rate
    # factor of 10**(-1/k), and its BD-PSNR is +1 dB.
    k = 20.0
    rates = [0.1, 0.2, 0.4, 0.8, 1.6]
    q_a = [k * math.log10(r) + 40 for r in rates]
    q_t = [q + 1.0 for q in q_a]
    assert bd_rate(rates, q_a, rates, q_t, method) == pytest.approx((10 ** (-1 / k) - 1) * 100, abs=1e-9)
    assert bd_psnr(rates, q_a, rates, q_t, method) == pytest.approx(1.0, abs=1e-9)


def test_bd_rate_hand_computed_partial_overlap():
    # log(rate) = q / 10 (anchor) and q / 10 + 0.1 (test) over q in [0, 3] and [1, 4]: the fits are exact,
    # the common interval is [1, 3], the mean log difference 0.1, the BD-rate 100 * (e^0.1 - 1) = 10.517%.
    q_a, q_t = [0, 1, 2, 3], [1, 2, 3, 4]
    r_a = [math.exp(q / 10) for q in q_a]
    r_t = [math.exp(q / 10 + 0.1) for q in q_t]
    assert bd_rate(r_a, q_a, r_t, q_t) == pytest.approx(100 * (math.exp(0.1) - 1), abs=1e-9)
    with pytest.raises(ValueError, match="at least 4"):
        bd_rate(r_a[:3], q_a[:3], r_t, q_t)
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(r_a, q_a, r_t, [10, 11, 12, 13])


def test_hostile_inputs(work, capsys, tmp_path):
    """Issue 10, finding 5: bombs, 16-bit PNGs, output paths checked before the work, --quality -1."""
    from test_imageio import png_header_only

    ck = str(work / "weconvene.pt")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(60000, 60000))
    err = _fails(["encode", str(bomb), str(tmp_path / "b.wlc"), "--checkpoint", ck], capsys, "max-pixels")
    assert err.count("\n") == 1 and "DecompressionBomb" not in err
    bomb.write_bytes(png_header_only(4000, 3000))
    _fails(["encode", str(bomb), str(tmp_path / "b.wlc"), "--checkpoint", ck, "--max-pixels", "1000000"], capsys,
           "exceeds the limit of 1000000")  # fmt: skip
    # 16-bit grey: scaled with rounding, said on stderr, coded as grey.
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert main(["encode", str(tmp_path / "g16.png"), str(tmp_path / "g16.wlc"), "--checkpoint", ck]) == 0
    assert "16-bit samples scaled to 8 bits" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "g16.wlc"), str(tmp_path / "g16d.png"), "--checkpoint", ck]) == 0
    with Image.open(tmp_path / "g16d.png") as im:
        assert im.mode == "L" and (np.asarray(im) == 255).mean() < 0.1
    # Output paths are checked before any work: nothing is loaded or decoded for a bad one.
    src = str(work / "imgs" / "img0.png")
    _fails(["encode", src, str(tmp_path / "nodir" / "x.wlc"), "--checkpoint", ck], capsys, "output folder")
    _fails(["decode", str(tmp_path / "g16.wlc"), str(tmp_path / "out.xyz"), "--checkpoint", ck], capsys, "extension")
    _fails(["decode", str(tmp_path / "g16.wlc"), str(tmp_path), "--checkpoint", ck], capsys, "directory")
    _fails(["eval", str(work / "imgs"), "--codecs", "jpeg", "--out", str(tmp_path / "no" / "r.json")], capsys,
           "output folder")  # fmt: skip
    _fails(["decode", str(tmp_path / "g16.wlc"), str(tmp_path / "o.png"), "--checkpoint", ck, "--max-pixels", "100"],
           capsys, "limit of 100 pixels")  # fmt: skip


def test_info_reads_only_the_header(work, tmp_path):
    """``wlc info`` imports no codec module and builds no model (it took 5 s and 940 MB)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "i.wlc"
    assert main(["encode", str(work / "imgs" / "img1.png"), str(out), "--checkpoint", str(work / "baseline.pt")]) == 0
    code = (
        "import sys; from pywlc.cli import main; rc = main(['info', sys.argv[1]]); "
        "print('HEAVY', sorted(m for m in ('compressai', 'pywlc.models', 'pywlc.codecs.image') if m in sys.modules)); "
        "sys.exit(rc)"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "WECONVENE_BASELINE" in p.stdout and "HEAVY []" in p.stdout, p.stdout


def test_layers_on_a_single_layer_stream(work, capsys, tmp_path):
    # --layers K > 1 asks for quality layers a one-layer stream does not have: one error line for decode and
    # extract alike; --layers 1 is that stream itself.
    src, s = str(work / "imgs" / "img0.png"), tmp_path / "s.wlc"
    assert main(["encode", src, str(s), "--quality", "40"]) == 0
    for argv in (["decode", str(s), str(tmp_path / "o.png"), "--layers", "2"],
                 ["extract", str(s), str(tmp_path / "e.wlc"), "--layers", "3"]):
        _fails(argv, capsys, "is not a layered stream (it has one quality layer)")
    assert main(["decode", str(s), str(tmp_path / "o.png"), "--layers", "1"]) == 0
    assert main(["extract", str(s), str(tmp_path / "e.wlc"), "--layers", "1", "--resolution", "1/2"]) == 0
