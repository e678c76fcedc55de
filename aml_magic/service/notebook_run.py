"""``%azureml history on|off``: the notebook itself tracked as a run, as Workbench did.

While history is on, the kernel is the run: it is recorded Running on target ``local`` with
``kind="notebook"`` and the notebook's name as its script; the project is snapshotted as for a
submit (``manifest.json``) and the notebook file itself is kept in the run's ``work/`` copy, so
``aml project restore --run-id`` can put it back. ``get_azureml_logger().log()`` in the kernel
appends to the run's ``metrics.jsonl`` (the stand-in logger follows ``AML_MAGIC_METRICS_FILE``,
which is set in the kernel's environment while on); the lines are stored after each cell and at
the end. Files the kernel writes under ``./outputs/`` between on and off (new or changed) are
copied into the run folder and indexed as its outputs at ``off``, or at kernel shutdown (an
``atexit`` hook), and the run ends Completed.
"""
from __future__ import annotations

import atexit
import os
import platform
import shutil
import stat
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.errors import AmlError
from aml_magic.domain.history.manifests import keep_manifest
from aml_magic.domain.nofollow import write_marker
from aml_magic.domain.history.records import Metric, RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.runfolder import (
    METRICS_CHUNK,
    append_nofollow,
    parse_metrics_chunk,
    read_nofollow,
    tree_manifest,
)
from aml_magic.domain.snapshot.gitinfo import git_info
from aml_magic.domain.snapshot.manifest import take_snapshot
from aml_magic.service.notebook_launcher import launcher_notebook, resolve_session_path
from aml_magic.domain.target_state import TargetState

if TYPE_CHECKING:
    from aml_magic.service.workspace import Workspace

#: The script name of a notebook run when the kernel cannot tell which notebook it serves.
FALLBACK_NAME = "notebook"
#: Where the kernel's front end says which notebook it runs: VS Code sets the first in the
#: namespace, ipykernel sets ``__session__`` from ``JPY_SESSION_NAME`` (Jupyter Server 2+).
NAMESPACE_NAMES = ("__vsc_ipynb_file__", "__session__")
SESSION_VARIABLE = "JPY_SESSION_NAME"
#: What the stand-in ``azureml.logging`` appends to (agent/compat/azureml/logging.py; not
#: imported from there: that package replaces itself with an installed ``azureml``).
METRICS_FILE_VARIABLE = "AML_MAGIC_METRICS_FILE"
SHUTDOWN_REASON = "the kernel shut down while history was on"

FileState = tuple[int, int]          # (size, mtime in ns): what "changed" means for outputs


def notebook_path(user_ns: dict[str, Any]) -> str | None:
    """The notebook file as the kernel knows it, or None (a kernel started by hand)."""
    for name in NAMESPACE_NAMES:
        value = user_ns.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    value = os.environ.get(SESSION_VARIABLE, "").strip()
    return value or launcher_notebook()     # jupyter execute / nbconvert: its command line


def script_name(path: str | None, project_root: Path) -> str:
    """What history shows as the run's script: the notebook's path inside the project, else
    its file name, else ``notebook``. A session name that is no file path (some front ends
    name sessions freely) is kept as given."""
    if not path:
        return FALLBACK_NAME
    candidate = resolve_session_path(path, Path.cwd())
    try:
        return candidate.resolve().relative_to(project_root).as_posix()
    except (ValueError, OSError):
        return Path(path).name or FALLBACK_NAME


def notebook_file(path: str | None) -> Path | None:
    """The notebook as an existing regular file, for the snapshot; None when there is none."""
    if not path:
        return None
    candidate = resolve_session_path(path, Path.cwd())
    try:
        return candidate if stat.S_ISREG(candidate.lstat().st_mode) else None
    except OSError:
        return None


