"""A walk over every route of the REST API (``handlers.route_table``), for every target type,
against a real Jupyter server: good and bad bodies, unknown names, odd ids, wrong methods, and
an attach with every option of the registry of target types (good and wrong values). The
API answers 2xx or 4xx, never 500; every 2xx answer is its shape in the committed schema and
every error is an ``ErrorJson``.

Targets that need sshd, dockerd or Spark are attached at addresses nobody answers on (a closed
port, a Docker socket that does not exist), so the only 5xx allowed is 502 for a request that
had to reach such a target. tests/server/test_rest_targets.py asks the same routes with the
real components."""
from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain import registry
from tests._contract import assert_shape
from tests._options import bad, sample
from tests._project import write
from tests._wait import wait_until
from tests.server.jupyter import JupyterServer, Response, free_port, start_server, stop_server

#: target type -> the target of that type in the walked project
TARGETS = {"local": "local", "docker": "docker", "remote": "vm", "remotedocker": "rd",
           "cluster": "spk", "slurm": "hpc"}
#: The shape of each route's 2xx answer, by method (None: no JSON body).
ANSWERS: dict[str, dict[str, str | None]] = {
    "version": {"GET": "VersionJson"},
    "projects": {"GET": "ProjectJson"},
    "targets": {"GET": "TargetListJson", "POST": "AttachedTargetJson"},
    "target-types": {"GET": "TargetTypesJson"},
    "active-runs": {"GET": "ActiveRunsJson"},
    r"targets/(?P<name>[^/]+)": {"DELETE": None},
    r"targets/(?P<name>[^/]+)/environment": {"GET": "EnvironmentJson"},
    "runconfigs": {"GET": "RunConfigurationListJson"},
    "prepare": {"POST": "PrepareJobJson"},
    r"prepare/(?P<job_id>[0-9a-f]+)": {"GET": "PrepareJobJson"},
    "runs": {"GET": "RunPageJson", "POST": "RunJson"},
    "run-table": {"GET": "RunTableJson"},
    "compare": {"GET": "RunComparisonJson"},
    "sweeps": {"GET": "SweepListJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)": {"GET": "RunDetailJson", "DELETE": None},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/log": {"GET": "LogChunkJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/environment-log": {"GET": "EnvironmentLogJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/metrics": {"GET": "MetricListJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/outputs": {"GET": "OutputListJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/outputs/(?P<name>.+)": {"GET": None},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/cancel": {"POST": "RunJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/rerun": {"POST": "RunJson"},
    r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/snapshot": {"GET": "SnapshotJson"},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BAD_BODIES: list[Any] = [b"{not json", b"[1, 2]", b'"text"', b"null", {"unknown": 1},
                         {"run_configuration": 5, "target": ["x"], "type": None}]
ODD_IDS = ["proj_1234567890123_beef", "..", ".", "-x", "a.b", "x" * 300]


@dataclass
class Walk:
    """The server and what the walk saw: (method, path, status) of every request."""

    server: JupyterServer
    closed: str
    values: dict[str, Any] = field(default_factory=dict)   # option -> a value for this machine
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    routes: set[tuple[str, str]] = field(default_factory=set)

    def value(self, o: registry.Option) -> Any:
        """A valid value of attach option O for this walk."""
        return self.values.get(o.name, sample(o))

    def ask(self, method: str, pattern: str, values: dict[str, str] | None = None, *,
            params: dict[str, Any] | None = None, body: Any = None,
            unreachable: bool = False) -> Response:
        """METHOD the route PATTERN with its groups filled from VALUES; check the answer."""
        path = fill(pattern, values or {})
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = {}
        reply = self.server.api(method, path, params={"project": "proj", **(params or {})},
                                body=body)
        self.seen.append((method, path, reply.status))
        self.routes.add((pattern, method))
        where = f"{method} {path} {params or ''} {body!r:.80} -> {reply.status}: {reply.body[:300]!r}"
        assert reply.status != 500, where
        if reply.status >= 500:      # only a target nobody answers on may make it a 502
            assert reply.status == 502 and unreachable, where
            assert self.closed in reply.json["message"] or "Docker engine" in \
                reply.json["message"], where
        if reply.status >= 400:
            assert_shape("ErrorJson", reply.json)
            assert reply.json["message"], where
        elif reply.status != 204:
            shape = ANSWERS[pattern].get(method)
            if shape is not None:
                assert_shape(shape, reply.json)
        return reply


def fill(pattern: str, values: dict[str, str]) -> str:
    """A route pattern with its named groups replaced (e.g. ``run_id``)."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], pattern)


def unreachable_targets(project: Path, closed_port: int) -> None:
    """A remote, remotedocker and cluster target at a port nobody listens on, written as attach
    writes them (their host key given, so writing them contacts nothing)."""
    from aml_magic.domain.config import ComputeTarget, ProjectConfig, RunConfiguration
    from aml_magic.domain.registry import lookup
    config = ProjectConfig(project)
    fingerprint = "SHA256:" + base64.b64encode(b"\0" * 32).decode().rstrip("=")
    for type_name, name in TARGETS.items():
        if name in config.compute_names():
            continue
        spec = lookup(type_name)
        assert spec is not None
        compute = ComputeTarget(name=name, type=spec.name)
        for attr, value in spec.defaults.items():
            setattr(compute, attr, value)
        compute.address, compute.port, compute.username = "127.0.0.1", closed_port, "nobody"
        compute.host_key_fingerprint, compute.ssh_timeout = fingerprint, 5
        if type_name == "cluster":
            compute.spark_master = f"spark://127.0.0.1:{closed_port}"
        config.write_compute(compute)
        config.write_runconfig(RunConfiguration(name=name, target=name, framework=spec.framework,
                                                prepare_environment=spec.prepare_environment))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    from aml_magic.domain.config import init_project
    root = tmp_path_factory.mktemp("walk-root")
    project = init_project(root / "proj")
    write(project, "t.py", "print('walked')\n")
    closed = free_port()
    unreachable_targets(project, closed)
    state = tmp_path_factory.mktemp("walk-state")
    server = start_server(root, state, extra_env={
        "DOCKER_HOST": f"unix://{state}/no-docker-here.sock",
        "AML_MAGIC_SECRETS_DIR": str(tmp_path_factory.mktemp("walk-secrets"))})
    # Attach options with values that point where nobody answers (the rest: the registry's
    # examples): a key file that is not there, the Docker engine that is not there
    values = {"address": f"127.0.0.1:{closed}", "username": "nobody", "password": "pw",
              "key_file": str(root / "no-such-key"),
              "docker_host": f"unix://{state}/no-docker-here.sock"}
    try:
        yield Walk(server, f"127.0.0.1:{closed}", values)
    finally:
        stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


@pytest.mark.parametrize("type_name", list(TARGETS))
def test_every_route_answers_2xx_or_4xx_for_every_target_type(walk: Walk, type_name: str) -> None:
    name = TARGETS[type_name]
    remote = type_name != "local"      # docker too: its engine is not there
    walk.routes.clear()
    ask = walk.ask
    # The project and the listings
    ask("GET", "version")
    for path in ("proj", "proj/t.py", "", "elsewhere", "../..", "/etc", "proj/%00"):
        ask("GET", "projects", params={"path": path})
    ask("GET", "targets")
    ask("GET", "targets", params={"project": "nowhere"})
    ask("GET", "target-types")
    for params in ({}, {"project": "nowhere"}):     # every project the server knows, any folder
        active = ask("GET", "active-runs", params=params)
        assert active.status == 200
        assert active.json["active"] == sum(p["active"] for p in active.json["projects"])
    ask("GET", "runconfigs")
    # The target's environment: looked at, never built; unknown names are 404s
    environment = ask("GET", r"targets/(?P<name>[^/]+)/environment", {"name": name},
                      unreachable=remote)
    if environment.status == 200:
        assert environment.json["target"] == name
    for ghost in ("ghost", "..", "a%20b", "%2e%2e", "x" * 300):
        assert ask("GET", r"targets/(?P<name>[^/]+)/environment", {"name": ghost}).status == 404
    # Prepare: a job (it fails in the background when the target does not answer), bad bodies
    job = ask("POST", "prepare", body={"target": name})
    assert job.status == 202
    ask("GET", r"prepare/(?P<job_id>[0-9a-f]+)", {"job_id": job.json["job_id"]})
    ask("GET", r"prepare/(?P<job_id>[0-9a-f]+)", {"job_id": "0123abcd"})
    for body in [*BAD_BODIES, {}, {"target": "ghost"}, {"run_configuration": "ghost"}]:
        assert 400 <= ask("POST", "prepare", body=body).status < 500
    # Submit: recorded at once (its start goes on in the background), bad bodies refused
    run = ask("POST", "runs", body={"run_configuration": name, "script": "proj/t.py",
                                    "arguments": ["1"]})
    assert run.status == 201
    run_id = run.json["run_id"]
    for body in [*BAD_BODIES, {}, {"run_configuration": "ghost"},
                 {"run_configuration": name, "arguments": "1"},
                 {"run_configuration": name, "script": "../../etc/passwd"},
                 {"run_configuration": name, "script": "proj/missing.py"}]:
        assert 400 <= ask("POST", "runs", body=body).status < 500
    # Every run route, for the run and for ids that name no run
    for params in ({}, {"status": "Running"}, {"status": "Sleeping"}, {"target": name},
                   {"limit": 0}, {"limit": "ten"}, {"offset": -1}, {"limit": 500, "offset": 9}):
        ask("GET", "runs", params=params)
    for params in ({}, {"sort": "metric:loss", "order": "asc"}, {"sort": "param:lr"},
                   {"sort": "bogus"}, {"order": "sideways"}, {"status": "Sleeping"},
                   {"target": name, "search": "t.py"}, {"limit": "ten"}, {"offset": -1},
                   {"sort": "metric:'; DROP TABLE runs; --"}):
        ask("GET", "run-table", params=params)
    ask("GET", "sweeps")
    assert ask("GET", "compare", params={"run": run_id}).status == 200
    for params in ({}, {"sweep": run_id}, {"run": "ghost"}, {"run": "..", "sweep": "x"},
                   {"sweep": "'; DROP TABLE runs; --"}):
        assert 400 <= ask("GET", "compare", params=params).status < 500
    for rid in [run_id, *ODD_IDS]:
        values = {"run_id": rid, "name": "model.txt"}
        for pattern in [p for p in ANSWERS if p.startswith("runs/")]:
            method = next(iter(ANSWERS[pattern]))
            ask(method, pattern, values, unreachable=remote)
        ask("GET", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/log", values, params={"offset": -1})
        ask("GET", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/log", values, params={"offset": "x"})
        for window in ({"tail": 1024}, {"tail": 0}, {"tail": -5}, {"before": 10, "limit": 5},
                       {"before": -1}, {"tail": 5, "before": 5}, {"offset": 0, "limit": 1 << 40}):
            ask("GET", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/log", values, params=window)
        ask("GET", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/outputs/(?P<name>.+)",
            {"run_id": rid, "name": "../../aml_config/local.runconfig"})
        for body in BAD_BODIES:
            assert ask("POST", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/cancel", values,
                       body=body).status == 400
            assert ask("POST", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/rerun", values,
                       body=body).status == 400
        if rid == run_id:   # a re-run is a new run with the same command and target
            again = ask("POST", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/rerun", values)
            assert again.status == 201 and again.json["run_id"] != run_id
            assert (again.json["command"], again.json["target"]) == (["t.py", "1"], name)
            files = ask("GET", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/snapshot", values).json
            assert files["kept"] and "t.py" in [f["path"] for f in files["files"]]
        if rid != run_id:   # ids that name no run: nothing to delete
            assert 400 <= ask("DELETE", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)", values).status < 500
    # The run ends (it fails on a target nobody answers on); then it cannot be canceled
    wait_until(lambda: walk.server.api("GET", f"runs/{run_id}", params={"project": "proj"})
               .json["status"] in ("Completed", "Failed", "Canceled"), 60, f"run {run_id} ends")
    assert ask("POST", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)/cancel", {"run_id": run_id}).status \
        == 409
    # An ended run can be deleted, once
    assert ask("DELETE", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)", {"run_id": run_id}).status == 204
    assert ask("DELETE", r"runs/(?P<run_id>[A-Za-z0-9_.-]+)", {"run_id": run_id}).status == 404
    # Wrong methods: every route, every method it does not serve
    values = {"name": name, "job_id": job.json["job_id"], "run_id": run_id}
    for pattern, served in ANSWERS.items():
        for method in METHODS:
            if method not in served:
                assert ask(method, pattern, {**values, "name": "model.txt"} if "outputs/" in
                           pattern else values).status == 405
    # Attach bodies that are not attach requests; then detach the target and attach it again
    for body in [*BAD_BODIES, {"type": type_name}, {"type": "nosuch", "name": "x"},
                 {"type": type_name, "name": "bad name!"},
                 {"type": type_name, "name": "x", "use_key": "yes"},
                 {"type": type_name, "name": name}]:
        assert 400 <= ask("POST", "targets", body=body).status < 500
    attach_every_option(walk, type_name)
    assert ask("DELETE", r"targets/(?P<name>[^/]+)", {"name": name}).status == 204
    assert ask("DELETE", r"targets/(?P<name>[^/]+)", {"name": name}).status == 404
    # Attached again with every option the type takes (one way to log in: the password)
    spec = registry.registered()[type_name]
    again: dict[str, Any] = {"type": type_name, "name": name}
    again |= {o.name: walk.value(o) for o in registry.options_for(type_name)
              if not o.group or o.name == "password"}
    attached = ask("POST", "targets", body=again, unreachable=remote)
    assert attached.status == (502 if spec.uses_ssh else 201), attached.body
    if attached.status == 502:        # nothing is written when the target does not answer
        unreachable_targets(walk.server.root / "proj", int(walk.closed.rsplit(":", 1)[1]))
    # And the walk asked every route of the server with every method
    assert {(p, m) for p in ANSWERS for m in METHODS} <= walk.routes


def attach_every_option(walk: Walk, type_name: str) -> None:
    """POST targets with each attach option of the registry in turn, beside what the type
    needs: one the type takes is accepted (attached, or 502 where the machine does not
    answer); one it does not take, or a value of the wrong kind, is a 400 naming it."""
    spec = registry.registered()[type_name]
    taken = registry.options_for(type_name)
    needs = {o.name: walk.value(o) for o in taken if o.required or o.name == "password"}
    for n, o in enumerate(registry.attach_options()):
        name = f"opt{n}{type_name}"
        base = {"type": type_name, "name": name,
                **{k: v for k, v in needs.items() if not (o.group and k == "password")}}
        reply = walk.ask("POST", "targets", body={**base, o.name: walk.value(o)},
                         unreachable=True)
        if o in taken:
            assert reply.status == (502 if spec.uses_ssh else 201), (o.name, reply.body)
            if reply.status == 201:
                assert reply.json["name"] == name and reply.json["type"] == spec.name
                assert walk.ask("DELETE", r"targets/(?P<name>[^/]+)", {"name": name}).status \
                    == 204
        else:
            assert reply.status == 400 and o.name in reply.json["message"], (o.name, reply.body)
        for wrong in (bad(o), [sample(o)]):
            reply = walk.ask("POST", "targets", body={**base, o.name: wrong})
            assert reply.status == 400 and o.name in reply.json["message"], (o.name, wrong)


def test_the_walk_knows_every_route_of_the_server() -> None:
    from aml_magic.frontends.server.handlers import route_table
    # The answers above are declared for exactly the routes the server has: a new route
    # fails here until the walk knows what it answers
    assert set(ANSWERS) == {pattern for pattern, _ in route_table()}
