"""pywlc.video.anchors: x264 / x265 through ffmpeg on a tiny 64x48 clip: samples reach the encoder unchanged (x264's
lossless qp 0 round-trips bitwise), intra pictures every GOP, rate ordered by qp, odd 4:2:0 sizes cropped, mono coded
as 4:0:0 (or with neutral chroma) and measured on Y only.  Skipped without ffmpeg (the argument checks run anyway)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

from pywlc.video import anchors
from pywlc.video.anchors import encode_anchor, encode_anchor_curve, encoder_available
from pywlc.video.io import Video
from pywlc.video.metrics import psnr

CODECS = [
    pytest.param(c, marks=pytest.mark.skipif(not encoder_available(c), reason=f"ffmpeg with {c} not installed"))
    for c in ("x264", "x265")
]
needs_x264 = pytest.mark.skipif(not encoder_available("x264"), reason="ffmpeg with libx264 not installed")


def clip(chroma: str = "420", h: int = 48, w: int = 64, t: int = 8) -> Video:
    """A textured pattern panning 2 pixels right and 1 down a frame: compressible, with motion to find."""
    g = torch.Generator().manual_seed(5)
    big = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 2 * h + 2 * t, 2 * w + 4 * t, generator=g) * 255, 2)[0]
    yy, xx = torch.meshgrid(torch.arange(big.shape[1]), torch.arange(big.shape[2]), indexing="ij")
    big = (0.6 * big + 50 * torch.sin(xx / 6.0) * torch.cos(yy / 5.0) + 40).clamp(0, 255).round().to(torch.uint8)
    frames = torch.stack([big[:, t - i:t - i + h, 2 * (t - i):2 * (t - i) + w] for i in range(t)])  # [T, 3, H, W]
    y = frames[:, 0].contiguous()
    if chroma == "mono":
        return Video(y, None, None, "mono")
    if chroma == "444":
        return Video(y, frames[:, 1].contiguous(), frames[:, 2].contiguous(), "444")
    sub = lambda c: c[:, ::2, ::2].contiguous()  # noqa: E731
    return Video(y, sub(frames[:, 1]), sub(frames[:, 2]), "420")


def key_frames(path) -> list[int]:
    out = subprocess.run(["ffprobe", "-loglevel", "error", "-show_entries", "frame=key_frame", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout.split()
    return [i for i, k in enumerate(out) if k == "1"]


@pytest.mark.parametrize("codec", CODECS)
def test_anchor_rate_quality_and_gop(tmp_path, codec):
    v = clip()
    lo, hi = encode_anchor_curve(v, codec, [36, 24], gop=4, workdir=tmp_path, threads=1)
    for r in (lo, hi):
        assert r.codec == codec and r.gop == 4 and r.pix_fmt == "yuv420p" and not r.cropped
        assert r.reference is v and (r.decoded.frames, r.decoded.height, r.decoded.width) == (8, 48, 64)
        assert r.kbps == pytest.approx(8 * r.bytes / 1000 / (8 / 25))
        assert r.seconds > 0 and r.command[0] == "ffmpeg" and "-tune" in r.command
        assert "scenecut=0" in " ".join(r.command)
        stream = tmp_path / f"{codec}-qp{r.qp}{anchors.CODECS[codec][2]}"
        assert stream.stat().st_size == r.bytes
        if shutil.which("ffprobe"):
            assert key_frames(stream) == [0, 4]
        # No SEI left: H.264 NAL type 6 / HEVC types 39, 40 after a start code.
        data = stream.read_bytes()
        nal_types = [data[i + 3] & 0x1F if codec == "x264" else (data[i + 3] >> 1) & 0x3F
                     for i in range(len(data) - 3) if data[i:i + 3] == b"\x00\x00\x01"]
        assert nal_types and not set(nal_types) & ({6} if codec == "x264" else {39, 40})
    q_lo, q_hi = psnr(v, lo.decoded), psnr(v, hi.decoded)
    assert hi.bytes > 1.5 * lo.bytes
    assert 25 < q_lo["y"] < q_hi["y"] < 60 and q_hi["yuv"] > q_lo["yuv"]
    crf = encode_anchor(v, codec, crf=30, gop=8)
    assert crf.crf == 30 and crf.qp is None and crf.bytes > 0 and psnr(v, crf.decoded)["y"] > 25


@needs_x264
@pytest.mark.parametrize("chroma", ["420", "444", "mono"])
def test_x264_lossless_carries_samples_unchanged(chroma):
    """x264 at qp 0 is lossless: any resampling or range conversion on the way in or out would show."""
    v = clip(chroma, 48, 64 if chroma == "420" else 63, t=4)
    r = encode_anchor(v, "x264", qp=0, gop=4)
    assert r.pix_fmt == {"420": "yuv420p", "444": "yuv444p", "mono": "gray"}[chroma] and not r.cropped
    assert r.decoded.chroma == chroma
    for a, b in zip(r.reference.planes(), r.decoded.planes(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("codec", CODECS)
def test_odd_420_cropped_and_mono(codec):
    v = clip("420", 47, 63, t=4)
    r = encode_anchor(v, codec, qp=22, gop=4)
    assert r.cropped and (r.reference.height, r.reference.width) == (46, 62)
    assert torch.equal(r.reference.y, v.y[:, :46, :62]) and torch.equal(r.reference.u, v.u[:, :23, :31])
    assert psnr(r.reference, r.decoded)["y"] > 35
    m = clip("mono", 47, 63, t=4)
    r = encode_anchor(m, codec, qp=22, gop=4)
    assert not r.cropped and r.pix_fmt == "gray" and r.decoded.chroma == "mono"
    assert set(psnr(m, r.decoded)) == {"y", "yuv", "per_frame"} and psnr(m, r.decoded)["y"] > 35


@needs_x264
def test_mono_without_gray_support_uses_neutral_chroma(monkeypatch):
    monkeypatch.setattr(anchors, "_encoder_pix_fmts", lambda encoder: ("yuv420p", "yuv444p"))
    m = clip("mono", 47, 63, t=4)
    r = encode_anchor(m, "x264", qp=0, gop=4)
    assert r.pix_fmt == "yuv420p" and r.cropped and r.decoded.chroma == "mono"
    assert torch.equal(r.decoded.y, m.y[:, :46, :62])  # Y exactly: no full/limited range conversion of grey


def test_argument_errors():
    v = clip(t=2)
    for kw, match in [
        ({"qp": 30, "crf": 20}, "exactly one"),
        ({}, "exactly one"),
        ({"qp": 52}, "qp must"),
        ({"qp": 30.0}, "qp must"),
        ({"crf": -1}, "crf must"),
        ({"qp": 30, "gop": 0}, "gop must"),
        ({"qp": 30, "threads": 0}, "threads must"),
    ]:
        with pytest.raises(ValueError, match=match):
            encode_anchor(v, "x264", **{"gop": 4, **kw})
    with pytest.raises(ValueError, match="codec must"):
        encode_anchor(v, "vp9", qp=30, gop=4)
    with pytest.raises(ValueError, match="no frames"):
        encode_anchor(v.slice(0, 0), "x264", qp=30, gop=4)
    with pytest.raises(ValueError, match="qps, not qp"):
        encode_anchor_curve(v, "x264", [30], gop=4, qp=3)
