#!/usr/bin/env bash
# Install everything aml_magic and its test suite need on a fresh Debian machine (idempotent).
# Debian packages: the real components the tests start themselves (sshd, dockerd, Chromium),
# plus debootstrap for the locally built Docker base image and rsync for the sync benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in sshd:openssh-server dockerd:docker.io debootstrap:debootstrap rsync:rsync \
            chromium:chromium sqlite3:sqlite3 git:git; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt+=("$pkg")
done
[ -x /usr/bin/python3 ] || need_apt+=(python3)
for pkg in python3-venv debian-archive-keyring ca-certificates; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "provision: missing Debian packages (${need_apt[*]}); run this script as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -q
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
