"""The CLI's submit, run and history verbs in a project linked to a workspace (``aml workspace link``):
the same verbs and the same output, through the server as the logged-in member. A project that
is not linked never gets here (``linked`` is None) and works offline as before."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from urllib.parse import quote

from aml_magic.errors import AmlError, ApiError
from aml_magic.frontends.arguments import max_concurrent_of
from aml_magic.frontends.cli.memory import settle_memory
from aml_magic.frontends.cli.history_view import show_history, sorted_by_metric, terminal_width
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.cli.restore_output import confirm_overwrite, report_restored
from aml_magic.frontends.render import compare_table, format_size, run_text, runs_table
from aml_magic.frontends.termsafe import terminal_writer
from aml_magic.service.restore import apply_restore
from aml_magic.service.team import remote, snapshot_restore
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.remote import LinkedProject

TYPE_CHECKING = False
if TYPE_CHECKING:       # the contract's shapes, for the type checker: the CLI skips ~7 ms
    from aml_magic.service.contract import models as M


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
    print(f"sweep {parent_id}: compare its child runs with `aml history compare --sweep "
          f"{parent_id}`", file=sys.stderr)
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
    """The run's log, after the environment build its submit triggered (if any) under the
    header a personal project prints; ``--environment``: that build's log alone."""
    client = remote.client_for(project)
    write = terminal_writer(sys.stdout)
    if getattr(args, "environment", False):     # the build its submit triggered, in full
        build: M.EnvironmentLogJson = client.request(
            "GET", f"runs/{quote(args.run_id)}/environment-log" + project.query())
        write(build["text"])
        sys.stdout.flush()
        return 0
    try:
        build = client.request(
            "GET", f"runs/{quote(args.run_id)}/environment-log" + project.query())
    except ApiError as exc:
        if exc.status != 404:          # 404: no build (or no such run: the log says so)
            raise
    else:
        write(f"--- environment build (build.log) ---\n{build['text'][:1 << 20]}"
              "--- run log ---\n")
        sys.stdout.flush()
    if args.follow:
        return 0 if _follow(client, project, args.run_id) is not None else 130
    offset = 0
    while True:               # the whole log as it is now, a window at a time
        chunk: M.LogChunkJson = client.request(
            "GET", f"runs/{quote(args.run_id)}/log" + project.query(offset=offset))
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


