"""pywlc.bitstream container: round trips, extraction, every corruption class, a golden stream, fuzzing."""

from __future__ import annotations

import hashlib
import random
import struct
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pywlc.bitstream import (
    FORMAT_MAJOR,
    MAX_DIM,
    MAX_LAYERS,
    MAX_METADATA_VALUE,
    CodecId,
    ColorFormat,
    Container,
    Layer,
    decode_container,
    drop_layers,
    encode_container,
)
from pywlc.errors import BitstreamError

# Offsets of the fixed header fields (module doc of pywlc.bitstream.container).
OFF = {
    "major": 4,
    "header_size": 6,
    "codec": 8,
    "quality": 10,
    "color": 11,
    "bit_depth": 12,
    "n_layers": 13,
    "n_meta": 14,
    "flags": 15,
    "width": 16,
    "height": 20,
    "frames": 24,
}
FIXED = 28

# Decoding any input of the sizes used here takes ~50 us; the bound leaves room for a loaded CI machine and
# still catches a hang or a blow-up.
TIME_BOUND_S = 0.25


def sample_kwargs() -> dict:
    """A small three-layer stream shaped like WeConvene's: ll (base), hf on ll, z."""
    return dict(
        codec=CodecId.WECONVENE,
        quality=3,
        width=70,
        height=50,
        frames=1,
        color=ColorFormat.RGB,
        bit_depth=8,
        layers=[
            Layer(0, "z", b"\x01\x02\x03zz"),
            Layer(1, "ll", b"base-layer-bytes"),
            Layer(2, "hf", b"high-frequency", depends_on=1),
        ],
        metadata={"model": b"weconvene-compact", "shape": b"4x3"},
    )


def sample() -> bytes:
    return encode_container(**sample_kwargs())


def header_size(data: bytes) -> int:
    return struct.unpack_from("<H", data, 6)[0]


def refresh_crc(data: bytes | bytearray) -> bytes:
    """Recompute the header CRC so that a deliberately wrong field reaches its own validation."""
    data = bytearray(data)
    hs = header_size(data)
    data[hs - 4 : hs] = struct.pack("<I", zlib.crc32(bytes(data[: hs - 4])))
    return bytes(data)


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return refresh_crc(out)


def decode_or_error(data: bytes) -> Container | None:
    """Decode; BitstreamError is an accepted outcome (None); anything else fails the test.  Time-bounded."""
    t0 = time.perf_counter()
    try:
        out = decode_container(data)
    except BitstreamError as e:
        assert str(e)
        out = None
    assert time.perf_counter() - t0 < TIME_BOUND_S
    return out


# ----------------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_fields_and_bytes():
    data = sample()
    c = decode_container(data)
    kw = sample_kwargs()
    assert (c.codec, c.quality, c.width, c.height, c.frames) == (CodecId.WECONVENE, 3, 70, 50, 1)
    assert c.color is ColorFormat.RGB and c.bit_depth == 8 and c.version == (FORMAT_MAJOR, 0)
    assert c.layers == tuple(kw["layers"])
    assert dict(c.metadata) == kw["metadata"]
    assert c.layer("hf").depends_on == 1 and c.layer(1).label == "ll"
    assert c.nbytes == len(data)
    assert c.to_bytes() == data
    assert decode_container(bytearray(data)) == c and decode_container(memoryview(data)) == c


@pytest.mark.parametrize(
    "kw",
    [
        dict(layers=[]),
        dict(layers=[Layer(0, "empty", b"")]),
        dict(metadata={}),
        dict(color=ColorFormat.YUV420, bit_depth=10, frames=300, width=MAX_DIM, height=1),
        dict(layers=[Layer(i, f"l{i}", bytes([i]) * i, depends_on=i - 1 if i else None) for i in range(MAX_LAYERS)]),
        dict(metadata={"k": b"v" * MAX_METADATA_VALUE}),
        dict(codec=0xFFFF, quality=255, color=ColorFormat.GRAY, bit_depth=16),
    ],
)
def test_round_trip_edge_cases(kw):
    data = encode_container(**{**sample_kwargs(), **kw})
    c = decode_container(data)
    assert c.to_bytes() == data
    assert len(c.layers) == len(kw.get("layers", sample_kwargs()["layers"]))


def test_golden_stream_md5():
    # Pinned: a change here is a format change -- bump FORMAT_MINOR/MAJOR on purpose and re-pin.
    data = sample()
    assert len(data) == 141
    assert hashlib.md5(data).hexdigest() == GOLDEN_MD5
    assert data.hex() == GOLDEN_HEX
    assert decode_container(bytes.fromhex(GOLDEN_HEX)).to_bytes() == data


