"""The ``aml`` program: the entry point of its console script and of ``python -m aml_magic``.

``aml experiment submit`` spawns its local run's launcher (``ahead.py``) first, before the
command's own imports (argparse, json, pathlib, the service, the history: ~35 ms), so that the
launcher's start-up, its supervisor's and the run's interpreter's happen on another core
meanwhile. This module therefore imports nothing heavier than the agent's launcher helper."""
from __future__ import annotations

import gc
import os
import sys

from aml_magic.agent import GUESS_ON_STDIN, GUESS_VARIABLE, SpawnedLauncher, spawn_launcher


def run() -> int:
    """Run the command ``sys.argv`` names and return its exit code (``main.main``)."""
    gc.disable()                      # as main() does, already for its imports (see there)
    launcher = spawn(sys.argv[1:])
    from aml_magic.frontends.cli.main import main  # the command's imports, after that spawn
    return main(launcher=launcher)


def spawn(argv: list[str]) -> SpawnedLauncher | None:
    """The launcher of ``argv``'s run when it is an ``experiment submit``, spawned at once; it
    waits for the guess (``ahead.start``) before it starts the run's supervisor."""
    if argv[:2] != ["experiment", "submit"]:
        return None
    env = dict(os.environ)       # the launcher's only: never this command's runs
    env[GUESS_VARIABLE] = GUESS_ON_STDIN
    try:
        return spawn_launcher(sys.executable, env)
    except OSError:             # none now: the local target starts its launcher at the submit
        return None
