"""The built-in fuzz targets of :mod:`pywlc.testing.fuzz`: the container, the WeConvene image decoder (a tiny
random-init model, as the tests use), and ``mctf.synthesize`` with mutated side information."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
from typing import Any

import torch

from .fuzz import register, register_decoder

# The tests' tiny WeConvene / baseline configuration (tests/conftest.py): fast decodes, same code paths.
TINY = dict(N=16, M=24, Z=16, slices=3, depth=1, slice_hidden=(16, 16))


def _picture(c: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([yy, xx, (yy + xx) / 2])[:c] * 200
    return (base + 40 * torch.rand(c, h, w, generator=g)).clamp(0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------------------------------
# Container


def _container_setup() -> tuple[list[bytes], Any]:
    from ..bitstream import CodecId, ColorFormat, Layer, decode_container, drop_layers, encode_container

    rng = random.Random(0)
    seeds = []
    for k in range(4):
        layers = [Layer(i, f"l{i}", bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))),
                        None if i == 0 else i - 1) for i in range(k + 1)]  # fmt: skip
        header = dict(codec=CodecId.WECONVENE, quality=k, width=64 + k, height=48, color=ColorFormat.RGB, bit_depth=8)
        seeds.append(encode_container(**header, layers=layers, metadata={"tile": b"\x00\x04", "k": bytes([k])}))
    seeds.append(drop_layers(seeds[-1], [0, 1]))

    def decode(data: bytes) -> None:
        decode_container(data)

    return seeds, decode


register_decoder("container", _container_setup)


# ----------------------------------------------------------------------------------------------------
# WeConvene image decoder


def _image_models() -> dict[int, Any]:
    from ..bitstream import CodecId
    from ..models import WeConvene, WeConveneBaseline

    torch.manual_seed(0)
    models = {}
    for codec, cls in ((CodecId.WECONVENE, WeConvene), (CodecId.WECONVENE_BASELINE, WeConveneBaseline)):
        m = cls(**TINY).eval()
        m.update(force=True)
        models[int(codec)] = m
    return models


def _image_setup() -> tuple[list[bytes], Any]:
    from ..bitstream import CodecId, drop_layers
    from ..codecs import decode_image, encode_image

    torch.set_num_threads(1)
    models = _image_models()
    wc, bl = models[int(CodecId.WECONVENE)], models[int(CodecId.WECONVENE_BASELINE)]
    full = encode_image(wc, _picture(3, 64, 64, 1), 2)
    seeds = [
        full,
        drop_layers(full, ["z", "ll"]),
        encode_image(wc, _picture(1, 40, 72, 2), 1),
        encode_image(wc, _picture(3, 96, 80, 3), 3, tile=64),
        encode_image(bl, _picture(3, 64, 48, 4), 4),
    ]

    def decode(data: bytes) -> None:
        decode_image(data, lambda codec, quality: models[codec])

    return seeds, decode


def _image_structured(rng: random.Random, seed: bytes) -> bytes:
    """Re-wrapped with valid CRCs: mutated tile payloads (garbage for the rANS decoder) or header fields."""
    from ..bitstream import Layer, decode_container, reencode
    from .fuzz import mutate

    c = decode_container(seed)
    if rng.random() < 0.25:  # header: size, tile, quality (budget, tile count and allocation paths)
        changes: dict[str, Any] = {}
        field = rng.choice(("width", "height", "tile", "quality", "both"))
        if field in ("width", "height", "both"):
            for f in ("width", "height") if field == "both" else (field,):
                changes[f] = rng.choice((1, 63, 64, 65, 127, 1024, 4096, 65535, getattr(c, f) + rng.randint(-64, 64)))
                changes[f] = max(1, min(65535, changes[f]))
        elif field == "tile":
            tile = rng.choice((0, 1, 64, 128, 1024, 1088, 4096, 65535))
            changes["metadata"] = {**c.metadata, "tile": tile.to_bytes(2, "little")}
        else:
            changes["quality"] = rng.randrange(256)
        return reencode(c, **changes)
    keep_lengths = rng.random() < 0.6  # mutate inside the tile strings, lengths kept consistent: rANS garbage
    layers = []
    for lay in c.layers:
        p = lay.payload
        if p and rng.random() < 0.7:
            tiles = _tile_strings(p) if keep_lengths else None
            if tiles:
                tiles = [mutate(rng, [t]) if t and rng.random() < 0.7 else t for t in tiles]
                p = b"".join(len(t).to_bytes(4, "little") + t for t in tiles)
            else:
                p = mutate(rng, [p])
        layers.append(Layer(lay.id, lay.label, p, lay.depends_on))
    return reencode(c, layers=layers)


def _tile_strings(payload: bytes) -> list[bytes] | None:
    """A layer payload's u32-length-prefixed tile strings (``None`` if it does not parse)."""
    out, pos = [], 0
    while pos < len(payload):
        if pos + 4 > len(payload):
            return None
        n = int.from_bytes(payload[pos : pos + 4], "little")
        pos += 4
        if n > len(payload) - pos:
            return None
        out.append(payload[pos : pos + n])
        pos += n
    return out


