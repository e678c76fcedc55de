"""One argument specification per verb, shared by the ``aml`` command and the magics, so the two
front ends accept the same options with the same meaning. Parsers raise ``AmlError`` (one
readable line) instead of exiting the process or the kernel."""
from __future__ import annotations

import argparse
import os
import sys

from aml_magic.domain import registry
from aml_magic.errors import AmlError, HelpShown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

STATUS_CHOICES = ("Queued", "Preparing", "Running", "Finalizing", "Completed", "Failed",
                  "Canceled")


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing ``shutil``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, the same width found without ``shutil``: ``add_argument``
    makes a formatter for every argument, and argparse's own imports ``shutil`` (with ``bz2``
    and ``lzma``, ~7 M instructions, ~3 % of ``aml experiment submit``) for the width."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of calling ``sys.exit``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exit_on_error", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._given: list[str] = []         # the arguments being parsed, for _check_value

    #: spellings whose value may begin with ``-`` (``--sbatch-option --constraint=a100``)
    dash_values: frozenset[str] = frozenset()

    def parse_known_args(self, args=None, namespace=None):
        if args is not None and self.dash_values:   # argparse would take it for an option
            joined: list[str] = []
            items = iter(list(args))
            for item in items:
                value = next(items, None) if item in self.dash_values else None
                joined.append(item if value is None else f"{item}={value}")
            args = joined
        self._given = list(args) if args is not None else []
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as exc:
            self.error(str(exc))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An unknown command or choice is one line naming it, with close matches and where to
        look (``guidance.py``: what to do instead of an ``az`` command aml does not provide),
        not argparse's bare "invalid choice"."""
        choices = action.choices
        if choices is None or value in choices:
            return
        # only on a refused value: the guidance table stays off every command's path
        from aml_magic.frontends import guidance
        if isinstance(action, argparse._SubParsersAction):
            words = [*self.prog.split()[1:], *self._given[self._given.index(value):]] \
                if value in self._given else [*self.prog.split()[1:], value]
            guided = guidance.for_aml(words) if self.prog.split()[0] == "aml" else None
            raise AmlError(guided[0] if guided else guidance.unknown(
                self.prog, str(value), choices, f"{self.prog} --help"))
        near = guidance.close_matches(str(value), map(str, choices))
        maybe = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
        name = "/".join(action.option_strings) or action.metavar or action.dest
        raise AmlError(f"{self.prog}: {name} {value!r} is not one of "
                       f"{', '.join(map(str, choices))}{maybe}")

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
    """TYPE, ``-n NAME`` and one argument per registry option (``domain/registry.py``): its
    flags, the types that take it, its kind. A ``password`` option is a masked prompt, or
    ``--<name>-stdin``; options of one ``group`` exclude each other."""
    kinds = "; ".join(f"{t.name}: {t.summary}" for t in registry.registered().values())
    parser.add_argument("type", choices=registry.attach_choices(), help=f"compute type ({kinds})")
    parser.add_argument("-n", "--name", required=True, help="target name (NAME.compute)")
    groups: dict[str, Any] = {}
    for o in registry.attach_options():
        where: Any = parser
        if o.group is not None:
            if o.group not in groups:
                groups[o.group] = parser.add_mutually_exclusive_group()
            where = groups[o.group]
        stored = f"; stored as {o.key}" if o.key and o.key != o.name else ""
        about = f"({', '.join(registry.types_of(o))}{stored})"
        if o.kind in ("flag", "password"):
            text = f"ask for {o.help} with a masked prompt" if o.kind == "password" else o.help
            where.add_argument(*o.spellings, dest=o.name, action="store_true", default=None,
                               help=f"{text} {about}")
            if o.kind == "password":
                where.add_argument(o.dashed + "-stdin", dest=o.name + "_stdin",
                                   action="store_true", help=f"read {o.help} from standard input")
            continue
        kind: dict[str, Any] = {"type": int} if o.kind == "integer" else \
            {"choices": o.choices} if o.kind == "choice" else {"metavar": o.metavar}
        where.add_argument(*o.spellings, dest=o.name, help=f"{o.help} {about}", **kind)
        if o.example.startswith("-") and isinstance(parser, ArgumentParser):
            parser.dash_values = parser.dash_values | frozenset(o.spellings)