GOLDEN_MD5 = "3ce741a23f2164a8158fc3ae03f30896"
GOLDEN_HEX = (
    "50574c4301006a00010003020803020046000000320000000100000000ff017a0500000021a10d3601ff026c6c10000000a68b4dbd"
    "02010268660e00000049ee512b056d6f64656c11007765636f6e76656e652d636f6d706163740573686170650300347833a6e2046d"
    "0102037a7a626173652d6c617965722d6279746573686967682d6672657175656e6379"
)


# ----------------------------------------------------------------------------------------------------
# Extraction


def test_drop_layers_removes_dependants():
    data = sample()
    base = drop_layers(data, keep=["z", "ll"])
    c = decode_container(base)
    assert [lay.label for lay in c.layers] == ["z", "ll"]
    assert c.layer("ll").payload == b"base-layer-bytes"
    assert (c.width, c.height, dict(c.metadata)) == (70, 50, sample_kwargs()["metadata"])
    # Keeping hf without the ll it depends on drops it too.
    assert [lay.label for lay in decode_container(drop_layers(data, keep=["z", "hf"])).layers] == ["z"]
    # Keeping everything is the identity; ids work like labels.
    assert drop_layers(data, keep=[0, 1, 2]) == data
    assert decode_container(drop_layers(data, keep=[])).layers == ()
    # Extraction from an extracted stream.
    assert drop_layers(base, keep=["ll"]) == drop_layers(data, keep=["ll"])


def test_drop_layers_chain():
    layers = [Layer(i, f"q{i}", bytes([i]) * 3, depends_on=i - 1 if i else None) for i in range(5)]
    data = encode_container(codec=0, quality=0, width=8, height=8, layers=layers)
    got = decode_container(drop_layers(data, keep=[0, 1, 3, 4]))
    assert [lay.id for lay in got.layers] == [0, 1]


def test_drop_layers_bad_arguments():
    with pytest.raises(ValueError, match="no layer 'nope'"):
        drop_layers(sample(), keep=["nope"])
    with pytest.raises(TypeError, match="keep"):
        drop_layers(sample(), keep=[1.5])
    with pytest.raises(BitstreamError):
        drop_layers(sample()[:-1], keep=["ll"])


# ----------------------------------------------------------------------------------------------------
# Encoder argument checks


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(width=0), ValueError, "width"),
        (dict(height=MAX_DIM + 1), ValueError, "height"),
        (dict(quality=256), ValueError, "quality"),
        (dict(bit_depth=17), ValueError, "bit_depth"),
        (dict(color=9), ValueError, "color"),
        (dict(codec=1.0), TypeError, "codec"),
        (dict(layers=[Layer(0, "a", b""), Layer(0, "b", b"")]), ValueError, "used twice"),
        (dict(layers=[Layer(0, "a", b"", depends_on=0)]), ValueError, "earlier layer"),
        (dict(layers=[Layer(0, "Bad Label", b"")]), ValueError, "label"),
        (dict(layers=[Layer(255, "a", b"")]), ValueError, "id"),
        (dict(layers=[Layer(0, "a", "text")]), TypeError, "payload"),
        (dict(layers=[Layer(i, "a", b"") for i in range(MAX_LAYERS + 1)]), ValueError, "at most"),
        (dict(metadata={"k": b"v" * (MAX_METADATA_VALUE + 1)}), ValueError, "at most"),
        (dict(metadata={f"k{i}": b"v" * 1000 for i in range(5)}), ValueError, "metadata holds"),
        (dict(metadata={"k": "text"}), TypeError, "bytes"),
    ],
)
def test_encoder_rejects(kw, err, match):
    with pytest.raises(err, match=match):
        encode_container(**{**sample_kwargs(), **kw})


# ----------------------------------------------------------------------------------------------------
# Corruption classes


def test_foreign_and_version():
    data = sample()
    for bad in (b"", b"PW", b"\x89PNG\r\n\x1a\n" + data[8:], b"pwlc" + data[4:]):
        with pytest.raises(BitstreamError, match="not a pywlc container"):
            decode_container(bad)
    with pytest.raises(BitstreamError, match="unsupported container version 2.0"):
        decode_container(data[:4] + bytes([2, 0]) + data[6:])
    with pytest.raises(BitstreamError, match="unsupported container version 0"):
        decode_container(data[:4] + bytes([0, 0]) + data[6:])
    # A newer minor of our major: its extension area is skipped.
    hs = header_size(data)
    ext = bytearray(data[: hs - 4] + b"EXTN" + data[hs - 4 :])
    ext[5] = 7
    struct.pack_into("<H", ext, 6, hs + 4)
    newer = decode_container(refresh_crc(ext))
    assert newer.version == (1, 7) and newer.layers == decode_container(data).layers
    # The same bytes claiming to be 1.0 are rejected.
    ext[5] = 0
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        decode_container(refresh_crc(ext))


