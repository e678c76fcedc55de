"""The presentation layer (``aml_magic/frontends/render.py``, ``aml_magic/service/schema.py``): one duration
format, one table renderer and one JSON shape per object, shared by the CLI, the widgets and
(later) the REST API; secrets masked in every shape. Unit tests: plain records, no target."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aml_magic.frontends import render
from aml_magic.domain.config import ComputeTarget, RunConfiguration
from aml_magic.domain.history.records import Artifact, Metric, RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.target_state import TargetState
from aml_magic.service.contract.models import (
    RunConfigurationJson,
    RunDetailJson,
    RunJson,
    TargetJson,
)
from aml_magic.service.schema import (
    dumps,
    mask_environment,
    mask_secrets,
    run_detail_json,
    run_json,
    runconfig_json,
    target_json,
)
from aml_magic.domain.secrets import MASK

REFERENCE = "aml-secret:env/db-password-0123456789abcdef"


def _record(**overrides: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": "proj_1700000000000_abcd", "project": "proj", "run_configuration": "local",
        "target": "local", "target_type": "local", "status": RunStatus.COMPLETED,
        "created_at": 1_700_000_000.0, "started_at": 1_700_000_001.0, "ended_at": 1_700_000_126.0,
        "exit_code": 0, "command": ["train.py", "0.5"], "script": "train.py",
        "environment": {"ALPHA": "0.5", "DB_PASSWORD": "hunter2"},
        "config_snapshot": {"runconfig": {"EnvironmentVariables": {"API_TOKEN": "tok-literal",
                                                                "DB_PASSWORD": REFERENCE}},
                         "compute": {"type": "remote", "password": "plain-pass",
                                     "hostKeyFingerprint": "SHA256:abc"}},
        "target_state": TargetState(run_dir="/somewhere", agent_pid=42)}
    values.update(overrides)
    return RunRecord(**values)  # type: ignore[arg-type]


# -- durations and other formats ---------------------------------------------------------------
@pytest.mark.parametrize("seconds, shown", [
    (None, "-"), (0.0, "0ms"), (0.0137, "14ms"), (0.9996, "1.00s"), (3.271, "3.27s"),
    (9.999, "10.0s"),
    (12.34, "12.3s"), (59.97, "1m00s"), (245, "4m05s"), (3723, "1h02m03s"),
    (2 * 86400 + 3 * 3600 + 4 * 60, "2d03h04m"), (-1.0, "0ms"),
])
def test_one_duration_format(seconds: float | None, shown: str) -> None:
    assert render.format_duration(seconds) == shown


def test_widgets_use_the_same_formats_as_the_cli() -> None:
    # Given the names the widget renderers import from their snapshot module
    from aml_magic.frontends.notebook.widgets import _snapshot
    # Then they are the presentation layer's functions, not copies with another output
    assert _snapshot.format_duration is render.format_duration
    assert _snapshot.format_size is render.format_size
    assert _snapshot.format_value is render.format_value


def test_sizes_values_and_times() -> None:
    assert render.format_size(512) == "512 B"
    assert render.format_size(1536) == "1.5 KB"
    assert render.format_size(3 * 1024 ** 3) == "3.0 GB"
    assert render.format_value(0.123456789) == "0.123457"
    assert render.format_value([1, 2, 3]) == "[3 values]"
    assert render.format_value(True) == "True" and render.format_value(None) == "-"
    assert render.format_time(None) == "-"
    assert render.format_time(1_700_000_000.0).startswith("2023-11-1")


# -- the table renderer ------------------------------------------------------------------------
def test_table_aligns_columns_and_leaves_the_last_unpadded() -> None:
    rows: list[dict[str, str | None]] = [{"name": "local", "type": "local", "note": "x"},
            {"name": "gpu-box", "type": "remote", "note": None}]
    text = render.table(rows, (("name", "name"), ("type", "type"), ("note", "note")))
    assert text.splitlines() == ["NAME     TYPE    NOTE",
                                 "local    local   x",
                                 "gpu-box  remote  -"]


def test_table_without_rows_says_so() -> None:
    assert render.table([], (("name", "name"),), empty="no compute targets") == \
        "no compute targets"


def test_tsv_is_plain_cells_for_scripts() -> None:
    rows: list[dict[str, object]] = [{"run_id": "r1", "status": "Completed", "exit_code": 0, "reason": ""},
            {"run_id": "r2", "status": "Failed", "exit_code": None, "reason": "a\tb\nc"}]
    assert render.tsv(rows, ("run_id", "status", "exit_code", "reason")).splitlines() == [
        "r1\tCompleted\t0\t", "r2\tFailed\t\ta b c"]


def test_fields_align_labels_and_show_lists_and_mappings() -> None:
    text = render.fields([("run", "r1"), ("command", ["a.py", "1"]), ("env", {"A": "1"}),
                          ("exit code", None)])
    assert text.splitlines() == ["run:       r1", "command:   a.py 1", "env:       A=1",
                                 "exit code: -"]


def test_runs_table_is_the_one_run_listing() -> None:
    # Given two runs, one not started yet
    done = _record()
    queued = _record(run_id="proj_1700000000001_beef", status=RunStatus.QUEUED,
                     started_at=None, ended_at=None)
    # When listed with and without metrics
    plain = render.runs_table([done, queued]).splitlines()
    with_metrics = render.runs_table([done, queued], metrics=["acc=0.9", ""]).splitlines()
    # Then the columns are the same, durations use the one format, metrics come last
    assert plain[0].split() == ["RUN", "ID", "TARGET", "STATUS", "STARTED", "DURATION"]
    assert "2m05s" in plain[1] and "Completed" in plain[1]
    assert plain[2].split()[-1] == "-" and "Queued" in plain[2]
    assert with_metrics[0].endswith("METRICS") and with_metrics[1].endswith("acc=0.9")
    assert render.runs_table([]) == "no runs"


def test_widget_runs_table_uses_the_same_renderer() -> None:
    # Given a run handle as the widgets get it
    from aml_magic.frontends.notebook.widgets.runs_table import RunsTable

    class FakeRun:
        def __init__(self, record: RunRecord) -> None:
            self.id, self.record = record.run_id, record

        def metrics(self) -> list[Metric]:
            return [Metric("acc", 0.5, 0), Metric("acc", 0.75, 1), Metric("loss", 0.1, 0)]

    record = _record()
    # When the text fallback of %aml_runs is rendered
    lines = RunsTable([FakeRun(record)], project="proj").text().splitlines()
    # Then below its title it is exactly the CLI's listing with the metrics column
    assert lines[1:] == render.runs_table([record], metrics=["acc=0.75, loss=0.1"]).splitlines()


# -- JSON shapes -------------------------------------------------------------------------------
def test_run_json_has_every_key_of_its_schema_and_nothing_else() -> None:
    data = run_json(_record())
    assert set(data) == set(RunJson.__annotations__)
    assert data["status"] == "Completed" and data["duration"] == 125.0
    assert "target_state" not in data          # target internals are not part of the shape
    json.loads(dumps(data))                     # plain JSON


def test_run_detail_json_adds_metrics_outputs_log_and_masks_the_configuration() -> None:
    # Given a run whose snapshot holds a literal token, a reference and a literal password
    detail = run_detail_json(_record(), metrics=[Metric("acc", 0.9, 0, 1.0)],
                             outputs=[Artifact("model.pkl", 10, "ab" * 32)],
                             log="/runs/r/log.txt", unreachable="ssh: timed out")
    # Then the keys are those of the schema, and no secret value is left anywhere in it
    assert set(detail) <= set(RunDetailJson.__annotations__)
    assert detail["metrics"] == [{"name": "acc", "value": 0.9, "step": 0, "time": 1.0}]
    assert detail["outputs"] == [{"path": "model.pkl", "size": 10, "sha256": "ab" * 32}]
    assert detail["log"] == "/runs/r/log.txt" and detail["unreachable"] == "ssh: timed out"
    text = dumps(detail)
    for secret in ("hunter2", "tok-literal", "plain-pass"):
        assert secret not in text
    env = detail["configuration"]["runconfig"]["EnvironmentVariables"]
    assert env == {"API_TOKEN": MASK, "DB_PASSWORD": REFERENCE}   # references say where it is
    assert detail["configuration"]["compute"]["hostKeyFingerprint"] == "SHA256:abc"
    assert detail["environment"] == {"ALPHA": "0.5", "DB_PASSWORD": MASK}


def test_run_text_shows_the_detail_json_fields() -> None:
    detail = run_detail_json(_record(reason="exit code 3", exit_code=3),
                             metrics=[Metric("acc", 0.912345678, 0)],
                             outputs=[Artifact("model.pkl", 2048, "ab" * 32)],
                             log="/runs/r/log.txt", unreachable="ssh: timed out")
    lines = render.run_text(detail).splitlines()
    assert lines[0].split() == ["run:", "proj_1700000000000_abcd"]
    for expected in ("duration:  2m05s", "exit code: 3", "reason:    exit code 3",
                     "metric:    acc = 0.912346", "output:    model.pkl (2.0 KB)",
                     "log:       /runs/r/log.txt"):
        assert expected in lines
    assert lines[-1].startswith("note:") and "ssh: timed out" in lines[-1]


def test_optional_detail_keys_are_left_out_when_unknown() -> None:
    detail = run_detail_json(_record())
    assert "log" not in detail and "unreachable" not in detail
    assert detail["metrics"] == [] and detail["outputs"] == []


def test_target_json_masks_a_literal_password_and_keeps_paths() -> None:
    compute = ComputeTarget(name="gpu", type="remote", address="10.0.0.5:2222", username="me",
                            password="plain-pass", host_key_fingerprint="SHA256:abc",
                            python_location="/usr/bin/python3")
    data = target_json(compute)
    assert set(data) == set(TargetJson.__annotations__)
    assert data["name"] == "gpu" and data["address"] == "10.0.0.5:2222"
    assert data["settings"]["password"] == MASK
    assert data["settings"]["hostKeyFingerprint"] == "SHA256:abc"
    assert data["settings"]["pythonLocation"] == "/usr/bin/python3"
    assert "plain-pass" not in dumps(data)


def test_runconfig_json_masks_literal_secret_variables() -> None:
    config = RunConfiguration(name="train", target="local", framework="Python",
                              environment_variables={"DB_PASSWORD": "hunter2", "MODE": "fast"})
    data = runconfig_json(config)
    assert set(data) == set(RunConfigurationJson.__annotations__)
    assert data["arguments"] == ["$file"]
    assert data["environment"] == {"DB_PASSWORD": MASK, "MODE": "fast"}
    assert "hunter2" not in dumps(data)


def test_masking_goes_through_nested_lists_and_leaves_other_values() -> None:
    data = {"items": [{"secretKey": "s3cr3t", "count": 3}], "apiToken": "",
            "keyFile": "~/.ssh/id_rsa", "flag": True}
    assert mask_secrets(data) == {"items": [{"secretKey": MASK, "count": 3}], "apiToken": "",
                                  "keyFile": "~/.ssh/id_rsa", "flag": True}
    assert mask_environment(None) == {}


# -- imports stay light -----------------------------------------------------------------------
def test_rendering_imports_no_history_database_or_yaml() -> None:
    # Given a fresh interpreter, when the text renderer is imported
    code = ("import sys, aml_magic.frontends.render; "
            "print(sorted(m for m in ('sqlite3', 'yaml', 'dataclasses', 'aml_magic.domain.history') "
            "if m in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    # Then none of the heavier modules came with it
    assert out.stdout.strip() == "[]"


# -- the CLI speaks the schema (real local runs) -----------------------------------------------
def _aml(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"aml {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_cli_json_and_tables_come_from_the_schema_with_secrets_masked(project: Path) -> None:
    # Given a run configuration holding a literal secret, and a script that logs a metric
    rc = project / "aml_config" / "local.runconfig"
    text = rc.read_text()
    assert '"EXAMPLE_ENV_VAR": "Example Value"' in text
    rc.write_text(text.replace('"EXAMPLE_ENV_VAR": "Example Value"',
                               '"DB_PASSWORD": "hunter2-literal"\n  "MODE": "fast"'))
    (project / "train.py").write_text(
        "from azureml.logging import get_azureml_logger\n"
        "get_azureml_logger().log('acc', 0.5)\nprint('done')\n")
    # When it is submitted and waited for through the CLI, then listed and shown
    _aml("experiment", "submit", "-c", "local", "train.py", "--wait", cwd=project)
    listed = json.loads(_aml("run", "list", "-o", "json", cwd=project).stdout)
    shown_text = _aml("run", "show", listed[0]["run_id"], "-o", "json", cwd=project).stdout
    shown = json.loads(shown_text)
    targets = json.loads(_aml("computetarget", "list", "-o", "json", cwd=project).stdout)
    config_text = _aml("runconfiguration", "show", "-n", "local", "-o", "json", cwd=project).stdout
    table = _aml("run", "list", cwd=project).stdout
    # Then every object has its schema's keys
    assert [set(run) for run in listed] == [set(RunJson.__annotations__)]
    assert set(RunJson.__annotations__) <= set(shown) <= set(RunDetailJson.__annotations__)
    assert [set(t) for t in targets] == [set(TargetJson.__annotations__)] * 2
    assert set(json.loads(config_text)) == set(RunConfigurationJson.__annotations__)
    assert shown["status"] == "Completed" and shown["metrics"][0]["name"] == "acc"
    # And the secret appears in none of them, masked where it stood
    for text in (shown_text, config_text, json.dumps(listed)):
        assert "hunter2-literal" not in text
    assert shown["environment"] == {"DB_PASSWORD": MASK, "MODE": "fast"}
    # And the table is the one run listing, with the one duration format
    assert table.splitlines()[0].split() == ["RUN", "ID", "TARGET", "STATUS", "STARTED",
                                             "DURATION"]
    assert render.format_duration(shown["duration"]) in table.splitlines()[1]
