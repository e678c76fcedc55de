#!/usr/bin/env bash
# The whole test suite on a fresh machine: provision, then pytest. The suite starts its own
# sshd, dockerd and JupyterLab on loopback and stops them by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh
PY=${PYTHON:-python3}
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
