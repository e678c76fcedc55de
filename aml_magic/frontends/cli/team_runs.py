"""The CLI's submit and run verbs in a project linked to a workspace (``aml workspace link``):
the same verbs and the same output, through the server as the logged-in member. A project that
is not linked never gets here (``linked`` is None) and works offline as before."""
from __future__ import annotations

import argparse
import sys
from types import SimpleNamespace
from urllib.parse import quote

from aml_magic.errors import AmlError
from aml_magic.frontends.arguments import max_concurrent_of
from aml_magic.frontends.cli.memory import settle_memory
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import run_text, runs_table
from aml_magic.frontends.termsafe import terminal_writer
from aml_magic.service.contract import models as M
from aml_magic.service.team import remote
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.remote import LinkedProject


def submit(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml experiment submit`` through the workspace: upload, submit, and (unless ``-a``)
    follow the log and exit with the run's exit code. ``-t``/``-d``/``-s`` and ``--sweep``
    go with the submit; the server checks them as a personal submit does."""
    if args.allow_unsafe_container:
        raise AmlError("experiment submit: --allow-unsafe-container is not taken in a project "
                       f"linked to a workspace ({project.url}): its targets' isolation is the "
                       "server admin's to set")
    client = remote.client_for(project)
    sweep = args.sweep or None
    run, sent = remote.submit(
        client, project, args.run_configuration, args.script, list(args.args),
        overrides={"target": args.target, "conda_dependencies_file": args.conda_dependencies,
                   "spark_dependencies_file": args.spark_dependencies},
        sweep=sweep, max_concurrent=max_concurrent_of(args) if sweep else None)
    print(f"aml: snapshot of {sent.files} files: sent {sent.blobs} new blob(s), "
          f"{sent.bytes} bytes, to {project.url} (project {project.name})", file=sys.stderr)
    run_id = str(run["run_id"])
    if args.async_ and not args.wait:
        print(run_id)
        return 0
    if sweep:                   # the stream starts with the driver's own header line
        return _follow_sweep(client, project, run_id)
    print(f"run {run_id}", file=sys.stderr)
    detail = _follow(client, project, run_id)
    if detail is None:
        return 130
    print(f"run {run_id}: {detail['status']}"
          + (f" ({detail['reason']})" if detail.get("reason") else _took(detail)),
          file=sys.stderr)
    code = detail.get("exit_code")
    return int(code) if code is not None else (0 if detail["status"] == "Completed" else 1)


def _follow_sweep(client: WorkspaceClient, project: LinkedProject, parent_id: str) -> int:
    """A sweep's progress (one line per child change) until it ends; 1 unless every child
    completed, as for a personal sweep."""
    detail = _follow(client, project, parent_id)
    if detail is None:
        return 130
    print(f"sweep {parent_id}: its child runs are listed by `aml run list` (and `aml "
          "workspace runs`)", file=sys.stderr)
    if detail["status"] != "Completed":
        print(f"sweep {parent_id}: {detail['status']}"
              + (f" ({detail['reason']})" if detail.get("reason") else ""), file=sys.stderr)
        return 1
    return 0


def _follow(client: WorkspaceClient, project: LinkedProject,
            run_id: str) -> M.RunDetailJson | None:
    settle_memory()
    write = terminal_writer(sys.stdout)

    def out(text: str) -> None:
        write(text)
        sys.stdout.flush()
    try:
        return remote.follow(client, project, run_id, out)
    except KeyboardInterrupt:
        print(f"aml: stopped following run {run_id}; it keeps running. Reattach with: "
              f"aml run logs {run_id} --follow", file=sys.stderr)
        return None


def _took(detail: M.RunJson) -> str:
    started, ended = detail.get("started_at"), detail.get("ended_at")
    if started is None or ended is None:
        return ""
    return f" ({max(0.0, ended - started):.1f} s)"


def run_list(args: argparse.Namespace, project: LinkedProject) -> int:
    runs = remote.runs(remote.client_for(project), project, status=args.status,
                       target=args.target, limit=args.limit)
    emit(args, runs, lambda: runs_table([SimpleNamespace(**r) for r in runs]))  # type: ignore[misc]
    return 0


def run_show(args: argparse.Namespace, project: LinkedProject) -> int:
    detail = remote.run(remote.client_for(project), project, args.run_id)
    emit(args, detail, lambda: run_text(detail))
    return 0


def run_logs(args: argparse.Namespace, project: LinkedProject) -> int:
    if getattr(args, "environment", False):     # the build its submit triggered, in full
        client = remote.client_for(project)
        build = client.get(f"runs/{quote(args.run_id)}/environment-log" + project.query(),
                           M.EnvironmentLogJson)
        terminal_writer(sys.stdout)(build["text"])
        sys.stdout.flush()
        return 0
    client = remote.client_for(project)
    if args.follow:
        return 0 if _follow(client, project, args.run_id) is not None else 130
    write = terminal_writer(sys.stdout)
    offset = 0
    while True:               # the whole log as it is now, a window at a time
        chunk = client.get(f"runs/{args.run_id}/log" + project.query(offset=offset),
                           M.LogChunkJson)
        write(chunk["text"])
        if not chunk["text"] or chunk["next_offset"] == offset:
            break
        offset = int(chunk["next_offset"])
    sys.stdout.flush()
    return 0


def run_wait(args: argparse.Namespace, project: LinkedProject) -> int:
    import time
    start = time.monotonic()
    detail = remote.wait(remote.client_for(project), project, args.run_id, args.timeout)
    print(f"run {detail['run_id']}: {detail['status']} after {time.monotonic() - start:.1f} s")
    return 0 if detail["status"] == "Completed" else 1


def cancel(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml run cancel`` / ``aml experiment cancel -r`` through the workspace."""
    answer = remote.cancel(remote.client_for(project), project, args.run_id)
    print(f"run {answer['run_id']}: {answer['status']}")
    return 0
