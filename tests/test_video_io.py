"""pywlc.video.io and .metrics: Y4M / raw YUV / PNG-folder round trips for 4:2:0, 4:4:4 and mono at odd sizes,
header and truncation errors, the colour conversion against its formula, PSNR against a hand computation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from pywlc import BitstreamError
from pywlc.video.io import Video, read_video, rgb_to_yuv, write_png_folder, write_y4m, write_yuv, yuv_to_rgb
from pywlc.video.metrics import PSNR_CAP, psnr

SIZES = [(5, 7), (8, 6), (1, 1)]  # (H, W): odd both ways, even, one pixel


def random_video(chroma: str, h: int = 5, w: int = 7, t: int = 3, seed: int = 0, fps=Fraction(30000, 1001)) -> Video:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 256, (t, h, w), generator=g, dtype=torch.uint8)
    if chroma == "mono":
        return Video(y, None, None, "mono", fps)
    hc, wc = ((h + 1) // 2, (w + 1) // 2) if chroma == "420" else (h, w)
    u = torch.randint(0, 256, (t, hc, wc), generator=g, dtype=torch.uint8)
    v = torch.randint(0, 256, (t, hc, wc), generator=g, dtype=torch.uint8)
    return Video(y, u, v, chroma, fps)


def assert_same(a: Video, b: Video) -> None:
    assert (a.chroma, a.frames, a.height, a.width) == (b.chroma, b.frames, b.height, b.width)
    for pa, pb in zip(a.planes(), b.planes(), strict=True):
        assert torch.equal(pa, pb)


# --- Video -------------------------------------------------------------------------------------------------------


def test_video_validation_names_the_field():
    v = random_video("420", 5, 7)
    assert (v.frames, v.height, v.width) == (3, 5, 7) and v.u.shape == (3, 3, 4)
    with pytest.raises(ValueError, match="^u must"):
        Video(v.y, v.u[:, :2], v.v, "420")
    with pytest.raises(ValueError, match="^v must"):
        Video(v.y, v.u, v.v.int(), "420")
    with pytest.raises(ValueError, match="^y must"):
        Video(v.y.float(), v.u, v.v, "420")
    with pytest.raises(ValueError, match="^u must be None"):
        Video(v.y, v.u, None, "mono")
    with pytest.raises(ValueError, match="chroma"):
        Video(v.y, v.u, v.v, "422")
    with pytest.raises(ValueError, match="fps"):
        Video(v.y, v.u, v.v, "420", fps=0)
    assert Video(v.y, v.u, v.v, "420", fps="30000/1001").fps == Fraction(30000, 1001)
    assert Video(v.y, v.u, v.v, "420", fps=29.97).fps == Fraction(2997, 100)
    part = v.slice(1, 3)
    assert part.frames == 2 and torch.equal(part.u, v.u[1:3]) and part.fps == v.fps
    assert len(v.planes()) == 3 and len(random_video("mono").planes()) == 1


# --- round trips -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chroma", ["420", "444", "mono"])
@pytest.mark.parametrize("hw", SIZES)
def test_y4m_and_yuv_round_trip(tmp_path, chroma, hw):
    v = random_video(chroma, *hw)
    write_y4m(tmp_path / "a.y4m", v)
    back = read_video(tmp_path / "a.y4m")
    assert_same(v, back)
    assert back.fps == Fraction(30000, 1001)
    header = (tmp_path / "a.y4m").read_bytes().split(b"\n")[0].decode()
    tag = {"420": "C420jpeg", "444": "C444", "mono": "Cmono"}[chroma]
    assert header == f"YUV4MPEG2 W{hw[1]} H{hw[0]} F30000:1001 Ip A1:1 {tag}"
    fmt = {"420": "yuv420p", "444": "yuv444p", "mono": "gray"}[chroma]
    write_yuv(tmp_path / "a.yuv", v)
    back = read_video(tmp_path / "a.yuv", size=(hw[1], hw[0]), pix_fmt=fmt, fps=50)
    assert_same(v, back)
    assert back.fps == 50
    # The raw file is exactly the planes, frame after frame (ffmpeg's layout).
    want = b"".join(p[i].numpy().tobytes() for i in range(v.frames) for p in v.planes())
    assert (tmp_path / "a.yuv").read_bytes() == want


def test_start_and_max_frames(tmp_path):
    v = random_video("420", 5, 7, t=6)
    write_y4m(tmp_path / "a.y4m", v)
    write_yuv(tmp_path / "a.yuv", v)
    for kw in ({}, {"size": (7, 5), "pix_fmt": "yuv420p"}):
        path = tmp_path / ("a.yuv" if kw else "a.y4m")
        assert_same(read_video(path, start=2, max_frames=3, **kw), v.slice(2, 5))
        assert_same(read_video(path, start=4, **kw), v.slice(4, 6))
        assert_same(read_video(path, max_frames=10, **kw), v)
        assert read_video(path, max_frames=0, **kw).frames == 0
        with pytest.raises(ValueError, match="start=6"):
            read_video(path, start=6, **kw)
        with pytest.raises(ValueError, match="max_frames"):
            read_video(path, max_frames=-1, **kw)


def test_y4m_foreign_headers_and_frame_parameters(tmp_path):
    """Other 4:2:0 tags, no colour tag, frame headers with parameters, X extensions and F0:0 are all read."""
    v = random_video("420", 3, 5, t=2)
    planes = [b"".join(p[i].numpy().tobytes() for p in v.planes()) for i in range(2)]
    for tag in ("C420mpeg2 XYSCSS=420MPEG2", "C420paldv", "C420", ""):
        data = f"YUV4MPEG2 W5 H3 F0:0 It A0:0 {tag}\n".encode() + b"FRAME Ixyz\n" + planes[0] + b"FRAME\n" + planes[1]
        (tmp_path / "b.y4m").write_bytes(data)
        back = read_video(tmp_path / "b.y4m")
        assert_same(v, back)
        assert back.fps == 25
        assert_same(read_video(tmp_path / "b.y4m", start=1), v.slice(1, 2))


def test_y4m_errors(tmp_path):
    p = tmp_path / "bad.y4m"
    with pytest.raises(FileNotFoundError):
        read_video(p)
    frame = bytes(5 * 3 + 2 * 2 * 3)
    for header, match in [
        (b"YUV4MPEG3 W5 H3\n", "signature"),
        (b"YUV4MPEG2 W5\n", "W and H"),
        (b"YUV4MPEG2 W5 H0\n", "H0"),
        (b"YUV4MPEG2 W5 Hx\n", "Hx"),
        (b"YUV4MPEG2 W5 H3 F30\n", "F30"),
        (b"YUV4MPEG2 W5 H3 C422\n", "C422"),
        (b"YUV4MPEG2 W5 H3 C420p10\n", "C420p10"),
        (b"YUV4MPEG2 W5 H3 Im\n", "Im"),
        (b"YUV4MPEG2 W5 H3" + b" X" * 3000, "end of line"),
    ]:
        p.write_bytes(header + b"FRAME\n" + frame)
        with pytest.raises(ValueError, match=match):
            read_video(p)
    good = b"YUV4MPEG2 W5 H3 C420jpeg\n"
    p.write_bytes(good + b"FRAME\n" + frame + b"FRAME\n" + frame[:-1])
    with pytest.raises(BitstreamError, match="frame 1 is truncated"):
        read_video(p)
    with pytest.raises(BitstreamError, match="frame 1 is truncated"):  # also when only skipped over
        read_video(p, start=2)
    assert read_video(p, max_frames=1).frames == 1  # the frames before the damage can be read
    p.write_bytes(good + b"FRAME\n" + frame + b"FRA")
    with pytest.raises(BitstreamError, match="frame 1 is truncated"):
        read_video(p)
    p.write_bytes(good + b"FRAME\n" + frame + b"JUNK\n" + frame)
    with pytest.raises(BitstreamError, match="bad frame marker at frame 1"):
        read_video(p)
    p.write_bytes(b"YUV4MPEG2 W50000 H40000\nFRAME\n")
    with pytest.raises(ValueError, match="max_pixels"):
        read_video(p, max_pixels=1 << 20)
    with pytest.raises(BitstreamError, match="frame 0 is truncated"):
        read_video(p)
    p.write_bytes(good + (b"FRAME\n" + frame) * 4)
    with pytest.raises(ValueError, match="max_pixels"):  # 4 x 15 samples > 50
        read_video(p, max_pixels=50)
    assert read_video(p, max_pixels=50, max_frames=3).frames == 3
    with pytest.raises(ValueError, match="extension"):
        (tmp_path / "a.mp4").write_bytes(b"")
        read_video(tmp_path / "a.mp4")


def test_raw_yuv_errors(tmp_path):
    p = tmp_path / "a.yuv"
    p.write_bytes(bytes((15 + 2 * 6) * 2 + 4))  # 5x3 yuv420p frames are 27 bytes
    with pytest.raises(ValueError, match="size=\\(W, H\\) and pix_fmt"):
        read_video(p)
    with pytest.raises(ValueError, match="size=\\(W, H\\) and pix_fmt"):
        read_video(p, size=(5, 3))
    with pytest.raises(ValueError, match="pix_fmt must"):
        read_video(p, size=(5, 3), pix_fmt="nv12")
    with pytest.raises(ValueError, match="size must"):
        read_video(p, size=(5, 0), pix_fmt="gray")
    with pytest.raises(BitstreamError, match="frame 2 is truncated \\(4 bytes\\)"):
        read_video(p, size=(5, 3), pix_fmt="yuv420p")
    assert read_video(p.with_suffix(".yuv"), size=(58, 1), pix_fmt="gray").frames == 1


# --- colour and PNG folders --------------------------------------------------------------------------------------


def reference_ycbcr(rgb: np.ndarray, kr: float, kb: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The module docstring's formulas in numpy, float64, unrounded: Y, Cb, Cr of ``[3, H, W]``."""
    r, g, b = rgb.astype(np.float64)
    y = kr * r + (1 - kr - kb) * g + kb * b
    return y, 128 + (b - y) / (2 * (1 - kb)), 128 + (r - y) / (2 * (1 - kr))


