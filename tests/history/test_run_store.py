"""RunStore API: runs, transitions, metrics, artifacts, schema."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from aml_magic.errors import AmlError, RunNotFound
from aml_magic.domain.history import Artifact, Metric, RunStatus, RunStore, Transition
from aml_magic.domain.history import schema
from aml_magic.domain.target_state import TargetState


# -- opening -------------------------------------------------------------------------------

def test_opening_creates_the_database_in_wal_mode(tmp_path: Path):
    # Given a project folder without .aml/
    # When a store is opened
    with RunStore(tmp_path / "p") as store:
        # Then .aml/history.db exists, in WAL mode, at the current schema version
        assert store.db_path == tmp_path / "p" / ".aml" / "history.db"
        assert store.db_path.is_file()
        assert store.schema_version == schema.SCHEMA_VERSION
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_keeps_runs(tmp_path: Path, make_record):
    with RunStore(tmp_path) as store:
        store.create_run(make_record("proj_1"))
    with RunStore(tmp_path) as store:
        assert store.get("proj_1").run_id == "proj_1"


def test_a_newer_schema_is_refused_with_advice(tmp_path: Path):
    # Given a history written by a future aml_magic
    RunStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / ".aml" / "history.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    # When it is opened, Then the error names the file and says to upgrade
    with pytest.raises(AmlError, match=r"history\.db.*99.*upgrade aml_magic"):
        RunStore(tmp_path)


# -- runs ----------------------------------------------------------------------------------

def test_create_and_get_round_trips_every_field(store: RunStore, make_record):
    # Given a record using every field, JSON ones included
    record = make_record(
        "proj_1", status=RunStatus.QUEUED, created_at=100.0, exit_code=None,
        config_snapshot={"target": "gpu", "password": "aml-secret:abc"},
        environment={"TOKEN": "******", "N": "1"}, snapshot_digest="d" * 64,
        environment_hash="e" * 64, git_commit="c" * 40, git_dirty=True,
        target_state=TargetState.from_json({"run_dir": "/home/u/.aml_magic/runs/proj_1",
                                            "pid": 42, "offsets": [0, 1]}))
    # When it is stored and read back
    store.create_run(record)
    # Then it is equal, and the first status is recorded as a transition
    assert store.get("proj_1") == record
    assert store.transitions("proj_1") == [Transition(RunStatus.QUEUED, 100.0, None)]


def test_creating_a_duplicate_id_fails_clearly(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    with pytest.raises(AmlError, match="proj_1.*already exists"):
        store.create_run(make_record("proj_1"))


def test_get_unknown_run_names_it_and_suggests_listing(store: RunStore):
    with pytest.raises(RunNotFound, match=r"'nope'.*`aml run list`"):
        store.get("nope")


def test_list_runs_is_newest_first_with_filters_and_paging(store: RunStore, make_record):
    # Given runs on two targets with different statuses, created in order
    for i in range(10):
        store.create_run(make_record(f"proj_{i:02d}", created_at=1000.0 + i,
                                     target="gpu" if i % 2 else "local",
                                     status=RunStatus.FAILED if i % 3 == 0 else RunStatus.QUEUED))
    ids = lambda runs: [r.run_id for r in runs]  # noqa: E731
    # Then listing is newest first, and filters/paging select the right rows
    assert ids(store.list_runs()) == [f"proj_{i:02d}" for i in range(9, -1, -1)]
    assert ids(store.list_runs(limit=3, offset=2)) == ["proj_07", "proj_06", "proj_05"]
    assert ids(store.list_runs(target="gpu")) == ["proj_09", "proj_07", "proj_05", "proj_03",
                                                  "proj_01"]
    assert ids(store.list_runs(status="failed")) == ["proj_09", "proj_06", "proj_03", "proj_00"]
    assert ids(store.list_runs(status=RunStatus.FAILED, target="gpu")) == ["proj_09", "proj_03"]
    assert store.count_runs() == 10 and store.count_runs(status="Failed", target="gpu") == 2


def test_list_runs_rejects_negative_limits_and_unknown_status(store: RunStore):
    with pytest.raises(ValueError):
        store.list_runs(limit=-1)
    with pytest.raises(AmlError, match="unknown run status"):
        store.list_runs(status="finished")


def test_active_runs_are_the_non_terminal_ones(store: RunStore, make_record):
    for i, status in enumerate(RunStatus):
        store.create_run(make_record(f"proj_{i}", status=status, created_at=float(i)))
    assert [r.status for r in store.active_runs()] == [
        RunStatus.QUEUED, RunStatus.PREPARING, RunStatus.RUNNING, RunStatus.FINALIZING]


def test_find_and_resolve_run_ids(store: RunStore, make_record):
    # Given three runs sharing prefixes
    for run_id in ("proj_1716000000000_ab12", "proj_1716000000001_cd34", "proj_1717000000000_ef56"):
        store.create_run(make_record(run_id))
    # Then prefixes, unique endings and exact ids resolve; ambiguous ones list the candidates
    assert [r.run_id for r in store.find_runs("proj_1716")] == [
        "proj_1716000000001_cd34", "proj_1716000000000_ab12"]
    assert store.resolve_run_id("proj_1717") == "proj_1717000000000_ef56"
    assert store.resolve_run_id("cd34") == "proj_1716000000001_cd34"
    assert store.resolve_run_id("proj_1716000000000_ab12") == "proj_1716000000000_ab12"
    with pytest.raises(AmlError, match="several runs.*cd34.*ab12"):
        store.resolve_run_id("proj_1716")
    with pytest.raises(RunNotFound, match="aml run list"):
        store.resolve_run_id("zz%")


def test_update_changes_whitelisted_fields_only(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    # When fields are updated
    store.update("proj_1", exit_code=3, target_state=TargetState(agent_pid=7), git_dirty=False)
    # Then they are stored, JSON included
    run = store.get("proj_1")
    assert (run.exit_code, run.target_state, run.git_dirty) == (3, TargetState(agent_pid=7), False)
    # And fields outside the whitelist are refused without changing anything
    with pytest.raises(ValueError, match="status"):
        store.update("proj_1", status="Completed", exit_code=4)
    with pytest.raises(ValueError, match="run_id"):
        store.update("proj_1", run_id="x")
    assert store.get("proj_1").exit_code == 3
    with pytest.raises(RunNotFound):
        store.update("missing", exit_code=1)


def test_run_dir_is_under_dot_aml_runs_and_refuses_traversal(store: RunStore):
    assert store.run_dir("proj_1") == store.project_root / ".aml" / "runs" / "proj_1"
    assert not store.run_dir("proj_1").exists()
    assert store.run_dir("proj_1", create=True).is_dir()
    with pytest.raises(AmlError, match="invalid run id"):
        store.run_dir("../../etc")


def test_delete_run_removes_rows_and_folder(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    store.add_metrics("proj_1", [Metric("loss", 1.0)])
    (store.run_dir("proj_1", create=True) / "log.txt").write_text("x")
    assert store.delete_run("proj_1") is True
    assert not store.run_dir("proj_1").exists()
    assert store.metrics("proj_1") == [] and store.transitions("proj_1") == []
    with pytest.raises(RunNotFound):
        store.get("proj_1")
    assert store.delete_run("proj_1") is False


# -- status --------------------------------------------------------------------------------

def test_status_lifecycle_records_transitions_and_times(store: RunStore, make_record):
    store.create_run(make_record("proj_1", created_at=1.0))
    # When the run moves through its lifecycle
    assert store.set_status("proj_1", RunStatus.PREPARING, at=2.0)
    assert store.set_status("proj_1", "Running", at=3.0)
    assert store.set_status("proj_1", RunStatus.FAILED, reason="exit code 1", at=5.0)
    # Then every step is recorded with its time and reason, and start/end are set
    assert store.transitions("proj_1") == [
        (RunStatus.QUEUED, 1.0, None), (RunStatus.PREPARING, 2.0, None),
        (RunStatus.RUNNING, 3.0, None), (RunStatus.FAILED, 5.0, "exit code 1")]
    run = store.get("proj_1")
    assert (run.status, run.started_at, run.ended_at, run.reason) == (
        RunStatus.FAILED, 3.0, 5.0, "exit code 1")


def test_terminal_status_is_final(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    assert store.set_status("proj_1", RunStatus.CANCELED, at=2.0)
    # When a late poll reports another state
    assert store.set_status("proj_1", RunStatus.COMPLETED, at=3.0) is False
    # Then nothing changed
    run = store.get("proj_1")
    assert (run.status, run.ended_at) == (RunStatus.CANCELED, 2.0)
    assert len(store.transitions("proj_1")) == 2


def test_repeating_the_current_status_records_nothing(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    assert store.set_status("proj_1", RunStatus.RUNNING, at=2.0)
    assert store.set_status("proj_1", RunStatus.RUNNING, at=3.0) is False
    assert store.get("proj_1").started_at == 2.0
    assert len(store.transitions("proj_1")) == 2


def test_set_status_keeps_times_already_set(store: RunStore, make_record):
    # Given a run whose agent-reported start and end are already known
    store.create_run(make_record("proj_1", started_at=1.5, ended_at=4.5))
    store.set_status("proj_1", RunStatus.RUNNING, at=2.0)
    store.set_status("proj_1", RunStatus.COMPLETED, at=9.0)
    run = store.get("proj_1")
    assert (run.started_at, run.ended_at) == (1.5, 4.5)


def test_set_status_unknown_run(store: RunStore):
    with pytest.raises(RunNotFound, match="ghost"):
        store.set_status("ghost", RunStatus.RUNNING)


# -- metrics and artifacts -------------------------------------------------------------------

def test_metrics_steps_auto_increment_per_name(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    # When metrics arrive in two batches without steps
    stored = store.add_metrics("proj_1", [Metric("loss", 0.9, time=1.0), Metric("acc", 0.1, time=1.0),
                                          Metric("loss", 0.5, time=2.0)])
    store.add_metrics("proj_1", [Metric("loss", [0.4, 0.3], time=3.0)])
    # Then each name counts its own steps, across batches, and lists survive as lists
    assert [m.step for m in stored] == [0, 0, 1]
    assert store.metrics("proj_1", "loss") == [
        Metric("loss", 0.9, 0, 1.0), Metric("loss", 0.5, 1, 2.0), Metric("loss", [0.4, 0.3], 2, 3.0)]
    assert [m.name for m in store.metrics("proj_1")] == ["acc", "loss", "loss", "loss"]


def test_metric_with_explicit_step_replaces_that_step(store: RunStore, make_record):
    # Given a metric re-read from the same line of metrics.jsonl
    store.create_run(make_record("proj_1"))
    store.add_metrics("proj_1", [Metric("loss", 0.9, step=5, time=1.0)])
    store.add_metrics("proj_1", [Metric("loss", 0.9, step=5, time=1.0), Metric("loss", 0.8)])
    # Then it is not doubled, and the next auto step follows it
    assert [(m.value, m.step) for m in store.metrics("proj_1")] == [(0.9, 5), (0.8, 6)]


def test_metrics_and_their_file_offset_commit_together(store: RunStore, make_record):
    # Given a run whose metrics file was read up to byte 120
    store.create_run(make_record("proj_1", target_state=TargetState(agent_pid=1)))
    store.add_metrics("proj_1", [Metric("loss", 0.5)],
                      target_state=TargetState(agent_pid=1, metrics_offset=120))
    assert store.get("proj_1").target_state.to_json() == {"agent_pid": 1, "metrics_offset": 120}
    # When a batch fails, Then neither the metrics nor the new offset are kept
    with pytest.raises(TypeError):
        store.add_metrics("proj_1", [Metric("bad", object())], target_state=TargetState(metrics_offset=999))
    assert store.get("proj_1").target_state.metrics_offset == 120
    assert len(store.metrics("proj_1")) == 1


def test_metric_values_of_every_json_kind(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    values = [1, 2.5, "text", True, None, [1, 2, 3]]
    store.add_metrics("proj_1", [Metric(f"m{i}", v) for i, v in enumerate(values)])
    assert [m.value for m in store.metrics("proj_1")] == values
    assert store.metrics("proj_1")[0].time == pytest.approx(time.time(), abs=60)


def test_metrics_for_unknown_run_store_nothing(store: RunStore):
    with pytest.raises(RunNotFound):
        store.add_metrics("ghost", [Metric("loss", 1.0)])


def test_set_artifacts_replaces_the_index(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    store.set_artifacts("proj_1", [Artifact("model/b.bin", 3, "b" * 64), Artifact("a.txt", 1, "a" * 64)])
    assert store.artifacts("proj_1") == [Artifact("a.txt", 1, "a" * 64),
                                         Artifact("model/b.bin", 3, "b" * 64)]
    store.set_artifacts("proj_1", [Artifact("c.txt", 2, "c" * 64)])
    assert store.artifacts("proj_1") == [Artifact("c.txt", 2, "c" * 64)]
    with pytest.raises(RunNotFound):
        store.set_artifacts("ghost", [])


# -- locking ---------------------------------------------------------------------------------

def test_write_waits_for_another_writer(store: RunStore, make_record):
    # Given another connection holding the write lock for a moment
    store.create_run(make_record("proj_1"))
    other = sqlite3.connect(store.db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releasing = threading.Event()

    def commit() -> None:
        releasing.set()               # before COMMIT: a write that got the lock came after this
        other.execute("COMMIT")
    threading.Timer(0.3, commit).start()
    # When this store writes
    assert store.set_status("proj_1", RunStatus.RUNNING)
    # Then it waited for the other writer's commit instead of failing
    assert releasing.is_set()
    other.close()


def test_retry_gives_up_with_a_clear_error(tmp_path: Path, make_record):
    # Given a store that retries for a short time only, and a lock held longer
    store = RunStore(tmp_path, retry_seconds=0.2)
    calls = []

    def always_locked():
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")
    # Then busy errors are retried, then reported naming the database
    with pytest.raises(AmlError, match=r"history\.db.*locked"):
        store._db.retry(always_locked)
    assert len(calls) > 1
    # And other errors are not retried
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store._db.retry(lambda: store._db.connection().execute("SELECT * FROM nope"))
    store.close()


def test_failed_write_rolls_back(store: RunStore, make_record):
    store.create_run(make_record("proj_1"))
    with pytest.raises(TypeError):
        store.add_metrics("proj_1", [Metric("ok", 1.0), Metric("bad", object())])
    assert store.metrics("proj_1") == []
    assert store.set_status("proj_1", RunStatus.RUNNING)  # the connection is usable again
