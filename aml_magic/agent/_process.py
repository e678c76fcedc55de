"""Process plumbing of the run supervisor (stdlib only, Python 3.9+, shipped with the agent):
the run's environment, starting the command in its own group with its output on the log,
whether a group still lives, the interpreter's facts, detaching from the launcher's stdio."""
from __future__ import annotations

import errno
import os
import sys

# The public `signal` module pulls in enum and functools; its C half does all this needs.
try:
    import _signal as signal
except ImportError:  # pragma: no cover - other Python implementations
    import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def build_env(spec: dict[str, Any], run_dir: str) -> dict[str, str]:
    """The run's environment: ours, then the spec's, then the run contract's variables."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec["env"])
    env["AZUREML_RUN_ID"] = env["AML_MAGIC_RUN_ID"] = spec["run_id"]
    env["AML_MAGIC_METRICS_FILE"] = os.path.join(run_dir, "metrics.jsonl")
    share = spec["native_share_dir"]
    if share:
        share = os.path.abspath(os.path.expanduser(share))
        os.makedirs(share, exist_ok=True)
        env["AZUREML_NATIVE_SHARE_DIRECTORY"] = share.rstrip("/") + "/"
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = spec["compat_path"] + (os.pathsep + old if old else "")
    return env


def spawn(argv: list[str], cwd: str, env: dict[str, str], log_fd: int) -> int:
    """Start argv in its own process group (so the whole group can be stopped) inside the
    agent's session (so the host can stop what is left by the session it recorded at launch,
    never by an id read from the run folder), with stdout and stderr on log_fd; raise OSError
    with the exec errno when it cannot start."""
    err_r, err_w = os.pipe()  # both close-on-exec: EOF on err_r means exec succeeded
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child until exec
        try:
            os.close(err_r)
            os.setpgid(0, 0)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGCHLD,
                        signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:
            code = getattr(exc, "errno", None) or errno.EINVAL
            try:
                os.write(err_w, str(code).encode())
            finally:
                os._exit(127)
    os.close(err_w)
    data = b""
    while True:
        chunk = os.read(err_r, 64)
        if not chunk:
            break
        data += chunk
    os.close(err_r)
    if data:
        os.waitpid(pid, 0)
        code = int(data)
        raise OSError(code, os.strerror(code), argv[0])
    return pid


def start_error_reason(exc: OSError, argv0: str) -> str:
    if exc.errno == errno.ENOENT:
        return "%s: not found" % argv0
    if exc.errno == errno.EACCES:
        return "%s: permission denied" % argv0
    return "%s: cannot start: %s" % (argv0, exc.strerror or exc)


def group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in the group. Zombies count as gone: where
    PID 1 does not reap orphans they would otherwise look alive forever."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid, "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False


def interpreter_facts() -> dict[str, str]:
    """The interpreter running the agent, which runs the script too (the same ``python`` of
    the launch spec, as the target found it on its PATH just now): its path as started,
    resolved, its version, and its prefix (which venv or conda environment it belongs to)."""
    return {"executable": sys.executable, "resolved": os.path.realpath(sys.executable),
            "version": "%d.%d.%d" % sys.version_info[:3], "prefix": _environment_prefix()}


def _environment_prefix() -> str:
    """``sys.prefix`` as the script sees it: the agent runs with ``-S`` (no ``site``), so a
    venv's prefix is found the way ``site`` finds it, by a ``pyvenv.cfg`` beside the
    executable or one folder up."""
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    venv = os.path.dirname(exe_dir)
    for folder in (exe_dir, venv):
        if os.path.isfile(os.path.join(folder, "pyvenv.cfg")):
            return venv
    return sys.prefix


def space_exhausted(path: str) -> bool:
    """Whether the file system holding ``path`` has (next to) no room left."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def signal_name(num: int) -> str:
    for name in dir(signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and getattr(signal, name) == num:
            return name
    return "signal %d" % num


def detach_stdio(run_dir: str) -> None:
    """Leave the caller's stdin/stdout/stderr (an SSH channel, a pipe) so it sees EOF at once."""
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(os.path.join(run_dir, "agent.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        fds = []
    for fd in fds:
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
