"""prepare and submit validate with one function (``service/run_target.py``): what one refuses,
the other refuses with the same line, before anything is recorded or built."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.errors import AmlError, ConfigError
from aml_magic.service.run_target import check_run
from tests._project import write


@pytest.mark.parametrize("compute, runconfig, expected", [
    # a remote target without an address (a Workbench template not yet attached)
    ("type: remote\naddress: \nusername: me\n", 'Target: "vm"\n', "has no address"),
    # a PySpark run on local whose spark-submit does not exist
    ("type: local\nsparkSubmitLocation: /nonexistent/spark-submit\n",
     'Target: "vm"\nFramework: "PySpark"\n', "spark-submit"),
])
def test_prepare_refuses_what_submit_refuses_with_the_same_line(
        project: Path, compute: str, runconfig: str, expected: str) -> None:
    # Given a run configuration that cannot run here
    write(project, "aml_config/vm.compute", compute)
    write(project, "aml_config/vm.runconfig", runconfig)
    write(project, "hello.py", "print('hello')\n")
    ws = Workspace(project)
    # When it is prepared, and when it is submitted
    with pytest.raises(AmlError, match=expected) as prepared:
        ws.prepare("vm")
    with pytest.raises(AmlError, match=expected) as submitted:
        ws.submit("vm", "hello.py")
    # Then both refuse it with the same line, and nothing was recorded
    assert str(prepared.value) == str(submitted.value)
    assert ws.runs() == []


def test_a_path_the_message_already_names_is_not_printed_twice(tmp_path: Path) -> None:
    path = str(tmp_path / "aml_config" / "docker.compute")
    once = ConfigError(f"{path}: sharedVolumes must be true or false", path=path)
    assert str(once).count(path) == 1
    prefixed = ConfigError("sharedVolumes must be true or false", path=path, line=3)
    assert str(prefixed) == f"{path}:3: sharedVolumes must be true or false"


def test_the_workbench_docker_template_passes_the_check_with_one_note(project: Path) -> None:
    # Given Workbench's docker.compute: sharedVolumes false with a nativeSharedDirectory
    write(project, "aml_config/docker.compute", """\
        type: "localdocker"
        baseDockerImage: "microsoft/mmlspark:plus-0.9.9"
        sharedVolumes: false
        nativeSharedDirectory: "~/.azureml/share/"
    """)
    # When it is checked as prepare and submit check it (no engine needed)
    ws = Workspace(project)
    checked = check_run(ws, ws.config.runconfig("docker"))
    # Then it is accepted, with one line naming the file once
    notes = [n for n in checked.notes if "nativeSharedDirectory" in n]
    assert len(notes) == 1 and notes[0].count("docker.compute") == 1
    assert "not mounted" in notes[0]
    assert checked.compute.native_share is None
