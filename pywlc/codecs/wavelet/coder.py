"""Entropy coding of quantised pyramids with the learned model: ANS (``constriction``) per resolution layer.

Order of symbols in a layer (the decoder's order; the encoder pushes them in reverse on the ANS stack):
layer 0 starts with the coarsest approximation (row/column DPCM residuals, one tabulated Laplace per channel
whose scale index the stream carries); then, for each detail level of the layer, each colour group
(:func:`~.entropy_model.group_channels`) and each pass k = 0..3 (:data:`.context.PASS_PHASES`): the model's
scale index of every coefficient of the pass is computed in exact fixed point from what is already decoded,
the coefficients are grouped by index (stable order), and each group is coded with its table; escapes follow
the group that holds them.  Everything is vectorised per pass: no Python loop over coefficients.
"""

from __future__ import annotations

from collections.abc import Callable

import constriction
import numpy as np
import torch
from torch import Tensor

from ...errors import BitstreamError
from . import context as ctx
from .approx import group_features
from .entropy_model import SubbandEntropyModel, group_channels, mean_split, scale_index
from .pyramid import QPyramid, group_symbols
from .tables import ESCAPE_BITS, MAX_MAGNITUDE, UNIFORM_ESCAPE, UNIFORM_SIGN, table, table_key

__all__ = ["LayerDecoder", "LayerEncoder", "ll_scale_indices", "pass_indices", "walk_level"]

_HALF = (1 << ESCAPE_BITS) - 1


def pass_indices(model: SubbandEntropyModel, qp: QPyramid, j: int, g: int, k: int, step_code: int,
                 lossless: bool, tclass: float | None = None,
                 approx: tuple[Tensor, Tensor] | None = None) -> Tensor | tuple[Tensor, Tensor]:
    """Scale indices ``int64 Tensor[N, Cg, 3, Hq, Wq]`` of pass ``k`` of group ``g`` at level ``j`` -- or, for a
    model with mean nets, ``(table keys, integer means)`` of that shape (:func:`.tables.table_key`; the coded
    symbol is ``q - mean``; lossy means are 0, their centre is in the key).

    ``tclass``: WL-SVC's temporal class of the subband, which takes the lossless flag's conditioning plane
    (:func:`.context.cond_planes`; video subbands are lossy).
    ``approx``: for a model with ``approx``, level ``j``'s :func:`.approx.approx_features` (the caller computes
    them once per level).

    Only what a decoder has at that point is read: coarser levels, the luma level (for chroma) and the
    components of earlier passes (the others are masked inside :meth:`SubbandEntropyModel.inputs`).
    """
    n, c = qp.ll.shape[:2]
    chans = group_channels(c)[g]
    cur, parent, luma = group_symbols(qp, j, chans)
    grid = qp.grid(j)
    flag = float(lossless) if tclass is None else tclass
    cond = ctx.cond_planes(n, grid, len(qp.levels) - 1 - j, step_code, flag, torch.float64)

    def mag(v: Tensor | None) -> Tensor | None:
        return None if v is None else ctx.magnitude(v, torch.float64)

    fs, fm = (None, None) if approx is None else approx
    x = model.inputs(_decoded_magnitude(cur, k), mag(parent), mag(luma), k, cond)
    out = model.exact_logscale(g, k, x, group_features(fs, chans))
    idx = scale_index(out.view(n, len(chans), 3, *grid))
    if not model.mean:
        return idx
    mu = model.exact_mu(g, k, model.mean_inputs(cur, parent, luma, k, cond), group_features(fm, chans))
    m, off = mean_split(mu.view(idx.shape), lossless)
    return table_key(idx, off), m


def _decoded_magnitude(cur: Tensor, k: int) -> Tensor:
    """Magnitude features (float64) of ``cur: int [N, Cg, 3, 4, Hq, Wq]``, computed only for the polyphase
    components decoded before pass ``k`` (the model zeroes the others anyway)."""
    out = torch.zeros(cur.shape, dtype=torch.float64)
    done = ctx.pass_mask(k)
    if done:
        out[:, :, :, done] = ctx.magnitude(cur[:, :, :, done], torch.float64)
    return out