@pytest.mark.parametrize("matrix,kr,kb", [("bt601", 0.299, 0.114), ("bt709", 0.2126, 0.0722)])
def test_rgb_to_yuv_matches_formula(matrix, kr, kb):
    rgb = torch.randint(0, 256, (2, 3, 5, 7), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    v444 = rgb_to_yuv(rgb, matrix=matrix, chroma="444")
    v420 = rgb_to_yuv(rgb, matrix=matrix, chroma="420")
    for i in range(2):
        y, cb, cr = reference_ycbcr(rgb[i].numpy(), kr, kb)
        rnd = lambda a: np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)  # noqa: E731
        assert np.array_equal(v444.y[i].numpy(), rnd(y))
        assert np.array_equal(v444.u[i].numpy(), rnd(cb)) and np.array_equal(v444.v[i].numpy(), rnd(cr))
        assert np.array_equal(v420.y[i].numpy(), rnd(y))
        # 4:2:0 by hand: mean of each 2x2 block of unrounded chroma, the cut blocks of the odd edges included.
        for plane, c in ((v420.u[i].numpy(), cb), (v420.v[i].numpy(), cr)):
            assert plane.shape == (3, 4)
            for by in range(3):
                for bx in range(4):
                    block = c[2 * by:2 * by + 2, 2 * bx:2 * bx + 2]
                    assert plane[by, bx] == rnd(block.mean()), (by, bx)
    # Grey stays grey and neutral; the conversion back is close (8-bit rounding only) for 4:4:4.
    grey = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    g = rgb_to_yuv(grey, matrix=matrix, chroma="444")
    assert torch.equal(g.y[0], grey[0, 0]) and bool((g.u == 128).all()) and bool((g.v == 128).all())
    assert torch.equal(yuv_to_rgb(g, matrix=matrix), grey)
    assert (yuv_to_rgb(v444, matrix=matrix).int() - rgb.int()).abs().max() <= 2


