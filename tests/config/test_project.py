"""ProjectConfig, find_project and init_project."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.domain.config import (
    ComputeTarget, ProjectConfig, RunConfiguration, find_project, init_project, load_conda, load_spark
)
from aml_magic.domain.config.templates import DEFAULT_DOCKER_IMAGE
from aml_magic.errors import ConfigError, ProjectNotFound

CONFIG_FILES = ["conda_dependencies.yml", "docker.compute", "docker.runconfig", "local.compute",
                "local.runconfig", "spark_dependencies.yml"]


def test_init_creates_a_loadable_project(tmp_path: Path) -> None:
    # When a folder is initialised
    root = init_project(tmp_path / "proj")
    # Then it holds the local and docker pairs and both dependency files, all loadable
    assert root == tmp_path / "proj"
    assert sorted(p.name for p in (root / "aml_config").iterdir()) == CONFIG_FILES
    project = ProjectConfig(root)
    targets, configs = project.compute_targets(), project.run_configurations()
    assert {n: t.type for n, t in targets.items()} == {"docker": "docker", "local": "local"}
    assert configs["local"].framework == "Python" and configs["local"].target == "local"
    assert configs["docker"].target == "docker" and configs["docker"].prepare_environment
    assert targets["docker"].base_docker_image == DEFAULT_DOCKER_IMAGE
    assert targets["docker"].shared_volumes is False
    assert targets["local"].native_shared_directory == "~/.azureml/share/"
    assert all(not m.warnings for m in [*targets.values(), *configs.values()])
    conda = project.conda_dependencies(configs["docker"])
    assert conda.name == "project_environment" and conda.conda == ["python=3.11"]
    spark = project.spark_dependencies(configs["local"])
    assert spark.app_name and spark.packages == []
    # And .amlignore and .gitignore are set up
    amlignore = (root / ".amlignore").read_text()
    assert "__pycache__/" in amlignore and "/outputs/" in amlignore
    assert (root / ".gitignore").read_text().splitlines()[-3:] == [".aml/", "outputs/", "logs/"]


def test_init_twice_clobbers_nothing(tmp_path: Path) -> None:
    # Given a project whose files were edited and a .gitignore of its own
    (tmp_path / ".gitignore").write_text("*.log")                  # no final newline
    root = init_project(tmp_path)
    (root / "aml_config" / "local.compute").write_text("type: local\npythonLocation: /x/py\n")
    (root / ".amlignore").write_text("data/\n.aml/\noutputs/\nlogs/\n")
    (root / "aml_config" / "docker.runconfig").unlink()
    # When init runs again
    init_project(tmp_path)
    # Then edited files are untouched, a missing one is restored, .aml/ is listed once
    assert (root / "aml_config" / "local.compute").read_text() == \
        "type: local\npythonLocation: /x/py\n"
    assert (root / ".amlignore").read_text() == "data/\n.aml/\noutputs/\nlogs/\n"
    assert (root / "aml_config" / "docker.runconfig").is_file()
    lines = (root / ".gitignore").read_text().splitlines()
    assert lines[0] == "*.log" and lines.count(".aml/") == 1


def test_gitignore_already_listing_state_dir_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/.aml\n/outputs\nlogs/\n")
    init_project(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == "/.aml\n/outputs\nlogs/\n"


def test_find_project_walks_up(tmp_path: Path) -> None:
    root = init_project(tmp_path / "p")
    deep = root / "src" / "pkg"
    deep.mkdir(parents=True)
    (deep / "train.py").write_text("")
    assert find_project(deep) == root
    assert find_project(deep / "train.py") == root
    assert find_project(root) == root


def test_find_project_outside_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match=r"aml init.*%aml_init"):
        find_project(tmp_path)


def test_missing_names_list_the_existing_ones(tmp_path: Path) -> None:
    project = ProjectConfig(init_project(tmp_path))
    with pytest.raises(ConfigError) as caught:
        project.runconfig("foo")
    assert str(caught.value) == (f"no run configuration 'foo' in {tmp_path / 'aml_config'}; "
                                 "existing: docker, local")
    with pytest.raises(ConfigError, match="existing: docker, local"):
        project.compute("foo")
    with pytest.raises(ConfigError, match="not a valid"):
        project.compute("../etc/passwd")


def test_write_and_remove_a_target(tmp_path: Path) -> None:
    # Given a project, When a target and its run configuration are written
    project = ProjectConfig(init_project(tmp_path))
    project.write_compute(ComputeTarget(name="vm", type="remote", address="h", username="u"))
    project.write_runconfig(RunConfiguration(name="vm", target="vm", framework="Python"))
    # Then they are listed and load back
    assert project.compute("vm").address == "h"
    assert project.runconfig("vm").target == "vm"
    assert project.runconfig_names() == ["docker", "local", "vm"]
    # When the target is removed, Then both files are gone
    removed = project.remove("vm")
    assert sorted(p.name for p in removed) == ["vm.compute", "vm.runconfig"]
    assert project.compute_names() == ["docker", "local"]
    with pytest.raises(ConfigError, match="no compute target or run configuration 'vm'"):
        project.remove("vm")


def test_early_amb_files_are_run_configurations(tmp_path: Path) -> None:
    project = ProjectConfig(tmp_path)
    (tmp_path / "aml_config").mkdir()
    (tmp_path / "aml_config" / "old.amb").write_text('{"Target": "local", "CondaFile": null}')
    assert project.runconfig_names() == ["old"]
    assert project.runconfig("old").target == "local"


def test_missing_dependency_file_names_the_run_configuration(tmp_path: Path) -> None:
    project = ProjectConfig(init_project(tmp_path))
    config = project.runconfig("local")
    config.conda_dependencies_file = "Config/conda_dependencies.yml"
    with pytest.raises(ConfigError, match="CondaDependenciesFile 'Config/conda_dependencies.yml'"
                                          " of run configuration 'local' does not exist"):
        project.conda_dependencies(config)
    assert load_conda(tmp_path / "aml_config" / "conda_dependencies.yml").pip == []
    assert load_spark(tmp_path / "aml_config" / "spark_dependencies.yml").repositories == []
