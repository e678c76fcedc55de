"""``aml history`` in a linked project, through a real ``aml server`` on a real PostgreSQL, by
members in their own HOME folders: ``list`` shows the workspace's runs with their metrics as
columns, ``last``, ``download`` and ``compare`` read the server, a reader sees the same, and
``project restore`` restores the run's snapshot as the server kept it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.team.conftest import TeamServer
from tests.team.test_server import members, one_error_line
from tests.team.test_team_submit import aml_in, linked_project

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

SCORE = """import json, os, pathlib, sys, time
with open(os.environ["AML_MAGIC_METRICS_FILE"], "a") as metrics:
    for step, loss in enumerate((0.9, float(sys.argv[1]))):
        metrics.write(json.dumps({"name": "loss", "value": loss, "step": step,
                                  "time": time.time()}) + "\\n")
    metrics.write(json.dumps({"name": "accuracy", "value": float(sys.argv[2]),
                              "time": time.time()}) + "\\n")
pathlib.Path("outputs/deep").mkdir(parents=True, exist_ok=True)
pathlib.Path("outputs/deep/model.txt").write_text("model " + sys.argv[1])
print("scored", sys.argv[1], flush=True)
"""


def submitted(home: Path, root: Path, *args: str) -> str:
    ran = aml_in(home, root, "experiment", "submit", "-c", "local", "score.py", *args)
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    return re.search(r"^run (\S+): Completed", ran.stderr, re.M).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def two_runs(team_server: TeamServer, members: dict[str, str]) -> tuple[Path, str, str]:
    """bob's linked project ``scores`` with two completed runs (older, newer)."""
    root = linked_project(team_server, "bob", "scores")
    (root / "score.py").write_text(SCORE)
    home = team_server.homes["bob"]
    return root, submitted(home, root, "0.4", "0.7"), submitted(home, root, "0.2", "0.9")


@pytest.mark.parametrize("member", ["bob", "rex"])
def test_history_list_shows_the_workspace_runs_with_metric_columns(
        team_server: TeamServer, two_runs: tuple[Path, str, str], member: str) -> None:
    _, older, newer = two_runs
    home = team_server.homes[member]
    root = two_runs[0] if member == "bob" else linked_project(team_server, member, "scores")
    # When the member lists the history of the linked project (rex: a reader, own machine)
    listed = aml_in(home, root, "history", "list")
    # Then both runs are there, newest first, with their metrics' last values as columns
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "LOSS" in lines[0].upper() and "ACCURACY" in lines[0].upper(), listed.stdout
    ids = [line.split()[0] for line in lines[1:] if line.strip()]
    assert ids == [newer, older], listed.stdout
    assert "0.2" in lines[1] and "0.9" in lines[1] and "0.4" in lines[2], listed.stdout
    # And -o json has the personal shape: metrics by name, also as top-level keys
    rows = json.loads(aml_in(home, root, "history", "list", "-o", "json").stdout)
    assert [r["run_id"] for r in rows] == [newer, older]
    assert rows[0]["metrics"] == {"loss": 0.2, "accuracy": 0.9} and rows[0]["loss"] == 0.2
    assert rows[1]["arguments"] == ["0.4", "0.7"]
    # And --sort-by orders by a metric; --limit keeps the newest
    by_loss = json.loads(aml_in(home, root, "history", "list", "--sort-by", "loss",
                                "-o", "json").stdout)
    assert [r["run_id"] for r in by_loss] == [newer, older]
    by_loss = json.loads(aml_in(home, root, "history", "list", "--sort-by", "loss",
                                "--descending", "-o", "json").stdout)
    assert [r["run_id"] for r in by_loss] == [older, newer]
    one = json.loads(aml_in(home, root, "history", "list", "--limit", "1", "-o",
                            "json").stdout)
    assert [r["run_id"] for r in one] == [newer]
    unknown = one_error_line(aml_in(home, root, "history", "list", "--sort-by", "nope"))
    assert "--sort-by nope" in unknown and "loss" in unknown, unknown


@pytest.mark.parametrize("member", ["bob", "rex"])
def test_history_last_download_and_compare_read_the_server(
        team_server: TeamServer, two_runs: tuple[Path, str, str], member: str,
        tmp_path: Path) -> None:
    _, older, newer = two_runs
    home = team_server.homes[member]
    root = two_runs[0] if member == "bob" else linked_project(team_server, member, "scores")
    # history last: the newest run in full, as `run show` shows it
    last = aml_in(home, root, "history", "last", "-o", "json")
    assert last.returncode == 0, last.stderr
    assert json.loads(last.stdout)["run_id"] == newer
    info = json.loads(aml_in(home, root, "history", "info", "-r", older, "-o", "json").stdout)
    assert info["run_id"] == older
    # history download: the run's outputs, from the server, in their folders
    got = aml_in(home, root, "history", "download", older, "-d", str(tmp_path / "out"))
    assert got.returncode == 0, got.stderr
    assert f"downloaded 1 output(s) of run {older}" in got.stdout, got.stdout
    assert (tmp_path / "out" / "deep" / "model.txt").read_text() == "model 0.4"
    # history compare: side by side, as the server compares them (ids or --last N)
    compared = json.loads(aml_in(home, root, "history", "compare", older, "-r", newer,
                                 "-o", "json").stdout)
    assert sorted(compared) == ["environment_differences", "metrics", "runs"]
    assert {r["run_id"] for r in compared["runs"]} == {older, newer}
    assert set(compared["metrics"]) == {"loss", "accuracy"}
    table = aml_in(home, root, "history", "compare", "--last", "2")
    assert table.returncode == 0, table.stderr
    assert older in table.stdout and newer in table.stdout, table.stdout
    both = one_error_line(aml_in(home, root, "history", "compare", older, "--last", "2"))
    assert "not RUN_ID... and --last N" in both, both


def test_prepare_and_restore_go_to_the_server(
        team_server: TeamServer, two_runs: tuple[Path, str, str], tmp_path: Path) -> None:
    root, older, _ = two_runs
    home = team_server.homes["bob"]
    # (experiment prepare goes to the server now: test_team_submit_options.py)
    prepare = aml_in(home, root, "experiment", "prepare", "-c", "local")
    assert prepare.returncode == 0 and "user-managed environment" in prepare.stdout, \
        (prepare.stdout, prepare.stderr)
    # project restore fetches the run's snapshot from the server (test_team_restore.py)
    restore = aml_in(home, root, "project", "restore", "-r", older, "-d", str(tmp_path / "r"))
    assert restore.returncode == 0, (restore.stdout, restore.stderr)
    assert f"restored the snapshot of run {older} into " in restore.stdout, restore.stdout
    assert (tmp_path / "r" / "score.py").read_text() == SCORE
    # and nothing was restored over the project
    assert (root / "score.py").read_text() == SCORE
