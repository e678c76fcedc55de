"""The team workspace's own routes (members, audit log, who am I), on the same ``AmlHandler``
base as the project routes; only the standalone host (``standalone.py``) serves them. The host
authorizes each request by the handler's ``team_roles`` (HTTP action -> lowest role allowed)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from tornado import web
from tornado.ioloop import IOLoop

from jupyter_server.auth.decorator import authorized

from aml_magic.domain.teamdb import Member
from aml_magic.frontends.server.handlers import (
    RUN_ID, AmlHandler, CancelHandler, EnvironmentHandler, LogHandler, PrepareJobsHandler,
    RerunHandler, RunConfigurationsHandler, RunHandler, RunsHandler, TargetsHandler
)
from aml_magic.service.contract import models as M
from aml_magic.service.team.service import TeamService

TEAM_SETTING = "aml_team_service"
MEMBER_SETTING = "_aml_member"
NAME = r"(?P<name>[A-Za-z0-9._@-]+)"


class TeamHandler(AmlHandler):
    team_roles: dict[str, str] = {"read": "reader", "write": "admin"}

    @property
    def team(self) -> TeamService:
        team: TeamService = self.settings[TEAM_SETTING]
        return team

    @property
    def member(self) -> Member:
        member: Member = getattr(self, MEMBER_SETTING)
        return member


class WhoAmIHandler(TeamHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        me: M.WhoAmIJson = {"name": self.member.name, "role": self.member.role}  # type: ignore[typeddict-item]
        self.reply(me)


class MembersHandler(TeamHandler):
    team_roles = {"read": "admin", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        members: M.MemberListJson = {"members": await self.call(self.team.member_list)}
        self.reply(members)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Add a member: ``{"name", "role"}``; the answer carries their token, once."""
        request = self.body(M.MemberRequest)
        expires = request.get("expires_in_days")
        added: M.MemberTokenJson = await self.call(
            self.team.add_member, self.member, request["name"], request["role"],
            None if expires is None else float(expires))
        self.reply(added, 201)


class MemberHandler(TeamHandler):
    team_roles = {"read": "admin", "write": "admin"}

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.team.remove_member, self.member, name)
        self.set_status(204)
        self.finish()


class MemberTokensHandler(TeamHandler):
    """``DELETE members/NAME/tokens``: revoke NAME's tokens; they stay a member."""

    team_roles = {"read": "admin", "write": "admin"}

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.team.revoke_tokens, self.member, name)
        self.set_status(204)
        self.finish()


class OwnedRunsHandler(RunsHandler):
    """``POST runs`` on the team server: the submit records the member as the run's owner."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(M.SubmitRequest)
        team: TeamService = self.settings[TEAM_SETTING]
        self.reply(await self.call(team.submit, getattr(self, MEMBER_SETTING),
                                   self.project_path, request), 201)


class OwnedCancelHandler(CancelHandler):
    """``POST runs/ID/cancel`` on the team server: contributors cancel only their own runs."""

    team_rule = "contributors cancel only their own runs, admins any run, readers none"

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.body(M.EmptyRequest)
        team: TeamService = self.settings[TEAM_SETTING]
        await self.call(team.check_cancel, getattr(self, MEMBER_SETTING), self.project_path,
                        run_id)
        self.reply(await self.call(self.service.cancel, self.project_path, run_id), 202)


class OwnedRunHandler(RunHandler):
    """``DELETE runs/ID`` on the team server: the run leaves the shared history too (audited);
    contributors delete only their own runs."""

    team_rule = "contributors delete only their own runs, admins any run, readers none"

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        team: TeamService = self.settings[TEAM_SETTING]
        await self.call(team.delete_run, getattr(self, MEMBER_SETTING), self.project_path,
                        run_id)
        self.set_status(204)
        self.finish()


class FollowLogHandler(LogHandler):
    """``GET runs/ID/log?offset=N&wait=S`` on the team server: while the log has nothing past
    N and the run goes on, the answer waits up to S seconds, so a member following a run asks
    once per change instead of on a timer. Each look reconciles the run with its target, so
    the looks start ``LOG_TICK`` apart and stretch to ``LOG_TICK_MAX`` while the log is quiet
    (a line printed after a pause arrives within that). With ``detail=1``, the answer that
    says ``complete`` carries the run's detail (``run``): the follower needs no other request
    for the exit code. Without ``wait``, or with a window, as ``LogHandler``."""

    LOG_TICK = 0.005
    LOG_TICK_MAX = 0.25
    MAX_WAIT = 30.0

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        text = self.get_query_argument("wait", None)
        window = {name: self.int_argument(name, 0) for name in ("tail", "before", "limit")
                  if self.get_query_argument(name, None) is not None}
        if text is None or window:              # as LogHandler answers
            self.reply(await self.call(self.service.log, self.project_path, run_id,
                                       self.int_argument("offset", 0), **window))
            return
        try:
            wait = min(max(float(text), 0.0), self.MAX_WAIT)
        except ValueError:
            raise web.HTTPError(400, f"'wait' must be a number of seconds, not {text!r}") \
                from None
        offset = self.int_argument("offset", 0)
        loop = asyncio.get_running_loop()
        deadline, tick = loop.time() + wait, self.LOG_TICK
        while True:
            chunk = await self.call(self.service.log, self.project_path, run_id, offset)
            if chunk["text"] or chunk["complete"] or loop.time() >= deadline \
                    or self.request.connection.stream.closed():  # type: ignore[union-attr]
                break
            await asyncio.sleep(tick)
            tick = min(tick * 1.5, self.LOG_TICK_MAX)
        if chunk["complete"] and self.get_query_argument("detail", "") == "1":
            chunk["run"] = await self.call(self.service.run, self.project_path, run_id)
        self.reply(chunk)


class _SharedTargetsFirst(AmlHandler):
    """Project routes that read a project's targets see the workspace's shared ones: they are
    written into the project (``materialize_targets``) once the request is authorized."""

    async def materialize(self) -> None:
        team: TeamService = self.settings[TEAM_SETTING]
        await self.call(team.materialize_project, self.project_path)

    @staticmethod
    async def then(answer: Awaitable[None] | None) -> None:
        """Await the shared handler's method (``authorized`` types it as maybe not a coroutine)."""
        if answer is not None:
            await answer


