"""``aml init [DIR]`` (create or adopt a project) and ``aml project restore`` (put back the
project files a run was submitted with)."""
from __future__ import annotations

import argparse
from pathlib import Path

from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import verbs
from aml_magic.service.project_adopt import init_or_adopt
from aml_magic.service.restore import restore_run
from aml_magic.service.workspace import Workspace


def add_init(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    group.add_argument("dir", nargs="?", default=".")
    group.set_defaults(handler=cmd_init)


def add_project_group(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    p = verbs(group).add_parser("restore", help="put back the project files a run was "
                                                "submitted with")
    A.add_project(p)
    p.add_argument("--run-id", "-r", dest="run_id", required=True, metavar="RUN_ID")
    p.add_argument("-d", "--directory", metavar="DIR",
                   help="restore into this folder (default: the project itself)")
    p.set_defaults(handler=cmd_project_restore)


def cmd_init(args: argparse.Namespace) -> int:
    adoption = init_or_adopt(args.dir)
    if adoption.created_config:
        print(f"created project {adoption.root} (aml_config/ with local and docker targets)")
    else:
        print(f"adopted project {adoption.root} (its aml_config/ is kept as it is)")
    print(adoption.summary())
    return 0


def cmd_project_restore(args: argparse.Namespace) -> int:
    ws = Workspace(args.project)
    run = ws.run(args.run_id)
    dest = Path(args.directory).expanduser().resolve() if args.directory else ws.root
    dest.mkdir(parents=True, exist_ok=True)
    written, unchanged = restore_run(run.folder / "manifest.json", run_folder=run.folder,
                                     dest=dest, project_root=ws.root,
                                     runs_root=run.folder.parent)
    print(f"restored the snapshot of run {run.id} into {dest}: {written} file(s) written, "
          f"{unchanged} already as they were")
    return 0
