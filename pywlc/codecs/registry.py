"""One registry of pywlc's image codecs: each codec declares one :class:`CodecSpec` beside its code.

A spec says everything the rest of the package needs to know about a codec -- its name on the command line,
its container id, its layers, the module that implements it (imported only when used, so that a codec whose
dependencies are missing, such as WeConvene without CompressAI, does not break the others) and the pip extra
that brings those dependencies.  :func:`encode`, :func:`decode`, ``wlc`` and ``wlc eval`` find codecs here
and in nothing else.

The implementing module provides ``encode(image, **options) -> bytes``, ``decode(data, **options) -> Tensor``
(``uint8 [C, H, W]``) and ``rd_settings() -> list[dict]`` (the options of the RD points ``wlc eval`` measures);
optionally ``extract(data, **options) -> bytes``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..bitstream import CodecId
from ..errors import BitstreamError

__all__ = ["CodecSpec", "codec", "codec_for_stream", "codecs", "decode", "encode", "register_codec"]


@dataclass(frozen=True)
class CodecSpec:
    """What pywlc knows about one codec.

    Attributes:
        name: command-line name (``wlc encode --codec NAME``).
        codec_id: the container's codec id (:class:`pywlc.bitstream.CodecId`).
        module: ``"package.module"`` or ``"package.module:attribute"`` of the implementation (imported lazily).
        description: one line for ``--help`` and ``wlc info``.
        layers: the layer labels a full stream holds, in order (a description when they vary with the picture).
        extra: the ``pip install pywlc[EXTRA]`` that the module needs, if any.
        options: keyword arguments the module's ``encode`` takes from the command line (name -> help).
    """

    name: str
    codec_id: int
    module: str
    description: str
    layers: tuple[str, ...] = ()
    extra: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def load(self) -> Any:
        """The implementation; ImportError naming the extra to install when its dependencies are missing."""
        path, _, attr = self.module.partition(":")
        try:
            mod: ModuleType = importlib.import_module(path)
            return getattr(mod, attr) if attr else mod
        except ImportError as e:
            hint = f" (pip install pywlc[{self.extra}])" if self.extra else ""
            raise ImportError(f"codec {self.name!r} is not available: {e}{hint}") from e


_BY_NAME: dict[str, CodecSpec] = {}
_BY_ID: dict[int, CodecSpec] = {}
# Spec modules of the codecs pywlc ships: light modules that only call register_codec.
_BUILTIN = ("pywlc.codecs.wavelet.spec", "pywlc.codecs.weconvene_spec")
_loaded = False


def register_codec(spec: CodecSpec) -> CodecSpec:
    """Add ``spec``; a name or container id already taken by another codec is an error."""
    if not isinstance(spec, CodecSpec):
        raise TypeError(f"spec must be a CodecSpec, got {type(spec).__name__}")
    for key, table in ((spec.name, _BY_NAME), (spec.codec_id, _BY_ID)):
        old = table.get(key)
        if old is not None and old != spec:
            raise ValueError(f"codec {key!r} is already registered as {old}")
    _BY_NAME[spec.name] = spec
    _BY_ID[spec.codec_id] = spec
    return spec


def _builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _BUILTIN:
            importlib.import_module(mod)


def codecs() -> dict[str, CodecSpec]:
    """Every registered codec by name (default codec first)."""
    _builtins()
    return dict(_BY_NAME)


def codec(name: str) -> CodecSpec:
    """The spec of codec ``name`` (ValueError listing the known names otherwise)."""
    _builtins()
    if name not in _BY_NAME:
        raise ValueError(f"unknown codec {name!r}: choose from {sorted(_BY_NAME)}")
    return _BY_NAME[name]


def codec_for_stream(data: bytes | bytearray | memoryview) -> CodecSpec:
    """The spec of the codec that wrote ``data`` (from the container header; BitstreamError if unknown)."""
    _builtins()
    codec_id = _header_codec_id(data)
    spec = _BY_ID.get(codec_id)
    if spec is None:
        if codec_id == CodecId.WLSVC:
            raise BitstreamError("a WL-SVC video stream: decode it with pywlc.video.decode (wlc video decode)")
        raise BitstreamError(f"no registered codec has container id {codec_id}")
    return spec


def _header_codec_id(data: bytes | bytearray | memoryview) -> int:
    """The codec id of a container whose *header* is intact (magic, size, header CRC32).

    The payloads are not checked here: each codec checks its own layers, and a layered codec decodes the intact
    lower layers of a stream whose upper layers are damaged (the scalable image codec reports the dropped ones).
    """
    import struct
    import zlib

    b = bytes(data[:65536])
    if len(b) < 32 or b[:4] != b"PWLC":
        raise BitstreamError("not a pywlc stream (bad magic or truncated header)")
    major, header_size, codec_id = b[4], struct.unpack_from("<H", b, 6)[0], struct.unpack_from("<H", b, 8)[0]
    if major != 1:
        raise BitstreamError(f"unsupported container major version {major}")
    if not 32 <= header_size <= len(b):
        raise BitstreamError(f"truncated: header of {header_size} bytes, {len(b)} present")
    if zlib.crc32(b[: header_size - 4]) != struct.unpack_from("<I", b, header_size - 4)[0]:
        raise BitstreamError("header CRC32 mismatch")
    return codec_id


def encode(image: Any, codec_name: str = "wavelet", **options: Any) -> bytes:
    """``codec(codec_name).load().encode(image, **options)``: the default is the wavelet codec."""
    return codec(codec_name).load().encode(image, **options)


def decode(data: bytes | bytearray | memoryview, **options: Any) -> Any:
    """Decode any registered codec's stream (dispatch by the container's codec id)."""
    return codec_for_stream(data).load().decode(data, **options)
