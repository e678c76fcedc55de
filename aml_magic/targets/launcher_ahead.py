"""A local run's launcher started as soon as ``aml experiment submit`` begins.

A one-shot ``aml experiment submit`` spends most of its time importing and reading the project
while the machine's other core idles. So the command starts the agent's launcher (``python -S
-E supervisor.py launch -``) first, for the run configuration it names, as a long-lived process
keeps one waiting (``warm_launcher``): the launcher forks the detached supervisor and starts the
run's interpreter ahead (``agent/_prestart.py``). By the time the run is recorded, both have
started and the script runs at once; the detachment is the usual one (the run outlives the
command, Ctrl-C stops only the stream).

What the launcher needs in advance is kept per run configuration by every local launch, in
``.aml/cache/launch-ahead.json``: the interpreter and the variables the run configuration
declared (only when none is secret). Without an entry (a first submit, another target type, a
run configuration with secrets) nothing is started. A wrong guess costs only the CPU of unused
processes: the launcher is used only if it is the one the placement would start (same
interpreter, agent and environment), the waiting interpreter only if the run's environment is
the one it started with (``Prestarted.fits``); otherwise they exit at end of input.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from aml_magic.agent import AGENT_DIR, PRESTART_GUESS_VARIABLE, launch_command
from aml_magic.domain.atomic_file import replace_file
from aml_magic.domain.config import find_project
from aml_magic.errors import ProjectNotFound

CACHE_FILE = Path(".aml") / "cache" / "launch-ahead.json"

#: launcher argv -> (the launcher, the environment it started with), at most one of each
_started: dict[tuple[str, ...], tuple[subprocess.Popen[bytes], dict[str, str]]] = {}


def start_for_submit(args: Sequence[str]) -> None:
    """Start the launcher for the run configuration ``aml experiment submit ARGS`` names, when
    the project's last local launch of it says which; never fails the command."""
    runconfig, project = _submit_options(args)
    if runconfig is None:
        return
    try:
        root = find_project(Path(project or Path.cwd()).expanduser().resolve())
        entry = json.loads((root / CACHE_FILE).read_bytes()).get(runconfig)
        python, declared = str(entry["python"]), dict(entry["env"])
        argv = launch_command(python, str(AGENT_DIR), "-")
        env = dict(os.environ)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=dict(env, **{PRESTART_GUESS_VARIABLE: json.dumps(declared)}))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ProjectNotFound):
        return
    _started[tuple(argv)] = (proc, env)


def take(argv: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """The launcher started ahead for ``argv``, if any and this process's environment is still
    the one it started with (a launcher passes its environment on to the run)."""
    found = _started.pop(tuple(argv), None)
    if found is None:
        return None
    proc, env = found
    if proc.poll() is None and env == dict(os.environ):
        return proc
    proc.communicate(b"")        # end of input: it exits without doing anything
    return None


def remember(project_root: Path, runconfig: str, python: str,
             declared: Mapping[str, str] | None) -> None:
    """Note what the next submit of ``runconfig`` will most likely launch with (``declared``:
    the run's variables; None when any is secret, which forgets the entry). Best effort."""
    path = Path(project_root) / CACHE_FILE
    try:
        entries = json.loads(path.read_bytes())
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    entry = None if declared is None else {"python": python, "env": dict(declared)}
    if entries.get(runconfig) == entry or not path.parent.is_dir():
        return
    if entry is None:
        entries.pop(runconfig, None)
    else:
        entries[runconfig] = entry
    try:
        replace_file(path, json.dumps(entries, sort_keys=True).encode(), mode=0o600)
    except OSError:
        pass


def _submit_options(args: Sequence[str]) -> tuple[str | None, str | None]:
    """``-c NAME`` and ``--project DIR`` of a submit's arguments (what ``arguments.py`` would
    parse; a guess that misses only starts nothing). None for a sweep or a help request."""
    runconfig = project = None
    items = list(args)
    for i, item in enumerate(items):
        if item == "--":
            break
        value = items[i + 1] if i + 1 < len(items) else None
        if item in ("-h", "--help") or item == "--sweep" or item.startswith("--sweep="):
            return None, None
        if item in ("-c", "--run-configuration"):
            runconfig = value
        elif item.startswith("--run-configuration="):
            runconfig = item.partition("=")[2]
        elif item == "--project":
            project = value
        elif item.startswith("--project="):
            project = item.partition("=")[2]
    return runconfig, project


__all__ = ["remember", "start_for_submit", "take"]
