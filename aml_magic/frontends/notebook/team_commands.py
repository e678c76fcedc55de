"""The run magics in a project linked to a workspace (``aml workspace link``): ``%%aml_submit``,
``%aml_submit``, ``%aml_run``, ``%aml_runs`` and ``%aml_cancel`` through the server as the
member logged in on this machine. A run submitted or shown (``%aml_run``) gets the live run
widget a local run gets, fed from the server (``team_run.py``; text when widgets are off);
``%aml_runs`` prints the list. A project that is not linked never gets here and works
offline as before."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from aml_magic.domain.config import find_project
from aml_magic.errors import AmlError, ProjectNotFound
from aml_magic.frontends.arguments import max_concurrent_of
from aml_magic.frontends.notebook.cells import cell_script, write_cell
from aml_magic.frontends.notebook.team_run import RemoteRun
from aml_magic.frontends.render import run_text, runs_table
from aml_magic.service.team.link import link_path

if TYPE_CHECKING:
    from aml_magic.frontends.notebook.magics import AmlMagics
    from aml_magic.service.contract import models as M
    from aml_magic.service.team.remote import LinkedProject


def _remote() -> Any:
    """The workspace client's module (urllib, ssl): loaded in linked projects only."""
    from aml_magic.service.team import remote
    return remote


def linked(magics: AmlMagics, project: str | None) -> LinkedProject | None:
    """The magic's project (as ``commands.workspace`` finds it) when it is linked; None when
    it is not, or when there is no project (the caller then says so as before)."""
    start = Path(project).expanduser() if project else (magics.project or Path.cwd())
    try:
        root = find_project(start.resolve())
    except ProjectNotFound:
        return None
    if not link_path(root).is_file():
        return None
    found: LinkedProject | None = _remote().linked_project(root)
    return found


def submit(magics: AmlMagics, project: LinkedProject, args: argparse.Namespace,
           cell: str | None) -> Any:
    """Upload and submit, then show the run as a local one is shown (the live widget, fed
    from the server); ``--wait`` blocks until it ends. Without widgets (``use_widgets`` off)
    the log is printed as it comes, then the run's end."""
    if args.allow_unsafe_container:
        raise AmlError("--allow-unsafe-container is not taken in a project linked to a "
                       f"workspace ({project.url}): its targets' isolation is the server "
                       "admin's to set")
    name = args.run_configuration or magics.default_runconfig
    if not name:
        raise AmlError("missing -c NAME: name a run configuration of the project")
    if cell is not None:
        shell = magics.shell
        assert shell is not None, "the magics are registered on a shell"
        script = write_cell(project.root, cell_script(shell.transform_cell(cell)), args.name,
                            force=args.force)
    else:
        script = args.script
    remote = _remote()
    client = remote.client_for(project)
    run: M.RunJson
    sweep = args.sweep or None
    run, sent = remote.submit(
        client, project, name, script, list(args.args),
        overrides={"target": getattr(args, "target", None),
                   "conda_dependencies_file": getattr(args, "conda_dependencies", None),
                   "spark_dependencies_file": getattr(args, "spark_dependencies", None)},
        sweep=sweep, max_concurrent=max_concurrent_of(args) if sweep else None)
    run_id = str(run["run_id"])
    print(f"{'Sweep' if sweep else 'Run'} {run_id} submitted to {project.url} (project "
          f"{project.name}; {sent.blobs} new file(s) sent)")
    if magics.widgets_enabled():
        remote_run = RemoteRun(client, project, run)
        shown = magics.show(remote_run)            # type: ignore[arg-type]
        if args.wait:
            magics.wait(remote_run, shown)         # type: ignore[arg-type]
        if cell is not None and args.out:
            magics.shell.user_ns[args.out] = remote_run    # type: ignore[union-attr]
            return None
        return remote_run
    if args.wait:
        try:
            run = remote.follow(client, project, run_id, lambda text: print(text, end=""))
        except KeyboardInterrupt:
            print(f"Stopped waiting; run {run_id} goes on (cancel it with %aml_cancel "
                  f"{run_id})", file=sys.stderr)
        else:
            code = run.get("exit_code")
            print(f"Run {run_id}: {run['status']}"
                  + (f" (exit code {code})" if code is not None else ""))
    if cell is not None and args.out:
        magics.shell.user_ns[args.out] = run        # type: ignore[union-attr]
        return None
    return run


def show_run(magics: AmlMagics, project: LinkedProject, run_id: str) -> Any:
    """The run's live widget, fed from the server (text without widgets); None."""
    remote = _remote()
    client = remote.client_for(project)
    detail: M.RunDetailJson = remote.run(client, project, run_id)
    if magics.widgets_enabled():
        magics.show(RemoteRun(client, project, detail))     # type: ignore[arg-type]
    else:
        print(run_text(detail))
    return None


def show_runs(project: LinkedProject, args: argparse.Namespace) -> None:
    remote = _remote()
    runs: list[M.RunJson] = remote.runs(remote.client_for(project), project,
                                        status=args.status, target=args.target,
                                        limit=args.limit)
    print(f"{project.name} on {project.url}")
    print(runs_table([SimpleNamespace(**r) for r in runs]))  # type: ignore[misc]


def cancel(project: LinkedProject, run_id: str) -> None:
    remote = _remote()
    run: M.RunJson = remote.cancel(remote.client_for(project), project, run_id)
    print(f"Run {run['run_id']}: {run['status']}")