class TeamTargetsHandler(TargetsHandler, _SharedTargetsFirst):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.materialize()
        await self.then(super().get())


class TeamRunConfigurationsHandler(RunConfigurationsHandler, _SharedTargetsFirst):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.materialize()
        await self.then(super().get())


class TeamEnvironmentHandler(EnvironmentHandler, _SharedTargetsFirst):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.materialize()
        await self.then(super().get(name))


class TeamPrepareJobsHandler(PrepareJobsHandler, _SharedTargetsFirst):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.materialize()
        await self.then(super().post())


class OwnedRerunHandler(RerunHandler):
    """``POST runs/ID/rerun`` on the team server: the new run is the member's who asked."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.body(M.EmptyRequest)
        team: TeamService = self.settings[TEAM_SETTING]
        self.reply(await self.call(team.rerun, getattr(self, MEMBER_SETTING), self.project_path,
                                   run_id), 201)


#: The shared route table's handlers the team server serves in their owner-aware form, and
#: those that see the shared targets.
TEAM_OVERRIDES: dict[type[AmlHandler], type[AmlHandler]] = {
    RunsHandler: OwnedRunsHandler, CancelHandler: OwnedCancelHandler,
    TargetsHandler: TeamTargetsHandler, RunConfigurationsHandler: TeamRunConfigurationsHandler,
    EnvironmentHandler: TeamEnvironmentHandler, PrepareJobsHandler: TeamPrepareJobsHandler,
    LogHandler: FollowLogHandler, RerunHandler: OwnedRerunHandler, RunHandler: OwnedRunHandler}


class AuditHandler(TeamHandler):
    team_roles = {"read": "admin", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        log: M.AuditLogJson = {"entries": await self.call(self.team.audit_log,
                                                          self.int_argument("limit", 100))}
        self.reply(log)


class WorkspaceRunsHandler(TeamHandler):
    """The shared history in PostgreSQL: readers list it, contributors push to it."""

    team_roles = {"read": "reader", "write": "contributor"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.call(
            self.team.list_runs, status=self.get_query_argument("status", None) or None,
            target=self.get_query_argument("target", None) or None,
            limit=self.int_argument("limit", 50), offset=self.int_argument("offset", 0),
            sort=self.get_query_argument("sort", "created_at"),
            order=self.get_query_argument("order", "desc"),
            after=self.get_query_argument("after", None) or None))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """``aml history push``: runs of a personal history, stored idempotently."""
        request = self.body(M.PushRequest)
        self.reply(await self.call(self.team.push_runs, self.member, request["runs"]))


class WorkspaceArtifactsHandler(TeamHandler):
    """``GET workspace/runs/ID/artifacts``: the outputs of a run of the shared history."""

    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.team.run_artifacts, run_id))


class WorkspaceArtifactHandler(TeamHandler):
    """``GET workspace/runs/ID/artifacts/NAME``: one output's bytes, a chunk at a time."""

    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        size, chunks = await self.call(self.team.open_artifact, run_id, name)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(size))
        filename = name.rsplit("/", 1)[-1].replace('"', "")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        while block := await IOLoop.current().run_in_executor(self.team.executor, next,
                                                              chunks, b""):
            self.write(block)
            await self.flush()
        self.finish()


class SharedTargetsHandler(TeamHandler):
    """The workspace's shared targets: readers list them (references, never a secret), admins
    attach them (the password goes to the key store only)."""

    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.call(self.team.shared_targets))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(M.AttachRequest)
        self.reply(await self.call(self.team.attach_shared, self.member, request), 201)


class SharedTargetHandler(TeamHandler):
    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.team.detach_shared, self.member, name)
        self.set_status(204)
        self.finish()


class ProjectSnapshotHandler(TeamHandler):
    """``POST workspace/projects/NAME/snapshot``: the project made to match a manifest, and
    the submit in it when the body asks for one."""

    team_roles = {"read": "contributor", "write": "contributor"}

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        request = self.body(M.SnapshotRequest)
        result = await self.call(self.team.snapshot, self.member, name, request)
        self.reply(result, 201 if result["run"] is not None else 200)


def team_routes() -> list[tuple[str, type[AmlHandler]]]:
    """The team's routes; the blob routes are ``team_blobs.blob_routes``."""
    return [("whoami", WhoAmIHandler), ("members", MembersHandler),
            (rf"members/{NAME}", MemberHandler), (rf"members/{NAME}/tokens", MemberTokensHandler),
            ("audit", AuditHandler),
            ("workspace/runs", WorkspaceRunsHandler),
            (rf"workspace/runs/{RUN_ID}/artifacts", WorkspaceArtifactsHandler),
            (rf"workspace/runs/{RUN_ID}/artifacts/(?P<name>.+)", WorkspaceArtifactHandler),
            (rf"workspace/projects/{NAME}/snapshot", ProjectSnapshotHandler),
            ("workspace/targets", SharedTargetsHandler),
            (r"workspace/targets/(?P<name>[^/]+)", SharedTargetHandler)]
