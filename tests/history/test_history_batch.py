"""history/batch.py: many runs recorded, moved and read in one transaction each."""
from __future__ import annotations

import json
import sqlite3
from typing import Callable

import pytest

from aml_magic.domain.history import RunRecord, RunStore
from aml_magic.domain.history.batch import create_runs, get_many, mirror_records, set_status_many
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.target_state import TargetState
from aml_magic.errors import AmlError


def _count_writes(store: RunStore) -> list[int]:
    """Counts the history's write transactions (``Database.write`` calls)."""
    calls = [0]
    write = store._db.write

    def counted(work: Callable[[sqlite3.Connection], object]) -> object:
        calls[0] += 1
        return write(work)
    store._db.write = counted  # type: ignore[method-assign]
    return calls


def test_create_runs_is_one_write_with_each_runs_transition_and_record_json(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    records = [make_record(f"proj_{i:04d}", parent_run_id="proj_parent") for i in range(50)]
    writes = _count_writes(store)
    create_runs(store, records)
    assert writes[0] == 1
    for record in records[::7]:
        got = store.get(record.run_id)
        assert got.status is RunStatus.QUEUED and got.parent_run_id == "proj_parent"
        assert [t.status for t in store.transitions(record.run_id)] == [RunStatus.QUEUED]
        mirrored = json.loads((store.run_dir(record.run_id) / "record.json").read_text())
        assert mirrored["status"] == "Queued" and mirrored["command"] == record.command
        assert not (store.run_dir(record.run_id) / "submitter.json").exists()


def test_create_runs_writes_nothing_when_one_id_exists(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    store.create_run(make_record("proj_0001"))
    with pytest.raises(AmlError, match="proj_0001"):
        create_runs(store, [make_record("proj_0000"), make_record("proj_0001")])
    assert store.count_runs() == 1
    with pytest.raises(AmlError, match="repeat"):
        create_runs(store, [make_record("proj_0002"), make_record("proj_0002")])


def test_set_status_many_moves_each_run_once_and_leaves_ended_ones(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    create_runs(store, [make_record(f"proj_{i:04d}") for i in range(4)])
    store.set_status("proj_0003", RunStatus.CANCELED, reason="by the user")
    writes = _count_writes(store)
    state = TargetState(slurm_job_id="7_0")
    changed = set_status_many(store, [(f"proj_{i:04d}", {"target_state": state})
                                      for i in range(4)], RunStatus.RUNNING, at=123.0)
    assert writes[0] == 1
    assert changed == ["proj_0000", "proj_0001", "proj_0002"]
    first = store.get("proj_0000")
    assert first.status is RunStatus.RUNNING and first.started_at == 123.0
    assert first.target_state.slurm_job_id == "7_0"
    mirrored = json.loads((store.run_dir("proj_0000") / "record.json").read_text())
    assert mirrored["status"] == "Running"
    ended = store.get("proj_0003")
    assert ended.status is RunStatus.CANCELED and ended.target_state.slurm_job_id == "7_0"
    assert set_status_many(store, [("proj_0000", {})], RunStatus.RUNNING) == []
    failed = set_status_many(store, [("proj_0001", {})], RunStatus.FAILED, reason="refused")
    assert failed == ["proj_0001"] and store.get("proj_0001").reason == "refused"
    assert store.get("proj_0001").ended_at is not None
    assert [r.run_id for r in get_many(store, ["proj_0002", "nope", "proj_0000"])] == [
        "proj_0002", "proj_0000"]


def test_deferred_runs_get_their_folder_and_record_json_from_mirror_records(
        store: RunStore, make_record: Callable[..., RunRecord]) -> None:
    create_runs(store, [make_record("proj_0000"), make_record("proj_0001")],
                deferred={"proj_0001"})
    assert (store.run_dir("proj_0000") / "record.json").exists()
    assert not store.run_dir("proj_0001").exists()
    changed = set_status_many(store, [("proj_0001", {"target_state": TargetState(
        slurm_job_id="9_1")})], RunStatus.QUEUED, mirror=False)
    assert changed == []             # already Queued: its fields set all the same
    set_status_many(store, [("proj_0001", {})], RunStatus.RUNNING, mirror=False)
    assert not store.run_dir("proj_0001").exists()
    mirror_records(store, ["proj_0001"])
    mirrored = json.loads((store.run_dir("proj_0001") / "record.json").read_text())
    assert mirrored["status"] == "Running" and mirrored["target_state"]["slurm_job_id"] == "9_1"
