"""``Run``: the handle every front end holds on one run (status, wait, logs, metrics, outputs,
cancel). It reads the run history and reconciles it with the target on demand."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import AmlError
from .history.records import Artifact, Metric, RunRecord
from .history.status import RunStatus

if TYPE_CHECKING:
    from .workspace import Workspace


class Run:
    """A submitted run; cheap to create, safe to share between threads for reading."""

    def __init__(self, workspace: Workspace, run_id: str,
                 record: RunRecord | None = None) -> None:
        self.workspace = workspace
        self.id = run_id
        self._record = record
        self.last_error: str | None = None
        self._masker: Any = None
        #: the thread starting the run on its target, for ``submit(background=True)``
        self.starting: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.record.status.value!r})"

    # -- state ------------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        if self._record is None:
            self._record = self.workspace.store.get(self.id)
        return self._record

    @property
    def status(self) -> RunStatus:
        return self.refresh().status

    @property
    def folder(self) -> Path:
        return self.workspace.store.run_dir(self.id)

    def refresh(self) -> RunRecord:
        """Reconcile with the target (unless terminal) and return the fresh record. An
        unreachable target leaves the status as it was and sets ``last_error``."""
        record = self.workspace.store.get(self.id)
        if not record.status.is_terminal() and record.target_state.get("run_dir"):
            try:
                record = self.workspace.reconcile(record)
                self.last_error = None
            except AmlError as exc:
                self.last_error = str(exc)
        self._record = record
        return record

    def wait(self, timeout: float | None = None, *, poll: float | None = None) -> RunStatus:
        """Block until the run ends (or ``timeout`` seconds pass); returns the status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05 if poll is None else poll
        cap = 0.5 if poll is None else poll
        while True:
            record = self.refresh()
            if record.status.is_terminal():
                return record.status
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return record.status
            pause = delay if left is None else min(delay, left)
            if record.target_state.get("run_dir"):
                self.workspace.wait_for_change(record, pause)
            else:
                time.sleep(pause)
            delay = min(cap, delay * 1.5)

    # -- logs -------------------------------------------------------------------------------
    def log_text(self, offset: int = 0) -> tuple[str, int]:
        """The log from byte ``offset`` up to its last complete line, secrets masked, and the
        offset to resume from."""
        from .errors import UnsafeRunFile
        from .runfolder import LOG_CHUNK, read_nofollow
        try:   # the run may have replaced log.txt (a symlink, /dev/zero): bounded, no-follow
            data = read_nofollow(self.folder / "log.txt", offset, LOG_CHUNK)
        except (UnsafeRunFile, OSError):
            return "", offset
        end = data.rfind(b"\n") + 1
        if end == 0 and (len(data) >= LOG_CHUNK or self.record.status.is_terminal()):
            end = len(data)               # a line longer than one read comes in pieces
        return self.mask(data[:end].decode("utf-8", "replace")), offset + end

    def mask(self, text: str) -> str:
        """Replace the secret values this run was given with ``******``."""
        if self._masker is None:
            self._masker = self.workspace.masker_for(self.record)
        return self._masker.mask(text)

    def logs(self, *, follow: bool = False, poll: float = 0.1) -> Iterator[str]:
        """Yield the log's lines; with ``follow``, keep yielding until the run ends."""
        offset = 0
        while True:
            terminal = self.refresh().status.is_terminal() if follow else True
            text, offset = self.log_text(offset)
            while text:                   # each read is bounded: drain what is there
                yield from text.splitlines(keepends=True)
                text, offset = self.log_text(offset)
            if terminal:
                return
            time.sleep(poll)

    # -- results ----------------------------------------------------------------------------
    def metrics(self) -> list[Metric]:
        return self.workspace.store.metrics(self.id)

    def outputs(self) -> list[Artifact]:
        return self.workspace.store.artifacts(self.id)

    @property
    def outputs_folder(self) -> Path:
        return self.folder / "outputs"

    def cancel(self) -> RunStatus:
        """Ask the target to stop the run; returns the status once the agent has answered
        (or after a few seconds)."""
        self.workspace.cancel(self.id)
        return self.wait(timeout=5)
