"""The pywlc container: one versioned byte format for every pywlc codec (image now; scalable and video later).

Byte layout, version 1.0 (all integers little-endian)
-----------------------------------------------------
::

    offset  size  field
    0       4     magic            b"PWLC"
    4       1     major version    1
    5       1     minor version    0
    6       2     header_size      bytes from offset 0 up to and including the header CRC
    8       2     codec id         see :class:`CodecId` (unknown ids are kept: the codec layer rejects them)
    10      1     quality          0..255, the codec's own rate index
    11      1     colour format    see :class:`ColorFormat`
    12      1     bit depth        1..16
    13      1     layer count      0..MAX_LAYERS
    14      1     metadata count   0..MAX_METADATA_ENTRIES
    15      1     flags            reserved, must be 0
    16      4     width            1..MAX_DIM
    20      4     height           1..MAX_DIM
    24      4     frames           1..MAX_FRAMES
    28      ...   layer table, one entry per layer:
                    id u8 (0..254, unique) | depends_on u8 (0xFF: none; else the id of an EARLIER entry)
                    | label_len u8 (1..MAX_LABEL_LEN) | label (ASCII [a-z0-9_.-]) | length u32 | crc32 u32
          ...   metadata, one entry each:
                    key_len u8 (1..MAX_KEY_LEN) | key (ASCII [a-z0-9_.-]) | value_len u16 | value bytes
          ...   extension area: empty in 1.0; bytes a newer minor version appends, skipped by this decoder
    hs-4    4     header CRC32     ``zlib.crc32`` of bytes [0, header_size - 4)
    hs      ...   the layer payloads, concatenated in table order (nothing between or after them)

Version policy
--------------
The first six bytes (magic, major, minor) are frozen for every version.  A *major* bump may change anything
after them: the decoder rejects any major other than :data:`FORMAT_MAJOR`.  A *minor* bump may only append
fields to the extension area at the end of the header (and give meaning to reserved flag bits); a decoder
reads a newer minor of its major by skipping the extension area, and rejects a set flag bit it does not know.
Streams of the decoder's own minor must have an empty extension area.  The encoder always writes
``FORMAT_MAJOR.FORMAT_MINOR``.

Limits (why nothing in a header can make the decoder allocate unbounded memory)
-------------------------------------------------------------------------------
Every count and length is checked against a hard limit *and* against the bytes actually present before
anything is sliced; payloads are slices of the input, so the decoder never holds more than about twice the
input size.  Header: at most :data:`MAX_HEADER_SIZE` bytes (u16 field), :data:`MAX_LAYERS` layers,
labels up to :data:`MAX_LABEL_LEN` bytes, :data:`MAX_METADATA_ENTRIES` metadata entries with keys up to
:data:`MAX_KEY_LEN` bytes, values up to :data:`MAX_METADATA_VALUE` bytes and :data:`MAX_METADATA_BYTES` in
all.  Geometry: width and height up to :data:`MAX_DIM`, up to :data:`MAX_FRAMES` frames, bit depth 1..16 --
bounds for the codecs that allocate from them.  Each payload is at most ``2**32 - 1`` bytes (u32) and all of
them must lie inside the input.

Trailing bytes after the last payload are rejected unless ``decode_container(..., allow_trailing=True)``
(for streams of concatenated containers; :attr:`Container.nbytes` says where the next one starts).
"""

from __future__ import annotations

import enum
import re
import struct
import types
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .._checks import check_int as _check_int
from ..errors import BitstreamError

__all__ = [
    "MAGIC",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "reencode",
    "MAX_HEADER_SIZE",
    "MAX_LAYERS",
    "MAX_LABEL_LEN",
    "MAX_METADATA_ENTRIES",
    "MAX_KEY_LEN",
    "MAX_METADATA_VALUE",
    "MAX_METADATA_BYTES",
    "MAX_DIM",
    "MAX_FRAMES",
    "CodecId",
    "ColorFormat",
    "Layer",
    "Container",
    "encode_container",
    "decode_container",
    "drop_layers",
]

MAGIC = b"PWLC"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0

MAX_HEADER_SIZE = 0xFFFF
MAX_LAYERS = 64
MAX_LABEL_LEN = 32
MAX_METADATA_ENTRIES = 16
MAX_KEY_LEN = 32
MAX_METADATA_VALUE = 1024
MAX_METADATA_BYTES = 4096  # keys + values, summed over the entries
MAX_DIM = 1 << 16
MAX_FRAMES = 1 << 20
MAX_LAYER_BYTES = 0xFFFFFFFF

