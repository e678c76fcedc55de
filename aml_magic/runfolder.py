"""What a run writes is untrusted input: bounded, validated reads and no-follow file operations.

A script can write anything in its run folder (``../status.json``, ``../metrics.jsonl``,
symlinks, ``outputs`` as a symlink), and in a container it is often root. So the host:

- reads every run-written file with a size cap and validates every field (``parse_status``,
  ``parse_metrics_chunk``, ``parse_outputs_manifest``); a malformed ``status.json`` fails that
  run with a reason, a malformed metrics line is counted and skipped;
- opens everything below a run folder one component at a time with ``O_NOFOLLOW``
  (``copy_tree_nofollow``, ``write_marker``, ``append_nofollow``, ``open_lock``): no file
  outside the run folder is created, written or hashed because of what a run wrote;
- never signals a process id read from a run folder: ``aml_magic.agent.proctool`` checks the
  identity recorded at launch (re-exported here for the host's own use).
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agent.proctool import is_same, kill_session, signal_process
from .errors import UnsafeRunFile
from .history.records import Artifact, Metric

if TYPE_CHECKING:
    from .targets.base import AgentState

STATUS_LIMIT = 64 * 1024            # status.json is a few hundred bytes
METRICS_CHUNK = 1 << 20             # one read of metrics.jsonl; also the longest metric line
METRICS_CHUNKS_PER_PASS = 8         # so a reconcile pass costs at most this many chunks
LOG_CHUNK = 4 << 20                 # one read of log.txt per reconcile pass (and per widget tick)
MANIFEST_LIMIT = 8 << 20            # outputs.json
NAME_LIMIT = 256                    # metric names
TEXT_LIMIT = 2000                   # reasons and string metric values
LIST_LIMIT = 100_000                # items of a list-valued metric
STATES = ("Running", "Completed", "Failed", "Canceled")
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


# -- parsing ---------------------------------------------------------------------------------

def parse_status(raw: bytes, *, heartbeat_seconds: float = 1.0) -> AgentState:
    """``status.json`` as an ``AgentState``. Empty means the agent has not written it yet
    (``Missing``); anything malformed is a ``Failed`` state whose ``malformed`` says why (the
    agent replaces the file atomically, so a torn or foreign file was written by the run)."""
    from .targets.base import AgentState
    if not raw:
        return AgentState("Missing")
    try:
        if len(raw) > STATUS_LIMIT:
            raise ValueError(f"larger than {STATUS_LIMIT // 1024} KB")
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        state = data.get("state")
        if state not in STATES:
            raise ValueError(f"unknown state {_shown(state)}")
        exit_code = data.get("exit_code")
        if exit_code is not None and (type(exit_code) is not int or abs(exit_code) > 1 << 31):
            raise ValueError(f"exit_code {_shown(exit_code)} is not an integer")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("reason is not a string")
        started, ended = _time(data.get("started"), "started"), _time(data.get("ended"), "ended")
        heartbeat = _time(data.get("heartbeat"), "heartbeat")
        beat = data.get("heartbeat_seconds")
        if not (isinstance(beat, (int, float)) and not isinstance(beat, bool)
                and 0 < beat <= 3600):
            beat = heartbeat_seconds
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError) as exc:
        why = f"status.json is malformed ({exc}); it was written by the run, not the agent"
        return AgentState("Failed", reason=why, malformed=why)
    return AgentState(state, exit_code=exit_code, reason=_text(reason) if reason else None,
                      started=started, ended=ended, heartbeat=heartbeat,
                      heartbeat_seconds=float(beat))


@dataclass
class MetricsChunk:
    """What one read of ``metrics.jsonl`` gave: the metrics, how many bytes the caller may move
    its offset by, whether the next read starts inside an overlong line (to be skipped up to its
    newline) and how many lines were not metrics."""
    metrics: list[Metric] = field(default_factory=list)
    consumed: int = 0
    skipping: bool = False
    rejected: int = 0


def parse_metrics_chunk(raw: bytes, *, skipping: bool = False,
                        limit: int = METRICS_CHUNK) -> MetricsChunk:
    """Parse the complete lines of ``raw`` (read with ``limit``). A partial last line is left
    for the next read; a line longer than ``limit`` is skipped whole, chunk by chunk."""
    out = MetricsChunk(skipping=skipping)
    pos = 0
    if skipping:
        newline = raw.find(b"\n")
        if newline < 0:
            out.consumed = len(raw)
            return out
        pos, out.skipping, out.rejected = newline + 1, False, 1
    end = raw.rfind(b"\n") + 1
    if end <= pos:                                   # no complete line after pos
        if pos == 0 and len(raw) >= limit:           # one line fills a whole read: skip it
            out.consumed, out.skipping = len(raw), True
        else:
            out.consumed = pos
        return out
    for line in raw[pos:end].split(b"\n")[:-1]:
        if not line.strip():
            continue
        metric = parse_metric_line(line)
        if metric is None:
            out.rejected += 1
        else:
            out.metrics.append(metric)
    out.consumed = end
    return out


def parse_metric_line(line: bytes) -> Metric | None:
    """One ``{"name", "value", "step", "time"}`` line, validated, or None."""
    try:
        item = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(item, dict):
        return None
    name, step, when = item.get("name"), item.get("step"), item.get("time")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LIMIT:
        return None
    if step is not None and (type(step) is not int or not 0 <= step < 1 << 62):
        return None
    if when is not None and (type(when) not in (int, float) or not math.isfinite(when)):
        return None
    try:
        value = _metric_value(item.get("value"))
    except ValueError:
        return None
    return Metric(_text(name), value, step, None if when is None else float(when))


def _metric_value(value: Any) -> Any:
    """A JSON scalar, or a flat list of them; non-finite numbers become their names."""
    if isinstance(value, list):
        if len(value) > LIST_LIMIT or any(isinstance(v, (list, dict)) for v in value):
            raise ValueError("list too long or nested")
        return [_metric_value(v) for v in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return _text(value)
    raise ValueError("not a metric value")


def parse_outputs_manifest(raw: bytes) -> list[Artifact]:
    """The agent's ``outputs.json`` (``[{"path", "size", "sha256"}]``), validated: entries
    with absolute or ``..`` paths, bad sizes or hashes are dropped."""
    if not raw or len(raw) > MANIFEST_LIMIT:
        return []
    try:
        items = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    found: list[Artifact] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
        if (isinstance(path, str) and path and not path.startswith("/")
                and ".." not in path.split("/") and type(size) is int and size >= 0
                and isinstance(digest, str) and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            found.append(Artifact(_text(path, limit=4096), size, digest))
    return found


def display_name(name: str | bytes) -> str:
    """A file name as UTF-8 text, losslessly: undecodable bytes become ``\\xNN`` escapes."""
    raw = os.fsencode(name)
    return raw.decode("utf-8", "backslashreplace")


def _text(value: str, *, limit: int = TEXT_LIMIT) -> str:
    """Storable text: at most ``limit`` characters; lone surrogates escaped (SQLite and UTF-8
    outputs refuse them)."""
    value = value[:limit]
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _time(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} {_shown(value)} is not a time")
    return float(value)


def _shown(value: Any) -> str:
    return repr(value)[:60]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number here")


def read_status(transport: Any, path: str, *, heartbeat_seconds: float = 1.0) -> AgentState:
    """Read ``status.json`` through a transport with a cap, and parse it (``parse_status``);
    a symlink or special file there is a malformed status."""
    try:
        raw = transport.read_file(path, 0, STATUS_LIMIT + 1)
    except UnsafeRunFile as exc:
        from .targets.base import AgentState
        why = f"status.json refused: {exc}"
        return AgentState("Failed", reason=why, malformed=why)
    return parse_status(raw, heartbeat_seconds=heartbeat_seconds)


# -- no-follow file operations ---------------------------------------------------------------

def open_dir_nofollow(base: Path | str, rel: str = "", *, create: bool = False) -> int:
    """A directory fd for ``base/rel``. ``base`` is the host's own (opened normally); every
    component of ``rel`` is opened with ``O_NOFOLLOW`` (and created when ``create``), so a
    symlink placed by the run raises ``UnsafeRunFile`` instead of leading elsewhere."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in [p for p in rel.split("/") if p not in ("", ".")]:
            if part == "..":
                raise UnsafeRunFile(f"{base}/{rel}: '..' is not allowed")
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafeRunFile(f"{base}/{rel}: '{part}' is a symlink or not a "
                                        "folder; not followed") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_marker(folder: Path | str, name: str, data: bytes) -> None:
    """Create or replace ``folder/name`` (a cancel marker, a stamp): written under a fresh
    exclusive name and renamed over, so a symlink or hard link placed there is replaced, never
    written through."""
    fd = open_dir_nofollow(folder)
    tmp = f".{name}.tmp-{os.urandom(4).hex()}"
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except IsADirectoryError:
        os.unlink(tmp, dir_fd=fd)
        raise UnsafeRunFile(f"{folder}/{name} is a folder; not replaced") from None
    finally:
        os.close(fd)