def list_files(folder: Path) -> dict[str, FileState]:
    """Regular files under ``folder`` (relative '/'-separated path -> size and mtime), found
    without following symbolic links."""
    found: dict[str, FileState] = {}
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[Path(path).relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
    return found


def note(folder: Path, text: str) -> None:
    """One timestamped line in the run's ``log.txt`` (what ``aml run logs`` and the widget's
    log show for a notebook run: when it was tracked, what it collected)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        append_nofollow(folder, "log.txt", f"[{stamp}] {text}\n".encode())
    except (OSError, AmlError):
        pass                             # the log is a courtesy; the history is the record


class NotebookRun:
    """One ``history on`` .. ``off`` span of a kernel. Create it with :meth:`start`."""

    def __init__(self, workspace: Workspace, record: RunRecord, *, outputs_dir: Path,
                 outputs_before: dict[str, FileState], previous_metrics_file: str | None) -> None:
        self.workspace = workspace
        self.record = record
        self.outputs_dir = outputs_dir
        self.outputs_before = outputs_before
        self.previous_metrics_file = previous_metrics_file
        self.metrics_offset = 0
        self.metrics_count = 0
        self.ended = False
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.record.run_id

    @property
    def folder(self) -> Path:
        return Path(self.workspace.store.run_dir(self.id))

    @property
    def metrics_file(self) -> Path:
        return self.folder / "metrics.jsonl"

    @classmethod
    def start(cls, workspace: Workspace, user_ns: dict[str, Any]) -> NotebookRun:
        """Record the run (Running), snapshot the project and the notebook, note what
        ``./outputs/`` holds now, and point the kernel's metric logger at the run."""
        path = notebook_path(user_ns)
        script = script_name(path, workspace.root)
        manifest = take_snapshot(workspace.root)
        commit, dirty = git_info(workspace.root)
        outputs_dir = Path.cwd() / "outputs"
        store = workspace.store
        now = time.time()
        record = RunRecord(
            run_id=store.new_run_id(workspace.name), project=workspace.name,
            run_configuration=None, target="local", target_type="local",
            status=RunStatus.RUNNING, created_at=now, started_at=now, command=[script],
            script=script, snapshot_digest=manifest.digest, git_commit=commit, git_dirty=dirty,
            target_state=TargetState(notebook=path or "", kernel_pid=os.getpid(),
                                     outputs_dir=str(outputs_dir)),
            kind="notebook",
            provenance={"python": sys.executable, "python_version": platform.python_version(),
                        "python_location": None})
        store.create_run(record)        # notes this kernel as the run's owner (stale.py)
        folder = Path(store.run_dir(record.run_id))
        write_marker(folder, "manifest.json", manifest.to_json().encode())
        keep_manifest(store.aml_dir, manifest)      # restore's copy (history/manifests.py)
        source = notebook_file(path)
        if source is not None:          # the notebook as saved now, for restore and reading
            copy = folder / "work" / (script if script != FALLBACK_NAME else source.name)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
        before = list_files(outputs_dir) if outputs_dir.is_dir() else {}
        where = f"notebook {path}" if path else "a notebook whose file the kernel cannot name"
        note(folder, f"history on: {where}, kernel pid {os.getpid()}, outputs from "
                     f"{outputs_dir}" + ("" if source else "; notebook file not snapshotted"))
        run = cls(workspace, record, outputs_dir=outputs_dir, outputs_before=before,
                  previous_metrics_file=os.environ.get(METRICS_FILE_VARIABLE))
        os.environ[METRICS_FILE_VARIABLE] = str(run.metrics_file)
        atexit.register(run.finish_at_exit)
        return run

    # -- metrics ------------------------------------------------------------------------------
    def ingest_metrics(self) -> int:
        """Store the complete metric lines logged since the last call; returns how many.
        Steps are numbered by the store (per name, in this run): the kernel's logger and a
        ``!python`` child it started count steps separately."""
        added = 0
        with self._lock:
            while True:
                try:
                    raw = read_nofollow(self.metrics_file, self.metrics_offset, METRICS_CHUNK)
                except FileNotFoundError:
                    return added
                except (OSError, AmlError):
                    return added
                chunk = parse_metrics_chunk(raw)
                if chunk.consumed == 0:
                    return added
                metrics = [Metric(m.name, m.value, None, m.time) for m in chunk.metrics]
                if metrics:
                    self.workspace.store.add_metrics(self.id, metrics)
                self.metrics_offset += chunk.consumed
                added += len(metrics)
                self.metrics_count += len(metrics)
                if len(raw) < METRICS_CHUNK:
                    return added

    def ingest_quietly(self) -> None:
        """``ingest_metrics`` for IPython's ``post_run_cell`` event: never disturbs a cell."""
        try:
            self.ingest_metrics()
        except Exception:  # noqa: BLE001 - retried at the next cell and at the end
            pass

    # -- end ----------------------------------------------------------------------------------
    def collect_outputs(self) -> list[str]:
        """Copy the files under ``./outputs/`` that are new or changed since ``on`` into the
        run folder and index them; returns their paths (relative to ``outputs/``)."""
        now = list_files(self.outputs_dir) if self.outputs_dir.is_dir() else {}
        changed = sorted(rel for rel, state in now.items()
                         if self.outputs_before.get(rel) != state)
        dest_root = self.folder / "outputs"
        for rel in changed:
            dest = dest_root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(self.outputs_dir / rel, dest, follow_symlinks=False)
            except OSError:
                continue                     # removed meanwhile: not an output after all
        self.workspace.store.set_artifacts(self.id, tree_manifest(self.folder, "outputs"))
        return changed

    def finish(self, *, reason: str | None = None) -> RunRecord:
        """Store the last metrics, collect the outputs, end the run Completed and give the
        kernel's logger back its previous destination. Safe to call twice."""
        with self._lock:
            if self.ended:
                return self.workspace.store.get(self.id)
            self.ended = True
        atexit.unregister(self.finish_at_exit)
        if os.environ.get(METRICS_FILE_VARIABLE) == str(self.metrics_file):
            if self.previous_metrics_file is None:
                os.environ.pop(METRICS_FILE_VARIABLE, None)
            else:
                os.environ[METRICS_FILE_VARIABLE] = self.previous_metrics_file
        store = self.workspace.store
        self.ingest_metrics()
        store.set_status(self.id, RunStatus.FINALIZING)
        collected = self.collect_outputs()
        note(self.folder, f"history off{' (' + reason + ')' if reason else ''}: "
                          f"{self.metrics_count} metric value(s), outputs: "
                          + (", ".join(f"outputs/{rel}" for rel in collected) or "none"))
        store.set_status(self.id, RunStatus.COMPLETED, reason=reason)
        self.record = store.get(self.id)
        return self.record

    def finish_at_exit(self) -> None:
        """The ``atexit`` hook: a kernel shut down without ``off`` still ends its run."""
        try:
            self.finish(reason=SHUTDOWN_REASON)
        except Exception as err:  # noqa: BLE001 - at exit there is nobody to raise to
            print(f"aml_magic: could not end notebook run {self.id}: {err}", file=sys.stderr)
