"""The agent's launcher for ``aml experiment submit``'s run, started at the command's start.

A trivial script's run is mostly interpreter start-ups: the command's own, then the run's. The
command spawns its local run's launcher first thing (``program.run``, before its own imports):
``supervisor.py launch -`` (``agent.spawn_launcher``). Once told the guess below (``start``,
from ``main``), the launcher forks the detached supervisor, and that supervisor starts the
run's interpreter (``agent/_prestart.py``), all on another core while the command imports and
records the run. The local target hands the run to it
(``placement.use_launcher``); when it is not needed (another target, another interpreter, a
sweep) its input is closed and it exits with the supervisor and interpreter it started. It is
spawned, not forked: a fork would share the command's memory, and every page the command then
writes would be copied (~1,000 copy-on-write faults in a submit).

The prestarted interpreter runs the script only when that is indistinguishable from
``python script.py`` (``_prestart.Prestarted.fits``): its environment must already hold the
variables the run configuration declares, which are known only once the command has read it.
So the command remembers them per command line (working folder and arguments), in the
project's private cache folder (``prestart-env.json``; never when the run has secret values),
and the next identical command starts the interpreter with them. A wrong guess costs nothing
but the overlap: the supervisor then starts the command afresh."""
from __future__ import annotations

import json
import os

from aml_magic.domain.atomic_file import replace_file
from aml_magic.domain.user_dirs import project_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from aml_magic.agent import SpawnedLauncher

GUESS_FILE = "prestart-env.json"
#: Command lines remembered per project (the oldest is dropped).
GUESS_LIMIT = 16
CONFIG_DIR = "aml_config"


class _Handed:
    """The launcher as the local target gets it: sending the run also remembers the
    variables its run configuration declared, for the next identical command."""

    def __init__(self, ahead: SpawnedLauncher, key: str, cache: Path | None,
                 guessed: dict[str, str] | None) -> None:
        self.ahead, self.key, self.cache, self.guessed = ahead, key, cache, guessed

    def send(self, run_dir: str, raw_spec: bytes, *,
             timeout: float) -> tuple[int, bytes, bytes]:
        answer = self.ahead.send(run_dir, raw_spec, timeout=timeout)
        try:
            _remember(self, json.loads(raw_spec))
        except (OSError, ValueError):
            pass                    # only a hint for the next command
        return answer

    def cancel(self) -> None:
        self.ahead.cancel()


_ahead: _Handed | None = None


def start(argv: list[str], launcher: SpawnedLauncher) -> None:
    """Tell the ``launcher`` spawned for ``argv`` (``program.spawn``) the variables its run
    most likely declares (it then starts the run's supervisor and interpreter) and keep it
    for the local target."""
    global _ahead
    key = json.dumps([os.getcwd(), argv])
    cache = _cache_folder(argv)
    guessed = _guess(cache, key)
    try:
        launcher.send_guess(json.dumps(guessed or {}))
    except OSError:             # it is gone: the local target starts its launcher at the submit
        launcher.cancel()
        return
    _ahead = _Handed(launcher, key, cache, guessed)


def take() -> _Handed | None:
    """The launcher started ahead, for the one run that may use it (then it is the caller's)."""
    global _ahead
    ahead, _ahead = _ahead, None
    return ahead


def _cache_folder(argv: list[str]) -> Path | None:
    """The private cache folder of the project the command runs in: the nearest folder with
    ``aml_config/`` at or above ``--project`` or else the working folder (as
    ``find_project``); None outside a project. Only a hint: a wrong folder only means no
    guess."""
    here = os.getcwd()
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--project" and i + 1 < len(argv):
            here = os.path.join(here, argv[i + 1])
        elif arg.startswith("--project="):
            here = os.path.join(here, arg.partition("=")[2])
    here = os.path.abspath(here)
    while True:
        if os.path.isdir(os.path.join(here, CONFIG_DIR)):
            return project_cache(here, create=True)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _guess(cache: Path | None, key: str) -> dict[str, str] | None:
    """The variables the run configuration declared the last time this command line ran."""
    if cache is None:
        return None
    try:
        with open(cache / GUESS_FILE, "rb") as handle:
            remembered = json.loads(handle.read()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(remembered, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in remembered.items()):
        return remembered
    return None


def _remember(handed: _Handed, spec: dict[str, object]) -> None:
    """Keep the run's declared variables for this command line, unless they hold secret values
    (the supervisor masks those; such a run never uses a prestarted interpreter anyway) or are
    what was guessed."""
    env = spec.get("env")
    if handed.cache is None or spec.get("mask") or not isinstance(env, dict) \
            or env == handed.guessed:
        return
    path = handed.cache / GUESS_FILE
    try:
        with open(path, "rb") as handle:
            known = json.loads(handle.read())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    known.pop(handed.key, None)
    known[handed.key] = env
    while len(known) > GUESS_LIMIT:
        known.pop(next(iter(known)))
    replace_file(path, json.dumps(known).encode())
