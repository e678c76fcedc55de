"""``aml computetarget``, ``aml runconfiguration`` and ``aml secret``: the project's compute
targets, run configurations and secret values (Workbench's verbs, ``-n NAME`` or NAME)."""
from __future__ import annotations

import argparse
import sys

from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli.main import _emit, _project_config, _verbs, _workspace
from aml_magic.errors import AmlError


def add_computetarget(group: argparse.ArgumentParser) -> None:
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
    from aml_magic.frontends.cli.maintenance import add_computetarget_gc, add_computetarget_secure
    add_computetarget_secure(ct_sub)
    add_computetarget_gc(ct_sub)


def add_runconfiguration(group: argparse.ArgumentParser) -> None:
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


def add_secret(group: argparse.ArgumentParser) -> None:
    sec_sub = _verbs(group)
    p = sec_sub.add_parser("set", help="store a value; prints the reference to put in a "
                                       "run configuration's EnvironmentVariables")
    A.add_project(p)
    p.add_argument("name", help="a name for it, e.g. the variable's name")
    p.add_argument("--stdin", action="store_true", help="read the value from standard input")
    p.set_defaults(handler=cmd_secret_set)


def cmd_attach(args: argparse.Namespace) -> int:
    import getpass
    ws = _workspace(args)
    values = A.attach_values(args)
    for option_name, from_stdin in A.secret_prompts(args):
        secret = (sys.stdin.readline().rstrip("\r\n") if from_stdin else
                  getpass.getpass(f"{option_name} for {args.username}@{args.address}: "))
        if not secret:
            raise AmlError(f"empty {option_name}: nothing was written")
        values[option_name] = secret
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
    ref = _workspace(args).store_secret("env", args.name, value)
    print(ref)
    print(f"use it in a .runconfig:  EnvironmentVariables: {{{args.name}: \"{ref}\"}}",
          file=sys.stderr)
    return 0


def cmd_target_list(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import table
    from aml_magic.service.schema import target_json
    targets = [target_json(t) for t in _project_config(args).compute_targets().values()]
    _emit(args, targets, lambda: table(targets, (("name", "name"), ("type", "type"),
                                                 ("address", "address")),
                                       empty="no compute targets"))
    return 0


def cmd_target_show(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import fields
    from aml_magic.service.schema import target_json
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
    from aml_magic.frontends.render import table
    from aml_magic.service.schema import runconfig_json
    configs = [runconfig_json(rc)
               for rc in _project_config(args).run_configurations().values()]
    _emit(args, configs, lambda: table(configs, (("name", "name"), ("target", "target"),
                                                 ("framework", "framework")),
                                       empty="no run configurations"))
    return 0


def cmd_rc_show(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import fields
    from aml_magic.service.schema import runconfig_json
    config = runconfig_json(_project_config(args).runconfig(A.name_of(args)))
    _emit(args, config, lambda: fields([("name", config["name"]),
                                        *config["settings"].items()]))
    return 0
