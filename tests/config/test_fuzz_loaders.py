"""Property-based fuzz of every ``aml_config/`` loader: whatever bytes or structure a file
holds, loading it either succeeds or raises ``ConfigError`` (one line naming the file), never
any other exception. 2,000 examples per loader and input shape; each example is one small
file, so the whole module takes seconds."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.config import load_compute, load_runconfig
from aml_magic.domain.config.compute import _KEYS as COMPUTE_KEYS
from aml_magic.domain.config.dependencies import load_conda, load_spark
from aml_magic.domain.config.runconfig import _KEYS as RUNCONFIG_KEYS
from aml_magic.errors import ConfigError
from tests._require import require_module

hypothesis = require_module("hypothesis", "pip install hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=2000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LOADERS: dict[str, tuple[str, Callable[[Path], Any], list[str]]] = {
    "compute": ("vm.compute", load_compute, list(COMPUTE_KEYS.values())),
    "runconfig": ("vm.runconfig", load_runconfig, list(RUNCONFIG_KEYS.values())),
    "conda": ("conda_dependencies.yml", load_conda,
              ["name", "channels", "dependencies", "pip", "python"]),
    "spark": ("spark_dependencies.yml", load_spark,
              ["configuration", "repositories", "packages", "group", "artifact", "version"]),
}

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.sampled_from(["local", "docker", "remote", "remotedocker", "cluster",
                                     "$file", "Python", "PySpark", "true", "~", "null", "0x1F",
                                     "1e999", "::1", "[::1]:22", "host:99999", "a:b:c", "-"]))


def _values(keys: list[str]) -> st.SearchStrategy[Any]:
    """A scalar, or one level of list or mapping of scalars (keys mostly the loader's own):
    nesting deeper than that exercises nothing the loaders treat differently."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                     st.dictionaries(key, SCALARS, max_size=3))


def _block_yaml(data: dict[str, Any]) -> str:
    """Block-style YAML (what real files look like), scalars written as JSON (valid YAML)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            lines.append(f"{json.dumps(key)}:")
            lines += [f"  - {json.dumps(item)}" for item in value]
        elif isinstance(value, dict) and value:
            lines.append(f"{json.dumps(key)}:")
            lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _documents(keys: list[str]) -> st.SearchStrategy[str]:
    """YAML/JSON documents whose top-level keys are mostly the loader's own."""
    mapping = st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)),
                              _values(keys), max_size=6)
    return st.one_of(mapping.map(_block_yaml), mapping.map(json.dumps),
                     _values(keys).map(json.dumps))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _load(scratch: Path, kind: str, data: bytes) -> None:
    name, loader, _keys = LOADERS[kind]
    path = scratch / name
    path.write_bytes(data)
    try:
        loader(path)
    except ConfigError as err:
        message = str(err)
        assert str(path) in message, message          # the error names the file
        assert "\n" not in message.strip() or message.count("\n") < 3
    finally:
        os.unlink(path)


_ALPHABET = st.sampled_from(list("ab: -\n\t\"'{}[],#&*!|>%@`?~\\=01.$"))


def _inputs(kind: str) -> st.SearchStrategy[bytes]:
    """Raw bytes, YAML-ish punctuation soup, and well-formed documents with the loader's keys
    and values of every type, in one stream."""
    return st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=_ALPHABET, max_size=120).map(str.encode),
        _documents(LOADERS[kind][2]).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_fuzz_loader_raises_only_config_error(kind: str, scratch: Path) -> None:
    tried = []

    @FUZZ
    @given(_inputs(kind))
    def check(data: bytes) -> None:
        tried.append(len(data))
        _load(scratch, kind, data)
    check()
    assert len(tried) >= 2000          # hypothesis ran the full budget, not a short search
