"""WL-SVC (pywlc.video.codec): bitstream round trips, temporal / spatial extraction, motion coding, errors."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
import torch

from pywlc.errors import BitstreamError
from pywlc.motion import hvsbm
from pywlc.video import codec as C
from pywlc.video.io import Video
from pywlc.video.metrics import psnr
from pywlc.video.motion_coding import decode_motion, encode_motion, fields_of, leaves_of


def _scene(frames: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A textured scene panning by (1.5, 0.75) px per frame plus a small moving square: float [T, H, W] 0..255."""
    g = torch.Generator().manual_seed(seed)
    big = torch.nn.functional.avg_pool2d(torch.rand(1, 1, h + 64, w + 64, generator=g) * 255, 5, 1, 2)[0, 0]
    out = []
    for t in range(frames):
        dy, dx = int(round(0.75 * t)), int(round(1.5 * t))
        f = big[dy : dy + h, dx : dx + w].clone()
        y0, x0 = (3 + t) % max(1, h - 8), (5 + 2 * t) % max(1, w - 8)
        f[y0 : y0 + 6, x0 : x0 + 6] = 230.0
        out.append(f)
    return torch.stack(out)


def _video(chroma: str, frames: int = 8, h: int = 40, w: int = 52) -> Video:
    y = _scene(frames, h, w).round().to(torch.uint8)
    if chroma == "mono":
        return Video(y, None, None, "mono", Fraction(30))
    ch, cw = (h, w) if chroma == "444" else ((h + 1) // 2, (w + 1) // 2)
    u = (_scene(frames, ch, cw, 1) * 0.3 + 90).round().to(torch.uint8)
    v = (_scene(frames, ch, cw, 2) * 0.2 + 110).round().to(torch.uint8)
    return Video(y, u, v, chroma, Fraction(30))


def _equal(a: Video, b: Video) -> bool:
    return a.chroma == b.chroma and all(torch.equal(x, y) for x, y in zip(a.planes(), b.planes(), strict=True))


@pytest.fixture(scope="module")
def mono_stream():
    v = _video("mono", frames=8)
    data, rec = C.encode(v, 45, gop=4, segment=8, return_reconstruction=True)
    return v, data, rec


@pytest.mark.parametrize("chroma,size", [("420", (37, 50)), ("444", (24, 33))])
def test_round_trip_colour_odd_sizes(chroma, size):
    v = _video(chroma, frames=5, h=size[0], w=size[1])
    data, rec = C.encode(v, 50, gop=4, segment=4, return_reconstruction=True)
    out = C.decode(data)
    assert _equal(out, rec)
    assert out.frames == 5 and (out.height, out.width) == size and out.fps == v.fps
    assert psnr(v, out)["y"] > 30


def test_decoder_equals_encoder_reconstruction(mono_stream):
    v, data, rec = mono_stream
    out = C.decode(data)
    assert _equal(out, rec)
    assert psnr(v, out)["y"] > 32
    info = C.stream_info(data)
    assert info.frames == 8 and info.width == 52 and info.height == 40 and info.chroma == "mono"
    labels = [lab for lab, _ in info.segments[0].layers]
    assert labels[:2] == ["mv2", "mv1"] and "t0r0" in labels and "t2r1" in labels


def test_quality_orders_rate_and_distortion():
    v = _video("mono", frames=4)
    lo, rec_lo = C.encode(v, 20, gop=4, segment=4, return_reconstruction=True)
    hi, rec_hi = C.encode(v, 70, gop=4, segment=4, return_reconstruction=True)
    assert len(hi) > len(lo)
    assert psnr(v, rec_hi)["y"] > psnr(v, rec_lo)["y"] + 3


def test_temporal_extraction_equals_partial_decoding(mono_stream):
    v, data, _ = mono_stream
    for div in (2, 4):
        sub = C.extract(data, fps_divisor=div)
        assert len(sub) < len(data)
        a, b = C.decode(sub), C.decode(data, fps_divisor=div)
        assert _equal(a, b)
        assert a.frames == math.ceil(8 / div) and a.fps == v.fps / div
        assert C.stream_info(sub).frame_rate_divisor == div
        # The L frames track the even frames of the input.
        assert psnr(Video(v.y[::div], None, None, "mono", v.fps / div), a)["y"] > 24


def test_spatial_extraction_equals_partial_decoding(mono_stream):
    _, data, _ = mono_stream
    sub = C.extract(data, resolution=2)
    a, b = C.decode(sub), C.decode(data, resolution=2)
    assert _equal(a, b)
    assert (a.height, a.width) == (20, 26)
    both = C.extract(data, fps_divisor=2, resolution=2)
    c = C.decode(both)
    assert c.frames == 4 and (c.height, c.width) == (20, 26)
    assert _equal(c, C.decode(data, fps_divisor=2, resolution=2))


def test_segments_short_tail_and_single_frame():
    v = _video("mono", frames=11)
    data, rec = C.encode(v, 40, gop=4, segment=8, return_reconstruction=True)
    info = C.stream_info(data)
    assert [(s.first, s.frames, s.temporal_levels) for s in info.segments] == [(0, 8, 2), (8, 3, 2)]
    assert _equal(C.decode(data), rec)
    one = _video("mono", frames=1)
    d1, r1 = C.encode(one, 40, gop=4, segment=4, return_reconstruction=True)
    assert C.stream_info(d1).segments[0].temporal_levels == 0
    assert _equal(C.decode(d1), r1)


def test_kbps_target():
    v = _video("mono", frames=4)
    target = 60.0  # kbps at 30 fps: 1000 bytes for 4 frames
    data = C.encode(v, kbps=target, gop=4, segment=4)
    assert 8 * len(data) / 1000 / (4 / 30) <= target
    assert len(data) > 500  # the search uses the budget, not just the coarsest step
    assert len(C.encode(v, 100, gop=4, segment=4)) > 1000


def test_motion_coding_round_trip_and_fields():
    frames = _scene(3, 72, 80).float()
    r = hvsbm(frames[1], frames[0], frames[2], lam=4.0)
    lv = leaves_of(r)
    # The dense fields rebuilt from the leaves are HVSBM's own.
    f = fields_of(lv, 72, 80, True)
    assert torch.equal(f.field_left * f.uses_left, r.field_left * r.uses_left)
    assert torch.equal(f.uses_left, r.uses_left) and torch.equal(f.uses_right, r.uses_right)
    r2 = hvsbm(frames[2], frames[1])
    data = encode_motion([lv, leaves_of(r2)], 72, 80, [True, False])
    back = decode_motion(data, 72, 80, [True, False])
    for a, b in zip([lv, leaves_of(r2)], back, strict=True):
        def rows(x):
            return sorted(zip(x.xy.tolist(), x.size.tolist(), x.mode.tolist(), x.mv_left.tolist(),
                              x.mv_right.tolist(), strict=True))

        assert rows(a) == rows(b)
    with pytest.raises(BitstreamError):
        decode_motion(data[:-4], 72, 80, [True, False])


def test_corrupt_and_truncated_streams_raise_bitstream_error(mono_stream):
    _, data, _ = mono_stream
    rng = random.Random(0)
    with pytest.raises(BitstreamError):
        C.decode(b"")
    for cut in (1, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(BitstreamError):
            C.decode(data[:cut])
    for _ in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        try:
            C.decode(bytes(b))
        except BitstreamError:
            pass


def test_weights_and_arguments_are_checked(mono_stream):
    v, data, _ = mono_stream
    with pytest.raises(ValueError, match="exactly one"):
        C.encode(v)
    with pytest.raises(ValueError, match="quality"):
        C.encode(v, 101)
    with pytest.raises(ValueError, match="gop"):
        C.encode(v, 40, gop=6)
    with pytest.raises(ValueError, match="segment"):
        C.encode(v, 40, gop=4, segment=6)
    with pytest.raises(TypeError, match="Video"):
        C.encode(v.y, 40)
    with pytest.raises(ValueError, match="fps_divisor"):
        C.decode(data, fps_divisor=3)
    with pytest.raises(ValueError, match="resolution"):
        C.extract(data, resolution=0)
    from pywlc.codecs.wavelet.entropy_model import SubbandEntropyModel
    from pywlc.codecs.wavelet.model import WaveletModel

    other = WaveletModel(SubbandEntropyModel(), None)
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        C.decode(data, model=other)


def test_classical_entropy_model_round_trip():
    """The ablation without learned modules: same pipeline, classical forward-adaptive contexts."""
    from pywlc.video.classical import CLASSICAL_ID

    v = _video("420", frames=4, h=30, w=36)
    data, rec = C.encode(v, 45, gop=4, segment=4, model="classical", return_reconstruction=True)
    assert C.stream_info(data).model_id == CLASSICAL_ID
    assert _equal(C.decode(data), rec)
    learned = C.encode(v, 45, gop=4, segment=4)
    assert C.stream_info(learned).model_id != CLASSICAL_ID
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        C.decode(learned, model="classical")


def test_postfilter_switch():
    v = _video("mono", frames=4)
    data, rec = C.encode(v, 25, gop=4, segment=4, return_reconstruction=True)  # a step the filter was trained on
    plain = C.decode(data, postfilter=False)
    assert not torch.equal(plain.y, rec.y)  # the default runs the learned post-filter on luma
    _, rec_plain = C.encode(v, 25, gop=4, segment=4, return_reconstruction=True, postfilter=False)
    assert _equal(plain, rec_plain)
    assert _equal(C.decode(data), rec)


def test_rdoq_option_round_trips_and_saves_rate():
    """RDOQ of the subbands (the default, an encoder choice): the decoder equals the encoder's reconstruction and the
    stream is smaller than with the dead-zone quantiser."""
    v = _video("420", frames=8, h=48, w=64)
    base, _ = C.encode(v, 45, segment=8, return_reconstruction=True, options=C.EncodeOptions(gop=4, rdoq=None))
    data, rec = C.encode(v, 45, gop=4, segment=8, return_reconstruction=True)  # the default: RDOQ on
    assert _equal(C.decode(data), rec)
    assert len(data) < len(base) and psnr(v, rec)["y"] > 30
    zero, _ = C.encode(v, 45, segment=8, return_reconstruction=True, options=C.EncodeOptions(gop=4, rdoq=0.0))
    assert zero == base  # lambda 0 (falsy): the dead-zone quantiser, byte for byte


def test_h_group_step_cascade():
    """The H groups' step-code offsets: coarser per finer temporal level (the default cascade), written into the
    stream, so a stream made with other offsets decodes to the encoder's reconstruction; bad offsets (and a bad RDOQ
    lambda) are refused when the options are made."""
    assert C.EncodeOptions().group_offsets(4) == [0, 4, 8, 12, 16]  # L, then H of levels 4 (coarsest) .. 1
    assert C.EncodeOptions(h_offset=8, h_cascade=0).group_offsets(3) == [0, 8, 8, 8]
    v = _video("mono", frames=4)
    flat, rec = C.encode(v, 30, segment=4, return_reconstruction=True,
                         options=C.EncodeOptions(gop=4, h_offset=8, h_cascade=0))  # fmt: skip
    assert _equal(C.decode(flat), rec)
    assert flat != C.encode(v, 30, gop=4, segment=4)  # the default cascade codes other steps
    for bad, err in (({"h_offset": 200}, ValueError), ({"h_cascade": 40}, ValueError), ({"h_offset": 1.5}, TypeError),
                     ({"chroma_offset": True}, TypeError), ({"rdoq": -1.0}, ValueError), ({"rdoq": True}, TypeError),
                     ({"rdoq": float("nan")}, ValueError), ({"rdoq": "x"}, TypeError)):  # fmt: skip
        with pytest.raises(err, match="EncodeOptions"):
            C.EncodeOptions(**bad)
