#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): lint, then the pytest suite on 2 workers.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Two pytest workers on two cores: OpenMP threads that spin while idle would steal the other worker's
# core (measured: 128 s -> 14 s for the suite with passive waiting).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
"$PY" -m ruff check pywlc tests benchmarks
"$PY" -m pytest -q -n 2 tests "$@"
