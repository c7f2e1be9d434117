"""The README's main job (``python -m pywlc.demo``) runs end to end on the shipped sample."""

from __future__ import annotations

import re

import pytest

from pywlc import demo
from pywlc._extension import load

pytestmark = pytest.mark.skipif(load() is None, reason="needs the compiled core")


def test_demo_main(capsys, tmp_path):
    assert demo.main(["--reps", "1", "--codec-reps", "1", "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # 1. the codec table: JPEG and JPEG 2000 beside ours (when its weights load), lossless anchors bitwise, a plot.
    lossy = re.findall(r"^(pywlc|JPEG|JPEG 2000)\s+(?:quality [\d.]+|[\d.]+ bpp)\s+([\d.]+)\s+([\d.]+) dB", out, re.M)
    codecs = {c for c, _, _ in lossy}
    assert {"JPEG", "JPEG 2000"} <= codecs
    if "unavailable" not in out:
        assert "pywlc" in codecs
        assert re.search(r"^pywlc\s+lossless\s+[\d.]+\s+bitwise", out, re.M)
    assert re.search(r"^JPEG 2000\s+5/3 \+ RCT\s+[\d.]+\s+bitwise", out, re.M)
    assert re.search(r"^PNG\s+zlib 9\s+[\d.]+\s+bitwise", out, re.M)
    assert (tmp_path / "demo-rd.png").stat().st_size > 1000
    assert str(tmp_path / "demo-rd.png") in out
    # 2. the wavelet round trips: the reversible int5/3 is bitwise.
    assert "0 (bitwise)" in out
    # 3. MCTF: motion compensation removes far more of the H-frame energy than plain temporal filtering.
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(zero|block|hvsbm)\s+([\d.]+) dB", out, re.M)}
    assert set(rows) == {"zero", "block", "hvsbm"}
    assert rows["block"] > rows["zero"] + 8 and rows["hvsbm"] > rows["zero"] + 8


def test_jpeg_quality_search_matches_the_rate():
    img = demo.load_image(sorted(demo.SAMPLES.glob("*.png"))[0])[0]
    q = demo._jpeg_at(img, 1.0)
    bpp = 8 * len(demo.anchors.get("jpeg").encode(img, q)) / (img.shape[-2] * img.shape[-1])
    assert 0.8 < bpp < 1.25, (q, bpp)
