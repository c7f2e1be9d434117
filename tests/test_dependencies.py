"""The core never needs CompressAI (nor torchvision, which pins its own torch): pyproject's core dependencies, and
the core modules importing in a process where CompressAI / torchvision cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCKED = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("compressai", "torchvision", "pytorch_msssim", "scipy", "matplotlib", "tqdm"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, Block())
import torch
import pywlc, pywlc.fixed_point, pywlc.ops, pywlc.mctf, pywlc.motion, pywlc.bitstream
from pywlc.fixed_point import conv_impl, exact_conv2d, quantize_weights, to_grid
x = torch.randn(1, 2, 8, 8)
assert torch.allclose(pywlc.idwt(pywlc.dwt(x, "bior2.2", 2), "bior2.2", 2), x, atol=1e-5)
conv = torch.nn.Conv2d(2, 3, 3, padding=1)
assert exact_conv2d(conv, x).shape == (1, 3, 8, 8)
try:
    import pywlc.models
except ImportError as exc:
    print("models:", exc)
"""


def test_core_dependencies_swap_no_torch():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [d.lower() for d in meta["dependencies"]]
    assert any(d.startswith("torch>=") for d in core)
    assert not any(name in d for d in core for name in ("compressai", "torchvision", "pytorch_msssim"))
    assert any("compressai" in d for d in meta["optional-dependencies"]["weconvene"])


def test_core_imports_without_compressai():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pip install pywlc[weconvene]" in run.stdout, run.stdout
