"""Run ids, status parsing and the record dataclass."""
from __future__ import annotations

import re

import pytest

from aml_magic.errors import AmlError
from aml_magic.domain.history import RunRecord, RunStatus, new_run_id, parse_status
from aml_magic.domain.history.records import check_run_id, sanitize_project_name


def test_new_run_id_has_project_epoch_ms_and_hex():
    # Given a project name and a fixed time
    # When an id is made
    run_id = new_run_id("mnist", now=1_716_000_000.123)
    # Then it is <project>_<13-digit ms>_<4 hex>
    assert re.fullmatch(r"mnist_1716000000123_[0-9a-f]{4}", run_id)


def test_new_run_ids_sort_by_time():
    # Given ids made at increasing times
    ids = [new_run_id("p", now=t) for t in (999.0, 1000.0, 1_700_000_000.0, 1_700_000_000.5)]
    # Then string order is time order (13 digits, zero-padded)
    assert ids == sorted(ids)
    assert all(len(i.split("_")[1]) == 13 for i in ids)


def test_new_run_ids_in_the_same_millisecond_differ():
    ids = {new_run_id("p", now=1.0) for _ in range(50)}
    assert len(ids) > 40  # 4 hex digits: collisions are possible, but rare


@pytest.mark.parametrize("name, expected", [
    ("my project", "my-project"),
    ("../../etc", "etc"),
    ("a/b\\c", "a-b-c"),
    ("ok_name-1", "ok_name-1"),
    ("élan", "lan"),
    ("!!!", "project"),
])
def test_project_names_are_sanitized(name, expected):
    assert sanitize_project_name(name) == expected
    check_run_id(new_run_id(name))  # always a safe folder name


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "a b", ".."])
def test_check_run_id_refuses_path_like_ids(bad):
    with pytest.raises(AmlError, match="invalid run id"):
        check_run_id(bad)


@pytest.mark.parametrize("text", ["Completed", "completed", "COMPLETED", " completed "])
def test_parse_status_accepts_any_case(text):
    assert parse_status(text) is RunStatus.COMPLETED


def test_parse_status_names_valid_values_on_error():
    with pytest.raises(AmlError, match="Queued, Preparing, Running"):
        parse_status("done")


def test_record_coerces_status_and_reports_duration():
    # Given a record built with a status string and start/end times
    record = RunRecord(run_id="p_1", project="p", status="running", started_at=10.0, ended_at=12.5)
    # Then the status is the enum and the duration is end - start
    assert record.status is RunStatus.RUNNING
    assert record.duration == 2.5
    assert RunRecord(run_id="p_2", project="p").duration is None
