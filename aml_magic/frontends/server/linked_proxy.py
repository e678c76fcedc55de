"""The Jupyter extension's requests for a LINKED project (``aml_config/workspace.yml``) answered
by its team server, as the member this machine is logged in as (the token from the local secret
store, as the CLI uses it): the Lab's sidebar and runs page then show the workspace's runs,
logs, metrics and outputs, and its submit dialog submits through the server, unchanged.

The project routes are passed on with ``project=`` mapped to the project's name on the server;
a few differ: a submit uploads the snapshot content-addressed (``remote.submit``, what ``aml
experiment submit`` does), attach/detach work on the workspace's shared targets, and a project
the server has no copy of yet (nothing submitted) lists no runs. Every failure is one line
(kept as the Lab's notification): not logged in, logged in elsewhere, the server unreachable,
or the server's own refusal (401, 403, 404...) with its status. A project that is not linked
is answered locally, as before; only the extension installs this (``FORWARD_SETTING``), never
the team server itself. The status bar's ``GET active-runs`` is answered here too: the local
count plus the runs the linked projects' workspaces are running.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from aml_magic.errors import AmlError, ApiError, ProjectNotFound
from aml_magic.frontends.server.handlers import AUTH_RESOURCE, AmlHandler, status_of
from aml_magic.service.api import AmlService
from aml_magic.service.contract import models as M
from aml_magic.service.submit_options import OVERRIDES
from aml_magic.service.team import remote
from aml_magic.service.team.active import with_workspaces
from aml_magic.service.team.client import WorkspaceClient

#: Routes that never name a project: always answered by this Jupyter server.
LOCAL_ROUTES = frozenset({"version", "projects", "target-types", "active-runs"})
#: An output file's download (passed on a block at a time).
DOWNLOAD = re.compile(r"runs/[A-Za-z0-9_.-]+/outputs/.+")
DOWNLOAD_BLOCK = 256 * 1024
#: Lists that answer an empty page while the server has no copy of the project yet.
LISTS = frozenset({"runs", "run-table"})


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: object, status: int = 200) -> Reply:
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json"})


class LinkedProxy:
    """Installed in the extension's settings; ``AmlHandler.prepare`` awaits it, and it answers
    the request (``finish``) when the project it names is linked."""

    def __init__(self, service: AmlService) -> None:
        self.service = service
        self._jobs: dict[str, str] = {}       # prepare job id -> the project it was asked for
        self._lock = threading.Lock()

    async def __call__(self, handler: AmlHandler) -> None:
        route = self._route(handler)
        if route == "active-runs" and handler.request.method == "GET":
            await self._active_runs(handler)
            return
        if route is None or route in LOCAL_ROUTES:
            return
        if route.startswith("prepare/"):
            with self._lock:
                path = self._jobs.get(route.removeprefix("prepare/"))
            if path is None:
                return                        # a local prepare job
        else:
            path = handler.get_query_argument("project", "")
        await self._authorize(handler)
        loop = IOLoop.current()
        try:
            linked = await loop.run_in_executor(self.service.executor, self.linked, path)
            if linked is None:
                return
            method = handler.request.method or "GET"
            if method == "POST" and route == "runs":
                handler.body(M.SubmitRequest)
            if method == "GET" and DOWNLOAD.fullmatch(route):
                await self._download(handler, linked, route)
                return
            query = [(k, v.decode("utf-8", "replace"))
                     for k, values in handler.request.query_arguments.items() for v in values]
            reply = await loop.run_in_executor(
                self.service.executor, self.forward, linked, path, method, route, query,
                handler.request.body or b"")
        except AmlError as exc:
            raise web.HTTPError(status_of(exc), str(exc)) from None
        except RuntimeError as exc:   # the pool is shut down: the server is stopping
            raise web.HTTPError(503, f"the aml_magic service is stopping ({exc})") from None
        handler.set_status(reply.status)
        for name, value in reply.headers.items():
            handler.set_header(name, value)
        handler.finish(reply.body if reply.status != 204 else None)

    async def _active_runs(self, handler: AmlHandler) -> None:
        """The status bar's count: the local projects', plus the runs the workspaces of the
        linked ones are running (``team/active.py``; one that cannot be asked is a line in
        ``workspace_error``, the local count stays whole)."""
        await self._authorize(handler)
        loop = IOLoop.current()
        try:
            counted = await loop.run_in_executor(self.service.executor, self._count)
        except AmlError as exc:
            raise web.HTTPError(status_of(exc), str(exc)) from None
        except RuntimeError as exc:   # the pool is shut down: the server is stopping
            raise web.HTTPError(503, f"the aml_magic service is stopping ({exc})") from None
        handler.reply(counted)

    def _count(self) -> M.ActiveRunsJson:
        counted = self.service.active_runs()
        return with_workspaces(counted, [(w.root, self._local_path(w.root))
                                         for w in self.service.workspaces()])

    async def _download(self, handler: AmlHandler, linked: remote.LinkedProject,
                        route: str) -> None:
        """An output file passed on a block at a time (never held whole here)."""
        loop = IOLoop.current()
        answer = await loop.run_in_executor(
            self.service.executor, lambda: self.client(linked).open(route + linked.query()))
        try:
            for name in ("Content-Type", "Content-Length", "Content-Disposition"):
                if answer.headers.get(name.lower()):     # the client's names: lower case
                    handler.set_header(name, answer.headers[name.lower()])
            while block := await loop.run_in_executor(self.service.executor, answer.read,
                                                      DOWNLOAD_BLOCK):
                handler.write(block)
                await handler.flush()
        finally:
            answer.close()
        handler.finish()

    @staticmethod
    def _route(handler: AmlHandler) -> str | None:
        base = url_path_join(handler.settings.get("base_url", "/"), "aml", "api") + "/"
        path = handler.request.path
        return path[len(base):].strip("/") if path.startswith(base) else None

    @staticmethod
    async def _authorize(handler: AmlHandler) -> None:
        """What ``@web.authenticated`` and ``@authorized`` check on the handler's method (which
        a forwarded request never reaches)."""
        user = handler.current_user
        action = HTTP_METHOD_TO_AUTH_ACTION.get((handler.request.method or "GET").upper(), "write")
        if not user or not await ensure_async(
                handler.authorizer.is_authorized(handler, user, action, AUTH_RESOURCE)):
            raise web.HTTPError(403, f"User is not authorized to {action} on resource: "
                                     f"{AUTH_RESOURCE}.")

    def linked(self, path: str) -> remote.LinkedProject | None:
        """The linked project PATH (relative to the server's root) is in; None when it is not
        linked, or is not a project inside the root (the local handler says why)."""
        folder = (self.service.root_dir / path.strip("/")).resolve()
        root_dir = self.service.root_dir
        if folder != root_dir and root_dir not in folder.parents:
            return None
        if folder.is_file():
            folder = folder.parent
        try:
            linked = remote.linked_project(folder)
        except ProjectNotFound:
            return None
        if linked is not None and linked.root != root_dir and root_dir not in linked.root.parents:
            return None
        return linked

    @staticmethod
    def client(linked: remote.LinkedProject) -> WorkspaceClient:
        """The member's client; not logged in (or to another server) is a 403 saying which
        login to make."""
        try:
            return remote.client_for(linked)
        except AmlError as exc:
            raise ApiError(403, str(exc)) from None

    def forward(self, linked: remote.LinkedProject, path: str, method: str, route: str,
                query: list[tuple[str, str]], body: bytes) -> Reply:
        """The team server's answer to the request, in the shapes the local routes answer."""
        client = self.client(linked)
        local: M.ProjectJson = {"name": linked.root.name, "path": self._local_path(linked.root)}
        if method == "POST" and route == "runs":
            # checked against the shape by ``__call__`` (``handler.body``)
            request = cast(M.SubmitRequest, json.loads(body or b"{}"))
            script = request.get("script")
            if script:
                script = remote.relative_script(linked.root, str(self.service.root_dir / script))
            run, _ = remote.submit(
                client, linked, str(request.get("run_configuration") or ""), script,
                list(request.get("arguments") or []),
                overrides={f: cast("str | None", request.get(f)) for f in OVERRIDES},
                sweep=request.get("sweep"), max_concurrent=request.get("max_concurrent"))
            return Reply.json(run, 201)
        if route == "targets" and method == "POST":
            return self._pass(client, method, "workspace/targets", body, local)
        if route.startswith("targets/") and "/" not in route.removeprefix("targets/") \
                and method == "DELETE":
            return self._pass(client, method, "workspace/" + route, body, local)
        params = [(k, linked.name if k == "project" else v) for k, v in query]
        if not any(k == "project" for k, _ in params):
            params.append(("project", linked.name))
        if route.startswith("prepare/"):
            params = []
        target = route + ("?" + urlencode(params) if params else "")
        reply = self._pass(client, method, target, body if method != "GET" else None, local)
        if reply.status == 404 and method == "GET":      # nothing submitted to it yet
            if route in LISTS:
                return Reply.json(self._empty(route, local, dict(query)))
            if route == "targets":
                return self._pass(client, "GET", "workspace/targets", None, local)
            if route == "runconfigs":
                return Reply.json({"run_configurations":
                                   self.service.run_configurations(path)})
        if method == "POST" and route == "prepare" and reply.status < 300:
            job = json.loads(reply.body).get("job_id")
            if job:
                with self._lock:
                    self._jobs[str(job)] = path
        return reply

    def _local_path(self, root: Path) -> str:
        return "" if root == self.service.root_dir else \
            root.relative_to(self.service.root_dir).as_posix()

    @staticmethod
    def _pass(client: WorkspaceClient, method: str, target: str, body: bytes | None,
              local: M.ProjectJson) -> Reply:
        """METHOD TARGET on the team server: JSON answers get this server's project (the
        sidebar's paths stay local), errors one line naming the workspace."""
        if method != "GET" and body is None:
            body = b"{}" if method == "POST" else None
        status, headers, data = client.exchange(method, target, body or None)
        kind = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if status >= 400:
            try:
                text = str(json.loads(data or b"{}").get("message") or "")
            except (ValueError, AttributeError):
                text = ""
            line = (text.strip().splitlines() or [f"HTTP {status}"])[0]
            return Reply.json({"message": f"workspace {client.url}: {line}"}, status)
        if "json" in kind and data:
            answer = json.loads(data)
            if isinstance(answer, dict) and isinstance(answer.get("project"), dict):
                answer["project"] = local
            return Reply.json(answer, status)
        passed = {k: v for k, v in headers.items()
                  if k.lower() in ("content-type", "content-disposition")}
        return Reply(status, data, passed)

    @staticmethod
    def _empty(route: str, local: M.ProjectJson,
               query: dict[str, str]) -> M.RunPageJson | M.RunTableJson:
        limit, offset = int(query.get("limit") or 50), int(query.get("offset") or 0)
        if route == "run-table":
            table: M.RunTableJson = {
                "project": local, "runs": [], "metrics": {}, "total": 0, "active": 0,
                "limit": limit, "offset": offset, "parameters": {}, "metric_names": [],
                "parameter_names": [], "sort": query.get("sort") or "start",
                "order": cast(M.SortOrder, query.get("order") or "desc")}   # as asked
            return table
        page: M.RunPageJson = {"project": local, "runs": [], "metrics": {}, "total": 0,
                               "active": 0, "limit": limit, "offset": offset}
        return page