# Structured mutants reach the model (~130 ms per decode on a loaded 2-core CPU, 1000x a refusal): a 15 % share
# keeps 100k inputs within an hour while ~10k of them run the entropy decoder and the synthesis on garbage.
register_decoder("image", _image_setup, structured=_image_structured, structured_share=0.15)


# ----------------------------------------------------------------------------------------------------
# The wavelet image codec (pywlc.codecs.wavelet), where this checkout has it


def _wavelet_setup() -> tuple[list[bytes], Any]:
    from ..codecs import wavelet
    from ..codecs.wavelet.entropy_model import SubbandEntropyModel
    from ..codecs.wavelet.postfilter import PostFilter

    torch.set_num_threads(1)
    if wavelet.model.WEIGHTS:
        model = wavelet.load_model()
    else:  # no shipped weights: a seeded random model, as tests/test_wavelet_codec.py uses
        torch.manual_seed(0)
        ent = SubbandEntropyModel(32)
        for p in ent.parameters():
            p.data.normal_(0, 0.05)
        model = wavelet.WaveletModel(ent, PostFilter(), "random")
    full = wavelet.encode(_picture(3, 64, 64, 5), quality=40, model=model)
    seeds = [
        full,
        wavelet.extract(full, resolution=2),
        wavelet.encode(_picture(1, 40, 56, 6), quality=70, model=model),
        wavelet.encode(_picture(3, 32, 48, 7), lossless=True, model=model),
    ]
    if model.lifting is not None:  # the default streams use the learned lifting step: the plain 9/7 mode too
        seeds.append(wavelet.encode(_picture(3, 48, 40, 8), quality=55, model=model, lifting=False))

    def decode(data: bytes) -> None:
        wavelet.decode(data, model=model)

    return seeds, decode


if importlib.util.find_spec("pywlc.codecs.wavelet") is not None:
    register_decoder("wavelet", _wavelet_setup, structured=_image_structured, structured_share=0.3)


# ----------------------------------------------------------------------------------------------------
# The scalable (quality-layered) wavelet streams: decoder and extractor


def _layers_setup() -> tuple[list[bytes], Any]:
    from ..codecs.wavelet import layered as L
    from ..codecs.wavelet import load_model
    from ..codecs.wavelet.layered_model import LAYERED_WEIGHTS, LayeredModel, load_layered_model

    torch.set_num_threads(1)
    model = load_layered_model() if LAYERED_WEIGHTS else LayeredModel.from_base(load_model())
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (3, 48, 64), generator=g, dtype=torch.uint8)
    x = (x.float() * 0.3 + torch.linspace(0, 170, 64)).round().clamp(0, 255).byte()
    full = L.encode_layers(x, [25, 50, 75], model=model)
    seeds = [full, L.extract_layers(full, layers=2), L.extract_layers(full, layers=3, resolution=2),
             L.encode_layers(x[1], [40, 70], model=model)]

    def run(data: bytes) -> None:
        L.decode_layers(data, model=model)  # dropped layers are reported, not raised
        L.extract_layers(data, layers=1)

    return seeds, run


def layers_structured(rng: random.Random, seed: bytes) -> bytes:
    """A layered stream re-wrapped with valid CRCs: mutated payloads (garbage for ANS) or ``wq`` metadata."""
    from ..bitstream import Layer, decode_container, reencode
    from ..codecs.wavelet import layered as L
    from .fuzz import mutate

    c = decode_container(seed)
    if rng.random() < 0.3:
        meta = dict(c.metadata)
        meta[L.META_KEY] = mutate(rng, [meta[L.META_KEY]])[:1024]
        return reencode(c, metadata=meta)
    layers = [Layer(lay.id, lay.label, mutate(rng, [lay.payload]) if rng.random() < 0.3 else lay.payload,
                    lay.depends_on) for lay in c.layers]  # fmt: skip
    return reencode(c, layers=layers)


if importlib.util.find_spec("pywlc.codecs.wavelet.layered") is not None:
    register_decoder("wavelet-layers", _layers_setup, structured=layers_structured, structured_share=0.35)


