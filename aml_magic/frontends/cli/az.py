"""The ``az`` shim (``aml compat install-az``): ``az ml …`` runs as ``aml …``, so Workbench
readmes and ``os.system('az ml experiment submit …')`` in ``run.py`` work unchanged.

It is an argv rewrite in front of the ``aml`` entry point, not a second CLI: ``translate`` maps
Workbench's spellings where they differ from aml's (the preview's ``execute start``, ``project
create``, ``computetarget attach --type T``, a ``--password VALUE``), and ``main`` runs ``aml``'s
program with the result, so its exit code is the command's (a failed run is non-zero).
Everything that is not ``az ml`` gets one line (``guidance.py``) without loading the ``aml``
command line at all."""
from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Collection, Sequence
from typing import NamedTuple, TextIO

from aml_magic.frontends import guidance

#: Workbench verbs spelled differently in aml: (az ml words) -> (aml words).
RENAMED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("execute", "start"): ("experiment", "submit"),        # the 2017 preview's spelling
    ("execute", "prepare"): ("experiment", "prepare"),
}

#: The Azure CLI's global switches that mean nothing here; dropped before ``ml``'s verbs.
IGNORED_GLOBALS = ("--verbose", "--only-show-errors")

USAGE = ("this `az` is aml_magic's: `az ml …` runs `aml …` (see `aml --help`); the Azure CLI "
         "itself is not installed here")


class Reply(NamedTuple):
    """An answer given without running ``aml``: one line and the exit code (a NamedTuple, not
    a dataclass: ``dataclasses`` would double the shim's imports)."""
    text: str
    code: int


class AmlCommand(NamedTuple):
    """The ``aml`` command to run, and standard input to give it (a password the Workbench
    command line carried, which aml reads from ``--password-stdin`` rather than argv)."""
    argv: list[str]
    stdin: str | None = None


def translate(args: Sequence[str]) -> Reply | AmlCommand:
    """``az ARGS`` as an ``aml`` command, or the one line to answer instead."""
    words = list(args)
    debug = False
    while words and (words[0] == "--debug" or words[0] in IGNORED_GLOBALS):
        debug = debug or words.pop(0) == "--debug"
    if not words or words[0] in ("-h", "--help"):
        return Reply(USAGE, 0 if words else 2)
    if words[0] != "ml":
        guided = guidance.for_az(words)
        if guided is not None:
            return Reply(*guided)
        return Reply(f"az {words[0]} is the Azure CLI; this `az` only provides `az ml` "
                     "commands", 2)
    rest = words[1:]
    while rest and (rest[0] == "--debug" or rest[0] in IGNORED_GLOBALS):
        debug = debug or rest.pop(0) == "--debug"
    guided = guidance.for_az(["ml", *rest])
    if guided is not None:
        return Reply(*guided)
    command = _aml_words(rest)
    if isinstance(command, Reply):
        return command
    return AmlCommand(["--debug", *command.argv] if debug else command.argv, command.stdin)


def _aml_words(rest: list[str]) -> Reply | AmlCommand:
    """The words after ``az ml`` as aml's."""
    if not rest or rest[0] in ("-h", "--help"):
        return AmlCommand(["--help"])
    for old, new in RENAMED.items():
        if tuple(rest[:len(old)]) == old:
            rest = [*new, *rest[len(old):]]
    if rest[:2] == ["project", "create"]:
        return AmlCommand(_project_create(rest[2:]))
    if rest[:2] == ["computetarget", "attach"]:
        return _attach(rest)
    renamed_verbs = [old[1] for old in RENAMED if old[0] == rest[0]]
    if renamed_verbs:                   # `execute` with a verb it never had
        return Reply(guidance.unknown(f"az ml {rest[0]}", rest[1] if len(rest) > 1 else "",
                                      renamed_verbs, "aml experiment --help"), 2)
    return AmlCommand(rest)


def known_group(command: AmlCommand, groups: Collection[str]) -> AmlCommand | Reply:
    """``command`` if aml has its command group (``groups``), else the one line for ``az ml
    GROUP`` (named as the user typed it, with close matches)."""
    words = command.argv[1:] if command.argv[:1] == ["--debug"] else command.argv
    if not words or words[0].startswith("-") or words[0] in groups:
        return command
    known = [*groups, *(old[0] for old in RENAMED)]
    return Reply(guidance.unknown("az ml", words[0], known, "aml --help"), 2)


def _project_create(options: list[str]) -> list[str]:
    """``az ml project create -n NAME [--path DIR] …`` made the project folder DIR/NAME and
    registered it with an Azure workspace: here ``aml init DIR/NAME`` (the account, workspace and
    resource group have no meaning here and are dropped)."""
    values: dict[str, str] = {}
    i = 0
    while i < len(options):
        flag = options[i].split("=", 1)
        if len(flag) == 2:
            values[flag[0]] = flag[1]
        elif i + 1 < len(options) and not options[i + 1].startswith("-"):
            values[flag[0]] = options[i + 1]
            i += 1
        i += 1
    name = values.get("--name") or values.get("-n")
    parent = values.get("--path") or values.get("-l") or values.get("-p")
    if name is None:
        return ["init", parent or "."]
    return ["init", f"{parent.rstrip('/')}/{name}" if parent else name]


def _attach(rest: list[str]) -> AmlCommand:
    """``computetarget attach``: the preview's ``--type T`` becomes aml's TYPE, and a password
    given on the command line (``--password VALUE``, ``-w VALUE``) is handed over on standard
    input (``--password-stdin``): aml never takes a secret in argv."""
    head, options = rest[:2], rest[2:]
    out: list[str] = []
    password: str | None = None
    kind: str | None = None
    i = 0
    while i < len(options):
        item = options[i]
        name, eq, value = item.partition("=")
        if name in ("--type", "--password", "-w"):
            if not eq and i + 1 < len(options) and not options[i + 1].startswith("-"):
                value, eq = options[i + 1], "="
                i += 1
            if name == "--type" and eq:
                kind = value
            elif name != "--type" and eq:
                password = value
                out.append("--password-stdin")
            else:
                out.append(item)
        else:
            out.append(item)
        i += 1
    return AmlCommand([*head, *([kind] if kind else []), *out],
                      None if password is None else password + "\n")


class PasswordFirst(io.StringIO):
    """Standard input that gives the password line first, then the real input: a host-key
    question that follows still reaches the user at a terminal."""

    def __init__(self, first: str, rest: TextIO) -> None:
        super().__init__(first)
        self._rest = rest

    def readline(self, size: int = -1, /) -> str:      # type: ignore[override]
        return super().readline(size) or self._rest.readline(size)

    def isatty(self) -> bool:
        return self._rest.isatty()


def main() -> int:
    """The ``az`` program: answer at once, or run ``aml``'s program with the translated
    arguments (its exit code is this program's)."""
    outcome = translate(sys.argv[1:])
    if isinstance(outcome, AmlCommand):
        # loaded here, as main.py loads a command group: only what runs aml pays for its imports
        program = importlib.import_module("aml_magic.frontends.cli.main")
        outcome = known_group(outcome, program.GROUPS)
    if isinstance(outcome, Reply):
        print(outcome.text, file=sys.stdout if outcome.code == 0 else sys.stderr)
        return outcome.code
    if outcome.stdin is not None:
        sys.stdin = PasswordFirst(outcome.stdin, sys.stdin)
    sys.argv = ["aml", *outcome.argv]
    return int(importlib.import_module("aml_magic.frontends.cli.program").run())
