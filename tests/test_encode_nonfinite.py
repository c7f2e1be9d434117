"""Encoders refuse non-finite input; no entropy-coder call gets a symbol it cannot code (issue 10, finding 3).

A 2x2 NaN patch in a float picture survived ``clamp``, became INT_MIN in the rANS bypass path and hung the
encoder forever: the reproduction runs in a subprocess with a timeout so a hang fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import TINY

from pywlc.codecs import encode_image
from pywlc.models import WeConvene, WeConveneBaseline
from pywlc.models.slices import MAX_SYMBOL, check_codable

ROOT = Path(__file__).resolve().parents[1]


def test_nan_patch_refused_without_hang():
    script = textwrap.dedent(
        f"""
        import torch
        from pywlc.codecs import encode_image
        from pywlc.models import WeConvene
        torch.manual_seed(0)
        m = WeConvene(**{TINY!r}).eval()
        m.update(force=True)
        x = torch.rand(3, 64, 64)
        x[:, 10:12, 20:22] = float("nan")
        for what, call in (("encode_image", lambda: encode_image(m, x, 1)),
                           ("compress", lambda: m.compress(x[None]))):
            try:
                call()
                print(what, "encoded")
            except ValueError as e:
                print(what, "ValueError", e)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("encoding a picture with a NaN patch hangs")
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("encode_image ValueError") and "non-finite" in lines[0], p.stdout
    assert lines[1].startswith("compress ValueError") and "non-finite" in lines[1], p.stdout


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_values_refused(bad):
    torch.manual_seed(0)
    m = WeConveneBaseline(**TINY).eval()
    m.update(force=True)
    x = torch.rand(1, 32, 32, dtype=torch.float64)
    x[0, 3, 4] = bad
    with pytest.raises(ValueError, match="non-finite"):
        encode_image(m, x, 1)
    with pytest.raises(ValueError, match="non-finite"):
        m.compress(x.float().expand(1, 3, -1, -1))


def test_check_codable_range():
    check_codable(torch.tensor([-MAX_SYMBOL, 0.0, MAX_SYMBOL]), "y")
    check_codable(torch.empty(0), "y")
    for v in (MAX_SYMBOL + 1.0, -float(1 << 31), float("nan")):
        with pytest.raises(ValueError, match="out-of-range"):
            check_codable(torch.tensor([0.0, v]), "y")
    # A model whose weights went non-finite never reaches the entropy coder either.
    torch.manual_seed(0)
    m = WeConvene(**TINY).eval()
    m.update(force=True)
    with torch.no_grad():
        next(m.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="non-finite"):
        m.compress(torch.rand(1, 3, 64, 64))
