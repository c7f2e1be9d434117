"""``wlc video``: encode / decode / extract / info on a tiny Y4M clip, and one-line user errors."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from pywlc.cli import main
from pywlc.video.io import Video, read_video, write_y4m


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 80, 140, generator=g) * 255, 3, 1, 1)[0, 0]
    y = torch.stack([base[t : t + 64, 2 * t : 2 * t + 128] for t in range(6)]).round().to(torch.uint8)
    u = torch.full((6, 32, 64), 120, dtype=torch.uint8)
    path = d / "in.y4m"
    write_y4m(path, Video(y, u, u.clone(), "420", Fraction(30)))
    return d, path


def test_encode_info_extract_decode(clip, capsys):
    d, src = clip
    wlv = d / "out.wlv"
    assert main(["video", "encode", str(src), str(wlv), "--quality", "45", "--gop", "4", "--segment", "4",
                 "--quiet"]) == 0  # fmt: skip
    assert "6 frames 128x64 420" in capsys.readouterr().out
    assert main(["video", "info", str(wlv)]) == 0
    out = capsys.readouterr().out
    assert "WL-SVC stream" in out and "segment frames 0..3" in out and "mv1:" in out
    half = d / "half.wlv"
    assert main(["video", "extract", str(wlv), str(half), "--fps", "1/2", "--resolution", "1/2"]) == 0
    assert main(["video", "decode", str(half), str(d / "half.y4m"), "--quiet"]) == 0
    v = read_video(d / "half.y4m")
    assert (v.frames, v.height, v.width, v.fps) == (3, 32, 64, Fraction(15))
    assert main(["video", "decode", str(wlv), str(d / "frames"), "--quiet"]) == 0
    assert len(list((d / "frames").glob("*.png"))) == 6


@pytest.mark.parametrize("argv,needle", [
    (["video", "encode", "missing.y4m", "o.wlv", "--quality", "40"], "not found"),
    (["video", "encode", "{src}", "o.wlv"], "exactly one of --quality"),
    (["video", "encode", "{src}", "o.wlv", "--quality", "140"], "--quality must be in [0, 100]"),
    (["video", "encode", "{src}", "o.wlv", "--quality", "40", "--gop", "6"], "gop must be a power of two"),
    (["video", "decode", "{src}", "o.y4m"], "invalid stream"),
    (["video", "extract", "{src}", "o.wlv", "--fps", "2/3"], "--fps must be"),
    (["video", "extract", "{wlv}", "o.wlv", "--resolution", "1/8"], "decodes at 1/2 at the lowest"),
])  # fmt: skip
def test_user_errors_are_one_line(clip, capsys, argv, needle, monkeypatch):
    d, src = clip
    monkeypatch.chdir(d)
    wlv = d / "small.wlv"
    if not wlv.exists():
        assert main(["video", "encode", str(src), str(wlv), "--quality", "30", "--gop", "2", "--segment", "2",
                     "--quiet"]) == 0  # fmt: skip
        capsys.readouterr()
    assert main([a.replace("{src}", str(src)).replace("{wlv}", str(wlv)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wlc: error") and needle in err[0], err


def test_quality_layers_encode_info_extract_decode(clip, capsys):
    d, src = clip
    wlv = d / "layered.wlv"
    assert main(["video", "encode", str(src), str(wlv), "--quality", "30", "--layers", "45,60", "--gop", "4",
                 "--segment", "4", "--frames", "4", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["video", "info", str(wlv)]) == 0
    out = capsys.readouterr().out
    assert "3 quality layer(s)" in out and "t0q2:" in out and "quality layers (bytes, motion excluded): q0:" in out
    cut = d / "cut.wlv"
    assert main(["video", "extract", str(wlv), str(cut), "--layers", "2", "--fps", "1/2", "--resolution", "1/2"]) == 0
    assert "2 quality layer(s)" in capsys.readouterr().out
    assert main(["video", "decode", str(cut), str(d / "cut.y4m"), "--quiet"]) == 0
    assert main(["video", "decode", str(wlv), str(d / "full2.y4m"), "--layers", "2", "--fps", "1/2", "--resolution",
                 "1/2", "--quiet"]) == 0  # fmt: skip
    a, b = read_video(d / "cut.y4m"), read_video(d / "full2.y4m")
    assert (a.frames, a.height, a.width) == (2, 32, 64)
    assert all(torch.equal(x, y) for x, y in zip(a.planes(), b.planes(), strict=True))


@pytest.mark.parametrize("argv,needle", [
    (["video", "encode", "{src}", "o.wlv", "--quality", "30", "--layers", "45,x"], "--layers must be qualities"),
    (["video", "encode", "{src}", "o.wlv", "--quality", "30", "--layers", "20"], "must increase"),
    (["video", "encode", "{src}", "o.wlv", "--quality", "30", "--layers", "140"], "in [0, 100]"),
    (["video", "encode", "{src}", "o.wlv", "--kbps", "300", "--layers", "60"], "--layers needs --quality"),
    (["video", "extract", "{wlv}", "o.wlv", "--layers", "0"], "--layers must be a positive"),
    (["video", "decode", "{wlv}", "o.y4m", "--layers", "two"], "--layers must be a positive"),
])  # fmt: skip
def test_quality_layer_user_errors_are_one_line(clip, capsys, argv, needle, monkeypatch):
    test_user_errors_are_one_line(clip, capsys, argv, needle, monkeypatch)
