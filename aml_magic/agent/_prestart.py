"""A run's interpreter started ahead of its run (stdlib only, Python 3.9+).

A trivial script costs less than the interpreter start-up that precedes it (~9 ms, site and
encodings included). A launcher kept waiting for the next submit (``supervisor.py launch -``,
see targets/warm_launcher.py) therefore forks its detached supervisor at once, and that
supervisor starts the run's interpreter on this file, where it waits on a pipe. When the run
comes, the supervisor hands it the run's folder, log, command and environment; the waiting
interpreter then does what ``python script.py`` does after start-up (``sys.argv``,
``sys.path[0]``, a fresh ``__main__``, the working folder, stdout/stderr on the log) and runs
the script. Unused, it exits at end of input.

It is used only when running it is indistinguishable from starting ``python script.py`` then:
the command is ``[this interpreter, script.py, args...]``, the log is not masked, and the run's
environment differs from the one the interpreter started with only in the run contract's own
variables (``AML_MAGIC_*``, ``AZUREML_*``), which nothing reads at start-up. Anything else
(another interpreter, ``-m``, a PYTHON* or user variable of the run configuration) starts the
command the ordinary way. If a folder on ``sys.path`` or the interpreter itself changed while
it waited (``pip install``, a new ``.pth``), it starts the command afresh (``execve``) instead.
Visible differences: the process's command line shows this file, the interpreter's start time
is before the run's, and start-up messages (a broken ``.pth``) are not in the run's log.
"""
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

#: variables that may differ between the waiting interpreter's start and its run
_RUN_OWN_PREFIXES = ("AML_MAGIC_", "AZUREML_")
#: the variables the next run will most likely declare (JSON), set by the host for its
#: launcher; never passed on to a run
GUESS_VARIABLE = "AML_MAGIC_PRESTART_ENV"
#: that variable's value when the guess comes as the first line of the launcher's input (the
#: ``aml`` program spawns its launcher before it has read the guess: frontends/cli/ahead.py)
GUESS_ON_STDIN = "-"
_RESET_SIGNALS = ("SIGPIPE", "SIGXFSZ", "SIGTERM", "SIGCHLD", "SIGHUP")


class Prestarted:
    """The supervisor's handle on an interpreter waiting for its run."""

    def __init__(self, pid: int, request_fd: int, executable: str,
                 env: "dict[str, str]") -> None:
        self.pid = pid
        self.request_fd = request_fd
        self.executable = executable
        self.env = env

    def fits(self, argv: "list[str]", env: "dict[str, str]", masked: bool) -> bool:
        """Whether running ``argv`` in ``env`` here is the same as starting it afresh."""
        if masked or len(argv) < 2 or argv[1].startswith("-") or not argv[1].endswith(".py"):
            return False
        if os.path.abspath(argv[0]) != self.executable:
            return False
        differing = {k for k in set(env) | set(self.env) if env.get(k) != self.env.get(k)}
        return all(k.startswith(_RUN_OWN_PREFIXES) for k in differing)

    def take(self, argv: "list[str]", cwd: str, env: "dict[str, str]", log_path: str) -> int:
        """Hand the run over; returns the interpreter's pid (its own process group), or 0
        when it is gone (killed meanwhile): the caller then starts the command itself."""
        fields = [cwd, log_path, str(len(argv)), *argv, *("%s=%s" % kv for kv in env.items())]
        data = b"\0".join(os.fsencode(f) for f in fields)
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return 0
            view = memoryview(data)
            while view:
                view = view[os.write(self.request_fd, view):]
        except OSError:
            return 0
        finally:
            os.close(self.request_fd)
            self.request_fd = -1
        return self.pid

    def discard(self) -> None:
        """Not needed: end of input makes it exit (reaped by whoever waits for children)."""
        if self.request_fd >= 0:
            os.close(self.request_fd)
            self.request_fd = -1


def startup_env(agent_dir: str, guess: "Optional[str]") -> "dict[str, str]":
    """The environment a run started by this agent will most likely get: ours with the
    supervisor's fixed additions (see ``_supervisor.build_env``) and the variables the host
    guessed the run configuration declares (``guess``, JSON: the previous run's); checked
    again by ``fits``."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if guess:
        import json
        try:
            declared = json.loads(guess)
        except ValueError:
            declared = {}
        if isinstance(declared, dict):
            env.update((str(k), str(v)) for k, v in declared.items())
    old = env.get("PYTHONPATH")
    compat = os.path.join(agent_dir, "compat")
    env["PYTHONPATH"] = compat + (os.pathsep + old if old else "")
    return env


def prestart(executable: str, env: "dict[str, str]") -> "Optional[Prestarted]":
    """Start ``executable`` on this file in its own process group, waiting for its run; None
    when it cannot start (the run then starts the ordinary way)."""
    try:
        import _signal as signals   # the C half: no enum import (see _supervisor)
    except ImportError:  # pragma: no cover - other Python implementations
        import signal as signals
    here = os.path.abspath(__file__)
    request_r, request_w = os.pipe()
    err_r, err_w = os.pipe()           # close-on-exec: EOF means exec succeeded
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child until exec
        try:
            os.close(err_r)
            os.close(request_w)
            os.setpgid(0, 0)
            for name in _RESET_SIGNALS:
                signals.signal(getattr(signals, name), signals.SIG_DFL)
            signals.set_wakeup_fd(-1)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(request_r, 0)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.execve(executable, [executable, here], env)
        finally:
            os.write(err_w, b"!")
            os._exit(127)
    os.close(err_w)
    os.close(request_r)
    failed = os.read(err_r, 8)
    os.close(err_r)
    if failed:
        os.waitpid(pid, 0)
        os.close(request_w)
        return None
    return Prestarted(pid, request_w, os.path.abspath(executable), env)


class Ahead:
    """The launcher's side of a supervisor forked before its run was known."""

    def __init__(self, request_fd: int, ready_fd: int) -> None:
        self.request_fd = request_fd
        self.ready_fd = ready_fd

    def send(self, run_dir: str, raw_spec: bytes) -> int:
        """Give the run to the waiting supervisor; returns the fd its readiness comes on."""
        data = os.fsencode(run_dir) + b"\0" + raw_spec
        view = memoryview(data)
        while view:
            view = view[os.write(self.request_fd, view):]   # EPIPE: it is gone
        os.close(self.request_fd)
        return self.ready_fd

    def cancel(self) -> None:
        for fd in (self.request_fd, self.ready_fd):
            try:
                os.close(fd)
            except OSError:
                pass                     # closed by send() already


