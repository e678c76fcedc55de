"""JupyterLab in a linked project (frontends/server/linked_proxy.py): a member's Lab, on their
own machine (HOME) and logged in to a real ``aml server`` on a real PostgreSQL, answers the
sidebar from the workspace: it lists a run another member submitted through the server, shows
its log, metrics and outputs, and its submit dialog submits through the server. The failures
are one line each: a reader's submit, a login to another server, a server that is down."""
from __future__ import annotations

import json
import re
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aml_magic.domain.config import init_project
from tests.frontends.browser import Lab, chromium_page, jupyterlab
from tests.frontends.sidebar_page import (
    call_api, lab_env, open_sidebar, require_lab, shoot, submit_through_context_menu
)
from tests.server.jupyter import free_port
from tests.team.conftest import TeamServer, aml
from tests.team.test_server import http, members
from tests.team.test_team_submit import aml_in

pytestmark = [pytest.mark.postgres, pytest.mark.browser]
__all__ = ["members"]          # the fixture, shared with test_server.py

WORK = """\
import json, os, pathlib, sys, time
print("bob's run says", sys.argv[1:], flush=True)
with open(os.environ["AML_MAGIC_METRICS_FILE"], "a") as metrics:
    metrics.write(json.dumps({"name": "loss", "value": 0.25, "step": 0,
                              "time": time.time()}) + "\\n")
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/result.txt").write_text("bob's result")
pathlib.Path("outputs/big.bin").write_bytes(bytes(range(256)) * 12289)
"""
HELLO = "import sys\nprint('hello from the Lab', sys.argv[1:], flush=True)\n"


def lab_for(home: Path, root: Path, tmp_path: Path) -> Iterator[Lab]:
    """A member's JupyterLab over ROOT on their machine: their HOME, their secret store."""
    require_lab()
    env = {**lab_env(), "HOME": str(home),
           "AML_MAGIC_SECRETS_DIR": str(home / ".aml_magic" / "secrets")}
    with jupyterlab(root, tmp_path, env=env, ready_path="aml/api/version") as lab:
        yield lab


