#!/usr/bin/env bash
# The main job: install aml_magic, then run the quickstart notebook headless on the local target
# (embedded run history, no server) and print where the executed copy is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
"$PY" scripts/run_demo.py "$@"
