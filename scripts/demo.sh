#!/usr/bin/env bash
# The main job (README): wavelet round trips on the shipped sample image and a short benchmark table.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$PY" -m pywlc.demo "$@"
