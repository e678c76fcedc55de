"""``aml kernel install``, ``aml doctor``'s kernel hints and ``aml init``'s offer: kernel names
as Workbench spelled them, kernelspecs written by the real jupyter_client into a temporary
Jupyter data folder (never the user's), and one line per finding. Executing the kernels is in
tests/frontends/test_project_kernels.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_notebook

from aml_magic.domain.kernel_names import match_project_kernel, project_display_name, project_kernel_name
from aml_magic.frontends.cli.main import main
from aml_magic.service.kernelspecs import missing_kernels, project_plans
from tests._project import aml, write


@pytest.fixture(autouse=True)
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Kernelspecs go to a temporary Jupyter data folder: never the user's real one."""
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter-path"))
    monkeypatch.delenv("CI", raising=False)
    return data


def workbench_project(root: Path, *runconfigs: str) -> Path:
    for name in runconfigs:
        write(root, f"aml_config/{name}.runconfig", "ArgumentVector:\n  - $file\nTarget: local\n")
    write(root, "aml_config/local.compute", "type: local\n")
    return root


def save_notebook(path: Path, kernel: str, display: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(metadata={"kernelspec": {
        "name": kernel, "display_name": display, "language": "python"}}), str(path))
    return path


def kernel_json(data: Path, name: str) -> dict:
    return json.loads((data / "kernels" / name / "kernel.json").read_text())


# -- names ------------------------------------------------------------------------------------
def test_kernel_names_are_spelled_as_workbench_spelled_them() -> None:
    # the real ChurnPrediction notebook names "churnprediction_local" / "ChurnPrediction local"
    assert project_kernel_name("ChurnPrediction", "local") == "churnprediction_local"
    assert project_display_name("ChurnPrediction", "local") == "ChurnPrediction local"
    assert project_kernel_name("myIris", "docker-python") == "myiris_docker-python"
    # characters Jupyter refuses in a kernel name become "_"
    assert project_kernel_name("My Project+1", "local") == "my_project_1_local"


def test_a_kernel_name_is_read_against_the_projects_run_configurations() -> None:
    runconfigs = ["docker", "docker-python", "local"]
    request = match_project_kernel("myiris_docker-python", runconfigs)
    assert request is not None and (request.project_part, request.runconfig) == (
        "myiris", "docker-python")
    request = match_project_kernel("ChurnPrediction_local", runconfigs)
    assert request is not None and (request.project_part, request.runconfig) == (
        "churnprediction", "local")
    unknown = match_project_kernel("churnprediction_gpu", runconfigs)
    assert unknown is not None and unknown.runconfig is None
    assert match_project_kernel("python3", runconfigs) is None
    assert match_project_kernel("_local", runconfigs) is None


def test_plans_cover_every_run_configuration_and_the_names_the_notebooks_ask_for(
        tmp_path: Path) -> None:
    # Given a sample cloned under another folder name, whose notebook names Workbench's kernel
    root = workbench_project(tmp_path / "MachineLearningSamples-ChurnPrediction",
                             "local", "docker")
    save_notebook(root / "ChurnAnalytics.ipynb", "churnprediction_local", "ChurnPrediction local")
    save_notebook(root / "other.ipynb", "python3", "Python 3")
    save_notebook(root / "outputs" / "copy.ipynb", "stale_local", "stale local")
    plans = {plan.name: plan for plan in project_plans(root)}
    assert set(plans) == {"machinelearningsamples-churnprediction_docker",
                          "machinelearningsamples-churnprediction_local",
                          "churnprediction_local"}
    assert plans["churnprediction_local"].display_name == "ChurnPrediction local"
    assert plans["churnprediction_local"].runconfig == "local"
    assert plans["churnprediction_local"].project == root.resolve()


