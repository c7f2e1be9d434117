"""The compiled core: what was built, and that it imports and runs without a GPU."""

import subprocess
import sys

import pywlc


def test_build_info_reports_the_core():
    info = pywlc.build_info()
    assert info["compiled"], info.get("error")
    assert info["version"] == pywlc.__version__
    assert isinstance(info["cuda"], bool) and isinstance(info["openmp"], bool)
    assert info["cuda"] == pywlc.has_cuda_ops()


def test_import_makes_no_cuda_call_and_needs_no_gpu():
    # A fresh interpreter that hides every GPU: importing and running a CPU op must work.
    code = (
        "import os; os.environ['CUDA_VISIBLE_DEVICES'] = '';"
        "import torch, pywlc; x = torch.randn(1, 1, 8, 8);"
        "assert torch.allclose(pywlc.idwt(pywlc.dwt(x, 'haar', 2), 'haar', 2), x, atol=1e-6);"
        "print(pywlc.build_info()['compiled'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
