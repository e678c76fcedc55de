"""The on-target agent: files shipped into ``<run_dir>/.agent/`` on the target with each run.

Nothing here is imported on the target; this module only tells clients what to copy and how to
start it. The contract (launch spec, files written) is in the agent section of
docs/architecture.md.
"""
from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    AGENT_DIR: Path

#: This folder. (``AGENT_DIR`` is the same as a ``Path``, made on first use: importing pathlib
#: would delay the launcher the ``aml`` program spawns first thing, ``spawn_launcher``.)
AGENT_FOLDER = os.path.dirname(os.path.realpath(__file__))
SUPERVISOR = "supervisor.py"
#: Set for a launcher started ahead of its run: the variables the run configuration most
#: likely declares (JSON), for the run's interpreter it starts at once; ``GUESS_ON_STDIN``
#: there: they come as the first line of its input. The agent's own ``_prestart.GUESS_*``
#: (shipped standalone, so written there again; a test compares).
GUESS_VARIABLE = "AML_MAGIC_PRESTART_ENV"
GUESS_ON_STDIN = "-"
_SHIPPED = ("supervisor.py", "_supervisor.py", "_process.py", "_runfiles.py", "_logmask.py",
            "_prestart.py",
            "assemble.py",
            "proctool.py", "storegc.py",
            "compat/azureml/__init__.py",
            "compat/azureml/logging.py",
            *(f"compat/azureml/dataprep/{name}.py" for name in (
                "__init__", "_errors", "_document", "_sources", "_columns", "_rows", "_blocks",
                "_engine", "_readers", "_spark", "package", "datasource")),
            "compat/dataprep/__init__.py",
            "compat/_aml_notebook.py")


def __getattr__(name: str) -> object:
    if name == "AGENT_DIR":
        from pathlib import Path  # see AGENT_FOLDER
        return Path(AGENT_FOLDER)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def agent_files() -> dict[str, bytes]:
    """Relative path (posix, under ``.agent/``) -> content, for every file the agent needs."""
    files = {}
    for rel in _SHIPPED:
        with open(os.path.join(AGENT_FOLDER, rel), "rb") as handle:
            files[rel] = handle.read()
    return files


def launch_command(python: str, agent_dir: str, run_dir: str) -> list[str]:
    """argv that starts the agent (launch spec goes on its stdin). ``-S -E``: the agent needs
    no site-packages and must not be steered by the target's PYTHON* variables."""
    return [python, "-S", "-E", f"{agent_dir.rstrip('/')}/{SUPERVISOR}", "launch", run_dir]


class SpawnedLauncher:
    """``supervisor.py launch -`` started ahead of its run, waiting on its stdin for the run
    folder and spec (the protocol of ``targets/warm_launcher.py``'s spare). Started with
    ``posix_spawn``: the caller is not forked, so it shares no memory with the launcher and
    pays no copy-on-write fault for each page it writes afterwards (~1,000 of them in
    ``aml experiment submit``); the launcher's start-up runs on another core meanwhile."""

    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.pid, self._stdin, self._stdout, self._stderr = pid, stdin, stdout, stderr

    def send_guess(self, guess_json: str) -> None:
        """The first line it waits for (``GUESS_ON_STDIN``): the variables its run most likely
        declares; it then forks the run's supervisor, which starts the run's interpreter."""
        self._write(guess_json.replace("\n", " ").encode() + b"\n")

    def send(self, run_dir: str, raw_spec: bytes, *,
             timeout: float) -> tuple[int, bytes, bytes]:
        """Hand over the run; the launcher's exit status, stdout (``{"pid": N, ...}``) and
        stderr. ``TimeoutError`` (the launcher killed) when it has not answered in time."""
        import select  # an extension module: after the launcher was spawned, not before
        try:
            self._write(os.fsencode(run_dir) + b"\0" + raw_spec)
        finally:
            self._close_stdin()
        out: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        open_fds = list(out)
        deadline = time.monotonic() + timeout
        while open_fds:                 # both at once: neither pipe can fill and block it
            ready = select.select(open_fds, [], [], max(0.0, deadline - time.monotonic()))[0]
            if not ready:
                import signal  # a hung launcher only (signal's enums: ~0.5 ms of a start)
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self.cancel()
                raise TimeoutError(f"the agent's launcher did not answer within {timeout:.0f} s")
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    out[fd].append(chunk)
                else:
                    open_fds.remove(fd)
                    os.close(fd)
        status = os.waitpid(self.pid, 0)[1]
        return (os.waitstatus_to_exitcode(status), b"".join(out[self._stdout]),
                b"".join(out[self._stderr]))

    def cancel(self) -> None:
        """Not needed: end of input makes it (and the supervisor it started) exit."""
        self._close_stdin()
        for fd in (self._stdout, self._stderr):
            try:
                os.close(fd)
            except OSError:
                pass                    # closed by send() already
        try:
            os.waitpid(self.pid, os.WNOHANG)   # reaped now if it has ended already
        except ChildProcessError:
            pass

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._stdin, view):]   # EPIPE: it is gone (OSError)

    def _close_stdin(self) -> None:
        if self._stdin >= 0:
            os.close(self._stdin)
            self._stdin = -1


def spawn_launcher(python: str, env: dict[str, str]) -> SpawnedLauncher:
    """Start ``python -S -E supervisor.py launch -`` with pipes on its standard streams; with
    ``GUESS_VARIABLE`` in ``env`` it starts the run's supervisor and interpreter at once (or,
    set to ``GUESS_ON_STDIN``, once ``send_guess`` has told it the run's likely variables).
    ``OSError`` when it cannot be started here."""
    if not hasattr(os, "posix_spawn"):
        raise OSError("posix_spawn is not available on this system")
    stdin_r, stdin_w = _above_stdio(*os.pipe())
    out_r, out_w = _above_stdio(*os.pipe())
    err_r, err_w = _above_stdio(*os.pipe())
    actions = [(os.POSIX_SPAWN_DUP2, stdin_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
               (os.POSIX_SPAWN_DUP2, err_w, 2)]
    try:
        pid = os.posix_spawn(python, launch_command(python, AGENT_FOLDER, "-"), env,
                             file_actions=actions)
    except BaseException:
        for fd in (stdin_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (stdin_r, out_w, err_w):
            os.close(fd)
    return SpawnedLauncher(pid, stdin_w, out_r, err_r)


def _above_stdio(*fds: int) -> tuple[int, ...]:
    """``fds``, each moved above 2 if it is not: with a standard stream of this process closed
    (a daemon, cron), a new pipe can take its number, and the launcher's own would clobber it."""
    if min(fds) > 2:
        return fds
    import fcntl  # only when a standard stream is closed
    moved = []
    for fd in fds:
        if fd <= 2:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = high
        moved.append(fd)
    return tuple(moved)
