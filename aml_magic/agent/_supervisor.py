"""The run supervisor aml_magic ships next to every run on a target (stdlib only, Python 3.9+).

``PYTHON -S -E supervisor.py launch RUN_DIR`` (the entry point, which imports this module so its
bytecode can be cached) reads the launch spec (JSON) from stdin, detaches
into its own session (double fork) and runs the command there, so the run outlives the kernel,
the SSH connection and the notebook. The launching process returns once the detached supervisor
has written its first ``status.json``. Clients only ever read the files written here (see the
agent section of docs/architecture.md): ``log.txt``, ``status.json``, ``outputs.json``, and
``metrics.jsonl`` (written by the run itself through the ``azureml.logging`` stand-in).

The supervisor is the forked launcher itself (no second interpreter start) and waits with
SIGCHLD + ``select`` rather than a thread, so it adds little to a run's startup and end.
"""
from __future__ import annotations

import errno
import os
import select
import sys
import time

# The public `signal` module pulls in enum and functools (a good part of the supervisor's
# start-up time); its C half does all this file needs.
try:
    import _signal as signal
except ImportError:  # pragma: no cover - other Python implementations
    import signal

if __package__:  # imported as aml_magic.agent._supervisor (tests, clients)
    from ._runfiles import (SpaceReserve, SpecError, is_disk_full, json_dumps, list_outputs,
                            parse_spec, write_json_atomic)
    from .proctool import self_identity
    from ._prestart import GUESS_ON_STDIN, GUESS_VARIABLE, Prestarted, fork_ahead
    from ._process import (build_env, detach_stdio, group_alive, interpreter_facts,
                           signal_name, space_exhausted, spawn, start_error_reason)
    from ._logmask import MaskedLog, mask_values
else:  # imported by supervisor.py from <run_dir>/.agent/ on the target
    from _runfiles import (  # type: ignore[no-redef]
        SpaceReserve, SpecError, is_disk_full, json_dumps, list_outputs, parse_spec,
        write_json_atomic)
    from proctool import self_identity  # type: ignore[no-redef]
    from _prestart import (  # type: ignore[no-redef]
        GUESS_ON_STDIN, GUESS_VARIABLE, Prestarted, fork_ahead)
    from _process import (  # type: ignore[no-redef]
        build_env, detach_stdio, group_alive, interpreter_facts, signal_name, space_exhausted,
        spawn, start_error_reason)
    from _logmask import MaskedLog, mask_values  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AGENT_VERSION = 1
CANCEL_POLL_SECONDS = 0.1
TERM_GRACE_SECONDS = 1.0
KILL_WAIT_SECONDS = 1.0
LOG_DRAIN_SECONDS = 1.0  # masked log: how long to wait for writers that escaped the group


