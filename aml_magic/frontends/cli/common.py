"""What every ``aml`` command group shares: its verbs' parser, the project it works on, and the
garbage collector pause ``main`` starts with. Imports no more than the configuration."""
from __future__ import annotations

import argparse
import gc
from pathlib import Path

from aml_magic.domain.config import ProjectConfig, find_project
from aml_magic.frontends import arguments as A

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.service.workspace import Workspace


def verbs(group: argparse.ArgumentParser) -> Any:
    """The sub-parsers of a command group (``aml run list``, ``aml run show``, ...)."""
    return group.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)


def builds(name: str, verb: str | None, known: tuple[str, ...]) -> bool:
    """Whether a group adds the parser of its verb ``name`` when the command line names
    ``verb``: all of them unless ``verb`` is one of the group's ``known`` verbs."""
    return verb not in known or verb == name


def project_root(args: argparse.Namespace) -> Path:
    """The project the command names (``--project``), else the nearest one at or above the
    current folder, found as ``Workspace`` finds it."""
    start = Path(getattr(args, "project", None) or Path.cwd())
    return find_project(start.expanduser().resolve())


def project_config(args: argparse.Namespace) -> ProjectConfig:
    """The project's ``aml_config/`` alone, for commands that only read it: no run history
    (SQLite), no targets are loaded."""
    return ProjectConfig(project_root(args))


def workspace(args: argparse.Namespace) -> Workspace:
    """The project's ``Workspace`` (run history, targets, snapshots), for the verbs that use
    one."""
    # Imported here: the verbs that read only aml_config/ or the run history (`computetarget
    # list`, `history list` and its 300 ms budget) skip the targets' and snapshots' imports.
    from aml_magic.service.workspace import Workspace
    return Workspace(getattr(args, "project", None))


def linked_project(args: argparse.Namespace) -> Any:
    """The command's project (a ``LinkedProject``) when it is linked to a workspace, whose
    submit and run verbs then go through the server; None (cheaply) when it is not."""
    root = project_root(args)
    if not (root / "aml_config" / "workspace.yml").is_file():
        return None
    from aml_magic.service.team.remote import linked_project as linked
    return linked(root)


def cmd_cancel(args: argparse.Namespace) -> int:
    """``aml experiment cancel -r RUN_ID`` and ``aml run cancel RUN_ID``."""
    if (linked := linked_project(args)) is not None:        # through the workspace server
        from aml_magic.service.team import remote
        answer = remote.cancel(remote.client_for(linked), linked, args.run_id)
        print(f"run {answer['run_id']}: {answer['status']}")
        return 0
    run = workspace(args).run(args.run_id)
    status = run.cancel()
    print(f"run {run.id}: {status.value}")
    return 0


def settle_memory() -> None:
    """Before waiting or streaming for long: resume garbage collection, skipping what start-up
    created (frozen: it lives until exit anyway). Only where ``main`` paused it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
