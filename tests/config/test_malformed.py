"""A file that cannot be used gives one ConfigError naming file:line:column and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aml_magic.domain.config import load_compute, load_file
from aml_magic.domain.config import _parse
from aml_magic.errors import AmlError, ConfigError

CASES = [
    # (file name, content, line, column, words the message must contain)
    ("argv.runconfig", "Target: local\nArgumentVector: 5\n", 2, 17, "must be a list"),
    ("shared.compute", 'type: docker\nsharedVolumes: "maybe"\n', 2, 16, "true or false"),
    ("notarget.runconfig", "# c\nArgumentVector:\n  - $file\n", None, None, "'Target' is missing"),
    ("emptytarget.runconfig", "Framework: Python\nTarget:\n", 2, 1, "'Target' is empty"),
    ("list.runconfig", "- Target: local\n", 1, 1, "must be a mapping"),
    ("kind.compute", "# a target\ntype: foo\n", 2, 7, "'type: foo' is not supported"),
    ("notype.compute", "address: h\nusername: u\n", None, None, "'type' is missing"),
    ("quote.compute", 'type: docker\nbaseDockerImage: "abc\n', 3, 1, "quote"),
    ("tabindent.compute", "type: docker\n\tsharedVolumes: true\n", 2, 1, "TAB"),
    ("json.runconfig", '{\n  "Target": "local",\n  "ArgumentVector": ["$file"\n}\n', 4, 1,
     "bracket"),
    ("port.compute", "type: remote\naddress: h\nport: 99999\n", 3, 7, "from 1 to 65535"),
    ("twice.runconfig", "Target: local\nTarget: docker\n", 2, 1, "appears twice"),
    ("env.runconfig", "Target: local\nEnvironmentVariables: [a, b]\n", 2, 23, "must be a mapping"),
    ("framework.runconfig", "Target: local\nFramework: R\n", 2, 12, "Python, PySpark"),
    ("conda_dependencies.yml", "name: x\ndependencies:\n  - python=3.6\n  - foo: [a]\n", 4, 5,
     "pip list"),
    ("spark_dependencies.yml", "packages:\n  - group: g\n    artifact: a\n", 2, 5,
     "'version' is missing"),
    ("colon.compute", "type: docker\nbaseDockerImage: a: b\n", 2, 19, "quote"),
    ("empty.compute", "# nothing here\n", 1, 1, "empty"),
    ("item.runconfig", "Target: t\nArgumentVector:\n  - $file\n  - [1, 2]\n", 4, 5,
     "text or a number"),
    ("latin1.compute", b"type: docker\nbaseDockerImage: caf\xe9\n", 2, 21, "UTF-8"),
    # after a byte order mark (Notepad's "UTF-8"), columns count what an editor shows
    ("bomlatin1.compute", b"\xef\xbb\xbftype: caf\xe9\n", 1, 10, "UTF-8"),
    ("docs.runconfig", "---\nTarget: a\n---\nTarget: b\n", 3, 1, "keep one"),
    ("yarn.compute", "type: cluster\r\nyarnDeployMode: yes\r\n", 2, 17, "client, cluster"),
    ("conda2_dependencies.yml", "dependencies: numpy\n", 1, 15, "must be a list"),
    ("pyobj.compute", "type: !!python/object:os.system docker\n", 1, 7, "cannot parse"),
]


@pytest.mark.parametrize("name, content, line, column, words", CASES,
                         ids=[case[0] for case in CASES])
def test_malformed_file_gives_located_config_error(tmp_path: Path, name: str, content,
                                                   line: int | None, column: int | None,
                                                   words: str) -> None:
    # Given a broken file
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    # When it is loaded, Then one ConfigError points at the spot and says what is wrong
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    err = caught.value
    assert (err.path, err.line, err.column) == (str(path), line, column)
    where = f"{path}:{line}:{column}: " if line else f"{path}: "
    assert str(err).startswith(where)
    assert words in str(err)
    assert isinstance(err, AmlError)


@pytest.mark.parametrize("name, content, line, column, words",
                         [case for case in CASES if case[0] in
                          ("tabindent.compute", "quote.compute", "json.runconfig", "colon.compute",
                           "docs.runconfig")])
def test_pure_python_parser_reports_the_same_place(tmp_path: Path, monkeypatch, name: str,
                                                   content: str, line: int, column: int,
                                                   words: str) -> None:
    # Given the pure-Python parser instead of libyaml
    monkeypatch.setattr(_parse, "DEFAULT_LOADER", yaml.SafeLoader)
    path = tmp_path / name
    path.write_text(content)
    # Then syntax errors point at the same line
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    assert caught.value.line == line


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_file(tmp_path / "nope.compute")


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    # Given a file saved with a UTF-8 byte order mark
    path = tmp_path / "bom.compute"
    path.write_bytes(b"\xef\xbb\xbftype: docker\nbaseDockerImage: img:1\n")
    # When it is loaded, Then its first key is read as written
    target = load_compute(path)
    assert (target.type, target.base_docker_image, target.warnings) == ("docker", "img:1", [])
