"""``aml history list|info|last|download|compare`` and ``aml project restore``: the Workbench
tutorials' way to compare runs (``az ml history ...``), registered in cli.py's ``GROUPS``.

``history list`` shows each run's metrics as columns (the last value of each series, the union
of names over the listed runs) from one grouped query, so it stays fast over thousands of runs.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.main import _emit, _workspace, cmd_run_show
from aml_magic.errors import AmlError

if TYPE_CHECKING:
    from aml_magic.service.contract.models import HistoryRunJson

#: ``history list`` lists every run unless ``--limit`` says otherwise (as Workbench did).
ALL_RUNS = 1 << 62


def add_history_verbs(verbs: Any) -> None:
    p = verbs.add_parser("list", help="runs with their metrics as columns, newest first")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("--sort-by", metavar="METRIC", help="order by this metric (ascending; runs "
                                                       "without it last)")
    p.add_argument("--descending", action="store_true", help="with --sort-by: largest first")
    p.add_argument("--status", type=A._status, help="only runs with this status")
    p.add_argument("-t", "--target", help="only runs on this compute target")
    p.add_argument("--limit", type=int, help="only the N newest runs (default: all)")
    p.set_defaults(handler=cmd_history_list)
    p = verbs.add_parser("info", help="one run in full (same as `aml run show`)")
    A.add_project(p)
    A.add_output(p)
    _add_run_ref(p)
    p.set_defaults(handler=cmd_history_info)
    p = verbs.add_parser("last", help="the newest run in full")
    A.add_project(p)
    A.add_output(p)
    p.set_defaults(handler=cmd_history_last)
    p = verbs.add_parser("download", help="copy a run's outputs into a folder")
    A.add_project(p)
    _add_run_ref(p)
    p.add_argument("-d", "--directory", required=True, metavar="DIR",
                   help="where to put them (created if needed)")
    p.set_defaults(handler=cmd_history_download)
    p = verbs.add_parser("compare", help="runs side by side: arguments, environment "
                                         "differences, metrics, duration")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("runs", nargs="*", metavar="RUN_ID", help="runs to compare (unique prefixes "
                                                             "will do)")
    p.add_argument("--last", type=int, metavar="N", help="the N newest runs")
    p.add_argument("--sweep", metavar="RUN_ID", help="the child runs of this sweep, in grid "
                                                     "order")
    p.set_defaults(handler=cmd_history_compare)


def add_project_group(group: argparse.ArgumentParser) -> None:
    verbs = group.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
    p = verbs.add_parser("restore", help="put back the project files a run was submitted with")
    A.add_project(p)
    p.add_argument("--run-id", "-r", dest="run_id", required=True, metavar="RUN_ID")
    p.add_argument("-d", "--directory", metavar="DIR",
                   help="restore into this folder (default: the project itself)")
    p.set_defaults(handler=cmd_project_restore)


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


def history_rows(records: list[Any], last: dict[str, dict[str, Any]]) -> list[HistoryRunJson]:
    """Runs as ``schema.history_run_json`` rows (their JSON form, what ``--query`` reads)."""
    from aml_magic.service.schema import history_run_json
    return [history_run_json(r, last.get(r.run_id, {})) for r in records]


def metric_names(records: list[Any], last: dict[str, dict[str, Any]]) -> list[str]:
    """The union of the runs' metric names, in first-seen order (newest run first)."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(last.get(record.run_id, ())))
    return list(names)


def cmd_history_list(args: argparse.Namespace) -> int:
    from aml_magic.domain.config import find_project
    from aml_magic.domain.history import RunStore
    from aml_magic.frontends.render import history_table
    limit = ALL_RUNS if args.limit is None else args.limit
    root = find_project(Path(args.project or Path.cwd()).expanduser().resolve())
    with RunStore(root) as store:    # the store alone: no workspace, targets, configuration
        records = store.list_runs(status=args.status, target=args.target, limit=limit)
        if any(not r.status.is_terminal() for r in records):
            _workspace(args).reconcile_active()      # live runs: ask their targets first
            records = store.list_runs(status=args.status, target=args.target, limit=limit)
        last = store.last_metric_values(r.run_id for r in records)
    names = metric_names(records, last)
    if args.sort_by:
        metric = args.sort_by
        if metric not in names:
            raise AmlError(f"--sort-by {metric}: no listed run logged it; metrics: "
                           + (", ".join(names) or "none"))

        def value(record: Any) -> Any:
            return last.get(record.run_id, {}).get(metric)
        have = [r for r in records if _sortable(value(r))]
        have.sort(key=value, reverse=args.descending)
        records = have + [r for r in records if not _sortable(value(r))]
    if args.output == "table" and not args.query:
        print(history_table(records, last, names))
    else:
        _emit(args, history_rows(records, last), "")
    return 0


def _sortable(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cmd_history_info(args: argparse.Namespace) -> int:
    args.run_id = _run_ref(args)
    return cmd_run_show(args)


def cmd_history_last(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    newest = ws.store.list_runs(limit=1)
    if not newest:
        raise AmlError("no runs yet in this project (submit one with `aml experiment submit`)")
    args.run_id = newest[0].run_id
    return cmd_run_show(args)


def cmd_history_download(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import format_size
    run = _workspace(args).run(_run_ref(args))
    outputs = run.outputs()
    if not outputs:
        raise AmlError(f"run {run.id} has no outputs (files its script wrote under "
                       "./outputs/); status " + run.record.status.value)
    source = run.outputs_folder
    dest = Path(args.directory).expanduser()
    gone = [o.path for o in outputs if not (source / o.path).is_file()
            or (source / o.path).is_symlink()]
    if gone:
        raise AmlError(f"run {run.id}: {len(gone)} output(s) are not in {source} any more "
                       f"({', '.join(gone[:5])}); the run folder was pruned or changed")
    for output in outputs:
        target = dest / output.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / output.path, target)
    total = sum(int(o.size) for o in outputs)
    print(f"downloaded {len(outputs)} output(s) of run {run.id} ({format_size(total)}) "
          f"to {dest}")
    return 0


def cmd_history_compare(args: argparse.Namespace) -> int:
    from aml_magic.service.compare import comparison, select_records
    from aml_magic.frontends.render import compare_table
    ws = _workspace(args)
    records = select_records(ws, args.runs, last=args.last, sweep=args.sweep)
    data = comparison(ws.store, records)
    rows, names, differing = data["runs"], data["metrics"], data["environment_differences"]
    _emit(args, data, lambda: compare_table(rows, names, differing))
    return 0


def cmd_project_restore(args: argparse.Namespace) -> int:
    from aml_magic.service.restore import restore_run
    ws = _workspace(args)
    run = ws.run(args.run_id)
    dest = Path(args.directory).expanduser().resolve() if args.directory else ws.root
    dest.mkdir(parents=True, exist_ok=True)
    written, unchanged = restore_run(run.folder / "manifest.json", run_folder=run.folder,
                                     dest=dest, project_root=ws.root,
                                     runs_root=run.folder.parent)
    print(f"restored the snapshot of run {run.id} into {dest}: {written} file(s) written, "
          f"{unchanged} already as they were")
    return 0