NO_DEPENDENCY = 0xFF
_FIXED = struct.Struct("<4sBBHHBBBBBBIII")  # up to and including frames: 28 bytes
_LAYER_TAIL = struct.Struct("<II")  # length, crc32
_CRC = struct.Struct("<I")
_KNOWN_FLAGS = 0  # no flag bit has a meaning in 1.0
_NAME = re.compile(rb"[a-z0-9_.\-]+\Z")


class CodecId(enum.IntEnum):
    """Codec ids written in the header.  New codecs take the next free number; numbers are never reused."""

    RAW = 0  # payloads are not coded by a pywlc codec (tests, tools)
    WECONVENE = 1  # pywlc.models.WeConvene: layers "ll" (base), "hf", "z"
    WECONVENE_BASELINE = 2  # pywlc.models.WeConveneBaseline: layers "y", "z"
    WAVELET = 3  # pywlc.codecs.wavelet: layers "res0" (approximation + coarsest level), "res1", ... (finer levels)
    WLSVC = 4  # pywlc.video (WL-SVC): one container per segment of frames; layers "mv<l>", "t<k>r<j>" (see its doc)


class ColorFormat(enum.IntEnum):
    """Colour format of the coded picture.  0 is invalid so that a zeroed header never parses."""

    GRAY = 1
    RGB = 2
    YUV444 = 3
    YUV422 = 4
    YUV420 = 5


@dataclass(frozen=True)
class Layer:
    """One layer (sub-stream) of a container.

    Attributes:
        id: 0..254, unique in the container.
        label: what the layer holds, 1..32 bytes of ``[a-z0-9_.-]`` (e.g. ``"ll"``, ``"hf"``, ``"z"``).
        payload: the coded bytes.
        depends_on: id of a lower layer (earlier in the table) this one cannot be decoded without, or None.
    """

    id: int
    label: str
    payload: bytes
    depends_on: int | None = None

    @property
    def crc32(self) -> int:
        """``zlib.crc32`` of the payload, as stored in the layer table."""
        return zlib.crc32(self.payload)


@dataclass(frozen=True)
class Container:
    """A decoded container.  ``Container.to_bytes()`` re-encodes it to the same bytes it was decoded from.

    ``version`` is the (major, minor) read from the stream; ``nbytes`` the bytes it spans in its input.
    """

    codec: int
    quality: int
    width: int
    height: int
    frames: int = 1
    color: ColorFormat = ColorFormat.RGB
    bit_depth: int = 8
    layers: tuple[Layer, ...] = ()
    metadata: Mapping[str, bytes] = field(default_factory=lambda: types.MappingProxyType({}))
    version: tuple[int, int] = (FORMAT_MAJOR, FORMAT_MINOR)
    nbytes: int = 0

    def layer(self, key: int | str) -> Layer:
        """The layer with this id (int) or label (str); ``KeyError`` if there is none."""
        for lay in self.layers:
            if (lay.id if isinstance(key, int) else lay.label) == key:
                return lay
        raise KeyError(f"no layer {key!r} in the container (have {[lay.label for lay in self.layers]})")

    def to_bytes(self) -> bytes:
        """Encode with the current format version (see :func:`encode_container`)."""
        return encode_container(
            codec=self.codec,
            quality=self.quality,
            width=self.width,
            height=self.height,
            frames=self.frames,
            color=self.color,
            bit_depth=self.bit_depth,
            layers=self.layers,
            metadata=self.metadata,
        )


# ----------------------------------------------------------------------------------------------------
# Encoding


def _check_name(value: object, name: str, max_len: int) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    raw = value.encode("ascii", errors="replace")
    if not 1 <= len(raw) <= max_len or not _NAME.match(raw):
        raise ValueError(f"{name} must be 1..{max_len} characters of [a-z0-9_.-], got {value!r}")
    return raw


