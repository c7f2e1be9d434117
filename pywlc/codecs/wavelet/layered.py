"""Scalable wavelet coding: K embedded quality layers x J resolution levels in one stream, any prefix decodable.

``encode_layers(image, qualities=[Q1, ..., QK] | bpps=[B1, ..., BK]) -> bytes``,
``decode_layers(bytes, layers=K, resolution=R) -> LayeredResult`` (picture + which layers were dropped),
``extract_layers(bytes, layers=K, resolution=R) -> bytes`` (a sub-stream, no re-encoding), ``read_layered_header``.

Quality layer 0 is the single-layer codec's stream at step code ``c_0`` (same symbols, same model).  Layer k
quantises the same 9/7 pyramid at a finer step ``c_k < c_{k-1}`` and codes each fine index inside the coarse bin
the lower layers decoded, with the refinement model (:mod:`.refine_model`, :mod:`.refine_coder`); the approximation
band is sent at the fine step as its difference from the coarse values rescaled (``round(q_{k-1} R)``).  Every
layer's fine indices are those the single-layer encoder would send at ``c_k``, reconstructed with that layer's own
encoder-measured offsets, except where the coarse bin cuts the fine bin (dead-zone bins do not nest): there the
coefficient goes inside the intersection, which the lower layers' bits pay for.  The post-filter is conditioned on
the decoded layer's step.  Decoding one layer gives the single-layer codec's picture at ``c_0`` bit for bit.

Stream (``pywlc.bitstream`` container, codec :attr:`~pywlc.bitstream.CodecId.WAVELET`, metadata ``"wq"`` instead of
the single-layer ``"wl"``): ``version u8 | levels u8 | K u8 | base model_id 8 bytes | refine model_id 8 bytes |
step_code i16 per layer | ll_scale u8 per layer and channel | delta u8 per layer and level``.  Layers ``r{j}q{k}``
in quality-major order (all resolutions of q0, then of q1, ...: a quality prefix is a stream prefix, as JPEG
2000's LRCP progression); ``r{j}q0`` depends on ``r{j-1}q0``, ``r{j}q{k}`` on ``r{j}q{k-1}`` (and, implicitly, on
``r{j-1}q{k}``, whose coefficients are its parents).  Decodable sets are rectangles ``{j < J', k < K'}``;
:func:`decode_layers` uses the largest rectangle of intact layers (CRC-checked) that the request allows and
reports the others as dropped.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from dataclasses import dataclass

import torch
from torch import Tensor

from ...bitstream import CodecId, ColorFormat, Container, Layer, decode_container, drop_layers, encode_container
from ...errors import BitstreamError
from ..budget import DecodeBudget, check_budget
from . import context as ctx
from . import transform as T
from .codec import (
    _BYTES_PER_PIXEL_ESTIMATE,
    DEFAULT_DECODE_BUDGET,
    StreamHeader,
    _as_image,
    _check_resolution,
    _reconstruct,
    _walk_level,
    band_geometry,
    quality_code,
)
from .coder import LayerDecoder, LayerEncoder, ll_from_residuals, ll_residuals, ll_scale_indices
from .entropy_model import N_SCALES, SubbandEntropyModel, exact_logscale, group_channels, scale_index
from .layered_model import LayeredModel, load_layered_model
from .pyramid import QPyramid, level_inputs, optimal_deltas, quantize_pyramid
from .refine_coder import decode_refinement, encode_refinement
from .refine_model import MAX_CODE_GAP, RefineEntropyModel, coarse_features, codes_refine, gap_ratio, nest

__all__ = [
    "DEFAULT_QUALITIES",
    "LayeredHeader",
    "LayeredResult",
    "LayersDroppedWarning",
    "decode_layers",
    "dropped_message",
    "encode_layers",
    "extract_layers",
    "is_layered",
    "check_layer_count",
    "ll_prediction",
    "quality_codes",
    "read_layered_header",
    "refined_pyramid",
    "walk_refinement",
    "warn_dropped",
]

FORMAT_VERSION = 1
META_KEY = "wq"
DEFAULT_QUALITIES = (20.0, 40.0, 60.0, 80.0)
MAX_QUALITY_LAYERS = 8
_FIXED = struct.Struct("<BBB8s8s")


def _label(j: int, k: int) -> str:
    return f"r{j}q{k}"


@dataclass(frozen=True)
class LayeredHeader:
    """What a layered stream's header says (read without decoding)."""

    width: int
    height: int
    channels: int
    levels: int
    codes: tuple[int, ...]  # step code per quality layer, coarse to fine
    base_id: bytes
    refine_id: bytes
    ll_scales: tuple[tuple[int, ...], ...]  # per quality layer, per channel
    deltas: tuple[tuple[float, ...], ...]  # per quality layer, per level
    layers: tuple[str, ...]  # labels present, in table order
    layer_bytes: tuple[int, ...]

    @property
    def qualities(self) -> int:
        return len(self.codes)

    @property
    def resolutions(self) -> int:
        return max(1, self.levels)

    def single(self, k: int) -> StreamHeader:
        """The single-layer header that quality layer ``k`` reconstructs like."""
        return StreamHeader(self.width, self.height, self.channels, False, self.levels, self.codes[k], self.base_id,
                            self.ll_scales[k], self.deltas[k], (), ())


