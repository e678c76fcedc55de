"""The shared history of the runs the server executes: each run is written to PostgreSQL when
it is submitted (with its owner), then every status change, metric and the outputs index are
mirrored there as the server observes them.

The server's executor journal stays the per-project SQLite history under
``<artifacts>/projects`` (what the executors and the reconciler already use); PostgreSQL is
what ``GET workspace/runs`` lists. A mirror is the run as ``aml history push`` sends it, stored
by the same idempotent upsert, so writing it twice changes nothing, and a server killed between
two mirrors catches up on its next pass. On start, ``resume`` opens the projects whose runs
PostgreSQL or the journals still show as going, so the reconciler follows them again, and
takes over the sweeps whose driver stopped with the server (``sweep_driver.resume_sweeps``).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.teamdb import TeamDatabase
from aml_magic.domain.teamdb.runs import TeamRunStore
from aml_magic.errors import AmlError
from aml_magic.service.api import AmlService
from aml_magic.service.sweep_driver import resume_sweeps
from aml_magic.service.team.push import pushed_run
from aml_magic.service.workspace import Workspace

log = logging.getLogger("aml_magic.server")

TERMINAL = [s.value for s in RunStatus if s.is_terminal()]
GOING = [s.value for s in RunStatus if not s.is_terminal()]
#: The server's runs PostgreSQL still shows as going (run_owners names the server's project):
#: found through the status index, so a pass costs the same with 100k ended runs.
_GOING = ("SELECT o.project, o.run_id, o.owner FROM runs r JOIN run_owners o "
          "ON o.run_id = r.run_id WHERE r.status = ANY(%s)")


class RunMirror:
    """Writes the server's runs from their projects' SQLite journals into PostgreSQL."""

    def __init__(self, db: TeamDatabase, runs: TeamRunStore, aml: AmlService) -> None:
        self.db = db
        self.runs = runs
        self.aml = aml
        self._lock = threading.Lock()
        self._written: dict[str, tuple[Any, ...]] = {}   # run id -> what was last written
        # run id -> project: runs of the journals PostgreSQL may not have (found going at
        # start, or a submit whose write failed), kept until written; the reconciler may end
        # them in the journal before the next pass, so "going in the journal" would miss them.
        self._unwritten: dict[str, str] = {}

    def record(self, project: str, run_id: str, owner: str) -> None:
        """The run as submitted, with OWNER, in PostgreSQL (called before the 201 goes out)."""
        with self._lock:
            self._unwritten[run_id] = project
        self.mirror(project, run_id, owner)
        with self._lock:
            self._unwritten.pop(run_id, None)

    def mirror(self, project: str, run_id: str, owner: str) -> bool:
        """Write the run as the journal of the server's PROJECT has it; False when nothing
        changed since the last write (nothing is sent)."""
        store = self.aml.workspace(project).store
        payload = pushed_run(store, store.get(run_id))
        seen = (payload["record"]["status"], len(payload["transitions"]),
                len(payload["metrics"]), max((m[3] for m in payload["metrics"]), default=0),
                tuple(tuple(a) for a in payload["artifacts"]),
                payload["record"].get("started_at"), payload["record"].get("ended_at"))
        with self._lock:
            if self._written.get(run_id) == seen:
                return False
        answer = self.runs.push(owner, [payload])
        if answer["not_owner"]:
            log.warning("run %s of project %s is another member's in the shared history; "
                        "not mirrored", run_id, project)
            return False
        with self._lock:
            if payload["record"]["status"] in TERMINAL:
                self._written.pop(run_id, None)      # ended: it is not looked at again
            else:
                self._written[run_id] = seen
        return True

    def going(self) -> list[tuple[str, str, str]]:
        """(project, run id, owner) of the server's runs PostgreSQL shows as not ended."""
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute(_GOING, (GOING,)).fetchall()
        return [(str(p), str(r), str(o)) for p, r, o in rows]

    def _owners(self, run_ids: list[str]) -> dict[str, tuple[str, str]]:
        if not run_ids:
            return {}
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT run_id, project, owner FROM run_owners "
                                "WHERE run_id = ANY(%s)", (run_ids,)).fetchall()
        return {str(r): (str(p), str(o)) for r, p, o in rows}

    def _project_key(self, workspace: Workspace) -> str:
        root = self.aml.root_dir
        return workspace.root.relative_to(root).as_posix() if workspace.root != root else ""

    def sync(self) -> int:
        """Mirror every run that PostgreSQL or an open journal shows as going (those are the
        ones that can still change); returns how many were written."""
        pending = {run_id: (project, owner) for project, run_id, owner in self.going()}
        with self._lock:
            unwritten = dict(self._unwritten)
        journal = [record.run_id for workspace in self.aml.workspaces()
                   for record in workspace.store.active_runs()]
        missing = [r for r in {*journal, *unwritten} if r not in pending]
        pending.update(self._owners(missing))     # owned runs PostgreSQL has not seen going
        written = 0
        for run_id, (project, owner) in pending.items():
            try:
                written += self.mirror(project, run_id, owner)
            except AmlError as exc:       # one project's journal gone: the others go on
                log.warning("mirroring run %s of %s: %s", run_id, project, exc)
                continue
            with self._lock:
                self._unwritten.pop(run_id, None)
        return written

    def resume(self) -> int:
        """On start: open the projects with runs still going (PostgreSQL's view, and every
        top-level project's journal), so that the reconciler follows them, and take over again
        the sweeps their drivers (threads of the server that stopped) left going; how many
        projects."""
        projects = {project for project, _, _ in self.going()}
        folder = self.aml.root_dir
        projects.update(p.name for p in folder.iterdir()
                        if (p / "aml_config").is_dir() and (p / ".aml").is_dir())
        opened = 0
        for project in sorted(projects):
            try:
                workspace = self.aml.workspace(project)
            except AmlError as exc:
                log.warning("project %s of a going run cannot be opened: %s", project, exc)
                continue
            if self.aml.secrets is not None:     # its sweeps were driven in this process
                for parent_id in resume_sweeps(workspace):
                    log.warning("sweep %s of %s taken over again after the restart",
                                parent_id, project)
            going = workspace.store.active_runs()
            with self._lock:
                self._unwritten.update((record.run_id, project) for record in going)
            opened += bool(going)
        return opened
