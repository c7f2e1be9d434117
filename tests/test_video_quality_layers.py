"""WL-SVC quality scalability (pywlc.video.codec, ``layers=``): refinement layers of every temporal subband group,
cut by extract() and decoded at any number of layers, combined with temporal and spatial extraction."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch
from test_video_codec import _equal, _video

from pywlc.bitstream import decode_container
from pywlc.bitstream.container import reencode
from pywlc.codecs.wavelet.codec import quality_code
from pywlc.errors import BitstreamError
from pywlc.video import codec as C
from pywlc.video.classical import CLASSICAL_ID
from pywlc.video.io import Video
from pywlc.video.metrics import psnr

QUALITIES = (30.0, [45.0, 60.0])


@pytest.fixture(scope="module")
def layered():
    """4:2:0 64x64 (chroma has two spatial levels: 1/2 resolution decodes), 4 frames, GOP 4, three layers."""
    v = _video("420", frames=4, h=64, w=64)
    data, rec = C.encode(v, QUALITIES[0], gop=4, segment=4, layers=QUALITIES[1], return_reconstruction=True)
    single, srec = C.encode(v, QUALITIES[0], gop=4, segment=4, return_reconstruction=True)
    return v, data, rec, single, srec


def test_full_decode_equals_encoder_reconstruction(layered):
    v, data, rec, _, srec = layered
    out = C.decode(data)
    assert _equal(out, rec)
    assert psnr(v, out)["y"] > psnr(v, srec)["y"] + 6
    info = C.stream_info(data)
    assert info.quality_layers == 3 and info.segments[0].quality_layers == 3
    assert info.segments[0].step_codes == tuple(quality_code(q) for q in (QUALITIES[0], *QUALITIES[1]))
    labels = [lab for lab, _ in info.segments[0].layers]
    assert labels[-3:] == ["t0q2", "t1q2", "t2q2"] and "t2q1" in labels


def test_base_layer_is_the_single_layer_stream(layered):
    """The base layer is the single-layer codec's stream at the base quality, byte for byte (RDOQ included)."""
    _, data, _, single, srec = layered
    assert C.extract(data, layers=1) == single
    assert C.stream_info(single).quality_layers == 1
    assert _equal(C.decode(data, layers=1), srec)
    assert C.extract(data, fps_divisor=2, resolution=2, layers=1) == C.extract(single, fps_divisor=2, resolution=2)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_extracted_layers_equal_partial_decoding(layered, k):
    v, data, _, _, _ = layered
    sub = C.extract(data, layers=k)
    assert C.stream_info(sub).quality_layers == min(k, 3)
    a = C.decode(sub)
    assert _equal(a, C.decode(data, layers=k))
    assert C.extract(sub) == sub  # nothing more to drop
    if k == 2:
        assert psnr(v, C.decode(data, layers=1))["y"] < psnr(v, a)["y"] < psnr(v, C.decode(data))["y"]


