"""Checking JSON a test received against its shape in the committed API schema
(``aml_magic/service/contract/api.schema.json``), with the ``jsonschema`` library."""
from __future__ import annotations

import functools
import json
from typing import Any

from aml_magic.service.contract.schema_file import SCHEMA_PATH
from tests._require import require_module


@functools.cache
def validator(shape: str) -> Any:
    """A validator for one ``$defs`` entry of the committed schema."""
    jsonschema = require_module("jsonschema", "it comes with jupyter_server")
    document = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{shape}",
                                            "$defs": document["$defs"]})


def assert_shape(shape: str, value: Any) -> None:
    """Fail naming the first differences when VALUE is not a SHAPE."""
    errors = sorted(validator(shape).iter_errors(value), key=str)
    assert not errors, f"not a {shape}: " + "; ".join(
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def assert_cli_shape(shape: str, value: Any) -> None:
    """``aml ... -o json`` is the SHAPE with its times as ISO-8601 text (``cli/output.py``):
    fail unless every time field is such text, then check the shape with the seconds the
    REST API gives."""
    from aml_magic.frontends.cli.output import iso_times
    seconds = _seconds(value)
    assert iso_times(seconds) == value, f"{shape}: times not ISO-8601 in {value!r:.300}"
    assert_shape(shape, seconds)


def _seconds(data: Any) -> Any:
    """The inverse of ``iso_times``: ISO-8601 time fields back to seconds since the epoch."""
    from datetime import datetime

    from aml_magic.frontends.cli.output import TIME_FIELDS, USER_MAPS
    if isinstance(data, list):
        return [_seconds(item) for item in data]
    if not isinstance(data, dict):
        return data
    is_metric = {"name", "value", "step", "time"} <= data.keys()
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str) and (key in TIME_FIELDS or (is_metric and key == "time")):
            out[key] = datetime.fromisoformat(value).timestamp()
        elif key in USER_MAPS and isinstance(value, dict):
            out[key] = value
        else:
            out[key] = _seconds(value)
    return out
