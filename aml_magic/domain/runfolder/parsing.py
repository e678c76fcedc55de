"""Bounded, validated parsing of the files a run's agent writes (and the run may forge):
``status.json``, ``metrics.jsonl`` and ``outputs.json``. Nothing here trusts a type, a number or
a length; a malformed ``status.json`` becomes a ``Failed`` state that says why."""
from __future__ import annotations

import json
import re
import math
import os
from aml_magic.domain.plain_data import field, plain_data

from aml_magic.errors import UnsafeRunFile
from aml_magic.domain.results import Artifact, Metric
from aml_magic.domain.provenance import describe_python, python_facts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATUS_LIMIT = 64 * 1024            # status.json is a few hundred bytes
METRICS_CHUNK = 1 << 20             # one read of metrics.jsonl; also the longest metric line
METRICS_CHUNKS_PER_PASS = 8         # so a reconcile pass costs at most this many chunks
MANIFEST_LIMIT = 8 << 20            # outputs.json
NAME_LIMIT = 256                    # metric names
TEXT_LIMIT = 2000                   # reasons and string metric values
LIST_LIMIT = 100_000                # items of a list-valued metric
STATES = ("Running", "Completed", "Failed", "Canceled")


@plain_data
class AgentState:
    """The agent's ``status.json`` as the client sees it."""
    state: str                          # Running | Completed | Failed | Canceled | Missing
    exit_code: int | None = None
    reason: str | None = None
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    heartbeat_seconds: float = 1.0
    pid: int | None = None
    child_pgid: int | None = None       # never filled from the run folder: never signalled
    python: str | None = None           # the interpreter's path and version, when reported
    python_facts: dict[str, str] | None = None  # the same as reported (``python_facts``)
    malformed: str | None = None        # why status.json was refused (the run wrote it)
    observed_env: dict[str, str | None] | None = None  # as the run got them (None: unset)

    @property
    def is_final(self) -> bool:
        return self.state in ("Completed", "Failed", "Canceled")


def parse_status(raw: bytes, *, heartbeat_seconds: float = 1.0) -> AgentState:
    """``status.json`` as an ``AgentState``. Empty means the agent has not written it yet
    (``Missing``); anything malformed is a ``Failed`` state whose ``malformed`` says why (the
    agent replaces the file atomically, so a torn or foreign file was written by the run)."""
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
                      heartbeat_seconds=float(beat), python=describe_python(data.get("python")),
                      python_facts=python_facts(data.get("python")),
                      observed_env=_observed_env(data.get("observed_env")))


def _observed_env(value: Any) -> dict[str, str | None] | None:
    """The agent's ``observed_env``: a few variable names, each a short text or null; None
    when absent or not that shape (the run could have written it: nothing else is kept)."""
    if not isinstance(value, dict) or len(value) > 8:
        return None
    out: dict[str, str | None] = {}
    for name, text in value.items():
        if not (isinstance(name, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", name)):
            return None
        if text is not None and not isinstance(text, str):
            return None
        out[name] = None if text is None else _text(text, limit=256)
    return out


@plain_data
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
    return raw.decode("utf-8", "backslashreplace").translate(_CONTROLS)


def _text(value: str, *, limit: int = TEXT_LIMIT) -> str:
    """Storable, printable text: at most ``limit`` characters; lone surrogates (SQLite and
    UTF-8 outputs refuse them) and control characters other than tab and newline (terminal
    escape sequences in ``aml run show``) become ``\\x..`` escapes."""
    value = value[:limit]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value.translate(_CONTROLS)


_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)] if c not in (9, 10)}


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
        why = f"status.json refused: {exc}"
        return AgentState("Failed", reason=why, malformed=why)
    return parse_status(raw, heartbeat_seconds=heartbeat_seconds)