@dataclass(frozen=True)
class LayeredResult:
    """A decoded layered stream: ``image`` (``uint8 Tensor[C, H, W]``), the number of quality layers and the
    resolution divisor it was decoded at, ``dropped``: the layers the request asked for that were not decoded
    (in stream order), and ``corrupt``: those of them whose payload was missing, truncated or failed its CRC (the
    others were dropped because they depend on those, or to keep every resolution at the same quality)."""

    image: Tensor
    layers: int
    resolution: int
    dropped: tuple[str, ...]
    corrupt: tuple[str, ...] = ()


class LayersDroppedWarning(UserWarning):
    """Some layers of a layered stream could not be decoded (missing or corrupt); the lower ones were."""


def warn_dropped(result: LayeredResult) -> None:
    """Warn (:class:`LayersDroppedWarning`) when ``result`` dropped layers."""
    if result.dropped:
        warnings.warn(dropped_message(result), LayersDroppedWarning, stacklevel=3)


def dropped_message(result: LayeredResult) -> str:
    """One line saying which layers ``result`` dropped, which of them were corrupt, and what was decoded."""
    return (f"layers {', '.join(result.dropped)} dropped (missing or corrupt: {', '.join(result.corrupt) or 'none'}); "
            f"decoded {result.layers} quality layer(s) at 1/{result.resolution} resolution")