def append_nofollow(folder: Path | str, name: str, data: bytes) -> None:
    """Append to the regular file ``folder/name`` (created if absent); a symlink, special file
    or hard-linked file there raises ``UnsafeRunFile``."""
    dfd = open_dir_nofollow(folder)
    try:
        try:
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW,
                         0o600, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise UnsafeRunFile(f"{folder}/{name} is not a regular file; not written") \
                    from None
            raise
        with os.fdopen(fd, "ab") as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise UnsafeRunFile(f"{folder}/{name} is not a plain file; not written")
            fh.write(data)
    finally:
        os.close(dfd)


def open_lock(folder: Path | str, name: str = ".lock") -> int:
    """An fd on the lock file ``folder/name``, never through a symlink: whatever else the run
    put under that name is removed (it is inside the run folder) and a fresh file is made."""
    dfd = open_dir_nofollow(folder)
    try:
        for _attempt in range(3):
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW, 0o600,
                             dir_fd=dfd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise
            else:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd
                os.close(fd)
            try:
                os.unlink(name, dir_fd=dfd)
            except IsADirectoryError:        # a folder: moved aside, inside the run folder
                os.rename(name, f"{name}.refused-{os.urandom(4).hex()}", src_dir_fd=dfd,
                          dst_dir_fd=dfd)
        raise UnsafeRunFile(f"{folder}/{name}: the run put something there that is not a file")
    finally:
        os.close(dfd)


