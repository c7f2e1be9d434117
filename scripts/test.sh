#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): lint, then the pytest suite on 2 workers.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$PY" -m ruff check pywlc tests benchmarks
"$PY" -m pytest -q -n 2 tests "$@"