def test_yuv_to_rgb_replicates_420_chroma():
    v = random_video("420", 5, 7, t=1)
    rgb420 = yuv_to_rgb(v)
    up = lambda c: c.repeat_interleave(2, 1).repeat_interleave(2, 2)[:, :5, :7]  # noqa: E731
    assert torch.equal(rgb420, yuv_to_rgb(Video(v.y, up(v.u), up(v.v), "444")))
    mono = random_video("mono")
    assert torch.equal(yuv_to_rgb(mono), mono.y[:, None].expand(-1, 3, -1, -1))
    with pytest.raises(ValueError, match="matrix"):
        yuv_to_rgb(v, matrix="bt2020")


@pytest.mark.parametrize("hw", SIZES[:2])
def test_png_folder_round_trip(tmp_path, hw):
    h, w = hw
    rgb = torch.randint(0, 256, (3, 3, h, w), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    src = tmp_path / "src"
    src.mkdir()
    for i in (2, 0, 1):  # written out of order: read back sorted by name
        Image.fromarray(rgb[i].permute(1, 2, 0).numpy()).save(src / f"f{i:03d}.png")
    (src / "notes.txt").write_text("not a frame")
    for chroma in ("420", "444"):
        v = read_video(src, chroma=chroma, matrix="bt709", fps=24)
        assert_same(v, rgb_to_yuv(rgb, matrix="bt709", chroma=chroma))
        assert v.fps == 24
        out = tmp_path / f"out{chroma}"
        write_png_folder(out, v, matrix="bt709")
        assert sorted(q.name for q in out.iterdir()) == ["0000.png", "0001.png", "0002.png"]
        back = torch.stack([torch.from_numpy(np.array(Image.open(out / f"{i:04d}.png"))).permute(2, 0, 1)
                            for i in range(3)])
        assert torch.equal(back, yuv_to_rgb(v, matrix="bt709"))
        with pytest.raises(ValueError, match="overwrite"):
            write_png_folder(out, v)
        write_png_folder(out, v.slice(0, 1), overwrite=True)
        assert [q.name for q in out.iterdir()] == ["0000.png"]
    assert_same(read_video(src, start=1, max_frames=1, chroma="444"), rgb_to_yuv(rgb[1:2], chroma="444"))


def test_png_folder_mono_and_errors(tmp_path):
    v = random_video("mono", 5, 7)
    write_png_folder(tmp_path / "g", v)
    back = read_video(tmp_path / "g")
    assert_same(v, back)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png"):
        read_video(tmp_path / "empty")
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "g" / "0003.png")
    with pytest.raises(ValueError, match="colour frame in a folder of grey"):
        read_video(tmp_path / "g")
    Image.fromarray(np.zeros((5, 8), np.uint8)).save(tmp_path / "g" / "0003.png")
    with pytest.raises(ValueError, match="frame size 8x5"):
        read_video(tmp_path / "g")
    with pytest.raises(ValueError, match="max_pixels"):
        read_video(tmp_path / "g", max_pixels=100)
    with pytest.raises(ValueError, match="chroma"):
        read_video(tmp_path / "g", chroma="mono")


