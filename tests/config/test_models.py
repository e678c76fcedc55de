"""Models, defaults, unknown keys, writers and the tab pre-pass."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from aml_magic.domain.config import (
    ComputeTarget, CondaDependencies, MavenPackage, RunConfiguration, SparkDependencies, load_compute,
    load_conda, load_runconfig, load_spark, write_compute, write_conda, write_runconfig, write_spark
)
from aml_magic.domain.config import _emit, _parse
from aml_magic.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# runconfig defaults and arguments ---------------------------------------------------------------
def test_runconfig_defaults_follow_formats(tmp_path: Path) -> None:
    # Given a run configuration with only a Target and null file references
    config = load_runconfig(write(tmp_path / "x.runconfig",
                                  "Target: local\nCondaDependenciesFile: null\n"
                                  "SparkDependenciesFile:\nEnvironmentVariables:\n"))
    # Then every other setting has its FORMATS.md default
    assert config.name == "x"
    assert config.argument_vector == ["$file"]
    assert config.framework == "PySpark"
    assert config.prepare_environment is False and config.tracked_run is True
    assert config.conda_dependencies_file == "aml_config/conda_dependencies.yml"
    assert config.spark_dependencies_file == "aml_config/spark_dependencies.yml"
    assert config.environment_variables is None
    assert config.warnings == [] and config.extra == {}


def test_resolve_arguments_substitutes_file_and_appends(tmp_path: Path) -> None:
    config = load_runconfig(write(tmp_path / "x.runconfig",
                                  "Target: local\nArgumentVector: [$file, --alpha, 0.5, 3]\n"))
    assert config.argument_vector == ["$file", "--alpha", 0.5, 3]      # numbers stay numbers
    assert config.resolve_arguments("train.py", ["7"]) == ["train.py", "--alpha", "0.5", "3", "7"]


def test_resolve_arguments_without_token_or_script() -> None:
    fixed = RunConfiguration(name="f", target="local", argument_vector=["score.py", "--x"])
    assert fixed.resolve_arguments(None, ["1"]) == ["score.py", "--x", "1"]
    assert fixed.resolve_arguments("other.py", []) == ["other.py"]
    with pytest.raises(ConfigError, match="no script was named"):
        RunConfiguration(name="d", target="local").resolve_arguments(None, [])


def test_environment_values_become_text(tmp_path: Path) -> None:
    config = load_runconfig(write(tmp_path / "x.runconfig", "Target: t\nEnvironmentVariables:\n"
                                  "  PORT: 8080\n  DEBUG: true\n  EMPTY:\n  RATE: 1.10\n"))
    assert config.environment_variables == {"PORT": "8080", "DEBUG": "true", "EMPTY": "",
                                            "RATE": "1.10"}


def test_framework_is_case_insensitive(tmp_path: Path) -> None:
    config = load_runconfig(write(tmp_path / "x.runconfig", "Target: t\nFramework: pyspark\n"))
    assert config.framework == "PySpark"


# compute ---------------------------------------------------------------------------------------
def test_address_with_port(tmp_path: Path) -> None:
    target = load_compute(write(tmp_path / "vm.compute",
                                "type: remote\naddress: vm.example.org:2222\nusername: me\n"))
    assert (target.host, target.port) == ("vm.example.org", 2222)
    write_compute(target)
    assert "port:" not in (tmp_path / "vm.compute").read_text()     # not written twice
    assert load_compute(tmp_path / "vm.compute") == target


def test_aml_magic_keys(tmp_path: Path) -> None:
    target = load_compute(write(tmp_path / "vm.compute",
                                "type: remotedocker\naddress: 10.0.0.5\nport: 22\n"
                                "hostKeyFingerprint: SHA256:abc\nsshKey: aml-secret:k1\n"
                                "remoteBaseDirectory: /srv/aml\n"))
    assert (target.port, target.host_key_fingerprint, target.key_reference,
            target.remote_base_dir) == (22, "SHA256:abc", "aml-secret:k1", "/srv/aml")
    assert target.is_docker and target.is_remote
    assert target.warnings == []


def test_unknown_keys_warn_and_survive_a_rewrite_in_order(tmp_path: Path) -> None:
    # Given a compute file with unknown keys between known ones
    path = write(tmp_path / "d.compute", "baseDockerImage: img\nfancyNew: {a: 1}\n"
                                         "type: localdocker\nTpye: typo\n")
    target = load_compute(path)
    # Then each unknown key is reported with its line, and kept
    assert target.extra == {"fancyNew": {"a": 1}, "Tpye": "typo"}
    assert any(":2: unknown key 'fancyNew'" in w for w in target.warnings)
    assert any("did you mean 'type'" in w for w in target.warnings)
    # When it is changed and rewritten, Then the keys keep their places
    target.shared_volumes = True
    write_compute(target)
    text = path.read_text()
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == ["baseDockerImage", "fancyNew", "type", "Tpye", "sharedVolumes"]
    assert 'type: "docker"' in text
    assert load_compute(path) == target


def test_ignored_data_source_keys_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "r.runconfig", "Target: t\nUseSampling: true\n"
                                           "DataSourceSubstitutions:\n  a.dsource: b.dsource\n")
    config = load_runconfig(path)
    assert config.ignored_keys == ["UseSampling", "DataSourceSubstitutions"]
    assert len(config.warnings) == 1 and "not supported" in config.warnings[0]
    write_runconfig(config)
    assert yaml.safe_load(path.read_text())["DataSourceSubstitutions"] == {"a.dsource": "b.dsource"}


# writers -------------------------------------------------------------------------------------
def test_new_models_write_workbench_style(tmp_path: Path) -> None:
    target = ComputeTarget(name="gpu", type="remotedocker", address="1.2.3.4", username="me",
                           password="aml-secret:abc", base_docker_image="img:1",
                           nvidia_docker=True)
    config = RunConfiguration(name="gpu", target="gpu", framework="Python",
                              environment_variables={"A": "1"})
    write_compute(target, tmp_path / "gpu.compute")
    write_runconfig(config, tmp_path / "gpu.runconfig")
    compute_text = (tmp_path / "gpu.compute").read_text()
    run_text = (tmp_path / "gpu.runconfig").read_text()
    assert compute_text.startswith("# ")
    assert 'baseDockerImage: "img:1"' in compute_text and "nvidiaDocker: true" in compute_text
    assert "sharedVolumes" not in compute_text                       # default, not written
    assert 'ArgumentVector:\n  - "$file"' in run_text and 'Target: "gpu"' in run_text
    assert load_compute(tmp_path / "gpu.compute") == target
    assert load_runconfig(tmp_path / "gpu.runconfig") == config


def test_dependency_writers_round_trip(tmp_path: Path) -> None:
    conda = CondaDependencies(name="env", channels=["conda-forge"], conda=["python=3.11"],
                              pip=["requests==2.31.0", "https://x/y.whl?a=1&b=2"])
    spark = SparkDependencies(configuration={"spark.app.name": "x", "spark.executor.cores": "2"},
                              repositories=["https://repo"],
                              packages=[MavenPackage("g", "a", "1.10")])
    write_conda(conda, tmp_path / "conda_dependencies.yml")
    write_spark(spark, tmp_path / "spark_dependencies.yml")
    assert load_conda(tmp_path / "conda_dependencies.yml") == conda
    assert load_spark(tmp_path / "spark_dependencies.yml") == spark


def test_spark_file_may_be_empty_or_null(tmp_path: Path) -> None:
    empty = load_spark(write(tmp_path / "spark_dependencies.yml", "# nothing\n"))
    assert empty == SparkDependencies()
    nulls = load_spark(write(tmp_path / "s2.yml", "configuration:\nrepositories:\npackages:\n"))
    assert nulls == SparkDependencies()


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    # Given an existing file
    path = write(tmp_path / "t.compute", "type: local\n")
    os.chmod(path, 0o640)

    # When the final rename fails
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_emit.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_compute(ComputeTarget(name="t", type="docker"), path)
    # Then the old content is intact and no temporary file remains
    assert path.read_text() == "type: local\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.compute"]


def test_rewrite_keeps_file_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "t.compute", "type: local\n")
    os.chmod(path, 0o600)
    write_compute(load_compute(path))
    assert (path.stat().st_mode & 0o777) == 0o600


def test_writer_without_path_is_refused() -> None:
    with pytest.raises(ValueError):
        write_compute(ComputeTarget(name="x", type="local"))


# tabs and other hazards ----------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ('"k":\t"v"\n', '"k": "v"\n'),
    ("k:\tv\n", "k: v\n"),
    ("- \tx\n", "-  x\n"),
    ("k: a\tb\n", "k: a\tb\n"),                        # inside a plain value: content
    ('k: "a\tb"\n', 'k: "a\tb"\n'),                    # inside quotes: content
    ("k: 'it''s\t'\n", "k: 'it''s\t'\n"),
    ("\tk: v\n", "\tk: v\n"),                          # indentation: left for the error
    ("k: v\t# c\t\n", "k: v # c\t\n"),
    ('{"a":\t"b\n c",\t"d":\t1}', '{"a": "b\n c", "d": 1}'),
])
def test_untab(text: str, expected: str) -> None:
    assert _parse.untab(text) == expected
    assert len(_parse.untab(text)) == len(text)


def test_hazards_load_the_same_with_both_parsers(tmp_path: Path, monkeypatch) -> None:
    text = ('type: "docker"\r\nbaseDockerImage:\t"img"   \r\nsharedVolumes: True\r\n'
            "nativeSharedDirectory: ~/.azureml/share/\r\npassword: \r\nnote: 'a\tb'")
    path = write(tmp_path / "h.compute", text)
    fast = load_compute(path)
    monkeypatch.setattr(_parse, "DEFAULT_LOADER", yaml.SafeLoader)
    slow = load_compute(path)
    assert fast == slow
    assert (slow.base_docker_image, slow.shared_volumes, slow.native_shared_directory,
            slow.password, slow.extra["note"]) == ("img", True, "~/.azureml/share/", None, "a\tb")


def test_bare_tilde_is_null_but_tilde_path_is_text(tmp_path: Path) -> None:
    target = load_compute(write(tmp_path / "l.compute", "type: local\npythonLocation: ~\n"
                                                        "nativeSharedDirectory: ~/share/\n"))
    assert target.python_location is None
    assert target.native_shared_directory == "~/share/"
