"""The classical anchors (``pywlc.anchors``): round-trip shapes, lossless ones bitwise, rate parameters that order
the rate, clear errors; anchors whose tools are not installed are skipped."""

from __future__ import annotations

import shutil

import pytest
import torch

from pywlc import anchors


def _picture(channels: int, h: int = 37, w: int = 53) -> torch.Tensor:
    """A smooth gradient plus texture (odd sizes): compressible, not trivial."""
    g = torch.Generator().manual_seed(7)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    base = 128 + 60 * torch.sin(xx / 7) * torch.cos(yy / 5)
    planes = [base + 20 * k + 8 * torch.randn(h, w, generator=g) for k in range(channels)]
    return torch.stack(planes).clamp(0, 255).round().to(torch.uint8)


def _params(lossless: bool) -> list:
    out = []
    for a in anchors.ANCHORS.values():
        if a.lossless != lossless:
            continue
        skip = pytest.mark.skipif(not a.available(), reason=f"{', '.join(a.tools)} not installed")
        out.append(pytest.param(a.name, marks=skip, id=a.name))
    return out


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", _params(lossless=True))
def test_lossless_anchor_bitwise(name, channels):
    a = anchors.get(name)
    x = _picture(channels)
    data = a.encode(x)
    assert isinstance(data, bytes) and 0 < len(data)
    y = a.decode(data, channels)
    assert y.dtype == torch.uint8 and y.shape == x.shape
    assert torch.equal(y, x)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", _params(lossless=False))
def test_lossy_anchor_round_trip(name, channels):
    a = anchors.get(name)
    x = _picture(channels, 64, 96)
    low, high = (a.grid[1], a.grid[-2])
    small, big = a.encode(x, low), a.encode(x, high)
    assert len(small) < len(big), (len(small), len(big))  # the grid runs from low to high rate
    for data in (small, big):
        y = a.decode(data, channels)
        assert y.dtype == torch.uint8 and y.shape == x.shape
    err = (a.decode(big, channels).float() - x.float()).pow(2).mean().sqrt().item()
    assert err < 12, err  # a high-rate point is close to the original


def test_jpeg2000_rate_control_hits_the_target():
    x = _picture(3, 128, 160)
    for bpp in (0.25, 1.0):
        data = anchors.get("jpeg2000").encode(x, bpp)
        assert 8 * len(data) / (128 * 160) <= bpp * 1.1


def test_errors():
    with pytest.raises(ValueError, match="unknown anchor"):
        anchors.get("bpg")
    with pytest.raises(ValueError, match="uint8"):
        anchors.get("png").encode(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="C in"):
        anchors.get("png").encode(torch.zeros(2, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="quality"):
        anchors.get("jpeg").encode(_picture(3))


def test_missing_tool_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    a = anchors.get("jpegxl")
    assert not a.available()
    with pytest.raises(anchors.AnchorUnavailable, match="libjxl-tools"):
        a.encode(_picture(3), 1.0)