@pytest.fixture(scope="module")
def ada_lab(team_server: TeamServer, members: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home = team_server.homes["ada"]
    root = home / "labroot"
    root.mkdir()
    yield from lab_for(home, root, tmp_path_factory.mktemp("adalab"))


def linked(home: Path, folder: Path, url: str) -> Path:
    root = init_project(folder)
    done = aml_in(home, root, "workspace", "link", url)
    assert done.returncode == 0, done.stderr
    return root


def api(lab: Lab, method: str, route: str, body: object = None, **params: str) -> object:
    status, data = call_api(lab, method, route, body, **params)
    assert 200 <= status < 300, (method, route, status, data)
    return data


@pytest.mark.timeout(420)
def test_a_members_lab_shows_the_workspace_runs_and_submits_through_it(
        team_server: TeamServer, members: dict[str, str], ada_lab: Lab) -> None:
    # Given a run bob submitted through the server from his machine
    bob_root = linked(team_server.homes["bob"], team_server.homes["bob"] / "shared",
                      team_server.url)
    (bob_root / "work.py").write_text(WORK)
    done = aml_in(team_server.homes["bob"], bob_root, "experiment", "submit", "-c", "local",
                  "work.py", "x", "--wait")
    assert done.returncode == 0, done.stderr
    run_id = re.search(r"run (\S+): Completed", done.stderr).group(1)  # type: ignore[union-attr]
    # And ada's project of that name on her machine, linked to the workspace, holding a script
    ada_root = linked(team_server.homes["ada"], ada_lab.root / "shared", team_server.url)
    (ada_root / "hello.py").write_text(HELLO)
    assert not (ada_root / ".aml" / "runs").exists()

    # When her Lab's API is asked for the project's runs, then they are the workspace's
    page = api(ada_lab, "GET", "runs", project="shared", limit="50")
    assert isinstance(page, dict)
    assert [r["run_id"] for r in page["runs"]] == [run_id]
    assert page["project"] == {"name": "shared", "path": "shared"}     # her paths stay local
    table = api(ada_lab, "GET", "run-table", project="shared")
    assert isinstance(table, dict) and table["runs"][0]["run_id"] == run_id
    log = api(ada_lab, "GET", f"runs/{run_id}/log", project="shared")
    assert isinstance(log, dict) and "bob's run says ['x']" in log["text"]
    metrics = api(ada_lab, "GET", f"runs/{run_id}/metrics", project="shared")
    assert isinstance(metrics, dict) and metrics["metrics"][0]["name"] == "loss"
    outputs = api(ada_lab, "GET", f"runs/{run_id}/outputs", project="shared")
    assert isinstance(outputs, dict)
    name = next(o["path"] for o in outputs["outputs"] if o["path"].endswith("result.txt"))
    with urllib.request.urlopen(ada_lab.url(f"aml/api/runs/{run_id}/outputs/{name}")
                                + "&project=shared", timeout=60) as download:
        assert download.read() == b"bob's result"
        assert "result.txt" in download.headers["Content-Disposition"]
    with urllib.request.urlopen(ada_lab.url(f"aml/api/runs/{run_id}/outputs/big.bin")
                                + "&project=shared", timeout=60) as download:
        assert download.read() == bytes(range(256)) * 12289      # 3 MB, in blocks
    configs = api(ada_lab, "GET", "runconfigs", project="shared")
    assert isinstance(configs, dict) and "local" in [c["name"] for c in
                                                      configs["run_configurations"]]
    # And the hop through her Jupyter server costs little next to the server's own answer
    through, direct = [], []
    for _ in range(20):
        started = time.perf_counter()
        api(ada_lab, "GET", f"runs/{run_id}/log", project="shared")
        through.append(time.perf_counter() - started)
        started = time.perf_counter()
        http(team_server, f"/aml/api/runs/{run_id}/log?project=shared", members["ada"])
        direct.append(time.perf_counter() - started)
    print(f"\nlog of an ended run, median of 20: through the Lab "
          f"{statistics.median(through) * 1000:.1f} ms, direct "
          f"{statistics.median(direct) * 1000:.1f} ms")
    # And nothing of it came from (or was written to) her machine's own history
    assert not (ada_root / ".aml" / "runs").exists()

    with chromium_page(1400, 1100) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # When she opens the Runs sidebar on the project
        sidebar = open_sidebar(page, ada_lab, "shared")
        row = sidebar.locator(f".aml-Run[data-run-id='{run_id}']")
        # Then bob's run is listed, and its log shows when she opens it
        row.wait_for(timeout=60_000)
        row.click()
        sidebar.locator(".aml-RunDetail .aml-Log", has_text="bob's run says").wait_for(
            timeout=60_000)
        shoot(sidebar, "sidebar_linked_workspace.png")

        # When she submits her script through the file browser's dialog
        submit_through_context_menu(page, "hello.py", "a b", config="local")
        # Then it runs on the server, and the sidebar follows its log from there
        sidebar.locator(".aml-RunDetail .aml-Log", has_text="hello from the Lab").wait_for(
            timeout=90_000)
        assert not errors, errors
    runs = http(team_server, "/aml/api/runs?project=shared", members["rex"])[1]["runs"]
    mine = [r for r in runs if r["run_id"] != run_id]
    assert len(mine) == 1 and mine[0]["command"] == ["hello.py", "a", "b"], runs
    assert (team_server.artifacts / "projects" / "shared" / "hello.py").read_text() == HELLO
    assert not (ada_root / ".aml" / "runs").exists()
    # And the workspace's history records it as ada's
    listed = http(team_server, "/aml/api/workspace/runs?limit=50", members["rex"])[1]
    owners = {r["run_id"]: r.get("owner") for r in listed["runs"]}
    assert owners[mine[0]["run_id"]] == "ada" and owners[run_id] == "bob"


@pytest.mark.timeout(300)
def test_failures_are_one_line_notifications(team_server: TeamServer,
                                             members: dict[str, str], ada_lab: Lab) -> None:
    # Given a project linked to the workspace before anything was submitted from it
    linked(team_server.homes["ada"], ada_lab.root / "fresh", team_server.url)
    # Then its lists are empty, not an error
    page = api(ada_lab, "GET", "runs", project="fresh")
    assert isinstance(page, dict) and page["runs"] == [] and page["total"] == 0
    targets = api(ada_lab, "GET", "targets", project="fresh")
    assert isinstance(targets, dict) and "targets" in targets
    # And a run the workspace does not know is its 404, one line naming the workspace
    status, answer = call_api(ada_lab, "GET", "runs/no_such_run", project="fresh")
    assert status == 404 and answer["message"].startswith(f"workspace {team_server.url}: ")
    assert "\n" not in answer["message"]

    # Given a project linked to a server this machine is not logged in to (and that is down)
    dead = f"http://127.0.0.1:{free_port()}"
    linked(team_server.homes["ada"], ada_lab.root / "elsewhere", dead)
    status, answer = call_api(ada_lab, "GET", "runs", project="elsewhere")
    # Then the Lab is told which login to make, in one line
    assert status == 403, answer
    assert f"linked to {dead}" in answer["message"] and "aml workspace login" in \
        answer["message"] and "\n" not in answer["message"]


@pytest.mark.timeout(300)
def test_a_readers_lab_reads_but_its_submit_is_refused_and_a_dead_server_is_one_line(
        team_server: TeamServer, members: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    home = team_server.homes["rex"]
    root = home / "labroot"
    root.mkdir()
    project = linked(home, root / "shared", team_server.url)
    (project / "hello.py").write_text(HELLO)
    for lab in lab_for(home, root, tmp_path_factory.mktemp("rexlab")):
        # Given rex's Lab (a reader): he reads the workspace's runs of the project
        page = api(lab, "GET", "runs", project="shared")
        assert isinstance(page, dict) and page["runs"], page
        some_run = page["runs"][0]["run_id"]
        # When he submits, then the server's 403 is the Lab's one line
        status, answer = call_api(lab, "POST", "runs", {"run_configuration": "local",
                                                        "script": "shared/hello.py",
                                                        "arguments": []}, project="shared")
        assert status == 403 and "contributor" in answer["message"], answer
        assert "\n" not in answer["message"]
        with chromium_page(1400, 1100) as page:
            # And from the Lab's submit dialog it is the notification's line
            sidebar = open_sidebar(page, lab, "shared")
            sidebar.locator(".aml-Run").first.wait_for(timeout=60_000)
            submit_through_context_menu(page, "hello.py", config="local")
            note = page.locator(".jp-Notification-Toast-error", has_text="not allowed (403)")
            note.wait_for(timeout=60_000)
            assert "is a reader" in note.inner_text()
        # When his login names a server that is down, then the Lab says so in one line
        login = home / ".aml_magic" / "workspace.json"
        saved = login.read_text()
        dead = f"http://127.0.0.1:{free_port()}"
        login.write_text(json.dumps({**json.loads(saved), "url": dead}))
        (project / "aml_config" / "workspace.yml").write_text(f'url: "{dead}"\n')
        try:
            status, answer = call_api(lab, "GET", "runs", project="shared")
        finally:
            login.write_text(saved)
        assert status == 502 and "workspace server unreachable" in answer["message"], answer
        assert "\n" not in answer["message"]
        # And logged out, the Lab says to log in
        assert aml(home, "workspace", "logout").returncode == 0
        status, answer = call_api(lab, "GET", "runs", project="shared")
        assert status == 403 and "aml workspace login" in answer["message"], answer
        status, answer = call_api(lab, "GET", f"runs/{some_run}/outputs/x",
                                  project="shared")
        assert status == 403 and "aml workspace login" in answer["message"], answer