# ----------------------------------------------------------------------------------------------------
# WL-SVC video streams (pywlc.video.codec): segments of containers back to back


def _wlsvc_setup() -> tuple[list[bytes], Any]:
    from fractions import Fraction

    from ..video import codec as C
    from ..video.io import Video

    torch.set_num_threads(1)

    def clip(chroma: str, n: int, h: int, w: int, seed: int) -> Video:
        y = torch.stack([_picture(1, h, w, seed + t)[0] for t in range(n)])
        if chroma == "mono":
            return Video(y, None, None, "mono", Fraction(25))
        u = torch.stack([_picture(1, (h + 1) // 2, (w + 1) // 2, seed + 50 + t)[0] for t in range(n)])
        return Video(y, u, u.flip(-1).contiguous(), "420", Fraction(25))

    full = C.encode(clip("mono", 6, 40, 56, 1), 40, gop=4, segment=4)  # 2 spatial levels: 1/2 extractable
    # Quality layers (refinement payloads t<g>q<k>, metadata "sq"), whole and cut.
    layered = C.encode(clip("420", 4, 24, 32, 5), 30, gop=4, segment=4, layers=[45, 60])
    seeds = [
        full,
        C.extract(full, fps_divisor=2),
        C.extract(full, resolution=2),
        C.encode(clip("420", 3, 19, 26, 9), 55, gop=2, segment=2),
        C.encode(clip("mono", 4, 20, 20, 17), 30, gop=4, segment=4, model="classical"),
        layered,
        C.extract(layered, layers=2),
        C.extract(layered, layers=2, fps_divisor=2),
    ]

    def decode(data: bytes) -> None:
        C.decode(data)

    return seeds, decode


def _wlsvc_structured(rng: random.Random, seed: bytes) -> bytes:
    """One segment re-wrapped with valid CRCs (:func:`_image_structured`), the others kept."""
    from ..bitstream import decode_container

    segs, pos = [], 0
    while pos < len(seed):
        c = decode_container(seed[pos:], allow_trailing=True)
        segs.append(seed[pos : pos + c.nbytes])
        pos += c.nbytes
    i = rng.randrange(len(segs))
    segs[i] = _image_structured(rng, segs[i])
    if len(segs) > 1 and rng.random() < 0.1:
        segs.pop(rng.randrange(len(segs)))
    return b"".join(segs)


if importlib.util.find_spec("pywlc.video.codec") is not None:
    register_decoder("wlsvc", _wlsvc_setup, structured=_wlsvc_structured, structured_share=0.3)


# ----------------------------------------------------------------------------------------------------
# mctf.synthesize with mutated side information


def _mctf_setup() -> tuple[Any, Any]:
    from .. import mctf

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    def random_motion(cur, left, right, *, level, temporal_distance):
        h, w = cur.shape
        fl = (torch.rand(2, h, w, generator=g) - 0.5) * 8
        fr = None if right is None else (torch.rand(2, h, w, generator=g) - 0.5) * 8
        ul = torch.rand(h, w, generator=g) < 0.8
        return mctf.MotionFields(fl, fr, ul, None if fr is None else ~ul | (torch.rand(h, w, generator=g) < 0.5))

    x = torch.rand(5, 2, 12, 16) * 255
    bases = [
        mctf.analyze(x[:4], levels=1, motion="zero"),
        mctf.analyze(x, levels=2, motion=random_motion),
        mctf.analyze(x, levels=2, motion=random_motion, filter="haar", interp="bicubic"),
        mctf.analyze((x[:4]).to(torch.int32), levels=2, motion=random_motion, integer=True),
        mctf.analyze(x.double(), levels=1, motion=random_motion),
    ]

    def make_input(rng: random.Random) -> Any:
        r = rng.choice(bases)
        for _ in range(rng.randint(1, 3)):
            try:
                r = _mutate_result(rng, r)
            except (ValueError, TypeError, RuntimeError, IndexError):  # a mutation that does not apply (empty list)
                pass
        return r

    return make_input, mctf.synthesize


_LEVEL_TENSORS = ("field_left", "field_right", "uses_left", "uses_right", "scene_cut", "weight_left", "weight_right",
                  "connected_left", "connected_right")  # fmt: skip
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.int32, torch.int64, torch.uint8, torch.bool)


def _mutate_tensor(rng: random.Random, t: Any) -> Any:
    if not isinstance(t, torch.Tensor):  # mutated away before
        return rng.choice((None, torch.zeros(2, 2), torch.ones(1, dtype=torch.bool)))
    op = rng.randrange(8)
    if op == 0:  # shape: change, drop or add one dimension
        shape = list(t.shape)
        kind = rng.randrange(3)
        if kind == 0 and shape:
            i = rng.randrange(len(shape))
            shape[i] = rng.choice((0, 1, shape[i] - 1, shape[i] + 1, 2 * shape[i], shape[i] // 2, 64))
        elif kind == 1 and shape:
            del shape[rng.randrange(len(shape))]
        else:
            shape.insert(rng.randrange(len(shape) + 1), rng.choice((1, 2, 3)))
        shape = [max(0, s) for s in shape]
        return torch.zeros(shape, dtype=t.dtype) if rng.random() < 0.5 else torch.ones(shape, dtype=t.dtype)
    if op == 1:
        return t.to(rng.choice(_DTYPES))
    if op == 2 and t.numel():  # poison values
        t = t.clone()
        if t.is_floating_point():
            v = rng.choice((float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 1e7, -1e7, 3e38))
        else:
            v = rng.choice((0, 1, 2, 255, -1)) if t.dtype != torch.bool else rng.random() < 0.5
        flat = t.view(-1)
        for _ in range(rng.randint(1, 4)):
            try:
                flat[rng.randrange(flat.numel())] = v
            except (RuntimeError, OverflowError):
                pass
        return t
    if op == 3 and t.dim() >= 2:  # non-contiguous view with the same shape
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    if op == 4:
        return rng.choice((None, 0, [1, 2], "x", t.tolist() if t.numel() < 64 else None))
    if op == 5:
        return t.to("meta")
    if op == 6 and t.numel():  # random values of the same dtype
        if t.is_floating_point():
            return (torch.rand(t.shape) - 0.5).to(t.dtype) * rng.choice((1, 100, 1e6))
        return torch.randint(0, 2, t.shape).to(t.dtype)
    return t[..., :-1] if t.dim() and t.shape[-1] else t


def _mutate_result(rng: random.Random, r: Any) -> Any:
    op = rng.randrange(10)
    if op <= 4:  # one tensor of one level
        li = rng.randrange(len(r.motion))
        lvl = r.motion[li]
        name = rng.choice(_LEVEL_TENSORS)
        motion = list(r.motion)
        motion[li] = dataclasses.replace(lvl, **{name: _mutate_tensor(rng, getattr(lvl, name))})
        return dataclasses.replace(r, motion=motion)
    if op == 5:  # a level's counts
        li = rng.randrange(len(r.motion))
        lvl = r.motion[li]
        name = rng.choice(("num_frames", "temporal_distance"))
        v = rng.choice((0, 1, -1, getattr(lvl, name) + rng.choice((-1, 1, 2)), 1 << 40, 2.0, None))
        motion = list(r.motion)
        motion[li] = dataclasses.replace(lvl, **{name: v})
        return dataclasses.replace(r, motion=motion)
    if op == 6:  # subbands
        if rng.random() < 0.5 or not r.high:
            return dataclasses.replace(r, low=_mutate_tensor(rng, r.low))
        high = list(r.high)
        li = rng.randrange(len(high))
        high[li] = _mutate_tensor(rng, high[li])
        return dataclasses.replace(r, high=high)
    if op == 7:  # level lists
        motion, high = list(r.motion), list(r.high)
        kind = rng.randrange(3)
        if kind == 0 and motion:
            del motion[rng.randrange(len(motion))]
        elif kind == 1 and high:
            high.append(high[-1])
        else:
            motion.reverse()
        return dataclasses.replace(r, motion=motion, high=high)
    name = rng.choice(("num_frames", "alpha", "beta", "filter", "interp", "integer"))
    v = rng.choice(
        (0, 1, -1, 2, 3, 0.0, float("nan"), float("inf"), "haar", "5/3", "bicubic", "x", True, None, 1 << 40)
    )
    return dataclasses.replace(r, **{name: v})


register("mctf_synthesize", _mctf_setup, expected=(ValueError, TypeError))


# ----------------------------------------------------------------------------------------------------
# The harness's own check (tests/test_fuzz.py): each input is fine, refused, crashes (abort) or hangs.


def _selftest_setup() -> tuple[Any, Any]:
    import os

    def run_input(kind: int) -> None:
        if kind == 1:
            raise ValueError("refused")
        if kind == 2:
            os.abort()
        if kind == 3:  # an endless loop, as the rANS bypass loop on INT_MIN was
            while True:
                pass

    return (lambda rng: rng.randrange(4)), run_input


register("_selftest", _selftest_setup, expected=(ValueError,))
