"""The team workspace's own routes (members, audit log, who am I), on the same ``AmlHandler``
base as the project routes; only the standalone host (``standalone.py``) serves them. The host
authorizes each request by the handler's ``team_roles`` (HTTP action -> lowest role allowed)."""
from __future__ import annotations

from tornado import web

from jupyter_server.auth.decorator import authorized

from aml_magic.domain.teamdb import Member
from aml_magic.frontends.server.handlers import AmlHandler, CancelHandler, RunsHandler
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


#: The shared route table's handlers the team server serves in their owner-aware form.
TEAM_OVERRIDES: dict[type[AmlHandler], type[AmlHandler]] = {
    RunsHandler: OwnedRunsHandler, CancelHandler: OwnedCancelHandler}


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


def team_routes() -> list[tuple[str, type[AmlHandler]]]:
    return [("whoami", WhoAmIHandler), ("members", MembersHandler),
            (rf"members/{NAME}", MemberHandler), (rf"members/{NAME}/tokens", MemberTokensHandler),
            ("audit", AuditHandler),
            ("workspace/runs", WorkspaceRunsHandler)]
