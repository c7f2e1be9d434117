"""pywlc.motion.block_match: equality with the pure-torch reference, recovery of known integer and quarter-pel
translations of a real photo, thread and device independence, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pywlc
from pywlc._extension import use_kernels
from pywlc.motion import block_field, block_match
from pywlc.motion._reference_block_match import block_match_reference, qpel_predict

pytestmark = pytest.mark.skipif(
    not hasattr(pywlc._extension.load() or object(), "block_match_cpu"), reason="compiled core without block_match"
)

SAMPLE = next((Path(pywlc.__file__).parent / "data").glob("*.png"))


def _photo(h: int, w: int) -> torch.Tensor:
    """A grey crop of the shipped sample photo around its most detailed part (the dandelion), ``Tensor[h, w]``."""
    im = np.asarray(Image.open(SAMPLE).convert("L"))
    y0, x0 = 24, 100
    return torch.from_numpy(im[y0 : y0 + h, x0 : x0 + w].copy())


def _textured(img: torch.Tensor, block: int) -> torch.Tensor:
    """Blocks with detail in both directions (no aperture problem): ``Tensor[Hb, Wb]`` bool."""
    f = img.float()
    gx = torch.nn.functional.pad((f[:, 1:] - f[:, :-1]).abs(), (0, 1))
    gy = torch.nn.functional.pad((f[1:] - f[:-1]).abs(), (0, 0, 0, 1))

    def per_block(g: torch.Tensor) -> torch.Tensor:
        return g.unfold(0, block, block).unfold(1, block, block).mean((-1, -2))

    return torch.minimum(per_block(gx), per_block(gy)) > 4


def _smooth_pair(n: int, h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand((n, 1, h + 16, w + 16), generator=g) * 255
    base = torch.nn.functional.avg_pool2d(base, 3, 1, 1)[:, 0]
    cur = base[:, 5 : 5 + h, 7 : 7 + w] + torch.randn((n, h, w), generator=g) * 3
    return cur.round().clamp(0, 255).to(torch.uint8), base[:, 4 : 4 + h, 9 : 9 + w].round().to(torch.uint8)


@pytest.mark.parametrize(
    "shape,block,search_range,subpel,lam",
    [
        ((2, 24, 40), 8, 3, 4, 4.0),
        ((1, 19, 29), 8, 2, 2, 0.0),  # partial border blocks
        ((1, 16, 16), 4, 2, 1, 1.5),
        ((1, 21, 33), 16, 3, 4, 100.0),  # heavy penalty: short vectors win
        ((1, 9, 11), 4, 0, 4, 0.0),  # range 0: sub-pel around the zero vector only
        ((1, 7, 5), 1, 1, 4, 0.5),  # 1x1 blocks
    ],
)
def test_equals_reference(shape, block, search_range, subpel, lam):
    cur, ref = _smooth_pair(*shape, seed=block + search_range)
    got = block_match(cur, ref, block=block, search_range=search_range, subpel=subpel, lam=lam)
    mvs, sad = block_match_reference(cur, ref, block, search_range, subpel, lam)
    assert torch.equal(got.mvs, mvs)
    assert torch.equal(got.sad, sad)
    assert got.mvs.shape == (shape[0], 2, -(-shape[1] // block), -(-shape[2] // block))


def test_integer_translation_exact():
    img = _photo(160, 224)
    dy, dx = 5, -7
    cur, ref = img[16:144, 24:200], img[16 + dy : 144 + dy, 24 + dx : 200 + dx]  # cur(p) = ref(p - (dx, dy))
    r = block_match(cur, ref, block=16, search_range=8, lam=0.0)
    # Blocks whose displaced window stays in the frame (dy > 0: not the top row; dx < 0: not the last column).
    mvs, sad = r.mvs[0, :, 1:, :-1], r.sad[0, 1:, :-1]
    assert (sad == 0).all()  # the true vector costs 0, so the winner does too
    # Blocks with 2-D detail have a unique zero-SAD vector: the true one.
    textured = _textured(cur, 16)[1:, :-1]
    assert textured.float().mean() > 0.3
    assert (mvs[0][textured] == -4 * dx).all() and (mvs[1][textured] == -4 * dy).all()


@pytest.mark.parametrize("vx,vy", [(1, 0), (2, 3), (-5, 6), (13, -2)])
def test_quarter_pel_translation_exact(vx, vy):
    """cur = ref shifted by a quarter-pel vector with the matcher's own filter.

    The refinement is greedy (best half-pel, then its quarter-pel neighbours, as in HVSBM), so a block can end
    one quarter-pel off the truth when its half-pel stage picked a neighbour; the spec's bound is an end-point
    error <= 0.25 px on textured blocks, and most are exact.
    """
    ref = _photo(96, 128)
    field = torch.full((96, 128), 0, dtype=torch.int64)
    cur = qpel_predict(ref, field + vx, field + vy).to(torch.uint8)
    r = block_match(cur[8:88, 8:120], ref[8:88, 8:120], block=16, search_range=4, lam=0.0)
    # Interior blocks (their 8-tap footprint stays inside the crop), with 2-D detail.
    textured = _textured(cur[8:88, 8:120], 16)[1:-1, 1:-1]
    assert textured.float().mean() > 0.3
    ex, ey = r.mvs[0, 0, 1:-1, 1:-1][textured] - vx, r.mvs[0, 1, 1:-1, 1:-1][textured] - vy
    assert (ex * ex + ey * ey <= 1).all()  # end-point error <= 1/4 pel
    assert ((ex == 0) & (ey == 0)).float().mean() >= 0.8


def test_float_input_and_layouts():
    cur, ref = _smooth_pair(2, 20, 24, seed=3)
    a = block_match(cur, ref, block=8, search_range=2)
    b = block_match(cur.float().unsqueeze(1) + 0.2, ref.double().unsqueeze(1), block=8, search_range=2)
    c = block_match(cur[0], ref[0], block=8, search_range=2)
    assert torch.equal(a.mvs, b.mvs) and torch.equal(a.sad, b.sad)
    assert torch.equal(a.mvs[:1], c.mvs)


def test_threads_do_not_change_the_result():
    cur, ref = _smooth_pair(3, 40, 56, seed=5)
    runs = [block_match(cur, ref, block=8, search_range=4, threads=t) for t in (1, 2, 3)]
    for r in runs[1:]:
        assert torch.equal(r.mvs, runs[0].mvs) and torch.equal(r.sad, runs[0].sad)


def test_empty_batch():
    r = block_match(torch.zeros(0, 16, 16, dtype=torch.uint8), torch.zeros(0, 16, 16, dtype=torch.uint8), block=8)
    assert r.mvs.shape == (0, 2, 2, 2) and r.sad.shape == (0, 2, 2)


def test_block_field():
    mvs = torch.tensor([[[[4, -2]], [[1, 8]]]], dtype=torch.int32)  # [1, 2, 1, 2]
    f = block_field(mvs, 4, (3, 7))
    assert f.shape == (1, 2, 3, 7)
    assert (f[0, 0, :, :4] == 1).all() and (f[0, 0, :, 4:] == -0.5).all()
    assert (f[0, 1, :, :4] == 0.25).all() and (f[0, 1, :, 4:] == 2).all()
    with pytest.raises(ValueError, match="size"):
        block_field(mvs, 4, (9, 7))


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(block=0), ValueError, "block"),
        (dict(block=2.0), TypeError, "block"),
        (dict(search_range=300), ValueError, "search_range"),
        (dict(subpel=3), ValueError, "subpel"),
        (dict(lam=-1.0), ValueError, "lam"),
        (dict(lam=float("nan")), ValueError, "lam"),
        (dict(threads=0), ValueError, "threads"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    cur, ref = _smooth_pair(1, 16, 16, seed=0)
    with pytest.raises(exc, match=match):
        block_match(cur, ref, **kwargs)


def test_bad_frames():
    cur, ref = _smooth_pair(1, 16, 16, seed=0)
    with pytest.raises(ValueError, match="shape"):
        block_match(cur, ref[:, :8])
    with pytest.raises(TypeError, match="uint8 or floating"):
        block_match(cur.int(), ref)
    with pytest.raises(ValueError, match="non-finite"):
        block_match(cur.float() * float("inf"), ref)
    with pytest.raises(ValueError, match="grey"):
        block_match(cur.expand(3, 16, 16).unsqueeze(0), ref)
    with pytest.raises(TypeError, match="Tensor"):
        block_match(cur.numpy(), ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("block,search_range,subpel", [(16, 16, 4), (8, 7, 2), (32, 24, 1), (5, 3, 4)])
def test_cuda_equals_cpu(block, search_range, subpel):
    if not pywlc.has_cuda_ops():
        pytest.skip("pywlc was built without CUDA kernels")
    cur, ref = _smooth_pair(2, 75, 101, seed=block)
    cpu = block_match(cur, ref, block=block, search_range=search_range, subpel=subpel)
    gpu = block_match(cur.cuda(), ref.cuda(), block=block, search_range=search_range, subpel=subpel)
    assert torch.equal(gpu.mvs.cpu(), cpu.mvs) and torch.equal(gpu.sad.cpu(), cpu.sad)
    with pytest.raises(ValueError, match="shared memory"):
        block_match(cur.cuda(), ref.cuda(), block=64, search_range=200)


def test_reference_path_without_kernels():
    """``use_kernels(False)`` runs the pure-torch oracle: the same vectors and SADs as the kernel."""
    g = torch.Generator().manual_seed(5)
    cur = torch.randint(0, 256, (2, 20, 28), generator=g, dtype=torch.uint8)
    ref = torch.roll(cur, (1, -2), (1, 2))
    got = block_match(cur, ref, block=8, search_range=3, subpel=4, lam=2.0)
    with use_kernels(False):
        slow = block_match(cur, ref, block=8, search_range=3, subpel=4, lam=2.0)
    assert torch.equal(slow.mvs, got.mvs) and torch.equal(slow.sad, got.sad)
