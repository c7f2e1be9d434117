"""Motion-compensated temporal filtering (MCTF): bidirectional 5/3 and Haar lifting along motion trajectories.

References (clean-room, implemented from the spec ``hvsbm_mctf.md`` and the papers):

* Choi & Woods, "Motion-compensated 3-D subband coding of video", IEEE TIP 8(2) 1999: Haar MCTF, connected and
  unconnected pixels.
* Hsiang & Woods, "Invertible three-dimensional analysis/synthesis system for video coding with half-pixel-accurate
  motion compensation", SPIC 2001 (and EZBC, ISCAS 2000): lifting makes MCTF invertible for any vectors.
* Chen & Woods, "Bidirectional MC-EZBC with lifting implementation", IEEE TCSVT 14(10) 2004: the 5/3 predict and
  update steps along the left / right motion trajectories, eqs. (1)-(2) of sec. II.
* Golwelkar & Woods, sliding-window 5/3 MCTF across GOP borders.

Conventions
-----------
* Frames ``x_0 .. x_{n-1}`` of one temporal level; odd frames are predicted, even frames updated.  Vector sign as in
  :func:`pywlc.motion.hvsbm`: pixel ``p`` of the odd frame ``x_{2k+1}`` is predicted from ``x_{2k}(p + v_L)`` and
  ``x_{2k+2}(p + v_R)``; ``W_L``/``W_R`` are :func:`pywlc.ops.warp` (bilinear by default, border padding).
* Predict (Chen & Woods 2004, eq. 1): ``H_k = alpha * (x_{2k+1} - (w_L W_L(x_{2k}) + w_R W_R(x_{2k+2})))`` with
  per-pixel weights ``w_L + w_R = 1``: ``1/2, 1/2`` for bidirectional pixels, ``1, 0`` / ``0, 1`` for left- or
  right-only pixels.  A reference whose target ``round(p + v)`` falls outside the frame gets zero weight and the
  prediction is renormalised to the other one (spec: "an out-of-frame reference gets zero weight"); if both targets
  are outside, both used references keep their weights and are read with border clamping.
* Update (Chen & Woods 2004, eq. 2): ``L_k = beta * (x_{2k} + (U_L(H_k) + U_R(H_{k-1})) / alpha)`` where ``U``
  carries ``H`` back along the integer-rounded inverse of the same vectors, only to CONNECTED reference pixels
  (first come, first served in raster order, spec "Connectivity"), and weighs each carried value by half the
  predict weight of the pixel it came from: ``1/4`` for bidirectional pixels (the spec's 5/3 update), ``1/2`` for
  one-sided ones (the Haar update).  Unconnected pixels get ``L_k = beta * x_{2k}``.
  Predict and update are deterministic functions of the side information and of the even frames, so synthesis,
  which runs the steps in reverse order with opposite signs, reconstructs exactly for any vectors.
* Normalisation: 5/3: ``alpha = sqrt(23/32)``, ``beta = sqrt(3/2)`` (MC-EZBC's normalisation, spec); Haar:
  ``alpha = 1/sqrt(2)``, ``beta = sqrt(2)`` (orthonormal without motion).  The DC gain of ``L`` per level is
  ``beta``; the frames handed to the motion estimator at level ``l`` are divided by ``beta ** (l - 1)`` so ``lam``
  keeps its 0..255 meaning.
* Haar MCTF is the one-sided special case: ``x_{2k+1}`` is predicted from ``x_{2k}`` only (``w_L = 1`` everywhere,
  out-of-frame targets read with border clamping and left unconnected).
* Scene cuts (spec "Scene change"): a flagged odd frame is not predicted and updates nothing, so the filter
  degenerates to weighted copies ``H_k = alpha * x_{2k+1}``, ``L_k = beta * x_{2k}`` (at the pixels it would have
  updated).
* Sequence and GOP borders: each level filters the whole sequence at once, which is what Golwelkar & Woods'
  sliding window computes: the 5/3 filter spans GOP borders and there are no GOP-edge artefacts.  The sequence ends
  use symmetric extension: ``x_n := x_{n-2}`` when ``n`` is odd, i.e. the last odd frame of an even-length level is
  predicted from its left neighbour only (the renormalised one-sided prediction), and an update with no ``H`` on
  one side gets nothing from that side.  Any ``n >= 2`` works; a level of ``n`` frames gives ``ceil(n / 2)`` L and
  ``floor(n / 2)`` H frames (Haar with odd ``n``: the unpaired last frame becomes ``beta * x_{n-1}``).
* Integer variant (``integer=True``, int32 frames): the reversible lifting of the spec's "integer-rounded" variant,
  as in JPEG 2000's reversible 5/3: ``H = x_odd - floor(P + 1/2)`` and ``L = x_even + floor(u + 1/2)`` where the
  prediction ``P`` (sub-pel, bilinear/bicubic, float64) and the update ``u`` are computed as above without
  ``alpha``/``beta`` (scaling is not integer-invertible; :attr:`MctfResult.alpha`/``beta`` are 1).  Synthesis
  recomputes bit-identical ``P`` and ``u`` from the same integers, so the round trip is bitwise exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .._alloc import check_bytes, check_size
from .._checks import check_int as _check_int
from .._extension import kernel
from ..ops.warp import warp
from . import _fused, _validate

__all__ = ["MotionFields", "MctfLevel", "MctfResult", "analyze", "synthesize", "connectivity"]

_FILTERS = {
    # name: (alpha, beta), see the module doc "Normalisation".
    "5/3": (math.sqrt(23.0 / 32.0), math.sqrt(1.5)),
    "haar": (1.0 / math.sqrt(2.0), math.sqrt(2.0)),
}
_INTERPS = ("bilinear", "bicubic")
_FLOATS = (torch.float32, torch.float64)
# BT.601 luma weights for 3-channel (RGB) frames.
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class MotionFields:
    """Motion of one odd frame against its references, as returned by a ``motion`` callable of :func:`analyze`.

    Fields are in pixels (channel 0 horizontal, channel 1 vertical), sign as :func:`pywlc.motion.hvsbm`: pixel
    ``p`` of the current frame is predicted from ``ref(p + v)``.
    """

    field_left: Tensor  # Tensor[2, H, W] float
    field_right: Tensor | None = None  # Tensor[2, H, W] float, None: left only
    uses_left: Tensor | None = None  # Tensor[H, W] bool, None: every pixel (when field_left is given)
    uses_right: Tensor | None = None  # Tensor[H, W] bool, None: every pixel when field_right is given
    scene_cut: bool = False


@dataclass(frozen=True)
class MctfLevel:
    """Side information of one temporal level with ``K`` H frames of size ``H x W`` (what synthesis needs).

    ``weight_*`` and ``connected_*`` are derived from the fields, ``uses_*`` and ``scene_cut`` (a decoder
    recomputes them; synthesis does); they are kept for inspection.
    """

    temporal_distance: int  # frame distance of the references in the input sequence: 2 ** (level - 1)
    num_frames: int  # frames entering this level
    field_left: Tensor  # Tensor[K, 2, H, W] float32, pixels
    field_right: Tensor  # Tensor[K, 2, H, W] float32, pixels (zeros where unused)
    uses_left: Tensor  # Tensor[K, H, W] bool
    uses_right: Tensor  # Tensor[K, H, W] bool (all False without a right reference)
    scene_cut: Tensor  # Tensor[K] bool
    weight_left: Tensor  # Tensor[K, H, W] float32: predict weight w_L
    weight_right: Tensor  # Tensor[K, H, W] float32: predict weight w_R
    connected_left: Tensor  # Tensor[K, H, W] bool, on the grid of x_{2k} (updated from H_k)
    connected_right: Tensor  # Tensor[K, H, W] bool, on the grid of x_{2k+2} (updated from H_k)


@dataclass(frozen=True)
class MctfResult:
    """Temporal subbands and side information of :func:`analyze` for ``N`` frames of ``C x H x W``.

    ``high[l]`` holds the H frames of level ``l + 1`` (``floor(n_l / 2)`` of them, ``n_l`` the frames entering
    it); ``low`` the L frames of the last level (``ceil(n_L / 2)``).  ``motion[l]`` is that level's side
    information.
    """

    low: Tensor  # Tensor[ceil(n_L / 2), C, H, W]
    high: list[Tensor]  # per level: Tensor[floor(n_l / 2), C, H, W]
    motion: list[MctfLevel]
    filter: str
    integer: bool
    interp: str
    alpha: float
    beta: float
    num_frames: int

    @property
    def levels(self) -> int:
        return len(self.high)


# ----------------------------------------------------------------------------------------------------
# Validation


def _check_frames(frames: object, integer: bool) -> Tensor:
    if isinstance(frames, Sequence) and not isinstance(frames, Tensor):
        if len(frames) == 0:
            raise ValueError("frames is empty: MCTF needs at least 2 frames")
        for i, f in enumerate(frames):
            if not isinstance(f, Tensor):
                raise TypeError(f"frames[{i}] must be a torch.Tensor, got {type(f).__name__}")
            if f.dim() != 3:
                raise ValueError(f"frames[{i}] must be Tensor[C, H, W], got shape {tuple(f.shape)}")
            if f.shape != frames[0].shape:
                raise ValueError(
                    f"frames[{i}] has shape {tuple(f.shape)} but frames[0] has {tuple(frames[0].shape)}: "
                    "all frames must have the same size"
                )
            if f.dtype != frames[0].dtype or f.device != frames[0].device:
                raise TypeError(f"frames[{i}] has dtype/device {f.dtype}/{f.device}, frames[0] has "
                                f"{frames[0].dtype}/{frames[0].device}: they must match")  # fmt: skip
        frames = torch.stack(list(frames))
    if not isinstance(frames, Tensor):
        raise TypeError(f"frames must be a torch.Tensor or a sequence of them, got {type(frames).__name__}")
    if frames.dim() != 4:
        raise ValueError(f"frames must be Tensor[N, C, H, W], got shape {tuple(frames.shape)}")
    check_size(frames, "frames", "pywlc.mctf.analyze")  # before anything materialises a stride-0 view
    if integer:
        if frames.dtype != torch.int32:
            raise TypeError(f"frames must be int32 with integer=True, got {frames.dtype}")
    else:
        if frames.dtype not in _FLOATS:
            raise TypeError(f"frames must be float32 or float64 (or int32 with integer=True), got {frames.dtype}")
        if not bool(torch.isfinite(frames).all()):
            raise ValueError("frames has non-finite values")
    n, c, h, w = frames.shape
    if n < 2:
        raise ValueError(f"frames must hold at least 2 frames for MCTF, got {n}")
    if c == 0 or h == 0 or w == 0:
        raise ValueError(f"frames is empty: shape {tuple(frames.shape)}")
    return frames.contiguous()


def _check_field(f: object, name: str, h: int, w: int) -> Tensor:
    if not isinstance(f, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(f).__name__}")
    if not f.is_floating_point() and f.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{name} must be a float (or integer) tensor, got {f.dtype}")
    if tuple(f.shape) != (2, h, w):
        raise ValueError(f"{name} must have shape {(2, h, w)}, got {tuple(f.shape)}")
    f = f.detach().to(torch.float32)
    if not bool(torch.isfinite(f).all()):
        raise ValueError(f"{name} has non-finite values")
    return f


def _check_mask(m: object, name: str, h: int, w: int) -> Tensor:
    if not isinstance(m, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(m).__name__}")
    if tuple(m.shape) != (h, w):
        raise ValueError(f"{name} must have shape {(h, w)}, got {tuple(m.shape)}")
    return m.detach().bool()


# ----------------------------------------------------------------------------------------------------
# Motion


def _grey(x: Tensor) -> Tensor:
    """``Tensor[C, H, W]`` -> ``Tensor[H, W]`` float32: the grey plane (C=1), BT.601 luma (C=3), else the mean."""
    x = x.to(torch.float32)
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 3:
        return _LUMA[0] * x[0] + _LUMA[1] * x[1] + _LUMA[2] * x[2]
    return x.mean(0)


def _hvsbm_motion(options: dict) -> Callable[..., MotionFields]:
    from ..motion import hvsbm

    def est(cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int) -> MotionFields:
        r = hvsbm(cur.cpu(), left.cpu(), None if right is None else right.cpu(),
                  temporal_distance=temporal_distance, **options)  # fmt: skip
        return MotionFields(r.field_left, r.field_right, r.uses_left, r.uses_right, r.scene_cut)

    return est


def _block_sums(x: Tensor, block: int) -> Tensor:
    """``Tensor[..., H, W]`` -> per-block sums ``Tensor[..., ceil(H / block), ceil(W / block)]``."""
    h, w = x.shape[-2:]
    x = torch.nn.functional.pad(x, (0, -w % block, 0, -h % block))
    return x.reshape(*x.shape[:-2], x.shape[-2] // block, block, x.shape[-1] // block, block).sum((-3, -1))


def block_motion(**options: object) -> Callable[..., MotionFields]:
    """The ``motion="block"`` estimator as a callable for :func:`analyze` (``options``: :func:`pywlc.motion.block_match`
    keywords ``block``, ``search_range``, ``subpel``, ``lam``).

    Fixed-grid :func:`pywlc.motion.block_match` on the frames' device (the GPU path of MCTF).

    Each block is then predicted from the left, the right or both references, whichever gives the lowest SAD
    of the actual MCTF prediction (bilinear warp of the field; ties prefer bidirectional, then left).
    """
    from ..motion import block_match

    opts = {"block": 16, "search_range": 16, "subpel": 4, "lam": 4.0, **options}
    block = opts["block"]

    def est(cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int) -> MotionFields:
        h, w = cur.shape
        rng = min(opts["search_range"] * temporal_distance, 256)
        if cur.is_cuda:  # the CUDA kernel's shared-memory window: block^2 + (block + 2R)^2 <= 96 KiB
            rng = min(rng, (math.isqrt(96 * 1024 - block * block) - block) // 2)
        kw = {**opts, "search_range": rng}
        fl = block_match(cur, left, **kw).field((h, w))[0]
        if right is None:
            return MotionFields(fl)
        fr = block_match(cur, right, **kw).field((h, w))[0]
        pl = warp(left[None, None], fl[None])[0, 0]
        pr = warp(right[None, None], fr[None])[0, 0]
        cost = torch.stack([_block_sums((cur - p).abs(), block) for p in ((pl + pr) / 2, pl, pr)])
        mode = cost.argmin(0)  # first minimum: bidirectional, then left, then right
        mode = mode.repeat_interleave(block, 0).repeat_interleave(block, 1)[:h, :w]
        return MotionFields(fl, fr, mode != 2, mode != 1)

    est.on_device = True  # type: ignore[attr-defined]
    return est


def _zero_motion(
    cur: Tensor, left: Tensor, right: Tensor | None, *, level: int, temporal_distance: int
) -> MotionFields:
    z = torch.zeros(2, *cur.shape, dtype=torch.float32)
    return MotionFields(z, None if right is None else z)


def _normalise_motion(out: object, h: int, w: int, has_right: bool, haar: bool) -> tuple:
    """A motion callable's output -> (field_left, field_right, uses_left, uses_right, scene_cut) on the CPU."""
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"motion must return MotionFields or (field_left, field_right), got a {len(out)}-tuple")
        out = MotionFields(out[0], out[1])
    if not isinstance(out, MotionFields):
        raise TypeError(f"motion must return MotionFields or (field_left, field_right), got {type(out).__name__}")
    fl = _check_field(out.field_left, "motion(...).field_left", h, w).cpu()
    fr = None
    if has_right and not haar and out.field_right is not None:
        fr = _check_field(out.field_right, "motion(...).field_right", h, w).cpu()
    ul = torch.ones(h, w, dtype=torch.bool)
    if out.uses_left is not None:
        ul = _check_mask(out.uses_left, "motion(...).uses_left", h, w).cpu()
    ur = torch.zeros(h, w, dtype=torch.bool)
    if fr is not None:
        ur = torch.ones(h, w, dtype=torch.bool)
        if out.uses_right is not None:
            ur = _check_mask(out.uses_right, "motion(...).uses_right", h, w).cpu()
    if haar:
        ul = torch.ones(h, w, dtype=torch.bool)
    elif not bool((ul | ur).all()):
        # A pixel with no reference is predicted from the left one (deterministic, keeps every pixel predicted).
        ul = ul | ~ur
    if fr is None:
        fr = torch.zeros(2, h, w, dtype=torch.float32)
    return fl, fr, ul, ur, bool(out.scene_cut)


