"""The Lab's status-bar count (``GET active-runs``) in a member's Jupyter server whose root
holds a project linked to a real ``aml server`` (on a real PostgreSQL): it adds the runs the
team server is running, whoever submitted them, to the local ones; a workspace that cannot be
asked leaves the local count whole and says so in one line."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.config import init_project
from tests._wait import wait_until
from tests.server.jupyter import JupyterServer, free_port, start_server, stop_server
from tests.team.conftest import TeamServer
from tests.team.test_server import http, members
from tests.team.test_team_submit import SLEEPER, aml_in, linked_project

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py


@pytest.fixture
def bobs_jupyter(team_server: TeamServer, members: dict[str, str],
                 tmp_path: Path) -> Iterator[JupyterServer]:
    """bob's Jupyter server on his machine (his HOME, his login and secret store)."""
    home = team_server.homes["bob"]
    root = home / "jroot"
    root.mkdir()
    server = start_server(root, tmp_path / "jupyter", extra_env={
        "HOME": str(home), "AML_MAGIC_SECRETS_DIR": str(home / ".aml_magic" / "secrets")})
    try:
        yield server
    finally:
        stop_server(server)


def submit(home: Path, root: Path) -> str:
    done = aml_in(home, root, "experiment", "submit", "-c", "local", "sleeper.py", "-a")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def count(jupyter: JupyterServer) -> dict[str, Any]:
    answer = jupyter.api("GET", "active-runs")
    assert answer.status == 200, answer.body
    counted: dict[str, Any] = answer.json
    return counted


@pytest.mark.timeout(300)
def test_the_status_bar_counts_the_workspace_runs_too(
        team_server: TeamServer, members: dict[str, str],
        bobs_jupyter: JupyterServer) -> None:
    bob, ada = team_server.homes["bob"], team_server.homes["ada"]
    root = bobs_jupyter.root
    # Given a personal project of bob's with a run going on his machine
    personal = init_project(root / "mine")
    (personal / "sleeper.py").write_text(SLEEPER)
    local_run = submit(bob, personal)
    # And his project linked to the workspace with a run going on the server, and a run ada
    # submitted to another project of the workspace from her machine
    shared = linked_project(team_server, "bob", "jroot/shared")
    bobs_run = submit(bob, shared)
    other = linked_project(team_server, "ada", "elsewhere")
    adas_run = submit(ada, other)
    try:
        # When bob's Jupyter server is asked for the count, then it holds all three
        def three() -> dict[str, Any] | None:
            counted = count(bobs_jupyter)
            return counted if counted["active"] == 3 else None
        counted = wait_until(three, 60, "three runs counted", interval=0.2)
        by_name = {p["name"]: p for p in counted["projects"]}
        assert by_name["mine"] == {"name": "mine", "path": "mine", "active": 1}
        # the server's runs name their workspace; his linked folder is where its path points
        assert by_name["shared"] == {"name": "shared", "path": "shared", "active": 1,
                                     "workspace": team_server.url}
        assert by_name["elsewhere"] == {"name": "elsewhere", "path": "", "active": 1,
                                        "workspace": team_server.url}
        assert "workspace_error" not in counted

        # When the workspace cannot be reached (his login and link name a server that is down)
        login = bob / ".aml_magic" / "workspace.json"
        link = shared / "aml_config" / "workspace.yml"
        saved_login, saved_link = login.read_text(), link.read_text()
        dead = f"http://127.0.0.1:{free_port()}"
        login.write_text(json.dumps({**json.loads(saved_login), "url": dead}))
        link.write_text(f'url: "{dead}"\n')
        try:
            counted = count(bobs_jupyter)
        finally:
            login.write_text(saved_login)
            link.write_text(saved_link)
        # Then the local count stays whole and one line says why the workspace's is missing
        assert counted["active"] == 1 and [p["name"] for p in counted["projects"]] == ["mine"]
        error = counted["workspace_error"]
        assert error.startswith(f"workspace {dead}: ") and "unreachable" in error, error
        assert "\n" not in error

        # When ada's run is canceled on the server, then bob's count follows
        assert aml_in(ada, other, "run", "cancel", adas_run).returncode == 0
        wait_until(lambda: count(bobs_jupyter)["active"] == 2, 60, "ada's run no longer counted",
                   interval=0.2)
    finally:
        aml_in(ada, other, "run", "cancel", adas_run)
        aml_in(bob, shared, "run", "cancel", bobs_run)
        aml_in(bob, personal, "run", "cancel", local_run)
    status, run = http(team_server, f"/aml/api/runs/{bobs_run}?project=shared", members["rex"])
    assert status == 200 and run["status"] in ("Canceled", "Canceling"), run


@pytest.mark.browser
@pytest.mark.timeout(420)
def test_the_status_bar_names_the_workspace_runs_and_an_unreachable_workspace(
        team_server: TeamServer, members: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.frontends.browser import chromium_page
    from tests.team.test_lab_linked import lab_for
    bob = team_server.homes["bob"]
    root = bob / "labroot-status"
    root.mkdir()
    # Given bob's Lab over a folder holding his project linked to the workspace, which has
    # a run going on the server
    shared = linked_project(team_server, "bob", "labroot-status/onserver")
    run = submit(bob, shared)
    login = bob / ".aml_magic" / "workspace.json"
    link = shared / "aml_config" / "workspace.yml"
    saved_login, saved_link = login.read_text(), link.read_text()
    try:
        for lab in lab_for(bob, root, tmp_path_factory.mktemp("bobstatus")):
            with chromium_page(1400, 900) as page:
                page.goto(lab.url("lab/tree"))
                item = page.locator(".aml-StatusItem")
                item.wait_for(timeout=60_000)

                def shown(name: str, item: Any = item) -> str:
                    return str(item.get_attribute(name) or "")
                # Then the status bar counts the server's run and its tooltip names it
                wait_until(lambda: "onserver (workspace) 1" in shown("title"), 60,
                           "the workspace's run in the status bar", interval=0.2)
                assert int(item.get_attribute("data-active") or 0) >= 1
                assert item.get_attribute("data-workspace-error") == ""
                # When the workspace cannot be reached, then the count is the local one and
                # the tooltip says why in one line
                dead = f"http://127.0.0.1:{free_port()}"
                login.write_text(json.dumps({**json.loads(saved_login), "url": dead}))
                link.write_text(f'url: "{dead}"\n')
                wait_until(lambda: "unreachable" in shown("data-workspace-error"), 60,
                           "the unreachable workspace in the status bar", interval=0.2)
                title = item.get_attribute("title") or ""
                assert f"workspace {dead}: " in title and "onserver (workspace)" not in title
                assert item.get_attribute("data-active") == "0", title
    finally:
        login.write_text(saved_login)
        link.write_text(saved_link)
        aml_in(bob, shared, "run", "cancel", run)