def encode_container(
    *,
    codec: int,
    quality: int,
    width: int,
    height: int,
    frames: int = 1,
    color: ColorFormat | int = ColorFormat.RGB,
    bit_depth: int = 8,
    layers: Sequence[Layer] = (),
    metadata: Mapping[str, bytes] | None = None,
) -> bytes:
    """Serialise a container (format ``FORMAT_MAJOR.FORMAT_MINOR``; see the module doc for the layout).

    Args:
        codec: a :class:`CodecId` (or any u16).
        quality: the codec's rate index, 0..255.
        width, height: picture size in pixels, 1..MAX_DIM; frames: 1..MAX_FRAMES.
        color: a :class:`ColorFormat`; bit_depth: 1..16.
        layers: the layers in coding order; ids unique; ``depends_on`` names an earlier layer.
        metadata: small ``{key: bytes}`` (bounded, see the limits); kept in insertion order.

    Raises:
        TypeError / ValueError naming the argument when something cannot be represented.
    """
    _check_int(codec, "codec", 0, 0xFFFF)
    _check_int(quality, "quality", 0, 255)
    _check_int(width, "width", 1, MAX_DIM)
    _check_int(height, "height", 1, MAX_DIM)
    _check_int(frames, "frames", 1, MAX_FRAMES)
    _check_int(bit_depth, "bit_depth", 1, 16)
    try:
        color = ColorFormat(color)
    except ValueError:
        raise ValueError(f"color must be one of {[c.name for c in ColorFormat]}, got {color!r}") from None
    layers = tuple(layers)
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} layers, got {len(layers)}")
    metadata = dict(metadata or {})
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise ValueError(f"at most {MAX_METADATA_ENTRIES} metadata entries, got {len(metadata)}")

    table = bytearray()
    seen: set[int] = set()
    for i, lay in enumerate(layers):
        if not isinstance(lay, Layer):
            raise TypeError(f"layers[{i}] must be a Layer, got {type(lay).__name__}")
        _check_int(lay.id, f"layers[{i}].id", 0, NO_DEPENDENCY - 1)
        if lay.id in seen:
            raise ValueError(f"layers[{i}].id {lay.id} is used twice")
        dep = NO_DEPENDENCY
        if lay.depends_on is not None:
            dep = _check_int(lay.depends_on, f"layers[{i}].depends_on", 0, NO_DEPENDENCY - 1)
            if dep not in seen:
                raise ValueError(f"layers[{i}].depends_on={dep} must be the id of an earlier layer")
        seen.add(lay.id)
        label = _check_name(lay.label, f"layers[{i}].label", MAX_LABEL_LEN)
        if not isinstance(lay.payload, bytes | bytearray | memoryview):
            raise TypeError(f"layers[{i}].payload must be bytes, got {type(lay.payload).__name__}")
        payload = bytes(lay.payload)
        if len(payload) > MAX_LAYER_BYTES:
            raise ValueError(f"layers[{i}] payload is {len(payload)} bytes, at most {MAX_LAYER_BYTES}")
        table += bytes((lay.id, dep, len(label))) + label + _LAYER_TAIL.pack(len(payload), zlib.crc32(payload))

    meta = bytearray()
    total = 0
    for key, value in metadata.items():
        raw_key = _check_name(key, "metadata key", MAX_KEY_LEN)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"metadata[{key!r}] must be bytes, got {type(value).__name__}")
        value = bytes(value)
        if len(value) > MAX_METADATA_VALUE:
            raise ValueError(f"metadata[{key!r}] is {len(value)} bytes, at most {MAX_METADATA_VALUE}")
        total += len(raw_key) + len(value)
        meta += bytes((len(raw_key),)) + raw_key + struct.pack("<H", len(value)) + value
    if total > MAX_METADATA_BYTES:
        raise ValueError(f"metadata holds {total} bytes of keys and values, at most {MAX_METADATA_BYTES}")

    header_size = _FIXED.size + len(table) + len(meta) + _CRC.size
    # Cannot overflow: 64 layers * 43 bytes + 16 * 1059 bytes of metadata < 65535.
    fixed = _FIXED.pack(
        MAGIC,
        FORMAT_MAJOR,
        FORMAT_MINOR,
        header_size,
        codec,
        quality,
        int(color),
        bit_depth,
        len(layers),
        len(metadata),
        0,
        width,
        height,
        frames,
    )
    header = fixed + table + meta
    return b"".join([header, _CRC.pack(zlib.crc32(header)), *(bytes(lay.payload) for lay in layers)])


# ----------------------------------------------------------------------------------------------------
# Decoding: every read goes through _Reader, which checks the bytes are there before slicing


