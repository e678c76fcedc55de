"""``aml computetarget``, ``aml runconfiguration`` and ``aml secret``: the project's compute
targets, run configurations and secret values (Workbench's verbs, ``-n NAME`` or NAME); with
``computetarget secure|gc``, keeping a target healthy."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from aml_magic.domain.secrets import is_reference
from aml_magic.errors import AmlError
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli import shared_targets as shared
from aml_magic.frontends.cli.common import project_config, verbs, workspace
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import fields, format_size, table
from aml_magic.service.schema import runconfig_json, target_json


def add_computetarget(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    ct_sub = verbs(group)
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
    _add_computetarget_secure(ct_sub)
    _add_computetarget_gc(ct_sub)


def add_runconfiguration(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    rc_sub = verbs(group)
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


def add_secret(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    sec_sub = verbs(group)
    p = sec_sub.add_parser("set", help="store a value; prints the reference to put in a "
                                       "run configuration's EnvironmentVariables")
    A.add_project(p)
    p.add_argument("name", help="a name for it, e.g. the variable's name")
    p.add_argument("--stdin", action="store_true", help="read the value from standard input")
    p.set_defaults(handler=cmd_secret_set)


def _add_computetarget_secure(sub: Any) -> None:
    p = sub.add_parser("secure", help="move a plaintext password of a .compute file into "
                                      "the secret store (the file keeps a reference)")
    A.add_project(p)
    p.add_argument("name", help="the compute target (its .compute file's name)")
    p.set_defaults(handler=cmd_target_secure)


def _add_computetarget_gc(sub: Any) -> None:
    p = sub.add_parser("gc", help="remove what a target keeps that no recent run uses: "
                                  "remote objects, spare trees, run folders, environment "
                                  "images (dry run unless --yes)")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("name", help="the compute target (its .compute file's name)")
    p.add_argument("--keep-days", type=float, default=None, metavar="N",
                   help="keep what runs of the last N days use (default 7); runs not ended "
                        "are always kept")
    p.add_argument("--yes", action="store_true", help="remove them (default: only list)")
    p.set_defaults(handler=cmd_target_gc)


def cmd_attach(args: argparse.Namespace) -> int:
    import getpass
    client = shared.linked(args)         # a linked project: the workspace's shared targets
    ws = workspace(args) if client is None else None
    values = A.attach_values(args)
    for option_name, from_stdin in A.secret_prompts(args):
        secret = (sys.stdin.readline().rstrip("\r\n") if from_stdin else
                  getpass.getpass(f"{option_name} for {args.username}@{args.address}: "))
        if not secret:
            raise AmlError(f"empty {option_name}: nothing was written")
        values[option_name] = secret
    if client is not None:
        return shared.attach(client, args.type, args.name, values)
    assert ws is not None
    compute = ws.attach(args.type, args.name, confirm_host_key=_confirm_host_key,
                        on_message=print, **values)
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
    ref = workspace(args).store_secret("env", args.name, value)
    print(ref)
    print(f"use it in a .runconfig:  EnvironmentVariables: {{{args.name}: \"{ref}\"}}",
          file=sys.stderr)
    return 0


def cmd_target_list(args: argparse.Namespace) -> int:
    client = shared.linked(args)
    if client is not None:
        return shared.list_targets(client, args)
    targets = [target_json(t) for t in project_config(args).compute_targets().values()]
    emit(args, targets, lambda: table(targets, (("name", "name"), ("type", "type"),
                                                ("address", "address")),
                                      empty="no compute targets"))
    return 0


def cmd_target_show(args: argparse.Namespace) -> int:
    target = target_json(project_config(args).compute(A.name_of(args)))
    emit(args, target, lambda: fields([("name", target["name"]),
                                       *target["settings"].items()]))
    return 0


def cmd_target_detach(args: argparse.Namespace) -> int:
    name = A.name_of(args)
    client = shared.linked(args)
    if client is not None:
        return shared.detach(client, name)
    workspace(args).detach(name)
    print(f"detached '{name}' (removed aml_config/{name}.compute and its .runconfig)")
    return 0


def cmd_rc_create(args: argparse.Namespace) -> int:
    rc = workspace(args).create_run_configuration(args.name, target=args.target,
                                                  framework=args.framework)
    print(f"created aml_config/{rc.name}.runconfig (target {rc.target})")
    return 0


def cmd_rc_list(args: argparse.Namespace) -> int:
    configs = [runconfig_json(rc)
               for rc in project_config(args).run_configurations().values()]
    emit(args, configs, lambda: table(configs, (("name", "name"), ("target", "target"),
                                                ("framework", "framework")),
                                      empty="no run configurations"))
    return 0


def cmd_rc_show(args: argparse.Namespace) -> int:
    config = runconfig_json(project_config(args).runconfig(A.name_of(args)))
    emit(args, config, lambda: fields([("name", config["name"]),
                                       *config["settings"].items()]))
    return 0


def cmd_target_gc(args: argparse.Namespace) -> int:
    # gc reaches into every target family (SSH stores, container images): only this verb loads it
    from aml_magic.targets import gc as target_gc
    ws = workspace(args)
    try:
        keep = target_gc.DEFAULT_KEEP_DAYS if args.keep_days is None else args.keep_days
        chosen = target_gc.plan(ws, args.name, keep_days=keep)
        emit(args, {"removed": bool(args.yes), "target": chosen.target, "keep_days": keep,
                    "total_bytes": chosen.total, "items": [
                        {"kind": i.kind, "name": i.name, "bytes": i.size}
                        for i in chosen.items]},
             lambda: "\n".join(f"{i.kind:<6}  {i.name}  {format_size(i.size):>9}"
                               for i in chosen.items))
        if args.yes:
            target_gc.remove(ws, chosen)
    finally:
        ws.close()
    verb = "removed" if args.yes else "would remove"
    hint = "" if args.yes or not chosen.items else "; add --yes to remove them"
    print(f"{verb} {len(chosen.items)} item(s) from '{chosen.target}', "
          f"{format_size(chosen.total)} ({chosen.total} bytes){hint}", file=sys.stderr)
    return 0


def cmd_target_secure(args: argparse.Namespace) -> int:
    ws = workspace(args)
    compute = ws.config.compute(args.name)
    if not compute.password or is_reference(compute.password):
        print(f"{compute.path}: no plaintext password; nothing to do")
        return 0
    ref = ws.store_secret("password", f"{compute.name}-{compute.username or 'user'}",
                          compute.password)
    compute.password = ref
    ws.bind_login(compute)
    ws.config.write_compute(compute)
    print(f"{compute.path}: the password is now in the secret store; the file holds {ref}")
    return 0
