"""``aml``: the command line, mirroring the Workbench CLI (``computetarget``,
``runconfiguration``, ``experiment``, ``run``) plus ``init``. Expected errors print one line and
exit 2; the argument specification is shared with the magics (``arguments.py``)."""
from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aml_magic.frontends import arguments as A
from aml_magic.errors import AmlError

if TYPE_CHECKING:
    from aml_magic.domain.config import ProjectConfig
    from aml_magic.service.workspace import Workspace

# Only what every command needs is imported here: the workspace, the run history, the
# configuration parser and the presentation modules load inside the handlers that use them.

Handler = Callable[[argparse.Namespace], int]


def build_parser(only: str | None = None) -> A.ArgumentParser:
    """The ``aml`` parser. With ``only`` (a command group such as ``experiment``), the other
    groups are listed but their verbs are not built: a command pays only for its own parser."""
    parser = A.ArgumentParser(
        prog="aml", description="Submit scripts to compute targets and follow their runs "
        "(the Azure ML Workbench CLI verbs, self-hosted).",
        epilog="`aml --debug ...` shows library tracebacks and debug logging.")
    sub = parser.add_subparsers(dest="group", required=True, parser_class=A.ArgumentParser)
    for name, (text, add_verbs) in GROUPS.items():
        group = sub.add_parser(name, help=text)
        if only is None or only == name:
            add_verbs(group)
    return parser


def _verbs(group: argparse.ArgumentParser) -> Any:
    return group.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)


def _add_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", default=".")
    p.set_defaults(handler=cmd_init)


def _add_experiment(group: argparse.ArgumentParser) -> None:
    ex_sub = _verbs(group)
    p = ex_sub.add_parser("submit", help="submit a script to a run configuration's target",
                          epilog="Options may also follow the script's arguments "
                                 "(train.py 0.5 --wait); after `--` everything goes to the script.")
    A.add_project(p)
    A.add_submit_arguments(p)
    from aml_magic.frontends.cli.submit import cmd_submit
    p.set_defaults(handler=cmd_submit)
    p = ex_sub.add_parser("prepare", help="build a run configuration's environment")
    A.add_project(p)
    A.add_prepare_arguments(p)
    p.set_defaults(handler=cmd_prepare)
    p = ex_sub.add_parser("cancel", help="cancel a run")
    A.add_project(p)
    A.add_run_id(p, flag=True)
    p.set_defaults(handler=cmd_cancel)


def _add_history(group: argparse.ArgumentParser) -> None:
    from aml_magic.frontends.cli.history import add_history_verbs
    from aml_magic.frontends.cli.maintenance import add_history
    add_history(group, more=add_history_verbs)


def _add_project(group: argparse.ArgumentParser) -> None:
    from aml_magic.frontends.cli.history import add_project_group
    add_project_group(group)


