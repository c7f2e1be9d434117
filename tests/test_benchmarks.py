"""Smoke runs of the benchmark scripts' --quick modes: the harness writes well-formed results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script,key",
    [
        ("bench_dwt.py", "pywlc_fwd_ms"),
        ("bench_warp.py", "pywlc_fwd_ms"),
        ("bench_block_match.py", "block_match_ms"),
        ("bench_hvsbm.py", "hvsbm_ms"),
        ("bench_masked_conv.py", "tiles_total_ms"),
    ],
)
def test_quick_benchmark_writes_json(tmp_path, script, key):
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--device", "cpu", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["torch"] and result["device"] and result["pywlc"]["compiled"]
    assert result["rows"] and all(row[key] > 0 for row in result["rows"] if key in row)
    assert any(key in row for row in result["rows"])
