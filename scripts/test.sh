#!/usr/bin/env bash
# The whole test suite on a fresh machine: provision (Debian packages + the project's .venv),
# lint (ruff), type-check (mypy), check the import contracts (lint-imports, see pyproject.toml),
# then pytest. The suite starts its own sshd, dockerd and JupyterLab on loopback and stops them
# by pid.
#   bash scripts/test.sh                 everything
#   bash scripts/test.sh --quick         only the tests that need no server (no sshd, dockerd,
#                                        kernel, browser, Spark, Slurm or PostgreSQL), no lint: the fast loop
#   bash scripts/test.sh tests/config -q extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/provision.sh | tail -n 1)
quick=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then quick=1; else args+=("$arg"); fi
done
if [ "$quick" -eq 1 ]; then
  args=(-m "not sshd and not docker and not browser and not kernel and not spark and not slurm and not postgres" "${args[@]}")
else
  "$VENV/bin/ruff" check aml_magic tests benchmarks scripts
  "$VENV/bin/mypy"
  "$VENV/bin/lint-imports" --no-cache
fi
set +e
"$VENV/bin/python" -m pytest "${args[@]}"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
