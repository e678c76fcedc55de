"""REST for the Lab's run page against a real Jupyter server and a real local run: ``POST
runs/<id>/rerun`` submits the same script, arguments and target as a new run (which really
runs), and refuses what it cannot repeat faithfully; ``GET runs/<id>/snapshot`` lists the files
of the manifest the history kept."""
from __future__ import annotations

from pathlib import Path

from tests._contract import assert_shape
from tests.server.jupyter import JupyterServer
from tests.server.test_rest import P, submit, wait_status


def test_a_rerun_is_a_new_run_of_the_same_script_arguments_and_target(
        server: JupyterServer) -> None:
    # Given a run of train.py with arguments, ended
    first = submit(server, "train.py", "--lr", "0.1")
    wait_status(server, first["run_id"], "Completed")
    # When it is re-run
    reply = server.api("POST", f"runs/{first['run_id']}/rerun", params=P, body={})
    # Then a new run is recorded with the same command and target, and it runs to its end
    assert reply.status == 201, reply.body
    assert_shape("RunJson", reply.json)
    again = reply.json
    assert again["run_id"] != first["run_id"]
    assert (again["command"], again["target"], again["run_configuration"]) == \
        (first["command"], first["target"], first["run_configuration"]) == \
        (["train.py", "--lr", "0.1"], "local", "local")
    wait_status(server, again["run_id"], "Completed")
    log = server.api("GET", f"runs/{again['run_id']}/log", params=P).json["text"]
    assert "hello ['--lr', '0.1']" in log


def test_a_rerun_is_refused_when_it_could_not_be_the_same(server: JupyterServer,
                                                         lab_root: Path) -> None:
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    with RunStore(lab_root / "proj") as store:
        masked = RunRecord(run_id="proj_1700000000000_0001", project="proj",
                           run_configuration="local", target="local", target_type="local",
                           status=RunStatus.COMPLETED, created_at=1.7e9, script="train.py",
                           command=["train.py", "--token", "******"])
        gone = RunRecord(run_id="proj_1700000000000_0002", project="proj",
                         run_configuration="vanished", target="local", target_type="local",
                         status=RunStatus.COMPLETED, created_at=1.7e9, script="train.py",
                         command=["train.py"])
        store.insert_many([masked, gone])
    # When a run whose arguments held a secret, or whose run configuration is gone, is re-run
    secret = server.api("POST", f"runs/{masked.run_id}/rerun", params=P, body={})
    vanished = server.api("POST", f"runs/{gone.run_id}/rerun", params=P, body={})
    unknown = server.api("POST", "runs/proj_1700000000000_ffff/rerun", params=P, body={})
    # Then each is a one-line 409 (404 for no such run) saying why, and no run is added
    assert secret.status == 409 and "secret" in secret.json["message"]
    assert vanished.status == 409 and "'vanished'" in vanished.json["message"]
    assert unknown.status == 404


def test_the_snapshot_lists_the_files_the_run_got(server: JupyterServer) -> None:
    # Given a run (its snapshot is the project as submitted)
    run = submit(server, "many_lines.py")
    # When its snapshot is asked for
    reply = server.api("GET", f"runs/{run['run_id']}/snapshot", params=P)
    # Then the kept manifest's files are listed by path, with their sizes
    assert reply.status == 200, reply.body
    assert_shape("SnapshotJson", reply.json)
    shot = reply.json
    paths = [f["path"] for f in shot["files"]]
    assert shot["kept"] and shot["digest"] == run["snapshot_digest"]
    assert {"train.py", "many_lines.py", "long.py"} <= set(paths) and paths == sorted(paths)
    assert shot["total"] == len(paths) and shot["total_size"] == sum(f["size"] for f in
                                                                      shot["files"])


def test_the_script_and_arguments_are_found_in_the_recorded_command() -> None:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.service.run_page import split_command

    def rc(vector: list[str]) -> RunConfiguration:
        return RunConfiguration(name="c", target="local", argument_vector=list(vector))
    # A script in the vector's $file (alone, between others, inside an item)
    assert split_command(rc(["$file"]), ["t.py", "--lr", "1"]) == ("t.py", ["--lr", "1"])
    assert split_command(rc(["python", "-u", "$file"]), ["python", "-u", "t.py", "x"]) == \
        ("t.py", ["x"])
    assert split_command(rc(["--script=$file"]), ["--script=a/t.py"]) == ("a/t.py", [])
    # A vector without $file: run as it is (no script), or replaced by the script
    assert split_command(rc(["make", "all"]), ["make", "all", "-j2"]) == (None, ["-j2"])
    assert split_command(rc(["make", "all"]), ["t.py", "-j2"]) == ("t.py", ["-j2"])
    # A vector that no longer gives the command
    assert split_command(rc(["python", "$file"]), ["t.py"]) == (None, None)