class _Reader:
    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.pos, self.end = data, start, end

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise BitstreamError(
                f"header truncated: {what} needs {n} bytes at offset {self.pos}, header ends at {self.end}"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]


def _read_name(r: _Reader, n: int, what: str) -> str:
    raw = r.take(n, what)
    if not _NAME.match(raw):
        raise BitstreamError(f"{what} {raw!r} is not ASCII [a-z0-9_.-]")
    return raw.decode("ascii")


def decode_container(data: bytes | bytearray | memoryview, *, allow_trailing: bool = False) -> Container:
    """Parse and verify a container.

    Checks magic, version, header CRC, every field against its limits, the layer table (unique ids,
    dependencies on earlier layers), that the payloads are present, and each payload's CRC32.

    Args:
        data: the stream.
        allow_trailing: accept bytes after the last payload (concatenated streams); otherwise they are an error.

    Returns:
        :class:`Container`.

    Raises:
        pywlc.errors.BitstreamError: corrupt, truncated, foreign or unsupported-version input (never another
            exception for any bytes); TypeError if ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    n = len(data)
    if n < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        head = data[: len(MAGIC)]
        raise BitstreamError(f"not a pywlc container: magic {head!r} (expected {MAGIC!r})")
    if n < 6:
        raise BitstreamError(f"truncated: {n} bytes, the version field ends at byte 6")
    major, minor = data[4], data[5]
    if major != FORMAT_MAJOR:
        raise BitstreamError(
            f"unsupported container version {major}.{minor}: this pywlc reads major version {FORMAT_MAJOR}"
        )
    if n < _FIXED.size + _CRC.size:
        raise BitstreamError(f"truncated: {n} bytes, shorter than the {_FIXED.size + _CRC.size}-byte minimal header")
    (_, _, _, header_size, codec, quality, color, bit_depth, n_layers, n_meta, flags, width, height, frames) = (
        _FIXED.unpack_from(data, 0)
    )
    if header_size < _FIXED.size + _CRC.size:
        raise BitstreamError(f"header_size {header_size} is smaller than the fixed header ({_FIXED.size + _CRC.size})")
    if header_size > n:
        raise BitstreamError(f"truncated: header_size {header_size} but only {n} bytes")
    crc_end = header_size - _CRC.size
    (stored_crc,) = _CRC.unpack_from(data, crc_end)
    if zlib.crc32(data[:crc_end]) != stored_crc:
        raise BitstreamError("header CRC32 mismatch: the header is corrupt")

    # The CRC matched: what follows guards against encoders that wrote nonsense, and keeps every loop bounded.
    if flags & ~_KNOWN_FLAGS:
        raise BitstreamError(f"unknown header flags 0x{flags:02x}")
    try:
        color = ColorFormat(color)
    except ValueError:
        raise BitstreamError(f"unknown colour format {color}") from None
    for name, value, lo, hi in (
        ("bit depth", bit_depth, 1, 16),
        ("width", width, 1, MAX_DIM),
        ("height", height, 1, MAX_DIM),
        ("frames", frames, 1, MAX_FRAMES),
        ("layer count", n_layers, 0, MAX_LAYERS),
        ("metadata count", n_meta, 0, MAX_METADATA_ENTRIES),
    ):
        if not lo <= value <= hi:
            raise BitstreamError(f"{name} {value} is outside [{lo}, {hi}]")

    r = _Reader(data, _FIXED.size, crc_end)
    entries = []
    seen: set[int] = set()
    for i in range(n_layers):
        lid, dep, label_len = r.u8(f"layer {i} id"), r.u8(f"layer {i} dependency"), r.u8(f"layer {i} label length")
        if lid == NO_DEPENDENCY:
            raise BitstreamError(f"layer {i}: id {lid} is reserved")
        if lid in seen:
            raise BitstreamError(f"layer {i}: id {lid} is used twice")
        if dep != NO_DEPENDENCY and dep not in seen:
            raise BitstreamError(f"layer {i} (id {lid}) depends on layer {dep}, which is not an earlier layer")
        if not 1 <= label_len <= MAX_LABEL_LEN:
            raise BitstreamError(f"layer {i}: label length {label_len} is outside [1, {MAX_LABEL_LEN}]")
        label = _read_name(r, label_len, f"layer {i} label")
        length, crc = _LAYER_TAIL.unpack(r.take(_LAYER_TAIL.size, f"layer {i} length and CRC"))
        seen.add(lid)
        entries.append((lid, label, None if dep == NO_DEPENDENCY else dep, length, crc))

    metadata: dict[str, bytes] = {}
    total = 0
    for i in range(n_meta):
        key_len = r.u8(f"metadata {i} key length")
        if not 1 <= key_len <= MAX_KEY_LEN:
            raise BitstreamError(f"metadata {i}: key length {key_len} is outside [1, {MAX_KEY_LEN}]")
        key = _read_name(r, key_len, f"metadata {i} key")
        (value_len,) = struct.unpack("<H", r.take(2, f"metadata {i} value length"))
        if value_len > MAX_METADATA_VALUE:
            raise BitstreamError(f"metadata {key!r}: value length {value_len} exceeds {MAX_METADATA_VALUE}")
        total += key_len + value_len
        if total > MAX_METADATA_BYTES:
            raise BitstreamError(f"metadata exceeds {MAX_METADATA_BYTES} bytes")
        if key in metadata:
            raise BitstreamError(f"metadata key {key!r} appears twice")
        metadata[key] = r.take(value_len, f"metadata {key!r} value")

    if r.pos != crc_end and minor <= FORMAT_MINOR:
        # Only a newer minor may carry an extension area (see the version policy in the module doc).
        raise BitstreamError(f"{crc_end - r.pos} unexpected bytes at the end of a version {major}.{minor} header")

    # Payloads: check the lengths against the bytes present before slicing anything.
    need = sum(e[3] for e in entries)
    have = n - header_size
    if need > have:
        raise BitstreamError(f"truncated: the layers need {need} payload bytes, {have} present")
    if need < have and not allow_trailing:
        raise BitstreamError(f"{have - need} trailing bytes after the last layer")
    layers = []
    pos = header_size
    for lid, label, dep, length, crc in entries:
        payload = data[pos : pos + length]
        pos += length
        if zlib.crc32(payload) != crc:
            raise BitstreamError(f"layer {lid} ({label!r}): payload CRC32 mismatch")
        layers.append(Layer(lid, label, payload, dep))
    return Container(
        codec=codec,
        quality=quality,
        width=width,
        height=height,
        frames=frames,
        color=color,
        bit_depth=bit_depth,
        layers=tuple(layers),
        metadata=types.MappingProxyType(metadata),
        version=(major, minor),
        nbytes=pos,
    )


# ----------------------------------------------------------------------------------------------------
# Extraction


def drop_layers(data: bytes | bytearray | memoryview, keep: Iterable[int | str]) -> bytes:
    """Extract a sub-stream: keep the named layers, drop the others and every layer that depends on a dropped one.

    Payloads are copied verbatim (no re-encoding), CRCs carried over; the result is a valid container of the
    current version with the same header fields and metadata.

    Args:
        data: a container.
        keep: layer ids (int) and/or labels (str) to keep (when their dependencies are kept too).

    Returns:
        The extracted container's bytes.

    Raises:
        BitstreamError: ``data`` is not a valid container. ValueError: ``keep`` names a layer that is not there.
    """
    c = decode_container(data)
    wanted: set[int] = set()
    for k in keep:
        if isinstance(k, bool) or not isinstance(k, int | str):
            raise TypeError(f"keep must hold layer ids (int) or labels (str), got {type(k).__name__}")
        try:
            wanted.add(c.layer(k).id)
        except KeyError as e:
            raise ValueError(f"keep: {e.args[0]}") from None
    kept: list[Layer] = []
    kept_ids: set[int] = set()
    for lay in c.layers:  # table order puts dependencies first, so one pass closes over chains
        if lay.id in wanted and (lay.depends_on is None or lay.depends_on in kept_ids):
            kept.append(lay)
            kept_ids.add(lay.id)
    return reencode(c, layers=kept)


def reencode(c: Container, **changes: object) -> bytes:
    """``c`` serialised again with some header fields replaced (``layers=``, ``metadata=``, ``width=`` ...)."""
    fields = dict(
        codec=c.codec,
        quality=c.quality,
        width=c.width,
        height=c.height,
        frames=c.frames,
        color=c.color,
        bit_depth=c.bit_depth,
        layers=c.layers,
        metadata=c.metadata,
    )
    fields.update(changes)
    return encode_container(**fields)
