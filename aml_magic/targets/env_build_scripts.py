"""Shell scripts that build an environment inside a container from the base image.

POSIX ``sh`` only, so they run on any image; shared by every target that builds environments in
containers. The build folder (``BUILD_DIR``) holds the script, ``environment.yml``,
``requirements.txt``, ``guessed.txt``, optionally ``ca.pem`` and ``uv-bin/uv``; the script removes
it before the container is committed, so none of it ends up in the image.
"""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

ENV_PREFIX = "/opt/aml-env"
ENV_PYTHON = f"{ENV_PREFIX}/bin/python"
BUILD_DIR = "/tmp/aml-build"
CACHE_MOUNT = "/var/cache/aml-build"
UNHONOURED_MARK = "AML-UNHONOURED: "


def venv_script(installer: str, *, build_dir: str = BUILD_DIR, prefix: str = ENV_PREFIX,
                python: str | None = None) -> str:
    """POSIX sh run in the build container: a venv filled by uv (or pip); guessed conda names are
    tried one by one so one missing name is reported instead of failing the build.

    uv comes from, in order: the client's own binary shipped into the build folder, the build
    cache volume, or PyPI (``pip install --target``, then kept in the cache volume). Outside a
    container (a remote target's own environment) ``build_dir``, ``prefix`` and the base
    ``python`` are given."""
    b, p = shlex.quote(build_dir), shlex.quote(prefix)
    find_python = (f"command -v {shlex.quote(python)}" if python
                   else "command -v python3 || command -v python")
    use_uv = "1" if installer == "uv" else "0"
    return f"""set -eu
cd {b}
PY=$({find_python})
echo "aml: base Python $PY ($($PY --version 2>&1))"
UV=""
if [ {use_uv} = 1 ]; then
    for cand in {b}/uv-bin/uv "${{AML_CACHE:-/nonexistent}}/uv-tool/bin/uv"; do
        if [ -x "$cand" ] && "$cand" --version >/dev/null 2>&1; then UV=$cand; break; fi
    done
fi
if [ -n "$UV" ] && "$UV" venv -q --python "$PY" {p}; then
    echo "aml: created venv {p} with uv"
else
    $PY -m venv {p} || {{
        echo "aml: '$PY -m venv' failed: the image needs the venv module (Debian: python3-venv)"
        exit 3
    }}
    echo "aml: created venv {p}"
    if [ {use_uv} = 1 ]; then
        echo "aml: installing uv from PyPI"
        if [ -n "${{AML_CACHE:-}}" ]; then DEST="$AML_CACHE/uv-tool"; else DEST={b}/uv-tool; fi
        TMP="$DEST.tmp.$$"
        if {p}/bin/python -m pip install -q --target "$TMP" uv && [ -x "$TMP/bin/uv" ]; then
            mv -T "$TMP" "$DEST" 2>/dev/null && UV="$DEST/bin/uv" || UV="$TMP/bin/uv"
        else
            rm -rf "$TMP"
            echo "aml: uv is unavailable, falling back to pip"
        fi
    fi
fi
if [ -n "$UV" ]; then
    INSTALL="$UV pip install --python {p}/bin/python"
    echo "aml: installer uv"
else
    INSTALL="{p}/bin/python -m pip install"
    echo "aml: installer pip"
fi
pip_install() {{
    if ! {p}/bin/python -m pip --version >/dev/null 2>&1; then
        {p}/bin/python -m ensurepip -q >/dev/null 2>&1 || true
    fi
    {p}/bin/python -m pip install "$@"
}}
if [ -s requirements.txt ]; then
    $INSTALL -r requirements.txt || {{
        [ -n "$UV" ] || exit 4
        echo "aml: uv failed, retrying with pip"
        echo "aml: installer pip"
        UV=""
        INSTALL="pip_install"
        pip_install -r requirements.txt
    }}
fi
while IFS= read -r req; do
    [ -n "$req" ] || continue
    echo "aml: trying conda name $req on PyPI"
    $INSTALL "$req" || echo "{UNHONOURED_MARK}$req"
done < guessed.txt
cd /
case "$UV" in *.tmp.*) rm -rf "${{UV%/bin/uv}}";; esac
rm -rf {b}
find {p} -name __pycache__ -prune -exec rm -rf {{}} + 2>/dev/null || true
echo "aml: done"
"""


def conda_script(tool: str, *, build_dir: str = BUILD_DIR, prefix: str = ENV_PREFIX) -> str:
    b, p = shlex.quote(build_dir), shlex.quote(prefix)
    create = {"micromamba": f"micromamba create -y -p {p} -f {b}/environment.yml",
              "mamba": f"mamba env create -p {p} -f {b}/environment.yml",
              "conda": f"conda env create -p {p} -f {b}/environment.yml"}[tool]
    clean = f"{tool} clean -a -y" if tool != "micromamba" else "micromamba clean -a -y"
    return f"""set -eu
echo "aml: installer {tool}"
{create}
{clean} >/dev/null 2>&1 || true
rm -rf {b}
echo "aml: done"
"""


def java_script() -> str:
    """POSIX sh run first in the build container of a ``Framework: PySpark`` environment: a
    Java runtime from the image's package manager when it has none (Spark 4 needs Java 17+)."""
    return """set -eu
if command -v java >/dev/null 2>&1; then
    echo "aml: Java runtime present: $(command -v java)"
elif command -v apt-get >/dev/null 2>&1; then
    echo "aml: installing a Java runtime (apt-get) for PySpark"
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p /usr/share/man/man1      # slim images drop it; the JRE's postinst links into it
    apt-get update -q && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless \\
        || { echo "aml: could not install openjdk-17-jre-headless for PySpark"; exit 5; }
    rm -rf /var/lib/apt/lists/*
else
    echo "aml: the base image has no Java runtime and no apt-get: use a baseDockerImage with Java"
    exit 5
fi
"""


def installer_used(lines: list[str], default: str) -> str:
    used = [ln.split("aml: installer ", 1)[1].strip() for ln in lines if "aml: installer " in ln]
    return used[-1] if used else default


def local_uv_binary() -> Path | None:
    """The uv executable next to this Python (the ``uv`` package), else on PATH; ELF only: a
    container build ships it into the build folder, a local build runs it."""
    candidates: list[str | None] = []
    try:
        from uv import find_uv_bin
        candidates.append(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    candidates.append(shutil.which("uv"))
    for cand in candidates:
        if cand and Path(cand).is_file():
            with open(cand, "rb") as fh:
                if fh.read(4) == b"\x7fELF":      # not a pyenv shim or wrapper script
                    return Path(cand)
    return None


__all__ = ["BUILD_DIR", "CACHE_MOUNT", "ENV_PREFIX", "ENV_PYTHON", "UNHONOURED_MARK",
           "conda_script", "installer_used", "java_script", "local_uv_binary", "venv_script"]
