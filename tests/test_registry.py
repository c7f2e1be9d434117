"""The codec registry: one spec per codec; encode/decode and the CLI find codecs only through it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from pywlc import BitstreamError
from pywlc import codecs as C
from pywlc.bitstream import CodecId, encode_container


def test_builtin_specs():
    specs = C.codecs()
    assert list(specs)[:1] == ["wavelet"] and {"weconvene", "baseline"} <= set(specs)
    assert specs["wavelet"].codec_id == CodecId.WAVELET and specs["weconvene"].extra == "weconvene"
    assert C.codec("wavelet").load().encode is not None
    with pytest.raises(ValueError, match="unknown codec 'nope'"):
        C.codec("nope")


def test_register_conflicts():
    spec = C.codec("wavelet")
    assert C.register_codec(spec) is spec  # the same spec again is harmless
    with pytest.raises(ValueError, match="already registered"):
        C.register_codec(C.CodecSpec("wavelet", 99, "x", "another codec under the same name"))
    with pytest.raises(ValueError, match="already registered"):
        C.register_codec(C.CodecSpec("other", int(CodecId.WAVELET), "x", "another codec under the same id"))
    with pytest.raises(TypeError):
        C.register_codec("wavelet")  # type: ignore[arg-type]


def test_encode_decode_dispatch():
    x = torch.randint(0, 256, (3, 24, 40), dtype=torch.uint8)
    data = C.encode(x, lossless=True)  # the default codec is the wavelet codec
    assert C.codec_for_stream(data).name == "wavelet"
    assert torch.equal(C.decode(data), x)
    lossy = C.encode(x, 60)
    assert C.decode(lossy).shape == x.shape


def test_unknown_codec_id_in_stream():
    data = encode_container(codec=200, quality=0, width=1, height=1, layers=())
    with pytest.raises(BitstreamError, match="no registered codec"):
        C.decode(data)


def test_registry_imports_without_compressai():
    code = (
        "import sys; sys.modules['compressai'] = None; sys.modules['torchvision'] = None\n"
        "import torch, pywlc.codecs as C\n"
        "x = torch.zeros(1, 8, 8, dtype=torch.uint8)\n"
        "assert torch.equal(C.decode(C.encode(x, lossless=True)), x)\n"
        "try:\n    C.codec('weconvene').load().encode(x, quality=1)\nexcept ImportError as e:\n"
        "    assert 'pywlc[weconvene]' in str(e), e\nelse:\n    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_dispatch_reads_the_header_only():
    """A layered stream with a damaged upper layer still dispatches (the codec reports the dropped layers), and a
    WL-SVC stream is pointed to the video API."""
    import warnings

    from pywlc import codecs
    from pywlc.bitstream import decode_container
    from pywlc.codecs.wavelet.layered import LayersDroppedWarning

    x = (torch.arange(3 * 40 * 48) % 251).to(torch.uint8).view(3, 40, 48)
    from pywlc.codecs import wavelet

    data = bytearray(wavelet.encode(x, layers=[20, 50]))
    last = decode_container(bytes(data)).layers[-1]
    data[-len(last.payload) // 2] ^= 0xFF  # inside the last layer's payload: its CRC fails
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = codecs.decode(bytes(data))
    assert y.shape == x.shape
    assert any(issubclass(w.category, LayersDroppedWarning) for w in caught)
    from fractions import Fraction

    from pywlc.video import Video, encode

    v = encode(Video(x[:1].expand(2, 40, 48).contiguous(), None, None, "mono", Fraction(25)), 40, gop=2, segment=2)
    with pytest.raises(BitstreamError, match="wlc video decode"):
        codecs.decode(v)