def walk_level(qp: QPyramid, j: int, index_of: Callable[[int, int], Tensor], xi: float,
               enc: LayerEncoder | None = None, dec: LayerDecoder | None = None) -> None:
    """Code (``enc``) or decode in place (``dec``) detail level ``j`` of ``qp`` in the stream's order: per colour group
    (:func:`~.entropy_model.group_channels`), per pass k = 0..3, the valid coefficients of pass k's polyphase
    component with the table indices ``index_of(g, k)`` (``int64 Tensor[N, Cg, 3, Hq, Wq]``).

    ``index_of`` is called after the previous passes are decoded (it may read them from ``qp``): the learned model
    (:func:`pass_indices`, which for models with a mean returns ``(keys, means)``), indices an encoder already
    computed (RDOQ), or WL-SVC's classical context tables.
    """
    valid = qp.valid(j)  # [3, 2Hq, 2Wq]
    for g, chans in enumerate(group_channels(qp.levels[j].shape[1])):
        cs = slice(chans[0], chans[-1] + 1)
        for k, phase in enumerate(ctx.PASS_PHASES):
            idx = index_of(g, k)
            mean = None
            if isinstance(idx, tuple):  # (table keys, integer means): the symbols are q - mean
                idx, mean = idx
            sel = ctx.phase_view(valid, phase).expand_as(idx)
            part = ctx.phase_view(qp.levels[j][:, cs], phase)  # a view: decoding writes into the level
            if enc is not None:
                q = part[sel].long()
                enc.code(q if mean is None else q - mean[sel], idx[sel], xi)
            else:
                q = dec.decode(idx[sel], xi)
                if mean is not None:
                    q = q + mean[sel]
                    if q.numel() and int(q.abs().max()) >= MAX_MAGNITUDE:
                        raise BitstreamError(f"{dec.what}: a coefficient out of range (corrupt stream)")
                part[sel] = q.to(part.dtype)


def ll_residuals(ll: Tensor) -> Tensor:
    """DPCM of ``int Tensor[N, C, h, w]``: first column vertically, then each row horizontally (int64)."""
    q = ll.long()
    r = q.clone()
    r[..., 1:] = q[..., 1:] - q[..., :-1]
    r[..., 1:, 0] = q[..., 1:, 0] - q[..., :-1, 0]
    return r


def ll_from_residuals(r: Tensor) -> Tensor:
    """Inverse of :func:`ll_residuals`."""
    q = r.clone()
    q[..., :, 0] = torch.cumsum(r[..., :, 0], -1)
    return torch.cumsum(q, -1)


def ll_scale_indices(r: Tensor) -> list[int]:
    """Per channel: the table whose Laplace matches the residuals' mean magnitude (ML scale of a Laplace)."""
    from .entropy_model import scale_index_of_mean

    return [scale_index_of_mean(float(r[:, c].abs().double().mean()) if r[:, c].numel() else 0.0)
            for c in range(r.shape[1])]


