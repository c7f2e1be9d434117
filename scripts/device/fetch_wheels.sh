#!/usr/bin/env bash
# Here (a machine with PyPI): download the Python 3.12 wheels the GPU machine lacks into .whl/ (git-ignored),
# which the device tool carries (`carry: [".whl"]`).  The GPU image already has torch, numpy, scipy,
# pytest, pytest-xdist, hypothesis, pybind11, cmake, ninja, matplotlib, opencv, scikit-image.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_35_x86_64)
# Benchmark anchors and test oracles (pinned like requirements/ci.txt), compressai for the codecs,
# setuptools<81 for pytorch_wavelets' pkg_resources.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" \
  -d .whl PyWavelets==1.8.0 ptwt==1.0.1 pytorch_wavelets==1.3.0 compressai==1.2.8 pytorch-msssim==1.0.0 setuptools==80.9.0
ls -la .whl
