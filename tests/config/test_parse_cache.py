"""The parse cache of ``aml_config/`` files: a command reading unchanged files does not import
PyYAML, and a cached tree gives exactly what parsing gives (values, positions, errors)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aml_magic.domain.config import _parse, _parse_cache, load_compute, load_file
from aml_magic.errors import ConfigError

from .test_malformed import CASES

RUNCONFIG = ("Target: local\nArgumentVector:\n  - $file\n  - '0.5'\nEnvironmentVariables:\n"
             "  A: 1.10\n  B: yes\nFramework: Python\n")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A project's ``aml_config/`` whose state folder ``.aml/`` exists (its files are cached,
    in the user's cache folder)."""
    (tmp_path / ".aml").mkdir()
    folder = tmp_path / "aml_config"
    folder.mkdir()
    _parse_cache._loaded.clear()
    return folder


def test_cached_tree_equals_the_parsed_one(config_dir: Path) -> None:
    # Given a run configuration parsed once (which fills the cache)
    path = config_dir / "train.runconfig"
    path.write_text(RUNCONFIG)
    parsed = _parse.parse_file(path)
    cache = _parse_cache.cache_file_for(path)
    assert cache is not None and cache.is_file()
    # When it is read again by a process that has not seen it
    _parse_cache._loaded.clear()
    cached = _parse_cache.lookup(path, path.read_text())
    # Then the tree is the same, positions and raw scalar text included
    assert cached is not None and cached == parsed
    assert cached.entries is not None
    env = cached.entries["EnvironmentVariables"].node.entries
    assert env is not None and env["A"].node.raw == "1.10"


def test_an_edit_is_seen_even_with_the_same_size_and_time(config_dir: Path) -> None:
    # Given a cached file
    path = config_dir / "local.compute"
    path.write_text("type: local\npythonLocation: /usr/bin/python3\n")
    assert load_compute(path).python_location == "/usr/bin/python3"
    stat = path.stat()
    # When it is edited to text of the same length and its timestamps are put back
    path.write_text("type: local\npythonLocation: /opt/bin/python3\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # Then the new value is read
    assert load_compute(path).python_location == "/opt/bin/python3"


@pytest.mark.parametrize("name, content, line, column, words", CASES,
                         ids=[case[0] for case in CASES])
def test_errors_are_the_same_with_the_cache(config_dir: Path, name: str, content: str | bytes,
                                            line: int | None, column: int | None,
                                            words: str) -> None:
    # Given a broken file in a project with a cache, loaded twice
    path = config_dir / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for _ in range(2):
        # Then both times the error points at the same place with the same words
        with pytest.raises(ConfigError) as caught:
            load_file(path)
        assert (caught.value.line, caught.value.column) == (line, column)
        assert words in str(caught.value)


def test_values_json_cannot_hold_are_parsed_every_time(config_dir: Path) -> None:
    # Given a file with a YAML date (not a JSON value)
    path = config_dir / "conda_dependencies.yml"
    path.write_text("name: when\ncreated: 2017-09-01\ndependencies:\n  - python=3.6\n")
    tree = _parse.parse_file(path)
    # Then it is parsed correctly and not cached
    assert tree is not None and str(tree.value["created"]) == "2017-09-01"
    assert _parse_cache.lookup(path, path.read_text()) is None


def test_files_outside_a_project_state_folder_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "aml_config" / "x.compute"
    path.parent.mkdir()
    path.write_text("type: local\n")
    assert load_compute(path).type == "local"
    assert not (tmp_path / ".aml").exists()


def test_reading_an_unchanged_project_does_not_import_yaml(config_dir: Path) -> None:
    # Given a project whose files were read once
    (config_dir / "local.compute").write_text("type: local\n")
    (config_dir / "local.runconfig").write_text(RUNCONFIG)
    code = ("import sys; from aml_magic.domain.config import ProjectConfig; "
            f"c = ProjectConfig({str(config_dir.parent)!r}); "
            "print(c.runconfig('local').target, c.compute('local').type, 'yaml' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=root)
    # When a new process reads them again
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=root)
    # Then the first parsed them with PyYAML, the second did not need it
    assert first.stdout.split() == ["local", "local", "True"]
    assert second.stdout.split() == ["local", "local", "False"]


def test_a_file_with_a_literal_secret_is_not_copied_into_the_cache(config_dir: Path) -> None:
    # Given a Workbench-style run configuration with a literal password, and one with a reference
    literal = config_dir / "literal.runconfig"
    literal.write_text("Target: local\nEnvironmentVariables:\n  DB_PASSWORD: hunter2-literal\n")
    referenced = config_dir / "ref.runconfig"
    referenced.write_text("Target: local\nEnvironmentVariables:\n"
                          "  DB_PASSWORD: aml-secret:env/db-password-0123456789abcdef\n")
    # When both are read
    _parse.parse_file(literal)
    _parse.parse_file(referenced)
    # Then only the one without a literal secret is cached, and the secret is in no cache file
    assert _parse_cache.lookup(literal, literal.read_text()) is None
    assert _parse_cache.lookup(referenced, referenced.read_text()) is not None
    cache = _parse_cache.cache_file_for(referenced)
    assert cache is not None
    for path in [*(config_dir.parent / ".aml").rglob("*"), *cache.parent.rglob("*")]:
        if path.is_file():
            assert b"hunter2-literal" not in path.read_bytes()
