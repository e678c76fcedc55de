"""``aml workspace runs``: the workspace's shared history (PostgreSQL, behind the server), newest
first or sorted by a metric, one page at a time; the next page is asked for with the cursor the
page ends with (``--after``), so page 1000 costs what page 1 does."""
from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlencode

from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import format_time, format_value, table
from aml_magic.service.contract import models as M
from aml_magic.service.team import login
from aml_magic.service.team.client import WorkspaceClient


def add_runs(sub: Any) -> None:
    p = sub.add_parser("runs", help="the workspace's shared run history (newest first, or "
                       "--sort metric:NAME)",
                       description="List the runs of the workspace you are logged in to: "
                       "submitted through its server by any member, or pushed with "
                       "`aml history push`. Each page ends with the command for the next one.")
    p.add_argument("--status", help="only runs in this status (e.g. Completed, Failed)")
    p.add_argument("--target", help="only runs on this compute target")
    p.add_argument("--sort", default="created_at", metavar="created_at|metric:NAME",
                   help="newest first (default), or by the latest value of metric NAME (runs "
                        "that never logged NAME as a number are left out)")
    p.add_argument("--order", choices=("asc", "desc"), default="desc",
                   help="for --sort metric:NAME: lowest (asc) or highest (desc, default) first")
    p.add_argument("--limit", type=int, default=50, help="runs per page (1..500)")
    p.add_argument("--after", metavar="CURSOR", help="the page after the one that printed it")
    A.add_output(p)
    p.set_defaults(handler=cmd_runs)


def query(args: argparse.Namespace) -> str:
    params = {"status": args.status, "target": args.target, "sort": args.sort,
              "order": args.order, "limit": args.limit, "after": args.after}
    return urlencode({k: v for k, v in params.items() if v is not None})


def cmd_runs(args: argparse.Namespace) -> int:
    current = login.require()
    page = WorkspaceClient(current.url, current.token()).get(
        f"workspace/runs?{query(args)}", M.WorkspaceRunPageJson)
    emit(args, page, lambda: render(args, page))
    return 0


def render(args: argparse.Namespace, page: M.WorkspaceRunPageJson) -> str:
    metric = args.sort[len("metric:"):] if args.sort.startswith("metric:") else None
    columns = [("run_id", "run id"), ("owner", "owner"), ("status", "status"),
               ("target", "target"), ("created", "created")]
    if metric is not None:
        columns.append(("value", metric))
    rows = [{**run, "created": format_time(run["created_at"]),
             "value": format_value(page["values"].get(run["run_id"]))} for run in page["runs"]]
    text = table(rows, columns, empty="no runs")
    if page.get("next"):
        after = argparse.Namespace(**{**vars(args), "after": page["next"]})
        text += "\nnext page: aml workspace runs " + _flags(after)
    return text


def _flags(args: argparse.Namespace) -> str:
    flags = []
    for name in ("status", "target", "sort", "order", "limit", "after"):
        value = getattr(args, name)
        default = {"sort": "created_at", "order": "desc", "limit": 50}.get(name)
        if value is not None and value != default:
            flags.append(f"--{name} {value}")
    return " ".join(flags)
