"""A local launcher interpreter started ahead of the next submit.

Starting the agent's launcher (``python -S -E supervisor.py launch -``) costs an interpreter
start-up, which on a trivial script is as long as the script itself. A process that lives on
(a kernel, the Jupyter server, a sweep) submits again and again, so after its first local
submit one launcher is kept waiting on its stdin for the next run's folder and spec. It costs
nothing while it waits (blocked in ``read``), exits on end of input when the process that
started it goes away, and is used only while this process's environment is the one it was
started with (a launcher passes its environment on to the run)."""
from __future__ import annotations

import os
import subprocess
import threading


class WarmLauncher:
    """At most one spare launcher for one interpreter and agent folder."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_env: dict[str, str] | None = None
        self._used = False
        self._lock = threading.Lock()

    def start(self) -> subprocess.Popen[bytes]:
        """A launcher for this submit: the spare when it is still good, else a new one."""
        with self._lock:
            spare, env, self._spare, self._spare_env = self._spare, self._spare_env, None, None
            self._used = True
        if spare is not None:
            if spare.poll() is None and env == dict(os.environ):
                return spare
            _discard(spare)
        return subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def refill(self) -> None:
        """Start the spare for the next submit, off this submit's path (only once this
        process has submitted: a one-shot command would start it for nothing)."""
        with self._lock:
            if not self._used or self._spare is not None:
                return
        threading.Thread(target=self._spawn_spare, name="aml-warm-launcher", daemon=True).start()

    def _spawn_spare(self) -> None:
        with self._lock:
            if self._spare is not None:
                return
            try:
                self._spare = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
    try:
        proc.communicate(b"", timeout=10)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


__all__ = ["WarmLauncher"]