def fork_ahead(agent_dir: str,
               supervise: "Callable[[str, bytes, int, Optional[Prestarted]], int]",
               close_fds: bool = False) -> Ahead:
    """Fork the detached supervisor now (own session, double fork), with the run's
    interpreter waiting beside it; it reads its run folder and spec from the returned
    ``Ahead`` and exits quietly at end of input. ``close_fds``: forked from a client process,
    whose inherited descriptors neither it nor the run may hold."""
    request_r, request_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs detached
        code = 1
        try:
            os.close(request_w)
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            guess = os.environ.pop(GUESS_VARIABLE, None)   # never passed on to a run
            null = os.open(os.devnull, os.O_RDWR)  # the launcher's pipes: never held
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            if close_fds:
                _close_fds_but(request_r, ready_w)
            pre: "Optional[Prestarted]" = None
            try:
                pre = prestart(sys.executable, startup_env(agent_dir, guess))
            except OSError:
                pre = None
            chunks = []
            while True:
                chunk = os.read(request_r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            os.close(request_r)
            head, sep, raw_spec = b"".join(chunks).partition(b"\0")
            if not sep:
                if pre is not None:
                    pre.discard()
                code = 0
            else:
                code = supervise(os.fsdecode(head), raw_spec, ready_w, pre)
        finally:
            os._exit(code)
    os.close(request_r)
    os.close(ready_w)
    os.waitpid(pid, 0)
    return Ahead(request_w, ready_r)


def _close_fds_but(*keep: int) -> None:
    """Close every descriptor above stderr but ``keep``."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


# ---------------------------------------------------------------- the waiting interpreter

def _serve() -> None:  # pragma: no cover - runs as the run's process
    """Wait for the run, become ``python script.py``, run it. Only ``os`` and ``sys`` (loaded
    by every start-up anyway) are used, so the script finds the interpreter as it would."""
    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        os._exit(0)                    # not needed
    fields = [os.fsdecode(f) for f in b"".join(chunks).split(b"\0")]
    cwd, log_path, argc = fields[0], fields[1], int(fields[2])
    argv, env_items = fields[3:3 + argc], fields[3 + argc:]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(cwd)
    env = dict(item.split("=", 1) for item in env_items)
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    os.environ.update(env)
    if _site_state() != _STARTED_WITH:
        # something the start-up read changed while it waited (a package installed, a .pth
        # added, the interpreter replaced): start the command afresh instead, in place
        os.execve(argv[0], argv, env)
    script = argv[1]
    path = os.path.abspath(script)
    sys.argv = argv[1:]
    sys.orig_argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    try:
        with open(script, "rb") as f:
            source = f.read()
    except OSError as exc:
        sys.stderr.write("%s: can't open file %r: [Errno %s] %s\n"
                         % (argv[0], path, exc.errno, exc.strerror))
        sys.exit(2)
    loader_type: "Any" = type(sys.modules["__main__"].__loader__)  # SourceFileLoader, as for a script
    main = type(sys)("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=__builtins__,
                         __loader__=loader_type("__main__", path), __spec__=None)
    _keep.append(sys.modules["__main__"])
    sys.modules["__main__"] = main
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc, None)
        sys.exit(1)
    try:
        exec(code, main.__dict__)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:   # as Python reports it: without this file's frame
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        sys.exit(1)


def _site_state() -> "list[tuple[str, int, int]]":
    """What start-up read and a later install changes: each folder on ``sys.path`` (site
    packages, ``.pth`` targets, ``PYTHONPATH``) and the interpreter, by mtime and inode."""
    state = []
    for entry in [sys.executable] + [p for p in sys.path[1:] if p]:
        try:
            st = os.stat(entry)
        except OSError:
            state.append((entry, -1, -1))
            continue
        state.append((entry, st.st_mtime_ns, st.st_ino))
    return state


_keep: "list[object]" = []
_STARTED_WITH: "list[tuple[str, int, int]]" = []

if __name__ == "__main__":
    _STARTED_WITH = _site_state()
    _serve()
