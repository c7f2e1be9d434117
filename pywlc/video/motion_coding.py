"""Lossless coding of HVSBM motion (MCTF side information): quadtree splits, reference modes, quarter-pel vectors.

What is coded per H frame of a temporal level (decoding order; ANS via ``constriction``):

* a scene-cut bit; a scene-cut frame carries nothing else (MCTF copies, :mod:`pywlc.mctf`);
* the quadtree of each 64x64 root block (raster order over the roots, depth first inside a root, children in Z
  order): one split flag per node that can split (a node is a leaf at 4x4, and children whose top-left corner falls
  outside the frame do not exist), with a probability per depth;
* per leaf, its references: left / right / both (only "left" exists without a right reference);
* per used reference, the vector's difference to a prediction, each component with a discretised Laplace.
  Prediction (as MC-EZBC's and H.264's median prediction): the component-wise median of the left, top and top-right
  neighbours' vectors (top-left when top-right is not decoded yet), read from a 4x4-granular map of the vectors
  decoded so far; a block's right vector is predicted from its own left vector negated when it uses both (linear
  motion: HVSBM's PARALLEL mode is exactly that), and a one-sided block's unused direction is written into the map
  as the used one negated, so that neighbours of any mode predict each other.  The Laplace scale of each component
  comes from one of two contexts (do the neighbours agree within one pel?), the ML scale per context and frame is
  sent in the frame header — forward adaptation, so the decoder needs no training.

The split/mode probabilities are measured by the encoder per frame and sent as bytes (8-bit, never 0).  HVSBM's
MERGE modes need no symbol of their own: their (inherited) vectors are coded like any other and cost about nothing
after prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import Tensor

from ..codecs.wavelet.entropy_model import N_SCALES, scale_index_of_mean
from ..codecs.wavelet.tables import ESCAPE_BITS, UNIFORM_ESCAPE, UNIFORM_SIGN, table
from ..errors import BitstreamError
from ..mctf import MotionFields

__all__ = ["Leaves", "decode_motion", "encode_motion", "fields_of", "leaves_of"]

ROOT = 64
MIN_BLOCK = 4
MAX_DEPTH = 4  # 64 -> 4
GRID = 4  # granularity of the vector map used for prediction
MAX_VECTOR_QPEL = 4 * 2048  # |vector| < 2048 pixels (the MCTF validation bound is far below)
_HALF = (1 << ESCAPE_BITS) - 1


@dataclass(frozen=True)
class Leaves:
    """The motion of one H frame as a quadtree leaf table (what the stream holds).

    ``xy``: int32 ``Tensor[N, 2]`` top-left corners; ``size``: int32 ``Tensor[N]`` (4..64); ``mode``: int64
    ``Tensor[N]`` 0 left, 1 right, 2 both; ``mv_left`` / ``mv_right``: int32 ``Tensor[N, 2]`` quarter pels (x, y),
    zero where unused; ``scene_cut``: MCTF degenerates to copies (no leaves then).
    """

    xy: Tensor
    size: Tensor
    mode: Tensor
    mv_left: Tensor
    mv_right: Tensor
    scene_cut: bool = False


def leaves_of(result) -> Leaves:
    """:class:`Leaves` of a :class:`pywlc.motion.HvsbmResult` (its MERGE / PARALLEL modes resolved to vectors)."""
    if result.scene_cut:
        return _empty_leaves(True)
    ul, ur = result.block_uses_left, result.block_uses_right
    mode = torch.where(ul & ur, 2, torch.where(ur, 1, 0)).long()
    return Leaves(result.block_xy.int(), result.block_size.int(), mode, result.mv_left.int() * ul[:, None],
                  result.mv_right.int() * ur[:, None], False)


def _empty_leaves(scene_cut: bool) -> Leaves:
    z = torch.zeros(0, 2, dtype=torch.int32)
    return Leaves(z, torch.zeros(0, dtype=torch.int32), torch.zeros(0, dtype=torch.int64), z, z, scene_cut)


def fields_of(leaves: Leaves, height: int, width: int, has_right: bool) -> MotionFields:
    """Dense MCTF fields (pixels) and reference masks of a leaf table: what encoder and decoder both filter with."""
    fl = torch.zeros(2, height, width)
    fr = torch.zeros(2, height, width)
    ul = torch.ones(height, width, dtype=torch.bool)
    ur = torch.zeros(height, width, dtype=torch.bool)
    if leaves.scene_cut:
        return MotionFields(fl, fr if has_right else None, ul, ur if has_right else None, True)
    for (x, y), s, m, vl, vr in zip(leaves.xy.tolist(), leaves.size.tolist(), leaves.mode.tolist(),
                                     leaves.mv_left.tolist(), leaves.mv_right.tolist(), strict=True):  # fmt: skip
        fl[0, y : y + s, x : x + s] = vl[0] / 4
        fl[1, y : y + s, x : x + s] = vl[1] / 4
        fr[0, y : y + s, x : x + s] = vr[0] / 4
        fr[1, y : y + s, x : x + s] = vr[1] / 4
        ul[y : y + s, x : x + s] = m != 1
        ur[y : y + s, x : x + s] = m != 0
    if not has_right:
        return MotionFields(fl, None, ul, None, False)
    return MotionFields(fl, fr, ul, ur, False)


# ------------------------------------------------------------------------------------------------ shared walk


def _nodes(height: int, width: int):
    """Root blocks in raster order: ``(x, y)``."""
    for y in range(0, height, ROOT):
        for x in range(0, width, ROOT):
            yield x, y


def _children(x: int, y: int, s: int, height: int, width: int):
    h = s // 2
    for dy in (0, h):
        for dx in (0, h):
            if x + dx < width and y + dy < height:
                yield x + dx, y + dy, h


class _VectorMap:
    """Vectors decoded so far on a 4x4 grid (quarter pels): the neighbours of the median prediction."""

    def __init__(self, height: int, width: int) -> None:
        self.gh, self.gw = -(-height // GRID), -(-width // GRID)
        self.v = np.zeros((2, self.gh, self.gw, 2), dtype=np.int64)  # [direction, gy, gx, component]
        self.done = np.zeros((self.gh, self.gw), dtype=bool)

    def _at(self, d: int, gy: int, gx: int):
        if 0 <= gy < self.gh and 0 <= gx < self.gw and self.done[gy, gx]:
            return self.v[d, gy, gx]
        return None

    def predict(self, d: int, x: int, y: int, s: int) -> tuple[np.ndarray, int]:
        """Median prediction for direction ``d`` of the block at ``(x, y)`` of size ``s``, and its context (0/1)."""
        gx, gy, gs = x // GRID, y // GRID, max(1, s // GRID)
        left = self._at(d, gy, gx - 1)
        top = self._at(d, gy - 1, gx)
        tr = self._at(d, gy - 1, gx + gs)
        if tr is None:
            tr = self._at(d, gy - 1, gx - 1)
        cands = [c for c in (left, top, tr) if c is not None]
        if not cands:
            return np.zeros(2, dtype=np.int64), 1
        if len(cands) == 1:
            return cands[0].copy(), 1
        if len(cands) == 2:
            a, b = cands
            pred = a.copy()  # left (or top) first: the nearer neighbour in raster order
            ctx = int(np.abs(a - b).max() > 4)
            return pred, ctx
        st = np.stack(cands)
        pred = np.median(st, axis=0).astype(np.int64)
        ctx = int((st.max(0) - st.min(0)).max() > 4)
        return pred, ctx

    def put(self, x: int, y: int, s: int, vl: np.ndarray, vr: np.ndarray) -> None:
        gx, gy, gs = x // GRID, y // GRID, max(1, s // GRID)
        self.v[0, gy : gy + gs, gx : gx + gs] = vl
        self.v[1, gy : gy + gs, gx : gx + gs] = vr
        self.done[gy : gy + gs, gx : gx + gs] = True


def _prob_byte(ones: int, total: int) -> int:
    return int(min(255, max(1, round(256 * (ones + 0.5) / (total + 1)))))


def _binary(p_byte: int):
    p = p_byte / 256.0
    return constriction.stream.model.Categorical(np.array([1.0 - p, p]), perfect=False)


def _modes_model(b: bytes):
    p = np.array([b[0], b[1], max(1, 256 - b[0] - b[1])], dtype=np.float64)
    return constriction.stream.model.Categorical(p / p.sum(), perfect=False)


# ------------------------------------------------------------------------------------------------ encoder


def _leaf_index(leaves: Leaves) -> dict[tuple[int, int, int], int]:
    return {(x, y, s): i for i, ((x, y), s) in enumerate(zip(leaves.xy.tolist(), leaves.size.tolist(), strict=True))}


def _walk(height: int, width: int, is_leaf):
    """Depth-first quadtree walk: yields ``("split", depth, flag)`` and ``("leaf", x, y, s)`` events; ``is_leaf``
    answers (and, in the decoder, decodes) a node's split flag."""
    for rx, ry in _nodes(height, width):
        stack = [(rx, ry, ROOT, 0)]
        while stack:
            x, y, s, depth = stack.pop()
            leaf = True if s <= MIN_BLOCK else is_leaf(x, y, s, depth)
            if leaf:
                yield x, y, s
            else:
                kids = list(_children(x, y, s, height, width))
                stack.extend((cx, cy, cs, depth + 1) for cx, cy, cs in reversed(kids))


