"""``aml``: the command line, mirroring the Workbench CLI (``computetarget``,
``runconfiguration``, ``experiment``, ``run``) plus ``init``. Expected errors print one line and
exit 2; the argument specification is shared with the magics (``arguments.py``)."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any, Callable, Sequence

from . import arguments as A
from .errors import AmlError
from .render import format_duration, format_time, record_to_dict, runs_table

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> A.ArgumentParser:
    parser = A.ArgumentParser(
        prog="aml", description="Submit scripts to compute targets and follow their runs "
        "(the Azure ML Workbench CLI verbs, self-hosted).")
    sub = parser.add_subparsers(dest="group", required=True, parser_class=A.ArgumentParser)

    p = sub.add_parser("init", help="create a project (aml_config/ and friends)")
    p.add_argument("dir", nargs="?", default=".")
    p.set_defaults(handler=cmd_init)

    ct = sub.add_parser("computetarget", help="attach, list, show, detach compute targets")
    ct_sub = ct.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
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
    p.add_argument("-n", "--name", required=True)
    p.set_defaults(handler=cmd_target_show)
    p = ct_sub.add_parser("detach", help="remove a compute target")
    A.add_project(p)
    p.add_argument("-n", "--name", required=True)
    p.set_defaults(handler=cmd_target_detach)

    rc = sub.add_parser("runconfiguration", help="create, list, show run configurations")
    rc_sub = rc.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
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
    p.add_argument("-n", "--name", required=True)
    p.set_defaults(handler=cmd_rc_show)

    sec = sub.add_parser("secret", help="keep a secret environment value in the secret store")
    sec_sub = sec.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
    p = sec_sub.add_parser("set", help="store a value; prints the reference to put in a "
                                       "run configuration's EnvironmentVariables")
    A.add_project(p)
    p.add_argument("name", help="a name for it, e.g. the variable's name")
    p.add_argument("--stdin", action="store_true", help="read the value from standard input")
    p.set_defaults(handler=cmd_secret_set)

    ex = sub.add_parser("experiment", help="submit, prepare, cancel")
    ex_sub = ex.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
    p = ex_sub.add_parser("submit", help="submit a script to a run configuration's target",
                          epilog="Options may also follow the script's arguments "
                                 "(train.py 0.5 --wait); after `--` everything goes to the script.")
    A.add_project(p)
    A.add_submit_arguments(p)
    p.set_defaults(handler=cmd_submit)
    p = ex_sub.add_parser("prepare", help="build a run configuration's environment")
    A.add_project(p)
    A.add_prepare_arguments(p)
    p.set_defaults(handler=cmd_prepare)
    p = ex_sub.add_parser("cancel", help="cancel a run")
    A.add_project(p)
    A.add_run_id(p, flag=True)
    p.set_defaults(handler=cmd_cancel)

    run = sub.add_parser("run", help="list, show, logs, wait, cancel runs")
    run_sub = run.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
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
        if verb == "wait":
            p.add_argument("--timeout", type=float, help="give up after this many seconds")
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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


# -- handlers ---------------------------------------------------------------------------------
def _workspace(args: argparse.Namespace) -> Any:
    from .workspace import Workspace
    return Workspace(getattr(args, "project", None))


def _emit(args: argparse.Namespace, data: Any, table: str) -> None:
    if getattr(args, "output", "table") == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        print(table)


def cmd_init(args: argparse.Namespace) -> int:
    from .config import init_project
    root = init_project(args.dir)
    print(f"created project {root} (aml_config/ with local and docker targets)")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
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
        docker_host=args.docker_host, on_message=print)
    print(f"attached '{compute.name}': wrote aml_config/{compute.name}.compute and "
          f"aml_config/{compute.name}.runconfig")
    return 0


def _confirm_host_key(host: str, fingerprint: str) -> bool:
    if not sys.stdin.isatty():
        return False
    print(f"The host key of {host} is {fingerprint}.")
    return input("Pin it and continue? [y/N] ").strip().lower() in ("y", "yes")


def cmd_secret_set(args: argparse.Namespace) -> int:
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
    ws = _workspace(args)
    targets = ws.targets()
    rows = [{"name": n, "type": t.type, "address": t.address or ""} for n, t in targets.items()]
    table = _table(rows, ("name", "type", "address")) if rows else "no compute targets"
    _emit(args, rows, table)
    return 0


def cmd_target_show(args: argparse.Namespace) -> int:
    from .config import compute_to_mapping
    compute = _workspace(args).config.compute(args.name)
    data = compute_to_mapping(compute)
    _emit(args, data, "\n".join(f"{k}: {v}" for k, v in data.items()))
    return 0


def cmd_target_detach(args: argparse.Namespace) -> int:
    _workspace(args).detach(args.name)
    print(f"detached '{args.name}' (removed aml_config/{args.name}.compute and its .runconfig)")
    return 0


def cmd_rc_create(args: argparse.Namespace) -> int:
    rc = _workspace(args).create_run_configuration(args.name, target=args.target,
                                                   framework=args.framework)
    print(f"created aml_config/{rc.name}.runconfig (target {rc.target})")
    return 0


def cmd_rc_list(args: argparse.Namespace) -> int:
    configs = _workspace(args).run_configurations()
    rows = [{"name": n, "target": r.target, "framework": r.framework} for n, r in configs.items()]
    table = _table(rows, ("name", "target", "framework")) if rows else "no run configurations"
    _emit(args, rows, table)
    return 0


def cmd_rc_show(args: argparse.Namespace) -> int:
    from .config import runconfig_to_mapping
    data = runconfig_to_mapping(_workspace(args).config.runconfig(args.name))
    _emit(args, data, "\n".join(f"{k}: {v}" for k, v in data.items()))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    A.split_submit_args(args)
    if not args.run_configuration:
        raise AmlError("experiment submit: -c/--run-configuration NAME is required "
                       "(see `aml runconfiguration list`)")
    ws = _workspace(args)
    run = ws.submit(args.run_configuration, args.script, args.args,
                    on_warning=lambda text: print(f"aml: warning: {text}", file=sys.stderr))
    if not args.wait:
        print(run.id)
        return 0
    print(f"run {run.id}", file=sys.stderr)
    for line in run.logs(follow=True, poll=0.05):
        sys.stdout.write(line)
        sys.stdout.flush()
    record = run.record
    if record.status.value != "Completed":
        print(f"run {run.id}: {record.status.value}"
              + (f" ({record.reason})" if record.reason else ""), file=sys.stderr)
    return record.exit_code if record.exit_code is not None else (
        0 if record.status.value == "Completed" else 1)


def cmd_prepare(args: argparse.Namespace) -> int:
    if not args.run_configuration:
        raise AmlError("experiment prepare: -c/--run-configuration NAME is required")
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
    ws = _workspace(args)
    ws.reconcile_active()
    runs = ws.runs(status=args.status, target=args.target, limit=args.limit)
    records = [r.record for r in runs]
    _emit(args, [record_to_dict(r) for r in records], runs_table(records))
    return 0


def cmd_run_show(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    run = ws.run(args.run_id)
    record = run.refresh()
    data = record_to_dict(record)
    data["metrics"] = [m.__dict__ for m in run.metrics()]
    data["outputs"] = [a.__dict__ for a in run.outputs()]
    data["log"] = str(run.folder / "log.txt")
    lines = [f"run:        {record.run_id}", f"status:     {record.status.value}",
             f"target:     {record.target} ({record.target_type})",
             f"command:    {' '.join(record.command)}",
             f"created:    {format_time(record.created_at)}",
             f"duration:   {format_duration(record.duration)}",
             f"exit code:  {record.exit_code if record.exit_code is not None else '-'}"]
    if record.reason:
        lines.append(f"reason:     {record.reason}")
    python = record.target_state.get("python")
    if isinstance(python, str):
        lines.append(f"python:     {python}")
    if record.git_commit:
        lines.append(f"git:        {record.git_commit[:12]}{' (dirty)' if record.git_dirty else ''}")
    for m in data["metrics"]:
        lines.append(f"metric:     {m['name']} = {m['value']}")
    for a in data["outputs"]:
        lines.append(f"output:     {a['path']} ({a['size']} bytes)")
    lines.append(f"log:        {data['log']}")
    if run.last_error:
        data["unreachable"] = run.last_error
        lines.append(f"note:       the target could not be reached, this is the last known "
                     f"state ({run.last_error})")
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_run_logs(args: argparse.Namespace) -> int:
    run = _workspace(args).run(args.run_id)
    build = run.folder / "build.log"      # the environment build this run's submit triggered
    if build.is_file() and not build.is_symlink():
        with open(build, "rb") as fh:
            text = fh.read(1 << 20).decode("utf-8", "replace")
        sys.stdout.write(f"--- environment build (build.log) ---\n{text}--- run log ---\n")
    for line in run.logs(follow=args.follow):
        sys.stdout.write(line)
    sys.stdout.flush()
    return 0


def cmd_run_wait(args: argparse.Namespace) -> int:
    run = _workspace(args).run(args.run_id)
    start = time.monotonic()
    status = run.wait(timeout=args.timeout)
    print(f"run {run.id}: {status.value} after {time.monotonic() - start:.1f} s")
    if not status.is_terminal():
        return 1
    return 0 if status.value == "Completed" else 1


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    head = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([head, *body])


if __name__ == "__main__":
    sys.exit(main())
