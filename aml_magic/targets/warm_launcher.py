"""A local launcher interpreter started ahead of the next submit.

Starting the agent's launcher (``python -S -E supervisor.py launch -``) costs an interpreter
start-up, which on a trivial script is as long as the script itself. A process that lives on
(a kernel, the Jupyter server, a sweep) submits again and again, so after its first local
submit one launcher is kept waiting on its stdin for the next run's folder and spec. It costs
nothing while it waits (blocked in ``read``), exits on end of input when the process that
started it goes away, and is used only while this process's environment is the one it was
started with (a launcher passes its environment on to the run).

A spare is kept only from a process's second submit on: a one-shot command (``aml experiment
submit``) would start it for nothing, and it would take CPU from the run being waited for.

A spare also starts the run's interpreter ahead (agent/_prestart.py); that interpreter is used
only when the run's environment is the one it started with, so the host tells the spare the
variables the next run will most likely declare: the previous run's, when they hold no secret
(``AML_MAGIC_PRESTART_ENV``, which also asks for the interpreter ahead; the agent removes it
before any run sees it). A launcher started for the submit at hand gets no such request: its
run is known at once, and an interpreter started ahead would only race the one it replaces."""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping

from aml_magic.agent import GUESS_VARIABLE
from aml_magic.targets.local_spare import after_run

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess


class WarmLauncher:
    """At most one spare launcher for one interpreter and agent folder."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_env: dict[str, str] | None = None
        self._starts = 0
        self._lock = threading.Lock()
        self._guess: dict[str, str] = {}

    def start(self, declared: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A launcher for this submit: the spare when it is still good, else a new one.
        ``declared``: the run's own variables (None when they hold secrets), the guess for the
        run's interpreter started ahead and for the next spare's."""
        with self._lock:
            spare, env, self._spare, self._spare_env = self._spare, self._spare_env, None, None
            self._starts += 1
            self._guess = dict(declared) if declared is not None else {}
        if spare is not None:
            if spare.poll() is None and env == dict(os.environ):
                return spare
            _discard(spare)
        return self._popen(ahead=False)

    def _popen(self, *, ahead: bool) -> subprocess.Popen[bytes]:
        import subprocess   # not at import: the CLI forks its runs and never starts one (~7 %)
        env = dict(os.environ)
        if ahead:
            env[GUESS_VARIABLE] = json.dumps(self._guess)
        return subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)

    def refill(self, after_pid: int | None = None) -> None:
        """Start the spare for the next submit, off this submit's path (from the second
        submit of this process on), once the run ``after_pid`` (its agent) has ended: the
        spare's two interpreter start-ups would otherwise take CPU from that run and from
        the host recording its end."""
        with self._lock:
            if self._starts < 2 or self._spare is not None:
                return
        threading.Thread(target=self._spawn_spare, args=(after_pid,), name="aml-warm-launcher",
                         daemon=True).start()

    def _spawn_spare(self, after_pid: int | None = None) -> None:
        after_run(after_pid)
        with self._lock:
            if self._spare is not None:
                return
            try:
                self._spare = self._popen(ahead=True)
                self._spare_env = dict(os.environ)
            except OSError:
                self._spare = None

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            _discard(spare)


def _discard(proc: subprocess.Popen[bytes]) -> None:
    """End an unused launcher: end of input makes it exit without doing anything."""
    import subprocess   # loaded already: the launcher was started with it
    try:
        proc.communicate(b"", timeout=10)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


__all__ = ["WarmLauncher"]
