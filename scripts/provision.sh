#!/usr/bin/env bash
# Install everything aml_magic and its test suite need on a fresh Debian machine (idempotent):
# the Debian packages (the real components the tests start themselves: sshd, dockerd, Chromium;
# debootstrap for the locally built Docker base images; rsync for the sync benchmark; a JRE for
# the Spark cluster the suite starts (pyspark comes with the test extras); python3-venv because
# Debian's Python is externally managed, PEP 668; node and npm, which build the JupyterLab
# extension into the package; slurm-wlm and munge for the Slurm cluster the suite starts;
# postgresql for the PostgreSQL server the suite starts under `aml server`'s tests),
# then the project's virtual environment
# (.venv beside this script's folder, or AML_MAGIC_VENV) with aml_magic installed editable.
#
# Environment: PYTHON   the interpreter the virtual environment is made from (default: python3)
#              AML_MAGIC_VENV  where the virtual environment lives (default: <repo>/.venv)
# Prints nothing on success but the venv's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in sshd:openssh-server dockerd:docker.io docker:docker.io debootstrap:debootstrap \
            rsync:rsync chromium:chromium sqlite3:sqlite3 git:git node:nodejs npm:npm \
            java:openjdk-17-jre-headless; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt+=("$pkg")
done
[ -x /usr/bin/python3 ] || need_apt+=(python3)
for pkg in python3-venv python3-pip debian-archive-keyring ca-certificates slurm-wlm munge postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "provision: missing Debian packages (${need_apt[*]}); run this script as root" >&2
    exit 1
  fi
  # shellcheck disable=SC2207
  need_apt=($(printf '%s\n' "${need_apt[@]}" | sort -u))
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -q
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need_apt[@]}"
fi

VENV=${AML_MAGIC_VENV:-$PWD/.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
echo "$VENV"
