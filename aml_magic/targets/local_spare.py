"""A local run's copy of the project, made ahead of the submit that needs it.

Copying a project into a run folder costs a file creation per file (~0.2-1 ms each on a
loaded disk), which on a small project is most of a local submit's own time. A process that
submits again and again (a kernel, a sweep, the Jupyter server) therefore copies the project
once more after each run has ended, off any submit's path, into ``.aml/cache/local-spare/``.
The next submit whose snapshot has the same digest takes that copy with one ``rename``; any
other submit copies as before.

Correctness: the spare is made by ``materialize(..., verify=True)``, which re-hashes every copy
against the snapshot it was made for, so its content is exactly the manifest whose digest
names it; which copy is ready is known only in memory, so nothing a project ships under
``.aml/cache/`` is taken, and a ``.aml/cache`` that is a link gets no spare. Projects over
``SPARE_LIMIT_BYTES`` get no spare (it would double their disk use). A spare left by a process
that died is removed by the next process that makes one.
"""
from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

from aml_magic.domain.snapshot.ship import materialize
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.snapshot.manifest import Manifest

SPARE_LIMIT_BYTES = 64 * 1024 * 1024
_WAIT_FOR_RUN_SECONDS = 2.0     # copy after the run ended, or after this long: never during
                                # a short run, whose CPU it would take
_SETTLE_SECONDS = 0.05          # and after the host has recorded its end


class LocalSpare:
    """At most one ready copy of the project for one project folder."""

    def __init__(self, project_root: Path) -> None:
        self.root = Path(project_root)
        self.folder = self.root / ".aml" / "cache" / "local-spare"
        self._lock = threading.Lock()
        self._ready: tuple[str, Path] | None = None
        self._building = False
        self._swept = False
        self._submits = 0

    def take(self, manifest: Manifest, dest: Path) -> bool:
        """Move the ready copy to ``dest`` when it is ``manifest``'s; False otherwise."""
        with self._lock:
            self._submits += 1
            ready = self._ready
            if ready is None or ready[0] != manifest.digest:
                return False
            self._ready = None
        try:
            os.rename(ready[1], dest)
        except OSError:
            _remove(ready[1])
            return False
        return True

    def refill(self, manifest: Manifest, run_pid: int | None) -> None:
        """Make the next copy in the background once the run ``run_pid`` ended (only in a
        process that submitted before: a one-shot command would copy for nothing)."""
        with self._lock:
            if self._submits < 2 or self._building or manifest.total_size > SPARE_LIMIT_BYTES:
                return
            if self._ready is not None and self._ready[0] == manifest.digest:
                return
            self._building = True
        threading.Thread(target=self._build, args=(manifest, run_pid),
                         name="aml-local-spare", daemon=True).start()

    def _build(self, manifest: Manifest, run_pid: int | None) -> None:
        try:
            after_run(run_pid)
            if not self._own_folder():
                return
            self._sweep()
            path = self.folder / f"{os.getpid()}-{manifest.digest[:16]}-{os.urandom(3).hex()}"
            try:
                materialize(manifest, self.root, path, verify=True)
            except (AmlError, OSError):
                _remove(path)
                return
            for folder in ("outputs", "logs"):    # what the agent makes before the script
                try:
                    os.makedirs(path / folder, exist_ok=True)
                except OSError:
                    pass                          # (a file of that name: the agent says so)
            with self._lock:
                old, self._ready = self._ready, (manifest.digest, path)
            if old is not None:
                _remove(old[1])
        finally:
            with self._lock:
                self._building = False

    def _own_folder(self) -> bool:
        """Make the spare folder; False unless it is a real folder of this user reached
        through no link: a project shipping ``.aml/cache`` as a link to elsewhere gets no spare
        (copies and sweeps of copies stay inside the project)."""
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            st = os.lstat(self.folder)
        except OSError:
            return False
        return (os.path.realpath(self.folder) == os.path.abspath(self.folder)
                and st.st_uid == os.getuid())

    def _sweep(self) -> None:
        """Remove copies (and partial copies) of processes that are gone."""
        if self._swept:
            return
        self._swept = True
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            head = name.split(".partial-", 1)[1] if ".partial-" in name else name
            try:
                pid = int(head.split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _alive(pid):
                _remove(self.folder / name)

    def close(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            _remove(ready[1])


def _remove(path: str | os.PathLike[str]) -> None:
    """Remove a copy (a folder), whatever is in it."""
    import shutil  # only to remove a copy: shutil (with bz2, lzma) stays off the submit path
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def after_run(pid: int | None) -> None:
    """Return once the run whose agent is ``pid`` ended (or ``_WAIT_FOR_RUN_SECONDS`` passed)
    and the host had a moment to record its end: when work for the *next* submit may start
    without slowing this one. A pause for speed only: nothing waits on a state here."""
    if _wait_for_exit(pid, _WAIT_FOR_RUN_SECONDS):
        time.sleep(_SETTLE_SECONDS)


def _wait_for_exit(pid: int | None, timeout: float) -> bool:
    """Until process ``pid`` exits or ``timeout`` passes (returns at once without a pidfd)."""
    if not pid:
        return False
    try:
        fd = os.pidfd_open(int(pid))
    except (AttributeError, OSError, ValueError):
        return False
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


__all__ = ["LocalSpare", "SPARE_LIMIT_BYTES", "after_run"]
