"""pywlc.imageio: one image loader (size checked before decoding, 16-bit scaled with rounding), save_image."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from pywlc.imageio import ImageTooLargeError, check_output_path, load_image, save_image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` (8-bit grey) with one tiny IDAT: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_bomb_refused_from_header(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(60000, 60000))
    with pytest.raises(ImageTooLargeError, match="max-pixels"):
        load_image(p)
    p.write_bytes(png_header_only(3000, 2000))  # under Pillow's own limit, over ours
    with pytest.raises(ImageTooLargeError, match="3000x2000"):
        load_image(p, max_pixels=1_000_000)


def test_16bit_gray_scaled_with_rounding(tmp_path):
    a = np.array([[0, 1, 128, 129, 257, 32767], [32768, 60000, 65278, 65279, 65534, 65535]], dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    x, info = load_image(p, mode="keep")
    want = np.floor(a.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    assert x.dtype == torch.uint8 and x.shape == (1, 2, 6)
    assert np.array_equal(x[0].numpy(), want)
    assert info.bit_depth == 16 and info.gray and "16-bit" in info.conversion
    # The case: a 16-bit ramp is no longer saturated (Pillow's convert("L") clips at 255).
    ramp = (np.arange(256 * 64, dtype=np.uint32).reshape(64, 256) * 4).astype(np.uint16)
    Image.fromarray(ramp).save(p)
    x, _ = load_image(p)
    assert x.shape == (3, 64, 256) and (x == 255).float().mean() < 0.01 and len(x.unique()) > 250


def test_modes_and_conversions(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    cases = {
        "rgb.png": (Image.fromarray(rgb), 3, None),
        "rgba.png": (Image.fromarray(np.dstack([rgb, rgb[..., :1]])), 3, "alpha"),
        "l.png": (Image.fromarray(rgb[..., 0]), 1, None),
        "la.png": (Image.fromarray(rgb[..., 0]).convert("LA"), 1, "alpha"),
        "p.png": (Image.fromarray(rgb).convert("P"), 3, "P converted"),
    }
    for name, (im, channels, note) in cases.items():
        im.save(tmp_path / name)
        x, info = load_image(tmp_path / name, mode="keep")
        assert x.shape == (channels, 5, 7), name
        assert (note is None and info.conversion is None) or note in info.conversion, (name, info)
        assert load_image(tmp_path / name)[0].shape == (3, 5, 7)
    assert torch.equal(load_image(tmp_path / "rgb.png")[0], torch.from_numpy(rgb).permute(2, 0, 1))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    buf.seek(0)
    assert load_image(buf)[0].shape == (3, 5, 7)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not an image"):
        load_image(tmp_path / "text.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        load_image(tmp_path / "cut.png")
    with pytest.raises(ValueError, match="mode"):
        load_image(tmp_path / "ok.png", mode="yuv")


def test_save_and_output_checks(tmp_path):
    x = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8)
    save_image(x, tmp_path / "o.png")
    assert torch.equal(load_image(tmp_path / "o.png")[0], x)
    save_image(x[:1], tmp_path / "g.png")
    assert load_image(tmp_path / "g.png", mode="keep")[1].mode == "L"
    with pytest.raises(FileNotFoundError, match="folder"):
        check_output_path(tmp_path / "nodir" / "o.png")
    with pytest.raises(ValueError, match="directory"):
        check_output_path(tmp_path)
    with pytest.raises(ValueError, match="extension"):
        check_output_path(tmp_path / "o.xyz", image=True)
    with pytest.raises(ValueError, match="uint8"):
        save_image(x.float(), tmp_path / "f.png")