def read_nofollow(path: Path | str, offset: int = 0, limit: int = LOG_CHUNK) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` from ``offset``; b"" when it does
    not exist; ``UnsafeRunFile`` when it is a symlink, a FIFO, a device or a folder."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):   # never open a device the run made
            raise UnsafeRunFile(f"{path} is a symlink or special file; not read")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise UnsafeRunFile(f"{path} is a symlink or special file; not read") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeRunFile(f"{path} is not a regular file; not read")
        fh.seek(offset)
        return fh.read(max(0, limit))


@dataclass
class CopyReport:
    """What ``copy_tree_nofollow`` did: the files copied (relative, '/'-separated, UTF-8 with
    escapes) and what it refused, each with why."""
    copied: list[Artifact] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def copy_tree_nofollow(src_base: Path | str, src_rel: str, dest_base: Path | str,
                       dest_rel: str) -> CopyReport:
    """Copy the regular files under ``src_base/src_rel`` to ``dest_base/dest_rel``. Both bases
    are the host's; below them nothing is followed: symlinks and special files on the source
    side are refused, and each destination file is written under a fresh name and renamed into
    place, so a symlink or hard link the run planted in the destination is replaced, never
    written through. A symlinked destination folder refuses its whole subtree."""
    report = CopyReport()
    try:
        src = open_dir_nofollow(src_base, src_rel)
    except FileNotFoundError:
        return report
    except UnsafeRunFile as exc:
        report.refused.append(f"{src_rel} ({exc})")
        return report
    try:
        dest = open_dir_nofollow(dest_base, dest_rel, create=True)
    except UnsafeRunFile as exc:
        os.close(src)
        report.refused.append(f"{dest_rel} ({exc})")
        return report
    try:
        _copy_dir(src, dest, "", report)
    finally:
        os.close(src)
        os.close(dest)
    report.copied.sort(key=lambda a: a.path)
    return report


def _copy_dir(src: int, dest: int, prefix: str, report: CopyReport) -> None:
    for name in sorted(os.listdir(src)):
        rel = prefix + display_name(name)
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.mkdir(name, 0o755, dir_fd=dest)
            except FileExistsError:
                pass
            try:
                sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=src)
            except OSError:
                report.refused.append(f"{rel}/ (changed while copying)")
                continue
            try:
                sub_dest = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=dest)
            except OSError:
                os.close(sub_src)
                report.refused.append(f"{rel}/ (the destination is a symlink or not a folder)")
                continue
            try:
                _copy_dir(sub_src, sub_dest, rel + "/", report)
            finally:
                os.close(sub_src)
                os.close(sub_dest)
        elif stat.S_ISREG(st.st_mode):
            artifact = _copy_file(src, dest, name, rel)
            if artifact is None:
                report.refused.append(f"{rel} (not a regular file or not replaceable)")
            else:
                report.copied.append(artifact)
        else:
            kind = "symlink" if stat.S_ISLNK(st.st_mode) else "special file"
            report.refused.append(f"{rel} ({kind})")


def _copy_file(src: int, dest: int, name: str, rel: str) -> Artifact | None:
    try:
        fd_in = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=src)
    except OSError:
        return None
    tmp = f".aml-copy-{os.urandom(6).hex()}"
    try:
        with os.fdopen(fd_in, "rb") as fin:
            st = os.fstat(fin.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            fd_out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                             stat.S_IMODE(st.st_mode) & 0o755 | 0o600, dir_fd=dest)
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd_out, "wb") as fout:
                for block in iter(lambda: fin.read(1 << 20), b""):
                    digest.update(block)
                    fout.write(block)
                    size += len(block)
        os.rename(tmp, name, src_dir_fd=dest, dst_dir_fd=dest)
        return Artifact(rel, size, digest.hexdigest())
    except OSError:
        try:
            os.unlink(tmp, dir_fd=dest)
        except OSError:
            pass
        return None


def tree_manifest(base: Path | str, rel: str) -> list[Artifact]:
    """The regular files under ``base/rel`` (size, sha256), found without following links and
    without opening anything but folders and regular files."""
    try:
        top = open_dir_nofollow(base, rel)
    except (FileNotFoundError, UnsafeRunFile):
        return []
    stack: list[tuple[int, str]] = [(top, "")]
    found: list[Artifact] = []
    try:
        while stack:
            fd, prefix = stack.pop()
            try:
                for name in os.listdir(fd):
                    shown = prefix + display_name(name)
                    try:
                        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
                    except OSError:
                        continue
                    if stat.S_ISDIR(mode):
                        try:
                            stack.append((os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW,
                                                  dir_fd=fd), shown + "/"))
                        except OSError:
                            pass
                    elif stat.S_ISREG(mode):
                        artifact = _hash_file(fd, name, shown)
                        if artifact is not None:
                            found.append(artifact)
            finally:
                os.close(fd)
    finally:
        for fd, _prefix in stack:
            os.close(fd)
    return sorted(found, key=lambda a: a.path)


def _hash_file(folder: int, name: str, shown: str) -> Artifact | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest, size = hashlib.sha256(), 0
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return Artifact(shown, size, digest.hexdigest())


# -- process identity (see aml_magic/agent/proctool.py) -----------------------------------------

#: Runs PYTHON (``~/`` expanded on the target) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'
_PROCTOOL = Path(__file__).resolve().parent / "agent" / "proctool.py"


def launch_identity(answer: dict[str, Any]) -> dict[str, int]:
    """``agent_start``/``agent_sid`` from the launcher's answer (written by the supervisor
    before any run code ran, so trusted); empty when an older agent did not send them."""
    start, sid = answer.get("start"), answer.get("sid")
    if type(start) is int and type(sid) is int and start > 0 and sid > 1:
        return {"agent_start": start, "agent_sid": sid}
    return {}


def proc_over(transport: Any, python: str, op: str, target_state: dict[str, Any]) -> bool | None:
    """Run a proctool operation (``alive``, ``signal`` = SIGTERM to the agent, ``kill-session``)
    on the target for the agent recorded in ``target_state``. ``alive``: True/False, or None
    when it cannot be told; the others: whether anything was signalled."""
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    sid = target_state.get("agent_sid")
    if type(pid) is not int or pid <= 1:
        return None
    if type(start) is not int:                  # recorded by an older version: probe only
        if op != "alive":
            return False
        return transport.run(["kill", "-0", str(pid)], check=False, timeout=20).exit_code == 0
    if op == "kill-session" and type(sid) is not int:
        return False
    args: list[int] = {"alive": [pid, start], "signal": [pid, start, 15],
                       "kill-session": [int(sid or 0), start]}[op]
    argv = ["sh", "-c", _EXEC_PYTHON, "sh", python, "-S", "-E", "-c",
            _PROCTOOL.read_text(encoding="utf-8"), op, *[str(a) for a in args]]
    result = transport.run(argv, check=False, timeout=30)
    try:
        answer = json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1])
        value = next(iter(answer.values()))
    except (ValueError, IndexError, StopIteration, AttributeError, UnicodeDecodeError):
        return None
    return bool(value) if op != "kill-session" else int(value) > 0


def local_alive(target_state: dict[str, Any]) -> bool | None:
    """``proc_over(..., "alive", ...)`` on this machine, without starting a process."""
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    if type(pid) is not int or pid <= 1:
        return None
    if type(start) is int:
        return is_same(pid, start)
    try:                                          # recorded by an older version: probe only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_signal_agent(target_state: dict[str, Any], signum: int = 15) -> bool:
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    return type(pid) is int and type(start) is int and signal_process(pid, start, signum)


def local_kill_session(target_state: dict[str, Any]) -> int:
    sid, start = target_state.get("agent_sid"), target_state.get("agent_start")
    return kill_session(sid, start) if type(sid) is int and type(start) is int else 0


def copy_tree_safely(src: Path, dest: Path) -> list[str]:
    """Copy the regular files under ``src`` to ``dest`` trusting only their parents (see
    ``copy_tree_nofollow``); returns what was refused, each with why."""
    return copy_tree_nofollow(src.parent, src.name, dest.parent, dest.name).refused


__all__ = [
    "LOG_CHUNK",
    "METRICS_CHUNK",
    "METRICS_CHUNKS_PER_PASS",
    "STATUS_LIMIT",
    "CopyReport",
    "MetricsChunk",
    "append_nofollow",
    "copy_tree_nofollow",
    "copy_tree_safely",
    "display_name",
    "is_same",
    "kill_session",
    "launch_identity",
    "local_alive",
    "local_kill_session",
    "local_signal_agent",
    "open_dir_nofollow",
    "open_lock",
    "parse_metric_line",
    "parse_metrics_chunk",
    "parse_outputs_manifest",
    "parse_status",
    "proc_over",
    "read_nofollow",
    "read_status",
    "signal_process",
    "tree_manifest",
    "write_marker",
]
