"""``aml``: the command line, mirroring the Workbench CLI (``computetarget``,
``runconfiguration``, ``experiment``, ``run``) plus ``init``. Expected errors print one line and
exit 2; the argument specification is shared with the magics (``arguments.py``)."""
from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import arguments as A
from .errors import AmlError

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


def _add_computetarget(group: argparse.ArgumentParser) -> None:
    ct_sub = _verbs(group)
    p = ct_sub.add_parser("attach", help="attach a compute target")
    A.add_project(p)
    A.add_attach_arguments(p)
    p.set_defaults(handler=cmd_attach)
    p = ct_sub.add_parser("list", help="list compute targets")
    A.add_project(p)
    A.add_output(p)
    p.set_defaults(handler=cmd_target_list)
    p = ct_sub.add_parser("show", help="show one compute target")
    A.add_project(p)
    A.add_output(p)
    A.add_name(p, "compute target")
    p.set_defaults(handler=cmd_target_show)
    p = ct_sub.add_parser("detach", help="remove a compute target")
    A.add_project(p)
    A.add_name(p, "compute target")
    p.set_defaults(handler=cmd_target_detach)
    from .cli_maintenance import add_computetarget_gc, add_computetarget_secure
    add_computetarget_secure(ct_sub)
    add_computetarget_gc(ct_sub)


def _add_runconfiguration(group: argparse.ArgumentParser) -> None:
    rc_sub = _verbs(group)
    p = rc_sub.add_parser("create", help="create a run configuration for a target")
    A.add_project(p)
    p.add_argument("-n", "--name", required=True)
    p.add_argument("-t", "--target", required=True)
    p.add_argument("--framework", choices=("Python", "PySpark"), default="Python")
    p.set_defaults(handler=cmd_rc_create)
    p = rc_sub.add_parser("list", help="list run configurations")
    A.add_project(p)
    A.add_output(p)
    p.set_defaults(handler=cmd_rc_list)
    p = rc_sub.add_parser("show", help="show one run configuration")
    A.add_project(p)
    A.add_output(p)
    A.add_name(p, "run configuration")
    p.set_defaults(handler=cmd_rc_show)


def _add_secret(group: argparse.ArgumentParser) -> None:
    sec_sub = _verbs(group)
    p = sec_sub.add_parser("set", help="store a value; prints the reference to put in a "
                                       "run configuration's EnvironmentVariables")
    A.add_project(p)
    p.add_argument("name", help="a name for it, e.g. the variable's name")
    p.add_argument("--stdin", action="store_true", help="read the value from standard input")
    p.set_defaults(handler=cmd_secret_set)


def _add_experiment(group: argparse.ArgumentParser) -> None:
    ex_sub = _verbs(group)
    p = ex_sub.add_parser("submit", help="submit a script to a run configuration's target",
                          epilog="Options may also follow the script's arguments "
                                 "(train.py 0.5 --wait); after `--` everything goes to the script.")
    A.add_project(p)
    A.add_submit_arguments(p)
    from .cli_submit import cmd_submit
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
    from .cli_history import add_history_verbs
    from .cli_maintenance import add_history
    add_history(group, more=add_history_verbs)


def _add_project(group: argparse.ArgumentParser) -> None:
    from .cli_history import add_project_group
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
    from .diagnostics import configure_logging, report_unexpected
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
def _workspace(args: argparse.Namespace) -> Any:
    from .workspace import Workspace
    return Workspace(getattr(args, "project", None))


def _project_config(args: argparse.Namespace) -> Any:
    """The project's ``aml_config/`` alone, for commands that only read it: no run history
    (SQLite), no targets are loaded. Finds the project as ``Workspace`` does."""
    from pathlib import Path

    from .config import ProjectConfig, find_project
    start = Path(getattr(args, "project", None) or Path.cwd())
    return ProjectConfig(find_project(start.expanduser().resolve()))


def _emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print a command's result in the format asked for (``cli_output.emit``)."""
    from .cli_output import emit
    emit(args, data, text)


def cmd_init(args: argparse.Namespace) -> int:
    from .project_adopt import init_or_adopt
    adoption = init_or_adopt(args.dir)
    if adoption.created_config:
        print(f"created project {adoption.root} (aml_config/ with local and docker targets)")
    else:
        print(f"adopted project {adoption.root} (its aml_config/ is kept as it is)")
    print(adoption.summary())
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    import getpass
    ws = _workspace(args)
    password = None
    if args.password:
        password = getpass.getpass(f"password for {args.username}@{args.address}: ")
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if password is not None and not password:
        raise AmlError("empty password: nothing was written")
    compute = ws.attach(
        args.type, args.name, address=args.address, username=args.username, password=password,
        use_key=args.use_key, key_file=args.key_file,
        host_key_fingerprint=args.host_key_fingerprint,
        trust_new_host_key=args.trust_new_host_key, confirm_host_key=_confirm_host_key,
        base_image=args.base_image, python_location=args.python_location,
        shared_volumes=args.shared_volumes, nvidia_docker=args.nvidia_docker,
        remote_base_dir=args.remote_base_dir, network_mode=args.network_mode,
        docker_host=args.docker_host, spark_master=args.spark_master,
        yarn_deploy_mode=args.yarn_deploy_mode,
        spark_submit_location=args.spark_submit_location, on_message=print)
    print(f"attached '{compute.name}': wrote aml_config/{compute.name}.compute and "
          f"aml_config/{compute.name}.runconfig")
    return 0


