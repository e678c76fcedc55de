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
