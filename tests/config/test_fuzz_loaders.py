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

from aml_magic.config import load_compute, load_runconfig
from aml_magic.config.compute import _KEYS as COMPUTE_KEYS
from aml_magic.config.dependencies import load_conda, load_spark
from aml_magic.config.runconfig import _KEYS as RUNCONFIG_KEYS
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
    key = st.one_of(st.sampled_from(keys), st.text(max_size=12))
    return st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=4)), max_leaves=12)


def _documents(keys: list[str]) -> st.SearchStrategy[str]:
    """YAML/JSON documents whose top-level keys are mostly the loader's own."""
    mapping = st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=12)),
                              _values(keys), max_size=8)
    return st.one_of(
        mapping.map(lambda d: json.dumps(d, default=str)),
        mapping.map(_as_yaml),
        _values(keys).map(lambda v: json.dumps(v, default=str)),
    )


def _as_yaml(data: dict[Any, Any]) -> str:
    import yaml
    try:
        return str(yaml.safe_dump(data, allow_unicode=True))
    except Exception:           # keys/values yaml cannot represent: fall back to JSON
        return json.dumps(data, default=str)


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
    @FUZZ
    @given(_inputs(kind))
    def check(data: bytes) -> None:
        _load(scratch, kind, data)
    check()