def encode_motion(frames: list[Leaves], height: int, width: int, has_right: list[bool]) -> bytes:
    """One payload for the H frames of a temporal level (``frames[k]``'s references: left, plus right when
    ``has_right[k]``)."""
    ops: list[tuple[object, np.ndarray]] = []
    header = bytearray()
    for lv, hr in zip(frames, has_right, strict=True):
        header.append(int(lv.scene_cut))
        if lv.scene_cut:
            continue
        index = _leaf_index(lv)
        if len(index) != lv.xy.shape[0]:
            raise ValueError("motion leaves overlap (duplicate blocks)")
        splits: list[tuple[int, int]] = []
        order: list[int] = []

        def is_leaf(x: int, y: int, s: int, depth: int, index=index, splits=splits) -> bool:
            leaf = (x, y, s) in index
            splits.append((depth, int(not leaf)))
            return leaf

        for x, y, s in _walk(height, width, is_leaf):
            if (x, y, s) not in index:
                raise ValueError(f"motion leaves do not tile the frame (no leaf at {x},{y} size {s})")
            order.append(index[(x, y, s)])
        if len(order) != len(index):
            raise ValueError("motion leaves do not tile the frame (unreachable leaves)")
        modes = lv.mode[order].tolist() if order else []
        if not hr and any(m != 0 for m in modes):
            raise ValueError("a frame without a right reference has leaves that use one")
        # Vectors and their contexts, in decoding order.
        vmap = _VectorMap(height, width)
        res: list[tuple[int, int]] = []  # (component residual, context), in decoding order
        mvl, mvr = lv.mv_left.numpy().astype(np.int64), lv.mv_right.numpy().astype(np.int64)
        for i, m in zip(order, modes, strict=True):
            x, y = (int(v) for v in lv.xy[i])
            s = int(lv.size[i])
            vl, vr = mvl[i], mvr[i]
            if np.abs(np.concatenate([vl, vr])).max(initial=0) >= MAX_VECTOR_QPEL:
                raise ValueError(f"a motion vector exceeds {MAX_VECTOR_QPEL // 4} pixels")
            if m != 1:
                p, c = vmap.predict(0, x, y, s)
                res += [(int(vl[0] - p[0]), c), (int(vl[1] - p[1]), c)]
            if m != 0:
                if m == 2:
                    p, c = -vl, 0
                else:
                    p, c = vmap.predict(1, x, y, s)
                res += [(int(vr[0] - p[0]), c), (int(vr[1] - p[1]), c)]
            ml = vl if m != 1 else -vr
            mr = vr if m != 0 else -vl
            vmap.put(x, y, s, ml, mr)
        # Frame header: split probabilities per depth, mode probabilities, Laplace scale per context.
        sp = [_prob_byte(sum(f for d, f in splits if d == dep), sum(1 for d, _ in splits if d == dep))
              for dep in range(MAX_DEPTH)]  # fmt: skip
        n_modes = max(1, len(modes))
        mb = bytes([min(254, max(1, round(256 * modes.count(0) / n_modes))),
                    min(254, max(1, round(256 * modes.count(1) / n_modes)))])  # fmt: skip
        if mb[0] + mb[1] > 255:
            mb = bytes([mb[0], 255 - mb[0]])
        scales = []
        for c in (0, 1):
            vals = [abs(r) for r, cc in res if cc == c]
            scales.append(scale_index_of_mean(float(np.mean(vals)) if vals else 0.0))
        header += bytes(sp) + mb + bytes(scales)
        split_models = [_binary(b) for b in sp]
        for d, f in splits:
            ops.append((split_models[d], np.array([f], dtype=np.int32)))
        if hr and modes:
            ops.append((_modes_model(mb), np.asarray(modes, dtype=np.int32)))
        for r, c in res:
            t = table(scales[c], 0.5)
            esc = abs(r) > t.m
            ops.append((t.model, np.array([2 * t.m + 1 if esc else r + t.m], dtype=np.int32)))
            if esc:
                v = abs(r) - t.m - 1
                ops += [(UNIFORM_ESCAPE, np.array([v >> ESCAPE_BITS], dtype=np.int32)),
                        (UNIFORM_ESCAPE, np.array([v & _HALF], dtype=np.int32)),
                        (UNIFORM_SIGN, np.array([int(r < 0)], dtype=np.int32))]  # fmt: skip
    coder = constriction.stream.stack.AnsCoder()
    for model, sym in reversed(ops):
        coder.encode_reverse(sym, model)
    body = coder.get_compressed().astype("<u4").tobytes()
    return len(header).to_bytes(4, "little") + bytes(header) + body