class Supervisor:
    """Runs one command, keeps status.json current, and stops the command's group on cancel."""

    def __init__(self, run_dir: str, spec: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.spec = spec
        self.status_path = os.path.join(run_dir, "status.json")
        self.cancel_path = os.path.join(run_dir, "cancel")
        self.status: dict[str, Any] = {
            "state": "Running", "run_id": spec["run_id"], "pid": os.getpid(),
            "child_pid": None, "child_pgid": None, "started": None, "heartbeat": None,
            "heartbeat_seconds": spec["heartbeat_seconds"], "ended": None,
            "exit_code": None, "reason": None, "agent_version": AGENT_VERSION,
            "python": interpreter_facts(),
        }
        self.term_requested = False
        self.child_pid = 0
        self.returncode: int | None = None
        # With secrets to mask the command writes into a pipe that this process masks into
        # log.txt (see _logmask); without, its fds 1 and 2 are log.txt itself, so the log
        # survives this process and costs nothing.
        self.masked_log: Any = None  # a _logmask.MaskedLog
        # Room to record the end when the disk fills up; no_space once a write hit ENOSPC.
        self.reserve = SpaceReserve(run_dir)
        self.no_space = False
        #: the run's interpreter, started before the run was known (``launch -``)
        self.prestarted: Prestarted | None = None

    def write_status(self, **fields: Any) -> None:
        self.status.update(fields)
        self.status["heartbeat"] = time.time()
        write_json_atomic(self.status_path, self.status)

    def start(self) -> str:
        """Start the command; returns the state recorded in the first status.json."""
        self._wake_r, wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGHUP, lambda *_: None)
        log_fd = os.open(os.path.join(self.run_dir, "log.txt"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        now = time.time()
        if os.path.exists(self.cancel_path):
            return self._end_without_start("Canceled", "canceled before start", log_fd)
        try:
            self.reserve.take()
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self.no_space = True
            return self._end_without_start("Failed", self._no_space_reason(), log_fd)
        argv, cwd = self.spec["argv"], self.spec["cwd"]
        try:
            if not os.path.isdir(cwd):
                raise OSError(errno.ENOENT, "no such folder", cwd)
            env = build_env(self.spec, self.run_dir)
            if self.spec.get("observe_env"):   # e.g. CUDA_VISIBLE_DEVICES as Slurm set it
                self.status["observed_env"] = {
                    name: env.get(name) for name in self.spec["observe_env"]}
            # ./outputs/ and ./logs/ exist before the script starts (Workbench did the same;
            # scripts write there without creating them).
            for folder in (self.spec["outputs_dir"], os.path.join(cwd, "logs")):
                os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            return self._end_without_start(
                "Failed", "cannot prepare the run: %s: %s" % (exc.filename, exc.strerror), log_fd)
        masked = self._masked_log(log_fd)
        pre, self.prestarted = self.prestarted, None
        try:
            if pre is not None and pre.fits(argv, env, masked is not None):
                self.child_pid = pre.take(argv, cwd, env, os.path.join(self.run_dir, "log.txt"))
            elif pre is not None:
                pre.discard()
            if not self.child_pid:      # none waiting, or it died: started the ordinary way
                self.child_pid = spawn(argv, cwd, env,
                                       log_fd if masked is None else masked.pipe_w)
        except OSError as exc:
            if masked is not None:  # drop the pipe, keep the log open for the reason
                masked.log_fd = -1
                masked.close()
            return self._end_without_start("Failed", start_error_reason(exc, argv[0]), log_fd)
        if masked is not None:
            masked.started()
            self.masked_log = masked
        else:
            os.close(log_fd)
        self.write_status(child_pid=self.child_pid, child_pgid=self.child_pid, started=now)
        return "Running"

    def _masked_log(self, log_fd: int) -> Any:
        """A MaskedLog when the spec has values to mask, else None (the command then writes
        to log.txt itself: the log survives this process and costs nothing)."""
        if not self.spec["mask"]:
            return None
        values = mask_values(self.spec["mask"])
        return MaskedLog(log_fd, values) if values else None

    def _end_without_start(self, state: str, reason: str, log_fd: int) -> str:
        try:
            os.write(log_fd, ("aml_magic agent: %s\n" % reason).encode("utf-8", "replace"))
        except OSError:  # a full disk: the reason still goes to status.json
            pass
        os.close(log_fd)
        now = time.time()
        self._write_end(os.path.join(self.run_dir, "outputs.json"), [])
        self._write_end(None, {"state": state, "reason": reason, "started": now, "ended": now})
        return state

    def _no_space_reason(self, detail: str = "") -> str:
        return "no space left on device in %s%s" % (self.run_dir, detail)

    def _write_end(self, path: str | None, data: Any) -> None:
        """Write outputs.json (``path``) or the final status (``path`` None); on a full disk,
        give up the reserve and try once more, so the end is recorded."""
        for attempt in (1, 2):
            try:
                if path is None:
                    self.write_status(**data)
                else:
                    write_json_atomic(path, data)
                return
            except OSError as exc:
                if attempt == 2 or not is_disk_full(exc):
                    raise
                self.no_space = True
                self.reserve.release()
                if path is None and data.get("state") != "Canceled":
                    data = dict(data, state="Failed", reason=self._no_space_reason(
                        " (%s)" % data["reason"] if data.get("reason") else ""))

    def _on_term(self, *_: Any) -> None:
        self.term_requested = True

    def _reap(self) -> bool:
        if self.returncode is None:
            pid, code = os.waitpid(self.child_pid, os.WNOHANG)
            if pid == 0:
                return False
            self.returncode = (os.WEXITSTATUS(code) if os.WIFEXITED(code)
                               else -os.WTERMSIG(code))
        return True

    def _sleep(self, seconds: float) -> None:
        """Sleep until the timeout, a signal (SIGCHLD, SIGTERM) or output to mask: whichever is
        first."""
        log = self.masked_log if self.masked_log is not None and self.masked_log.open else None
        try:
            ready, _, _ = select.select([self._wake_r] + ([log] if log is not None else []), [], [],
                                        max(0.0, seconds))
        except InterruptedError:  # pragma: no cover - Python < 3.5 only
            ready = []
        if log is not None and log in ready:
            log.pump()
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    def wait(self) -> bool:
        """Wait for the command to end, beating the heart; True when it was canceled."""
        beat = self.spec["heartbeat_seconds"]
        next_beat = time.monotonic() + beat
        while not self._reap():
            if self.term_requested or os.path.exists(self.cancel_path):
                self.stop_group()
                return True
            now = time.monotonic()
            if now >= next_beat:
                try:
                    self.write_status()
                except OSError as exc:
                    if is_disk_full(exc):  # stop the run while its end can still be recorded
                        self.no_space = True
                        self.stop_group()
                        return False
                    # flaky disk: a missed beat is better than a lost run
                next_beat = now + beat
            self._sleep(min(CANCEL_POLL_SECONDS, next_beat - now))
        return False

    def stop_group(self) -> None:
        """SIGTERM the command's process group, SIGKILL what is left after a grace period."""
        pgid = self.child_pid
        for sig, grace in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, KILL_WAIT_SECONDS)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while True:
                self._reap()
                if not group_alive(pgid) and self.returncode is not None:
                    return
                if time.monotonic() >= deadline:
                    break
                self._sleep(0.02)
        while not self._reap():  # unkillable only in theory (D state): wait for it
            self._sleep(0.1)

    def finish(self, canceled: bool) -> str:
        # Leftover background processes of a finished command would keep writing to the log.
        if not canceled and group_alive(self.child_pid):
            self.stop_group()
        if self.masked_log is not None:
            self.masked_log.drain(LOG_DRAIN_SECONDS)
        outputs = list_outputs(self.spec["outputs_dir"])
        self._write_end(os.path.join(self.run_dir, "outputs.json"), outputs)
        code = self.returncode
        if not self.no_space and code != 0 and not canceled and space_exhausted(self.run_dir):
            self.no_space = True       # the command failed on the full disk (its own ENOSPC)
        if self.no_space and not canceled:
            self.reserve.release()
            detail = " (exit code %s)" % code if code is not None and code >= 0 else \
                " (the run was stopped)"
            state, reason = "Failed", self._no_space_reason(detail)
        elif canceled:
            state, reason = "Canceled", "canceled"
        elif code == 0:
            state, reason = "Completed", None
        elif code is not None and code < 0:
            state, reason = "Failed", "killed by signal %d (%s)" % (-code, signal_name(-code))
        else:
            state, reason = "Failed", "exit code %s" % code
        self._write_end(None, {"state": state, "reason": reason, "exit_code": code,
                               "ended": time.time()})
        self.reserve.release()
        return state


def _supervise(run_dir: str, spec: dict[str, Any], ready_fd: int,
               prestarted: Prestarted | None = None) -> int:
    """Body of the detached process: start, signal readiness, wait, record the end."""
    sup = Supervisor(run_dir, spec)
    sup.prestarted = prestarted
    try:
        identity = self_identity()  # before any run code: the host trusts this answer
        state = sup.start()
        os.write(ready_fd, json_dumps(dict(identity, state=state,
                                           python=sup.status["python"])).encode())
        os.close(ready_fd)
        if state == "Running":
            sup.finish(sup.wait())
        return 0
    except BaseException as exc:  # record the failure; the traceback goes to agent.log
        import traceback
        traceback.print_exc()
        try:
            if sup.child_pid and sup.returncode is None:  # do not leave an unwatched command
                os.killpg(sup.child_pid, signal.SIGKILL)
        except OSError:
            pass
        sup.reserve.release()
        reason = sup._no_space_reason() if is_disk_full(exc) else "agent error: %s" % exc
        try:
            sup.write_status(state="Failed", reason=reason, ended=time.time())
        except Exception:
            pass
        return 1


def _supervise_ahead(run_dir: str, raw_spec: bytes, ready_fd: int,
                     prestarted: Prestarted | None) -> int:
    """The supervisor forked ahead (``launch -``), once its run is known: the launcher
    validated the spec already."""
    spec = parse_spec(raw_spec, run_dir)
    detach_stdio(run_dir)
    return _supervise(run_dir, spec, ready_fd, prestarted)


def launch(run_dir: str, raw_spec: bytes, ahead: Any = None) -> int:
    """Validate, detach, wait until the supervisor has recorded the run, print {"pid": N}.
    With ``ahead`` (a ``_prestart.Ahead``) the detached supervisor exists already."""
    run_dir = os.path.abspath(run_dir)
    if ahead is not None:
        code = _launch_validated(run_dir, raw_spec)
        if code:
            ahead.cancel()
            return code
        try:
            ready_r = ahead.send(run_dir, raw_spec)
        except OSError:            # the supervisor forked ahead is gone: fork one now
            ahead.cancel()
        else:                      # it has the run: never start a second one
            return _answer(ready_r, run_dir)
    code = _launch_validated(run_dir, raw_spec)
    if code:
        return code
    spec = parse_spec(raw_spec, run_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    return _answer(_fork_detached(run_dir, spec), run_dir)


def _fork_detached(run_dir: str, spec: Any) -> int:
    """Fork the supervisor detached (its own session; the intermediate child exits, so it is
    nobody's child) and return the read end of its "ready" pipe."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs detached
        code = 1
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            detach_stdio(run_dir)
            code = _supervise(run_dir, spec, ready_w)
        finally:
            os._exit(code)
    os.close(ready_w)
    os.waitpid(pid, 0)
    return ready_r


def _launch_validated(run_dir: str, raw_spec: bytes) -> int:
    """0 when the run folder exists and the spec is valid; else the exit code, with the
    reason written to status.json and stderr."""
    try:
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        sys.stderr.write("aml_magic agent: cannot create run folder %s: %s\n" % (run_dir, exc.strerror))
        return 2
    try:
        parse_spec(raw_spec, run_dir)
    except SpecError as exc:
        reason = "bad launch spec: %s" % exc
        now = time.time()
        try:
            write_json_atomic(os.path.join(run_dir, "status.json"), {
                "state": "Failed", "pid": None, "child_pid": None, "child_pgid": None,
                "started": now, "heartbeat": now, "heartbeat_seconds": None, "ended": now,
                "exit_code": None, "reason": reason, "agent_version": AGENT_VERSION})
        except OSError:
            pass
        sys.stderr.write("aml_magic agent: %s (run folder %s)\n" % (reason, run_dir))
        return 2
    return 0


def _answer(ready_r: int, run_dir: str) -> int:
    """Relay the detached supervisor's first answer to our caller."""
    chunks = []
    while True:
        chunk = os.read(ready_r, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(ready_r)
    message = b"".join(chunks).decode("utf-8", "replace")
    if not message:
        sys.stderr.write("aml_magic agent: the supervisor stopped before recording the run; "
                         "see %s\n" % os.path.join(run_dir, "agent.log"))
        return 1
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
    if __name__ != "__main__" and not __package__:
        # started as ``supervisor.py launch``: the answer is out, the client waits for our
        # end of output; skip the interpreter's teardown (a few ms on every submit)
        os._exit(0)
    return 0


def run_foreground(run_dir: str, raw_spec: bytes) -> int:
    """Supervise in this process (no detaching): for a container whose main process is the
    agent, so that the container lives exactly as long as the run."""
    run_dir = os.path.abspath(run_dir)
    try:
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        spec = parse_spec(raw_spec, run_dir)
    except (OSError, SpecError) as exc:
        now = time.time()
        reason = "bad launch spec: %s" % exc
        try:
            write_json_atomic(os.path.join(run_dir, "status.json"), {
                "state": "Failed", "pid": os.getpid(), "child_pid": None, "child_pgid": None,
                "started": now, "heartbeat": now, "heartbeat_seconds": None, "ended": now,
                "exit_code": None, "reason": reason, "agent_version": AGENT_VERSION})
        except OSError:
            pass
        sys.stderr.write("aml_magic agent: %s\n" % reason)
        return 2
    ready_r, ready_w = os.pipe()
    code = _supervise(run_dir, spec, ready_w)
    os.close(ready_r)
    return code


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("launch", "run"):
        sys.stderr.write("usage: supervisor.py launch|run RUN_DIR  (launch spec as JSON on "
                         "stdin; launch detaches, run stays in the foreground; `launch -` "
                         "reads RUN_DIR, NUL, spec from stdin)\n")
        return 2
    if argv[1] == "run":
        return run_foreground(argv[2], sys.stdin.buffer.read())
    if argv[2] != "-":
        return launch(argv[2], sys.stdin.buffer.read())
    # ``launch -``: started ahead of its run (a warm launcher), it reads the run folder, a NUL
    # and the spec; end of input without them means it was not needed. Meanwhile the detached
    # supervisor and the run's interpreter start (see _prestart).
    ahead = None
    if os.environ.get(GUESS_VARIABLE) == GUESS_ON_STDIN:   # the guess comes first on stdin
        line = sys.stdin.buffer.readline()
        if not line:
            return 0                   # its command ended before it knew the guess
        os.environ[GUESS_VARIABLE] = line.decode("utf-8", "replace").strip()
    if GUESS_VARIABLE in os.environ:   # a spare: its run comes later (targets/warm_launcher.py)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            # close_fds: a launcher spawned by the `aml` program (frontends/cli/ahead.py)
            # inherits whatever its caller left open; the detached supervisor holds none of it
            ahead = fork_ahead(os.path.dirname(os.path.abspath(__file__)), _supervise_ahead,
                               close_fds=True)
        except OSError:
            ahead = None
    data = sys.stdin.buffer.read()
    head, sep, spec = data.partition(b"\0")
    if not sep or not head:
        if ahead is not None:
            ahead.cancel()
        if not data:
            return 0
        sys.stderr.write("aml_magic agent: launch - expects RUN_DIR, NUL, spec on stdin\n")
        return 2
    return launch(os.fsdecode(head), spec, ahead)
