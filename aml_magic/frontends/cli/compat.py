"""``aml compat``: what makes a Workbench project's own instructions work unchanged.
``install-az`` writes the ``az`` shim (``az.py``) into the environment's ``bin`` beside
``aml``, never over, nor in front of, a real Azure CLI unless told to (``--force``)."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.frontends.cli.common import verbs

#: The line that marks an ``az`` as this shim (anything else named ``az`` is the Azure CLI).
MARKER = "# aml_magic az shim"

_BODY = f"""{MARKER}: `az ml ...` runs `aml ...` (written by `aml compat install-az`)
import sys
from aml_magic.frontends.cli.az import main
sys.exit(main())
"""


def add_compat(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    p = verbs(group).add_parser(
        "install-az", help="put an `az` command beside aml: `az ml ...` runs `aml ...` "
                           "(Workbench readmes and run.py files work unchanged)")
    p.add_argument("--force", action="store_true",
                   help="install even where a real Azure CLI `az` is on PATH or in the folder")
    p.add_argument("--bin-dir", metavar="DIR",
                   help="the folder to write `az` into (default: this environment's scripts "
                        "folder, where `aml` is)")
    p.set_defaults(handler=cmd_install_az)


def cmd_install_az(args: argparse.Namespace) -> int:
    bin_dir = Path(args.bin_dir).expanduser() if args.bin_dir else default_bin_dir()
    if not bin_dir.is_dir():
        raise AmlError(f"compat install-az: no such folder {bin_dir}")
    path = install_az(bin_dir, force=args.force)
    print(f"installed {path}: `az ml ...` runs `aml ...`")
    if not _on_path(bin_dir):
        print(f"note: {bin_dir} is not on PATH: `az` is found once this environment is "
              "activated (or the folder is added to PATH)", file=sys.stderr)
    return 0


def default_bin_dir() -> Path:
    """This interpreter's scripts folder: a virtual environment's ``bin``, where ``aml`` is."""
    return Path(sysconfig.get_path("scripts"))


def install_az(bin_dir: Path, *, force: bool = False) -> Path:
    """Write the shim as ``bin_dir/az`` (atomically, mode 0755) for this interpreter; refuses
    (``AmlError``) to replace or sit beside a real Azure CLI unless ``force``."""
    target = bin_dir / "az"
    if not force:
        if target.exists() and not is_shim(target):
            raise AmlError(f"compat install-az: {target} exists and is not aml_magic's `az` "
                           "(the Azure CLI?); use `aml ...` directly, or --force to replace it")
        real = real_az_on_path()
        if real is not None:
            raise AmlError(f"compat install-az: the Azure CLI is on PATH ({real}); an `az` "
                           "from aml_magic would shadow it or be shadowed by it; use "
                           "`aml ...` directly, or --force to install anyway")
    partial = bin_dir / f".az.{os.getpid()}.tmp"
    partial.write_text(_header(sys.executable) + _BODY, encoding="utf-8")
    partial.chmod(0o755)
    os.replace(partial, target)
    return target


def _header(python: str) -> str:
    """The interpreter line; a path the kernel cannot take in ``#!`` (spaces, over 127 bytes)
    is started through ``sh``, as pip's own scripts do."""
    if " " not in python and len(python) < 120:
        return f"#!{python}\n"
    return f"#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\n"


def is_shim(path: Path) -> bool:
    """Whether ``path`` is an ``az`` this command wrote."""
    try:
        with path.open("rb") as f:
            return MARKER.encode() in f.read(1024)
    except OSError:
        return False


def real_az_on_path() -> str | None:
    """The first ``az`` on PATH that is not this shim (the Azure CLI), or None."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("az", path=folder) if folder else None
        if found and not is_shim(Path(found)):
            return found
    return None


def _on_path(folder: Path) -> bool:
    resolved = folder.resolve()
    return any(Path(p).expanduser().resolve() == resolved
               for p in os.environ.get("PATH", "").split(os.pathsep) if p)
