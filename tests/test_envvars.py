"""A run's environment variables have one shape (name -> text) and one function per use:
read from any source, resolved for the launch, masked the same way in history and on every
front end."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.domain.config import RunConfiguration
from aml_magic.domain.envvars import environment_variables, masked_environment, resolve_env
from aml_magic.domain.history.mirror import read_record, write_record
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.secrets import MASK, SecretStore
from aml_magic.service.schema import mask_environment, runconfig_json


def test_every_source_gives_the_same_shape() -> None:
    # Given variables as YAML, a run record or a configuration snapshot may hold them
    raw = {"ALPHA": 0.5, "DEBUG": True, "EMPTY": None, "NAME": "x"}
    # Then they read as text, the way the run's process sees them
    assert environment_variables(raw) == {"ALPHA": "0.5", "DEBUG": "true", "EMPTY": "",
                                          "NAME": "x"}
    assert environment_variables(None) == {}
    # And what cannot be a variable is named
    with pytest.raises(ValueError, match="'A=B' cannot be"):
        environment_variables({"A=B": "1"})
    with pytest.raises(ValueError, match="'LIST' must be text, not list"):
        environment_variables({"LIST": [1, 2]})
    with pytest.raises(ValueError, match="must be a mapping"):
        environment_variables(["A"])


def test_history_and_display_mask_with_one_rule(tmp_path: Path) -> None:
    # Given a run configuration with a literal secret, one reused inside another value, a
    # reference, a URL with a password and a path whose name contains KEY
    store = SecretStore(tmp_path / "secrets")
    ref = store.put("env", "API_TOKEN", "tok-from-store")
    declared = {"DB_PASSWORD": "hunter22", "CONN": "user=app pass=hunter22", "API_TOKEN": ref,
                "URL": "postgres://app:pw123@db/x", "MODEL_KEY_PATH": "/k", "N": "1"}
    rc = RunConfiguration(name="local", target="local", environment_variables=declared)
    # When submit keeps them in history (with the resolved values known) and a front end
    # shows the run configuration
    _resolved, masker = resolve_env(declared, store)
    kept = masked_environment(declared, masker)
    shown = runconfig_json(rc)["environment"]
    # Then both are the same text, no secret value in either
    expected = {"DB_PASSWORD": MASK, "CONN": f"user=app pass={MASK}", "API_TOKEN": ref,
                "URL": f"postgres://app:{MASK}@db/x", "MODEL_KEY_PATH": MASK, "N": "1"}
    assert kept == shown == expected
    # And showing what history kept changes nothing
    assert mask_environment(kept) == kept


def test_a_record_json_environment_is_validated(tmp_path: Path) -> None:
    # Given a run folder whose record.json the run rewrote with a non-text variable
    folder = tmp_path / "proj_1700000000000_abcd"
    folder.mkdir()
    write_record(folder, RunRecord(run_id=folder.name, project="proj",
                                   environment={"N": "1"}))
    assert read_record(folder) is not None
    text = (folder / "record.json").read_text().replace('{"N":"1"}', '{"N":["x"]}')
    (folder / "record.json").write_text(text)
    # When it is read back, Then the record is refused (repair rebuilds it as Failed)
    assert read_record(folder) is None
