"""pywlc.mctf: perfect reconstruction for any vectors (float and bitwise integer), lifting structure, real-photo
translation with HVSBM motion, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import assert_close

from pywlc import mctf
from pywlc._extension import load
from pywlc.mctf import MotionFields

needs_hvsbm = pytest.mark.skipif(
    load() is None or not hasattr(load(), "hvsbm_cpu"), reason="pywlc._C built without the motion family"
)
H, W = 18, 22


def random_motion(seed: int, scale: float = 6.0, cut_every: int = 0, far: float = 0.3):
    """A motion callable with random sub-pel fields, some vectors far outside the frame, random uses masks and
    (optionally) scene cuts; deterministic per call order."""
    gen = torch.Generator().manual_seed(seed)
    calls = []

    def est(cur, left, right, *, level, temporal_distance):
        h, w = cur.shape
        calls.append((level, temporal_distance, right is None))

        def field():
            f = torch.round(torch.randn(2, h, w, generator=gen) * scale * 4) / 4
            outside = torch.rand(1, h, w, generator=gen) < far
            return torch.where(outside, f + 1000.0 * torch.sign(torch.randn(2, h, w, generator=gen)), f)

        ul = torch.rand(h, w, generator=gen) < 0.7
        ur = ~ul | (torch.rand(h, w, generator=gen) < 0.5)
        cut = cut_every > 0 and len(calls) % cut_every == 0
        return MotionFields(field(), None if right is None else field(), ul, ur, cut)

    est.calls = calls
    return est


def frames_f(n, c=1, dtype=torch.float64, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, H, W, generator=gen, dtype=torch.float64) * 255).to(dtype).to(device)


# ------------------------------------------------------------------------------------------------
# Perfect reconstruction


@pytest.mark.parametrize("filt", ["5/3", "haar"])
@pytest.mark.parametrize("n,levels", [(2, 1), (3, 1), (4, 2), (7, 3), (8, 3), (9, 3), (13, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_perfect_reconstruction_random_fields(device, filt, n, levels, dtype):
    x = frames_f(n, c=2, dtype=dtype, device=device, seed=n)
    r = mctf.analyze(x, levels=levels, filter=filt, motion=random_motion(n, cut_every=5))
    assert r.levels == levels and r.low.device == x.device and r.low.dtype == dtype
    sizes = [n]
    for _ in range(levels):
        sizes.append((sizes[-1] + 1) // 2)
    assert [h.shape[0] for h in r.high] == [s // 2 for s in sizes[:-1]]
    assert r.low.shape[0] == sizes[-1]
    assert_close(mctf.synthesize(r), x)


@pytest.mark.parametrize("filt", ["5/3", "haar"])
@pytest.mark.parametrize("n,levels", [(2, 1), (5, 2), (8, 3), (11, 3)])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_integer_round_trip_bitwise(filt, n, levels, interp):
    x = frames_f(n, c=1, seed=n).round().to(torch.int32) - 128
    r = mctf.analyze(x, levels=levels, filter=filt, motion=random_motion(7, cut_every=3), integer=True, interp=interp)
    assert r.low.dtype == torch.int32 and all(h.dtype == torch.int32 for h in r.high)
    assert r.alpha == r.beta == 1.0
    assert torch.equal(mctf.synthesize(r), x)


def test_all_unconnected_frames():
    # Every vector points far outside the frame: nothing is connected, L = beta * x_even exactly, and the
    # prediction falls back to border-clamped reads of the used references.
    x = frames_f(5)

    def away(cur, left, right, *, level, temporal_distance):
        f = torch.full((2, H, W), 5000.0)
        return MotionFields(f, None if right is None else -f)

    r = mctf.analyze(x, levels=1, motion=away)
    lvl = r.motion[0]
    assert not lvl.connected_left.any() and not lvl.connected_right.any()
    torch.testing.assert_close(r.low, r.beta * x[0::2], rtol=0, atol=1e-12)
    # Both targets outside: both used references keep weight 1/2 (border-clamped corners).
    assert torch.all(lvl.weight_left == 0.5) and torch.all(lvl.weight_right == 0.5)
    corner = 0.5 * (x[0, :, -1, -1] + x[2, :, 0, 0])
    torch.testing.assert_close(r.high[0][0, :, 3, 4], r.alpha * (x[1, :, 3, 4] - corner))
    assert_close(mctf.synthesize(r), x)
    xi = x.round().int()
    assert torch.equal(mctf.synthesize(mctf.analyze(xi, levels=1, motion=away, integer=True)), xi)


def test_scene_cut_degenerates_to_weighted_copies():
    x = frames_f(5)

    def cut(cur, left, right, *, level, temporal_distance):
        return MotionFields(torch.randn(2, H, W), None if right is None else torch.randn(2, H, W), scene_cut=True)

    r = mctf.analyze(x, levels=1, motion=cut)
    assert r.motion[0].scene_cut.all()
    torch.testing.assert_close(r.high[0], r.alpha * x[1::2], rtol=0, atol=1e-12)
    torch.testing.assert_close(r.low, r.beta * x[0::2], rtol=0, atol=1e-12)
    assert_close(mctf.synthesize(r), x)


def test_out_of_frame_reference_gets_zero_weight():
    x = frames_f(3)
    fl = torch.zeros(2, H, W)
    fl[0, :, :5] = -10.0  # left targets of the first 5 columns leave the frame
    fr = torch.zeros(2, H, W)
    r = mctf.analyze(x, levels=1, motion=lambda *a, **k: (fl, fr))
    lvl = r.motion[0]
    assert torch.all(lvl.weight_left[0, :, :5] == 0) and torch.all(lvl.weight_right[0, :, :5] == 1)
    assert torch.all(lvl.weight_left[0, :, 5:] == 0.5) and torch.all(lvl.weight_right[0, :, 5:] == 0.5)
    torch.testing.assert_close(r.high[0][0, :, :, :5], r.alpha * (x[1] - x[2])[:, :, :5])
    # Columns 0..4 of x_0 are reached by no vector (theirs left the frame); the others by zero vectors.
    assert not lvl.connected_left[0, :, :5].any() and lvl.connected_left[0, :, 5:].all()
    assert lvl.connected_right[0].all()


def test_zero_motion_matches_plain_lifting():
    # Without motion the MCTF is the plain temporal 5/3 (resp. Haar) lifting along every pixel.
    x = frames_f(5)
    a, b = math.sqrt(23 / 32), math.sqrt(1.5)
    r = mctf.analyze(x, levels=1, motion="zero")
    h0 = a * (x[1] - 0.5 * (x[0] + x[2]))
    h1 = a * (x[3] - 0.5 * (x[2] + x[4]))
    torch.testing.assert_close(r.high[0], torch.stack([h0, h1]))
    low = torch.stack([b * (x[0] + 0.25 * h0 / a), b * (x[2] + 0.25 * (h0 + h1) / a), b * (x[4] + 0.25 * h1 / a)])
    torch.testing.assert_close(r.low, low)
    rh = mctf.analyze(x[:2], levels=1, filter="haar", motion="zero")
    torch.testing.assert_close(rh.high[0][0], (x[1] - x[0]) / math.sqrt(2))
    torch.testing.assert_close(rh.low[0], (x[0] + x[1]) / math.sqrt(2))
    # A linear ramp in time is predicted exactly by 5/3 (interior H frames vanish).
    ramp = torch.arange(9, dtype=torch.float64).view(9, 1, 1, 1).expand(9, 1, 4, 4) * 10 + 3
    assert mctf.analyze(ramp, levels=1, motion="zero").high[0].abs().max() < 1e-12


def test_filter_spans_gop_borders():
    # Whole-sequence levels = Golwelkar & Woods' sliding window: the last H frame of GOP 0 (frames 0..7) is
    # predicted from frame 8 of GOP 1, and a change there reaches only the subbands within the 5/3 support.
    x = frames_f(16)
    y = x.clone()
    y[8] += 10.0
    rx, ry = mctf.analyze(x, levels=1, motion="zero"), mctf.analyze(y, levels=1, motion="zero")
    changed = (rx.high[0] - ry.high[0]).abs().amax(dim=(1, 2, 3)) > 0
    assert changed.tolist() == [False, False, False, True, True, False, False, False]
    changed = (rx.low - ry.low).abs().amax(dim=(1, 2, 3)) > 0
    assert changed.tolist() == [False, False, False, True, True, True, False, False]


def test_motion_callable_levels_and_distance():
    est = random_motion(3)
    r = mctf.analyze(frames_f(8), levels=3, motion=est)
    assert [lvl.temporal_distance for lvl in r.motion] == [1, 2, 4]
    assert [lvl.num_frames for lvl in r.motion] == [8, 4, 2]
    assert [c[:2] for c in est.calls] == [(1, 1)] * 4 + [(2, 2)] * 2 + [(3, 4)]
    assert [c[2] for c in est.calls] == [False, False, False, True, False, True, True]
    est = random_motion(3)
    mctf.analyze(frames_f(4), levels=1, filter="haar", motion=est)
    assert all(c[2] for c in est.calls)  # Haar is one-sided: no right reference


def test_connectivity_first_come_first_served():
    f = torch.zeros(1, 2, 2, 3)
    f[0, 0, 0, 1] = -1.0  # (0, 1) -> (0, 0), after (0, 0) reached it: not first
    f[0, 0, 1, 2] = 0.5  # (1, 2) -> (1, 3): outside (round half up)
    conn, src = mctf.connectivity(f, torch.ones(1, 2, 3, dtype=torch.bool))
    assert conn[0].tolist() == [[True, False, True], [True, True, False]]
    assert src[0].tolist() == [[0, 0, 2], [3, 4, 0]]


# ------------------------------------------------------------------------------------------------
# Real photos / sequences


def _photo(shared_data, scale=4):
    from PIL import Image

    img = Image.open(shared_data / "photos" / "Bridge_by_Sander_Klootwijk.jpg").convert("L")
    img = img.resize((img.width // scale, img.height // scale), Image.BILINEAR)
    return torch.from_numpy(np.asarray(img, dtype=np.float32).copy())


def _translated(img, n, dx, dy, h=96, w=128, y0=200, x0=400):
    # Frame i shows the photo shifted by i * (dx, dy): pixel p of frame i+1 is pixel p + (dx, dy) of frame i.
    return torch.stack([img[y0 + dy * i : y0 + dy * i + h, x0 + dx * i : x0 + dx * i + w] for i in range(n)])[:, None]


def _assert_vectors(lvl, v, b):
    # Away from the border, every used vector is the true translation (left) or its opposite (right).
    for side, sign in (("left", 1), ("right", -1)):
        uses = getattr(lvl, f"uses_{side}")[:, b:-b, b:-b]
        field = getattr(lvl, f"field_{side}")[:, :, b:-b, b:-b]
        for c in range(2):
            assert torch.all(field[:, c][uses] == sign * v[c]), (side, c)
    assert (lvl.uses_left | lvl.uses_right).all()


@needs_hvsbm
@pytest.mark.parametrize("filt", ["5/3", "haar"])
def test_translation_h_energy_hvsbm(shared_data, filt):
    x = _translated(_photo(shared_data), 9, 3, -2)
    r = mctf.analyze(x, levels=2, filter=filt, motion_options={"threads": 1})
    rz = mctf.analyze(x, levels=1, filter=filt, motion="zero")
    b = 16
    frame_energy = x[:, :, b:-b, b:-b].var().item()
    for li, (h, lvl) in enumerate(zip(r.high, r.motion, strict=True)):
        assert not lvl.scene_cut.any()
        d = 2**li
        _assert_vectors(lvl, (3 * d, -2 * d), b)
        h_energy = (h / r.alpha)[:, :, b:-b, b:-b].pow(2).mean().item()
        assert 10 * math.log10(frame_energy / max(h_energy, 1e-30)) >= 15.0
    zero_db = 10 * math.log10(frame_energy / (rz.high[0] / rz.alpha)[:, :, b:-b, b:-b].pow(2).mean().item())
    assert zero_db < 15.0  # the content is textured: without motion the H frames keep the energy
    assert_close(mctf.synthesize(r), x)
    xi = x.round().int()
    assert torch.equal(mctf.synthesize(mctf.analyze(xi, levels=2, filter=filt, integer=True)), xi)


@pytest.mark.parametrize("filt", ["5/3", "haar"])
def test_translation_h_energy_block_motion(shared_data, device, filt):
    """motion="block" (fixed-grid block matching, run on the frames' device) on a known translation."""
    x = _translated(_photo(shared_data), 9, 3, -2).to(device)
    opts = {"block": 16, "search_range": 8}
    r = mctf.analyze(x, levels=2, filter=filt, motion="block", motion_options=opts)
    b = 16
    frame_energy = x[:, :, b:-b, b:-b].var().item()
    for li, (h, lvl) in enumerate(zip(r.high, r.motion, strict=True)):
        d = 2**li
        # This content is smooth (downscaled 4x): at a quarter-pel from the truth many blocks still have SAD 0
        # after the uint8 rounding block_match works in, and the shorter vector wins the tie, so the bound is
        # 1/4 px (exactness on textured blocks is tested in test_block_match.py).
        for side, sign in (("left", 1), ("right", -1)):
            uses = getattr(lvl, f"uses_{side}")[:, b:-b, b:-b].cpu()
            field = getattr(lvl, f"field_{side}")[:, :, b:-b, b:-b].cpu()
            err = torch.stack([field[:, c][uses] - sign * v * d for c, v in enumerate((3, -2))])
            if err.numel():
                assert err.norm(dim=0).max() <= 0.25, side
        assert (lvl.uses_left | lvl.uses_right).all()
        h_energy = (h / r.alpha)[:, :, b:-b, b:-b].pow(2).mean().item()
        assert 10 * math.log10(frame_energy / max(h_energy, 1e-30)) >= 15.0
    assert_close(mctf.synthesize(r), x)
    xi = x.round().int()
    ri = mctf.analyze(xi, levels=2, filter=filt, integer=True, motion="block", motion_options=opts)
    assert torch.equal(mctf.synthesize(ri), xi)


@needs_hvsbm
def test_connectivity_matches_hvsbm_masks(shared_data):
    from PIL import Image

    frames = [np.asarray(Image.open(shared_data / "video" / "mire2" / f"{i:04d}.png").convert("L")) for i in range(3)]
    x = torch.from_numpy(np.stack(frames).astype(np.float32))[:, None, :96, :128].contiguous()
    r = mctf.analyze(x, levels=1, motion_options={"threads": 1})
    from pywlc.motion import hvsbm

    ref = hvsbm(x[1, 0], x[0, 0], x[2, 0], threads=1)
    lvl = r.motion[0]
    assert torch.equal(lvl.field_left[0], ref.field_left) and torch.equal(lvl.uses_right[0], ref.uses_right)
    assert torch.equal(lvl.connected_left[0], ref.connected_left)
    assert torch.equal(lvl.connected_right[0], ref.connected_right)
    assert_close(mctf.synthesize(r), x)


@needs_hvsbm
def test_rgb_frames_use_luma(shared_data):
    img = _photo(shared_data, scale=8)
    x = _translated(img, 3, 2, 1, h=48, w=64, y0=100, x0=200).expand(3, 3, 48, 64) * torch.tensor([1.0, 0.9, 0.8]).view(
        1, 3, 1, 1
    )
    r = mctf.analyze(x.contiguous(), levels=1, motion_options={"threads": 1})
    _assert_vectors(r.motion[0], (2, 1), 12)
    assert_close(mctf.synthesize(r), x)


# ------------------------------------------------------------------------------------------------
# Errors


def test_bad_input():
    x = frames_f(5)
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        mctf.analyze([x[0], x[1, :, :-1]], motion="zero")
    with pytest.raises(TypeError, match="frames"):
        mctf.analyze(x.int(), motion="zero")
    with pytest.raises(TypeError, match="frames"):
        mctf.analyze(x, motion="zero", integer=True)
    with pytest.raises(TypeError, match="frames"):
        mctf.analyze(x.numpy(), motion="zero")
    with pytest.raises(ValueError, match="at least 2 frames"):
        mctf.analyze(x[:1], motion="zero")
    with pytest.raises(ValueError, match="levels=3"):
        mctf.analyze(x[:4], levels=3, motion="zero")
    with pytest.raises(ValueError, match="frames"):
        mctf.analyze(x[0], motion="zero")
    bad = x.clone()
    bad[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        mctf.analyze(bad, motion="zero")
    with pytest.raises(ValueError, match="filter"):
        mctf.analyze(x, levels=1, filter="9/7", motion="zero")
    with pytest.raises(ValueError, match="motion"):
        mctf.analyze(x, levels=1, motion="dis")
    with pytest.raises(ValueError, match="interp"):
        mctf.analyze(x, levels=1, motion="zero", interp="nearest")
    with pytest.raises(TypeError, match="levels"):
        mctf.analyze(x, levels=1.0, motion="zero")
    with pytest.raises(ValueError, match="lam"):
        mctf.analyze(x, levels=1, lam=-1.0)

    def nan_field(cur, left, right, **kw):
        f = torch.zeros(2, *cur.shape)
        f[0, 0, 0] = float("inf")
        return f, None

    with pytest.raises(ValueError, match="field_left has non-finite"):
        mctf.analyze(x, motion=nan_field)
    with pytest.raises(ValueError, match="field_right must have shape"):
        mctf.analyze(x, motion=lambda cur, *a, **k: (torch.zeros(2, *cur.shape), torch.zeros(2, 3, 3)))
    with pytest.raises(TypeError, match="motion must return"):
        mctf.analyze(x, motion=lambda *a, **k: None)
    with pytest.raises(TypeError, match="result"):
        mctf.synthesize(x)


@needs_hvsbm
def test_fast_motion_is_not_a_scene_cut(shared_data):
    """Regression: cube (640x480, fast rotation), level 2, last odd frame (left reference only).  Its motion SAD
    exceeds 0.85 x the frame SATD, but the residual's SATD is well below it: not a scene cut (the decision
    compares the SATD of the motion-compensated residual with the intra SATD, like with like)."""
    from PIL import Image

    files = sorted((shared_data / "video" / "cube").glob("*.png"))[16:32]
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("L"), dtype=np.float32)) for f in files])
    r = mctf.analyze(x[:, None], levels=2, motion_options={"threads": 2})
    assert not r.motion[1].scene_cut.any()
    h = r.high[1] / (r.alpha * r.beta)
    odd = x[1::2][1::2]  # scale of the level-2 odd inputs ~ the frames' (L DC gain divided out)
    assert 10 * math.log10(odd.var().item() / h.pow(2).mean().item()) >= 20.0
