"""``aml kernel install``: the Jupyter kernel "Python (aml_magic)" that loads the extension at
start, and in a project one kernel per run configuration, named as Workbench named them
(``service/kernelspecs.py``)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from aml_magic.domain.config import find_project
from aml_magic.domain.kernel_names import GENERIC_KERNEL
from aml_magic.errors import ProjectNotFound
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import verbs
from aml_magic.service.kernelspecs import generic_plan, install, project_plans, sys_prefix


def add_kernel(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    p = verbs(group).add_parser(
        "install", help="register Jupyter kernels that load aml_magic at start",
        description="Register the kernel 'Python (aml_magic)' (%azureml and %aml_* work in "
        "the first cell) and, inside a project, one kernel per run configuration named "
        "<project>_<runconfig> as Workbench did, whose %%aml_submit goes to that run "
        "configuration without -c.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true",
                       help="into your Jupyter data folder (the default)")
    where.add_argument("--sys-prefix", action="store_true",
                       help="into this Python environment (sys.prefix/share/jupyter)")
    where.add_argument("--prefix", metavar="DIR", help="into DIR/share/jupyter")
    p.add_argument("--name", default=GENERIC_KERNEL,
                   help=f"the generic kernel's name (default: {GENERIC_KERNEL})")
    A.add_project(p)
    p.add_argument("--no-project", action="store_true",
                   help="only the generic kernel, even inside a project")
    p.add_argument("--force", action="store_true",
                   help="replace kernels of the same names that aml_magic did not write")
    p.set_defaults(handler=cmd_kernel_install)


def cmd_kernel_install(args: argparse.Namespace) -> int:
    plans = [generic_plan(args.name)]
    root = None if args.no_project else _project(args.project)
    if root is not None:
        plans += project_plans(root)
    prefix = sys_prefix() if args.sys_prefix else args.prefix
    results = install(plans, user=prefix is None, prefix=prefix, force=args.force)
    for result in results:
        print(result.line())
    if root is not None and len(plans) == 1:
        print(f"{root}: no run configuration in aml_config/, so no project kernel")
    return 2 if any(r.skipped for r in results) else 0


def offer_kernels(root: Path, wanted: bool | None, *, adopted: bool) -> int:
    """``aml init``'s offer, for a project with run configurations: ``--kernels`` installs the
    generic and the project's kernels into the user's folder, ``--no-kernels`` does not; with
    neither, an adopted project asks from a terminal and says the command elsewhere (CI, a
    script: never waits for an answer)."""
    if wanted is False or (wanted is None and not adopted):
        return 0
    plans = project_plans(root)
    if not plans:
        return 0
    names = ", ".join(plan.name for plan in plans)
    if wanted is None:
        if not interactive():
            print(f"to open the project's notebooks on its own kernels ({names}): "
                  "run `aml kernel install` in it")
            return 0
        answer = input(f"Install the project's Jupyter kernels ({names})? [Y/n] ")
        if answer.strip().lower() not in ("", "y", "yes"):
            print("no kernel installed; `aml kernel install` does it later")
            return 0
    results = install([generic_plan(), *plans])
    for result in results:
        print(result.line())
    return 2 if any(r.skipped for r in results) else 0


def interactive() -> bool:
    """Whether a person can answer: stdin is a terminal and this is not CI."""
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    try:
        return sys.stdin.isatty() and not ci
    except (AttributeError, ValueError):
        return False


def _project(project: str | None) -> Path | None:
    """The project named by ``--project``, else the one at or above the current folder, else
    none (outside a project only the generic kernel is installed)."""
    start = Path(project).expanduser().resolve() if project else Path.cwd()
    try:
        return find_project(start)
    except ProjectNotFound:
        if project:
            raise
        return None
