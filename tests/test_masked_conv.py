"""pywlc.ops.masked_conv: masked_conv2d vs the dense formula, masked gradients, compaction, custom op, module."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import TOL, assert_close

import pywlc.ops._masked_conv_pixels as masked_conv_pixels
import pywlc.ops._masked_conv_tiles as masked_conv_tiles
from pywlc._extension import use_kernels
from pywlc.ops._reference_masked_conv import masked_conv2d_reference
from pywlc.ops.masked_conv import ActiveSet, MaskedConv2d, active_tiles, masked_conv2d
from pywlc.ops.wavelet_mask import wavelet_mask

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
TILE = 4  # small tiles so the test shapes hold several, border tiles partial


@pytest.fixture(params=["pixels", "tiles", "tiles-gather"])
def algo(request):
    """Both algorithms; "tiles-gather" disables the tile path's dense shortcut (taken when the tiles cover most
    of a small test image) so the gather / batch conv / scatter kernels themselves run on every mask."""
    if request.param == "tiles-gather":
        with use_kernels(False, "masked_conv2d_dense"):
            yield "tiles"
    else:
        yield request.param


def _mask(kind: str, n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:  # [N, 1, h, w] bool
    g = torch.Generator().manual_seed(seed)
    if kind == "random":
        return torch.rand(n, 1, h, w, generator=g) < torch.rand(n, 1, 1, 1, generator=g)  # density per sample
    if kind == "zeros":
        return torch.zeros(n, 1, h, w, dtype=torch.bool)
    if kind == "ones":
        return torch.ones(n, 1, h, w, dtype=torch.bool)
    if kind == "single":  # one pixel per sample, a different one each (corners included)
        m = torch.zeros(n, 1, h, w, dtype=torch.bool)
        for i in range(n):
            m[i, 0, (i * 5) % h, (i * 3 - 1) % w] = True
        return m
    if kind == "blocks2x2":
        coarse = torch.rand(n, 1, (h + 1) // 2, (w + 1) // 2, generator=g) < 0.3
        return coarse.repeat_interleave(2, 2).repeat_interleave(2, 3)[..., :h, :w].contiguous()
    if kind == "wavelet":  # WaveletVFI's mask: detail bands one level down, dilated 2 x 2 blocks, per-sample ratio
        hc, wc = (h + 1) // 2, (w + 1) // 2
        hf = torch.randn(n, 3, 2, hc, wc, generator=g) * torch.rand(1, 1, 1, hc, wc, generator=g) ** 4
        ll = torch.randn(n, 2, hc, wc, generator=g)
        return wavelet_mask(hf, ll, torch.rand(n, generator=g) * 0.3, size=(h, w))
    raise ValueError(kind)


def _data(n, cin, cout, h, w, k, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, h, w, generator=g, dtype=torch.float64)
    wt = torch.randn(cout, cin, *k, generator=g, dtype=torch.float64) / (cin * k[0] * k[1]) ** 0.5
    b = torch.randn(cout, generator=g, dtype=torch.float64)
    return x.to(dtype).to(device), wt.to(dtype).to(device), b.to(dtype).to(device)


def _expected(x, w, b, mask, stride, padding, fill):
    """The dense formula in float64 on the CPU (half inputs: their exact values, widened)."""
    bb = None if b is None else b.double().cpu()
    return masked_conv2d_reference(x.double().cpu(), w.double().cpu(), bb, mask.cpu(), stride, padding, fill)


# ----------------------------------------------------------------------------------------------------
# Forward == dense formula


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "zeros", "ones", "single", "blocks2x2", "wavelet"])
@pytest.mark.parametrize("k", [(3, 3), (1, 1)])
def test_forward_matches_dense_formula(device, algo, dtype, kind, k):
    n, cin, cout, h, w = 3, 5, 7, 13, 10  # odd sizes (not multiples of the tile), a different mask per sample
    x, wt, b = _data(n, cin, cout, h, w, k, dtype, device)
    mask = _mask(kind, n, h, w).to(device)
    y = masked_conv2d(x, wt, b, mask, fill=0.25, algo=algo, tile=TILE)
    assert y.dtype == dtype and y.shape == (n, cout, h, w) and y.device == x.device and y.is_contiguous()
    assert_close(y, _expected(x, wt, b, mask, 1, (k[0] // 2, k[1] // 2), 0.25), dtype)
    assert torch.all(y[~mask.expand_as(y)] == 0.25)  # inactive outputs are exactly fill


@pytest.mark.parametrize("stride,padding,k", [(2, 1, (3, 3)), (2, 0, (1, 1)), (1, (0, 2), (3, 5)), (2, 2, (5, 5))])
@pytest.mark.parametrize("tile", [1, 3, 8])
def test_forward_strides_paddings_kernels(device, algo, stride, padding, k, tile):
    x, wt, b = _data(2, 4, 6, 11, 14, k, torch.float64, device)
    ho = (11 + 2 * (padding if isinstance(padding, int) else padding[0]) - k[0]) // stride + 1
    wo = (14 + 2 * (padding if isinstance(padding, int) else padding[1]) - k[1]) // stride + 1
    mask = _mask("random", 2, ho, wo, seed=3).to(device)
    y = masked_conv2d(x, wt, b, mask, stride=stride, padding=padding, algo=algo, tile=tile)
    assert_close(y, _expected(x, wt, b, mask, stride, padding, 0.0))


def test_forward_without_bias_and_valid_padding(device, algo):
    x, wt, _ = _data(2, 3, 4, 8, 9, (3, 3), torch.float32, device)
    mask = _mask("random", 2, 6, 7).to(device)
    y = masked_conv2d(x, wt, None, mask, padding="valid", fill=-1.0, algo=algo, tile=TILE)
    assert_close(y, _expected(x, wt, None, mask, 1, 0, -1.0))


def test_reads_real_neighbours_not_zeroed_inactive_inputs(algo):
    """Unlike point-cloud sparse conv, an active output sums its inactive neighbours too."""
    x = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    mask = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    mask[0, 0, 1, 1] = True
    y = masked_conv2d(x, torch.ones(1, 1, 3, 3, dtype=torch.float64), None, mask, algo=algo, tile=2)
    assert y[0, 0, 1, 1] == 9 and y.sum() == 9


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "sliced"])
def test_non_contiguous_inputs(device, algo, layout):
    x, wt, b = _data(2, 6, 5, 12, 12, (3, 3), torch.float32, device)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "transposed":
        x = x.transpose(2, 3).contiguous().transpose(2, 3)
    else:
        x = torch.stack([x, 2 * x], 2)[:, :, 0]  # every other channel of a bigger tensor
    wt = wt.transpose(0, 1).contiguous().transpose(0, 1)
    assert not x.is_contiguous() and not wt.is_contiguous()
    mask = _mask("random", 2, 12, 12).to(device)
    mask_nc = torch.stack([mask, ~mask], -1)[..., 0]
    assert_close(masked_conv2d(x, wt, b, mask_nc, algo=algo, tile=TILE), _expected(x, wt, b, mask, 1, 1, 0.0))


def test_batch_zero_and_empty_channels(device, algo):
    x, wt, b = _data(0, 3, 4, 5, 5, (3, 3), torch.float32, device)
    y = masked_conv2d(x, wt, b, torch.ones(0, 1, 5, 5, dtype=torch.bool, device=device), algo=algo)
    assert y.shape == (0, 4, 5, 5)
    x0 = torch.randn(2, 0, 5, 5, device=device)
    w0, b0 = torch.randn(4, 0, 3, 3, device=device), torch.randn(4, device=device)
    mask = _mask("random", 2, 5, 5).to(device)
    # No input channels: the convolution is the bias (F.conv2d itself mis-shapes this case, so no oracle call).
    want = torch.where(mask, b0.view(1, 4, 1, 1), 0.0)
    assert_close(masked_conv2d(x0, w0, b0, mask, algo=algo), want)


def test_large_input_is_chunked(monkeypatch, algo):
    """More active pixels / tiles than one chunk holds: the chunk loop must cover every one once."""
    monkeypatch.setitem(masked_conv_pixels._PATCH_BUDGET, "cpu", 4 * 9 * 5)  # 4 pixels per chunk
    monkeypatch.setitem(masked_conv_tiles._TILE_BUDGET, "cpu", 2 * 5 * 4 * 4)  # 2 tiles of 2 x 2 per chunk
    x, wt, b = _data(2, 5, 3, 9, 7, (3, 3), torch.float64, "cpu")
    mask = _mask("random", 2, 9, 7, seed=5)
    xg, wg, bg = (t.clone().requires_grad_() for t in (x, wt, b))
    y = masked_conv2d(xg, wg, bg, mask, algo=algo, tile=2)
    assert_close(y, _expected(x, wt, b, mask, 1, 1, 0.0))
    g = torch.randn_like(y)
    got = torch.autograd.grad(y, (xg, wg, bg), g)
    xr, wr, br = (t.clone().requires_grad_() for t in (x, wt, b))
    want = torch.autograd.grad(masked_conv2d_reference(xr, wr, br, mask, 1, 1), (xr, wr, br), g)
    for a, e in zip(got, want, strict=True):
        assert_close(a, e)


# ----------------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "zeros", "ones", "single", "wavelet"])
@pytest.mark.parametrize("stride", [1, 2])
def test_backward_matches_dense_formula(device, algo, dtype, kind, stride):
    n, cin, cout, h, w = 2, 4, 5, 9, 8
    x, wt, b = _data(n, cin, cout, h, w, (3, 3), dtype, device, seed=1)
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    mask = _mask(kind, n, ho, wo, seed=2).to(device)
    g = torch.randn(n, cout, ho, wo, dtype=torch.float64).to(dtype).to(device)  # one shared cotangent
    xs, ws, bs = (t.clone().requires_grad_() for t in (x, wt, b))
    y = masked_conv2d(xs, ws, bs, mask, stride=stride, fill=2.0, algo=algo, tile=3)
    got = torch.autograd.grad(y, (xs, ws, bs), g)
    xr, wr, br = (t.double().cpu().requires_grad_() for t in (x, wt, b))
    ref = masked_conv2d_reference(xr, wr, br, mask.cpu(), stride, 1, 2.0)
    want = torch.autograd.grad(ref, (xr, wr, br), g.double().cpu())
    for a, e, t in zip(got, want, (x, wt, b), strict=True):
        assert a.dtype == dtype and a.shape == t.shape and a.device == t.device
        # Weight / bias gradients sum over up to N*Ho*Wo products: relative to their max, half rounding of the
        # inputs and of the cotangent stays within the table (measured worst: bf16 6e-3, fp16 9e-4).
        assert_close(a, e, dtype)


def test_gradcheck_float64(algo):
    x, wt, b = (t.requires_grad_() for t in _data(2, 2, 3, 5, 6, (3, 3), torch.float64, "cpu"))
    for stride, mask in ((1, _mask("random", 2, 5, 6)), (2, _mask("random", 2, 3, 3, seed=4))):
        assert torch.autograd.gradcheck(
            lambda x, w, b, m=mask, s=stride: masked_conv2d(x, w, b, m, stride=s, algo=algo, tile=2), (x, wt, b)
        )


def test_gradient_only_from_active_outputs(algo):
    x, wt, b = (t.requires_grad_() for t in _data(1, 2, 2, 6, 6, (3, 3), torch.float64, "cpu"))
    masked_conv2d(x, wt, b, torch.zeros(1, 1, 6, 6, dtype=torch.bool), algo=algo).sum().backward()
    assert x.grad.abs().max() == 0 and wt.grad.abs().max() == 0 and b.grad.abs().max() == 0
    # One active pixel in a tile: the tile's other outputs must not leak gradient (nor the halo's).
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    mask[0, 0, 2, 3] = True
    xs, ws, bs = (t.detach().clone().requires_grad_() for t in (x, wt, b))
    masked_conv2d(xs, ws, bs, mask, algo=algo, tile=4).sum().backward()
    xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, wt, b))
    masked_conv2d_reference(xr, wr, br, mask, 1, 1).sum().backward()
    for a, e in ((xs, xr), (ws, wr), (bs, br)):
        assert_close(a.grad, e.grad)
    assert (xs.grad != 0).sum() == 2 * 9


def test_partial_requires_grad_and_no_double_backward(algo):
    x, wt, b = _data(1, 2, 3, 5, 5, (3, 3), torch.float64, "cpu")
    mask = _mask("ones", 1, 5, 5)
    ws = wt.clone().requires_grad_()
    y = masked_conv2d(x, ws, b, mask, algo=algo, tile=2)
    (gw,) = torch.autograd.grad(y.sum(), ws, create_graph=True)
    assert_close(gw, torch.autograd.grad(F.conv2d(x, ws, b, padding=1).sum(), ws)[0])
    with pytest.raises(RuntimeError):
        gw.sum().backward()
    xs = x.clone().requires_grad_()  # input only: the weight gradient is skipped
    (gx,) = torch.autograd.grad(masked_conv2d(xs, wt, b, mask, algo=algo, tile=2).sum(), xs)
    xr = x.clone().requires_grad_()
    assert_close(gx, torch.autograd.grad(F.conv2d(xr, wt, b, padding=1).sum(), xr)[0])


# ----------------------------------------------------------------------------------------------------
# Compaction


def test_active_tiles_and_reuse(device):
    mask = _mask("random", 3, 11, 9, seed=7).to(device)
    act = active_tiles(mask)
    assert isinstance(act, ActiveSet) and act.shape == (3, 11, 9) and act.tile == 1
    assert torch.equal(act.pixels.cpu(), torch.nonzero(mask.cpu().reshape(-1)).flatten())
    assert torch.equal(act.pixel_counts.cpu(), mask.cpu().reshape(3, -1).sum(1))
    assert act.density == pytest.approx(mask.float().mean().item())
    tiled = active_tiles(mask, 4)
    padded = F.pad(mask.cpu().float(), (0, 3, 0, 1))
    tmask = F.max_pool2d(padded, 4) > 0
    assert torch.equal(tiled.tiles.cpu(), torch.nonzero(tmask.reshape(-1)).flatten())
    assert torch.equal(tiled.tile_counts.cpu(), tmask.reshape(3, -1).sum(1))
    assert torch.equal(tiled.pixels, act.pixels)
    x, wt, b = _data(3, 3, 4, 11, 9, (3, 3), torch.float32, device)
    for algo in ("auto", "pixels", "tiles"):
        want = masked_conv2d(x, wt, b, mask, algo=algo, tile=4)
        # The ActiveSet's tile is used when tile=None; a pixel-only set has its tiles compacted on demand.
        assert torch.equal(masked_conv2d(x, wt, b, mask, active=tiled, algo=algo), want)
        assert torch.equal(masked_conv2d(x, wt, b, mask, active=act, algo=algo, tile=4), want)
    with pytest.raises(ValueError, match="active was compacted with tile=4 but tile=8"):
        masked_conv2d(x, wt, b, mask, active=tiled, algo="tiles", tile=8)
    assert active_tiles(torch.zeros(0, 1, 4, 4, dtype=torch.bool)).num_active == 0


def test_auto_rule():
    """auto = tiles for clustered masks (tiles mostly filled) and near-full masks, pixels for scattered ones."""
    from pywlc.ops._masked_conv_tiles import TileGeometry
    from pywlc.ops.masked_conv import _choose

    g = TileGeometry(1, 16, 64, 64, 3, 3, (1, 1), (1, 1), 8, 64, 64)  # 8 x 8 tiles of 8 x 8
    assert _choose(num_pixels=64 * 10, num_tiles=10, g=g, cout=64) == "tiles"  # full tiles
    assert _choose(num_pixels=100, num_tiles=100, g=g, cout=64) == "pixels"  # one pixel per tile
    # The bound is (1 + 64 / Cout) * K: wide layers need fuller tiles.
    assert _choose(640, 20, g, 64) == "tiles" and _choose(640, 21, g, 64) == "pixels"
    assert _choose(640, 11, g, 640) == "tiles" and _choose(640, 12, g, 640) == "pixels"
    # Tiles covering the frame run one dense conv: its area is the frame's.
    assert _choose(64 * 64, 64, g, 1024) == "tiles" and _choose(64 * 32, 64, g, 1024) == "pixels"
    assert _choose(1000, 1, g.__class__(1, 0, 64, 64, 3, 3, (1, 1), (1, 1), 8, 64, 64), 8) == "pixels"
    assert _choose(0, 0, g, 16) == "pixels"


# ----------------------------------------------------------------------------------------------------
# Module


def test_module_is_a_drop_in_for_conv2d():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 6, 3, padding=1)
    torch.manual_seed(0)
    mconv = MaskedConv2d(4, 6, 3)
    assert torch.equal(conv.weight, mconv.weight) and torch.equal(conv.bias, mconv.bias)
    mconv.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 7, 8)
    mask = _mask("random", 2, 7, 8)
    assert_close(mconv(x, mask), torch.where(mask, conv(x), 0.0))
    assert "fill=0.0" in repr(mconv) and "algo='auto'" in repr(mconv)
    for algo in ("pixels", "tiles"):
        tiled = MaskedConv2d(4, 6, 3, algo=algo, tile=2)
        tiled.load_state_dict(conv.state_dict())
        assert_close(tiled(x, mask), torch.where(mask, conv(x), 0.0))
    strided = MaskedConv2d(4, 6, 1, stride=2, bias=False, fill=1.0)
    m2 = _mask("random", 2, 4, 4)
    assert_close(strided(x, m2), torch.where(m2, F.conv2d(x, strided.weight, None, 2), 1.0))


# ----------------------------------------------------------------------------------------------------
# torch.library / torch.compile


@pytest.mark.parametrize("with_active", [False, True])
@pytest.mark.parametrize("algo", ["auto", "pixels", "tiles"])
def test_opcheck(device, with_active, algo):
    x, wt, b = _data(2, 3, 4, 6, 5, (3, 3), torch.float32, device)
    mask = _mask("random", 2, 6, 5).to(device)
    act = active_tiles(mask, 2) if with_active else None
    pixels, tiles = (act.pixels, act.tiles) if with_active else (None, None)
    op, bwd = torch.ops.pywlc.masked_conv2d.default, torch.ops.pywlc.masked_conv2d_backward.default
    torch.library.opcheck(op, (x, wt, b, mask, [1, 1], [1, 1], 0.5, pixels, tiles, algo, 2))
    torch.library.opcheck(op, (x, wt, None, mask[..., ::2, ::2], [2, 2], [1, 1], 0.0, None, None, algo, 2))
    g = torch.randn(2, 4, 6, 5, device=device)
    torch.library.opcheck(bwd, (g, x, wt, mask, pixels, tiles, [1, 1], [1, 1], algo, 2))


@pytest.mark.parametrize("algo", ["auto", "pixels", "tiles"])
def test_torch_compile_fullgraph(algo):
    x, wt, b = (t.requires_grad_() for t in _data(2, 3, 4, 6, 5, (3, 3), torch.float32, "cpu"))
    mask = _mask("random", 2, 6, 5)

    def fn(x, w, b, m):
        return masked_conv2d(x, w, b, m, fill=0.5, algo=algo, tile=2).square().sum()

    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    out = compiled(x, wt, b, mask)
    got = torch.autograd.grad(out, (x, wt, b))
    eager = fn(x, wt, b, mask)
    want = torch.autograd.grad(eager, (x, wt, b))
    assert_close(out, eager)
    for a, e in zip(got, want, strict=True):
        assert_close(a, e)


# ----------------------------------------------------------------------------------------------------
# Errors


def test_bad_inputs_raise_clear_errors():
    x, wt, b = _data(2, 3, 4, 6, 6, (3, 3), torch.float32, "cpu")
    mask = _mask("random", 2, 6, 6)
    cases = [
        (TypeError, "x must be a torch.Tensor", lambda: masked_conv2d(x.numpy(), wt, b, mask)),
        (TypeError, "x must be float32", lambda: masked_conv2d(x.int(), wt, b, mask)),
        (ValueError, r"x must be Tensor\[N, Cin, H, W\]", lambda: masked_conv2d(x[0], wt, b, mask)),
        (ValueError, r"weight must be Tensor\[Cout", lambda: masked_conv2d(x, wt[..., 0], b, mask)),
        (TypeError, "weight is torch.float64", lambda: masked_conv2d(x, wt.double(), b, mask)),
        (ValueError, "groups=1", lambda: masked_conv2d(x, wt[:, :2], b, mask)),
        (ValueError, r"bias must be Tensor\[4\]", lambda: masked_conv2d(x, wt, b[:2], mask)),
        (TypeError, "bias is torch.float16", lambda: masked_conv2d(x, wt, b.half(), mask)),
        (TypeError, "mask must be a bool tensor", lambda: masked_conv2d(x, wt, b, mask.float())),
        (ValueError, "mask must have the output's shape", lambda: masked_conv2d(x, wt, b, mask[..., :5])),
        (ValueError, "mask must be Tensor", lambda: masked_conv2d(x, wt, b, mask.expand(2, 2, 6, 6))),
        (ValueError, "unsupported kernel size", lambda: masked_conv2d(x, torch.randn(4, 3, 2, 2), b, mask)),
        (ValueError, "unsupported kernel size", lambda: masked_conv2d(x, torch.randn(4, 3, 9, 9), b, mask, padding=1)),
        (ValueError, "stride must be >= 1", lambda: masked_conv2d(x, wt, b, mask, stride=0)),
        (TypeError, "stride must be an int", lambda: masked_conv2d(x, wt, b, mask, stride=1.0)),
        (ValueError, "padding='same' needs stride 1", lambda: masked_conv2d(x, wt, b, mask, stride=2, padding="same")),
        (ValueError, "padding must be", lambda: masked_conv2d(x, wt, b, mask, padding="full")),
        (TypeError, "fill must be a float", lambda: masked_conv2d(x, wt, b, mask, fill=None)),
        (TypeError, "active must be an ActiveSet", lambda: masked_conv2d(x, wt, b, mask, active=mask)),
        (ValueError, "active describes", lambda: masked_conv2d(x, wt, b, mask, active=active_tiles(mask[:1]))),
        (ValueError, "tile must be >= 1", lambda: active_tiles(mask, 0)),
        (TypeError, "tile must be an int", lambda: active_tiles(mask, 2.0)),
        (TypeError, "mask must be a torch.Tensor", lambda: active_tiles(mask.numpy())),
        (ValueError, "unsupported kernel size", lambda: MaskedConv2d(3, 4, 2)),
        (ValueError, "algo must be one of", lambda: masked_conv2d(x, wt, b, mask, algo="tile")),
        (ValueError, "algo must be one of", lambda: masked_conv2d(x, wt, b, mask, algo=None)),
        (ValueError, "tile must be >= 1", lambda: masked_conv2d(x, wt, b, mask, algo="tiles", tile=0)),
        (TypeError, "tile must be an int", lambda: masked_conv2d(x, wt, b, mask, tile=4.0)),
        (TypeError, "tile must be an int", lambda: masked_conv2d(x, wt, b, mask, tile=True)),
        (ValueError, "algo must be one of", lambda: MaskedConv2d(3, 4, 3, algo="dense")),
        (ValueError, "tile must be >= 1", lambda: MaskedConv2d(3, 4, 3, tile=-1)),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc, match=msg):
            fn()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_device_mismatch_raises():
    x, wt, b = _data(1, 2, 2, 4, 4, (3, 3), torch.float32, "cuda")
    with pytest.raises(ValueError, match="mask is on"):
        masked_conv2d(x, wt, b, torch.ones(1, 1, 4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="weight is"):
        masked_conv2d(x, wt.cpu(), b, torch.ones(1, 1, 4, 4, dtype=torch.bool, device="cuda"))


def test_cpu_half_is_one_rounding_of_fp32(algo):
    """CPU fp16/bf16 are computed in float32 and rounded once (documented fallback: no fast CPU half GEMM)."""
    for dtype in (torch.float16, torch.bfloat16):
        x, wt, b = _data(2, 3, 4, 7, 6, (3, 3), dtype, "cpu")
        mask = _mask("random", 2, 7, 6)
        want = masked_conv2d(x.float(), wt.float(), b.float(), mask, algo=algo, tile=2).to(dtype)
        assert torch.equal(masked_conv2d(x, wt, b, mask, algo=algo, tile=2), want)
    assert TOL[torch.float16] < TOL[torch.bfloat16]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["blocks2x2", "wavelet", "random"])
def test_cuda_tiles_vs_pixels_vs_dense(dtype, kind):
    """On the GPU both algorithms (cuDNN batch conv vs cuBLAS GEMM) match the dense formula and each other."""
    x, wt, b = _data(2, 16, 24, 40, 36, (3, 3), dtype, "cuda")
    mask = _mask(kind, 2, 40, 36).cuda()
    want = _expected(x, wt, b, mask, 1, 1, 0.5)
    ys = [masked_conv2d(x, wt, b, mask, fill=0.5, algo=a, tile=8) for a in ("pixels", "tiles", "auto")]
    for y in ys:
        assert y.dtype == dtype and y.is_cuda
        assert_close(y, want, dtype)
    assert_close(ys[1], ys[0].double(), dtype)
    g = torch.randn_like(ys[0])
    grads = []
    for a in ("pixels", "tiles"):
        xs, ws, bs = (t.clone().requires_grad_() for t in (x, wt, b))
        grads.append(torch.autograd.grad(masked_conv2d(xs, ws, bs, mask, algo=a, tile=8), (xs, ws, bs), g))
    xr, wr, br = (t.double().cpu().requires_grad_() for t in (x, wt, b))
    ref = torch.autograd.grad(masked_conv2d_reference(xr, wr, br, mask.cpu(), 1, 1), (xr, wr, br), g.double().cpu())
    for got in grads:
        for a, e in zip(got, ref, strict=True):
            assert_close(a, e, dtype)


# ----------------------------------------------------------------------------------------------------
# An ActiveSet of another mask (issue 10, item 4) and the reference switch


@pytest.mark.parametrize("algo_name", ["pixels", "tiles", "auto"])
def test_active_set_of_another_mask_is_refused(algo_name):
    """Same shape, other pixels: refused instead of a silently wrong result (the pixel path used to return
    the other mask's pixels); a copy of the mask, a view and an in-place change that keeps the pixels pass."""
    x, wt, b = _data(2, 3, 4, 10, 12, (3, 3), torch.float64, "cpu")
    mask = _mask("random", 2, 10, 12, seed=1)
    other = _mask("random", 2, 10, 12, seed=2)
    assert not torch.equal(mask, other)
    stale = active_tiles(other, 4)
    with pytest.raises(ValueError, match="another mask"):
        masked_conv2d(x, wt, b, mask, active=stale, algo=algo_name, tile=4)
    want = _expected(x, wt, b, mask, 1, 1, 0.0)
    own = active_tiles(mask, 4)
    for m in (mask, mask.clone(), mask[:, 0]):  # the same pixels: accepted (O(1) for the very mask)
        assert_close(masked_conv2d(x, wt, b, m, active=own, algo=algo_name, tile=4), want)
    assert own.describes(mask) and not stale.describes(mask)
    changed = mask.clone()
    own_changed = active_tiles(changed, 4)
    changed[0, 0, 0, 0] = ~changed[0, 0, 0, 0]  # in place after the compaction: the version counter moved
    with pytest.raises(ValueError, match="another mask"):
        masked_conv2d(x, wt, b, changed, active=own_changed, algo=algo_name, tile=4)
    empty = active_tiles(torch.zeros_like(mask), 4)
    with pytest.raises(ValueError, match="another mask"):
        masked_conv2d(x, wt, b, mask, active=empty, algo=algo_name, tile=4)


def test_use_kernels_false_runs_the_reference():
    x, wt, b = _data(2, 3, 4, 9, 11, (3, 3), torch.float64, "cpu")
    mask = _mask("wavelet", 2, 9, 11)
    xg = x.clone().requires_grad_()
    with use_kernels(False):
        y = masked_conv2d(xg, wt, b, mask, fill=1.5)
        (g,) = torch.autograd.grad(y.sum(), xg)
    assert torch.equal(y, masked_conv2d_reference(x, wt, b, mask, 1, 1, 1.5))
    xr = x.clone().requires_grad_()
    (gr,) = torch.autograd.grad(masked_conv2d(xr, wt, b, mask, fill=1.5).sum(), xr)
    assert_close(g, gr)