def test_non_bytes_input_is_a_type_error():
    with pytest.raises(TypeError):
        decode_container("PWLC")


@pytest.mark.parametrize(
    "field, fmt, value, match",
    [
        ("color", "<B", 0, "colour format"),
        ("color", "<B", 200, "colour format"),
        ("bit_depth", "<B", 0, "bit depth"),
        ("bit_depth", "<B", 17, "bit depth"),
        ("n_layers", "<B", MAX_LAYERS + 1, "layer count"),
        ("n_layers", "<B", 4, "layer 3 .* not an earlier layer"),  # reads metadata as a 4th entry
        ("n_layers", "<B", 2, "metadata 0 key"),
        ("n_meta", "<B", 17, "metadata count"),
        ("n_meta", "<B", 3, "header truncated"),
        ("n_meta", "<B", 1, "unexpected bytes"),
        ("flags", "<B", 1, "flags"),
        ("width", "<I", 0, "width"),
        ("width", "<I", MAX_DIM + 1, "width"),
        ("height", "<I", 0xFFFFFFFF, "height"),
        ("frames", "<I", 0, "frames"),
    ],
)
def test_each_fixed_field_is_validated(field, fmt, value, match):
    # With the CRC refreshed the corrupted field itself must be caught, not just the checksum.
    bad = patch(sample(), OFF[field], fmt, value)
    with pytest.raises(BitstreamError, match=match):
        decode_container(bad)


@pytest.mark.parametrize("value, match", [(10, "smaller than the fixed header"), (142, "truncated: header_size")])
def test_header_size_field(value, match):
    bad = bytearray(sample())
    struct.pack_into("<H", bad, 6, value)
    with pytest.raises(BitstreamError, match=match):
        decode_container(bytes(bad))


def _table_offsets(data: bytes) -> list[int]:
    """Offsets of the layer entries in the table."""
    offs, pos = [], FIXED
    for _ in range(data[OFF["n_layers"]]):
        offs.append(pos)
        pos += 3 + data[pos + 2] + 8
    return offs


@pytest.mark.parametrize(
    "entry, rel, fmt, value, match",
    [
        (1, 0, "<B", 0, "used twice"),  # id of layer 1 := id of layer 0
        (0, 0, "<B", 255, "reserved"),
        (0, 1, "<B", 2, "not an earlier layer"),  # dependency on a later layer
        (2, 1, "<B", 2, "not an earlier layer"),  # self-dependency
        (0, 2, "<B", 0, "label length"),
        (0, 2, "<B", 33, "label length"),
        (0, 3, "<B", ord("Z"), "not ASCII"),
        (0, 4, "<I", 1 << 31, "truncated: the layers need"),  # huge claimed length: no allocation, clean error
        (2, 4, "<I", 0, "trailing bytes"),
        (0, 8, "<I", 0xDEADBEEF, "CRC32 mismatch"),  # stored payload CRC
    ],
)
def test_layer_table_is_validated(entry, rel, fmt, value, match):
    data = sample()
    off = _table_offsets(data)[entry]
    # rel 4/8 are relative to the end of the label: length and CRC follow it.
    if rel >= 4:
        off += 3 + data[off + 2] - 4
    bad = patch(data, off + rel, fmt, value)
    with pytest.raises(BitstreamError, match=match):
        decode_container(bad)


def test_metadata_is_validated():
    data = sample()
    meta = _table_offsets(data)[-1] + 3 + data[_table_offsets(data)[-1] + 2] + 8
    assert data[meta] == len("model")
    for rel, fmt, value, match in [
        (0, "<B", 0, "key length"),
        (0, "<B", 40, "key length"),
        (1, "<B", ord("M"), "not ASCII"),
        (6, "<H", MAX_METADATA_VALUE + 1, "exceeds"),
        (6, "<H", 500, "header truncated"),
    ]:
        with pytest.raises(BitstreamError, match=match):
            decode_container(patch(data, meta + rel, fmt, value))
    # Duplicate key: rename the second key "shape" to "model" (both 5 bytes, so the layout is unchanged).
    second = meta + 1 + 5 + 2 + len(b"weconvene-compact")
    dup = bytearray(data)
    dup[second + 1 : second + 6] = b"model"
    with pytest.raises(BitstreamError, match="appears twice"):
        decode_container(refresh_crc(dup))


def raw_header(meta_entries: list[tuple[bytes, bytes]]) -> bytes:
    """A layer-less container with metadata written as given (no encoder-side checks), CRC included."""
    meta = b"".join(bytes((len(k),)) + k + struct.pack("<H", len(v)) + v for k, v in meta_entries)
    hs = FIXED + len(meta) + 4
    head = struct.pack("<4sBBHHBBBBBBIII", b"PWLC", 1, 0, hs, 0, 0, 2, 8, 0, len(meta_entries), 0, 8, 8, 1) + meta
    return head + struct.pack("<I", zlib.crc32(head))