@pytest.mark.parametrize("fps,res,k", [(2, 1, 2), (1, 2, 2), (2, 2, 3), (4, 2, 1)])
def test_quality_with_temporal_and_spatial_extraction(layered, fps, res, k):
    _, data, _, _, _ = layered
    sub = C.extract(data, fps_divisor=fps, resolution=res, layers=k)
    a = C.decode(sub)
    assert _equal(a, C.decode(data, fps_divisor=fps, resolution=res, layers=k))
    assert (a.frames, a.height) == (4 // fps, 64 // res)
    # cutting in two steps gives the same sub-stream
    assert C.extract(C.extract(data, layers=k), fps_divisor=fps, resolution=res) == sub


@pytest.mark.parametrize("chroma,size,frames", [("mono", (17, 23), 3), ("420", (9, 13), 2), ("mono", (5, 7), 2)])
def test_tiny_and_odd_sizes(chroma, size, frames):
    v = _video(chroma, frames=frames, h=size[0], w=size[1])
    data, rec = C.encode(v, 20, gop=2, segment=2, layers=[40], return_reconstruction=True)
    assert _equal(C.decode(data), rec)
    assert _equal(C.decode(C.extract(data, layers=1)), C.decode(data, layers=1))
    assert C.extract(data, layers=1) == C.encode(v, 20, gop=2, segment=2)


def test_without_rdoq():
    """The dead-zone base (rdoq=None): the refinement of nested bins; still bitwise round trips."""
    v = _video("mono", frames=4)
    opts = C.EncodeOptions(gop=4, rdoq=None)
    data, rec = C.encode(v, 30, segment=4, layers=[50], options=opts, return_reconstruction=True)
    assert _equal(C.decode(data), rec)
    assert C.extract(data, layers=1) == C.encode(v, 30, segment=4, options=opts)


def test_arguments_are_checked(layered):
    v, data, _, _, _ = layered
    with pytest.raises(ValueError, match="needs quality"):
        C.encode(v, kbps=200, gop=4, segment=4, layers=[60])
    with pytest.raises(ValueError, match="must increase"):
        C.encode(v, 40, gop=4, segment=4, layers=[30])
    with pytest.raises(ValueError, match="must increase"):
        C.encode(v, 40, gop=4, segment=4, layers=[50, 50.1])  # the same step code twice
    with pytest.raises(ValueError, match="1..7 qualities"):
        C.encode(v, 10, gop=4, segment=4, layers=[20, 30, 40, 50, 60, 70, 80, 90])
    with pytest.raises(ValueError, match="1..7 qualities"):
        C.encode(v, 10, gop=4, segment=4, layers=50)
    with pytest.raises(ValueError, match="classical"):
        C.encode(v, 30, gop=4, segment=4, layers=[50], model="classical")
    with pytest.raises(ValueError, match="code range"):
        # the H groups, 30 codes coarser, clamp at the coarsest step code: the layer would not refine them
        C.encode(v, 0, segment=4, layers=[1], options=C.EncodeOptions(gop=4, h_offset=30))
    y = torch.zeros(32, 256, 256, dtype=torch.uint8)  # checked before any analysis: cheap
    with pytest.raises(ValueError, match="container layers"):  # 5 + 6 groups x (5 resolutions + 5 layers) > 64
        C.encode(Video(y, None, None, "mono", v.fps), 30, gop=32, segment=32, layers=[40, 50, 60, 70, 80])
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(ValueError, match="layers must be a positive int"):
            C.decode(data, layers=bad)
        with pytest.raises(ValueError, match="layers must be a positive int"):
            C.extract(data, layers=bad)


def test_foreign_refinement_weights_are_refused(layered):
    _, data, _, _, _ = layered
    cont = decode_container(data)
    meta = dict(cont.metadata)
    meta["sq"] = meta["sq"][:2] + bytes(8) + meta["sq"][10:]
    other = reencode(cont, metadata=meta)
    with pytest.raises(BitstreamError, match="other refinement weights"):
        C.decode(other)
    C.decode(other, layers=1)  # the base needs no refinement model
    meta = dict(cont.metadata)
    meta["sv"] = meta["sv"][:17] + CLASSICAL_ID + meta["sv"][25:]  # model id of _META: a classical stream
    with pytest.raises(BitstreamError, match="learned entropy model"):
        C.decode(reencode(cont, metadata=meta))
    meta = dict(cont.metadata)
    meta["sq"] = meta["sq"][:-2] + (quality_code(QUALITIES[0]) + 1).to_bytes(2, "little", signed=True)
    with pytest.raises(BitstreamError, match="do not refine"):
        C.stream_info(reencode(cont, metadata=meta))


def test_corrupt_and_truncated_layered_streams_raise_bitstream_error(layered):
    _, data, _, _, _ = layered
    rng = random.Random(1)
    for cut in (10, len(data) // 3, len(data) - 1):
        with pytest.raises(BitstreamError):
            C.decode(data[:cut])
    cont = decode_container(data)
    t0q1 = cont.layer("t0q1")
    for payload in (t0q1.payload[:-3], t0q1.payload[:5], t0q1.payload + b"\x00"):
        lays = [lay if lay.label != "t0q1" else replace(lay, payload=payload) for lay in cont.layers]
        with pytest.raises(BitstreamError):
            C.decode(reencode(cont, layers=lays))
    no_t1q2 = reencode(cont, layers=[lay for lay in cont.layers if lay.label != "t1q2"])
    with pytest.raises(BitstreamError, match="t1q2 is missing"):
        C.decode(no_t1q2)
    for _ in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        try:
            C.decode(bytes(b), layers=rng.randint(1, 3))
        except BitstreamError:
            pass


def test_decode_budget_counts_every_quality_layer(layered):
    """Each quality layer decoded runs the models over every sample again: the per-byte budget bounds that work."""
    from pywlc.codecs.budget import DecodeBudget

    _, data, _, _, _ = layered
    pixels = 64 * 64 * 4
    per_byte = pixels / len(data)
    budget = DecodeBudget(max_pixels=None, max_tile=None, max_pixels_per_byte=per_byte * 2, max_memory=None)
    assert _equal(C.decode(data, layers=2, budget=budget), C.decode(data, layers=2))  # 2 layers: within
    with pytest.raises(BitstreamError, match="in 3 quality layers"):
        C.decode(data, budget=budget)  # all 3: three times the work per byte
