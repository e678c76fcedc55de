"""The REST handlers under ``/aml/api/`` and the one route table (``setup_handlers``).

Each handler is a few lines: authenticate and authorize (Jupyter's own machinery, so a request
without a token gets 403 and a cookie-authenticated POST needs the XSRF token), read the
parameters, await the service in its thread pool, answer JSON. Request bodies are checked
against their shapes (``aml_magic.service.contract.models``) before the service sees them, and
every answer is one of those shapes. Expected failures become ``{"message": ...}`` with a
fitting status: 400 a bad body or parameter, 404 unknown project/run/target, 422 a bad
configuration file (the message names it), 502 an unreachable target, 409 a conflict.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from aml_magic import __version__
from aml_magic.domain.registry import catalog
from aml_magic.errors import (
    AmlError, ConfigError, EnvironmentNotPrepared, ProjectNotFound, RunNotFound, SecretError, TargetError
)
from aml_magic.service.api import AmlService, ApiError
from aml_magic.service.run_table import TableRequest
from aml_magic.service.contract import models as M
from aml_magic.service.contract.typed_json import shape_problem

T = TypeVar("T")
S = TypeVar("S")

#: The version of the REST API; the sidebar refuses to talk to another one.
API_VERSION = M.API_VERSION
#: What Jupyter's authorizer is asked about (``resource`` in ``is_authorized``).
AUTH_RESOURCE = "aml"
SERVICE_SETTING = "aml_magic_service"
#: An async callable the Jupyter extension installs (``linked_proxy.LinkedProxy``): it answers
#: the requests for a project linked to a team workspace from that workspace's server.
FORWARD_SETTING = "aml_magic_linked_proxy"
RUN_ID = r"(?P<run_id>[A-Za-z0-9_.-]+)"


def status_of(exc: AmlError) -> int:
    """The HTTP status an expected failure answers with."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, (ProjectNotFound, RunNotFound)):
        return 404
    if isinstance(exc, EnvironmentNotPrepared):
        return 409
    if isinstance(exc, (ConfigError, SecretError)):
        return 422
    if isinstance(exc, TargetError):
        return 502
    return 400


class AmlHandler(APIHandler):
    """Base: the service from the server's settings, the thread pool, JSON in and out."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> AmlService:
        service: AmlService = self.settings[SERVICE_SETTING]
        return service

    async def prepare(self) -> None:  # type: ignore[override]
        """Jupyter's checks, then a linked project's request goes to its workspace."""
        await super().prepare()
        forward = self.settings.get(FORWARD_SETTING)
        if forward is not None and not self._finished:
            await forward(self)

    @property
    def project_path(self) -> str:
        return self.get_query_argument("project", "")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service call in the pool; expected failures become HTTP errors."""
        try:
            return await IOLoop.current().run_in_executor(
                self.service.executor, lambda: fn(*args, **kwargs))
        except AmlError as exc:
            error = web.HTTPError(status_of(exc), str(exc))
            if isinstance(exc, ApiError) and exc.extra:   # host_key, missing: ErrorJson's keys
                error.aml_extra = exc.extra               # type: ignore[attr-defined]
            raise error from None
        except RuntimeError as exc:   # the pool is shut down: the server is stopping
            raise web.HTTPError(503, f"the aml_magic service is stopping ({exc})") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's ``ErrorJson``, plus the keys an expected failure carries (``host_key``)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        extra = getattr(exc, "aml_extra", None)
        if not isinstance(exc, web.HTTPError) or not extra:
            super().write_error(status_code, **kwargs)
            return
        reply: M.ErrorJson = {"message": exc.log_message or "", "reason": exc.reason, **extra}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))

    def body(self, shape: type[S]) -> S:
        """The request's JSON body, checked against SHAPE (a model): 400 saying what is wrong
        otherwise. No body at all counts as ``{}``."""
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise web.HTTPError(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        problem = shape_problem(shape, data, open_shapes=M.OPEN)
        if problem:
            raise web.HTTPError(400, f"{problem} ({shape.__name__})")
        return cast(S, data)

    def int_argument(self, name: str, default: int) -> int:
        text = self.get_query_argument(name, str(default))
        try:
            return int(text)
        except ValueError:
            raise web.HTTPError(400, f"'{name}' must be an integer, not {text!r}") from None

    def reply(self, data: Any, status: int = 200) -> None:
        """Answer DATA as JSON; ``Server-Timing`` says how long the server spent on it (from
        the request's arrival to its serialized answer), which the benchmarks read."""
        text = json.dumps(data, ensure_ascii=False, default=str)
        self.set_status(status)
        self.set_header("Server-Timing", f"aml;dur={self.request.request_time() * 1000:.2f}")
        self.finish(text)


class VersionHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        version: M.VersionJson = {"version": __version__, "api": API_VERSION}
        self.reply(version)


class ProjectHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", self.project_path)
        self.reply(await self.call(self.service.project, path))


class TargetsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        targets: M.TargetListJson = {
            "targets": await self.call(self.service.targets, self.project_path)}
        self.reply(targets)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Attach: the password travels in this body once and goes to the secret store."""
        request = self.body(M.AttachRequest)
        self.reply(await self.call(self.service.attach, self.project_path, request), 201)


class ActiveRunsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The active runs of every project the server knows (the status bar's count)."""
        self.reply(await self.call(self.service.active_runs))


class TargetTypesHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The registry's types and their attach options, from which the Lab form renders."""
        self.reply(catalog())


class TargetHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.service.detach, self.project_path, name)
        self.set_status(204)
        self.finish()


class EnvironmentHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.call(self.service.environment, self.project_path, name))


class RunConfigurationsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        configs: M.RunConfigurationListJson = {
            "run_configurations": await self.call(self.service.run_configurations,
                                                  self.project_path)}
        self.reply(configs)


class PrepareJobsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(M.PrepareRequest)
        self.reply(await self.call(self.service.start_prepare, self.project_path, request), 202)


class PrepareJobHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.jobs.get, job_id))


class RunsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.call(
            self.service.runs, self.project_path,
            status=self.get_query_argument("status", None) or None,
            target=self.get_query_argument("target", None) or None,
            limit=self.int_argument("limit", 50), offset=self.int_argument("offset", 0)))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Submit: ``{"run_configuration", "script", "arguments"}``; 201 with the run."""
        request = self.body(M.SubmitRequest)
        self.reply(await self.call(self.service.submit, self.project_path, request), 201)


class RunTableHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The runs table: ``sort`` (a column, ``metric:NAME``, ``param:NAME``), ``order``,
        ``status`` (repeatable), ``target``, ``parent``, ``q`` (search), ``limit``, ``offset``."""
        arg = self.get_query_argument
        request = TableRequest(
            sort=arg("sort", "start"), order=arg("order", "desc"),
            statuses=[s for s in self.get_query_arguments("status") if s],
            target=arg("target", None) or None, parent=arg("parent", None) or None,
            text=arg("q", ""), limit=self.int_argument("limit", 50),
            offset=self.int_argument("offset", 0))
        self.reply(await self.call(self.service.run_table, self.project_path, request))


class CompareHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The compare page: ``run`` (repeatable, ids or unique prefixes) or ``sweep``."""
        runs = [r for r in self.get_query_arguments("run") if r]
        self.reply(await self.call(self.service.compare, self.project_path, runs,
                                   self.get_query_argument("sweep", None) or None))


class SweepsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.call(self.service.sweeps, self.project_path))


class RunHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.service.run, self.project_path, run_id))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        """Delete an ended run (409 while it is active); 204."""
        await self.call(self.service.delete_run, self.project_path, run_id)
        self.set_status(204)
        self.finish()


class LogHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        window = {name: self.int_argument(name, 0) for name in ("tail", "before", "limit")
                  if self.get_query_argument(name, None) is not None}
        self.reply(await self.call(self.service.log, self.project_path, run_id,
                                   self.int_argument("offset", 0), **window))


class EnvironmentLogHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.service.environment_log, self.project_path, run_id))


class MetricsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        metrics: M.MetricListJson = {
            "metrics": await self.call(self.service.metrics, self.project_path, run_id)}
        self.reply(metrics)


class OutputsHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        outputs: M.OutputListJson = {
            "outputs": await self.call(self.service.outputs, self.project_path, run_id)}
        self.reply(outputs)


class OutputFileHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        """Download one output file, read in the pool a chunk at a time."""
        size, chunks = await self.call(self.service.open_output, self.project_path, run_id,
                                       name)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(size))
        filename = name.rsplit("/", 1)[-1].replace('"', "")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        while True:
            block = await IOLoop.current().run_in_executor(self.service.executor, next, chunks,
                                                           b"")
            if not block:
                break
            self.write(block)
            await self.flush()
        self.finish()


class CancelHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.body(M.EmptyRequest)
        self.reply(await self.call(self.service.cancel, self.project_path, run_id), 202)


class RerunHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        """The run's script, arguments and target as a new run; 201 with the new run."""
        self.body(M.EmptyRequest)
        self.reply(await self.call(self.service.rerun, self.project_path, run_id), 201)


class SnapshotHandler(AmlHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.service.snapshot, self.project_path, run_id))


def route_table() -> list[tuple[str, type[AmlHandler]]]:
    """Every route of the API, relative to ``/aml/api/``."""
    return [
        ("version", VersionHandler),
        ("projects", ProjectHandler),
        ("targets", TargetsHandler),
        ("target-types", TargetTypesHandler),
        ("active-runs", ActiveRunsHandler),
        (r"targets/(?P<name>[^/]+)", TargetHandler),
        (r"targets/(?P<name>[^/]+)/environment", EnvironmentHandler),
        ("runconfigs", RunConfigurationsHandler),
        ("prepare", PrepareJobsHandler),
        (r"prepare/(?P<job_id>[0-9a-f]+)", PrepareJobHandler),
        ("runs", RunsHandler),
        ("run-table", RunTableHandler),
        ("compare", CompareHandler),
        ("sweeps", SweepsHandler),
        (rf"runs/{RUN_ID}", RunHandler),
        (rf"runs/{RUN_ID}/log", LogHandler),
        (rf"runs/{RUN_ID}/environment-log", EnvironmentLogHandler),
        (rf"runs/{RUN_ID}/metrics", MetricsHandler),
        (rf"runs/{RUN_ID}/outputs", OutputsHandler),
        (rf"runs/{RUN_ID}/outputs/(?P<name>.+)", OutputFileHandler),
        (rf"runs/{RUN_ID}/cancel", CancelHandler),
        (rf"runs/{RUN_ID}/rerun", RerunHandler),
        (rf"runs/{RUN_ID}/snapshot", SnapshotHandler),
    ]


def setup_handlers(web_app: Any, service: AmlService) -> None:
    """Put the service in the server's settings and add the route table."""
    web_app.settings[SERVICE_SETTING] = service
    base = url_path_join(web_app.settings["base_url"], "aml", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern) + "/?", handler)
                                 for pattern, handler in route_table()])