def _add_run(group: argparse.ArgumentParser) -> None:
    run_sub = _verbs(group)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``aml`` command; returns its exit code.

    As the ``aml`` program (``argv`` None), the cyclic garbage collector is paused while the
    command starts (its passes over the objects every import creates cost more than the
    command's own work) and resumed before anything long-running (``settle_memory``); what
    exists at the end is frozen, so the interpreter's exit does not walk it again. Called with
    ``argv`` from Python, the caller's collector is left alone."""
    if argv is not None:
        return _run(list(argv))
    gc.disable()
    try:
        return _run(sys.argv[1:], program=True)
    finally:
        settle_memory()


def settle_memory() -> None:
    """Before waiting or streaming for long: resume garbage collection, skipping what start-up
    created (frozen: it lives until exit anyway). Only where ``main`` paused it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _run(args_list: list[str], *, program: bool = False) -> int:
    """``program``: this process is the ``aml`` program, so it owns logging and the thread
    exception hook (not so when a caller runs ``main(argv)`` from Python)."""
    debug = bool(args_list) and args_list[0] == "--debug"
    if debug:
        args_list = args_list[1:]
    from aml_magic.frontends.cli.diagnostics import configure_logging, report_unexpected
    if program:
        configure_logging(debug=debug)
    parser = build_parser(args_list[0] if args_list and args_list[0] in GROUPS else None)
    try:
        args = parser.parse_args(args_list)
        return int(args.handler(args) or 0)
    except A.HelpShown as shown:
        if str(shown):
            print(shown)
        return 0
    except AmlError as exc:
        print(f"aml: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:         # a library's or our own bug: one line unless --debug
        return report_unexpected(exc, debug=debug)


# -- handlers ---------------------------------------------------------------------------------
def _workspace(args: argparse.Namespace) -> Workspace:
    from aml_magic.service.workspace import Workspace
    return Workspace(getattr(args, "project", None))


def _project_config(args: argparse.Namespace) -> ProjectConfig:
    """The project's ``aml_config/`` alone, for commands that only read it: no run history
    (SQLite), no targets are loaded. Finds the project as ``Workspace`` does."""
    from pathlib import Path

    from aml_magic.domain.config import ProjectConfig, find_project
    start = Path(getattr(args, "project", None) or Path.cwd())
    return ProjectConfig(find_project(start.expanduser().resolve()))


def _emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print a command's result in the format asked for (``cli_output.emit``)."""
    from aml_magic.frontends.cli.output import emit
    emit(args, data, text)


def cmd_init(args: argparse.Namespace) -> int:
    from aml_magic.service.project_adopt import init_or_adopt
    adoption = init_or_adopt(args.dir)
    if adoption.created_config:
        print(f"created project {adoption.root} (aml_config/ with local and docker targets)")
    else:
        print(f"adopted project {adoption.root} (its aml_config/ is kept as it is)")
    print(adoption.summary())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    if not args.run_configuration:
        raise AmlError("experiment prepare: -c/--run-configuration NAME is required")
    settle_memory()                     # an image build may take minutes
    result = _workspace(args).prepare(args.run_configuration, on_progress=print,
                                      strict=args.strict)
    print(f"{result.message} ({result.seconds:.2f} s)")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    run = ws.run(args.run_id)
    status = run.cancel()
    print(f"run {run.id}: {status.value}")
    return 0


def cmd_run_list(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import runs_table
    from aml_magic.service.schema import run_json
    ws = _workspace(args)
    ws.reconcile_active()
    records = [r.record for r in ws.runs(status=args.status, target=args.target,
                                         limit=args.limit)]
    _emit(args, [run_json(r) for r in records], lambda: runs_table(records))
    return 0


def cmd_run_show(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import run_text
    from aml_magic.service.schema import run_detail_json
    run = _workspace(args).run(args.run_id)
    record = run.refresh()
    build_log = run.folder / "build.log"      # the environment build its submit triggered
    detail = run_detail_json(record, metrics=run.metrics(), outputs=run.outputs(),
                             log=str(run.folder / "log.txt"), unreachable=run.last_error,
                             environment_log=str(build_log) if build_log.is_file() else None)
    _emit(args, detail, lambda: run_text(detail))
    return 0


def cmd_run_logs(args: argparse.Namespace) -> int:
    from aml_magic.frontends.termsafe import terminal_writer
    run = _workspace(args).run(args.run_id)
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
    run = _workspace(args).run(args.run_id)
    settle_memory()
    start = time.monotonic()
    status = run.wait(timeout=args.timeout)
    print(f"run {run.id}: {status.value} after {time.monotonic() - start:.1f} s")
    if not status.is_terminal():
        return 1
    return 0 if status.value == "Completed" else 1


def _from(module: str, name: str) -> Callable[[argparse.ArgumentParser], None]:
    """A group's parser builder kept in another module, imported only when that group is
    the one invoked (``build_parser(only=...)``) or when all are built (``--help``)."""
    def add(group: argparse.ArgumentParser) -> None:
        import importlib
        getattr(importlib.import_module(f"aml_magic.frontends.cli.{module}"), name)(group)
    return add


#: Command group -> (help, adds its verbs to the group's parser).
GROUPS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "init": ("create a project (aml_config/ and friends)", _add_init),
    "computetarget": ("attach, list, show, detach, secure, gc compute targets",
                      _from("targets", "add_computetarget")),
    "runconfiguration": ("create, list, show run configurations",
                         _from("targets", "add_runconfiguration")),
    "secret": ("keep a secret environment value in the secret store",
               _from("targets", "add_secret")),
    "experiment": ("submit, prepare, cancel", _add_experiment),
    "run": ("list, show, logs, wait, cancel runs", _add_run),
    "history": ("list, info, last, download, compare runs; prune, repair the history",
                _add_history),
    "project": ("restore the project files of a run", _add_project),
}

if __name__ == "__main__":
    sys.exit(main())