# -- install ----------------------------------------------------------------------------------
def test_install_writes_the_generic_and_the_project_kernels(tmp_path: Path,
                                                            jupyter_dirs: Path) -> None:
    root = workbench_project(tmp_path / "ChurnPrediction", "local", "docker")
    result = aml("kernel", "install", cwd=root)
    assert "installed kernel aml-magic (\"Python (aml_magic)\")" in result.stdout
    assert "installed kernel churnprediction_local (\"ChurnPrediction local\"); " \
           "%%aml_submit sends to 'local'" in result.stdout
    generic = kernel_json(jupyter_dirs, "aml-magic")
    assert generic["display_name"] == "Python (aml_magic)"
    assert generic["argv"][0] == sys.executable
    assert "--ext=aml_magic.frontends.notebook.kernel_start" in generic["argv"]
    assert "ipykernel_launcher" in generic["argv"]
    spec = kernel_json(jupyter_dirs, "churnprediction_docker")
    assert spec["env"]["AML_MAGIC_PROJECT"] == str(root.resolve())
    assert spec["env"]["AML_MAGIC_DEFAULT_RUNCONFIG"] == "docker"
    assert spec["metadata"]["aml_magic"] == {
        "kind": "project", "runs": "here", "project": str(root.resolve()),
        "run_configuration": "docker"}
    # --no-project: the generic kernel alone; --name renames it
    other = tmp_path / "elsewhere"
    other.mkdir()
    result = aml("kernel", "install", "--name", "aml-magic-2", cwd=other)
    assert result.stdout.count("installed kernel") == 1
    assert kernel_json(jupyter_dirs, "aml-magic-2")["argv"][-1].startswith("--ext=aml_magic.")


def test_install_into_a_prefix_and_never_over_a_foreign_kernel(tmp_path: Path,
                                                              jupyter_dirs: Path) -> None:
    root = workbench_project(tmp_path / "iris", "local")
    # a kernel of the same name that aml_magic did not write (Workbench's old one) is kept
    write(jupyter_dirs, "kernels/iris_local/kernel.json",
          json.dumps({"argv": ["/opt/old/python"], "display_name": "iris local"}))
    result = aml("kernel", "install", "--prefix", str(tmp_path / "env"), cwd=root, check=False)
    assert (tmp_path / "env/share/jupyter/kernels/aml-magic/kernel.json").is_file()
    assert result.returncode == 2
    assert "kept kernel iris_local: a kernel of that name exists and is not aml_magic's" \
        in result.stdout and "--force" in result.stdout
    assert kernel_json(jupyter_dirs, "iris_local")["argv"] == ["/opt/old/python"]
    aml("kernel", "install", "--force", cwd=root)
    assert kernel_json(jupyter_dirs, "iris_local")["env"]["AML_MAGIC_DEFAULT_RUNCONFIG"] == "local"


