"""Shared fixtures: devices (CUDA auto-skipped without a GPU) and one tolerance table per dtype."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import pywlc

# Relative-to-max tolerances.  fp16/bf16 are computed in fp32 and rounded once at the end, so their error
# is one rounding of the output (bf16: 2^-8 relative, with the max over many coefficients ~ 1 ulp).
TOL = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.float16: 4e-3,
    torch.bfloat16: 1.6e-2,
}

# ../shared beside the checkout (CI has it); PYWLC_SHARED overrides. Tests needing it skip without it.
SHARED = Path(os.environ.get("PYWLC_SHARED", Path(__file__).resolve().parents[2] / "shared"))

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None) -> None:
    """max |a - e| <= tol * max(1, max |e|), tol from TOL by dtype."""
    tol = TOL[dtype or actual.dtype]
    a, e = actual.double().cpu(), expected.double().cpu()
    assert a.shape == e.shape, (a.shape, e.shape)
    scale = max(1.0, e.abs().max().item()) if e.numel() else 1.0
    err = (a - e).abs().max().item() if e.numel() else 0.0
    assert err <= tol * scale, f"max error {err:.3e} > {tol:.1e} * {scale:.3g}"


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    if request.param == "cuda" and not pywlc.has_cuda_ops():
        pytest.skip("pywlc was built without CUDA kernels")
    return request.param


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (photos/, video/); skips the test when absent."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared data not found at {data}")
    return data


# A tiny WeConvene / baseline configuration: fast enough for round trips in unit tests.
TINY = dict(N=16, M=24, Z=16, slices=3, depth=1, slice_hidden=(16, 16))


@pytest.fixture(scope="module")
def tiny_models() -> dict:
    """``{"WeConvene": model, "WeConveneBaseline": model}`` in eval mode with entropy tables, seeded."""
    from pywlc.models import WeConvene, WeConveneBaseline

    torch.manual_seed(0)
    out = {}
    for cls in (WeConvene, WeConveneBaseline):
        m = cls(**TINY).eval()
        m.update(force=True)
        out[cls.__name__] = m
    return out
