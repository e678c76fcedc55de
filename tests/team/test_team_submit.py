"""A linked project's submit through a real ``aml server`` on a real PostgreSQL, by members
working from their own HOME folders: the snapshot goes up content-addressed (only the blobs the
server lacks), the server's copy of the project is made to match it, ``--wait`` follows the log
through the server and exits with the run's exit code, and the run verbs read the server."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.config import init_project
from tests._wait import wait_until
from tests.team.conftest import TeamServer, member_env
from tests.team.test_server import http, members, one_error_line

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

TRAIN = ("import sys\nfrom helper import greet\n"
         "print(greet(sys.argv[1:]), flush=True)\nsys.exit(3)\n")
HELPER = "def greet(args):\n    return 'hello ' + ' '.join(args)\n"
SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"


def aml_in(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``aml ARGS`` run in CWD (a project folder) on a member's machine."""
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], env=member_env(home),
                          cwd=cwd, capture_output=True, text=True, timeout=180)


def linked_project(server: TeamServer, member: str, name: str) -> Path:
    root = init_project(server.homes[member] / name)
    (root / "train.py").write_text(TRAIN)
    (root / "helper.py").write_text(HELPER)
    (root / "sleeper.py").write_text(SLEEPER)
    linked = aml_in(server.homes[member], root, "workspace", "link", server.url)
    assert linked.returncode == 0, linked.stderr
    return root


def magics_in(root: Path, home: Path, monkeypatch: pytest.MonkeyPatch, *,
              widgets: bool) -> tuple[Any, Any]:
    """IPython with ``%load_ext aml_magic`` on a member's machine (HOME), in ROOT (their linked
    project): the shell and the magics object."""
    from IPython.testing.globalipapp import get_ipython
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AML_MAGIC_SECRETS_DIR", raising=False)
    monkeypatch.chdir(root)
    ip = get_ipython()
    ip.run_line_magic("load_ext", "aml_magic")
    magics = ip.magics_manager.registry["AmlMagics"]
    monkeypatch.setattr(magics, "project", None)
    monkeypatch.setattr(magics, "use_widgets", widgets)
    return ip, magics


def sent(stderr: str) -> tuple[int, int]:
    found = re.search(r"sent (\d+) new blob\(s\), (\d+) bytes", stderr)
    assert found, stderr
    return int(found.group(1)), int(found.group(2))


def test_a_contributor_submits_with_wait_and_only_changed_files_go_up(
        team_server: TeamServer, members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "demo")
    (root / "stale.txt").write_text("gone soon\n")
    # Given bob's linked project, when he submits a script with arguments and --wait
    first = aml_in(home, root, "experiment", "submit", "-c", "local", "train.py", "a", "b",
                   "--wait")
    # Then he sees the run's log and exits with its exit code
    assert first.returncode == 3, (first.stdout, first.stderr)
    assert "hello a b" in first.stdout
    assert re.search(r"run \S+: Failed", first.stderr), first.stderr
    blobs, _ = sent(first.stderr)
    assert blobs >= 4                      # train, helper, sleeper, stale, the config files
    server_copy = team_server.artifacts / "projects" / "demo"
    assert (server_copy / "helper.py").read_text() == HELPER
    # And the run is bob's in the server's records, submitted in the server's project
    run_id = re.search(r"run (\S+): Failed", first.stderr).group(1)  # type: ignore[union-attr]
    status, detail = http(team_server, f"/aml/api/runs/{run_id}?project=demo", members["rex"])
    assert status == 200 and detail["exit_code"] == 3

    # When he changes one file, deletes one and submits again
    changed = HELPER.replace("hello", "hi there")
    (root / "helper.py").write_text(changed)
    (root / "stale.txt").unlink()
    second = aml_in(home, root, "experiment", "submit", "-c", "local", "train.py", "c",
                    "--wait")
    # Then exactly one blob, that file's bytes, went up; the server's copy matches the project
    assert second.returncode == 3, second.stderr
    assert "hi there c" in second.stdout
    assert sent(second.stderr) == (1, len(changed.encode()))
    assert (server_copy / "helper.py").read_text() == changed
    assert not (server_copy / "stale.txt").exists()
    # And the project's own target files were not sent: the server keeps its own
    assert (server_copy / "aml_config" / "local.compute").is_file()

    # When he submits again with nothing changed
    before = len(team_server.output.read_text().splitlines())
    third = aml_in(home, root, "experiment", "submit", "-c", "local", "train.py", "d",
                   "--wait")
    assert third.returncode == 3 and sent(third.stderr) == (0, 0), third.stderr
    third_id = re.search(r"run (\S+): Failed", third.stderr).group(1)  # type: ignore[union-attr]
    # Then the submit was one request (the snapshot with the submit: the server had every
    # blob), and the log's last answer carried the exit code (no GET of the run after it)
    requests = wait_until(
        lambda: [line for line in team_server.output.read_text().splitlines()[before:]
                 if "/aml/api/" in line] if f"runs/{third_id}/log" in
        team_server.output.read_text() else None, 30, "the server logged the log requests")
    assert sum("/projects/demo/snapshot" in line for line in requests) == 1, requests
    assert not [line for line in requests if "/blobs" in line or f"runs/{third_id}?" in line]
    assert not (team_server.artifacts / "blobs").joinpath(
        _blob_rel((root / "aml_config" / "workspace.yml").read_bytes())).exists()

    # And the run verbs read the server
    listed = aml_in(home, root, "run", "list")
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    shown = aml_in(home, root, "run", "show", run_id)
    assert shown.returncode == 0 and re.search(r"exit code:?\s+3", shown.stdout), shown.stdout
    logs = aml_in(home, root, "run", "logs", run_id)
    assert logs.returncode == 0 and "hello a b" in logs.stdout, logs.stderr