def test_metadata_total_limit_and_largest_header():
    ok = raw_header([(b"k%d" % i, b"v" * 200) for i in range(16)])
    assert len(decode_container(ok).metadata) == 16
    with pytest.raises(BitstreamError, match="metadata exceeds 4096 bytes"):
        decode_container(raw_header([(b"k%d" % i, b"v" * 1024) for i in range(5)]))
    # The largest header the encoder writes decodes well within the time bound.
    biggest = encode_container(
        **{
            **sample_kwargs(),
            "layers": [Layer(i, "l" * 32, b"", depends_on=i - 1 if i else None) for i in range(MAX_LAYERS)],
            "metadata": {f"key{i:02d}" + "k" * 27: b"v" * 224 for i in range(16)},
        }
    )
    t0 = time.perf_counter()
    assert decode_container(biggest).to_bytes() == biggest
    assert time.perf_counter() - t0 < TIME_BOUND_S


def test_header_crc_mismatch_at_every_header_byte():
    data = sample()
    hs = header_size(data)
    for i in range(6, hs):  # past magic and version, which have their own messages
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(BitstreamError):
            decode_container(bytes(bad))


def test_payload_crc_mismatch_in_every_layer():
    data = sample()
    c = decode_container(data)
    pos = header_size(data)
    for lay in c.layers:
        if lay.payload:
            bad = bytearray(data)
            bad[pos] ^= 1
            with pytest.raises(BitstreamError, match=f"layer {lay.id} .*CRC32 mismatch"):
                decode_container(bytes(bad))
        pos += len(lay.payload)


def test_truncation_at_every_offset():
    data = sample()
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            decode_container(data[:n])


def test_trailing_garbage_policy():
    data = sample()
    with pytest.raises(BitstreamError, match="3 trailing bytes"):
        decode_container(data + b"abc")
    # Opt-in for concatenated containers: nbytes tells where the next one starts.
    both = data + sample()
    first = decode_container(both, allow_trailing=True)
    assert first.nbytes == len(data)
    assert decode_container(both[first.nbytes :]) == first


# ----------------------------------------------------------------------------------------------------
# Fuzzing: any bytes -> a valid Container or BitstreamError, quickly


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        i = rng.randrange(len(out) + 1)
        if kind == 0 and out:  # bit flip
            out[i % len(out)] ^= 1 << rng.randrange(8)
        elif kind == 1:  # byte insertion
            out[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2:  # deletion
            del out[i : i + rng.randint(1, 8)]
        elif kind == 3:  # truncation
            del out[i:]
        elif kind == 4 and out:  # random byte
            out[i % len(out)] = rng.randrange(256)
        elif kind == 5 and len(out) > 8:  # a large value in a length-like place
            struct.pack_into("<I", out, i % (len(out) - 4), rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
    return bytes(out)


def test_fuzz_mutations_seeded():
    # Deterministic bulk fuzzing; half the mutants get their header CRC fixed so they reach the field checks.
    rng = random.Random(1234)
    base = sample()
    decoded = 0
    t0 = time.perf_counter()
    for i in range(5000):
        m = _mutate(base, rng)
        if i % 2 and len(m) >= FIXED + 4 and 32 <= header_size(m) <= len(m):
            m = refresh_crc(m)
        c = decode_or_error(m)
        if c is not None:
            decoded += 1
            assert c.to_bytes() == m[: c.nbytes] or c.version != (FORMAT_MAJOR, 0)
    assert time.perf_counter() - t0 < 5.0


@settings(max_examples=1500, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, 2), st.booleans())
def test_fuzz_hypothesis_random_bytes(blob, prefix, fix_crc):
    # prefix 0: raw random bytes; 1: our magic and version; 2: our magic, version and a plausible header_size.
    data = blob
    if prefix >= 1:
        data = b"PWLC\x01\x00" + blob
    if prefix == 2 and len(data) >= 32:
        data = data[:6] + struct.pack("<H", min(len(data), 32 + len(blob) % 64)) + data[8:]
    if fix_crc and len(data) >= 32 and 32 <= header_size(data) <= len(data):
        data = refresh_crc(data)
    decode_or_error(data)


@settings(max_examples=1000, deadline=1000)
@given(st.randoms(use_true_random=False), st.booleans())
def test_fuzz_hypothesis_mutations(rng, fix_crc):
    m = _mutate(sample(), rng)
    if fix_crc and len(m) >= 32 and 32 <= header_size(m) <= len(m):
        m = refresh_crc(m)
    c = decode_or_error(m)
    if c is not None:
        assert decode_container(c.to_bytes()) == decode_container(c.to_bytes())