def test_user_and_sys_prefix_exclude_each_other(tmp_path: Path) -> None:
    result = aml("kernel", "install", "--user", "--sys-prefix", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "not allowed with" in result.stderr


# -- doctor -----------------------------------------------------------------------------------
def test_doctor_names_the_command_for_a_notebook_naming_a_missing_project_kernel(
        tmp_path: Path) -> None:
    root = workbench_project(tmp_path / "ChurnPrediction", "local", "docker")
    save_notebook(root / "ChurnAnalytics.ipynb", "churnprediction_local", "ChurnPrediction local")
    save_notebook(root / "nb" / "gpu.ipynb", "churnprediction_gpu", "ChurnPrediction gpu")
    save_notebook(root / "plain.ipynb", "python3", "Python 3")
    result = aml("doctor", cwd=root, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout
    assert lines == [
        "ChurnAnalytics.ipynb: kernel churnprediction_local is not installed; run "
        "`aml kernel install` to register it ('local' run configuration)",
        "nb/gpu.ipynb: kernel churnprediction_gpu is not installed and ChurnPrediction has no "
        "'gpu' run configuration; create it (`aml runconfiguration create -n gpu -t TARGET`), "
        "then run `aml kernel install`"]
    # from another folder the command names the project; after the install only gpu is left
    result = aml("doctor", "--project", str(root), cwd=tmp_path, check=False)
    assert f"`aml kernel install --project {root}`" in result.stdout
    aml("kernel", "install", cwd=root)
    assert [m.kernel for m in missing_kernels(root)] == ["churnprediction_gpu"]
    (root / "nb" / "gpu.ipynb").unlink()
    result = aml("doctor", cwd=root)
    assert result.stdout.strip() == f"{root}: every notebook's kernel is installed"


# -- aml init's offer -------------------------------------------------------------------------
def test_init_on_a_workbench_project_without_a_terminal_says_the_command_and_never_waits(
        tmp_path: Path, jupyter_dirs: Path) -> None:
    root = workbench_project(tmp_path / "Iris", "local", "docker")
    result = aml("init", ".", cwd=root, stdin=subprocess.DEVNULL, timeout=60)
    assert "to open the project's notebooks on its own kernels (iris_docker, iris_local): run " \
           "`aml kernel install` in it" in result.stdout
    assert not (jupyter_dirs / "kernels").exists()
    aml("init", ".", "--kernels", cwd=root, stdin=subprocess.DEVNULL)
    assert kernel_json(jupyter_dirs, "iris_local")["env"]["AML_MAGIC_DEFAULT_RUNCONFIG"] == "local"
    assert (jupyter_dirs / "kernels" / "aml-magic").is_dir()


def test_init_asks_from_a_terminal_and_no_kernels_skips_the_question(
        tmp_path: Path, jupyter_dirs: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from aml_magic.frontends.cli import kernel
    root = workbench_project(tmp_path / "Iris", "local")
    asked: list[str] = []
    monkeypatch.setattr(kernel, "interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    assert main(["init", str(root)]) == 0
    # (init adds the docker pair a Workbench project lacks)
    assert asked == ["Install the project's Jupyter kernels (iris_docker, iris_local)? [Y/n] "]
    assert not (jupyter_dirs / "kernels").exists()
    assert main(["init", str(root), "--no-kernels"]) == 0 and len(asked) == 1
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "")
    assert main(["init", str(root)]) == 0
    assert "installed kernel iris_local" in capsys.readouterr().out
    # a new project (not adopted) is not asked about
    assert main(["init", str(tmp_path / "new")]) == 0 and len(asked) == 2


# -- the kernel side --------------------------------------------------------------------------
def test_a_project_kernels_environment_sets_the_default_and_one_line_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from IPython.core.events import EventManager, available_events

    from aml_magic.frontends.notebook.kernel_target import apply_kernel_target
    shell = SimpleNamespace(banner2="", events=EventManager(None, available_events))
    magics = SimpleNamespace(project=None, default_runconfig=None)
    # a plain kernel (no project in its environment): nothing changes, nothing is printed
    assert apply_kernel_target(magics, shell, {}) is None  # type: ignore[arg-type]
    assert magics.default_runconfig is None and shell.banner2 == ""
    line = apply_kernel_target(magics, shell, {  # type: ignore[arg-type]
        "AML_MAGIC_PROJECT": "/p/Iris", "AML_MAGIC_DEFAULT_RUNCONFIG": "docker",
        "AML_MAGIC_KERNEL_NAME": "iris_docker"})
    assert line == ("Kernel iris_docker: cells run here, on this machine; %%aml_submit sends to "
                    "'docker' (aml_config/docker.runconfig of /p/Iris) unless given -c")
    assert (magics.project, magics.default_runconfig) == (Path("/p/Iris"), "docker")
    assert shell.banner2 == line + "\n"                      # what a console shows at start
    assert capsys.readouterr().out == ""                     # nothing while the kernel starts
    shell.events.trigger("pre_run_cell", None)
    shell.events.trigger("pre_run_cell", None)
    assert capsys.readouterr().out == line + "\n"            # the first cell's first output, once
