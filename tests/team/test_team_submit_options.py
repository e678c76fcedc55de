"""A linked project's ``--sweep``, ``-t``/``-d``/``-s`` and ``aml run logs --environment``
through a real ``aml server`` on a real PostgreSQL, by members in their own HOME folders: they
work as in a personal project (same flags, output and exit codes), the server runs the sweep's
children and records each with its owner in the shared history, and none of these fields lets
a member reach past the workspace (a target it does not have, a file outside the project)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.teamdb import connect
from tests._wait import wait_until
from tests.team.conftest import TeamServer, aml
from tests.team.test_server import http, members, one_error_line
from tests.team.test_team_submit import aml_in, linked_project, magics_in

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

POINT = "import sys\nprint('point', ' '.join(sys.argv[1:]), flush=True)\n"


def shared_rows(database: str, parent: str) -> list[tuple[str, str, str, str | None]]:
    """(run id, owner, status, parent) of PARENT and its children in PostgreSQL."""
    with connect(database) as conn:
        rows = conn.execute("SELECT run_id, owner, status, parent_run_id FROM runs WHERE "
                            "run_id = %s OR parent_run_id = %s ORDER BY run_id",
                            (parent, parent)).fetchall()
    return [(str(r), str(o), str(s), p) for r, o, s, p in rows]


def test_a_sweep_from_a_linked_project_runs_on_the_server_and_is_shared(
        team_server: TeamServer, members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "grid")
    (root / "point.py").write_text(POINT)
    # Given bob's linked project, when he submits a sweep of 3 points and follows it
    swept = aml_in(home, root, "experiment", "submit", "-c", "local", "--sweep", "lr=1,2,3",
                   "--max-concurrent", "2", "point.py", "--epochs", "{lr}0")
    # Then the stream is the sweep's, as in a personal project, and it exits 0
    assert swept.returncode == 0, (swept.stdout, swept.stderr)
    parent = re.search(r"^sweep (\S+): 3 child runs, at most 2 at a time$", swept.stdout,
                       re.M)
    assert parent, swept.stdout
    parent_id = parent.group(1)
    progress = re.findall(r"^(\S+)  --epochs (\d+)0  Completed$", swept.stdout, re.M)
    assert sorted(p for _, p in progress) == ["1", "2", "3"], swept.stdout
    assert f"sweep {parent_id}: Completed" in swept.stdout
    # And its closing line points to the comparison of its children, as a personal one's
    assert f"compare its child runs with `aml history compare --sweep {parent_id}`" in \
        swept.stderr, swept.stderr
    children = {child for child, _ in progress}
    # And the server ran each child in its copy of the project, with the grid's arguments
    server_runs = team_server.artifacts / "projects" / "grid" / ".aml" / "runs"
    logs = sorted((server_runs / child / "log.txt").read_text().strip() for child in children)
    assert logs == ["point --epochs 10", "point --epochs 20", "point --epochs 30"], logs

    # And PostgreSQL has the parent and its 3 children, all bob's, as they ended
    def shared() -> list[tuple[str, str, str, str | None]] | None:
        rows = shared_rows(team_server.database, parent_id)
        return rows if len(rows) == 4 and all(r[2] == "Completed" for r in rows) else None
    rows = wait_until(shared, 60, "the sweep mirrored to PostgreSQL", interval=0.2)
    assert {r[0] for r in rows} == children | {parent_id}
    assert {r[1] for r in rows} == {"bob"}
    assert {r[3] for r in rows if r[0] != parent_id} == {parent_id}

    # And a reader sees them: the shared history, and the project's run list
    listed = aml(team_server.homes["rex"], "workspace", "runs", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    seen = {r["run_id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert all(seen[child]["owner"] == "bob" and seen[child]["parent_run_id"] == parent_id
               for child in children), seen
    rex_root = linked_project(team_server, "rex", "grid")
    runs = aml_in(team_server.homes["rex"], rex_root, "run", "list", "-o", "json")
    assert runs.returncode == 0, runs.stderr
    assert children | {parent_id} <= {r["run_id"] for r in json.loads(runs.stdout)}

    # And -a prints the parent's id at once; a bad grid is one line naming --sweep
    started = aml_in(home, root, "experiment", "submit", "-c", "local", "-a", "--sweep",
                     "lr=4,5", "point.py")
    assert started.returncode == 0, started.stderr
    assert re.fullmatch(r"grid_\S+", started.stdout.strip()), started.stdout
    bad = one_error_line(aml_in(home, root, "experiment", "submit", "-c", "local",
                                "--sweep", "lr=", "point.py"))
    assert "--sweep 'lr='" in bad and "NAME=VALUE" in bad, bad


def test_a_sweep_with_a_failing_child_exits_1(team_server: TeamServer,
                                             members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "failing")
    (root / "odd.py").write_text("import sys\nsys.exit(int(sys.argv[2]) % 2)\n")
    swept = aml_in(home, root, "experiment", "submit", "-c", "local", "--sweep", "n=1,2",
                   "odd.py")
    assert swept.returncode == 1, (swept.stdout, swept.stderr)
    assert re.search(r"^sweep \S+: Failed \(1 of 2 child runs failed", swept.stderr, re.M), \
        swept.stderr


def test_target_and_dependency_overrides_go_through_the_server(
        team_server: TeamServer, members: dict[str, str]) -> None:
    homes = team_server.homes
    # Given a second shared target, attached once by the admin
    ada_root = linked_project(team_server, "ada", "admin-side")
    attached = aml_in(homes["ada"], ada_root, "computetarget", "attach", "local", "-n",
                      "second")
    assert attached.returncode == 0, attached.stderr
    root = linked_project(team_server, "bob", "overrides")
    (root / "t.py").write_text("print('ran')\n")
    (root / "deps").mkdir()
    (root / "deps" / "conda.yml").write_text("dependencies:\n  - python\n")
    # When bob submits with -t naming it and -d naming a file of his project
    ran = aml_in(homes["bob"], root, "experiment", "submit", "-c", "local", "-t", "second",
                 "-d", "deps/conda.yml", "t.py")
    # Then the run ran there, with that file, as a personal submit's would
    assert ran.returncode == 0 and "ran" in ran.stdout, (ran.stdout, ran.stderr)
    run_id = re.search(r"^run (\S+): Completed", ran.stderr, re.M).group(1)  # type: ignore[union-attr]
    detail = json.loads(aml_in(homes["bob"], root, "run", "show", run_id, "-o",
                               "json").stdout)
    assert detail["target"] == "second", detail
    assert detail["configuration"]["runconfig"].get("CondaDependenciesFile") == \
        "deps/conda.yml", detail["configuration"]
    # And the run configuration on the server is unchanged (this run only)
    runconfig = (team_server.artifacts / "projects" / "overrides" / "aml_config" /
                 "local.runconfig").read_text()
    assert "second" not in runconfig and "deps/conda.yml" not in runconfig
    # And the sweep takes the overrides too
    swept = aml_in(homes["bob"], root, "experiment", "submit", "-c", "local", "-t", "second",
                   "--sweep", "x=1", "t.py")
    assert swept.returncode == 0, swept.stderr
    parent = re.search(r"^sweep (\S+):", swept.stdout, re.M).group(1)  # type: ignore[union-attr]
    status, listed = http(team_server, "/aml/api/runs?project=overrides&target=second",
                          members["rex"])
    assert status == 200 and parent in {r["run_id"] for r in listed["runs"]}


def test_overrides_never_reach_past_the_workspace(team_server: TeamServer,
                                                  members: dict[str, str],
                                                  tmp_path: Path) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "fenced")
    (root / "t.py").write_text("print('ran')\n")
    # bob's own target, on his machine only: the workspace has no such target
    (root / "aml_config" / "mine.compute").write_text("type: local\n")
    refused = one_error_line(aml_in(home, root, "experiment", "submit", "-c", "local", "-t",
                                    "mine", "t.py"))
    assert "-t/--target 'mine'" in refused and "local" in refused, refused
    # a dependency file outside the project: refused before anything is sent, as at home
    outside = tmp_path / "conda.yml"
    outside.write_text("dependencies: []\n")
    for value in ("../conda.yml", str(outside)):
        line = one_error_line(aml_in(home, root, "experiment", "submit", "-c", "local", "-d",
                                     value, "t.py"))
        assert f"-d/--conda-dependencies {value}: no such file in the project" in line, line
    # a link in the project to a file outside it, the same
    os.symlink(outside, root / "linked.yml")
    line = one_error_line(aml_in(home, root, "experiment", "submit", "-c", "local", "-s",
                                 "linked.yml", "t.py"))
    assert "-s/--spark-dependencies linked.yml" in line, line
    # And asked of the server directly, each is a 400 naming the flag; nothing is submitted
    secret = team_server.artifacts.parent / "server-only.yml"
    secret.write_text("dependencies: []\n")
    server_copy = team_server.artifacts / "projects" / "fenced"
    assert aml_in(home, root, "experiment", "submit", "-c", "local", "t.py").returncode == 0
    before = sorted(p.name for p in (server_copy / ".aml" / "runs").iterdir())
    for body, flag in (({"target": "../../aml_config/local"}, "-t/--target"),
                       ({"target": "mine"}, "-t/--target"),
                       ({"conda_dependencies_file": str(secret)}, "-d/--conda-dependencies"),
                       ({"conda_dependencies_file": "../../../server-only.yml"},
                        "-d/--conda-dependencies"),
                       ({"spark_dependencies_file": ".aml/../../../server-only.yml"},
                        "-s/--spark-dependencies"),
                       ({"sweep": ["x"]}, "--sweep"), ({"sweep": "x=1"}, "'sweep'"),
                       ({"sweep": ["x=1"], "max_concurrent": 0}, "--max-concurrent")):
        status, answer = http(team_server, "/aml/api/runs?project=fenced", members["bob"],
                              "POST", {"run_configuration": "local", "script": "fenced/t.py",
                                       **body})
        assert status == 400 and flag in answer["message"], (body, status, answer)
        # one line, and not where the server keeps its projects
        assert "\n" not in answer["message"]
        assert str(team_server.artifacts) not in answer["message"], answer
    assert sorted(p.name for p in (server_copy / ".aml" / "runs").iterdir()) == before
    # And a run configuration of the member's naming a file outside the project: refused too
    runconfig = root / "aml_config" / "local.runconfig"
    runconfig.write_text(re.sub(r"CondaDependenciesFile: .*",
                                "CondaDependenciesFile: ../../../server-only.yml",
                                runconfig.read_text()))
    line = one_error_line(aml_in(home, root, "experiment", "submit", "-c", "local", "t.py"))
    assert "CondaDependenciesFile '../../../server-only.yml' is outside the project" in line
    assert sorted(p.name for p in (server_copy / ".aml" / "runs").iterdir()) == before
    # And a reader may not submit a sweep either
    rex_root = linked_project(team_server, "rex", "fenced")
    line = one_error_line(aml_in(team_server.homes["rex"], rex_root, "experiment", "submit",
                                 "-c", "local", "--sweep", "x=1", "t.py"))
    assert "not allowed (403)" in line, line


def test_run_logs_environment_through_the_server(team_server: TeamServer,
                                                 members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "builds")
    (root / "t.py").write_text("print('ran')\n")
    ran = aml_in(home, root, "experiment", "submit", "-c", "local", "t.py")
    assert ran.returncode == 0, ran.stderr
    run_id = re.search(r"^run (\S+): Completed", ran.stderr, re.M).group(1)  # type: ignore[union-attr]
    # A run whose submit built no environment: one line, as in a personal project
    line = one_error_line(aml_in(home, root, "run", "logs", run_id, "--environment"))
    assert f"run {run_id} triggered no environment build" in line, line
    plain = aml_in(home, root, "run", "logs", run_id)      # and its log alone, no header
    assert plain.returncode == 0 and plain.stdout == "ran\n", (plain.stdout, plain.stderr)
    # The build log the server kept with a run (what a build writes) is printed whole
    folder = team_server.artifacts / "projects" / "builds" / ".aml" / "runs" / run_id
    build = "Collecting tomli==2.0.0\nSuccessfully installed tomli-2.0.0\n"
    (folder / "build.log").write_text(build)
    shown = aml_in(home, root, "run", "logs", run_id, "--environment")
    assert shown.returncode == 0 and shown.stdout == build, (shown.stdout, shown.stderr)
    reader = linked_project(team_server, "rex", "builds")
    assert aml_in(team_server.homes["rex"], reader, "run", "logs", run_id,
                  "--environment").stdout == build
    # And the run's log comes after it, under the header a personal project prints
    both = aml_in(home, root, "run", "logs", run_id)
    assert both.returncode == 0, both.stderr
    assert both.stdout == f"--- environment build (build.log) ---\n{build}--- run log ---\nran\n"
    # And a build log that is a link is not followed
    (folder / "build.log").unlink()
    (folder / "build.log").symlink_to(team_server.artifacts.parent / "server.out")
    line = one_error_line(aml_in(home, root, "run", "logs", run_id, "--environment"))
    assert "triggered no environment build" in line, line
    assert aml_in(home, root, "run", "logs", run_id).stdout == "ran\n"


def test_the_magics_submit_a_sweep_through_the_server(
        team_server: TeamServer, members: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.utils.capture import capture_output
    root = linked_project(team_server, "bob", "cells")
    ip, magics = magics_in(root, team_server.homes["bob"], monkeypatch, widgets=False)
    with capture_output() as cap:
        run: Any = ip.run_cell_magic("aml_submit", "-c local --sweep k=1,2 --wait",
                                     "import sys\nprint('cell', sys.argv[1:])\n")
    assert run["status"] == "Completed" and run["kind"] == "sweep", (cap.stdout, run)
    assert len(re.findall(r"^\S+  --k \d  Completed$", cap.stdout, re.M)) == 2, cap.stdout
    rows = wait_until(lambda: (r := shared_rows(team_server.database, run["run_id"]))
                      and len(r) == 3 and r, 60, "the cell's sweep in PostgreSQL")
    assert {r[1] for r in rows} == {"bob"}


def test_canceling_a_linked_sweep_stops_its_children(team_server: TeamServer,
                                                     members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "stopped")
    started = aml_in(home, root, "experiment", "submit", "-c", "local", "-a", "--sweep",
                     "k=1,2", "sleeper.py")
    assert started.returncode == 0, started.stderr
    parent = started.stdout.strip()

    def children(status: str) -> list[str] | None:
        answer = http(team_server, "/aml/api/runs?project=stopped", members["rex"])[1]
        found = [r["run_id"] for r in answer["runs"] if r.get("parent_run_id") == parent
                 and r["status"] == status]
        return found if len(found) == 2 else None
    running = wait_until(lambda: children("Running"), 60, "both children running",
                         interval=0.2)
    # When bob cancels the sweep from his machine, then it and both children end Canceled
    canceled = aml_in(home, root, "run", "cancel", parent)
    assert canceled.returncode == 0 and parent in canceled.stdout, canceled.stderr
    assert sorted(wait_until(lambda: children("Canceled"), 60, "children canceled")) == \
        sorted(running)
    rows = wait_until(lambda: (r := shared_rows(team_server.database, parent)) and
                      all(row[2] == "Canceled" for row in r) and len(r) == 3 and r, 60,
                      "the canceled sweep in PostgreSQL")
    assert {row[1] for row in rows} == {"bob"}


def test_experiment_prepare_builds_on_the_server(team_server: TeamServer,
                                                 members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "prepared")
    # Given bob's linked project, when he prepares the local configuration's environment
    prepared = aml_in(home, root, "experiment", "prepare", "-c", "local")
    # Then the server answers as a personal prepare does, about its own machine
    assert prepared.returncode == 0, (prepared.stdout, prepared.stderr)
    assert re.fullmatch(r"target 'local' uses a user-managed environment: "
                        r"conda_dependencies\.yml is not used; scripts run with \S+ on this "
                        r"machine \(to build one from it: prepare with --managed\) "
                        r"\(\d+\.\d\d s\)\n", prepared.stdout), prepared.stdout
    # And the project reached the server first (its run configurations are bob's)
    assert (team_server.artifacts / "projects" / "prepared" / "aml_config" /
            "local.runconfig").is_file()
    # And a configuration the project lacks, the admin's flags, and a reader: one line each
    line = one_error_line(aml_in(home, root, "experiment", "prepare", "-c", "nope"))
    assert "no run configuration 'nope'" in line, line
    line = one_error_line(aml_in(home, root, "experiment", "prepare", "-c", "local",
                                 "--managed"))
    assert "--managed is not taken in a project linked to a workspace" in line, line
    reader = linked_project(team_server, "rex", "prepared")
    line = one_error_line(aml_in(team_server.homes["rex"], reader, "experiment", "prepare",
                                 "-c", "local"))
    assert "rex" in line and "contributor" in line, line


def test_new_lines_of_a_job_that_keeps_its_newest_lines() -> None:
    from aml_magic.service.team.remote import new_lines
    assert new_lines([], ["a", "b"]) == ["a", "b"]
    assert new_lines(["a", "b"], ["a", "b", "c"]) == ["c"]
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert new_lines(["x"], ["y"]) == ["y"]
