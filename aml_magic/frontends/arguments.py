"""One argument specification per verb, shared by the ``aml`` command and the magics, so the two
front ends accept the same options with the same meaning. Parsers raise ``AmlError`` (one
readable line) instead of exiting the process or the kernel."""
from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from aml_magic.domain.registry import attach_choices, registered
from aml_magic.errors import AmlError, HelpShown

STATUS_CHOICES = ("Queued", "Preparing", "Running", "Finalizing", "Completed", "Failed",
                  "Canceled")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of calling ``sys.exit``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exit_on_error", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as exc:
            self.error(str(exc))

    def error(self, message: str) -> NoReturn:
        raise AmlError(f"{self.prog}: {message} (see `{self.prog} -h`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise AmlError((message or f"{self.prog}: invalid arguments").strip())
        raise HelpShown(message or "")


def add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", metavar="DIR",
                        help="the project folder (default: nearest folder at or above the "
                             "current one holding aml_config/)")


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=("table", "json", "tsv"), default="table",
                        help="output format")
    parser.add_argument("--query", metavar="JMESPATH",
                        help="JMESPath query over the JSON form (as the Azure CLI's --query), "
                             "e.g. \"[?status=='Completed']\"")


def add_attach_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = "; ".join(f"{t.name}: {t.summary}" for t in registered().values())
    parser.add_argument("type", choices=attach_choices(), help=f"compute type ({kinds})")
    parser.add_argument("-n", "--name", required=True, help="target name (NAME.compute)")
    parser.add_argument("-a", "--address", help="HOST or HOST:PORT of the machine (remote, remotedocker)")
    parser.add_argument("-u", "--username", help="SSH user (remote, remotedocker)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("-w", "--password", action="store_true",
                        help="ask for the SSH password with a masked prompt")
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the SSH password from standard input")
    secret.add_argument("-k", "--use-azureml-ssh-key", dest="use_key", action="store_true",
                        help="generate an SSH key pair and print the authorized_keys line")
    secret.add_argument("--key-file", help="an existing private key file")
    parser.add_argument("--host-key-fingerprint", metavar="SHA256:...",
                        help="the SSH host key fingerprint to pin, known ahead")
    parser.add_argument("--trust-new-host-key", action="store_true",
                        help="pin the host key shown on first connection without asking")
    parser.add_argument("--base-image", help="base Docker image (docker, remotedocker)")
    parser.add_argument("--python-location", help="the interpreter on the target")
    parser.add_argument("--remote-base-dir", help="folder on the remote for runs and snapshots")
    parser.add_argument("--spark-master", metavar="URL",
                        help="spark-submit --master of a cluster target (stored as sparkMaster)")
    parser.add_argument("--yarn-deploy-mode", choices=("client", "cluster"),
                        help="spark-submit --deploy-mode (cluster; stored as yarnDeployMode)")
    parser.add_argument("--spark-submit-location", metavar="PATH",
                        help="spark-submit on the target (local, remote, cluster)")
    parser.add_argument("--shared-volumes", action="store_true", default=None,
                        help="mount the project instead of copying it (docker)")
    parser.add_argument("--nvidia-docker", action="store_true", default=None,
                        help="give the container the host's GPUs (docker)")
    parser.add_argument("--network", dest="network_mode", metavar="MODE",
                        help="Docker network of builds and runs: host, bridge, none or a "
                             "network name (docker, remotedocker; stored as networkMode)")
    parser.add_argument("--docker-host", metavar="URL",
                        help="the engine on the machine, as `docker -H URL` takes it (default: "
                             "the docker command's own; stored as dockerHost)")


def add_submit_arguments(parser: argparse.ArgumentParser, *, cell: bool = False) -> None:
    parser.add_argument("-c", "--run-configuration", dest="run_configuration", metavar="NAME",
                        help="run configuration (aml_config/NAME.runconfig)")
    parser.add_argument("--wait", action="store_true",
                        help="wait for the run to end (and stream its log)")
    parser.add_argument("--sweep", action="append", metavar="NAME=V1,V2,...",
                        help="run the script once per combination of the values (repeat for "
                             "more parameters): child runs of one sweep run, each given "
                             "--NAME VALUE (or VALUE where an argument says {NAME})")
    if not cell:
        parser.add_argument("-a", "--async", dest="async_", action="store_true",
                            help="print the run id and return (default: stream the run's "
                                 "output and exit with the script's exit code)")
        parser.add_argument("-t", "--target", metavar="TARGET",
                            help="run on this compute target instead of the runconfig's")
        parser.add_argument("-d", "--conda-dependencies", dest="conda_dependencies",
                            metavar="FILE", help="conda dependencies file (project-relative) "
                                                 "instead of the runconfig's")
        parser.add_argument("-s", "--spark-dependencies", dest="spark_dependencies",
                            metavar="FILE", help="Spark dependencies file (project-relative) "
                                                 "instead of the runconfig's")
    if cell:
        parser.add_argument("--name", metavar="FILE.py",
                            help="export the cell to this file in the project")
        parser.add_argument("--out", metavar="VAR", help="store the Run in this variable")
        parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    else:
        parser.add_argument("script", help="script to run, relative to the project")
        parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")


