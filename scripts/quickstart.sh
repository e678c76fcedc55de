#!/usr/bin/env bash
# The main job: install aml_magic into the project's virtual environment (.venv), register its
# Jupyter kernel ("aml-magic"), then run the quickstart notebook headless on that kernel on the
# local target (embedded run history, no server) and print where the executed copy is.
# PYTHON=... picks the interpreter the virtual environment is made from.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/provision.sh | tail -n 1)
"$VENV/bin/aml" kernel install --user --no-project >/dev/null
"$VENV/bin/python" scripts/run_demo.py --kernel aml-magic "$@"