# ----------------------------------------------------------------------------------------------------
# Lifting geometry


def _targets(field: Tensor) -> tuple[Tensor, Tensor]:
    """``Tensor[K, 2, H, W]`` -> raster index of ``round(p + v)`` (round half up, spec "Connectivity") and
    whether it lies in the frame, both ``Tensor[K, H, W]``."""
    k, _, h, w = field.shape
    ys = torch.arange(h, device=field.device).view(1, h, 1)
    xs = torch.arange(w, device=field.device).view(1, 1, w)
    tx = xs + torch.floor(field[:, 0] + 0.5).to(torch.int64)
    ty = ys + torch.floor(field[:, 1] + 0.5).to(torch.int64)
    inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    return ty * w + tx, inside


def connectivity(field: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
    """First-come-first-served connectivity (spec "Connectivity"; Choi & Woods 1999, sec. III).

    Args:
        field: ``Tensor[K, 2, H, W]`` vectors in pixels of the predicted frames.
        active: ``Tensor[K, H, W]`` bool: pixels whose mapping may connect (those predicted from this reference).

    Returns:
        ``connected`` ``Tensor[K, H, W]`` bool on the reference grid, and ``source`` ``Tensor[K, H, W]`` int64:
        for each connected reference pixel the raster index of the first (raster order) predicted pixel whose
        rounded target it is (0 where unconnected).
    """
    k, _, h, w = field.shape
    hw = h * w
    idx, inside = _targets(field)
    ok = (inside & active).reshape(k, hw)
    raster = torch.arange(hw, device=field.device).expand(k, hw)
    dest = torch.where(ok, idx.reshape(k, hw), torch.full_like(raster, hw))  # hw: a dump slot
    first = torch.full((k, hw + 1), hw, dtype=torch.int64, device=field.device)
    first.scatter_reduce_(1, dest, raster.contiguous(), reduce="amin", include_self=True)
    first = first[:, :hw]
    connected = first < hw
    source = torch.where(connected, first, torch.zeros_like(first))
    return connected.reshape(k, h, w), source.reshape(k, h, w)


@dataclass(frozen=True)
class _Geometry:
    wl: Tensor  # Tensor[K, H, W] predict weight of the left reference
    wr: Tensor  # Tensor[K, H, W]
    conn_l: Tensor  # Tensor[K, H, W] bool on x_{2k}
    src_l: Tensor  # Tensor[K, H, W] int64
    conn_r: Tensor  # Tensor[K, H, W] bool on x_{2k+2}
    src_r: Tensor  # Tensor[K, H, W] int64


def _geometry(fl: Tensor, fr: Tensor, ul: Tensor, ur: Tensor, cut: Tensor, has_right: Tensor) -> _Geometry:
    """Predict weights and update connectivity of one level (module doc "Predict", "Update", "Scene cuts").

    The compiled kernel (``mctf_geometry_cpu``: one raster pass per frame) computes exactly what
    :func:`_geometry_reference` does with torch ops; the reference runs where the kernel is missing.
    """
    geometry = kernel("mctf_geometry", fl) if fl.device.type == "cpu" else None
    if geometry is not None:
        k, _, h, w = fl.shape
        fl_c = fl.to(torch.float32).contiguous()
        fr_c = fr.to(torch.float32).contiguous()
        u8 = [t.to(torch.uint8).contiguous() for t in (ul, ur, cut, has_right)]
        wl = torch.empty((k, h, w), dtype=torch.float32)
        wr = torch.empty_like(wl)
        conn_l = torch.empty((k, h, w), dtype=torch.bool)
        conn_r = torch.empty_like(conn_l)
        src_l = torch.empty((k, h, w), dtype=torch.int64)
        src_r = torch.empty_like(src_l)
        geometry(k, h, w, fl_c.data_ptr(), fr_c.data_ptr(), *(t.data_ptr() for t in u8), wl.data_ptr(),
                 wr.data_ptr(), conn_l.data_ptr(), src_l.data_ptr(), conn_r.data_ptr(), src_r.data_ptr())  # fmt: skip
        return _Geometry(wl, wr, conn_l, src_l, conn_r, src_r)
    return _geometry_reference(fl, fr, ul, ur, cut, has_right)


def _geometry_reference(fl: Tensor, fr: Tensor, ul: Tensor, ur: Tensor, cut: Tensor, has_right: Tensor) -> _Geometry:
    """:func:`_geometry` in torch ops (the oracle of the compiled kernel, and its fallback)."""
    _, inside_l = _targets(fl)
    _, inside_r = _targets(fr)
    ur = ur & has_right.view(-1, 1, 1)
    el = ul & inside_l
    er = ur & inside_r
    neither = ~(el | er)
    # Both targets outside the frame: keep the used references (border-clamped reads), no connection.
    pl = torch.where(neither, ul, el).float()
    pr = torch.where(neither, ur, er).float()
    live = (~cut).view(-1, 1, 1).float()
    total = (pl + pr).clamp_min(1.0)
    wl = pl / total * live
    wr = pr / total * live
    conn_l, src_l = connectivity(fl, (wl > 0) & el)
    conn_r, src_r = connectivity(fr, (wr > 0) & er)
    return _Geometry(wl, wr, conn_l, src_l, conn_r, src_r)


def _warp(x: Tensor, field: Tensor, interp: str) -> Tensor:
    return warp(x, field.to(device=x.device, dtype=x.dtype), mode=interp, padding="border")


def _predict(even: Tensor, g: _Geometry, lvl: MctfLevel, interp: str, dtype: torch.dtype) -> Tensor:
    """``w_L W_L(x_{2k}) + w_R W_R(x_{2k+2})`` for every odd frame: ``Tensor[K, C, H, W]`` in ``dtype``."""
    k = g.wl.shape[0]
    e = even.to(dtype)
    dev = even.device
    pred = _warp(e[:k], lvl.field_left, interp) * g.wl.to(dev, dtype).unsqueeze(1)
    nr = min(k, e.shape[0] - 1)  # odd frames with a right neighbour
    if nr > 0 and bool((g.wr[:nr] > 0).any()):
        pred[:nr] += _warp(e[1 : nr + 1], lvl.field_right[:nr], interp) * g.wr[:nr].to(dev, dtype).unsqueeze(1)
    return pred


def _carry(high: Tensor, weight: Tensor, conn: Tensor, src: Tensor) -> Tensor:
    """``U(H)``: ``Tensor[K, C, H, W]`` carried back to the connected reference pixels, weighted by half the
    predict weight of its source pixel (module doc "Update")."""
    k, c, h, w = high.shape
    hw = h * w
    s = src.to(high.device).reshape(k, 1, hw)
    vals = torch.gather(high.reshape(k, c, hw), 2, s.expand(k, c, hw))
    wts = torch.gather(weight.to(high.device, high.dtype).reshape(k, 1, hw), 2, s) * 0.5
    return (vals * wts * conn.to(high.device).reshape(k, 1, hw).to(high.dtype)).reshape(k, c, h, w)


def _update(high: Tensor, n_even: int, g: _Geometry) -> Tensor:
    """Sum of the carried H frames per even frame: ``Tensor[n_even, C, H, W]``."""
    k = high.shape[0]
    u = torch.zeros((n_even, *high.shape[1:]), dtype=high.dtype, device=high.device)
    u[:k] += _carry(high, g.wl, g.conn_l, g.src_l)  # H_k -> x_{2k} along its left vectors
    nr = min(k, n_even - 1)
    if nr > 0:
        u[1 : nr + 1] += _carry(high[:nr], g.wr[:nr], g.conn_r[:nr], g.src_r[:nr])  # H_k -> x_{2k+2}
    return u


def _geometry_of(lvl: MctfLevel, n: int) -> _Geometry:
    has_right = 2 * torch.arange(lvl.field_left.shape[0]) + 2 < n  # symmetric extension at the sequence end
    return _geometry(lvl.field_left, lvl.field_right, lvl.uses_left, lvl.uses_right, lvl.scene_cut, has_right)


def _round(x: Tensor) -> Tensor:
    """Round half up, as an int32 tensor (the integer variant's rounding)."""
    return torch.floor(x + 0.5).to(torch.int32)


# ----------------------------------------------------------------------------------------------------
# Public API


def analyze(
    frames: Tensor | Sequence[Tensor],
    *,
    levels: int = 3,
    filter: str = "5/3",
    motion: str | Callable[..., MotionFields | tuple] = "hvsbm",
    lam: float = 24.0,
    integer: bool = False,
    interp: str = "bilinear",
    motion_options: dict | None = None,
) -> MctfResult:
    """Motion-compensated temporal analysis of a frame sequence (module doc gives the lifting equations).

    Args:
        frames: ``Tensor[N, C, H, W]`` (or a sequence of ``N`` ``Tensor[C, H, W]``), ``N >= 2``; float32/float64,
            or int32 with ``integer=True``; CPU or CUDA (motion estimation runs on the CPU except ``"block"``).
            Sample scale 0..255 (``lam`` assumes it).
        levels: temporal decomposition levels (default 3: GOP 8); level ``l`` needs ``ceil(N / 2**(l-1)) >= 2``.
        filter: ``"5/3"`` (bidirectional, Chen & Woods 2004) or ``"haar"`` (one-sided, Choi & Woods 1999).
        motion: ``"hvsbm"`` (:func:`pywlc.motion.hvsbm` on the grey/luma frames, CPU), ``"block"``
            (:func:`pywlc.motion.block_match` on the frames' device, CPU or CUDA, per-block left / right / bi
            choice by prediction SAD), ``"zero"``, or a callable
            ``motion(cur, left, right, *, level, temporal_distance) -> MotionFields | (field_left, field_right)``
            receiving ``Tensor[H, W]`` float32 grey frames on the 0..255 scale (``right`` is ``None`` at the
            sequence end and for Haar) and returning ``Tensor[2, H, W]`` fields in pixels.
        lam: HVSBM Lagrange multiplier (per level; default 24).
        integer: reversible integer lifting (int32 in and out, bitwise-exact round trip).
        interp: ``"bilinear"`` or ``"bicubic"`` sub-pel interpolation of the prediction (:func:`pywlc.ops.warp`).
        motion_options: extra keyword arguments for :func:`pywlc.motion.hvsbm` (``subpel``, ``search_range``,
            ``levels``, ``threads``, ...) or :func:`pywlc.motion.block_match` (``block``, ``search_range``,
            ``subpel``, ``lam``; the range is multiplied by the temporal distance like HVSBM's).

    Returns:
        :class:`MctfResult` with subbands of ``frames``' dtype and device; invert with :func:`synthesize`.
    """
    if not isinstance(integer, bool):
        raise TypeError(f"integer must be a bool, got {type(integer).__name__}")
    x = _check_frames(frames, integer)
    n_frames, _, h, w = x.shape
    levels = _check_int(levels, "levels", 1)
    if math.ceil(n_frames / 2 ** (levels - 1)) < 2:
        raise ValueError(f"levels={levels} needs more than {2 ** (levels - 1)} frames, got {n_frames} frames")
    if filter not in _FILTERS:
        raise ValueError(f"filter must be one of {sorted(_FILTERS)}, got {filter!r}")
    if interp not in _INTERPS:
        raise ValueError(f"interp must be one of {list(_INTERPS)}, got {interp!r}")
    if isinstance(lam, bool) or not isinstance(lam, int | float):
        raise TypeError(f"lam must be a number, got {type(lam).__name__}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam}")
    if motion_options is not None and not isinstance(motion_options, dict):
        raise TypeError(f"motion_options must be a dict or None, got {type(motion_options).__name__}")
    if callable(motion):
        est = motion
    elif motion == "hvsbm":
        est = _hvsbm_motion({"lam": float(lam), **(motion_options or {})})
    elif motion == "block":
        est = block_motion(**(motion_options or {}))
    elif motion == "zero":
        est = _zero_motion
    else:
        raise ValueError(f"motion must be 'hvsbm', 'block', 'zero' or a callable, got {motion!r}")
    haar = filter == "haar"
    alpha, beta = (1.0, 1.0) if integer else _FILTERS[filter]
    gain = _FILTERS[filter][1]  # DC gain of L per level (for the motion estimator's scale)
    work = torch.float64 if integer else x.dtype

    cur = x
    highs: list[Tensor] = []
    side: list[MctfLevel] = []
    for level in range(1, levels + 1):
        n = cur.shape[0]
        k = n // 2
        n_even = (n + 1) // 2
        td = 2 ** (level - 1)
        grey = torch.stack([_grey(f) for f in cur]) / (1.0 if integer else gain ** (level - 1))
        if not getattr(est, "on_device", False):
            grey = grey.cpu()
        fls, frs, uls, urs, cuts = [], [], [], [], []
        for i in range(k):
            has_r = 2 * i + 2 < n and not haar
            out = est(grey[2 * i + 1], grey[2 * i], grey[2 * i + 2] if has_r else None,
                      level=level, temporal_distance=td)  # fmt: skip
            fl, fr, ul, ur, cut = _normalise_motion(out, h, w, has_r, haar)
            fls.append(fl), frs.append(fr), uls.append(ul), urs.append(ur), cuts.append(cut)
        fl, fr, ul, ur = torch.stack(fls), torch.stack(frs), torch.stack(uls), torch.stack(urs)
        cut = torch.tensor(cuts, dtype=torch.bool)
        g = _geometry(fl, fr, ul, ur, cut, 2 * torch.arange(k) + 2 < n)
        lvl = MctfLevel(td, n, fl, fr, ul, ur, cut, g.wl, g.wr, g.conn_l, g.conn_r)
        c = _fused.kernels(cur, integer)  # None: the composed reference below (also in use_kernels(False))
        if c is not None:
            high, low = _fused.analysis_step(c, cur, _fused.side(g, fl, fr, cur.device), interp, alpha, beta)
            highs.append(high)
            side.append(lvl)
            cur = low
            continue
        even, odd = cur[0::2], cur[1::2]
        pred = _predict(even, g, lvl, interp, work)
        if integer:
            high = odd - _round(pred)
            low = even + _round(_update(high.to(work), n_even, g))
        else:
            # Chen & Woods 2004, eq. 1 (predict) and eq. 2 (update; H / alpha undoes the H scaling).
            high = alpha * (odd - pred)
            low = beta * (even + _update(high, n_even, g) / alpha)
        highs.append(high)
        side.append(lvl)
        cur = low
    return MctfResult(cur, highs, side, filter, integer, interp, alpha, beta, n_frames)


def synthesize(result: MctfResult) -> Tensor:
    """Invert :func:`analyze`: ``Tensor[N, C, H, W]`` of the subbands' dtype and device.

    Runs each level's update and predict in reverse order with opposite signs, recomputing the predict weights
    and connectivity from the side information (fields, ``uses_*``, scene cuts), so reconstruction is exact up to
    float rounding (bitwise for ``integer=True``) for any vectors.

    Raises:
        TypeError, ValueError: ``result`` is inconsistent (checked before any computation, every tensor of every
            level: shape against the subbands, dtype, device, finite vectors within ``MAX_VECTOR`` pixels), as a
            result rebuilt from a corrupt stream may be.
    """
    # Every tensor of every level against the subbands' sizes before any kernel call (the kernels index with them).
    result = _validate.check_result(result)
    low = result.low
    out_shape = [result.num_frames, *low.shape[1:]]
    check_bytes(math.prod(out_shape) * low.element_size(), low.device, "pywlc.mctf.synthesize",
                f"the output Tensor{out_shape} {low.dtype}")  # fmt: skip
    work = torch.float64 if result.integer else low.dtype
    for li in range(len(result.high) - 1, -1, -1):
        lvl, high = result.motion[li], result.high[li]
        n = lvl.num_frames
        n_even = (n + 1) // 2
        g = _geometry_of(lvl, n)
        c = _fused.kernels(low, result.integer)  # None: the composed reference below
        if c is not None:
            s = _fused.side(g, lvl.field_left, lvl.field_right, low.device)
            low = _fused.synthesis_step(c, low, high, s, result.interp, result.alpha, result.beta)
            continue
        if result.integer:
            even = low - _round(_update(high.to(work), n_even, g))
            odd = high + _round(_predict(even, g, lvl, result.interp, work))
        else:
            even = low / result.beta - _update(high, n_even, g) / result.alpha
            odd = high / result.alpha + _predict(even, g, lvl, result.interp, work)
        out = torch.empty((n, *low.shape[1:]), dtype=low.dtype, device=low.device)
        out[0::2] = even
        out[1::2] = odd
        low = out
    return low