def attach_values(ns: argparse.Namespace) -> dict[str, Any]:
    """The registry options given on the command line (a ``password`` option's value is the
    front end's to ask for: see ``secret_prompts``)."""
    return {o.name: getattr(ns, o.name) for o in registry.attach_options()
            if o.kind != "password" and getattr(ns, o.name, None) is not None}


def secret_prompts(ns: argparse.Namespace) -> list[tuple[str, bool]]:
    """(option name, from stdin) for each ``password`` option asked for on the command line."""
    return [(o.name, bool(getattr(ns, o.name + "_stdin", False)))
            for o in registry.attach_options()
            if o.kind == "password" and (getattr(ns, o.name, None)
                                         or getattr(ns, o.name + "_stdin", False))]


def add_submit_arguments(parser: argparse.ArgumentParser, *, cell: bool = False) -> None:
    parser.add_argument("-c", "--run-configuration", dest="run_configuration", metavar="NAME",
                        help="run configuration (aml_config/NAME.runconfig)")
    parser.add_argument("--wait", action="store_true",
                        help="wait for the run to end (and stream its log)")
    add_allow_unsafe(parser, "run")
    parser.add_argument("--sweep", action="append", metavar="NAME=V1,V2,...",
                        help="run the script once per combination of the values (repeat for "
                             "more parameters): child runs of one sweep run, each given "
                             "--NAME VALUE (or VALUE where an argument says {NAME})")
    parser.add_argument("--max-concurrent", dest="max_concurrent", type=int, metavar="K",
                        help="with --sweep: at most K child runs at once (default: the "
                             "target's maxConcurrentRuns; on Slurm, the array's %%K)")
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
        parser.add_argument("--force", action="store_true",
                            help="overwrite the --name file even if aml_magic did not write it")
        parser.add_argument("--out", metavar="VAR", help="store the Run in this variable")
        parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    else:
        parser.add_argument("script", help="script (.py) or notebook (.ipynb) to run, relative "
                                           "to the project")
        parser.add_argument("args", nargs=argparse.REMAINDER,
                            help="arguments for the script; a notebook's parameters: --NAME VALUE "
                                 "or --param NAME=VALUE (injected after its cell tagged "
                                 "'parameters')")


_OWN_VALUE_FLAGS = {"-c": "run_configuration", "--run-configuration": "run_configuration",
                    "--project": "project", "--name": "name", "--out": "out",
                    "-t": "target", "--target": "target", "--max-concurrent": "max_concurrent",
                    "-d": "conda_dependencies", "--conda-dependencies": "conda_dependencies",
                    "-s": "spark_dependencies", "--spark-dependencies": "spark_dependencies"}
_OWN_SWITCHES = {"--wait": "wait", "-a": "async_", "--async": "async_",
                 "--allow-unsafe-container": "allow_unsafe_container", "--force": "force"}


def max_concurrent_of(ns: argparse.Namespace) -> int | None:
    """``--max-concurrent K`` as a number (taken from the script's arguments it is text)."""
    value = getattr(ns, "max_concurrent", None)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise AmlError(f"--max-concurrent {value!r}: give a number of runs") from None


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
    parser.add_argument("--managed", action="store_true",
                        help="build the environment from conda_dependencies.yml on a local or "
                             "remote target (sets userManagedEnvironment: false in its .compute, "
                             "so runs use it)")
    parser.add_argument("--strict", action="store_true",
                        help="fail when a conda specification cannot be honoured on the target "
                             "(default: build without it and name it in a warning)")
    add_allow_unsafe(parser, "build")


def add_allow_unsafe(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--allow-unsafe-container", dest="allow_unsafe_container",
                        action="store_true",
                        help=f"honour, for this {what} only, .compute options that weaken the "
                             "container's isolation (capabilities, containerUser root, "
                             "networkMode host, a host folder such as / or ~ shared); else only "
                             "allow_unsafe_container in ~/.aml_magic/config.yml allows them")


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
        import shlex   # only for a magic's line; the CLI gets argv split (~1 % of its start)
        argv = shlex.split(line, comments=True)
    except ValueError as err:
        raise AmlError(f"{parser.prog}: cannot split the arguments: {err}") from None
    return parser.parse_args(argv)
