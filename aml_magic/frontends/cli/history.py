"""``aml history list|info|last|download|compare|prune|repair``: the Workbench tutorials' way to
compare runs (``az ml history ...``), and keeping the run history healthy.

``history list`` shows each run's metrics as columns (the last value of each series, the union
of names over the listed runs) from one grouped query, so it stays fast over thousands of runs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from aml_magic.domain.history import RunStore
from aml_magic.errors import AmlError
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import project_root, through_workspace, verbs, workspace
from aml_magic.frontends.cli.history_view import show_history, sorted_by_metric, terminal_width
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.cli.runs import cmd_run_show
from aml_magic.frontends.render import compare_table, format_size
from aml_magic.service.compare import comparison, history_rows, metric_names, select_records

#: ``history list`` lists every run unless ``--limit`` says otherwise (as Workbench did).
ALL_RUNS = 1 << 62


def add_history(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    history_verbs = verbs(group)
    _add_history_verbs(history_verbs)
    _add_maintenance_verbs(history_verbs)


def _add_history_verbs(sub: Any) -> None:
    p = sub.add_parser("list", help="runs with their metrics as columns, newest first")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("--sort-by", metavar="METRIC", help="order by this metric (ascending; runs "
                                                       "without it last)")
    p.add_argument("--descending", action="store_true", help="with --sort-by: largest first")
    p.add_argument("--status", type=A._status, help="only runs with this status")
    p.add_argument("-t", "--target", help="only runs on this compute target")
    p.add_argument("--limit", type=int, help="only the N newest runs (default: all)")
    p.set_defaults(handler=cmd_history_list)
    p = sub.add_parser("info", help="one run in full (same as `aml run show`)")
    A.add_project(p)
    A.add_output(p)
    _add_run_ref(p)
    p.set_defaults(handler=cmd_history_info)
    p = sub.add_parser("last", help="the newest run in full")
    A.add_project(p)
    A.add_output(p)
    p.set_defaults(handler=cmd_history_last)
    p = sub.add_parser("download", help="copy a run's outputs into a folder")
    A.add_project(p)
    _add_run_ref(p)
    p.add_argument("-d", "--directory", required=True, metavar="DIR",
                   help="where to put them (created if needed)")
    p.set_defaults(handler=cmd_history_download)
    p = sub.add_parser("compare", help="runs side by side: arguments, environment "
                                       "differences, metrics, duration")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("runs", nargs="*", metavar="RUN_ID", help="runs to compare (unique prefixes "
                                                             "will do)")
    p.add_argument("-r", "--run", dest="run_options", action="append", default=[],
                   metavar="RUN_ID", help="a run to compare, as a flag (repeat it: "
                                          "`az ml history compare -r A -r B`)")
    p.add_argument("--last", type=int, metavar="N", help="the N newest runs")
    p.add_argument("--sweep", metavar="RUN_ID", help="the child runs of this sweep, in grid "
                                                     "order")
    p.set_defaults(handler=cmd_history_compare)


def _push(args: argparse.Namespace) -> int:
    # the team client loads only for this verb, not for every history command
    from aml_magic.frontends.cli.workspace import cmd_history_push
    return cmd_history_push(args)


def _add_maintenance_verbs(sub: Any) -> None:
    p = sub.add_parser("push", help="upload this project's run history to the workspace you "
                       "are logged in to (idempotent)")
    A.add_project(p)
    p.set_defaults(handler=_push)
    p = sub.add_parser("prune", help="forget ended runs and remove their folders (dry run "
                                     "unless --yes)")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("--older-than", metavar="AGE", help="runs created before AGE ago (30d, 12h)")
    p.add_argument("--status", help="only runs that ended so (Completed, Failed, Canceled)")
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the N newest matching runs")
    p.add_argument("--yes", action="store_true", help="remove them (default: only list)")
    p.set_defaults(handler=cmd_history_prune)
    p = sub.add_parser("repair", help="rebuild a damaged history.db from the run folders "
                                      "(the damaged file is kept aside)")
    A.add_project(p)
    p.add_argument("--force", action="store_true",
                   help="rebuild even when history.db looks healthy")
    p.set_defaults(handler=cmd_history_repair)


def _add_run_ref(p: argparse.ArgumentParser) -> None:
    """RUN_ID positional or ``-r/--run`` (``az ml history info -r ID``)."""
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="run id (a unique prefix will do)")
    p.add_argument("-r", "--run", dest="run_option", metavar="RUN_ID", help="the same, as a flag")


def _run_ref(args: argparse.Namespace) -> str:
    run_id = args.run_option or args.run_id
    if not run_id:
        raise AmlError(f"history {args.verb}: name a run (RUN_ID or -r RUN_ID; see "
                       "`aml history list`)")
    return str(run_id)


def cmd_history_list(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "history_list")) is not None:
        return code
    limit = ALL_RUNS if args.limit is None else args.limit
    with RunStore(project_root(args)) as store:    # the store alone: no targets, configuration
        records = store.list_runs(status=args.status, target=args.target, limit=limit)
        if any(not r.status.is_terminal() for r in records):
            workspace(args).reconcile_active()      # live runs: ask their targets first
            records = store.list_runs(status=args.status, target=args.target, limit=limit)
        last = store.last_metric_values(r.run_id for r in records)
    names = metric_names(records, last)
    if args.sort_by:
        records = sorted_by_metric(records, last, names, args.sort_by, args.descending)
    show_history(args, records, last, names, lambda: history_rows(records, last))
    return 0


def cmd_history_info(args: argparse.Namespace) -> int:
    args.run_id = _run_ref(args)
    return _run_show(args)


def cmd_history_last(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "history_last")) is not None:
        return code
    ws = workspace(args)
    newest = ws.store.list_runs(limit=1)
    if not newest:
        raise AmlError("no runs yet in this project (submit one with `aml experiment submit`)")
    args.run_id = newest[0].run_id
    return _run_show(args)


def _run_show(args: argparse.Namespace) -> int:
    """``aml run show``, which ``history info`` and ``history last`` are."""
    return cmd_run_show(args)


def cmd_history_download(args: argparse.Namespace) -> int:
    args.run_id = _run_ref(args)
    if (code := through_workspace(args, "history_download")) is not None:
        return code
    run = workspace(args).run(args.run_id)
    outputs = run.outputs()
    if not outputs:
        raise AmlError(f"run {run.id} has no outputs (files its script wrote under "
                       "./outputs/); status " + run.record.status.value)
    dest = Path(args.directory).expanduser()
    for output in outputs:              # every one readable (no link on its path) before any copy
        os.close(run.open_output(output.path)[0])
    for done, output in enumerate(outputs):
        try:
            fd, _size = run.open_output(output.path)
        except AmlError as exc:
            raise AmlError(f"{exc} (copied {done} of {len(outputs)} output(s) to {dest})") \
                from None
        target = dest / output.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(fd, "rb") as source, open(target, "wb") as copy:
            shutil.copyfileobj(source, copy)
    total = sum(int(o.size) for o in outputs)
    print(f"downloaded {len(outputs)} output(s) of run {run.id} ({format_size(total)}) "
          f"to {dest}")
    return 0


def cmd_history_compare(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "history_compare")) is not None:
        return code
    ws = workspace(args)
    records = select_records(ws, [*args.runs, *args.run_options], last=args.last,
                             sweep=args.sweep)
    data = comparison(ws.store, records)
    rows, names, differing = data["runs"], data["metrics"], data["environment_differences"]
    emit(args, data, lambda: compare_table(rows, names, differing, width=terminal_width()))
    return 0


def cmd_history_prune(args: argparse.Namespace) -> int:
    # the maintenance verbs' modules (and dataclasses, inspect) load only for them: `history
    # list` has a 300 ms budget
    from aml_magic.domain.history.prune import parse_age, plan as prune_plan
    older = None if args.older_than is None else parse_age(args.older_than)
    with RunStore(project_root(args)) as store:
        chosen = prune_plan(store, older_than=older, status=args.status, keep_last=args.keep_last)
        total = sum(c.size for c in chosen)
        emit(args, {"removed": bool(args.yes), "total_bytes": total, "runs": [
            {"run_id": c.record.run_id, "status": c.record.status.value,
             "created_at": c.record.created_at, "bytes": c.size} for c in chosen]},
            lambda: "\n".join(
                f"{c.record.run_id}  {c.record.status.value:<9}  "
                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(c.record.created_at))}  "
                f"{format_size(c.size):>9}" for c in chosen))
        if args.yes:
            for c in chosen:
                store.delete_run(c.record.run_id)
        verb = "removed" if args.yes else "would remove"
        hint = "" if args.yes or not chosen else "; add --yes to remove them"
        print(f"{verb} {len(chosen)} run(s), {format_size(total)} ({total} bytes){hint}",
              file=sys.stderr)
    return 0


def cmd_history_repair(args: argparse.Namespace) -> int:
    # (as prune's:) rebuilding reads every run folder, `history list` never does
    from aml_magic.domain.history.repair import damage, repair
    root = project_root(args)
    if not args.force and damage(root) is None:
        print(f"{root / '.aml' / 'history.db'} is healthy: nothing to repair (--force rebuilds "
              "it from the run folders anyway; metrics of remote runs live only in it)")
        return 0
    report = repair(root)
    for path in report.kept_aside:
        print(f"kept the damaged file as {path}")
    print(f"rebuilt {report.runs} run(s), {report.metrics} metric value(s), {report.outputs} "
          "output file(s) from the run folders")
    if report.without_record:
        print(f"{len(report.without_record)} run folder(s) held no record and were rebuilt as "
              f"Failed: {', '.join(report.without_record[:10])}")
    return 0
