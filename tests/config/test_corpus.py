"""Every real Workbench file in the shared corpus loads, and survives load -> write -> load."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aml_magic.domain.config import (
    ComputeTarget, CondaDependencies, RunConfiguration, SparkDependencies, load_compute, load_conda,
    load_file, load_runconfig, load_spark, write_compute, write_conda, write_runconfig, write_spark
)
from aml_magic.domain.config import _parse

from .corpus import EXPECTED_COUNT, corpus_file, corpus_files, corpus_params, require_corpus

FILES = corpus_files()
WRITERS = {ComputeTarget: write_compute, RunConfiguration: write_runconfig,
           CondaDependencies: write_conda, SparkDependencies: write_spark}

DLFORPM = "Azure-Samples__MachineLearningSamples-DeepLearningforPredictiveMaintenance/aml_config/"
MMLSPARK = "Azure-Samples__MachineLearningSamples-mmlspark/aml_config/"
AIRONTIME = "hning86__ViennaSample-AirOnTime/aml_config/"
BIGDATA = "Azure-Samples__MachineLearningSamples-BigData/aml_config/"
BIOMED = "Azure-Samples__MachineLearningSamples-BiomedicalEntityExtraction/aml_config/"


def test_corpus_is_present_with_all_files() -> None:
    # Given the corpus location (AML_MAGIC_CORPUS or beside the repository)
    require_corpus()
    # Then it holds exactly the 110 configuration files KEYS.md describes
    assert len(FILES) == EXPECTED_COUNT


@pytest.mark.parametrize("path", corpus_params(FILES))
def test_corpus_file_loads_and_round_trips(path: Path | None, tmp_path: Path) -> None:
    path = path or require_corpus()
    # Given a real Workbench file, When it is loaded
    model = load_file(path)
    # Then its model is the right kind for its name
    assert isinstance(model, tuple(WRITERS))
    # When it is written and loaded again, Then the model is the same
    out = tmp_path / "aml_config" / path.name
    WRITERS[type(model)](model, out)
    assert load_file(out) == model
    assert not list(out.parent.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("path", corpus_params(FILES))
def test_corpus_file_loads_with_the_pure_python_parser(path: Path | None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = path or require_corpus()
    # Given the pure-Python PyYAML parser, which rejects tabs libyaml accepts
    fast = load_file(path)
    monkeypatch.setattr(_parse, "DEFAULT_LOADER", yaml.SafeLoader)
    # When the file is loaded with it, Then the model is identical
    assert load_file(path) == fast


def test_tab_after_colon_in_spark_dependencies() -> None:
    # Given DLforPM's spark file with '"spark.driver.memory":<TAB>"6g"'
    spark = load_spark(corpus_file(DLFORPM + "spark_dependencies.yml"))
    # Then the values are read, numbers keep their spelling as text
    assert spark.configuration["spark.driver.memory"] == "6g"
    assert spark.configuration["spark.executor.memory"] == "6g"
    assert spark.configuration["spark.yarn.maxAppAttempts"] == "1"
    assert spark.app_name == "Azure ML Experiment"
    assert [p.coordinate for p in spark.packages] == [
        "com.microsoft.ml.spark:mmlspark_2.11:0.7.9", "com.microsoft.sqlserver:mssql-jdbc:6.2.1.jre8"]
    assert spark.repositories == ["https://mmlspark.azureedge.net/maven"]


def test_unquoted_home_share_directory_is_a_string() -> None:
    target = load_compute(corpus_file(DLFORPM + "DLForPM.compute"))
    assert target.native_shared_directory == "~/.azureml/share/"
    assert (target.type, target.address, target.username) == ("remotedocker", "52.168.81.49",
                                                              "lazzeri")
    assert target.shared_volumes is True


@pytest.mark.parametrize("relative, expected", [
    (MMLSPARK + "myhdi.compute", "cluster"),          # cluster: True, native: True
    (MMLSPARK + "myvm.compute", "remotedocker"),      # cluster: False, native: False, address
    (AIRONTIME + "myhdi.compute", "cluster"),
    (AIRONTIME + "myvm.compute", "remotedocker"),
])
def test_vienna_files_get_a_type(relative: str, expected: str) -> None:
    target = load_compute(corpus_file(relative))
    assert target.type == expected
    assert target.warnings and "early Workbench format" in target.warnings[0]
    assert set(target.extra) == {"cluster", "native"}


def test_empty_password_is_none_and_crlf_is_read() -> None:
    target = load_compute(corpus_file(BIGDATA + "myhdi.compute"))
    assert target.password is None
    assert (target.type, target.yarn_deploy_mode, target.username) == ("cluster", "cluster",
                                                                      "sshuser")
    assert load_compute(corpus_file(AIRONTIME + "myvm.compute")).password is None   # password: ""


def test_localdocker_is_docker_and_trailing_blanks_are_dropped() -> None:
    target = load_compute(corpus_file("wtam__TimeSeries_Finance_CNTK_HSBC_stock_Prediction/aml_config/"
                                "DLVMDemo.compute"))
    assert target.base_docker_image == "microsoft/mmlspark:plus-gpu-0.9.9"
    assert target.nvidia_docker is True
    iris = load_compute(corpus_file("Azure-Samples__MachineLearningSamples-Iris/aml_config/"
                              "docker.compute"))
    assert iris.type == "docker"


def test_invalid_json_amb_with_raw_newline_loads() -> None:
    config = load_runconfig(corpus_file(MMLSPARK + "docker.amb"))
    assert config.target == "docker"
    assert config.argument_vector == ["$file"]
    assert config.framework == "PySpark"                       # FORMATS.md default
    assert config.conda_dependencies_file == "aml_config/conda_dependencies.yml"   # CondaFile: null
    assert "container.\n ML frameworks" in config.extra["Description"]
    assert config.extra["ManagedEnvironment"] is True
    assert config.warnings == []


def test_json_runconfig_and_data_source_keys() -> None:
    biomed = load_runconfig(corpus_file(BIOMED + "docker.runconfig"))
    assert (biomed.target, biomed.framework, biomed.prepare_environment) == ("docker", "PySpark",
                                                                             True)
    sampled = load_runconfig(corpus_file(BIGDATA + "myhdi.runconfig"))
    assert sampled.ignored_keys == ["UseSampling"]
    assert sampled.conda_dependencies_file == "Config/conda_dependencies.yml"


def test_custom_environment_variables() -> None:
    config = load_runconfig(corpus_file("SpaceRangerWes__deep_learning_with_azure_ml_services/"
                                  "aml_config/remotevm.runconfig"))
    assert config.environment_variables == {"ACCOUNT_NAME": "<storage_account_goes_here>",
                                            "ACCOUNT_KEY": "<account_key_goes_here>",
                                            "CONTAINER_NAME": "amazon-from-space-data"}
    assert (config.framework, config.target) == ("Python", "remotevm")


def test_configuration_with_only_comments_is_empty() -> None:
    spark = load_spark(corpus_file("Azure-Samples__MachineLearningSamples-DistributedHyperParameterTuning"
                             "/aml_config/spark_dependencies.yml"))
    assert spark.configuration == {}
    assert len(spark.packages) == 2


def test_conda_file_with_pip_section_and_crlf() -> None:
    conda = load_conda(corpus_file(BIOMED + "conda_dependencies.yml"))
    assert conda.name == "project_environment"
    assert conda.conda[:2] == ["python=3.5.2", "ipykernel=4.6.1"]
    assert "keras" in conda.pip and "h5py==2.7.0" in conda.pip
    assert len(conda.conda) == 7 and len(conda.pip) == 6
