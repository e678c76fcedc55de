"""The committed JSON Schema of the contract (``api.schema.json`` beside this module): built
from ``models``, written by ``python -m aml_magic.service.contract``, compared by
``--check`` and by the drift test. The Lab's TypeScript types are generated from the file."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aml_magic.service.contract import models
from aml_magic.service.contract.typed_json import SchemaWriter, inherited_notes

SCHEMA_PATH = Path(__file__).with_name("api.schema.json")
TITLE = "aml_magic API"
DESCRIPTION = ("Every JSON object aml_magic shows or accepts: REST requests and answers under "
               "/aml/api/ and `aml ... -o json`. Generated from "
               "aml_magic/service/contract/models.py by `python -m aml_magic.service.contract`; "
               "do not edit by hand.")


def build_schema() -> dict[str, Any]:
    """The schema document the models describe today."""
    notes = inherited_notes(models)
    names = {id(value): name for name, value in vars(models).items()}
    alias_notes = {alias: notes[""].get(names.get(id(value), ""), "")
                   for alias, value in models.ALIASES.items()}
    notes[""] = {k: v for k, v in alias_notes.items() if v}
    writer = SchemaWriter(models.SHAPES, aliases=models.ALIASES, open_shapes=models.OPEN,
                          notes=notes)
    document = writer.document(title=TITLE, description=DESCRIPTION)
    defs = document.pop("$defs")
    return {**document, "x-api-version": models.API_VERSION, "$defs": defs}


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aml_magic.service.contract",
        description=f"write {SCHEMA_PATH.name} from the typed models (the API contract)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the committed file differs")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH,
                        help=f"where to write it (default: {SCHEMA_PATH})")
    args = parser.parse_args(argv)
    text = schema_text()
    current = args.output.read_text() if args.output.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.output} differs from what aml_magic/service/contract/models.py "
                  "says: run `python -m aml_magic.service.contract` and commit it",
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text)
        print(f"wrote {args.output}")
    return 0
