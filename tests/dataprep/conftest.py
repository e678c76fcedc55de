"""The ``azureml.dataprep`` stand-in, imported from the agent's compat folder as a run (and the
kernel, after ``%load_ext aml_magic``) imports it."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from aml_magic.agent import AGENT_DIR

COMPAT = str(AGENT_DIR / "compat")


@pytest.fixture(scope="session")
def dprep() -> Any:
    """The ``azureml.dataprep`` module of the compat folder."""
    if COMPAT not in sys.path:
        sys.path.append(COMPAT)
    import azureml.dataprep
    assert azureml.dataprep.__file__.startswith(COMPAT)
    return azureml.dataprep


def block(kind: str, **arguments: Any) -> dict[str, Any]:
    prefix = "" if kind == "TwoWayJoin" else "Microsoft.DPrep."
    return {"id": kind, "type": prefix + kind, "arguments": arguments}


def write_package(path: Path, *flows: list[dict[str, Any]], names: list[str] | None = None,
                  ids: list[str] | None = None) -> Path:
    """A Workbench-shaped package: one activity per list of blocks, with an inspector each."""
    activities = []
    for number, blocks in enumerate(flows):
        activities.append({
            "id": (ids or [])[number] if ids else f"flow-{number}",
            "name": (names or [])[number] if names else f"flow{number}",
            "blocks": blocks,
            "inspectors": [{"id": "i", "type": "Microsoft.DPrep.DataQualityInspector",
                            "arguments": {}, "reference": None, "isBackground": True}]})
    path.write_text(json.dumps({"schemaVersion": 39, "id": "p", "activities": activities,
                                "runConfigurations": []}))
    return path


def source(path: str, headers: int = 1, separator: str = ",") -> list[dict[str, Any]]:
    """DataSourceBlock + ParseDelimitedBlock on a local file."""
    return [block("DataSourceBlock", path={"target": 0, "resourceDetails": [{"path": path}]}),
            block("ParseDelimitedBlock", preview=False, columnHeadersMode=headers,
                  separator=separator, fileEncoding=0, skipRowsMode=0,
                  handleQuotedLineBreaks=False)]
