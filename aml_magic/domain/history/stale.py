"""Runs whose submitter died before launching them: found at the next look, failed with that
reason, and their partial copy of the project removed.

A run is recorded (Queued, then Preparing) before its project is copied and its agent
started; until the target state names a run folder, only the submitting process can move it
on. That process notes who it is in ``submitter.json`` (pid, its start time, the machine's
boot id and host name). A later look (``run show``, ``run wait``, ``run list``) that finds the
run not launched asks whether that process still exists: if it is gone, the run is Failed with
the reason. A run without the note (the submitter died between recording it and writing the
note) is judged after ``GRACE_SECONDS``."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.domain.history.mirror import write_new
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.nofollow import read_nofollow, write_marker


def _hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (without importing socket on
    every submit)."""
    return os.uname().nodename

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.history.store import RunStore

SUBMITTER_FILE = "submitter.json"
#: How long a run may stay recorded but unlaunched without a submitter note.
GRACE_SECONDS = 30.0
#: A submitter on another machine cannot be asked; after this long it is presumed gone.
OTHER_HOST_SECONDS = 24 * 3600.0
#: Names of the copies a submit makes in the run folder before it launches.
PARTIAL_PREFIX = ".work.partial-"
NOTEBOOK_KERNEL_GONE = ("the kernel tracking this notebook stopped without `%azureml history "
                        "off` or a clean shutdown (killed, or it crashed); metrics stored until "
                        "then are kept, ./outputs/ was not collected")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), so
    a reused pid is not mistaken for the submitter; None when there is no such process, or
    only its zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    try:
        fields = raw[raw.rindex(b")") + 2:].split()
        if fields[0] in (b"Z", b"X"):    # dead, not yet reaped (its parent may never reap it)
            return None
        return int(fields[19])
    except (ValueError, IndexError):
        return None


def mark_submitter(run_folder: Path) -> None:
    """Write this process's identity as the run's submitter (best effort)."""
    note = {"pid": os.getpid(), "start": process_start(os.getpid()), "boot_id": _boot_id(),
            "host": _hostname()}
    try:
        raw = json.dumps(note).encode()
        if not write_new(run_folder, SUBMITTER_FILE, raw):  # a new run's folder: nothing there
            write_marker(run_folder, SUBMITTER_FILE, raw)
    except (OSError, AmlError):
        pass


def _read_note(run_folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(read_nofollow(run_folder / SUBMITTER_FILE, 0, 4096).decode())
    except (OSError, AmlError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def abandoned_reason(run_folder: Path, created_at: float, *,
                     now: float | None = None) -> str | None:
    """Why the run's submitter is known to be gone, or None while it may still launch it."""
    now = time.time() if now is None else now
    note = _read_note(run_folder)
    if note is None:
        if now - created_at < GRACE_SECONDS:
            return None
        return (f"its submitter stopped before launching it (no submitter note after "
                f"{GRACE_SECONDS:.0f} s); submit it again")
    pid = int(note["pid"])
    if note.get("boot_id") and note.get("boot_id") == _boot_id():
        start = process_start(pid)
        if start is not None and (note.get("start") is None or start == note.get("start")):
            return None
        return (f"its submitter (pid {pid}) died before launching it (killed, or it crashed); "
                "submit it again")
    if note.get("host") == _hostname():
        return f"this machine restarted before the run was launched (submitter pid {pid})"
    if now - created_at < OTHER_HOST_SECONDS:
        return None
    return (f"its submitter on {note.get('host')} did not launch it within "
            f"{OTHER_HOST_SECONDS / 3600:.0f} h")


def submitter_pid(run_folder: Path) -> int | None:
    """The pid its submitter noted in ``run_folder`` (None without a readable note)."""
    pid = (_read_note(run_folder) or {}).get("pid")
    return pid if isinstance(pid, int) else None


def remove_partial_copies(run_folder: Path, *, launched: bool) -> None:
    """Remove the copies a submit left in ``run_folder``: every unfinished one, and for a run
    never launched, the finished one too (nothing ran in it)."""
    try:
        names = os.listdir(run_folder)
    except OSError:
        return
    for name in names:
        if name.startswith(PARTIAL_PREFIX) or (name == "work" and not launched):
            path = run_folder / name
            if path.is_dir() and not path.is_symlink():
                import shutil  # a rare leftover: shutil (bz2, lzma) stays off the submit path
                shutil.rmtree(path, ignore_errors=True)


def fail_if_abandoned(store: RunStore, record: RunRecord) -> RunRecord:
    """For a run recorded but not launched: Failed with the reason when its submitter is gone
    (and its partial copy removed); otherwise the record unchanged."""
    if record.target_state.malformed and not record.status.is_terminal():
        return fail_malformed(store, record)
    if record.status.is_terminal() or record.target_state.run_dir:
        return record
    folder = store.run_dir(record.run_id)
    noted = folder
    if record.parent_run_id and not (folder / SUBMITTER_FILE).exists():
        noted = store.run_dir(record.parent_run_id)   # a sweep's driver notes the parent only
    reason = abandoned_reason(noted, record.created_at)
    if reason is None:
        return record
    fresh = store.get(record.run_id)            # it may have been launched meanwhile
    if fresh.status.is_terminal() or fresh.target_state.run_dir:
        return fresh
    # The agent may have started just before the submitter died (it writes status.json
    # first): then its copy is in use and stays; the agent is not signalled (its pid comes
    # from the run folder, which the run can write).
    if record.kind == "notebook":      # the kernel itself was the run (%azureml history on)
        reason = NOTEBOOK_KERNEL_GONE
        store.update(record.run_id, ended_at=time.time())
        store.set_status(record.run_id, RunStatus.FAILED, reason=reason)
        return store.get(record.run_id)
    launched = (folder / "status.json").exists()
    remove_partial_copies(folder, launched=launched)
    if launched:
        reason += "; its agent had started and was left unwatched (see log.txt)"
    store.update(record.run_id, ended_at=time.time())
    store.set_status(record.run_id, RunStatus.FAILED, reason=reason)
    return store.get(record.run_id)


def fail_malformed(store: RunStore, record: RunRecord) -> RunRecord:
    """Fail a run whose stored target state was refused (``TargetState.malformed``): where it
    lives cannot be trusted, so nothing on the target is read or signalled for it."""
    store.update(record.run_id, ended_at=time.time())
    store.set_status(record.run_id, RunStatus.FAILED, reason=record.target_state.malformed)
    return store.get(record.run_id)
