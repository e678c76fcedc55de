"""``RunRecord.target_state`` is typed (``TargetState``) yet stored as the JSON object older
versions wrote: existing rows and ``record.json`` files load unchanged, every known value is
checked (a run can write its ``record.json``), a refused value fails that one run with the
reason, and unknown keys are kept as they were."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable

from aml_magic.domain.history import RunRecord, RunStatus, RunStore
from aml_magic.domain.history.repair import repair
from aml_magic.domain.target_state import TargetState
from aml_magic.service.reconcile import reconcile

# what aml_magic wrote for a remote Spark run and a docker run before the state was typed
REMOTE_SPARK = {"run_dir": "/home/u/.aml_magic/runs/p_1", "agent_pid": 4242,
                "agent_start": 987654, "agent_sid": 4242, "metrics_offset": 120,
                "heartbeat_seconds": 1.0, "sync": "spare", "copied_files": 3,
                "python": "/usr/bin/python3 (Python 3.11.2)", "launched_at": 1700000000.5,
                "metrics_skipping": False, "metrics_rejected": 0,
                "spark_master": "spark://h:7077", "spark_dependencies": "/p/spark.yml",
                "spark_app_id": "app-1-0000", "spark_ui": "http://h:4040",
                "spark_unresolved": ["g:a:1"]}
DOCKER = {"run_dir": "/p/.aml/runs/p_2", "container_id": "c0ffee", "agent_pid": 77,
          "image": "aml-magic/env:abc", "metrics_offset": 0, "heartbeat_seconds": 1.0,
          "container_status": "running", "outputs_dir": "/p/outputs", "logs_dir": "/p/logs"}


class Untouchable:
    """A target that fails the test if anything asks it for anything."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the target was asked for {name}")


def test_stored_states_load_typed_and_write_back_unchanged() -> None:
    for stored in (REMOTE_SPARK, DOCKER, {}, {"driver_pid": 9}, {"notebook": "a.ipynb",
                                                                "kernel_pid": 5}):
        # Given a state as an earlier version stored it, When it is loaded
        state = TargetState.from_json(json.loads(json.dumps(stored)))
        # Then every value is a typed field and writing it back gives the same object
        assert state.malformed is None
        assert state.to_json() == stored
    assert TargetState.from_json(REMOTE_SPARK).spark_unresolved == ["g:a:1"]
    assert TargetState.from_json(DOCKER).container_id == "c0ffee"


def test_unknown_keys_are_kept_and_unset_values_are_not_written() -> None:
    state = TargetState.from_json({"run_dir": "/r", "future_key": {"a": [1]}, "sync": None})
    assert state.extra == {"future_key": {"a": [1]}} and state.sync is None
    assert state.to_json() == {"run_dir": "/r", "future_key": {"a": [1]}}


def test_every_wrong_value_is_refused_and_named() -> None:
    for key, bad in [("agent_pid", "42"), ("agent_pid", True), ("agent_start", -1),
                     ("metrics_offset", 1.5), ("heartbeat_seconds", float("nan")),
                     ("run_dir", ""), ("run_dir", "/a\0b"), ("metrics_skipping", 1),
                     ("spark_unresolved", ["ok", 3]), ("container_id", 5)]:
        # Given a state where one value has the wrong type, When it is loaded
        state = TargetState.from_json({"run_dir": "/r", "image": "i", key: bad})
        # Then that value is dropped and named, the others are kept
        assert state.malformed and key in state.malformed, (key, bad)
        assert getattr(state, key) is None or key == "run_dir" and state.run_dir is None
        assert state.image == "i"
    assert TargetState.from_json(["not", "an", "object"]).malformed


def test_a_history_row_written_by_an_older_version_loads(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    # Given a row whose target_state column holds the JSON an older version wrote
    store.create_run(make_record("proj_1", status=RunStatus.COMPLETED))
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET target_state = ? WHERE run_id = 'proj_1'",
                     (json.dumps(DOCKER),))
    # When it is read, alone and in a listing, Then it is typed and complete
    assert store.get("proj_1").target_state.to_json() == DOCKER
    assert store.list_runs()[0].target_state.container_id == "c0ffee"


def test_a_refused_state_in_history_fails_that_run_without_touching_its_target(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    # Given a running run whose stored agent identity is not a number, and a healthy one
    store.create_run(make_record("proj_1", status=RunStatus.RUNNING))
    store.create_run(make_record("proj_2", status=RunStatus.COMPLETED))
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET target_state = ? WHERE run_id = 'proj_1'",
                     (json.dumps({"run_dir": "/r", "agent_pid": "1; rm -rf /"}),))
    # When it is listed and reconciled
    assert len(store.list_runs()) == 2
    record = reconcile(store, store.get("proj_1"), Untouchable())  # type: ignore[arg-type]
    # Then it is Failed with the reason, and nothing on its target was read or signalled
    assert record.status is RunStatus.FAILED
    assert record.reason and "agent_pid" in record.reason
    assert store.get("proj_2").status is RunStatus.COMPLETED


def test_repair_fails_a_live_run_whose_record_json_state_is_refused(
        tmp_path: Path, make_record: Callable[..., RunRecord]) -> None:
    # Given two live runs mirrored in their folders, one of which rewrote its record.json
    project = tmp_path / "proj"
    with RunStore(project) as store:
        for run_id in ("proj_1", "proj_2"):
            store.create_run(make_record(run_id, status=RunStatus.RUNNING,
                                         target_state=TargetState(run_dir=f"/r/runs/{run_id}",
                                                                  agent_pid=7)))
        folder = store.run_dir("proj_2")
    record_file = folder / "record.json"
    data = json.loads(record_file.read_text())
    data["target_state"] = {"run_dir": "/r/runs/proj_2", "agent_pid": 7, "agent_sid": [1]}
    record_file.write_text(json.dumps(data))
    # When the history is rebuilt from the run folders
    (project / ".aml" / "history.db").unlink()
    repair(project)
    # Then that run is Failed naming the value, the other keeps its state
    with RunStore(project) as store:
        hostile, healthy = store.get("proj_2"), store.get("proj_1")
    assert hostile.status is RunStatus.FAILED and "agent_sid" in (hostile.reason or "")
    assert healthy.status is RunStatus.RUNNING
    assert healthy.target_state == TargetState(run_dir="/r/runs/proj_1", agent_pid=7)