def is_layered(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` looks like a layered wavelet stream (checks the header only; never raises)."""
    try:
        cont = _salvage(data)[0]
    except (BitstreamError, TypeError):
        return False
    return cont.codec == CodecId.WAVELET and META_KEY in cont.metadata


# ---------------------------------------------------------------------------------------------------- encode


def quality_codes(qualities: object, what: str = "qualities") -> list[int]:
    """Step codes of the quality layers ``qualities`` (coarse to fine), checked to refine layer by layer.

    Raises:
        ValueError: not 1..:data:`MAX_QUALITY_LAYERS` qualities, or a layer not 1..:data:`MAX_CODE_GAP` codes finer
            than the one below (the message names ``what``).
    """
    if not isinstance(qualities, list | tuple) or not 1 <= len(qualities) <= MAX_QUALITY_LAYERS:
        raise ValueError(f"{what} must be a list of 1..{MAX_QUALITY_LAYERS} numbers, got {qualities!r}")
    codes = [quality_code(q) for q in qualities]
    if not codes_refine(codes):
        raise ValueError(f"{what} must increase, each layer's step 1/16 to 8 octaves finer than the last; got "
                         f"{list(qualities)} (step codes {codes})")
    return codes


class _Encoder:
    """Codes one picture layer by layer; a layer can be tried at several step codes (``bpps`` search)."""

    def __init__(self, x: Tensor, model: LayeredModel) -> None:
        self.x, self.model = x, model
        _, self.c, self.h, self.w = x.shape
        self.levels = T.levels_for(self.h, self.w)
        self.p = T.forward(x, False)
        self.codes: list[int] = []
        self.qps: list[QPyramid] = []
        self.payloads: list[list[bytes]] = []
        self.ll_scales: list[list[int]] = []
        self.deltas: list[bytes] = []

    def layer(self, code: int) -> tuple[QPyramid, list[bytes], list[int], bytes]:
        step = T.step_of_code(code)
        qp = quantize_pyramid(self.p, step, False)
        k = len(self.codes)
        if k:
            coarse, gap = self.qps[-1], self.codes[-1] - code
            qp.levels = [nest(f, c, gap_ratio(gap)) for f, c in zip(qp.levels, coarse.levels, strict=True)]
        deltas = b"" if not self.levels else bytes(int(round(float(d) * 255))
                                                   for d in optimal_deltas(self.p, qp, step)[0])
        r = qp.ll.long() - ll_prediction(self.qps[-1].ll, self.codes[-1] - code) if k else ll_residuals(qp.ll)
        ll_idx = ll_scale_indices(r)
        payloads = []
        for j in range(max(1, self.levels)):
            enc = LayerEncoder()
            if j == 0:
                for ch in range(self.c):
                    enc.code(r[:, ch], torch.full_like(r[:, ch], ll_idx[ch]), T.XI_LOSSLESS)
            if self.levels:
                if k == 0:
                    _walk_level(self.model.base, qp, j, code, False, T.XI_LOSSY, enc=enc)
                else:
                    walk_refinement(self.model.refine, qp, self.qps[-1], j, code, self.codes[-1] - code, enc=enc)
            payloads.append(enc.finish())
        return qp, payloads, ll_idx, deltas

    def push(self, code: int, coded: tuple[QPyramid, list[bytes], list[int], bytes]) -> None:
        qp, payloads, ll_idx, deltas = coded
        self.codes.append(code)
        self.qps.append(qp)
        self.payloads.append(payloads)
        self.ll_scales.append(ll_idx)
        self.deltas.append(deltas)

    def nbytes(self) -> int:
        return sum(len(b) for pl in self.payloads for b in pl)

    def stream(self) -> bytes:
        res = max(1, self.levels)
        layers = []
        for k, payloads in enumerate(self.payloads):
            for j, data in enumerate(payloads):
                dep = (None if j == 0 else (j - 1)) if k == 0 else (k - 1) * res + j
                layers.append(Layer(k * res + j, _label(j, k), data, dep))
        meta = (_FIXED.pack(FORMAT_VERSION, self.levels, len(self.codes), self.model.base.model_id,
                            self.model.model_id)
                + b"".join(struct.pack("<h", c) for c in self.codes)
                + b"".join(bytes(s) for s in self.ll_scales) + b"".join(self.deltas))
        q_byte = int(min(255, max(0, round((7 - self.codes[-1] / 16) * 12.5))))
        return encode_container(
            codec=CodecId.WAVELET, quality=q_byte, width=self.w, height=self.h,
            color=ColorFormat.RGB if self.c == 3 else ColorFormat.GRAY, bit_depth=8, layers=layers,
            metadata={META_KEY: meta},
        )


@torch.no_grad()
def encode_layers(
    image: Tensor,
    qualities: list[float] | tuple[float, ...] | None = None,
    *,
    bpps: list[float] | tuple[float, ...] | None = None,
    model: LayeredModel | None = None,
) -> bytes:
    """Compress an 8-bit picture into one stream of embedded quality layers (lossy).

    Args:
        image: ``uint8 Tensor[C, H, W]`` (C = 1 or 3) or ``[H, W]``, or floats in 0..255.
        qualities: the layers' qualities (0..100, increasing, as the single-layer codec's ``quality``);
            default :data:`DEFAULT_QUALITIES`.
        bpps: instead of ``qualities``: increasing cumulative targets in bits per pixel; each layer takes the
            finest step whose cumulative stream fits (bisection over the step codes finer than the layer below).
        model: the learned parts (default: :func:`.layered_model.load_layered_model`).
    Raises:
        TypeError / ValueError: bad arguments (naming them), non-finite pixels.
    """
    if qualities is not None and bpps is not None:
        raise ValueError("give qualities= or bpps=, not both")
    x = _as_image(image, False)
    model = load_layered_model() if model is None else model
    enc = _Encoder(x, model)
    if bpps is None:
        for code in quality_codes(list(DEFAULT_QUALITIES) if qualities is None else qualities):
            enc.push(code, enc.layer(code))
        return enc.stream()
    if not isinstance(bpps, list | tuple) or not 1 <= len(bpps) <= MAX_QUALITY_LAYERS:
        raise ValueError(f"bpps must be a list of 1..{MAX_QUALITY_LAYERS} numbers, got {bpps!r}")
    for b in bpps:
        if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0:
            raise ValueError(f"bpps must be positive numbers, got {bpps!r}")
    if list(bpps) != sorted(bpps) or len(set(bpps)) != len(bpps):
        raise ValueError(f"bpps must increase, got {list(bpps)}")
    pixels = enc.h * enc.w
    for b in bpps:
        budget = b * pixels / 8 - enc.nbytes()
        hi = T.STEP_CODE_MAX if not enc.codes else enc.codes[-1] - 1
        lo = max(T.STEP_CODE_MIN, hi - MAX_CODE_GAP + 1) if enc.codes else T.STEP_CODE_MIN
        if hi < lo:
            break
        best = (hi, enc.layer(hi))
        if sum(map(len, best[1][1])) <= budget:  # bisection: bytes fall as the code grows
            while hi - lo > 1:
                mid = (lo + hi) // 2
                coded = enc.layer(mid)
                if sum(map(len, coded[1])) <= budget:
                    hi, best = mid, (mid, coded)
                else:
                    lo = mid
            coded = enc.layer(lo)
            if lo < best[0] and sum(map(len, coded[1])) <= budget:
                best = (lo, coded)
        enc.push(*best)
    return enc.stream()


def ll_prediction(coarse_ll: Tensor, gap: int) -> Tensor:
    """The approximation band of a refinement layer is coded as its difference from the coarse layer's values
    rescaled to the fine step (``round(q R)``, one IEEE product and a round: the same on every machine)."""
    return torch.round(coarse_ll.double() * gap_ratio(gap)).long()


def refine_pass_indices(model: RefineEntropyModel, fine: QPyramid, coarse: QPyramid, j: int, g: int, k: int,
                        code: int, gap: int, cfeat: Tensor | None = None) -> Tensor:
    """Scale indices ``int64 Tensor[N, Cg, 3, Hq, Wq]`` of refinement pass ``k`` of group ``g`` at level ``j``,
    in exact fixed point, from what a decoder has: the fine level's earlier passes, fine coarser levels and luma,
    and the whole coarse level (``cfeat``: its :func:`.refine_model.coarse_features` ``float64 [N, C, 3, 4, Hq,
    Wq]`` if already computed)."""
    n, c = fine.ll.shape[:2]
    chans = group_channels(c)[g]
    cur, parent = level_inputs(fine, j, torch.float64)
    grid = fine.grid(j)
    cond = ctx.cond_planes(n, grid, len(fine.levels) - 1 - j, code, False, torch.float64)
    base = SubbandEntropyModel.inputs(cur[:, chans], None if parent is None else parent[:, chans],
                                      cur[:, :1] if g else None, k, cond)
    if cfeat is None:
        cfeat = coarse_features(ctx.space_to_depth(coarse.levels[j]), gap_ratio(gap), torch.float64)
    out = exact_logscale(model.nets(g)[k], RefineEntropyModel.inputs(base, cfeat[:, chans], gap))
    return scale_index(out.view(n, len(chans), 3, *grid))


def walk_refinement(model: RefineEntropyModel, fine: QPyramid, coarse: QPyramid, j: int, code: int, gap: int,
                     enc: LayerEncoder | None = None, dec: LayerDecoder | None = None) -> None:
    """Code (``enc``) or decode in place (``dec``) the refinement of detail level ``j`` (``fine.levels[j]`` holds
    the nested fine indices when encoding; when decoding it is overwritten, pass by pass)."""
    valid_ph = ctx.space_to_depth(fine.valid(j))  # [3, 4, Hq, Wq]
    coarse_ph = ctx.space_to_depth(coarse.levels[j])  # [N, C, 3, 4, Hq, Wq]
    cfeat = coarse_features(coarse_ph, gap_ratio(gap), torch.float64)
    for g, chans in enumerate(group_channels(fine.ll.shape[1])):
        for k, phase in enumerate(ctx.PASS_PHASES):
            idx = refine_pass_indices(model, fine, coarse, j, g, k, code, gap, cfeat)  # [N, Cg, 3, Hq, Wq]
            sel = valid_ph[:, phase].expand_as(idx)
            qc = coarse_ph[:, chans, :, phase][sel]
            phases = ctx.space_to_depth(fine.levels[j])
            part = phases[:, chans, :, phase]
            if enc is not None:
                encode_refinement(enc, part[sel], qc, idx[sel], gap)
            else:
                vals = decode_refinement(dec, qc, idx[sel], gap)
                if vals.numel() and int(vals.abs().max()) >= 1 << 30:
                    raise BitstreamError("refined coefficient out of range (corrupt stream)")
                part[sel] = vals.to(part.dtype)
                phases[:, chans, :, phase] = part
                fine.levels[j] = ctx.depth_to_space(phases)


# ---------------------------------------------------------------------------------------------------- header


def _salvage(data: bytes | bytearray | memoryview) -> tuple[Container, tuple[str, ...], tuple[str, ...]]:
    """The container with its intact layers, the labels of the layers whose payload is missing or corrupt, and
    of those left out because they depend on one of them.

    An intact stream goes through :func:`~pywlc.bitstream.decode_container` unchanged.  Otherwise the header
    (its own CRC must hold) is read with the container's layout (:mod:`pywlc.bitstream.container`) and the
    layers whose payload is truncated or fails its CRC are left out (with every layer depending on them), then
    the remaining container is re-serialised and parsed again, so every other check still applies.
    """
    try:
        return decode_container(data), (), ()
    except BitstreamError as first:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise
        raw = bytes(data)
        if len(raw) < 32 or raw[:4] != b"PWLC":
            raise
        header_size = struct.unpack_from("<H", raw, 6)[0]
        if not 32 <= header_size <= len(raw) or zlib.crc32(raw[: header_size - 4]) != struct.unpack_from(
                "<I", raw, header_size - 4)[0]:
            raise
        fields = struct.unpack_from("<4sBBHHBBBBBBIII", raw, 0)
        n_layers, n_meta = fields[8], fields[9]
        pos, end, payload_pos = 28, header_size - 4, header_size
        kept: list[Layer] = []
        bad: list[str] = []
        lost: list[str] = []
        kept_ids: set[int] = set()
        try:
            for _ in range(n_layers):
                lid, dep, n = raw[pos], raw[pos + 1], raw[pos + 2]
                label = raw[pos + 3 : pos + 3 + n].decode("ascii")
                length, crc = struct.unpack_from("<II", raw, pos + 3 + n)
                pos += 3 + n + 8
                payload = raw[payload_pos : payload_pos + length]
                payload_pos += length
                if len(payload) != length or zlib.crc32(payload) != crc:
                    bad.append(label)
                elif dep != 0xFF and dep not in kept_ids:
                    lost.append(label)
                else:
                    kept.append(Layer(lid, label, payload, None if dep == 0xFF else dep))
                    kept_ids.add(lid)
            meta = {}
            for _ in range(n_meta):
                n = raw[pos]
                key = raw[pos + 1 : pos + 1 + n].decode("ascii")
                (vlen,) = struct.unpack_from("<H", raw, pos + 1 + n)
                meta[key] = raw[pos + 3 + n : pos + 3 + n + vlen]
                pos += 3 + n + vlen
            if pos > end:
                raise first
            rebuilt = encode_container(codec=fields[4], quality=fields[5], color=fields[6], bit_depth=fields[7],
                                       width=fields[11], height=fields[12], frames=fields[13], layers=kept,
                                       metadata=meta)
        except (IndexError, struct.error, UnicodeDecodeError, ValueError, TypeError):
            raise first from None
        if not bad:
            raise first
        return decode_container(rebuilt), tuple(bad), tuple(lost)


def read_layered_header(data: bytes | bytearray | memoryview) -> LayeredHeader:
    """Parse and validate a layered stream's header and layer table (no decoding; corrupt payloads allowed).

    Raises:
        BitstreamError: not a layered wavelet stream, or an inconsistent header.
    """
    return _header_of(_salvage(data)[0])


def _header_of(cont: Container) -> LayeredHeader:
    if cont.codec != CodecId.WAVELET:
        raise BitstreamError(f"not a wavelet-codec stream (codec id {cont.codec})")
    if cont.color not in (ColorFormat.GRAY, ColorFormat.RGB) or cont.bit_depth != 8 or cont.frames != 1:
        raise BitstreamError(f"unsupported format: {cont.color.name}, {cont.bit_depth} bits, {cont.frames} frames")
    c = 3 if cont.color == ColorFormat.RGB else 1
    meta = cont.metadata.get(META_KEY)
    if meta is None or len(meta) < _FIXED.size:
        raise BitstreamError(f"missing or short '{META_KEY}' metadata (not a layered wavelet stream)")
    version, levels, n_q, base_id, refine_id = _FIXED.unpack_from(meta, 0)
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unsupported layered wavelet stream version {version} (this decoder reads "
                             f"{FORMAT_VERSION})")
    if levels != T.levels_for(cont.height, cont.width):
        raise BitstreamError(f"{levels} levels do not fit a {cont.width}x{cont.height} picture")
    if not 1 <= n_q <= MAX_QUALITY_LAYERS:
        raise BitstreamError(f"{n_q} quality layers (1..{MAX_QUALITY_LAYERS} allowed)")
    rest = meta[_FIXED.size :]
    if len(rest) != n_q * (2 + c + levels):
        raise BitstreamError(f"'{META_KEY}' metadata holds {len(rest)} trailing bytes, expected "
                             f"{n_q * (2 + c + levels)}")
    codes = struct.unpack_from(f"<{n_q}h", rest, 0)
    for a in codes:
        if not T.STEP_CODE_MIN <= a <= T.STEP_CODE_MAX:
            raise BitstreamError(f"step code {a} out of range")
    if not codes_refine(codes):
        raise BitstreamError(f"step codes {list(codes)} do not refine layer by layer")
    off = 2 * n_q
    ll = tuple(tuple(rest[off + k * c : off + (k + 1) * c]) for k in range(n_q))
    if max(max(s) for s in ll) >= N_SCALES:
        raise BitstreamError("approximation scale index out of range")
    off += n_q * c
    deltas = tuple(tuple(b / 255 for b in rest[off + k * levels : off + (k + 1) * levels]) for k in range(n_q))
    res = max(1, levels)
    for lay in cont.layers:
        j, k = _parse_label(lay.label, res, n_q)
        want = (None if j == 0 else _id(j - 1, 0, res)) if k == 0 else _id(j, k - 1, res)
        if lay.id != _id(j, k, res) or lay.depends_on != want:
            raise BitstreamError(f"layer {lay.label}: unexpected id {lay.id} or dependency {lay.depends_on}")
    return LayeredHeader(cont.width, cont.height, c, levels, tuple(codes), base_id, refine_id, ll, deltas,
                         tuple(lay.label for lay in cont.layers), tuple(len(lay.payload) for lay in cont.layers))


def _id(j: int, k: int, res: int) -> int:
    return k * res + j


def _parse_label(label: str, res: int, n_q: int) -> tuple[int, int]:
    head, _, tail = label.partition("q")
    try:
        if not head.startswith("r"):
            raise ValueError
        j, k = int(head[1:]), int(tail)
    except ValueError:
        raise BitstreamError(f"layer label {label!r} is not r<level>q<quality>") from None
    if not (0 <= j < res and 0 <= k < n_q) or label != _label(j, k):
        raise BitstreamError(f"layer {label!r} outside {res} resolutions x {n_q} quality layers")
    return j, k


# ---------------------------------------------------------------------------------------------------- decode


def _rectangle(hdr: LayeredHeader, want_q: int, want_res: int) -> tuple[int, int]:
    """The largest decodable (resolutions, qualities) with every ``r{j}q{k}`` present, within the request;
    fewer qualities are given up before fewer resolutions."""
    present = set(hdr.layers)
    best = (0, 0)
    for nj in range(want_res, 0, -1):
        nk = 0
        while nk < want_q and all(_label(j, nk) in present for j in range(nj)):
            nk += 1
        if nk:
            best = (nj, nk)
            break
    return best


def check_layer_count(layers: object, what: str = "layers") -> None:
    """``ValueError`` unless ``layers`` (quality layers to decode or keep) is a positive int or None."""
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise ValueError(f"{what} must be a positive int or None, got {layers!r}")


def decode_layers(
    data: bytes | bytearray | memoryview,
    *,
    layers: int | None = None,
    resolution: int = 1,
    postfilter: bool = True,
    budget: DecodeBudget | None = None,
    model: LayeredModel | None = None,
) -> LayeredResult:
    """Decode the first ``layers`` quality layers (default all) at 1/``resolution`` size.

    Layers whose payload is missing or corrupt (CRC), and those depending on them, are dropped and listed in
    :attr:`LayeredResult.dropped`; the rest decode.  ``budget``: see :func:`.codec.decode`.
    Raises:
        BitstreamError: a corrupt header, foreign weights, no decodable base layer, over budget.
    """
    check_layer_count(layers)
    _check_resolution(resolution)
    cont, bad, lost = _salvage(data)
    hdr = _header_of(cont)
    model = load_layered_model() if model is None else model
    if hdr.base_id != model.base.model_id or hdr.refine_id != model.model_id:
        raise BitstreamError(
            f"the stream was coded with other entropy-model weights (ids {hdr.base_id.hex()}/{hdr.refine_id.hex()}, "
            f"this decoder has {model.base.model_id.hex()}/{model.model_id.hex()} '{model.name}')"
        )
    res = hdr.resolutions
    want_res = max(1, res - int(math.log2(resolution))) if hdr.levels else 1
    want_q = hdr.qualities if layers is None else min(layers, hdr.qualities)
    n_res, n_q = _rectangle(hdr, want_q, want_res)
    if n_q == 0:
        raise BitstreamError(f"the base layer {_label(0, 0)} is missing or corrupt: nothing to decode")
    use = {_label(j, k) for j in range(n_res) for k in range(n_q)}
    # Dropped: unusable layers the request asked for (corrupt, or cut off by a corrupt one), not those it excluded.
    asked = {_label(j, k) for j in range(want_res) for k in range(want_q)}
    order = {_label(j, k): (k, j) for j in range(res) for k in range(hdr.qualities)}
    dropped = tuple(sorted((set(bad) | set(lost) | set(hdr.layers)) & asked - use, key=order.__getitem__))
    check_budget(DEFAULT_DECODE_BUDGET if budget is None else budget, width=hdr.width, height=hdr.height,
                 stream_bytes=len(data), memory=_BYTES_PER_PIXEL_ESTIMATE * hdr.width * hdr.height * (1 + n_q))
    c = hdr.channels
    (lh, lw), shapes = band_geometry(hdr.height, hdr.width, hdr.levels)

    def empty() -> QPyramid:
        return QPyramid.zeros(1, c, (lh, lw), shapes)

    qps: list[QPyramid] = []
    with torch.no_grad():
        for k in range(n_q):
            qp = empty()
            for j in range(n_res):
                lay = cont.layer(_label(j, k))
                dec = LayerDecoder(lay.payload, f"layer {lay.label}")
                if j == 0:
                    r = torch.stack([dec.decode(torch.full((lh, lw), hdr.ll_scales[k][ch], dtype=torch.int64),
                                                T.XI_LOSSLESS) for ch in range(c)])[None]
                    ll = ll_from_residuals(r) if k == 0 else r + ll_prediction(
                        qps[-1].ll, hdr.codes[k - 1] - hdr.codes[k])
                    if ll.numel() and int(ll.abs().max()) >= 1 << 30:
                        raise BitstreamError("approximation values out of range (corrupt stream)")
                    qp.ll = ll.to(torch.int32)
                if hdr.levels:
                    if k == 0:
                        _walk_level(model.base, qp, j, hdr.codes[0], False, T.XI_LOSSY, dec=dec)
                    else:
                        walk_refinement(model.refine, qp, qps[-1], j, hdr.codes[k], hdr.codes[k - 1] - hdr.codes[k],
                                         dec=dec)
                dec.close()
            qps.append(qp)
        use_levels = n_res if hdr.levels else 0
        image = _reconstruct_refined(qps, hdr, use_levels, model, postfilter and use_levels == hdr.levels)
    corrupt = tuple(b for b in bad if b in dropped)
    return LayeredResult(image, n_q, 1 << (hdr.levels - use_levels), dropped, corrupt)


def _reconstruct_refined(qps: list[QPyramid], hdr: LayeredHeader, use_levels: int, model: LayeredModel,
                         postfilter: bool) -> Tensor:
    """The picture of the top decoded layer: the single-layer reconstruction, except where the coarse bin cuts the
    fine bin (the straddling bins of non-nested dead-zone quantisers): there the coefficient is placed inside the
    intersection (at the layer's in-bin offset ``delta`` of its width) -- the lower layers' bits say which part of
    the fine bin holds it, so the layered picture is at least as close as the single-layer one."""
    k = len(qps) - 1
    if k == 0 or not hdr.levels:
        return _reconstruct(qps[-1], hdr.single(k), use_levels, model.base, postfilter)
    fine, coarse = qps[-1], qps[-2]
    step = T.step_of_code(hdr.codes[k])
    deltas = torch.tensor([hdr.deltas[k]], dtype=torch.float64)
    p = refined_pyramid(fine, coarse, gap_ratio(hdr.codes[k - 1] - hdr.codes[k]), step, deltas, use_levels)
    y = T.synthesis(p, False) / (2.0 ** (hdr.levels - use_levels))
    if hdr.channels == 3:
        y = T.ict_inverse(y)
    y = y.clamp(0, 255)
    if postfilter and model.base.postfilter is not None:
        y = model.base.postfilter(y, torch.tensor([hdr.codes[k]])).clamp(0, 255)
    return y[0].round().to(torch.uint8)


def refined_pyramid(fine: QPyramid, coarse: QPyramid, ratio: float, step: float, deltas: Tensor,
                    use_levels: int) -> T.Pyramid:
    """The float32 pyramid of a refinement layer with its first ``use_levels`` detail levels (coarsest first): the
    approximation at ``step`` over its synthesis norm, and the detail bands (``Tensor[N, C, h, w]`` per
    orientation) -- the fine indices dequantised at ``step`` (band steps divided by the synthesis norms) with the
    per-picture, per-level in-bin offsets ``deltas`` (``float64 Tensor[N, J]``), except where the coarse
    bin (``ratio`` = coarse / fine step) cuts the fine bin (dead-zone bins do not nest): there the value goes at
    ``delta`` of the intersection -- the lower layers' bits say which part of the fine bin holds it."""
    ll_norm, norms = T.band_norms(len(fine.levels))
    xi = T.XI_LOSSY
    n = deltas.shape[0]
    details = []
    for j in range(use_levels):
        delta = deltas[:, j].reshape(n, 1, 1, 1)
        bands = []
        for o, (qf, qc) in enumerate(zip(ctx.unpad_level(fine.levels[j], fine.shapes[j]),
                                         ctx.unpad_level(coarse.levels[j], coarse.shapes[j]), strict=True)):
            fa, ca = qf.abs().double(), qc.abs().double()
            u = torch.where(ca > 0, (ca - xi) * ratio, torch.zeros_like(ca))
            v = (ca + (1 - xi)) * ratio
            lo = torch.maximum(fa - xi, u)
            hi = torch.minimum(fa + (1 - xi), v)
            mag = torch.where((lo > fa - xi) | (hi < fa + (1 - xi)), lo + delta * (hi - lo), fa - xi + delta)
            bands.append((torch.sign(qf) * mag * (qf != 0) * (step / norms[j][o])).float())
        details.append(tuple(bands))
    return T.Pyramid((fine.ll.double() * (step / ll_norm)).float(), details)


def extract_layers(data: bytes | bytearray | memoryview, *, layers: int | None = None, resolution: int = 1) -> bytes:
    """The sub-stream of the first ``layers`` quality layers at 1/``resolution`` size, nothing re-encoded.

    Raises:
        BitstreamError: not a (complete, intact) layered stream; ValueError: bad arguments.
    """
    check_layer_count(layers)
    _check_resolution(resolution)
    hdr = _header_of(decode_container(data))
    want_res = max(1, hdr.resolutions - int(math.log2(resolution))) if hdr.levels else 1
    want_q = hdr.qualities if layers is None else min(layers, hdr.qualities)
    n_res, n_q = _rectangle(hdr, want_q, want_res)
    if n_q == 0:
        raise BitstreamError(f"the stream holds no base layer {_label(0, 0)}")
    return drop_layers(data, [_label(j, k) for k in range(n_q) for j in range(n_res)])
