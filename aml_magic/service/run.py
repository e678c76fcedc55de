"""``Run``: the handle every front end holds on one run (status, wait, logs, metrics, outputs,
cancel). It reads the run history and reconciles it with the target on demand."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from aml_magic.errors import AmlError, ApiError, UnsafeRunFile
from aml_magic.domain.history.records import Artifact, Metric, RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.runfolder import LOG_CHUNK, open_file_nofollow, read_nofollow
from aml_magic.domain.snapshot import folder_watch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.secrets import Masker
    from aml_magic.service.workspace import Workspace

#: Longest pause between two checks of a live run in ``Run.wait`` / ``Run.logs(follow=True)``.
WAIT_CAP_SECONDS = 0.5
LOG_FOLLOW_CAP_SECONDS = 0.1
#: The first pause. A local run's end wakes the waiter at once (its agent's pidfd), so this
#: bounds only how soon a remote run's end or a run's first lines are seen: each check of a live
#: run (lock, status, history) costs about as much as a trivial run takes.
FIRST_PAUSE_SECONDS = 0.01
#: The pause after new log text: short enough to stream, long enough that a chatty run does not
#: make the follower reconcile (lock, status, history) thousands of times a second.
ACTIVE_LOG_PAUSE_SECONDS = 0.01
#: How long a local run is followed on timed pauses before its folder is watched.
WATCH_AFTER_SECONDS = 1.0
#: With a folder watch, the longest quiet wait before checking anyway (the state of a run whose
#: agent was killed is only settled by a check, once its heartbeat is stale).
WATCHED_PAUSE_SECONDS = 0.5


class Backoff:
    """Pauses that start short and double up to ``cap``; ``reset`` after activity."""

    def __init__(self, *, cap: float, first: float = FIRST_PAUSE_SECONDS) -> None:
        self.cap = max(cap, 0.0)
        self.first = min(first, self.cap)
        self._next = self.first

    def next(self) -> float:
        pause = self._next
        self._next = min(self.cap, self._next * 2)
        return pause

    def reset(self, to: float | None = None) -> None:
        """Start again from ``to`` (default: the first pause)."""
        self._next = self.first if to is None else min(to, self.cap)


class Run:
    """A submitted run; cheap to create, safe to share between threads for reading."""

    def __init__(self, workspace: Workspace, run_id: str,
                 record: RunRecord | None = None) -> None:
        self.workspace = workspace
        self.id = run_id
        self._record = record
        self.last_error: str | None = None
        self._masker: Masker | None = None
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
    def orphaned(self) -> str | None:
        """Why its target is gone from ``aml_config/`` (nothing connects for it), or None."""
        return self.workspace.orphaned(self.record)

    @property
    def unreachable(self) -> str | None:
        """Why the last refresh could not ask the target, unless the run is orphaned (said
        by ``orphaned``): the state shown may be stale."""
        return None if self.last_error and self.last_error == self.orphaned else self.last_error

    @property
    def folder(self) -> Path:
        return self.workspace.store.run_dir(self.id)

    def refresh(self) -> RunRecord:
        """Reconcile with the target (unless terminal) and return the fresh record. An
        unreachable target leaves the status as it was and sets ``last_error``."""
        record = self.workspace.store.get(self.id)
        if not record.status.is_terminal() and not record.target_state.run_dir:
            record = self.workspace.settle_unlaunched(record)   # its submitter may have died
        if not record.status.is_terminal() and record.target_state.run_dir:
            try:
                record = self.workspace.reconcile(record)
                self.last_error = None
            except AmlError as exc:
                self.last_error = str(exc)
        self._record = record
        return record

    def wait(self, timeout: float | None = None, *, poll: float | None = None) -> RunStatus:
        """Block until the run ends (or ``timeout`` seconds pass); returns the status.

        Waits on the target's change events (the local agent's exit, through a pidfd) between
        checks; ``poll`` caps the pause between checks on targets without such events."""
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = Backoff(cap=WAIT_CAP_SECONDS if poll is None else poll)
        while True:
            record = self.refresh()
            if record.status.is_terminal():
                return record.status
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return record.status
            self._wait_for_change(record, backoff.next(), left)

    def _wait_for_change(self, record: RunRecord, pause: float, left: float | None) -> None:
        """Pause up to ``pause`` (never past the deadline), waking early when the target can
        tell that the run changed."""
        if left is not None:
            pause = min(pause, max(left, 0.0))
        if record.target_state.run_dir:
            self.workspace.wait_for_change(record, pause)
        else:                            # still starting (background submit): nothing to watch
            time.sleep(pause)

    # -- logs -------------------------------------------------------------------------------
    def log_text(self, offset: int = 0) -> tuple[str, int]:
        """The log from byte ``offset`` up to its last complete line, secrets masked, and the
        offset to resume from."""
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

    def logs(self, *, follow: bool = False, poll: float | None = None) -> Iterator[str]:
        """Yield the log's lines; with ``follow``, keep yielding until the run ends.

        While following, the pause between reads starts at a millisecond, is 10 ms after new
        text and grows while the log is quiet (up to ``poll`` seconds); the target's change
        events (the local agent's exit) end it early, so a short run is streamed without
        waiting out a fixed interval. A local run still going after a second is then watched
        (``FolderWatch``): each new line wakes the follower at once. Not sooner: closing an
        inotify watch costs the kernel ~15 ms, more than a short run saves with it."""
        offset = 0
        backoff = Backoff(cap=LOG_FOLLOW_CAP_SECONDS if poll is None else poll)
        watch: folder_watch.FolderWatch | None = None
        watch_after = time.monotonic() + WATCH_AFTER_SECONDS
        try:
            while True:
                record = self.refresh() if follow else self.record
                terminal = record.status.is_terminal() if follow else True
                text, offset = self.log_text(offset)
                got_text = bool(text)
                while text:                   # drain what is there (a read may be bounded)
                    yield from text.splitlines(keepends=True)
                    text, offset = self.log_text(offset)
                if terminal:
                    return
                if got_text:
                    backoff.reset(ACTIVE_LOG_PAUSE_SECONDS)
                if watch is None and time.monotonic() >= watch_after:
                    watch = self._folder_watch(record)
                    watch_after = float("inf")    # one try: not every target can be watched
                if watch is not None:
                    if got_text:             # a chatty run: at most one read per 10 ms
                        time.sleep(ACTIVE_LOG_PAUSE_SECONDS)
                    watch.wait(WATCHED_PAUSE_SECONDS)
                else:
                    self._wait_for_change(record, backoff.next(), None)
        finally:
            if watch is not None:
                watch.close()

    def _folder_watch(self, record: RunRecord) -> folder_watch.FolderWatch | None:
        """A watch on the run folder when the agent writes there itself, else None."""
        if record.target_state.run_dir != str(self.folder):
            return None
        watch = folder_watch.FolderWatch(self.folder, pid=record.target_state.agent_pid)
        if watch.available:
            return watch
        watch.close()
        return None

    # -- results ----------------------------------------------------------------------------
    def metrics(self) -> list[Metric]:
        return self.workspace.store.metrics(self.id)

    def outputs(self) -> list[Artifact]:
        return self.workspace.store.artifacts(self.id)

    @property
    def outputs_folder(self) -> Path:
        return self.folder / "outputs"

    def open_output(self, name: str) -> tuple[int, int]:
        """(read-only fd, size) of the collected output ``name``: the one way every reader
        (REST download, ``aml history download``) opens a run's outputs. Only names the
        history lists are served, and the path is walked from the run folder with
        ``O_NOFOLLOW`` on every component: a run (a container's root, a process it left
        behind) may have replaced ``outputs/sub`` by a link to ``/etc`` after collection.
        ``ApiError(404)`` names the run and the output otherwise."""
        if name not in {a.path for a in self.outputs()}:
            raise ApiError(404, f"run {self.id} has no output '{name}' (see its outputs with "
                                f"`aml run show {self.id}`)")
        try:
            fd, info = open_file_nofollow(self.folder, f"outputs/{name}")
        except UnsafeRunFile:
            raise ApiError(404, f"output '{name}' of run {self.id} is a symlink or not a "
                                "regular file in its run folder (the run replaced it after "
                                "collection); not read") from None
        except OSError as exc:
            raise ApiError(404, f"output '{name}' of run {self.id} cannot be read "
                                f"({exc.strerror}); the run folder was pruned or changed") \
                from None
        return fd, info.st_size

    def cancel(self) -> RunStatus:
        """Ask the target to stop the run; returns the status once the agent has answered
        (or after a few seconds)."""
        self.workspace.cancel(self.id)
        return self.wait(timeout=5)