def _confirm_host_key(host: str, fingerprint: str) -> bool:
    if not sys.stdin.isatty():
        return False
    print(f"The host key of {host} is {fingerprint}.")
    return input("Pin it and continue? [y/N] ").strip().lower() in ("y", "yes")


def cmd_secret_set(args: argparse.Namespace) -> int:
    import getpass
    value = (sys.stdin.readline().rstrip("\r\n") if args.stdin
             else getpass.getpass(f"value for {args.name}: "))
    if not value:
        raise AmlError("empty value: nothing was stored")
    ref = _workspace(args).store_secret("env", args.name, value)
    print(ref)
    print(f"use it in a .runconfig:  EnvironmentVariables: {{{args.name}: \"{ref}\"}}",
          file=sys.stderr)
    return 0


def cmd_target_list(args: argparse.Namespace) -> int:
    from .render import table
    from .schema import target_json
    targets = [target_json(t) for t in _project_config(args).compute_targets().values()]
    _emit(args, targets, lambda: table(targets, (("name", "name"), ("type", "type"),
                                                 ("address", "address")),
                                       empty="no compute targets"))
    return 0


def cmd_target_show(args: argparse.Namespace) -> int:
    from .render import fields
    from .schema import target_json
    target = target_json(_project_config(args).compute(A.name_of(args)))
    _emit(args, target, lambda: fields([("name", target["name"]),
                                        *target["settings"].items()]))
    return 0


def cmd_target_detach(args: argparse.Namespace) -> int:
    name = A.name_of(args)
    _workspace(args).detach(name)
    print(f"detached '{name}' (removed aml_config/{name}.compute and its .runconfig)")
    return 0


def cmd_rc_create(args: argparse.Namespace) -> int:
    rc = _workspace(args).create_run_configuration(args.name, target=args.target,
                                                   framework=args.framework)
    print(f"created aml_config/{rc.name}.runconfig (target {rc.target})")
    return 0


def cmd_rc_list(args: argparse.Namespace) -> int:
    from .render import table
    from .schema import runconfig_json
    configs = [runconfig_json(rc)
               for rc in _project_config(args).run_configurations().values()]
    _emit(args, configs, lambda: table(configs, (("name", "name"), ("target", "target"),
                                                 ("framework", "framework")),
                                       empty="no run configurations"))
    return 0


def cmd_rc_show(args: argparse.Namespace) -> int:
    from .render import fields
    from .schema import runconfig_json
    config = runconfig_json(_project_config(args).runconfig(A.name_of(args)))
    _emit(args, config, lambda: fields([("name", config["name"]),
                                        *config["settings"].items()]))
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
    from .render import runs_table
    from .schema import run_json
    ws = _workspace(args)
    ws.reconcile_active()
    records = [r.record for r in ws.runs(status=args.status, target=args.target,
                                         limit=args.limit)]
    _emit(args, [run_json(r) for r in records], lambda: runs_table(records))
    return 0


def cmd_run_show(args: argparse.Namespace) -> int:
    from .render import run_text
    from .schema import run_detail_json
    run = _workspace(args).run(args.run_id)
    record = run.refresh()
    build_log = run.folder / "build.log"      # the environment build its submit triggered
    detail = run_detail_json(record, metrics=run.metrics(), outputs=run.outputs(),
                             log=str(run.folder / "log.txt"), unreachable=run.last_error,
                             environment_log=str(build_log) if build_log.is_file() else None)
    _emit(args, detail, lambda: run_text(detail))
    return 0


def cmd_run_logs(args: argparse.Namespace) -> int:
    from .termsafe import terminal_writer
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


#: Command group -> (help, adds its verbs to the group's parser).
GROUPS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "init": ("create a project (aml_config/ and friends)", _add_init),
    "computetarget": ("attach, list, show, detach, secure, gc compute targets", _add_computetarget),
    "runconfiguration": ("create, list, show run configurations", _add_runconfiguration),
    "secret": ("keep a secret environment value in the secret store", _add_secret),
    "experiment": ("submit, prepare, cancel", _add_experiment),
    "run": ("list, show, logs, wait, cancel runs", _add_run),
    "history": ("list, info, last, download, compare runs; prune, repair the history",
                _add_history),
    "project": ("restore the project files of a run", _add_project),
}

if __name__ == "__main__":
    sys.exit(main())
