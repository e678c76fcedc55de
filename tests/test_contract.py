"""The contract between the Python side and its clients: the typed models
(``aml_magic/service/contract/models.py``), the committed JSON Schema generated from them, and
the Lab extension's TypeScript types generated from that schema. Each of the three drifting
from the others fails a test here; ``-o json`` of every listing is checked against its shape."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from aml_magic.service.contract import models
from aml_magic.service.contract.schema_file import SCHEMA_PATH, build_schema, schema_text
from aml_magic.service.contract.typed_json import shape_problem
from tests._contract import assert_cli_shape
from tests._project import aml, write
from tests._require import require, require_module

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labextension"
GENERATED_TS = LAB / "src" / "generated" / "api.ts"


# -- models -> schema -------------------------------------------------------------------------
def test_the_committed_schema_is_what_the_models_generate() -> None:
    # Given the models as they are, When the schema is generated, Then it is the committed file
    assert SCHEMA_PATH.read_text() == schema_text(), (
        f"{SCHEMA_PATH} is stale: run `python -m aml_magic.service.contract` and commit it")


def test_the_regenerate_command_finds_and_repairs_a_stale_schema(tmp_path: Path) -> None:
    # Given a schema file that differs from the models (a field gone)
    stale = tmp_path / "api.schema.json"
    document = build_schema()
    del document["$defs"]["RunJson"]["properties"]["status"]
    stale.write_text(json.dumps(document, indent=2) + "\n")
    command = [sys.executable, "-m", "aml_magic.service.contract", "--output", str(stale)]
    # When it is checked, Then the check fails, saying how to regenerate
    checked = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert checked.returncode == 1 and "python -m aml_magic.service.contract" in checked.stderr
    # When it is regenerated, Then it is the models' schema and the check passes
    subprocess.run(command, check=True, capture_output=True)
    assert stale.read_text() == SCHEMA_PATH.read_text()
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0


def test_the_schema_is_valid_and_declares_every_shape() -> None:
    jsonschema = require_module("jsonschema", "it comes with jupyter_server")
    document = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    defs = document["$defs"]
    assert {s.__name__ for s in models.SHAPES} | set(models.ALIASES) == set(defs)
    refs = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].removeprefix("#/$defs/"))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
    collect(defs)
    assert refs <= set(defs)
    assert document["x-api-version"] == models.API_VERSION


def test_run_statuses_in_the_contract_are_the_history_statuses() -> None:
    from aml_magic.domain.history.status import RunStatus
    assert typing.get_args(models.RunStatusName) == tuple(s.value for s in RunStatus)


def test_field_notes_become_descriptions() -> None:
    run = build_schema()["$defs"]["RunJson"]
    assert "sweep" in run["properties"]["parent_run_id"]["description"]
    assert run["properties"]["status"] == {"$ref": "#/$defs/RunStatus"}
    assert run["additionalProperties"] is False
    detail = build_schema()["$defs"]["RunDetailJson"]
    assert {"configuration", "metrics", "outputs", "run_id"} <= set(detail["required"])
    assert "log" not in detail["required"]


# -- request bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape, body, needle", [
    (models.SubmitRequest, {}, "needs 'run_configuration'"),
    (models.SubmitRequest, {"run_configuration": 5}, "'run_configuration' must be text"),
    (models.SubmitRequest, {"run_configuration": "a", "arguments": "x"}, "must be an array"),
    (models.SubmitRequest, {"run_configuration": "a", "arguments": [1]}, "'arguments'[0]"),
    (models.SubmitRequest, {"run_configuration": "a", "nope": 1}, "unknown key 'nope'"),
    (models.AttachRequest, {"type": "remote"}, "needs 'name'"),
    (models.AttachRequest, {"type": "remote", "name": "a", "use_key": "yes"}, "must be a boolean"),
    (models.AttachRequest, {"type": "remote", "name": "a", "port": [22]}, "'port' must be"),
    (models.PrepareRequest, {"target": None}, "'target' must be text, not null"),
    (models.EmptyRequest, {"x": 1}, "unknown key 'x'"),
])
def test_a_body_that_is_not_its_shape_says_what_is_wrong(shape: type, body: dict[str, Any],
                                                         needle: str) -> None:
    problem = shape_problem(shape, body, open_shapes=models.OPEN)
    assert problem is not None and needle in problem, problem


@pytest.mark.parametrize("shape, body", [
    (models.SubmitRequest, {"run_configuration": "a", "script": None, "arguments": ["1"]}),
    (models.AttachRequest, {"type": "cluster", "name": "a", "spark_master": "spark://h:7077",
                            "port": 22, "trust_new_host_key": True}),
    (models.PrepareRequest, {}),
    (models.EmptyRequest, {}),
])
def test_a_body_of_its_shape_passes(shape: type, body: dict[str, Any]) -> None:
    assert shape_problem(shape, body, open_shapes=models.OPEN) is None


# -- schema -> TypeScript ---------------------------------------------------------------------
def _node() -> str:
    node = shutil.which("node")
    require(node, "node is not installed (scripts/provision.sh installs it)")
    assert node is not None
    return node


def test_the_typescript_types_are_the_committed_schema_generated(tmp_path: Path) -> None:
    # Given the committed schema, When the build's generator writes the types afresh
    fresh = tmp_path / "api.ts"
    subprocess.run([_node(), str(LAB / "scripts" / "schema-to-ts.mjs"), str(SCHEMA_PATH),
                    str(fresh)], check=True, cwd=LAB)
    # Then they are the committed src/generated/api.ts, and every shape is declared there
    assert fresh.read_text() == GENERATED_TS.read_text(), (
        "labextension/src/generated/api.ts is stale: run `npm run build:types` in labextension/")
    text = fresh.read_text()
    for shape in models.SHAPES:
        assert f"export interface {shape.__name__} {{" in text
    assert f"export const API_VERSION = {models.API_VERSION};" in text


def test_a_schema_change_changes_the_generated_types(tmp_path: Path) -> None:
    # Given the schema with one more field in RunJson
    document = json.loads(SCHEMA_PATH.read_text())
    document["$defs"]["RunJson"]["properties"]["queue"] = {"type": ["string", "null"]}
    document["$defs"]["RunJson"]["required"].append("queue")
    changed = tmp_path / "api.schema.json"
    changed.write_text(json.dumps(document))
    # When the types are generated from it, Then they differ from the committed ones there
    out = tmp_path / "api.ts"
    subprocess.run([_node(), str(LAB / "scripts" / "schema-to-ts.mjs"), str(changed), str(out)],
                   check=True, cwd=LAB)
    assert "  queue: string | null;" in out.read_text()
    assert out.read_text() != GENERATED_TS.read_text()
    # And a construct the generator does not know is refused, not typed as `unknown`
    document["$defs"]["RunJson"]["properties"]["queue"] = {"oneOf": [{"type": "string"}]}
    changed.write_text(json.dumps(document))
    refused = subprocess.run([_node(), str(LAB / "scripts" / "schema-to-ts.mjs"), str(changed),
                              str(out)], capture_output=True, text=True, cwd=LAB)
    assert refused.returncode != 0 and "RunJson.queue" in refused.stderr


def test_the_lab_extension_compiles_against_the_generated_types(tmp_path: Path) -> None:
    # Given the extension's sources using the generated types (tokens.ts re-exports them)
    tsc = LAB / "node_modules" / "typescript" / "bin" / "tsc"
    require(tsc.is_file(), "labextension/node_modules is not installed (pip install -e . "
                           "or scripts/provision.sh builds the extension)")
    # When TypeScript checks the project, Then it compiles
    checked = subprocess.run([_node(), str(tsc), "--noEmit", "-p", str(LAB), "--tsBuildInfoFile",
                              str(tmp_path / "check.tsbuildinfo")],
                             capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_build_generates_the_types_before_compiling() -> None:
    scripts = json.loads((LAB / "package.json").read_text())["scripts"]
    assert scripts["build:types"] == "node scripts/schema-to-ts.mjs"
    steps = scripts["build:prod"].split(" && ")
    assert steps.index("npm run build:types") < steps.index("npm run build:lib")
    assert scripts["build"] == "npm run build:prod"


# -- -o json follows the contract -------------------------------------------------------------
def test_every_json_listing_of_the_cli_is_its_shape(project: Path) -> None:
    # Given a project with two ended runs, one logging metrics and writing an output
    write(project, "train.py", """
        import os, sys
        from azureml.logging import get_azureml_logger
        get_azureml_logger().log("accuracy", float(sys.argv[1]))
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("w")
    """)
    for value in ("0.5", "0.7"):
        aml("experiment", "submit", "-c", "local", "train.py", value, "--wait", cwd=project)
    newest = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)[0]["run_id"]

    def listing(*args: str) -> Any:
        return json.loads(aml(*args, "-o", "json", cwd=project).stdout)
    # When every listing is asked for as JSON, Then each is its shape of the contract
    shapes = {
        ("run", "list"): ("RunJson", True),
        ("run", "show", newest): ("RunDetailJson", False),
        ("history", "list"): ("HistoryRunJson", True),
        ("history", "info", "-r", newest): ("RunDetailJson", False),
        ("history", "last"): ("RunDetailJson", False),
        ("history", "compare", "--last", "2"): ("ComparisonJson", False),
        ("computetarget", "list"): ("TargetJson", True),
        ("computetarget", "show", "-n", "local"): ("TargetJson", False),
        ("runconfiguration", "list"): ("RunConfigurationJson", True),
        ("runconfiguration", "show", "-n", "local"): ("RunConfigurationJson", False),
        ("history", "prune", "--keep-last", "1"): ("PrunePlanJson", False),
    }
    for args, (shape, many) in shapes.items():
        data = listing(*args)
        for item in (data if many else [data]):
            assert_cli_shape(shape, item)
    history = listing("history", "list")
    assert history[0]["accuracy"] == 0.7 and history[0]["metrics"] == {"accuracy": 0.7}