def test_cancel_and_wait_go_through_the_server(team_server: TeamServer,
                                               members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "naps")
    started = aml_in(home, root, "experiment", "submit", "-c", "local", "sleeper.py", "-a")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    wait_until(lambda: http(team_server, f"/aml/api/runs/{run_id}?project=naps",
                            members["bob"])[1]["status"] == "Running", 60, "sleeper running",
               interval=0.2)
    canceled = aml_in(home, root, "run", "cancel", run_id)
    assert canceled.returncode == 0 and run_id in canceled.stdout, canceled.stderr
    waited = aml_in(home, root, "run", "wait", run_id, "--timeout", "60")
    assert f"run {run_id}: Canceled" in waited.stdout, waited.stdout
    # And a follower's wait must be a number: one line
    status, answer = http(team_server, f"/aml/api/runs/{run_id}/log?project=naps&wait=soon",
                          members["rex"])
    assert status == 400 and "'wait' must be a number" in answer["message"]
    # And on an ended run a wait answers at once, with the whole log, complete
    status, answer = http(team_server, f"/aml/api/runs/{run_id}/log?project=naps&wait=30",
                          members["rex"])
    assert status == 200 and "sleeping" in answer["text"]


def test_a_tampered_blob_is_refused_in_one_line(team_server: TeamServer,
                                                members: dict[str, str]) -> None:
    claimed = hashlib.sha256(b"the real content\n").hexdigest()
    request = urllib.request.Request(f"{team_server.url}/aml/api/workspace/blobs/{claimed}",
                                     data=b"something else\n", method="PUT")
    request.add_header("Authorization", f"Bearer {members['bob']}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    message = refused.value.read().decode()
    assert "hashes to" in message and claimed in message and "\\n" not in message
    assert not (team_server.artifacts / "blobs" / claimed[:2] / claimed[2:]).exists()
    status, answer = http(team_server, "/aml/api/workspace/blobs/missing", members["bob"],
                          "POST", {"hashes": [claimed]})
    assert status == 200 and answer == {"missing": [claimed]}
    # And a snapshot naming a blob the server lacks changes nothing: 409, one line
    status, answer = http(team_server, "/aml/api/workspace/projects/demo2/snapshot",
                          members["bob"], "POST",
                          {"files": {"x.py": {"sha256": claimed, "mode": 420}}})
    assert status == 409 and "\n" not in answer["message"]
    assert answer["missing"] == [claimed]        # what to upload before asking again
    assert not (team_server.artifacts / "projects" / "demo2").exists()
    # And a path the server owns, or one leaving the project, is a 400
    for bad in ("aml_config/local.compute", ".aml/history.sqlite", "../escape.py"):
        status, answer = http(team_server, "/aml/api/workspace/projects/demo2/snapshot",
                              members["bob"], "POST",
                              {"files": {bad: {"sha256": claimed, "mode": 420}}})
        assert status == 400, (bad, answer)


def test_a_readers_submit_is_a_one_line_403(team_server: TeamServer,
                                            members: dict[str, str]) -> None:
    root = linked_project(team_server, "rex", "peek")
    refused = aml_in(team_server.homes["rex"], root, "experiment", "submit", "-c", "local",
                     "train.py", "--wait")
    line = one_error_line(refused)
    assert "not allowed (403)" in line and "contributor" in line, line
    assert not (team_server.artifacts / "projects" / "peek").exists()


def test_a_linked_project_that_never_submitted_lists_no_runs(
        team_server: TeamServer, members: dict[str, str]) -> None:
    root = linked_project(team_server, "bob", "fresh")
    listed = aml_in(team_server.homes["bob"], root, "run", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]", listed.stdout
    assert not (team_server.artifacts / "projects" / "fresh").exists()


def test_an_unlinked_project_submits_locally_as_before(team_server: TeamServer,
                                                       members: dict[str, str]) -> None:
    home = team_server.homes["bob"]
    root = linked_project(team_server, "bob", "offline")
    assert aml_in(home, root, "workspace", "unlink").returncode == 0
    local = aml_in(home, root, "experiment", "submit", "-c", "local", "train.py", "x",
                   "--wait")
    assert local.returncode == 3 and "hello x" in local.stdout, local.stderr
    assert "new blob" not in local.stderr
    assert not (team_server.artifacts / "projects" / "offline").exists()
    assert list((root / ".aml").iterdir())           # its own history, on bob's machine


def test_the_magics_submit_and_list_through_the_server(
        team_server: TeamServer, members: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.utils.capture import capture_output
    # Given a notebook on bob's machine, in his linked project
    root = linked_project(team_server, "bob", "notes")
    ip, magics = magics_in(root, team_server.homes["bob"], monkeypatch,
                           widgets=False)          # the text path (no ipywidgets)
    # When he submits a cell with arguments and --wait
    with capture_output() as cap:
        run = ip.run_cell_magic("aml_submit", "-c local --wait x y",
                                "import sys\nprint('cell says', sys.argv[1:])\n")
    # Then he sees its log and its end, and the run was made on the server
    assert "cell says ['x', 'y']" in cap.stdout, (cap.stdout, cap.stderr)
    assert run["status"] == "Completed" and run["exit_code"] == 0
    assert f"Run {run['run_id']}: Completed" in cap.stdout
    assert (team_server.artifacts / "projects" / "notes" / ".aml" / "cells").is_dir()
    # And %aml_runs and %aml_run read the server
    with capture_output() as cap:
        ip.run_line_magic("aml_runs", "")
    assert run["run_id"] in cap.stdout and team_server.url in cap.stdout
    with capture_output() as cap:
        ip.run_line_magic("aml_run", run["run_id"])
    assert re.search(r"exit code:?\s+0", cap.stdout), cap.stdout


LIVE_CELL = """\
import json, os, pathlib, sys, time
print('widget says', sys.argv[1:], flush=True)
with open(os.environ["AML_MAGIC_METRICS_FILE"], "a") as metrics:
    for step, loss in enumerate((0.9, 0.4)):
        metrics.write(json.dumps({"name": "loss", "value": loss, "step": step,
                                  "time": time.time()}) + "\\n")
        metrics.flush()
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.05)
print('after go', flush=True)
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/answer.txt").write_text("42")
"""


def test_the_live_widget_follows_a_run_on_the_server(
        team_server: TeamServer, members: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from IPython.utils.capture import capture_output

    from aml_magic.frontends.notebook.widgets import run_widget
    shown: list[run_widget.RunWidget] = []
    real_show = run_widget.show_run

    def keep(run: object, **kwargs: object) -> run_widget.RunWidget:
        shown.append(real_show(run, **kwargs))          # type: ignore[arg-type]
        return shown[-1]
    monkeypatch.setattr(run_widget, "show_run", keep)
    # Given a notebook with widgets on bob's machine, in his linked project
    root = linked_project(team_server, "bob", "live")
    ip, magics = magics_in(root, team_server.homes["bob"], monkeypatch, widgets=True)
    monkeypatch.setattr(magics, "watch_interval", 0.1)
    go = tmp_path / "go"
    # When he submits a cell that prints, logs a metric, then waits for a go file
    with capture_output():
        run = ip.run_cell_magic("aml_submit", f"-c local {go}", LIVE_CELL)
    # Then the run widget shows it, fed from the server while it runs: status, log, metrics
    assert len(shown) == 1 and run["run_id"] == shown[0].snapshot.run_id
    widget = shown[0]
    try:
        wait_until(lambda: "widget says" in widget.snapshot.log_tail and
                   [m.name for m in widget.snapshot.metrics] == ["loss"], 90,
                   "the widget's log and metrics from the server", interval=0.1)
        assert widget.snapshot.status.value == "Running"
        assert widget.snapshot.metrics[0].values == [0.9, 0.4]
        assert "widget says" in widget.log_view.value and "loss" in widget.metrics_view.value
        assert "Running" in widget.header.value and not widget.cancel_button.disabled
        # When the run goes on and ends, then the widget ends with it, outputs and all
        go.touch()
        wait_until(lambda: widget.snapshot.is_terminal, 90, "the widget sees the run end",
                   interval=0.1)
        assert widget.snapshot.status.value == "Completed", widget.snapshot
        assert "after go" in widget.snapshot.log_tail
        wait_until(lambda: widget.snapshot.outputs == [("answer.txt", 2)] or
                   widget.watcher.poll_once().outputs == [("answer.txt", 2)], 30, "outputs")
        assert widget.cancel_button.disabled and widget.cancel_button.description == "Completed"
    finally:
        widget.close()
    # And %aml_run shows the ended run's widget, from the server
    with capture_output():
        ip.run_line_magic("aml_run", run["run_id"])
    assert len(shown) == 2 and shown[1].snapshot.status.value == "Completed"
    assert "after go" in shown[1].snapshot.log_tail
    shown[1].close()
    # And nothing of it was run or recorded on bob's machine
    assert not (root / ".aml" / "runs").exists()


def _blob_rel(data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    return f"{sha[:2]}/{sha[2:]}"
