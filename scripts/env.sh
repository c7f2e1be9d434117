# Sourced by scripts/test.sh and scripts/demo.sh.  Creates (once) a virtual environment keyed by the
# pinned dependency set, builds pywlc._C into the checkout (incremental), and exports PY and PYTHONPATH.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEY=$(sha256sum "$ROOT/requirements/ci.txt" | cut -c1-12)
VENV=${PYWLC_VENV:-$HOME/.cache/pywlc/venv-$KEY}
if [ ! -f "$VENV/.complete" ]; then
  echo "pywlc: creating $VENV (first run only: torch + torchvision from the pinned set, a few minutes)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements/ci.txt"
  touch "$VENV/.complete"
fi
PY="$VENV/bin/python"
echo "pywlc: building the compiled core (CUDA when nvcc is found; PYWLC_CUDA=0 skips it)"
mkdir -p "$ROOT/build"
(cd "$ROOT" && "$PY" setup.py -q build_ext --inplace >"$ROOT/build/last_build.log" 2>&1) || {
  cat "$ROOT/build/last_build.log"
  exit 1
}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PY
