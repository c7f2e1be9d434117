"""benchmarks/bench_video_layers.py: the equal-PSNR rate interpolation, and a smoke run where the data is."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_video_layers", ROOT / "benchmarks" / "bench_video_layers.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_rate_at_psnr_interpolates_log_rate():
    curve = [{"kbps": 100.0, "psnr_y": 30.0}, {"kbps": 400.0, "psnr_y": 36.0}, {"kbps": 200.0, "psnr_y": 33.0}]
    assert bench.rate_at_psnr(curve, 33.0) == pytest.approx(200.0)
    assert bench.rate_at_psnr(curve, 31.5) == pytest.approx(math.sqrt(100.0 * 200.0))
    assert math.isnan(bench.rate_at_psnr(curve, 29.0)) and math.isnan(bench.rate_at_psnr(curve, 37.0))


@pytest.mark.skipif(not (bench.DATA / "video" / "cube").is_dir(), reason="needs ../shared/data/video")
def test_smoke_run(tmp_path):
    out = tmp_path / "r.json"
    assert bench.main(["--frames", "2", "--sequences", "cube", "--layers", "30", "--extra", "", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["sequences"]["cube"]
    base, top = res["layered"]
    assert base["bytes_vs_single_percent"] == 0.0  # the base layer is the single-layer stream
    assert top["psnr_y"] > base["psnr_y"] and top["bytes"] > base["bytes"]
