"""ezbc_port builds on its own (torch-free CMake project) and its C++ unit tests pass under CTest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cmake() -> str | None:
    found = shutil.which("cmake")
    if found:
        return found
    beside = Path(sys.executable).with_name("cmake")  # the venv's cmake wheel
    return str(beside) if beside.exists() else None


def test_ezbc_standalone_build_and_ctest(tmp_path):
    cmake = _cmake()
    if cmake is None:
        pytest.skip("cmake not found")
    ctest = str(Path(cmake).with_name("ctest"))
    build = tmp_path / "build"
    env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": os.environ.get("PYWLC_BUILD_JOBS", "1")}
    subprocess.run(
        [cmake, "-S", str(ROOT / "ezbc_port"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run([cmake, "--build", str(build)], check=True, capture_output=True, env=env)
    run = subprocess.run(
        [ctest, "--test-dir", str(build), "--output-on-failure"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "100% tests passed" in run.stdout
