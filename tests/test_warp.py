"""pywlc.warp / warp_blocks: kernels vs the pure-torch reference and F.grid_sample, autograd, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import TOL, assert_close

import pywlc
from pywlc._extension import use_kernels
from pywlc.ops import _reference_warp as ref
from pywlc.ops.warp import Warp, WarpBlocks, warp, warp_blocks

MODES = ["bilinear", "bicubic"]
PADDINGS = ["border", "zeros"]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
SHAPES = [(2, 3, 17, 23), (1, 1, 5, 2), (1, 2, 1, 7), (3, 1, 8, 8)]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _inputs(shape, dtype, device, scale=3.0, seed=0, flow_dtype=None):
    g = _gen(seed)
    n, _, h, w = shape
    img = torch.randn(*shape, generator=g, dtype=torch.float64)
    flow = torch.randn(n, 2, h, w, generator=g, dtype=torch.float64) * scale
    return img.to(dtype).to(device), flow.to(flow_dtype or dtype).to(device)


def _grid_sample(img, flow, mode, padding):
    """The same sampling points through F.grid_sample (normalised grid, align_corners=True)."""
    n, _, h, w = img.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    gx = 2 * (xs + flow[:, 0]) / (w - 1) - 1
    gy = 2 * (ys + flow[:, 1]) / (h - 1) - 1
    grid = torch.stack([gx, gy], -1).to(img.dtype)
    return F.grid_sample(img, grid, mode=mode, padding_mode=padding, align_corners=True)


# ----------------------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_reference(device, mode, padding, dtype, shape):
    flow_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    img, flow = _inputs(shape, dtype, device, flow_dtype=flow_dtype)
    out = warp(img, flow, mode=mode, padding=padding)
    assert out.dtype == dtype and out.shape == img.shape and out.device == img.device and out.is_contiguous()
    # fp16/bf16 images are computed in fp32 and rounded once: compare with the fp32 reference.
    expected = ref.warp_reference(img.cpu().to(flow_dtype), flow.cpu(), mode, padding)
    assert_close(out, expected, dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("scale", [2.0, 60.0])  # 60 px sends most points far outside a 19 x 26 frame
def test_forward_matches_grid_sample(device, mode, padding, scale):
    img, flow = _inputs((2, 3, 19, 26), torch.float64, device, scale=scale, seed=1)
    assert_close(warp(img, flow, mode=mode, padding=padding), _grid_sample(img, flow, mode, padding))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_forward_matches_grid_sample_fp32(device, mode, padding):
    img, flow = _inputs((1, 3, 33, 47), torch.float32, device, seed=2)
    # grid_sample goes through the normalised grid: its coordinates carry ~|x| * 2^-23 of rounding,
    # which the image gradient (~3 for randn pixels) turns into errors up to ~2e-5 (measured 1.1e-5).
    out = warp(img, flow, mode=mode, padding=padding)
    err = (out.double() - _grid_sample(img, flow, mode, padding).double()).abs().max().item()
    assert err < 5e-5, err


def test_half_precision_is_one_rounding_of_fp32(device):
    img, flow = _inputs((1, 2, 9, 14), torch.float32, device)
    for dtype in (torch.float16, torch.bfloat16):
        out = warp(img.to(dtype), flow, mode="bicubic")
        assert torch.equal(out, warp(img.to(dtype).float(), flow, mode="bicubic").to(dtype))


def test_zero_flow_is_identity_and_integer_flow_is_translation(device):
    img, _ = _inputs((1, 2, 6, 9), torch.float32, device)
    zero = torch.zeros(1, 2, 6, 9, device=device)
    for mode in MODES:
        assert torch.equal(warp(img, zero, mode=mode), img)
    flow = zero.clone()
    flow[:, 0] = 2.0  # out[x] = img[x + 2]
    out = warp(img, flow, mode="bilinear", padding="zeros")
    assert torch.equal(out[..., :7], img[..., 2:]) and torch.equal(out[..., 7:], torch.zeros_like(out[..., 7:]))


@pytest.mark.parametrize("shape", [(0, 3, 5, 6), (2, 0, 5, 6), (1, 2, 0, 4)])
def test_empty(device, shape):
    img, flow = _inputs(shape, torch.float32, device)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    out = warp(img, flow)
    assert out.shape == img.shape
    gi, gf = torch.autograd.grad(out.sum(), (img, flow), allow_unused=True)
    assert gi.shape == img.shape and gf.shape == flow.shape and not gf.any()


def test_non_contiguous_inputs(device):
    img, flow = _inputs((2, 3, 13, 11), torch.float32, device, seed=3)
    img_nc = img.transpose(2, 3).contiguous().transpose(2, 3)  # same values, W-major strides
    flow_nc = torch.stack([flow, -flow], 2)[:, :, 0]  # channel stride 2 * H * W
    assert not img_nc.is_contiguous() and not flow_nc.is_contiguous()
    for mode in MODES:
        assert torch.equal(warp(img_nc, flow_nc, mode=mode), warp(img, flow, mode=mode))
    sliced = torch.randn(2, 3, 13, 22, device=device)[..., ::2]  # stride 2 along W
    assert_close(warp(sliced, flow), warp(sliced.contiguous(), flow))


def test_flow_dtype_promotion(device):
    img, flow = _inputs((1, 2, 7, 8), torch.float32, device)
    out = warp(img, flow.double())
    assert out.dtype == torch.float32
    assert_close(out, ref.warp_reference(img.cpu().double(), flow.cpu().double()), torch.float32)


# ----------------------------------------------------------------------------------------------------
# Backward


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [2.0, 40.0])
def test_backward_matches_reference(device, mode, padding, dtype, scale):
    img, flow = _inputs((2, 3, 15, 18), dtype, device, scale=scale, seed=4)
    cot = torch.randn(img.shape, generator=_gen(5), dtype=torch.float64).to(dtype).to(device)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    gi, gf = torch.autograd.grad(warp(img, flow, mode=mode, padding=padding), (img, flow), cot)
    ri, rf = img.detach().cpu().requires_grad_(True), flow.detach().cpu().requires_grad_(True)
    ei, ef = torch.autograd.grad(ref.warp_reference(ri, rf, mode, padding), (ri, rf), cot.cpu())
    assert gi.dtype == dtype and gf.dtype == dtype
    assert_close(gi, ei)
    # The flow gradient multiplies pixel differences by the cotangent and sums 3 channels: one fp32
    # rounding of a ~10x larger sum (measured worst 2.4e-5 relative to max |grad| ~ 20).
    tol_dtype = torch.float64 if dtype == torch.float64 else torch.float16
    assert_close(gf, ef, tol_dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_backward_matches_grid_sample(device, mode, padding):
    img, flow = _inputs((2, 3, 11, 14), torch.float64, device, scale=8.0, seed=31)
    cot = torch.randn(img.shape, generator=_gen(32), dtype=torch.float64).to(device)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    got = torch.autograd.grad(warp(img, flow, mode=mode, padding=padding), (img, flow), cot)
    # The grid is built from the flow inside the graph, so autograd maps d/dgrid back onto d/dflow.
    want = torch.autograd.grad(_grid_sample(img, flow, mode, padding), (img, flow), cot)
    for a, b in zip(got, want, strict=True):
        assert_close(a, b)


def test_backward_only_image_or_only_flow(device):
    img, flow = _inputs((1, 2, 9, 10), torch.float64, device, seed=6)
    img.requires_grad_(True)
    (gi,) = torch.autograd.grad(warp(img, flow).sum(), img)
    ri = img.detach().cpu().requires_grad_(True)
    (ei,) = torch.autograd.grad(ref.warp_reference(ri, flow.cpu()).sum(), ri)
    assert_close(gi, ei)
    flow.requires_grad_(True)
    (gf,) = torch.autograd.grad(warp(img.detach(), flow, mode="bicubic").sum(), flow)
    rf = flow.detach().cpu().requires_grad_(True)
    (ef,) = torch.autograd.grad(ref.warp_reference(img.detach().cpu(), rf, "bicubic").sum(), rf)
    assert_close(gf, ef)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_gradcheck(device, mode, padding):
    img, flow = _inputs((1, 2, 5, 6), torch.float64, device, scale=2.5, seed=7)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, f: warp(i, f, mode=mode, padding=padding), (img, flow))
    assert torch.autograd.gradcheck(
        lambda i, f: warp(i, f, mode=mode, padding=padding, deterministic=True), (img, flow), atol=1e-6
    )


@pytest.mark.parametrize("mode", MODES)
def test_deterministic_image_gradient(device, mode):
    img, flow = _inputs((2, 3, 40, 52), torch.float32, device, scale=4.0, seed=8)
    # Strong contraction: many output pixels scatter into the same input pixels.
    flow = flow * 0.2 - torch.linspace(0, 20, 52, device=device).view(1, 1, 1, 52)
    cot = torch.randn(img.shape, generator=_gen(9)).to(device)
    img.requires_grad_(True)

    def grad(det):
        return torch.autograd.grad(warp(img, flow, mode=mode, deterministic=det), img, cot)[0]

    first = grad(True)
    for _ in range(3):
        assert torch.equal(grad(True), first)
    assert_close(first, grad(False))


def test_double_backward_raises():
    img, flow = _inputs((1, 1, 4, 5), torch.float64, "cpu")
    img.requires_grad_(True)
    flow.requires_grad_(True)
    (gf,) = torch.autograd.grad(warp(img, flow).sum(), flow, create_graph=True)
    with pytest.raises(RuntimeError):
        gf.sum().backward()


# ----------------------------------------------------------------------------------------------------
# torch.library / torch.compile


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_opcheck_warp(device, mode, padding):
    img, flow = _inputs((2, 2, 6, 7), torch.float64, device, seed=10)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    torch.library.opcheck(torch.ops.pywlc.warp.default, (img, flow, mode, padding, False))


@pytest.mark.parametrize("interp", ["bilinear", "hevc8"])
def test_opcheck_warp_blocks(device, interp):
    img, _ = _inputs((1, 2, 8, 12), torch.float64, device)
    mvs = torch.randint(-9, 10, (1, 2, 2, 3), generator=_gen(11), dtype=torch.int32).to(device)
    img.requires_grad_(True)
    torch.library.opcheck(torch.ops.pywlc.warp_blocks.default, (img, mvs, 4, interp, "zeros", False))


def test_torch_compile_fullgraph():
    img, flow = _inputs((1, 3, 12, 15), torch.float32, "cpu", seed=12)
    mvs = torch.randint(-8, 9, (1, 2, 4, 5), generator=_gen(13), dtype=torch.int32)

    def fn(i, f):
        a = warp(i * 2, f, mode="bicubic", padding="zeros")
        return a + warp_blocks(i, mvs, 3, interp="hevc8")

    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    out = compiled(img, flow)
    expected = fn(img, flow)
    assert_close(out, expected)
    cot = torch.randn(out.shape, generator=_gen(14))
    got = torch.autograd.grad(out, (img, flow), cot)
    want = torch.autograd.grad(expected, (img, flow), cot)
    for a, b in zip(got, want, strict=True):
        assert_close(a, b)


# ----------------------------------------------------------------------------------------------------
# Block motion vectors


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("mv_dtype", [torch.int32, torch.float32])
def test_warp_blocks_bilinear_equals_dense_warp(device, padding, mv_dtype):
    img, _ = _inputs((2, 3, 16, 24), torch.float32, device, seed=15)
    mvs = torch.randint(-40, 41, (2, 2, 4, 6), generator=_gen(16), dtype=torch.int32)
    if mv_dtype.is_floating_point:
        mvs = mvs.float() + torch.rand(mvs.shape, generator=_gen(17))  # sub-quarter-pel positions
    mvs = mvs.to(device)
    dense = (mvs.float() / 4).repeat_interleave(4, 2).repeat_interleave(4, 3)
    out = warp_blocks(img, mvs, 4, padding=padding)
    assert_close(out, warp(img, dense, padding=padding))
    img.requires_grad_(True)
    cot = torch.randn(img.shape, generator=_gen(18)).to(device)
    (gb,) = torch.autograd.grad(warp_blocks(img, mvs, 4, padding=padding), img, cot)
    (gd,) = torch.autograd.grad(warp(img, dense, padding=padding), img, cot)
    assert_close(gb, gd)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_hevc8_integer_vectors_are_exact_translation(device, padding, dtype):
    n, c, h, w, b = 2, 3, 12, 20, 4
    img = torch.randn(n, c, h, w, generator=_gen(19)).to(dtype).to(device)
    mvs = 4 * torch.randint(-6, 7, (n, 2, h // b, w // b), generator=_gen(20), dtype=torch.int32)
    out = warp_blocks(img, mvs.to(device), b, interp="hevc8", padding=padding)
    # The expected translation by indexing, block by block.
    expected = torch.zeros_like(img)
    ys = torch.arange(h).view(h, 1)
    xs = torch.arange(w).view(1, w)
    for k in range(n):
        dx = mvs[k, 0].repeat_interleave(b, 0).repeat_interleave(b, 1) // 4
        dy = mvs[k, 1].repeat_interleave(b, 0).repeat_interleave(b, 1) // 4
        sx, sy = xs + dx, ys + dy
        inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
        val = img[k][:, sy.clamp(0, h - 1), sx.clamp(0, w - 1)]
        expected[k] = val if padding == "border" else val * inside.to(device)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hevc8_matches_reference(device, padding, dtype):
    img = torch.randn(2, 2, 16, 24, generator=_gen(21), dtype=torch.float64).to(dtype).to(device)
    mvs = torch.randint(-30, 31, (2, 2, 2, 3), generator=_gen(22), dtype=torch.int32).to(device)
    out = warp_blocks(img, mvs, 8, interp="hevc8", padding=padding)
    assert_close(out, ref.warp_blocks_reference(img.cpu(), mvs.cpu(), 8, "hevc8", padding))
    img.requires_grad_(True)
    cot = torch.randn(img.shape, generator=_gen(23), dtype=torch.float64).to(dtype).to(device)
    (gi,) = torch.autograd.grad(warp_blocks(img, mvs, 8, interp="hevc8", padding=padding), img, cot)
    ri = img.detach().cpu().requires_grad_(True)
    (ei,) = torch.autograd.grad(ref.warp_blocks_reference(ri, mvs.cpu(), 8, "hevc8", padding), ri, cot.cpu())
    assert_close(gi, ei)


@pytest.mark.parametrize("padding", PADDINGS)
def test_hevc8_vectors_far_outside(device, padding):
    # Blocks straddling the far-outside clamp of the filter: with 8-pixel blocks, row 0 of a block can sit
    # beyond it (coordinate -10.25, 18.25 + 7) while row 7 still reaches into the frame.
    img = torch.randn(1, 2, 16, 24, generator=_gen(33), dtype=torch.float64).to(device)
    mvs = torch.randint(-4 * 30, 4 * 30, (1, 2, 2, 3), generator=_gen(34), dtype=torch.int32)
    mvs[0, 1, 0, 0], mvs[0, 1, 1, 1], mvs[0, 0, 1, 2] = -41, 41, -4 * 19 - 3
    out = warp_blocks(img, mvs.to(device), 8, interp="hevc8", padding=padding)
    assert_close(out, ref.warp_blocks_reference(img.cpu(), mvs, 8, "hevc8", padding))


def test_hevc8_half_pel_taps():
    # A single bright pixel moved by half a pel horizontally spreads the half-pel taps / 64.
    img = torch.zeros(1, 1, 8, 16, dtype=torch.float64)
    img[0, 0, 4, 8] = 64.0
    mvs = torch.tensor([2, 0], dtype=torch.int32).view(1, 2, 1, 1).expand(1, 2, 1, 1)
    out = warp_blocks(img, mvs.repeat(1, 1, 8, 16), 1, interp="hevc8")
    # out[x] = sum_k tap[k] * img[x + k - 3] / 64, so the pixel at x = 8 lands on x = 11 - k: taps reversed.
    row = out[0, 0, 4, 4:12].tolist()
    assert row == [-1.0, 4.0, -11.0, 40.0, 40.0, -11.0, 4.0, -1.0][::-1]


def test_warp_blocks_gradcheck():
    img = torch.randn(1, 2, 6, 9, generator=_gen(24), dtype=torch.float64, requires_grad=True)
    mvs = torch.randint(-7, 8, (1, 2, 2, 3), generator=_gen(25), dtype=torch.int32)
    for interp in ("bilinear", "hevc8"):
        assert torch.autograd.gradcheck(
            lambda i, interp=interp: warp_blocks(i, mvs, 3, interp=interp, padding="zeros"), (img,)
        )


# ----------------------------------------------------------------------------------------------------
# Errors


def test_bad_inputs():
    img = torch.randn(1, 3, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    with pytest.raises(TypeError, match="img"):
        warp(img.numpy(), flow)
    with pytest.raises(TypeError, match="img"):
        warp(img.int(), flow)
    with pytest.raises(ValueError, match="img"):
        warp(img[0], flow)
    with pytest.raises(TypeError, match="flow"):
        warp(img, flow.int())
    with pytest.raises(ValueError, match="flow"):
        warp(img, flow[:, :1])
    with pytest.raises(ValueError, match="flow"):
        warp(img, torch.zeros(1, 2, 8, 7))
    with pytest.raises(ValueError, match="mode"):
        warp(img, flow, mode="nearest")
    with pytest.raises(ValueError, match="padding"):
        warp(img, flow, padding="reflection")
    with pytest.raises(TypeError, match="deterministic"):
        warp(img, flow, deterministic=1)
    for bad in (float("nan"), float("inf")):
        f = flow.clone()
        f[0, 1, 3, 4] = bad
        with pytest.raises(ValueError, match="finite"):
            warp(img, f)
        with pytest.raises(ValueError, match="finite"):
            warp(img.requires_grad_(True), f)
        img = img.detach()
    mvs = torch.zeros(1, 2, 2, 2, dtype=torch.int32)
    with pytest.raises(ValueError, match="block=3 must divide"):
        warp_blocks(img, mvs, 3)
    with pytest.raises(ValueError, match="block"):
        warp_blocks(img, mvs, 0)
    with pytest.raises(TypeError, match="block"):
        warp_blocks(img, mvs, 4.0)
    with pytest.raises(ValueError, match="mvs"):
        warp_blocks(img, mvs, 2)
    with pytest.raises(ValueError, match="interp"):
        warp_blocks(img, mvs, 4, interp="bicubic")
    with pytest.raises(ValueError, match="integer"):
        warp_blocks(img, mvs.float() + 0.5, 4, interp="hevc8")
    with pytest.raises(TypeError, match="mvs"):
        warp_blocks(img, mvs.bool(), 4)
    with pytest.raises(ValueError, match="mvs must be finite"):
        warp_blocks(img, torch.full((1, 2, 2, 2), float("nan")), 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_devices_differ():
    with pytest.raises(ValueError, match="flow is on"):
        warp(torch.randn(1, 1, 4, 4, device="cuda"), torch.zeros(1, 2, 4, 4))


def test_compiled_kernel_rejects_bad_invariants():
    c = pywlc._extension.load()
    if c is None:
        pytest.skip("no compiled core")
    with pytest.raises(ValueError, match="block"):
        c.warp_forward_cpu(0, 0, 0, [1, 1, 6, 6], 1, [36, 36, 6, 1], 1, [8, 4, 2, 1], 4, 0.25, 1)


def test_modules():
    img, flow = _inputs((1, 2, 8, 8), torch.float32, "cpu")
    assert torch.equal(Warp("bicubic", "zeros")(img, flow), warp(img, flow, mode="bicubic", padding="zeros"))
    mvs = torch.ones(1, 2, 2, 2, dtype=torch.int32)
    assert torch.equal(WarpBlocks(4, "hevc8")(img, mvs), warp_blocks(img, mvs, 4, interp="hevc8"))
    assert "bicubic" in repr(Warp("bicubic"))


# ----------------------------------------------------------------------------------------------------
# CPU == CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_cpu_equals_cuda(mode, padding):
    if not pywlc.has_cuda_ops():
        pytest.skip("pywlc was built without CUDA kernels")
    img, flow = _inputs((2, 3, 97, 131), torch.float32, "cpu", scale=8.0, seed=26)
    cot = torch.randn(img.shape, generator=_gen(27))
    outs = []
    for dev in ("cpu", "cuda"):
        i = img.to(dev).requires_grad_(True)
        f = flow.to(dev).requires_grad_(True)
        out = warp(i, f, mode=mode, padding=padding)
        gi, gf = torch.autograd.grad(out, (i, f), cot.to(dev))
        (gd,) = torch.autograd.grad(warp(i, f, mode=mode, padding=padding, deterministic=True), i, cot.to(dev))
        outs.append((out, gi, gf, gd))
    for a, b in zip(*outs, strict=True):
        assert_close(b, a, torch.float16 if b is outs[1][2] else torch.float32)
    mvs = torch.randint(-30, 31, (2, 2, 97, 131), generator=_gen(28), dtype=torch.int32)
    for interp in ("bilinear", "hevc8"):
        cpu = warp_blocks(img, mvs, 1, interp=interp, padding=padding)
        assert_close(warp_blocks(img.cuda(), mvs.cuda(), 1, interp=interp, padding=padding), cpu)


def test_reference_fallback_without_kernels():
    img, flow = _inputs((1, 2, 7, 9), torch.float64, "cpu", seed=29)
    img.requires_grad_(True)
    flow.requires_grad_(True)
    cot = torch.randn(img.shape, generator=_gen(30), dtype=torch.float64)
    with_kernels = [warp(img, flow, mode="bicubic"), warp_blocks(img, flow.detach().round().int(), 1)]
    grads = torch.autograd.grad(with_kernels[0], (img, flow), cot)
    with use_kernels(False):
        fallback = [warp(img, flow, mode="bicubic"), warp_blocks(img, flow.detach().round().int(), 1)]
        fallback_grads = torch.autograd.grad(fallback[0], (img, flow), cot)
    for a, b in zip(fallback, with_kernels, strict=True):
        assert_close(a, b)
    for a, b in zip(fallback_grads, grads, strict=True):
        assert_close(a, b)
    assert TOL[torch.float64] == 1e-10
