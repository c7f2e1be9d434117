#!/usr/bin/env bash
# On the GPU machine, in one device-tool call (carry .whl from fetch_wheels.sh):
#   bash scripts/device/gpu_check.sh [pytest -k expression]
# Builds pywlc._C with CUDA for the local GPU, runs the whole test suite (CUDA tests included) and the
# GPU benchmarks; logs and results JSON/PNG land in $OUT (the device tool brings them back).
set -uo pipefail
OUT=${OUT:-/tmp/pywlc-gpu}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
arch=$(python3 -c "import torch; c = torch.cuda.get_device_capability(); print(f'{c[0]}{c[1]}')")
PYWLC_CUDA=1 PYWLC_CUDA_ARCHS="$arch" python3 setup.py -q build_ext --inplace >"$OUT/build.log" 2>&1 ||
  { tail -60 "$OUT/build.log"; exit 1; }
python3 -c "import pywlc, json; print(json.dumps(pywlc.build_info()))" | tee "$OUT/build_info.json"
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE python3 -m pytest -q -n 8 tests ${1:+-k "$1"} 2>&1 | tee "$OUT/tests.log" | tail -40
name=$(python3 -c "import torch; n = torch.cuda.get_device_name(0).lower(); print('h200' if 'h200' in n else 'h100' if 'h100' in n else 'gpu')")
# results/<family>-<device>.json, as benchmarks/results/ names them
python3 benchmarks/bench_dwt.py --device cuda --out "$OUT/dwt-$name.json" 2>&1 | tee "$OUT/bench_dwt.log"
python3 benchmarks/bench_warp.py --device cuda --out "$OUT/warp-$name.json" 2>&1 | tee "$OUT/bench_warp.log"
python3 benchmarks/bench_block_match.py --device cuda --out "$OUT/block_match-$name.json" 2>&1 |
  tee "$OUT/bench_block_match.log"
python3 benchmarks/bench_masked_conv.py --device cuda --out "$OUT/masked_conv-$name.json" 2>&1 |
  tee "$OUT/bench_masked_conv.log"