# ------------------------------------------------------------------------------------------------ decoder


class _Reader:
    def __init__(self, payload: bytes, what: str) -> None:
        self.what = what
        if len(payload) < 4:
            raise BitstreamError(f"{what}: truncated motion payload")
        n = int.from_bytes(payload[:4], "little")
        if 4 + n > len(payload) or (len(payload) - 4 - n) % 4:
            raise BitstreamError(f"{what}: inconsistent motion payload length")
        self.header = payload[4 : 4 + n]
        self.pos = 0
        try:
            self.coder = constriction.stream.stack.AnsCoder(
                np.frombuffer(payload[4 + n :], dtype="<u4").astype(np.uint32))
        except Exception as e:
            raise BitstreamError(f"{what}: corrupt motion data ({e})") from None

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.header):
            raise BitstreamError(f"{self.what}: truncated motion header")
        out = self.header[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def sym(self, model, n: int = 1) -> np.ndarray:
        try:
            return np.asarray(self.coder.decode(model, n), dtype=np.int64)
        except Exception as e:
            raise BitstreamError(f"{self.what}: corrupt motion data ({e})") from None

    def laplace(self, scale: int) -> int:
        t = table(scale, 0.5)
        s = int(self.sym(t.model)[0])
        if s != 2 * t.m + 1:
            return s - t.m
        hi, lo, neg = (int(self.sym(UNIFORM_ESCAPE)[0]), int(self.sym(UNIFORM_ESCAPE)[0]),
                       int(self.sym(UNIFORM_SIGN)[0]))  # fmt: skip
        mag = (hi << ESCAPE_BITS | lo) + t.m + 1
        if mag >= MAX_VECTOR_QPEL * 2:
            raise BitstreamError(f"{self.what}: motion vector out of range (corrupt stream)")
        return -mag if neg else mag

    def close(self) -> None:
        if self.pos != len(self.header):
            raise BitstreamError(f"{self.what}: motion header has trailing bytes")
        try:
            empty = self.coder.is_empty()
        except Exception as e:
            raise BitstreamError(f"{self.what}: corrupt motion data ({e})") from None
        if not empty:
            raise BitstreamError(f"{self.what}: motion data does not end where the symbols do (corrupt)")


def decode_motion(payload: bytes, height: int, width: int, has_right: list[bool], what: str = "motion") -> list[Leaves]:
    """Inverse of :func:`encode_motion` (raises :class:`~pywlc.BitstreamError` on corrupt data)."""
    rd = _Reader(payload, what)
    # Headers are interleaved with the ANS symbols frame by frame in the encoder's order: read them lazily.
    out: list[Leaves] = []
    for hr in has_right:
        cut = rd.bytes(1)[0]
        if cut > 1:
            raise BitstreamError(f"{what}: bad scene-cut flag {cut}")
        if cut:
            out.append(_empty_leaves(True))
            continue
        sp = rd.bytes(MAX_DEPTH)
        mb = rd.bytes(2)
        scales = rd.bytes(2)
        if 0 in sp or mb[0] == 0 or mb[1] == 0 or mb[0] + mb[1] > 255 or max(scales) >= N_SCALES:
            raise BitstreamError(f"{what}: bad motion probabilities")
        split_models = [_binary(b) for b in sp]

        def is_leaf(x: int, y: int, s: int, depth: int, split_models=split_models) -> bool:
            return int(rd.sym(split_models[depth])[0]) == 0

        blocks = list(_walk(height, width, is_leaf))
        modes = rd.sym(_modes_model(mb), len(blocks)).tolist() if hr and blocks else [0] * len(blocks)
        vmap = _VectorMap(height, width)
        mvl = np.zeros((len(blocks), 2), dtype=np.int64)
        mvr = np.zeros((len(blocks), 2), dtype=np.int64)
        for i, ((x, y, s), m) in enumerate(zip(blocks, modes, strict=True)):
            if m != 1:
                p, c = vmap.predict(0, x, y, s)
                mvl[i] = p + np.array([rd.laplace(scales[c]), rd.laplace(scales[c])])
            if m != 0:
                if m == 2:
                    p, c = -mvl[i], 0
                else:
                    p, c = vmap.predict(1, x, y, s)
                mvr[i] = p + np.array([rd.laplace(scales[c]), rd.laplace(scales[c])])
            if max(np.abs(mvl[i]).max(), np.abs(mvr[i]).max()) >= MAX_VECTOR_QPEL:
                raise BitstreamError(f"{what}: motion vector out of range (corrupt stream)")
            vmap.put(x, y, s, mvl[i] if m != 1 else -mvr[i], mvr[i] if m != 0 else -mvl[i])
        xy = torch.tensor([[x, y] for x, y, _ in blocks], dtype=torch.int32).reshape(-1, 2)
        size = torch.tensor([s for _, _, s in blocks], dtype=torch.int32)
        out.append(Leaves(xy, size, torch.tensor(modes, dtype=torch.int64), torch.from_numpy(mvl).int(),
                          torch.from_numpy(mvr).int(), False))  # fmt: skip
    rd.close()
    return out
