"""The launch spec the agent reads and the files it leaves in the run folder.

Stdlib only, Python 3.9+, imported by ``_supervisor.py`` on the target. JSON goes through the C
half of ``json`` directly: importing ``json`` pulls in ``re``, ``enum`` and ``functools``, which
would double the supervisor's start-up time.
"""
from __future__ import annotations

import errno
import os
import stat

try:
    import _json
except ImportError:  # pragma: no cover - other Python implementations
    _json = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _ScanContext:
    """What the C JSON scanner reads from a decoder: plain types, no hooks."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def json_loads(text: str) -> Any:
    if _json is None:  # pragma: no cover
        import json
        return json.loads(text)
    start = len(text) - len(text.lstrip())
    try:
        value, end = _json.make_scanner(_ScanContext)(text, start)  # type: ignore[arg-type]
        if not text[end:].strip():
            return value
    except Exception:  # the C scanner reports errors only once json.decoder is loaded
        pass
    import json
    return json.loads(text)  # raises the precise error (or agrees, if the scanner was wrong)


def json_dumps(obj: Any) -> str:
    """JSON text of the plain values this agent writes (None, bool, numbers, str, list, dict)."""
    if _json is None:  # pragma: no cover
        import json
        return json.dumps(obj)
    if obj is None:
        return "null"
    if obj is True or obj is False:
        return "true" if obj else "false"
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return float.__repr__(obj) if obj == obj and obj not in (float("inf"), float("-inf")) else "null"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(json_dumps(item) for item in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ", ".join(_json.encode_basestring_ascii(str(key)) + ": " + json_dumps(value)
                               for key, value in obj.items()) + "}"
    raise TypeError("not JSON serializable: %r" % type(obj).__name__)


class SpecError(Exception):
    """The launch spec on stdin is not usable; the message says which key and why."""


def parse_spec(raw: bytes, run_dir: str) -> dict[str, Any]:
    """Validate the launch spec and fill defaults (paths made absolute against RUN_DIR)."""
    try:
        spec = json_loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SpecError("stdin is not a JSON object: %s" % exc) from None
    if not isinstance(spec, dict):
        raise SpecError("stdin is not a JSON object")
    run_id = spec.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise SpecError("'run_id' must be a non-empty string")
    argv = spec.get("argv")
    if not isinstance(argv, list) or not argv:
        raise SpecError("'argv' must be a non-empty list of strings")
    if not all(isinstance(a, str) for a in argv) or "\0" in "".join(argv):
        raise SpecError("'argv' items must be strings without NUL characters")
    env = spec.get("env") or {}
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and "=" not in k
            and "\0" not in k + v for k, v in env.items()):
        raise SpecError("'env' must map variable names to string values")
    mask = spec.get("mask") or []
    if not isinstance(mask, list) or not all(isinstance(v, str) for v in mask):
        raise SpecError("'mask' must be a list of strings")  # never echo the values
    beat = spec.get("heartbeat_seconds", 1.0)
    if isinstance(beat, bool) or not isinstance(beat, (int, float)) or not 0 < beat <= 3600:
        raise SpecError("'heartbeat_seconds' must be a number in (0, 3600]")
    for key in ("cwd", "python", "native_share_dir", "compat_path", "outputs_dir"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise SpecError("'%s' must be a string" % key)
    observe = spec.get("observe_env") or []
    if not isinstance(observe, list) or len(observe) > 8 or not all(
            isinstance(v, str) and v and "=" not in v and "\0" not in v for v in observe):
        raise SpecError("'observe_env' must be a short list of variable names")
    python = spec.get("python")
    if python and argv[0] == "python":
        argv = [python] + argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        "run_id": run_id, "argv": argv, "env": env, "mask": mask, "observe_env": observe,
        "heartbeat_seconds": float(beat),
        "python": python,
        "cwd": os.path.join(run_dir, os.path.expanduser(spec.get("cwd") or "work")),
        "native_share_dir": spec.get("native_share_dir"),
        "compat_path": os.path.join(run_dir, spec.get("compat_path") or os.path.join(here, "compat")),
        "outputs_dir": os.path.join(run_dir, spec.get("outputs_dir") or os.path.join("work", "outputs")),
    }


def write_json_atomic(path: str, obj: Any) -> None:
    """Readers on any machine see either the old or the new file, never a torn one. The
    temporary name is created fresh (never through a link the run may have put there)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json_dumps(obj))
        os.replace(tmp, path)
    except BaseException:  # a full disk: leave the old file whole and no torn temporary
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 256 * 1024


class SpaceReserve:
    """A file of ``RESERVE_BYTES`` kept in the run folder while the run lives. When the disk
    fills up, removing it frees enough room to write the run's end (outputs.json,
    status.json saying "no space left on device") so the host learns why the run stopped."""

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, RESERVE_NAME)
        self.held = False

    def take(self) -> None:
        """Raises OSError(ENOSPC) when even the reserve does not fit."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            block = b"\0" * 65536
            for _ in range(RESERVE_BYTES // len(block)):
                os.write(fd, block)
            self.held = True
        except BaseException:
            os.close(fd)
            self.release()
            raise
        os.close(fd)

    def release(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.held = False


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def list_outputs(root: str) -> list[dict[str, Any]]:
    """Regular files under root, recursively; symlinks (to files or folders) are never followed
    nor listed, so a run cannot publish files from outside its outputs folder."""
    found: list[dict[str, Any]] = []
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return found
    except OSError:
        return found
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                import hashlib  # only when there is something to hash: it costs milliseconds

                digest = hashlib.sha256()
                # swapped for a link or FIFO since the lstat: never follow, never block
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as fh:
                    st = os.fstat(fd)
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            except OSError:
                continue
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            found.append({"path": rel, "size": st.st_size, "sha256": digest.hexdigest()})
    found.sort(key=lambda entry: entry["path"])
    return found
