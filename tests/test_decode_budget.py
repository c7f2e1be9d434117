"""Decode budgets (pywlc.codecs.budget): decompression bombs are refused from the header (issue 10, finding 2)."""

from __future__ import annotations

import struct
import time

import pytest
import torch
from conftest import TINY

from pywlc.bitstream import CodecId, ColorFormat, Layer, encode_container
from pywlc.codecs import DecodeBudget, check_budget, decode_image, encode_image
from pywlc.codecs.image import ENTROPY_PATH, _arch
from pywlc.errors import BitstreamError
from pywlc.models import WeConvene


@pytest.fixture(scope="module")
def model() -> WeConvene:
    torch.manual_seed(0)
    m = WeConvene(**TINY).eval()
    m.update(force=True)
    return m


def bomb(model: WeConvene, size: int, tile: int) -> bytes:
    """A valid stream of a ``size x size`` picture in ``tile x tile`` tiles whose strings are all empty."""
    n = (-(-size // tile)) ** 2
    payload = struct.pack("<I", 0) * n
    layers = [Layer(k, name, payload, None if k == 0 else k - 1) for k, name in enumerate(("z", "ll", "hf"))]
    return encode_container(
        codec=CodecId.WECONVENE,
        quality=1,
        width=size,
        height=size,
        color=ColorFormat.RGB,
        bit_depth=8,
        layers=layers,
        metadata={"tile": struct.pack("<H", tile), "arch": _arch(model), "entropy": ENTROPY_PATH},
    )


@pytest.mark.parametrize("size, tile", [(4096, 4096), (2048, 2048), (4096, 1024), (8192, 1024)])
def test_bombs_refused_in_milliseconds(model, size, tile):
    data = bomb(model, size, tile)
    loads = []
    t0 = time.perf_counter()
    with pytest.raises(BitstreamError, match="budget"):
        decode_image(data, lambda codec, q: loads.append(codec) or model)
    assert time.perf_counter() - t0 < 0.5
    assert loads == []  # refused from the header: no model was even loaded


def test_raised_budget_decodes(model):
    data = bomb(model, 1088, 1088)  # tile above the default max_tile, 8.5k pixels per byte
    assert len(data) < 200
    with pytest.raises(BitstreamError, match="max_tile"):
        decode_image(data, model)
    with pytest.raises(BitstreamError, match="pixels per byte"):
        decode_image(data, model, budget=DecodeBudget(max_tile=2048))
    # The same at a size a unit test decodes quickly: a caller who raises the budget gets the picture.
    data = bomb(model, 320, 320)
    small = DecodeBudget(max_tile=256, max_pixels_per_byte=512)
    for budget in (small, DecodeBudget(max_tile=256, max_pixels_per_byte=None)):
        with pytest.raises(BitstreamError, match="budget"):
            decode_image(data, model, budget=budget)
    out = decode_image(data, model, budget=DecodeBudget(max_tile=320, max_pixels_per_byte=None))
    assert out.shape == (3, 320, 320) and out.dtype == torch.uint8


def test_memory_estimate_and_normal_streams(model):
    x = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    data = encode_image(model, x, 1, tile=64)
    out = decode_image(data, model)  # the default budget decodes ordinary streams
    assert out.shape == (3, 64, 64)
    with pytest.raises(BitstreamError, match="MiB"):
        decode_image(data, model, budget=DecodeBudget(max_memory=1 << 16))
    with pytest.raises(BitstreamError, match="pixels"):
        decode_image(data, model, max_pixels=1000)
    assert torch.equal(decode_image(data, model, budget=DecodeBudget.trusted()), out)


def test_budget_arguments():
    with pytest.raises(ValueError, match="max_tile"):
        DecodeBudget(max_tile=0)
    with pytest.raises(ValueError, match="max_memory"):
        DecodeBudget(max_memory=True)
    with pytest.raises(TypeError):
        check_budget(None, width=1, height=1, stream_bytes=1)  # type: ignore[arg-type]
    check_budget(DecodeBudget(), width=4096, height=4096, stream_bytes=1 << 20, tile=1024, memory=1 << 30)
    with pytest.raises(BitstreamError, match="frames"):
        check_budget(DecodeBudget(), width=4096, height=4096, frames=8, stream_bytes=1 << 20)
