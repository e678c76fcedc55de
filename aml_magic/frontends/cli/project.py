"""``aml init [DIR]`` (create or adopt a project) and ``aml project restore`` (put back the
project files a run was submitted with)."""
from __future__ import annotations

import argparse
from pathlib import Path

from aml_magic.domain.history.manifests import kept_manifest, manifest_path
from aml_magic.errors import AmlError
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import through_workspace, verbs
from aml_magic.frontends.cli.kernel import offer_kernels
from aml_magic.frontends.cli.restore_output import confirm_overwrite, report_restored
from aml_magic.service.project_adopt import init_or_adopt
from aml_magic.service.restore import apply_restore, plan_run_restore
from aml_magic.service.workspace import Workspace

def add_init(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    group.add_argument("dir", nargs="?", default=".")
    group.add_argument("--kernels", action=argparse.BooleanOptionalAction, default=None,
                       help="install the project's Jupyter kernels (one per run configuration, "
                            "as Workbench named them); default: ask when adopting a project "
                            "from a terminal")
    group.set_defaults(handler=cmd_init)


def add_project_group(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    p = verbs(group).add_parser("restore", help="put back the project files a run was "
                                                "submitted with")
    A.add_project(p)
    p.add_argument("--run-id", "-r", dest="run_id", required=True, metavar="RUN_ID")
    p.add_argument("-d", "--directory", metavar="DIR",
                   help="restore into this folder (default: the project itself)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="overwrite files that differ from the snapshot without asking")
    p.set_defaults(handler=cmd_project_restore)


def cmd_init(args: argparse.Namespace) -> int:
    adoption = init_or_adopt(args.dir)
    if adoption.created_config:
        print(f"created project {adoption.root} (aml_config/ with local and docker targets)")
    else:
        print(f"adopted project {adoption.root} (its aml_config/ is kept as it is)")
    print(adoption.summary())
    return offer_kernels(adoption.root, args.kernels, adopted=not adoption.created_config)


def cmd_project_restore(args: argparse.Namespace) -> int:
    """Restore from the history's own copy of the run's manifest (never the run folder's);
    files that would be overwritten are listed and confirmed first (``--yes`` for scripts).
    In a linked project the snapshot comes from the server (``team_runs.restore``)."""
    if (code := through_workspace(args, "restore")) is not None:
        return code
    ws = Workspace(args.project)
    run = ws.run(args.run_id)
    manifest = kept_manifest(ws.store.aml_dir, run.record.snapshot_digest)
    if manifest is None:
        kept = manifest_path(ws.store.aml_dir, run.record.snapshot_digest or "")
        raise AmlError(f"run {run.id} has no snapshot manifest kept by the history "
                       f"({kept or 'no snapshot digest recorded'}): it was submitted by an older "
                       "aml_magic or before its snapshot was taken; its run folder's "
                       "manifest.json is the run's to write and is not trusted. Nothing was "
                       "written")
    dest = Path(args.directory).expanduser().resolve() if args.directory else ws.root
    dest.mkdir(parents=True, exist_ok=True)
    plan = plan_run_restore(manifest, run_folder=run.folder, dest=dest, project_root=ws.root,
                            runs_root=run.folder.parent)
    if plan.overwrites and not args.yes and not confirm_overwrite(plan.overwrites, dest):
        return 2
    report_restored(run.id, dest, apply_restore(manifest, plan, dest), plan)
    return 0
