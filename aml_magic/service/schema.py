"""The builders of every object a front end shows: runs, metrics, outputs, compute targets and
run configurations. ``aml ... -o json``, the widgets and the REST API all build their JSON here,
so one object has one shape and secret values are masked in every one of them. The shapes
themselves are declared once in ``aml_magic.service.contract.models``.

Builders take the history and configuration objects (``RunRecord``, ``Metric``, ``Artifact``,
``ComputeTarget``, ``RunConfiguration``) by their attributes and return plain ``dict``s typed as
those ``TypedDict``s, ready for ``json.dumps``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from aml_magic.domain.config import compute_to_mapping, runconfig_to_mapping
from aml_magic.domain.config.runconfig import argument_text
from aml_magic.domain.secrets import mask_tree, mask_url_passwords, mask_value
from aml_magic.domain.envvars import EnvironmentVariables, masked_environment

TYPE_CHECKING = False
if TYPE_CHECKING:    # the shapes are for the type checker: the CLI's start-up need not build them
    from typing import Any

    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.domain.history.records import Artifact, Metric, RunRecord
    from aml_magic.service.contract.models import (
        HistoryRunJson, MetricJson, OutputJson, RunConfigurationJson, RunDetailJson, RunJson,
        TargetJson
    )


def _unchecked(value: object) -> Any:
    """VALUE as the shape the caller declares (``typing.cast`` without importing ``typing``,
    ~3 ms of a CLI listing's start-up): a literal or a mapping the type checker cannot
    follow."""
    return value


# -- secrets ----------------------------------------------------------------------------------
def mask_environment(environment: Mapping[str, Any] | None) -> EnvironmentVariables:
    """Environment variables as shown (``envvars.masked_environment``: one rule for history
    and display). History already keeps only ``******`` for secret-looking names; masking
    again covers records written by older versions and run configurations holding a literal
    value."""
    return masked_environment(environment)


def mask_secrets(data: Any, *, name: str = "") -> Any:
    """A deep copy of JSON-like ``data`` with every secret-looking key's text value masked
    (``EnvironmentVariables`` inside a configuration snapshot included)."""
    return mask_tree(data, name=name)


# -- builders ---------------------------------------------------------------------------------
def metric_json(metric: Metric) -> MetricJson:
    return {"name": metric.name, "value": metric.value, "step": metric.step,
            "time": metric.time}


def output_json(artifact: Artifact) -> OutputJson:
    return {"path": artifact.path, "size": int(artifact.size), "sha256": artifact.sha256}


def run_json(record: RunRecord) -> RunJson:
    status = record.status
    return {
        "run_id": record.run_id,
        "project": record.project,
        "run_configuration": record.run_configuration,
        "target": record.target,
        "target_type": record.target_type,
        "status": _unchecked(str(getattr(status, "value", status))),
        "created_at": record.created_at,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration": record.duration,
        "exit_code": record.exit_code,
        "reason": record.reason,
        "command": [str(item) for item in record.command],
        "script": record.script,
        "environment": mask_environment(record.environment),
        "snapshot_digest": record.snapshot_digest,
        "environment_hash": record.environment_hash,
        "git_commit": record.git_commit,
        "git_dirty": record.git_dirty,
        "kind": _unchecked(record.kind),
        "parent_run_id": record.parent_run_id,
    }


def run_detail_json(record: RunRecord, *, metrics: Iterable[Metric] = (),
                    outputs: Iterable[Artifact] = (), log: str | None = None,
                    unreachable: str | None = None, orphaned: str | None = None,
                    environment_log: str | None = None) -> RunDetailJson:
    detail: RunDetailJson = {**run_json(record),
                             "configuration": _unchecked(mask_secrets(record.config_snapshot)),
                             "metrics": [metric_json(m) for m in metrics],
                             "outputs": [output_json(a) for a in outputs]}
    if log is not None:
        detail["log"] = log
    if environment_log is not None:         # the environment build the submit triggered
        detail["environment_log"] = environment_log
    python = interpreter_text(record.provenance) or record.target_state.python
    if python:                              # the interpreter the run used (path and version)
        detail["python"] = python
    if record.provenance:
        detail["provenance"] = _unchecked(dict(record.provenance))
    hint = record.provenance.get("hint")
    if isinstance(hint, str):               # a Workbench module the run lacked (hints.py)
        detail["hint"] = hint
    state = record.target_state             # read from the driver's log (cluster, PySpark)
    if state.spark_app_id and len(state.spark_app_id) < 300:
        detail["spark_app_id"] = state.spark_app_id
    if state.spark_ui and len(state.spark_ui) < 300:
        detail["spark_ui"] = state.spark_ui
    if state.slurm_job_id and len(state.slurm_job_id) < 40:   # sbatch launch (slurm)
        where = [f"{k} {v[:100]}" for k, v in (("partition", state.slurm_partition),
                                                ("node", state.slurm_node)) if v]
        detail["slurm_job"] = state.slurm_job_id + (f" ({', '.join(where)})" if where else "")
    if unreachable:
        detail["unreachable"] = unreachable
    if orphaned:                            # its target is gone: nothing connects for it
        detail["orphaned"] = orphaned
    reduced = isolation_summary(record.config_snapshot.get("isolation"))
    if reduced:                             # options weakening its container, user-allowed
        detail["isolation"] = reduced
    return detail


def isolation_summary(isolation: Any) -> str | None:
    """``reduced: networkMode: host, capabilities: ALL (allowed by FILE)`` from a run record's
    ``config_snapshot["isolation"]`` (``domain/isolation.permit``); None when the run kept full
    isolation. Here, not in ``domain/isolation``, so that listing runs does not load that."""
    if not isinstance(isolation, dict) or not isinstance(isolation.get("reduced"), list):
        return None
    items = [f"{r.get('option')}: {r.get('value')}" for r in isolation["reduced"]
             if isinstance(r, dict)]
    if not items:
        return None
    by = isolation.get("allowed_by")
    return "reduced: " + ", ".join(items) + (f" (allowed by {by})" if isinstance(by, str) else "")


def interpreter_text(provenance: Mapping[str, Any]) -> str | None:
    """``/envs/e/bin/python -> /usr/bin/python3.11 (Python 3.11.2)`` from a run's provenance
    (the path it was started by, then the resolved one when they differ); None without one."""
    resolved, version = provenance.get("python"), provenance.get("python_version")
    if not (isinstance(resolved, str) and isinstance(version, str)):
        return None
    started = provenance.get("python_executable")
    text = f"{started} -> {resolved}" if isinstance(started, str) else resolved
    return f"{text} (Python {version})"


def history_run_json(record: RunRecord, metrics: Mapping[str, Any]) -> HistoryRunJson:
    """A run as ``aml history list`` gives it: the ``RunJson`` fields, ``arguments`` (the
    script's), ``metrics`` (last value of each series) and, as Workbench's JSON had them, each
    metric also as a top-level key (unless it names a field) so that ``--query "[?Accuracy >
    `0.9`]"`` works unchanged. Built as a plain dict: metric names are the user's."""
    row: dict[str, Any] = dict(run_json(record))
    row["arguments"] = [str(item) for item in record.command[1:]]
    row["metrics"] = {name: mask_value(name, value) for name, value in metrics.items()}
    for name, value in row["metrics"].items():
        row.setdefault(name, value)
    return _unchecked(row)


def target_json(compute: ComputeTarget) -> TargetJson:
    """Masked as ``compute_to_mapping`` says: by the registry's ``secret`` flag for its keys,
    by name for keys it does not know."""
    settings = {key: mask_url_passwords(value) if isinstance(value, str) else value
                for key, value in compute_to_mapping(compute).items() if key != "name"}
    return {"name": compute.name, "type": compute.type, "address": compute.address,
            "username": compute.username, "settings": settings}


def runconfig_json(config: RunConfiguration) -> RunConfigurationJson:
    settings = runconfig_to_mapping(config)
    settings.pop("name", None)
    return {"name": config.name, "target": config.target, "framework": config.framework,
            "arguments": [argument_text(a) for a in (config.argument_vector or [])],
            "environment": mask_environment(config.environment_variables),
            "settings": mask_secrets(settings)}


def dumps(data: Any) -> str:
    """The one JSON text form: indented, keys in the schema's order, non-ASCII kept but for
    the characters a terminal would act on (C1 controls, DEL, bidirectional overrides), which
    are ``\\uNNNN`` escapes like the C0 ones (they occur only inside strings)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
