"""The README's main job (``python -m pywlc.demo``) runs end to end on the shipped sample."""

from __future__ import annotations

import re

import pytest

from pywlc import demo
from pywlc._extension import load

pytestmark = pytest.mark.skipif(load() is None, reason="needs the compiled core")


def test_demo_main(capsys):
    assert demo.main(["--reps", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "0 (bitwise)" in out  # the reversible int5/3 round trip
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(zero|block|hvsbm)\s+([\d.]+) dB", out, re.M)}
    assert set(rows) == {"zero", "block", "hvsbm"}
    # Motion compensation removes far more of the H-frame energy than plain temporal filtering.
    assert rows["block"] > rows["zero"] + 8 and rows["hvsbm"] > rows["zero"] + 8