_OWN_VALUE_FLAGS = {"-c": "run_configuration", "--run-configuration": "run_configuration",
                    "--project": "project", "--name": "name", "--out": "out",
                    "-t": "target", "--target": "target",
                    "-d": "conda_dependencies", "--conda-dependencies": "conda_dependencies",
                    "-s": "spark_dependencies", "--spark-dependencies": "spark_dependencies"}
_OWN_SWITCHES = {"--wait": "wait", "-a": "async_", "--async": "async_"}


def split_submit_args(ns: argparse.Namespace) -> argparse.Namespace:
    """Take the submit verb's own options out of the script's arguments, so that
    ``submit -c local train.py 0.5 --wait`` works as documented; everything after ``--`` is
    passed to the script untouched (use it for script flags named like ours)."""
    script_args: list[str] = []
    items = list(ns.args)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "--":
            script_args.extend(items[i + 1:])
            break
        if item == "--sweep" and i + 1 < len(items):      # repeatable: collected in order
            ns.sweep = [*(getattr(ns, "sweep", None) or []), items[i + 1]]
            i += 1
        elif item.startswith("--sweep="):
            ns.sweep = [*(getattr(ns, "sweep", None) or []), item[len("--sweep="):]]
        elif item in _OWN_SWITCHES and hasattr(ns, _OWN_SWITCHES[item]):
            setattr(ns, _OWN_SWITCHES[item], True)
        elif item in _OWN_VALUE_FLAGS and hasattr(ns, _OWN_VALUE_FLAGS[item]) \
                and i + 1 < len(items):
            setattr(ns, _OWN_VALUE_FLAGS[item], items[i + 1])
            i += 1
        else:
            script_args.append(item)
        i += 1
    ns.args = script_args
    return ns


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--run-configuration", dest="run_configuration", metavar="NAME",
                        help="run configuration whose environment to build")
    parser.add_argument("--strict", action="store_true",
                        help="fail when a conda specification cannot be honoured on the target "
                             "(default: build without it and name it in a warning)")


def add_run_list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", type=_status, help="only runs with this status")
    parser.add_argument("-t", "--target", help="only runs on this compute target")
    parser.add_argument("--limit", type=int, default=20, help="how many runs (newest first)")


def add_name(parser: argparse.ArgumentParser, what: str) -> None:
    """NAME positional or ``-n NAME``, as ``az ml computetarget show local`` and ``... -n local``
    both work; ``name_of`` reads it."""
    parser.add_argument("name", nargs="?", metavar="NAME", help=f"the {what}")
    parser.add_argument("-n", "--name", dest="name_option", metavar="NAME",
                        help=f"the {what} (same as the positional NAME)")


def name_of(ns: argparse.Namespace) -> str:
    """The NAME given positionally or with ``-n``; one clear error when neither or both differ."""
    given = [n for n in (ns.name, ns.name_option) if n]
    if not given:
        raise AmlError("a NAME is required (positional or -n NAME)")
    if len(set(given)) > 1:
        raise AmlError(f"two different names given: '{given[0]}' and '{given[1]}'")
    return given[0]


def add_run_id(parser: argparse.ArgumentParser, *, flag: bool = False) -> None:
    if flag:
        parser.add_argument("-r", "--run", dest="run_id", required=True, metavar="RUN_ID")
    else:
        parser.add_argument("run_id", metavar="RUN_ID", help="run id (a unique prefix will do)")


def _status(text: str) -> str:
    for choice in STATUS_CHOICES:
        if text.lower() == choice.lower():
            return choice
    raise argparse.ArgumentTypeError(f"unknown status {text!r}; one of {', '.join(STATUS_CHOICES)}")


def submit_parser(prog: str = "%%aml_submit", *, cell: bool = True) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description="Submit a script or a cell to a target.")
    add_project(parser)
    add_submit_arguments(parser, cell=cell)
    return parser


def attach_parser(prog: str = "%aml_attach") -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description="Attach a compute target.")
    add_project(parser)
    add_attach_arguments(parser)
    return parser


def prepare_parser(prog: str = "%aml_prepare") -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description="Build a run configuration's environment.")
    add_project(parser)
    add_prepare_arguments(parser)
    return parser


def runs_parser(prog: str = "%aml_runs") -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description="List recent runs.")
    add_project(parser)
    add_run_list_arguments(parser)
    return parser


def run_id_parser(prog: str, description: str) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description)
    add_project(parser)
    add_run_id(parser)
    return parser


def parse_line(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """A magic's line parsed as a shell would split it (``#`` starts a comment)."""
    try:
        argv = shlex.split(line, comments=True)
    except ValueError as err:
        raise AmlError(f"{parser.prog}: cannot split the arguments: {err}") from None
    return parser.parse_args(argv)
