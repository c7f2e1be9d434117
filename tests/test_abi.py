"""The compiled core's boundary: the integer codes are declared once (csrc/abi.h) and the Python constants equal
them; only pywlc/_extension.py touches ``_C``; the kernel gateway and the reference switch."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch

import pywlc._extension as ext
from pywlc.mctf import _fused
from pywlc.ops import wavelets

dwt = importlib.import_module("pywlc.ops.dwt")  # the package attributes `dwt` / `warp` are the functions
warp = importlib.import_module("pywlc.ops.warp")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(ext.load() is None, reason="needs the compiled core")
def test_python_codes_equal_the_compiled_ones():
    abi = ext.abi()
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int32: "int32", torch.float16: "float16"}
    dtype[torch.bfloat16] = "bfloat16"
    assert abi["dwt_dtype"] == {dtype[k]: v for k, v in dwt._KERNEL_DTYPE.items()}
    assert abi["dwt_mode"] == wavelets.MODES
    ops = {"forward": dwt.FORWARD, "inverse": dwt.INVERSE}
    ops.update(forward_adjoint=dwt.FORWARD_ADJOINT, inverse_adjoint=dwt.INVERSE_ADJOINT)
    assert abi["dwt_op"] == ops
    assert abi["warp_interp"] == {**warp._MODES, **warp._INTERPS}
    assert {v: k for k, v in abi["warp_interp"].items()} == warp._CODE_NAMES
    assert abi["warp_padding"] == warp._PADDINGS
    assert abi["warp_dtype"] == {"float32": 0, "float64": 1}  # warp._geometry_args: 0 if float32 else 1
    assert abi["mctf_dtype"] == {dtype[k]: v for k, v in _fused._DTYPES.items()}
    assert all(abi["warp_interp"][k] == v for k, v in _fused._INTERPS.items())


def test_only_the_extension_module_imports_the_core():
    pattern = re.compile(r"pywlc\._C\b|from \.+ import _C\b|from \.+_C import|import_module\(\"pywlc\._C\"\)")
    offenders = []
    for path in sorted((ROOT / "pywlc").rglob("*.py")):
        if path.name == "_extension.py" and path.parent.name == "pywlc":
            continue
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            if pattern.search(code) and not code.strip().startswith(("``", '"', "'")) and "``" not in code:
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders
    text = (ROOT / "pywlc" / "_extension.py").read_text()
    assert 'import_module("pywlc._C")' in text


def test_kernel_gateway_and_switch():
    x = torch.zeros(3)
    assert ext.kernel("no_such_kernel", x) is None
    with pytest.raises(RuntimeError, match="no_such_kernel"):
        ext.kernel("no_such_kernel", x, required=True)
    if ext.load() is None:
        return
    assert ext.kernel("dwt", x) is ext.load().dwt_cpu
    assert ext.kernel("dwt", x.to("meta")) is None
    with ext.use_kernels(False):
        assert ext.kernel("dwt", x) is None and not ext.kernels_enabled()
        assert ext.kernel("hvsbm", x, required=True) is not None  # no reference: always the kernel
        with ext.use_kernels(True, "dwt"):
            assert ext.kernel("dwt", x) is not None and ext.kernel("warp_forward", x) is None
    with ext.use_kernels(False, "warp_forward"):
        assert ext.kernel("warp_forward", x) is None and ext.kernel("dwt", x) is not None
    assert ext.kernels_enabled() and ext.kernel("dwt", x) is not None
    with pytest.raises(TypeError):
        with ext.use_kernels("no"):  # type: ignore[arg-type]
            pass
