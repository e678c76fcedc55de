"""``aml experiment submit|prepare|cancel``. ``submit``, as ``az ml experiment submit``: stream
the run's output and exit with the script's exit code (``-a/--async``: print the run id and
return); ``-t``, ``-d`` and ``-s`` override the run configuration's target and dependency files
for this run only."""
from __future__ import annotations

import argparse
import sys

from aml_magic.errors import AmlError
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.common import builds, cmd_cancel, through_workspace, verbs
from aml_magic.frontends.cli.memory import settle_memory
from aml_magic.frontends.termsafe import terminal_writer
from aml_magic.service.submit_options import line_overrides
from aml_magic.service.sweep import submit_sweep
from aml_magic.service.workspace import Workspace
from aml_magic.frontends.cli import ahead
from aml_magic.targets.placement import discard_ahead, use_launcher


VERBS = ("submit", "prepare", "cancel")


def add_experiment(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    ex_sub = verbs(group)
    if builds("submit", verb, VERBS):
        p = ex_sub.add_parser("submit", help="submit a script to a run configuration's target",
                              epilog="Options may also follow the script's arguments (train.py "
                                     "0.5 --wait); after `--` everything goes to the script.")
        A.add_project(p)
        A.add_submit_arguments(p)
        p.set_defaults(handler=cmd_submit)
    if builds("prepare", verb, VERBS):
        p = ex_sub.add_parser("prepare", help="build a run configuration's environment")
        A.add_project(p)
        A.add_prepare_arguments(p)
        p.set_defaults(handler=cmd_prepare)
    if builds("cancel", verb, VERBS):
        p = ex_sub.add_parser("cancel", help="cancel a run")
        A.add_project(p)
        A.add_run_id(p, flag=True)
        p.set_defaults(handler=cmd_cancel)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.history.records import RunRecord
    from aml_magic.service.run import Run
    from aml_magic.service.workspace import Workspace


def cmd_submit(args: argparse.Namespace) -> int:
    """As ``az ml experiment submit``: stream the run's output and exit with the script's exit
    code; ``-a/--async`` prints the run id and returns. Ctrl-C stops the stream, not the run."""
    A.split_submit_args(args)
    if not args.run_configuration:
        raise AmlError("experiment submit: -c/--run-configuration NAME is required "
                       "(see `aml runconfiguration list`)")
    if (code := through_workspace(args, "submit")) is not None:
        return code
    if args.program:                    # the launcher the aml program started at its start
        use_launcher(ahead.take())      # (main) takes a local run
    ws = Workspace(args.project)
    overrides = line_overrides(ws.root, args)    # -t/-d/-s, the files checked to be in it
    if args.sweep:
        discard_ahead()
        return _submit_sweep(ws, args, overrides)
    try:
        run = ws.submit(args.run_configuration, args.script, args.args, overrides=overrides,
                        on_warning=lambda text: print(f"aml: warning: {text}", file=sys.stderr),
                        on_progress=_progress, allow_unsafe_container=args.allow_unsafe_container)
    finally:
        discard_ahead()                 # another target or interpreter did not take it
    python = run.record.target_state.python       # as the agent found it; as history info
    if args.async_ and not args.wait:
        if python:
            print(f"python: {python}", file=sys.stderr)
        print(run.id)
        return 0
    print(f"run {run.id}" + (f"\npython: {python}" if python else ""), file=sys.stderr)
    record = _follow(run, "run", "it keeps running")
    if record is None:
        return 130
    hint = record.provenance.get("hint")
    print(f"run {run.id}: {record.status.value}"            # the last line, success or not
          + (f" ({record.reason})" if record.reason else _took(record))
          + (f"; hint: {hint}" if isinstance(hint, str) and record.status.value != "Completed"
             else ""), file=sys.stderr)
    return record.exit_code if record.exit_code is not None else (
        0 if record.status.value == "Completed" else 1)


def _follow(run: Run, what: str, goes_on: str) -> RunRecord | None:
    """Stream the run's log (a sweep's: one line per child change) to stdout until it ends;
    its final record, or None when Ctrl-C stopped the stream (never the run: says how to
    reattach)."""
    settle_memory()
    write = terminal_writer(sys.stdout)
    try:
        for line in run.logs(follow=True):
            write(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        print(f"aml: stopped following {what} {run.id}; {goes_on}. Reattach with: "
              f"aml run logs {run.id} --follow", file=sys.stderr)
        return None
    return run.refresh()


def _took(record: RunRecord) -> str:
    """`` (12.3 s)``: how long the run ran, when its record knows."""
    if record.started_at is None or record.ended_at is None:
        return ""
    return f" ({max(0.0, record.ended_at - record.started_at):.1f} s)"


def _progress(line: str) -> None:
    """Preparing the run (an environment build on first use, the upload to a remote): on
    stderr, as it happens, so stdout stays the run's output (or, with -a, its id)."""
    print(f"aml: {line}", file=sys.stderr, flush=True)


def _submit_sweep(ws: Workspace, args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """``--sweep``: print the parent run's id at once; without ``-a``, stream the sweep's
    progress (one line per child change: id, arguments, status) and exit 1 unless every child
    completed. Ctrl-C stops the stream, not the sweep."""
    parent = submit_sweep(ws, args.run_configuration, args.script, args.args, args.sweep,
                          overrides=overrides,
                          allow_unsafe_container=args.allow_unsafe_container,
                          max_concurrent=A.max_concurrent_of(args))
    if args.async_ and not args.wait:
        print(parent.id)
        return 0
    # the stream starts with the driver's own header line: no second one here
    record = _follow(parent, "sweep", "it goes on")
    if record is None:
        return 130
    print(f"sweep {parent.id}: compare its child runs with `aml history compare --sweep "
          f"{parent.id}`", file=sys.stderr)
    if record.status.value != "Completed":
        print(f"sweep {parent.id}: {record.status.value}"
              + (f" ({record.reason})" if record.reason else ""), file=sys.stderr)
        return 1
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    if (code := through_workspace(args, "prepare")) is not None:
        return code
    if not args.run_configuration:
        raise AmlError("experiment prepare: -c/--run-configuration NAME is required")
    settle_memory()                     # an image build may take minutes
    result = Workspace(args.project).prepare(args.run_configuration, on_progress=print,
                                             strict=args.strict, managed=args.managed,
                                             allow_unsafe_container=args.allow_unsafe_container)
    print(f"{result.message} ({result.seconds:.2f} s)")
    return 0
