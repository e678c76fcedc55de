"""The REST API under /aml/api/ against a real Jupyter server and real local runs: status codes,
authentication, paging, log offsets, masking, cancel, downloads, the background reconciler."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests._wait import wait_until
from tests.server.conftest import SECRET
from tests.fixtures.sshd import SshServer
from tests.server.jupyter import JupyterServer

P = {"project": "proj"}


def submit(server: JupyterServer, script: str, *args: str) -> dict[str, Any]:
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": f"proj/{script}",
                             "arguments": list(args)})
    assert reply.status == 201, reply.body
    return reply.json


def wait_status(server: JupyterServer, run_id: str, status: str, timeout: float = 60) -> dict:
    def reached() -> dict | None:
        shown = server.api("GET", f"runs/{run_id}", params=P).json
        return shown if shown["status"] == status else None
    return wait_until(reached, timeout, f"run {run_id} {status}", interval=0.1)


def test_version_and_project_discovery(server: JupyterServer) -> None:
    # Given a server over a root holding proj/ (a project) and elsewhere/ (not one)
    # When the version and the project of a folder deep inside proj/ are asked for
    version = server.api("GET", "version")
    deep = server.api("GET", "projects", params={"path": "proj/sub/deeper"})
    # Then the version handshake answers and the nearest folder with aml_config/ is found
    assert version.status == 200 and version.json["api"] == 1 and version.json["version"]
    assert deep.status == 200 and deep.json == {"name": "proj", "path": "proj"}
    # And a folder without a project, or outside the root, is a JSON 404 saying why
    missing = server.api("GET", "projects", params={"path": "elsewhere"})
    assert missing.status == 404 and "aml init" in missing.json["message"]
    outside = server.api("GET", "projects", params={"path": "../.."})
    assert outside.status == 404 and "outside" in outside.json["message"]


@pytest.mark.parametrize("method, route", [("GET", "version"), ("GET", "runs?project=proj"),
                                           ("GET", "targets?project=proj"),
                                           ("POST", "runs?project=proj")])
def test_every_route_needs_the_token(server: JupyterServer, method: str, route: str) -> None:
    # When a request comes without a token (or with a wrong one)
    bare = server.api(method, route, token=False, body={} if method == "POST" else None)
    wrong = server.api(method, route, token=False, body={} if method == "POST" else None,
                       headers={"Authorization": "token not-the-token"})
    # Then it is refused with 403, and nothing is revealed
    assert bare.status == 403 and wrong.status == 403
    assert b"proj" not in bare.body and b"run_id" not in bare.body


def _cookie_session(server: JupyterServer) -> dict[str, str]:
    """Log in the way a browser does (login form with the token): the cookies it gets."""
    def cookies_of(reply: Any) -> dict[str, str]:
        found = {}
        for line in reply.headers.get("set-cookie", "").splitlines():
            name, _, rest = line.partition("=")
            found[name.strip()] = rest.split(";", 1)[0]
        return found
    page = server.request("GET", "/login", token=False)
    jar = cookies_of(page)
    xsrf = jar["_xsrf"]
    login = server.request("POST", "/login", token=False,
                           body=f"_xsrf={xsrf}&password={server.token}".encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Cookie": f"_xsrf={xsrf}"})
    assert login.status in (200, 302), login.body
    jar.update(cookies_of(login))
    return jar


def test_cookie_sessions_need_the_xsrf_token_to_change_anything(server: JupyterServer) -> None:
    # Given a browser-style session (login cookie, no token header)
    jar = _cookie_session(server)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    body = {"run_configuration": "local", "script": "proj/train.py"}
    # When it reads, and when it submits without and with the XSRF header
    read = server.api("GET", "runs", params=P, token=False, headers={"Cookie": cookie})
    forged = server.api("POST", "runs", params=P, token=False, body=body,
                        headers={"Cookie": cookie})
    allowed = server.api("POST", "runs", params=P, token=False, body=body,
                         headers={"Cookie": cookie, "X-XSRFToken": jar["_xsrf"]})
    # Then reads pass, a POST without the XSRF token is refused, with it the run is made
    assert read.status == 200
    assert forged.status == 403
    assert allowed.status == 201, allowed.body
    wait_status(server, allowed.json["run_id"], "Completed")


def test_submit_show_metrics_outputs_and_masking(server: JupyterServer) -> None:
    # Given a run submitted through the API whose script prints a secret environment value
    run = submit(server, "train.py", "0.5")
    assert run["status"] in ("Queued", "Preparing", "Running")
    # When it completes
    shown = wait_status(server, run["run_id"], "Completed")
    # Then its detail has the arguments, the masked environment, metrics and outputs
    assert shown["command"] == ["train.py", "0.5"] and shown["exit_code"] == 0
    assert shown["environment"] == {"DB_PASSWORD": "******", "PLAIN": "visible"}
    assert {m["name"] for m in shown["metrics"]} == {"loss", "accuracy"}
    assert [m["value"] for m in shown["metrics"] if m["name"] == "loss"] == \
        [1.0, 0.5, 1.0 / 3, 0.25, 0.2]
    assert shown["outputs"][0]["path"] == "model/weights.bin"
    metrics = server.api("GET", f"runs/{run['run_id']}/metrics", params=P).json["metrics"]
    assert len(metrics) == 6
    outputs = server.api("GET", f"runs/{run['run_id']}/outputs", params=P).json["outputs"]
    assert outputs == [{"path": "model/weights.bin", "size": 1000,
                        "sha256": outputs[0]["sha256"]}]
    download = server.api("GET", f"runs/{run['run_id']}/outputs/model/weights.bin", params=P)
    assert download.status == 200 and download.body == b"w" * 1000
    assert "weights.bin" in download.headers["content-disposition"]
    # And the secret value appears in no answer: the log shows it masked
    log = server.api("GET", f"runs/{run['run_id']}/log", params=P).json
    assert "password is ******" in log["text"] and "hello ['0.5']" in log["text"]
    answers = [server.api("GET", route, params=P).body for route in (
        f"runs/{run['run_id']}", f"runs/{run['run_id']}/log", "runs", "runconfigs", "targets")]
    assert all(SECRET.encode() not in body for body in answers)
    # And a listed output's name is the only thing download serves (no path escapes)
    escape = server.api("GET", f"runs/{run['run_id']}/outputs/../../../aml_config/"
                               "local.runconfig", params=P)
    assert escape.status == 404


def test_log_chunks_by_byte_offset(server: JupyterServer, lab_root: Path) -> None:
    # Given a finished run with a 3000-line log
    run = submit(server, "many_lines.py")
    wait_status(server, run["run_id"], "Completed")
    full = (lab_root / "proj" / ".aml" / "runs" / run["run_id"] / "log.txt").read_text()
    # When the log is read chunk by chunk from each answer's next_offset
    offset, pieces, chunks = 0, [], 0
    while True:
        chunk = server.api("GET", f"runs/{run['run_id']}/log",
                           params={**P, "offset": offset}).json
        assert chunk["offset"] == offset
        pieces.append(chunk["text"])
        chunks += 1
        if chunk["complete"]:
            break
        assert chunk["text"] == "" or chunk["text"].endswith("\n")
        offset = chunk["next_offset"]
    # Then the chunks join to exactly the log, with no line lost or doubled
    text = "".join(pieces)
    assert text == full
    lines = re.findall(r"line (\d{5})", text)
    assert lines == [f"{i:05d}" for i in range(3000)]
    # And reading from the middle gives the rest; a bad offset is a 400
    middle = full.index("line 01500")
    rest = server.api("GET", f"runs/{run['run_id']}/log", params={**P, "offset": middle}).json
    assert full[middle:].startswith(rest["text"]) and rest["text"].startswith("line 01500")
    bad = server.api("GET", f"runs/{run['run_id']}/log", params={**P, "offset": "-1"})
    assert bad.status == 400 and "offset" in bad.json["message"]


def test_runs_list_filters_and_paging(server: JupyterServer) -> None:
    # Given at least three runs in the project, all ended, the newest one logging metrics
    for script in ("many_lines.py", "many_lines.py", "train.py"):
        newest = wait_status(server, submit(server, script)["run_id"], "Completed")
    total = server.api("GET", "runs", params={**P, "limit": 500}).json["total"]
    assert total >= 3
    # When pages of two are asked for
    first = server.api("GET", "runs", params={**P, "limit": 2, "offset": 0}).json
    second = server.api("GET", "runs", params={**P, "limit": 2, "offset": 2}).json
    everything = server.api("GET", "runs", params={**P, "limit": 500}).json
    # Then the pages are consecutive slices of the newest-first list, with the total
    ids = [r["run_id"] for r in everything["runs"]]
    assert [r["run_id"] for r in first["runs"]] == ids[:2]
    assert [r["run_id"] for r in second["runs"]] == ids[2:4]
    assert first["total"] == total and first["limit"] == 2 and first["offset"] == 0
    created = [r["created_at"] for r in everything["runs"]]
    assert created == sorted(created, reverse=True)
    # And the filters narrow the list and its total
    completed = server.api("GET", "runs", params={**P, "status": "Completed", "limit": 500}).json
    assert completed["runs"] and all(r["status"] == "Completed" for r in completed["runs"])
    assert completed["total"] == len(completed["runs"])
    by_target = server.api("GET", "runs", params={**P, "target": "local", "limit": 500}).json
    assert by_target["total"] == total
    none = server.api("GET", "runs", params={**P, "target": "no-such-target"}).json
    assert none["total"] == 0 and none["runs"] == []
    # And runs with metrics carry their first metrics in the list
    assert first["metrics"][newest["run_id"]] == {"loss": 0.2, "accuracy": 0.9}
    # And bad parameters are 400s with a message
    for params in ({"status": "Sleeping"}, {"limit": 0}, {"limit": "ten"}, {"offset": -3}):
        bad = server.api("GET", "runs", params={**P, **params})
        assert bad.status == 400 and bad.json["message"]


def test_cancel_a_long_run(server: JupyterServer) -> None:
    # Given a run that never ends by itself, seen running with its first line logged
    run = submit(server, "long.py")
    wait_status(server, run["run_id"], "Running")
    wait_until(lambda: "long run started" in server.api(
        "GET", f"runs/{run['run_id']}/log", params=P).json["text"], 30, "first log line")
    active = server.api("GET", "runs", params=P).json["active"]
    assert active >= 1
    # When it is canceled through the API
    reply = server.api("POST", f"runs/{run['run_id']}/cancel", params=P, body={})
    # Then the request is accepted and the run reaches Canceled
    assert reply.status == 202 and reply.json["run_id"] == run["run_id"]
    wait_status(server, run["run_id"], "Canceled")
    # And canceling it again is a conflict, with a message
    again = server.api("POST", f"runs/{run['run_id']}/cancel", params=P, body={})
    assert again.status == 409 and "already ended" in again.json["message"]


def test_errors_are_json_with_fitting_statuses(server: JupyterServer, lab_root: Path) -> None:
    # Unknown run: 404
    unknown = server.api("GET", "runs/proj_1234567890_deadbeef", params=P)
    assert unknown.status == 404 and "proj_1234567890_deadbeef" in unknown.json["message"]
    # A bad configuration file: 422 naming the file
    broken = lab_root / "proj" / "aml_config" / "broken.runconfig"
    broken.write_text("ArgumentVector: [unclosed\n")
    try:
        bad = server.api("POST", "runs", params=P,
                         body={"run_configuration": "broken", "script": "proj/train.py"})
        assert bad.status == 422 and "broken.runconfig" in bad.json["message"]
    finally:
        broken.unlink()
    # A target nobody answers on: 502, naming the address
    from tests.server.jupyter import free_port
    closed = f"127.0.0.1:{free_port()}"
    unreachable = server.api("POST", "targets", params=P, body={
        "type": "remote", "name": "gone", "address": closed, "username": "nobody",
        "password": "x", "trust_new_host_key": True})
    assert unreachable.status == 502 and closed in unreachable.json["message"]
    assert not (lab_root / "proj" / "aml_config" / "gone.compute").exists()
    # A body that is not JSON: 400
    garbage = server.api("POST", "runs", params=P, body=b"{not json")
    assert garbage.status == 400 and "JSON" in garbage.json["message"]


def test_targets_attach_detach_and_prepare_job(server: JupyterServer, lab_root: Path,
                                               sshd: SshServer) -> None:
    # Given the project's targets
    targets = server.api("GET", "targets", params=P).json["targets"]
    assert {t["name"]: t["type"] for t in targets}["local"] == "local"
    configs = server.api("GET", "runconfigs", params=P).json["run_configurations"]
    assert any(c["name"] == "local" and c["target"] == "local" for c in configs)
    # When a remote target (the real sshd) is attached with its password
    attach = server.api("POST", "targets", params=P, body={
        "type": "remote", "name": "box", "address": f"{sshd.host}:{sshd.port}",
        "username": sshd.username, "password": sshd.password,
        "host_key_fingerprint": sshd.host_key_fingerprint})
    # Then it is listed with its address, and the password is in no file and no answer
    assert attach.status == 201, attach.body
    assert attach.json["address"] == sshd.host and attach.json["type"] == "remote"
    listed = server.api("GET", "targets", params=P)
    assert "box" in {t["name"] for t in listed.json["targets"]}
    environment = server.api("GET", "targets/box/environment", params=P)
    assert environment.status == 200, environment.body
    secret = sshd.password.encode()
    assert secret not in attach.body + listed.body + environment.body
    files = b"".join(p.read_bytes() for p in (lab_root / "proj" / "aml_config").iterdir())
    assert secret not in files
    # And detaching removes it; detaching again is a 404
    assert server.api("DELETE", "targets/box", params=P).status == 204
    assert "box" not in {t["name"] for t in server.api("GET", "targets", params=P)
                         .json["targets"]}
    assert server.api("DELETE", "targets/box", params=P).status == 404
    # When the local environment is prepared as a job
    job = server.api("POST", "prepare", params=P, body={"run_configuration": "local"})
    assert job.status == 202 and job.json["state"] in ("running", "succeeded")
    done = wait_until(lambda: (lambda j: j if j["state"] != "running" else None)(
        server.api("GET", f"prepare/{job.json['job_id']}").json), 60, "prepare job ends")
    # Then it ends with the target's message; the environment endpoint agrees
    assert done["state"] == "succeeded" and done["message"]
    env = server.api("GET", "targets/local/environment", params=P).json
    assert env["prepared"] is True and env["run_configuration"] == "local"
    assert server.api("GET", "prepare/0123abcd").status == 404


def test_the_reconciler_finishes_runs_nobody_watches(server: JupyterServer,
                                                     lab_root: Path) -> None:
    # Given a project the server has seen and a run started outside the server
    from aml_magic.service.workspace import Workspace
    assert server.api("GET", "projects", params={"path": "proj"}).status == 200
    workspace = Workspace(lab_root / "proj")
    run = workspace.submit("local", "many_lines.py")
    # When nobody asks about it (no request, no refresh in this process)
    store = workspace.store
    # Then the server's reconciler records its end in the history by itself
    wait_until(lambda: store.get(run.id).status.value == "Completed", 60,
               "the server's reconciler finishing the run", interval=0.1)
    assert store.get(run.id).exit_code == 0


def test_a_slow_target_never_blocks_the_server(server: JupyterServer) -> None:
    # Given an address that accepts TCP connections but never says anything (a hung host)
    import socket
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True)
    accepting.start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    answers: list[Any] = []
    # When attaching to it is in flight (the SSH handshake waits for a banner)
    attaching = threading.Thread(target=lambda: answers.append(server.api(
        "POST", "targets", params=P, body={"type": "remote", "name": "hung",
                                           "address": address, "username": "x",
                                           "password": "y", "trust_new_host_key": True})))
    attaching.start()
    try:
        wait_until(lambda: held, 30, "the server connecting to the hung host")
        # Then other requests are answered meanwhile: the handshake is not on the event loop
        version = server.api("GET", "version")
        listing = server.api("GET", "runs", params=P)
        assert version.status == 200 and listing.status == 200
        assert attaching.is_alive() and not answers
    finally:
        for conn in held:
            conn.close()
        listener.close()
        attaching.join(60)
    # And the attach, once the host hangs up, fails as an unreachable target
    assert answers and answers[0].status == 502, answers


def test_a_rest_submit_cannot_weaken_container_isolation(server: JupyterServer,
                                                         lab_root: Path) -> None:
    # Given a second project whose docker target asks for the host's network and root, and no
    # user settings allowing that (the server was started with the suite's, for other folders)
    from aml_magic.domain.config import init_project
    from aml_magic.service.workspace import Workspace
    project = init_project(lab_root / "hostile")
    (project / "aml_config" / "docker.compute").write_text(
        "type: docker\nbaseDockerImage: aml-magic/base:bookworm\ncapabilities: SYS_ADMIN\n"
        "containerUser: '0'\n")
    (project / "aml_config" / "docker.runconfig").write_text(
        "Target: docker\nFramework: Python\nPrepareEnvironment: true\n")
    (project / "train.py").write_text("print('hi')\n")
    # When a browser tab (or anything holding the token) submits it
    reply = server.api("POST", "runs", params={"project": "hostile"},
                       body={"run_configuration": "docker", "script": "hostile/train.py",
                             "arguments": []})
    # Then it is refused with the one line saying how the user allows it; nothing recorded
    assert reply.status == 400, reply.body
    message = reply.json["message"]
    assert "\n" not in message
    for word in ("docker.compute", "capabilities: SYS_ADMIN", "containerUser: 0",
                 "allow_unsafe_container"):
        assert word in message, (word, message)
    ws = Workspace(project)
    try:
        assert ws.runs() == []
    finally:
        ws.close()


def test_a_rest_submit_takes_a_sweep_and_the_overrides(server: JupyterServer,
                                                       lab_root: Path) -> None:
    # A sweep: the answer is the parent; the (detached) driver runs both children
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": "proj/train.py",
                             "arguments": [], "sweep": ["lr=1,2"], "max_concurrent": 1})
    assert reply.status == 201 and reply.json["kind"] == "sweep", reply.body
    parent = wait_status(server, reply.json["run_id"], "Completed")
    children = [r for r in server.api("GET", "runs", params={**P, "limit": 50}).json["runs"]
                if r.get("parent_run_id") == parent["run_id"]]
    assert len(children) == 2 and {r["status"] for r in children} == {"Completed"}
    # -t/-d: this run only; a dependency file outside the project is a 400 naming -d
    (lab_root / "proj" / "deps.yml").write_text("dependencies:\n  - python\n")
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": "proj/many_lines.py",
                             "target": "local", "conda_dependencies_file": "deps.yml"})
    assert reply.status == 201, reply.body
    shown = wait_status(server, reply.json["run_id"], "Completed")
    assert shown["configuration"]["runconfig"]["CondaDependenciesFile"] == "deps.yml"
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": "proj/many_lines.py",
                             "conda_dependencies_file": "../elsewhere"})
    assert reply.status == 400 and "-d/--conda-dependencies" in reply.json["message"]
