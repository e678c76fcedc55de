"""Follow a ``Run`` from a background thread at a bounded rate, handing snapshots to a callback.

The watcher is the only reader: it calls ``Run.refresh()`` (which reconciles with the target),
reads the log from the last offset, and re-reads metrics and outputs. It never blocks the kernel's
main thread and stops by itself once the run reaches a terminal status.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable

from aml_magic.domain.runfolder.build_log import build_log_tail
from aml_magic.errors import AmlError
from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._snapshot import TAIL_LINES, LogTail, RunSnapshot, snapshot_of

if TYPE_CHECKING:
    from aml_magic.domain.history.records import Artifact, Metric
    from aml_magic.service.run import Run

SnapshotCallback = Callable[[RunSnapshot], None]
FULL_LOG_LIMIT = 4 * 1024 * 1024


class RunWatcher:
    """Poll one run every ``interval`` seconds until it is terminal or :meth:`stop` is called."""

    def __init__(self, run: Run, *, on_update: SnapshotCallback, interval: float = 0.25,
                 tail_lines: int = TAIL_LINES, slow_every: int = 4) -> None:
        self.run = run
        self.on_update = on_update
        self.interval = interval
        self.slow_every = slow_every          # metrics/outputs are re-read every N ticks
        self.tail = LogTail(tail_lines)
        self.offset = 0
        self.metrics: list[Metric] = []
        self.outputs: list[Artifact] = []
        self.error: str | None = None
        self.build_tail: str | None = None
        self._build_settled = False
        self.ticks = 0
        self.last: RunSnapshot | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poll_once(self, *, refresh: bool = True) -> RunSnapshot:
        """Read everything new once. ``refresh=False`` reads only what is already local (cheap:
        used for the first render so displaying a widget never waits on a target)."""
        with self._lock:
            self.error = None
            if refresh:
                try:
                    self.run.refresh()
                    self.error = getattr(self.run, "last_error", None)
                except AmlError as err:
                    self.error = str(err)
            record = self.run.record          # as of the refresh above: no second reconcile
            terminal = record.status.is_terminal()
            self._read_log()
            self._read_build_log(record.status)
            if not refresh or terminal or self.ticks % self.slow_every == 0:
                self.metrics = list(self.run.metrics())
                self.outputs = list(self.run.outputs())
            self.ticks += 1
            self.last = snapshot_of(self.run, record, self.tail, metrics=self.metrics,
                                    outputs=self.outputs, error=self.error,
                                    build_tail=self.build_tail)
            return self.last

    def _read_build_log(self, status: RunStatus) -> None:
        """Follow the environment build the submit triggered while the run is being prepared,
        then read it once more (its last lines) and stop looking."""
        if self._build_settled:
            return
        folder = getattr(self.run, "folder", None)
        self.build_tail = build_log_tail(folder) if folder is not None else None
        self._build_settled = status not in (RunStatus.QUEUED, RunStatus.PREPARING)

    def _read_log(self) -> None:
        while True:
            text, new_offset = self.run.log_text(self.offset)
            if new_offset == self.offset:
                return
            self.offset = new_offset
            self.tail.feed(text)

    def full_log(self, *, limit: int = FULL_LOG_LIMIT) -> str:
        """The whole log from the start (read from the run folder, not from the tail)."""
        chunks, offset, size = [], 0, 0
        while size < limit:
            text, new_offset = self.run.log_text(offset)
            if new_offset == offset:
                break
            chunks.append(text)
            size += len(text)
            offset = new_offset
        text = "".join(chunks)
        if size >= limit:
            text += (f"\n… log longer than {limit // (1024 * 1024)} MB: see log.txt in the run "
                     "folder")
        return text

    # -- thread -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=f"aml-watch-{self.run.id}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                snap = self.poll_once()
                self.on_update(snap)
                failures = 0
                if snap.is_terminal:
                    return
            except Exception as err:  # noqa: BLE001 - a display thread must not die silently
                failures += 1
                self.error = f"{type(err).__name__}: {err}"
                if failures >= 20:
                    return
            spent = time.monotonic() - started
            self._stop.wait(max(self.interval - spent, 0.05) * (1 if failures == 0 else 4))
