"""``aml run list|show|logs|wait|cancel``: the project's runs, one at a time or as a list."""
from __future__ import annotations

import argparse
import sys
import time

from aml_magic.errors import AmlError
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import cmd_cancel, through_workspace, verbs, workspace
from aml_magic.frontends.cli.memory import settle_memory
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import run_text, runs_table
from aml_magic.frontends.termsafe import terminal_writer
from aml_magic.service.schema import run_detail_json, run_json


def add_run(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    run_sub = verbs(group)
    p = run_sub.add_parser("list", help="recent runs, newest first")
    A.add_project(p)
    A.add_output(p)
    A.add_run_list_arguments(p)
    p.set_defaults(handler=cmd_run_list)
    for verb, handler, text in (("show", cmd_run_show, "one run in full"),
                                ("wait", cmd_run_wait, "wait for a run to end"),
                                ("cancel", cmd_cancel, "cancel a run"),
                                ("logs", cmd_run_logs, "print a run's log")):
        p = run_sub.add_parser(verb, help=text)
        A.add_project(p)
        A.add_run_id(p)
        if verb == "show":
            A.add_output(p)
        if verb == "logs":
            p.add_argument("-f", "--follow", action="store_true", help="follow until it ends")
            p.add_argument("--environment", action="store_true",
                           help="only the log of the environment build the submit triggered")
        if verb == "wait":
            p.add_argument("--timeout", type=float, help="give up after this many seconds")
        p.set_defaults(handler=handler)


def cmd_run_list(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "run_list")) is not None:
        return code
    ws = workspace(args)
    ws.reconcile_active()
    records = [r.record for r in ws.runs(status=args.status, target=args.target,
                                         limit=args.limit)]
    emit(args, [run_json(r) for r in records], lambda: runs_table(records))
    return 0


def cmd_run_show(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "run_show")) is not None:
        return code
    run = workspace(args).run(args.run_id)
    record = run.refresh()
    build_log = run.folder / "build.log"      # the environment build its submit triggered
    detail = run_detail_json(record, metrics=run.metrics(), outputs=run.outputs(),
                             log=str(run.folder / "log.txt"), unreachable=run.unreachable,
                             orphaned=run.orphaned,
                             environment_log=str(build_log) if build_log.is_file() else None)
    emit(args, detail, lambda: run_text(detail))
    return 0


def cmd_run_logs(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "run_logs")) is not None:
        return code
    run = workspace(args).run(args.run_id)
    write = terminal_writer(sys.stdout)
    build = run.folder / "build.log"      # the environment build this run's submit triggered
    if build.is_file() and not build.is_symlink():
        with open(build, "rb") as fh:
            text = fh.read(1 << 20 if not args.environment else -1).decode("utf-8", "replace")
        if args.environment:
            write(text)
            sys.stdout.flush()
            return 0
        write(f"--- environment build (build.log) ---\n{text}--- run log ---\n")
    elif args.environment:
        raise AmlError(f"run {run.id} triggered no environment build (it used one prepared "
                       "before, or its target builds none); its run log: aml run logs "
                       f"{run.id}")
    if args.follow:
        settle_memory()
    for line in run.logs(follow=args.follow):
        write(line)
    sys.stdout.flush()
    return 0


def cmd_run_wait(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "run_wait")) is not None:
        return code
    run = workspace(args).run(args.run_id)
    settle_memory()
    start = time.monotonic()
    status = run.wait(timeout=args.timeout)
    print(f"run {run.id}: {status.value} after {time.monotonic() - start:.1f} s")
    if not status.is_terminal():
        return 1
    return 0 if status.value == "Completed" else 1
