"""service/observed_env.py and the agent's ``observed_env`` in status.json: what the run's
environment section shows of the variables the agent recorded (Slurm's CUDA_VISIBLE_DEVICES)."""
from __future__ import annotations

import json
from typing import Any

from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.runfolder.parsing import parse_status
from aml_magic.service.observed_env import NOT_SET, observed_environment


def _record(gpus: int | None, environment: dict[str, str] | None = None) -> RunRecord:
    return RunRecord(run_id="p_1", project="p", run_configuration="hpc", target="hpc",
                     target_type="slurm", command=["a.py"], script="a.py",
                     config_snapshot={"compute": {"type": "slurm", "gpus": gpus}},
                     environment=environment or {})


def _status(observed: Any) -> bytes:
    return json.dumps({"state": "Running", "heartbeat": 1.0, "observed_env": observed}).encode()


def test_a_value_the_agent_saw_is_shown_whatever_the_target_asked() -> None:
    assert observed_environment(_record(None), {"CUDA_VISIBLE_DEVICES": "0,1"}) == {
        "CUDA_VISIBLE_DEVICES": "0,1"}


def test_an_unset_variable_is_shown_only_when_the_run_asked_for_gpus() -> None:
    assert observed_environment(_record(2), {"CUDA_VISIBLE_DEVICES": None}) == {
        "CUDA_VISIBLE_DEVICES": NOT_SET}
    assert observed_environment(_record(None), {"CUDA_VISIBLE_DEVICES": None}) is None
    assert observed_environment(_record(2), None) is None


def test_a_declared_variable_stays_as_recorded_and_nothing_changes_twice() -> None:
    declared = _record(1, {"CUDA_VISIBLE_DEVICES": "******", "A": "b"})
    assert observed_environment(declared, {"CUDA_VISIBLE_DEVICES": "7"}) is None
    once = _record(1, {"A": "b"})
    once.environment = observed_environment(once, {"CUDA_VISIBLE_DEVICES": "7"}) or {}
    assert once.environment == {"A": "b", "CUDA_VISIBLE_DEVICES": "7"}
    assert observed_environment(once, {"CUDA_VISIBLE_DEVICES": "7"}) is None


def test_status_json_observed_env_is_kept_only_in_its_shape() -> None:
    assert parse_status(_status({"CUDA_VISIBLE_DEVICES": "0"})).observed_env == {
        "CUDA_VISIBLE_DEVICES": "0"}
    assert parse_status(_status({"CUDA_VISIBLE_DEVICES": None})).observed_env == {
        "CUDA_VISIBLE_DEVICES": None}
    escaped = parse_status(_status({"CUDA_VISIBLE_DEVICES": "\x1b[2J"})).observed_env
    assert escaped is not None and "\x1b" not in str(escaped["CUDA_VISIBLE_DEVICES"])
    for bad in ({"lower": "x"}, {"A": 3}, ["A"], {f"V{i}": "x" for i in range(9)}):
        state = parse_status(_status(bad))
        assert state.state == "Running" and state.observed_env is None