def test_shared_video_frames(shared_data):
    seqs = sorted(q for q in (shared_data / "video").iterdir() if q.is_dir())
    if not seqs:
        pytest.skip("no sequences in shared/data/video")
    v = read_video(seqs[0], max_frames=2)
    assert v.frames == 2 and v.chroma in ("420", "mono") and v.height > 0


# --- metrics -----------------------------------------------------------------------------------------------------


def test_psnr_by_hand():
    ref = random_video("420", 4, 4, t=2, seed=3)
    y, u, v = (p.clone() for p in ref.planes())
    y[0, 0, 0] ^= 0b110  # frame 0: Y one sample off by at most 6
    d0 = (int(ref.y[0, 0, 0]) - int(y[0, 0, 0])) ** 2
    u[1] = (u[1].int() + 3).clamp(0, 255).to(torch.uint8)  # frame 1: every U sample off by up to 3
    v[:, 1, 1] = 255 - v[:, 1, 1]
    dist = Video(y, u, v, "420")
    out = psnr(ref, dist)

    def db(sq_err_sum: float, n: int) -> float:
        return PSNR_CAP if sq_err_sum == 0 else 10 * math.log10(255**2 * n / sq_err_sum)

    want_y = [db(d0, 16), PSNR_CAP]
    du = ((u[1].double() - ref.u[1].double()) ** 2).sum().item()
    want_u = [PSNR_CAP, db(du, 4)]
    want_v = [db((2 * int(ref.v[i, 1, 1]) - 255) ** 2, 4) for i in range(2)]
    assert out["per_frame"]["y"] == pytest.approx(want_y)
    assert out["per_frame"]["u"] == pytest.approx(want_u)
    assert out["per_frame"]["v"] == pytest.approx(want_v)
    assert out["y"] == pytest.approx(sum(want_y) / 2) and out["u"] == pytest.approx(sum(want_u) / 2)
    assert out["yuv"] == pytest.approx((6 * out["y"] + out["u"] + out["v"]) / 8)
    assert out["per_frame"]["yuv"][0] == pytest.approx((6 * want_y[0] + want_u[0] + want_v[0]) / 8)
    same = psnr(ref, ref)
    assert same["y"] == same["yuv"] == PSNR_CAP
    mono = random_video("mono", 4, 4, t=1)
    off = Video(mono.y ^ 1, None, None, "mono")  # every sample off by exactly 1: PSNR = 20 log10(255)
    m = psnr(mono, off)
    assert set(m) == {"y", "yuv", "per_frame"} and m["y"] == m["yuv"] == pytest.approx(20 * math.log10(255))


def test_psnr_geometry_mismatch():
    a = random_video("420", 4, 4)
    for b in (random_video("444", 4, 4), random_video("420", 4, 6), a.slice(0, 2)):
        with pytest.raises(ValueError, match="differ"):
            psnr(a, b)