class LayerEncoder:
    """Collects (model, symbols) in decoding order; :meth:`finish` runs the ANS coder over them in reverse."""

    def __init__(self) -> None:
        self.ops: list[tuple[object, np.ndarray]] = []

    def code(self, q: Tensor, idx: Tensor, xi: float) -> None:
        """Code integer symbols ``q`` with table indices ``idx`` (same shape, any order fixed by the caller)."""
        qf, sf = q.reshape(-1).long(), idx.reshape(-1)
        if qf.numel() == 0:
            return
        if int(qf.abs().max()) >= MAX_MAGNITUDE:
            raise ValueError(f"a coefficient of magnitude {int(qf.abs().max())} exceeds the coder's range")
        order = torch.sort(sf, stable=True).indices
        qs, ss = qf[order], sf[order]
        uniq, counts = torch.unique_consecutive(ss, return_counts=True)
        # The per-group work in numpy: a mean model has thousands of (scale, centre) groups per picture, where
        # torch's per-call overhead dominated.
        qs_np = qs.numpy()
        start = 0
        for s, cnt in zip(uniq.tolist(), counts.tolist(), strict=True):
            t = table(s, xi)
            seg = qs_np[start : start + cnt]
            start += cnt
            esc = np.abs(seg) > t.m
            sym = (seg + t.m).astype(np.int32)
            sym[esc] = 2 * t.m + 1
            self.ops.append((t.model, sym))
            if esc.any():
                e = seg[esc]
                v = np.abs(e) - t.m - 1
                self.ops.append((UNIFORM_ESCAPE, (v >> ESCAPE_BITS).astype(np.int32)))
                self.ops.append((UNIFORM_ESCAPE, (v & _HALF).astype(np.int32)))
                self.ops.append((UNIFORM_SIGN, (e < 0).astype(np.int32)))

    def finish(self) -> bytes:
        coder = constriction.stream.stack.AnsCoder()
        for model, sym in reversed(self.ops):
            coder.encode_reverse(sym, model)
        return coder.get_compressed().astype("<u4").tobytes()


class LayerDecoder:
    """Mirror of :class:`LayerEncoder`: decodes symbol groups in the same order from one layer's payload."""

    def __init__(self, payload: bytes, what: str) -> None:
        if len(payload) % 4:
            raise BitstreamError(f"{what}: payload of {len(payload)} bytes is not a whole number of 32-bit words")
        self.what = what
        try:  # constriction refuses some word sequences outright (e.g. "never ends in a zero word")
            self.coder = constriction.stream.stack.AnsCoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
        except Exception as e:
            raise BitstreamError(f"{what}: corrupt entropy-coded data ({e})") from None

    def _decode(self, model, n: int) -> np.ndarray:
        try:
            return np.asarray(self.coder.decode(model, n), dtype=np.int64)
        except Exception as e:  # constriction raises on an exhausted or inconsistent stack
            raise BitstreamError(f"{self.what}: corrupt entropy-coded data ({e})") from None

    def decode(self, idx: Tensor, xi: float) -> Tensor:
        """Symbols for table indices ``idx`` (int64 Tensor of any shape) -> int64 Tensor of the same shape."""
        sf = idx.reshape(-1)
        out = torch.zeros(sf.numel(), dtype=torch.int64)
        if sf.numel() == 0:
            return out.view(idx.shape)
        order = torch.sort(sf, stable=True).indices
        uniq, counts = torch.unique_consecutive(sf[order], return_counts=True)
        vals = np.empty(sf.numel(), dtype=np.int64)
        start = 0
        for s, cnt in zip(uniq.tolist(), counts.tolist(), strict=True):  # numpy per group (see LayerEncoder)
            t = table(s, xi)
            sym = self._decode(t.model, cnt)
            seg = vals[start : start + cnt]
            np.subtract(sym, t.m, out=seg)
            esc = sym == 2 * t.m + 1
            ne = int(np.count_nonzero(esc))
            if ne:
                hi = self._decode(UNIFORM_ESCAPE, ne)
                lo = self._decode(UNIFORM_ESCAPE, ne)
                neg = self._decode(UNIFORM_SIGN, ne)
                mag = (hi << ESCAPE_BITS | lo) + t.m + 1
                seg[esc] = np.where(neg != 0, -mag, mag)
            start += cnt
        out[order] = torch.from_numpy(vals)
        return out.view(idx.shape)

    def close(self) -> None:
        """Every word must have been consumed: leftovers mean a corrupt or foreign payload."""
        try:
            empty = self.coder.is_empty()
        except Exception as e:
            raise BitstreamError(f"{self.what}: corrupt entropy-coded data ({e})") from None
        if not empty:
            raise BitstreamError(f"{self.what}: entropy-coded data does not end where the symbols do (corrupt)")
