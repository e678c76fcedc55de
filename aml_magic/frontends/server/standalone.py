"""``aml server start``: the standalone host of the REST API, a plain tornado application
serving the SAME handlers as the Jupyter extension (``handlers.route_table``; submit and
cancel in their owner-aware subclasses, ``team.TEAM_OVERRIDES``) plus the team's routes
(``team.py``) and ``/health``.

Jupyter's own auth hooks do the checking, so the handlers are unchanged: the identity provider
turns ``Authorization: Bearer <token>`` into a member (none: 401; unknown, revoked or expired:
401, each one line), and the authorizer compares the member's role with what the handler and the
HTTP action need (too low: 403 naming both). Attach, detach and cancel that succeed are
written to the audit log. SIGTERM (or SIGINT) stops taking requests, ends the reconciler and
closes the database: a clean exit with status 0.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
import sys
from pathlib import Path

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets

from aml_magic.domain.teamdb.members import TokenRefused
from aml_magic.errors import AmlError
from aml_magic.frontends.server.handlers import (
    SERVICE_SETTING, CancelHandler, TargetHandler, TargetsHandler, route_table
)
from aml_magic.frontends.server.reconciler import DEFAULT_INTERVAL, Reconciler
from aml_magic.frontends.server.team import (
    MEMBER_SETTING, TEAM_OVERRIDES, TEAM_SETTING, team_routes
)
from aml_magic.frontends.server.team_blobs import blob_routes
from aml_magic.frontends.server.team_restore import restore_routes
from aml_magic.service.contract import models as M
from aml_magic.service.team.service import TeamService

log = logging.getLogger("aml_magic.server")

#: Handlers whose writes only admins may do (targets hold the team's secrets).
ADMIN_WRITES: tuple[type, ...] = (TargetsHandler, TargetHandler)
#: (handler, method) -> the audit log's action, recorded when the request succeeds.
AUDITED: dict[tuple[type, str], str] = {
    (TargetsHandler, "POST"): "target.attach",
    (TargetHandler, "DELETE"): "target.detach",
    (CancelHandler, "POST"): "run.cancel",
}
NO_TOKEN = ("no token: send 'Authorization: Bearer <token>' "
            "(`aml workspace login URL --token-stdin` keeps one for the CLI)")


def required_role(handler: web.RequestHandler, action: str) -> str:
    """The lowest role that may do ACTION (read/write/execute) on HANDLER."""
    roles: dict[str, str] | None = getattr(handler, "team_roles", None)
    if roles is not None:
        return roles.get(action, "admin")
    if action == "read":
        return "reader"
    if action == "write" and not isinstance(handler, ADMIN_WRITES):
        return "contributor"
    return "admin"


class TeamIdentityProvider(IdentityProvider):
    """A member from the request's bearer token; never a cookie, never a login page."""

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise web.HTTPError(401, NO_TOKEN)
        team: TeamService = handler.settings[TEAM_SETTING]
        try:
            member = await IOLoop.current().run_in_executor(team.executor, team.authenticate,
                                                            token.strip())
        except TokenRefused as exc:
            raise web.HTTPError(401, str(exc)) from None
        except AmlError as exc:
            raise web.HTTPError(503, str(exc)) from None
        setattr(handler, MEMBER_SETTING, member)
        return User(username=member.name, name=member.name)

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return True      # bearer tokens only: no cookie, so no XSRF check is needed


class TeamAuthorizer(Authorizer):
    def is_authorized(self, handler: web.RequestHandler, user: User, action: str,
                      resource: str) -> bool:
        member = getattr(handler, MEMBER_SETTING)
        needed = required_role(handler, action)
        if member.may(needed):
            return True
        rule = getattr(handler, "team_rule", None)
        raise web.HTTPError(403, f"member {member.name!r} is a {member.role}; "
                            f"{handler.request.method} {handler.request.path} needs the "
                            f"{needed} role" + (f" ({rule})" if rule else ""))


class HealthHandler(web.RequestHandler):
    """``GET /health`` without a token: 200 when the database answers, else 503 saying why."""

    async def get(self) -> None:
        team: TeamService = self.settings[TEAM_SETTING]
        try:
            health = await IOLoop.current().run_in_executor(team.executor, team.health)
        except AmlError as exc:
            health = M.HealthJson(status="unavailable", database=str(exc))
            self.set_status(503)
        except RuntimeError:             # the pool is shut down: stopping
            health = M.HealthJson(status="unavailable", database="the server is stopping")
            self.set_status(503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(health))


