"""``aml``: the command line, mirroring the Workbench CLI (``computetarget``,
``runconfiguration``, ``experiment``, ``run``) plus ``init``. Expected errors print one line and
exit 2; the argument specification is shared with the magics (``arguments.py``).

Each command group lives in its own module (``GROUPS``), imported only when that group runs (or
for ``aml --help``): a command pays for its own group's imports, not for the others'."""
from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from aml_magic.errors import AmlError, HelpShown
from aml_magic.frontends import arguments as A
from aml_magic.frontends.cli import ahead
from aml_magic.frontends.cli.memory import settle_memory
from aml_magic.frontends.cli.diagnostics import configure_logging, report_unexpected
from aml_magic.frontends.termsafe import guard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.agent import SpawnedLauncher


def build_parser(only: str | None = None, verb: str | None = None) -> A.ArgumentParser:
    """The ``aml`` parser. With ``only`` (a command group such as ``experiment``), the other
    groups are not built, and with ``verb`` (``submit``) a group that knows the verb builds it
    alone: a command pays only for its own parser (argparse looks up its translations for
    every parser it makes)."""
    parser = A.ArgumentParser(
        prog="aml", description="Submit scripts to compute targets and follow their runs "
        "(the Azure ML Workbench CLI verbs, self-hosted).",
        epilog="`aml --debug ...` shows library tracebacks and debug logging.")
    sub = parser.add_subparsers(dest="group", required=True, parser_class=A.ArgumentParser)
    for name, (text, module, adder) in GROUPS.items():
        if only is None or only == name:
            group = sub.add_parser(name, help=text)
            getattr(_group_module(module), adder)(
                group, verb)
    return parser


def _group_module(module: str) -> ModuleType:
    """A command group's module, imported on first use (``importlib.import_module`` without
    importing ``importlib``, whose package is ~0.3 % of a CLI start)."""
    name = f"aml_magic.frontends.cli.{module}"
    __import__(name)
    return sys.modules[name]


def main(argv: Sequence[str] | None = None, *, launcher: SpawnedLauncher | None = None) -> int:
    """Run one ``aml`` command; returns its exit code.

    As the ``aml`` program (``argv`` None), the cyclic garbage collector is paused while the
    command starts (its passes over the objects every import creates cost more than the
    command's own work) and resumed before anything long-running (``settle_memory``); what
    exists at the end is frozen, and the program ends without the interpreter's teardown
    (``_end``). Called with ``argv`` from Python, the caller's collector is left alone.
    ``launcher``: the one ``program.run`` spawned for an ``experiment submit`` (``ahead.py``)."""
    if argv is not None:
        return _run(list(argv))
    gc.disable()
    if launcher is not None:
        ahead.start(sys.argv[1:], launcher)
    _skip_empty_translation_lookups()
    try:
        code = _run(sys.argv[1:], program=True)
    finally:
        settle_memory()
    return _end(code)


def _skip_empty_translation_lookups() -> None:
    """argparse looks up a translation of each of its messages (gettext's current domain),
    and the first lookup imports ``locale`` (~3 ms of every command). Where that domain's
    catalog folder does not exist, no translation can be found, whatever the language: the
    aml program then skips the lookups, with the result gettext would give (the message
    itself; ngettext's singular or plural)."""
    import argparse
    import gettext
    if os.path.isdir(gettext.bindtextdomain(gettext.textdomain())):
        return
    argparse._ = _untranslated                  # type: ignore[attr-defined]
    argparse.ngettext = _untranslated_n         # type: ignore[attr-defined]


def _untranslated(message: str) -> str:
    return message


def _untranslated_n(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _end(code: int) -> int:
    """The ``aml`` program's exit, without the interpreter's teardown (it unwinds every
    imported module: a few ms on every command) when nothing but this thread is left: output
    is flushed and the exit hooks (open SSH connections) run first, as they would."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return code                 # a thread still to be joined: the ordinary exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _run(args_list: list[str], *, program: bool = False) -> int:
    """``program``: this process is the ``aml`` program, so it owns logging and the thread
    exception hook (not so when a caller runs ``main(argv)`` from Python). Everything the
    command prints passes ``termsafe.guard`` (run-written text never acts on the terminal)."""
    with guard():
        return _guarded(args_list, program=program)


def _guarded(args_list: list[str], *, program: bool) -> int:
    debug = bool(args_list) and args_list[0] == "--debug"
    if debug:
        args_list = args_list[1:]
    if program:
        configure_logging(debug=debug)
    only = args_list[0] if args_list and args_list[0] in GROUPS else None
    parser = build_parser(only, args_list[1] if only and len(args_list) > 1 else None)
    try:
        args = parser.parse_args(args_list)
        args.program = program          # this process ends with the command (see experiment)
        return int(args.handler(args) or 0)
    except HelpShown as shown:
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


#: Command group -> (help, its module under ``aml_magic.frontends.cli``, the function there that
#: adds its verbs to the group's parser).
GROUPS: dict[str, tuple[str, str, str]] = {
    "init": ("create a project (aml_config/ and friends)", "project", "add_init"),
    "computetarget": ("attach, list, show, detach, secure, gc compute targets",
                      "targets", "add_computetarget"),
    "runconfiguration": ("create, list, show run configurations",
                         "targets", "add_runconfiguration"),
    "secret": ("keep a secret environment value in the secret store", "targets", "add_secret"),
    "experiment": ("submit, prepare, cancel", "experiment", "add_experiment"),
    "run": ("list, show, logs, wait, cancel runs", "runs", "add_run"),
    "history": ("list, info, last, download, compare runs; prune, repair the history",
                "history", "add_history"),
    "project": ("restore the project files of a run", "project", "add_project_group"),
    "compat": ("Workbench compatibility: install-az (`az ml ...` runs `aml ...`)", "compat",
               "add_compat"),
    "kernel": ("install Jupyter kernels that load aml_magic (one per run configuration)",
               "kernel", "add_kernel"),
    "doctor": ("find what keeps the project's notebooks from running as they are",
               "doctor", "add_doctor"),
    "server": ("init, start, migrate a team workspace server (PostgreSQL)", "server",
               "add_server"),
    "workspace": ("login, logout, show a team workspace; add, remove members", "workspace",
                  "add_workspace"),
}

if __name__ == "__main__":
    sys.exit(main())
