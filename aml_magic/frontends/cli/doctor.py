"""``aml doctor``: what stands between the project and running as it is, one line each with the
command that fixes it. Today: notebooks that name a Workbench project kernel
(``<project>_<runconfig>``) that Jupyter does not have."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import project_root
from aml_magic.service.kernelspecs import missing_kernels


def add_doctor(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    A.add_project(group)
    group.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when nothing was found, 1 when a line says what to do."""
    root = project_root(args)
    findings = [m.hint(root, install_command(root)) for m in missing_kernels(root)]
    for line in findings:
        print(line)
    if not findings:
        print(f"{root}: every notebook's kernel is installed")
    return 1 if findings else 0


def install_command(root: Path) -> str:
    """``aml kernel install``, with ``--project`` when the current folder is not the project."""
    if Path.cwd().resolve() == root.resolve():
        return "aml kernel install"
    return f"aml kernel install --project {shlex.quote(str(root))}"