def history_list(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml history list`` of the workspace's runs of this project: metrics as columns, as a
    personal one (the server keeps each run's last values)."""
    runs, last = remote.history(remote.client_for(project), project, status=args.status,
                                target=args.target, limit=args.limit)
    records = [SimpleNamespace(**r) for r in runs]
    names = list(dict.fromkeys(name for r in runs for name in last.get(r["run_id"], {})))
    if args.sort_by:
        records = sorted_by_metric(records, last, names, args.sort_by, args.descending)

    def rows() -> list[dict[str, object]]:
        listed = []
        for record in records:
            row: dict[str, object] = dict(vars(record))
            row["arguments"] = [str(a) for a in record.command[1:]]
            row["metrics"] = metrics = dict(last.get(record.run_id, {}))
            for name, value in metrics.items():
                row.setdefault(name, value)
            listed.append(row)
        return listed
    show_history(args, records, last, names, rows)
    return 0


def history_last(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml history last``: the newest of the workspace's runs of this project in full."""
    newest = remote.runs(remote.client_for(project), project, status=None, target=None,
                         limit=1)
    if not newest:
        raise AmlError(f"no runs yet in this project on {project.url} (submit one with `aml "
                       "experiment submit`)")
    args.run_id = newest[0]["run_id"]
    return run_show(args, project)


def history_download(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml history download``: the run's outputs from the server into ``-d DIR``."""
    client = remote.client_for(project)
    detail = remote.run(client, project, args.run_id)
    outputs = detail["outputs"]
    if not outputs:
        raise AmlError(f"run {detail['run_id']} has no outputs (files its script wrote under "
                       f"./outputs/); status {detail['status']}")
    dest = Path(args.directory).expanduser()
    for output in outputs:          # every name a plain relative path before any copy
        parts = PurePosixPath(output["path"]).parts
        if not parts or parts[0] == "/" or any(p in ("", ".", "..") for p in parts):
            raise AmlError(f"{project.url} named an output {output['path']!r} outside the "
                           "run's outputs; nothing was downloaded")
    total = 0
    for done, output in enumerate(outputs):
        target = dest.joinpath(*PurePosixPath(output["path"]).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            total += remote.download(client, project, detail["run_id"], output["path"],
                                     target)
        except AmlError as exc:
            raise AmlError(f"{exc} (copied {done} of {len(outputs)} output(s) to {dest})") \
                from None
    print(f"downloaded {len(outputs)} output(s) of run {detail['run_id']} "
          f"({format_size(total)}) to {dest}")
    return 0


def history_compare(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml history compare``: the runs side by side, as the server compares them."""
    run_ids = [*args.runs, *args.run_options]
    given = [name for name, used in (("RUN_ID...", bool(run_ids)),
                                     ("--last N", args.last is not None),
                                     ("--sweep ID", args.sweep is not None)) if used]
    if len(given) != 1:
        raise AmlError("history compare: " + (
            f"give one of run ids, --last N or --sweep ID, not {' and '.join(given)}"
            if given else "name runs (RUN_ID...), --last N or --sweep ID"))
    client = remote.client_for(project)
    if args.last is not None:
        if args.last < 1:
            raise AmlError("history compare: --last N needs N >= 1")
        run_ids = [r["run_id"] for r in remote.runs(client, project, status=None, target=None,
                                                    limit=args.last)]
        if not run_ids:
            raise AmlError(f"no runs yet in this project on {project.url}")
    data = remote.compare(client, project, run_ids, args.sweep)
    rows, names, differing = data["runs"], data["metrics"], data["environment_differences"]
    emit(args, data, lambda: compare_table(rows, names, differing,
                                           width=terminal_width()))
    return 0


def prepare(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml experiment prepare -c NAME`` on the server: the project uploaded as a submit
    would, then the environment its target needs built there, its progress printed as it
    comes. The target's isolation and how it builds are the admin's: --managed, --strict and
    --allow-unsafe-container are refused here."""
    given = [flag for flag, on in (("--managed", args.managed), ("--strict", args.strict),
                                   ("--allow-unsafe-container", args.allow_unsafe_container))
             if on]
    if given:
        raise AmlError(f"experiment prepare: {' and '.join(given)} is not taken in a project "
                       f"linked to a workspace ({project.url}): how the workspace's targets "
                       "build is the server admin's to set")
    if not args.run_configuration:
        raise AmlError("experiment prepare: -c/--run-configuration NAME is required")
    settle_memory()                     # an image build may take minutes
    write = terminal_writer(sys.stdout)

    def out(text: str) -> None:
        write(text)
        sys.stdout.flush()
    job = remote.prepare(remote.client_for(project), project, args.run_configuration, out)
    if job["state"] != "succeeded":
        raise AmlError(f"experiment prepare on {project.url}: {job['message']}")
    took = max(0.0, (job["ended_at"] or job["started_at"]) - job["started_at"])
    print(f"{job['message']} ({took:.2f} s)")
    return 0


def restore(args: argparse.Namespace, project: LinkedProject) -> int:
    """``aml project restore -r ID [-d DIR] [--yes]`` from the workspace: the run's snapshot as
    the server's history kept it, each file fetched, verified by its sha256 and staged before
    the first is written; the personal verb's checks and questions (``snapshot_restore``)."""
    dest = Path(args.directory).expanduser().resolve() if args.directory else project.root
    dest.mkdir(parents=True, exist_ok=True)
    with snapshot_restore.fetched(remote.client_for(project), project, args.run_id,
                                  dest) as got:
        plan = got.plan
        if plan.overwrites and not args.yes and not confirm_overwrite(plan.overwrites, dest):
            return 2
        report_restored(got.run_id, dest, apply_restore(got.manifest, plan, dest), plan)
    if got.server_owned:
        print(f"left out {got.server_owned} file(s) of the workspace's own (its shared "
              "targets in aml_config/)")
    return 0