def _log_request(handler: web.RequestHandler) -> None:
    """The access log, and the audit entry of a successful attach, detach or cancel."""
    status = handler.get_status()
    log.info("%d %s %.1fms", status, handler._request_summary(),
             1000.0 * handler.request.request_time())
    action = next((a for (cls, method), a in AUDITED.items()
                   if isinstance(handler, cls) and method == handler.request.method), None)
    member = getattr(handler, MEMBER_SETTING, None)
    if action is None or member is None or status >= 400:
        return
    subject = handler.path_kwargs.get("run_id") or handler.path_kwargs.get("name")
    if subject is None:
        try:
            subject = str(json.loads(handler.request.body or b"{}").get("name", "?"))
        except (ValueError, AttributeError):
            subject = "?"
    team: TeamService = handler.settings[TEAM_SETTING]
    project = handler.get_query_argument("project", "")
    try:
        team.executor.submit(team.audit, member, action, subject, {"project": project})
    except RuntimeError:
        log.warning("audit entry lost while stopping: %s %s by %s", action, subject, member.name)


def make_app(team: TeamService) -> web.Application:
    """The tornado application: /health, the shared route table, the team's routes."""
    identity = TeamIdentityProvider()
    app = web.Application(
        [("/health", HealthHandler)], base_url="/", identity_provider=identity,
        authorizer=TeamAuthorizer(identity_provider=identity), allow_remote_access=True,
        disable_check_xsrf=True, log_function=_log_request, headers={})
    app.settings[TEAM_SETTING] = team
    app.settings[SERVICE_SETTING] = team.aml
    # The shared route table (submit and cancel in their owner-aware form), then the team's
    app.add_handlers(".*$", [(f"/aml/api/{pattern}/?", TEAM_OVERRIDES.get(handler, handler))
                             for pattern, handler in route_table()])
    app.add_handlers(".*$", [(f"/aml/api/{pattern}/?", handler)
                             for pattern, handler in team_routes() + blob_routes()
                             + restore_routes()])
    return app


async def _serve(team: TeamService, host: str, port: int, ssl_context: ssl.SSLContext | None,
                 reconcile_interval: float) -> None:
    server = HTTPServer(make_app(team), ssl_options=ssl_context, xheaders=True)
    sockets = bind_sockets(port, host)
    # Runs a stopped or killed server left going are followed again, then mirrored each pass;
    # before the first request is accepted: a look at a sweep whose driver has not been taken
    # over yet would settle it as abandoned
    resumed = await IOLoop.current().run_in_executor(team.executor, team.resume)
    server.add_sockets(sockets)
    reconciler = (Reconciler(team.aml, reconcile_interval, after_pass=team.sync_runs)
                  if reconcile_interval > 0 else None)
    if reconciler is not None:
        reconciler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = sockets[0].getsockname()[1]
    scheme = "https" if ssl_context else "http"
    print(f"aml server: listening on {scheme}://{host}:{bound}/ (projects and artifacts under "
          f"{team.artifacts}; {resumed} project(s) with runs going)", flush=True)
    await stop.wait()
    server.stop()
    await server.close_all_connections()
    if reconciler is not None:
        reconciler.stop()


def serve(url: str, artifacts: Path, *, host: str = "127.0.0.1", port: int = 8642,
          certfile: str | None = None, keyfile: str | None = None,
          reconcile_interval: float = DEFAULT_INTERVAL, key_file: Path | None = None) -> int:
    """Run the server in the foreground until SIGTERM/SIGINT; 0 after a clean stop."""
    ssl_context = None
    if certfile:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise AmlError(f"{certfile}: cannot load the TLS certificate/key ({exc})") from None
    if not log.handlers:             # the access log, on stderr whatever `aml` configured
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    team = TeamService(url, artifacts, key_file=key_file)
    try:
        asyncio.run(_serve(team, host, port, ssl_context, reconcile_interval))
    except OSError as exc:
        raise AmlError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    finally:
        team.close()
    print("aml server: stopped", flush=True)
    return 0
