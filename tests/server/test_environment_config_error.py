"""The environment endpoint behind the sidebar's "Prepared" column: a configuration that prepare
would refuse is an answer (prepared unknown, with prepare's own line), not an HTTP error."""
from __future__ import annotations

from pathlib import Path

from aml_magic.domain.config import init_project
from aml_magic.service.api import AmlService
from tests._contract import assert_shape
from tests._project import write


def test_a_target_whose_conda_file_is_broken_answers_with_prepares_line(tmp_path: Path) -> None:
    # Given a docker target whose run configuration names a conda file that is not YAML
    project = init_project(tmp_path / "proj")
    write(project, "aml_config/box.compute", "type: docker\nbaseDockerImage: example:1\n")
    write(project, "aml_config/box.runconfig",
          "Target: box\nFramework: Python\nPrepareEnvironment: true\n"
          "CondaDependenciesFile: aml_config/broken.yml\n")
    write(project, "aml_config/broken.yml", "dependencies: [unclosed\n")
    service = AmlService(tmp_path)
    try:
        # When the sidebar asks whether its environment is prepared
        answer = service.environment("proj", "box")
    finally:
        service.close()
    # Then the answer says "unknown" with the one line that names the broken file
    assert_shape("EnvironmentJson", answer)
    assert answer["prepared"] is None and answer["run_configuration"] == "box"
    assert "broken.yml" in str(answer["message"]), answer
