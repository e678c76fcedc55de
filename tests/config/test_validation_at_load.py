"""Configuration is validated completely before a run is recorded: a runconfig naming a missing
target, a missing or malformed conda file for a target that builds environments, a malformed
Spark file for a PySpark run -- each is one line naming the file, and no run is recorded."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._project import aml, write


def _no_runs(project: Path) -> None:
    assert json.loads(aml("run", "list", "-o", "json", cwd=project).stdout) == []


@pytest.mark.parametrize("change, needle", [
    (lambda p: (p / "aml_config" / "docker.runconfig").write_text(
        (p / "aml_config" / "docker.runconfig").read_text().replace(
            'Target: "docker"', "Target: nowhere")), "docker.runconfig: Target 'nowhere'"),
    (lambda p: (p / "aml_config" / "conda_dependencies.yml").unlink(),
     "CondaDependenciesFile"),
    (lambda p: (p / "aml_config" / "conda_dependencies.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip: {a: 1}\n"), "conda_dependencies.yml:"),
])
def test_bad_reference_is_one_line_before_anything_is_recorded(project: Path, change,
                                                                needle: str) -> None:
    write(project, "t.py", "print(1)\n")
    rc = (project / "aml_config" / "docker.runconfig").read_text()
    assert 'Target: "docker"' in rc
    change(project)
    proc = aml("experiment", "submit", "-c", "docker", "t.py", cwd=project, check=False)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr, proc.stderr
    _no_runs(project)


@pytest.mark.parametrize("name, text, needle", [
    ("vm.compute", "type: remote\naddress: 'a b c'\n", "vm.compute:2:"),
    ("vm.compute", "type: remote\naddress: host/path\n", "not a host name"),
    ("vm.runconfig", "Target: ../etc\n", "vm.runconfig:1:"),
    ("vm.runconfig", "Target: local\nEnvironmentVariables:\n  'A=B': x\n", "vm.runconfig:3:"),
])
def test_values_checked_at_load_name_file_and_line(tmp_path: Path, name: str, text: str,
                                                   needle: str) -> None:
    from aml_magic.domain.config import load_file
    from aml_magic.errors import ConfigError
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert str(path) in str(err.value) and needle in str(err.value)
