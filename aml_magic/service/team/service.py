"""``TeamService``: what the standalone server holds besides ``AmlService``: the team database,
the members, the audit log, and the artifacts folder (projects under ``<artifacts>/projects``)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from aml_magic.domain.teamdb import Member, MemberStore, TeamDatabase
from aml_magic.domain.teamdb.keystore import KeyStore
from aml_magic.domain.teamdb.listing import BadListing, Listing, list_page
from aml_magic.domain.teamdb.runs import TeamRunStore
from aml_magic.domain.teamdb.server_secrets import KeyStoreSecrets
from aml_magic.errors import AmlError, ApiError
from aml_magic.service.api import MAX_PAGE, AmlService
from aml_magic.service.contract import models as M
from aml_magic.service.submit_options import outside_project
from aml_magic.service.sweep import children_of
from aml_magic.service.team.artifacts import SharedArtifacts
from aml_magic.service.team.snapshots import BlobStore, ProjectSnapshots
from aml_magic.service.team.targets import SharedTargets
from aml_magic.service.team.mirror import RunMirror


F = TypeVar("F", bound=Callable[..., Any])


def database_call(method: F) -> F:
    """A lost connection (the database restarted) is retried once on a new one; a database
    that does not answer is a 503 with one line, never a traceback."""
    @functools.wraps(method)
    def call(self: TeamService, *args: Any, **kwargs: Any) -> Any:
        import psycopg
        for attempt in (1, 2):
            try:
                return method(self, *args, **kwargs)
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
                    raise ApiError(503, f"database unreachable: {first}") from None
            except AmlError as exc:
                if str(exc).startswith("database unreachable"):
                    raise ApiError(503, str(exc)) from None
                raise
        raise AssertionError("unreachable")
    return cast(F, call)


class TeamService:
    def __init__(self, url: str, artifacts: Path, *, max_workers: int = 4,
                 key_file: Path | None = None) -> None:
        self.artifacts = artifacts.expanduser().resolve()
        self.db = TeamDatabase(url)
        self.db.connection()          # unreachable, or schema too old/new: refused at start
        self.members = MemberStore(self.db)
        self.runs = TeamRunStore(self.db)
        (self.artifacts / "projects").mkdir(parents=True, exist_ok=True)
        # KEY_FILE opens the key store (missing, unreadable or the wrong key: refused here, in
        # one line); without one the server has no shared targets (a test's service object)
        self.shared: SharedTargets | None = None
        secrets = None
        if key_file is not None:
            keystore = KeyStore(self.db, key_file)
            keystore.check()
            secrets = KeyStoreSecrets(keystore)
            self.shared = SharedTargets(self.db, self.members, secrets,
                                        self.artifacts / ".attach")
        self.aml = AmlService(self.artifacts / "projects", max_workers=max_workers,
                              secrets=secrets)
        self.mirror = RunMirror(self.db, self.runs, self.aml)
        self.blobs = BlobStore(self.artifacts / "blobs")
        self.snapshots = ProjectSnapshots(self.artifacts / "projects", self.blobs)
        self.outputs = SharedArtifacts(self.db, self.blobs, self.aml)

    @property
    def executor(self) -> Any:
        return self.aml.executor

    @database_call
    def authenticate(self, token: str) -> Member:
        return self.members.authenticate(token)

    @database_call
    def add_member(self, actor: Member, name: str, role: str,
                   expires_in_days: float | None = None) -> M.MemberTokenJson:
        token = self.members.add(actor.name, name, role, expires_in_days=expires_in_days)
        return cast(M.MemberTokenJson, {"name": name, "role": role, "token": token})

    @database_call
    def revoke_tokens(self, actor: Member, name: str) -> None:
        self.members.revoke_tokens(actor.name, name)

    def submit(self, member: Member, project: str, body: M.SubmitRequest) -> M.RunJson:
        """Submit as ``AmlService.submit`` does, then record MEMBER as the run's owner and the
        run in the shared history (the run is recorded first; should the owner's row be lost,
        only admins may cancel it, and the mirror skips it). The shared targets are written and
        the snapshot taken under the project's lock: a concurrent submit's snapshot never lists
        a file the other is replacing."""
        with self.snapshots.lock(project):
            workspace = self.aml.workspace(project)
            self.materialize_targets(workspace.root)
            refused = outside_project(workspace, str(body.get("run_configuration") or ""),
                                      body)
            if refused is not None:
                raise ApiError(400, refused)
            run = self.aml.submit(project, body)
        key = self._project_key(project)
        # a sweep's parent, then its children (recorded Queued by the submit): all MEMBER's
        for run_id in [str(run["run_id"]), *self._children(project, run)]:
            self._set_owner(key, run_id, member.name)
            self._record(key, run_id, member.name)
        return run

    def _children(self, project: str, run: M.RunJson) -> list[str]:
        if run.get("kind") != "sweep":
            return []
        parent = self.aml.workspace(project).store.get(str(run["run_id"]))
        return [str(child["run_id"]) for child in children_of(parent)]

    def rerun(self, member: Member, project: str, run_id: str) -> M.RunJson:
        """Re-run as ``AmlService.rerun`` does; the new run is MEMBER's (whoever owned the
        first), so they may cancel it."""
        with self.snapshots.lock(project):
            workspace = self.aml.workspace(project)
            self.materialize_targets(workspace.root)
            name = workspace.run(run_id).record.run_configuration
            refused = outside_project(workspace, name, {}) if name else None
            if refused is not None:
                raise ApiError(400, refused)
            run = self.aml.rerun(project, run_id)
        key = self._project_key(project)
        self._set_owner(key, str(run["run_id"]), member.name)
        self._record(key, str(run["run_id"]), member.name)
        return run

    def blobs_missing(self, hashes: list[str]) -> M.BlobsMissingJson:
        return {"missing": self.blobs.missing(hashes)}

    def snapshot(self, member: Member, name: str,
                 body: M.SnapshotRequest) -> M.SnapshotResultJson:
        """Make project NAME hold the snapshot's files, then (``submit``) submit in it, both
        under the project's lock: no other member's snapshot lands between the two."""
        with self.snapshots.lock(name):
            counts = self.snapshots.materialize(name, dict(body["files"]))
            run = None
            submit = body.get("submit")
            if submit is not None:
                request = submit.copy()
                if request.get("script"):       # relative to the project, as the member has it
                    request["script"] = f"{name}/{request['script']}"
                run = self.submit(member, name, request)
        return {"project": name, "files": counts["files"], "written": counts["written"],
                "removed": counts["removed"], "run": run}

    @database_call
    def materialize_targets(self, project_dir: Path) -> None:
        """Write the shared targets (references only) into the server-side PROJECT_DIR, so a
        member's submit names them as if attached there; no key store, nothing to write."""
        if self.shared is not None:
            self.shared.materialize(project_dir)

    def materialize_project(self, project: str) -> None:
        """``materialize_targets`` for the project the API names PROJECT (404 if none)."""
        self.materialize_targets(self.aml.workspace(project).root)

    def _shared(self) -> SharedTargets:
        if self.shared is None:
            raise ApiError(503, "this server has no key store (started without --key-file); "
                           "shared targets are not available")
        return self.shared

    @database_call
    def shared_targets(self) -> M.TargetListJson:
        return {"targets": self._shared().list()}

    @database_call
    def attach_shared(self, member: Member, body: M.AttachRequest) -> M.AttachedTargetJson:
        return self._shared().attach(member.name, body)

    @database_call
    def detach_shared(self, member: Member, name: str) -> None:
        self._shared().detach(member.name, name)

    @database_call
    def _record(self, project: str, run_id: str, owner: str) -> None:
        self.mirror.record(project, run_id, owner)

    @database_call
    def sync_runs(self) -> int:
        """The reconciler's pass, then this: the shared history catches up with the journals."""
        return self.mirror.sync()

    @database_call
    def resume(self) -> int:
        """On start: follow again the runs a stopped (or killed) server left going."""
        return self.mirror.resume()

    def _project_key(self, project: str) -> str:
        """The project as the server resolves it (``p1/sub`` and ``p1/`` are ``p1``)."""
        return str(self.aml.project(project)["path"])

    @database_call
    def _set_owner(self, project: str, run_id: str, owner: str) -> None:
        self.members.set_run_owner(project, run_id, owner)

    def delete_run(self, member: Member, project: str, run_id: str) -> None:
        """Delete an ended run of the server's PROJECT (as ``AmlService.delete_run``) from its
        journal and from the shared history, audited; contributors only their own runs."""
        self.check_cancel(member, project, run_id, verb="delete")
        record = self.aml.workspace(project).run(run_id).record
        if not record.status.is_terminal():
            raise ApiError(409, f"run {record.run_id} is {record.status.value}; cancel it "
                                "first, then delete it")
        self._forget(member, self._project_key(project), record.run_id)
        self.aml.delete_run(project, record.run_id)

    @database_call
    def _forget(self, member: Member, project: str, run_id: str) -> None:
        self.runs.forget(member.name, project, run_id)

    @database_call
    def check_cancel(self, member: Member, project: str, run_id: str,
                     verb: str = "cancel") -> None:
        """Admins cancel (or delete: VERB) any run, contributors only their own (403 naming
        the rule)."""
        if member.may("admin"):
            return
        owner = self.members.run_owner(self._project_key(project), run_id)
        if owner == member.name:
            return
        if owner is None:
            self.aml.workspace(project).run(run_id)   # no such run: 404, as for an admin
        whose = (f"it belongs to {owner!r}" if owner is not None
                 else "its owner is not known (not submitted through this server)")
        raise ApiError(403, f"member {member.name!r} may {verb} only their own runs and run "
                       f"{run_id} is not theirs: {whose}; admins may {verb} any run")

    @database_call
    def member_list(self) -> list[M.MemberJson]:
        return self.members.members()

    @database_call
    def audit_log(self, limit: int) -> list[M.AuditEntryJson]:
        return self.members.audit_log(min(max(limit, 1), 1000))

    @database_call
    def remove_member(self, actor: Member, name: str) -> None:
        self.members.remove(actor.name, name)

    @database_call
    def push_runs(self, member: Member, runs: list[M.PushedRunJson]) -> M.PushResultJson:
        return self.runs.push(member.name, list(runs))

    @database_call
    def list_runs(self, *, status: str | None, target: str | None, limit: int,
                  offset: int, sort: str = "created_at", order: str = "desc",
                  after: str | None = None) -> M.WorkspaceRunPageJson:
        """A page newest first or by a metric; ``next`` is the cursor of the page after it."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ApiError(400, f"'limit' must be 1..{MAX_PAGE} and 'offset' >= 0")
        listing = Listing(status, target, limit, offset, sort, order, after)
        try:
            runs, cursor, values = list_page(self.db, listing)
        except BadListing as exc:
            raise ApiError(400, str(exc)) from None
        return {"runs": runs, "limit": limit,
                "offset": offset, "sort": sort, "order": cast("M.SortOrder", order), "next": cursor,
                "values": values}

    @database_call
    def run_artifacts(self, run_id: str) -> M.WorkspaceArtifactListJson:
        return cast(M.WorkspaceArtifactListJson, self.outputs.list(run_id))

    @database_call
    def open_artifact(self, run_id: str, name: str) -> tuple[int, Iterator[bytes]]:
        return self.outputs.open(run_id, name)

    @database_call
    def audit(self, actor: Member, action: str, subject: str,
              detail: Mapping[str, object]) -> None:
        self.members.audit(actor.name, action, subject, detail)

    @database_call
    def health(self) -> M.HealthJson:
        self.db.ping()
        return {"status": "ok", "database": "ok"}

    def close(self) -> None:
        self.aml.close()
        if self.shared is not None:
            self.shared.secrets.close()
        self.db.close()
