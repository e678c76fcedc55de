"""What every ``aml`` command group shares: its verbs' parser, the project it works on, and the
garbage collector pause ``main`` starts with. Imports no more than the configuration."""
from __future__ import annotations

import argparse
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


def through_workspace(args: argparse.Namespace, verb: str) -> int | None:
    """In a project linked to a workspace, VERB (a function of ``cli/team_runs``) run through
    the server as the logged-in member, and its exit code; None (one ``stat``) when the
    project is not linked: the personal verb then runs, offline, as before."""
    root = project_root(args)
    if not (root / "aml_config" / "workspace.yml").is_file():
        return None
    # the workspace client (urllib, ssl) loads only in a linked project: personal verbs skip it
    from aml_magic.frontends.cli import team_runs
    return int(getattr(team_runs, verb)(args, team_runs.remote.linked_project(root)))


def cmd_cancel(args: argparse.Namespace) -> int:
    """``aml experiment cancel -r RUN_ID`` and ``aml run cancel RUN_ID``."""
    if (code := through_workspace(args, "cancel")) is not None:
        return code
    run = workspace(args).run(args.run_id)
    status = run.cancel()
    print(f"run {run.id}: {status.value}")
    return 0


