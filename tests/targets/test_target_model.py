"""The target model's wiring: the registry feeds every front end and the docs; a type is one
module + one entry; the launch spec and SSH transports are made in one place each; failures of
the ``docker`` command become one clear line. Fast: no engine, no network."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aml_magic.errors import AmlError
from aml_magic.targets import supported_types, target_class
from aml_magic.targets.container.engine import DockerCli
from aml_magic.domain.registry import attach_choices, lookup, registered
from aml_magic.transports.base import CommandResult

REPO = Path(__file__).resolve().parents[2]
TARGETS = REPO / "aml_magic" / "targets"


def test_readme_and_architecture_name_every_registered_type() -> None:
    readme = (REPO / "README.md").read_text()
    architecture = (REPO / "docs" / "architecture.md").read_text()
    for name, spec in registered().items():
        assert re.search(rf"^\| `{name}`", readme, re.MULTILINE), f"README table lacks {name}"
        assert re.search(rf"^\| `{name}`", architecture, re.MULTILINE), f"architecture lacks {name}"
        for alias in spec.aliases:
            assert f"`{alias}`" in readme


def test_every_type_is_one_module_and_one_entry() -> None:
    for name in registered():
        cls = target_class(name)
        assert cls.type_name == name
        module = Path(__import__(cls.__module__, fromlist=["_"]).__file__ or "")
        assert len(module.read_text().splitlines()) < 100, f"{module} is more than a wiring"
    assert lookup("localdocker") is lookup("docker")
    assert "remotedocker" in supported_types()


def test_cli_magic_and_form_offer_the_registered_types() -> None:
    from aml_magic.frontends.arguments import attach_parser
    parser = attach_parser()
    [action] = [a for a in parser._actions if a.dest == "type"]
    assert list(action.choices or []) == attach_choices()
    args = parser.parse_args(["remotedocker", "-n", "remotevm", "-a", "vm:2222", "-u", "me",
                              "--use-azureml-ssh-key", "--network", "host", "--base-image",
                              "img:1", "--nvidia-docker", "--shared-volumes"])
    assert (args.use_key, args.network_mode, args.nvidia_docker) == (True, "host", True)
    pytest.importorskip("ipywidgets")
    from aml_magic.frontends.notebook.widgets.attach_form import NEEDS_ADDRESS, TYPES
    assert set(TYPES) == set(registered()) and "remotedocker" in NEEDS_ADDRESS


def test_attach_refuses_options_that_do_not_apply(project: Path) -> None:
    from aml_magic import Workspace
    ws = Workspace(project)
    with pytest.raises(AmlError, match="--network-mode do\\(es\\) not apply to compute type"):
        ws.attach("local", "mine", network_mode="host")
    compute = ws.attach("localdocker", "box", network_mode="host", base_image="img:2")
    reloaded = ws.config.compute("box")
    assert (reloaded.type, reloaded.network_mode, reloaded.base_docker_image) == \
        ("docker", "host", "img:2")
    assert compute.name == "box" and ws.config.runconfig("box").prepare_environment


def test_launch_spec_ssh_transports_and_project_config_each_in_one_place() -> None:
    sources = {p.relative_to(TARGETS).as_posix(): p.read_text() for p in TARGETS.rglob("*.py")}
    assert [n for n, s in sources.items() if '"mask":' in s] == ["launch.py"]
    # SSH connections come from the process's pool, in exactly one place
    assert [n for n, s in sources.items() if "ssh_pool()" in s] == ["ssh/login.py"]
    assert [n for n, s in sources.items() if "SshTransport(" in s] == []
    assert [n for n, s in sources.items() if "ProjectConfig" in s] == []
    assert [n for n, s in sources.items() if "import docker" in s] == []
    # "none over ~300 lines"
    too_long = {n: len(s.splitlines()) for n, s in sources.items() if len(s.splitlines()) > 320}
    assert too_long == {}


class FakeTransport:
    """Answers every command with one result (unit tests of the error lines only)."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.argv: list[str] = []

    def run(self, argv: list[str], **_: Any) -> CommandResult:
        self.argv = argv
        return self.result


@pytest.mark.parametrize(("code", "stderr", "expected"), [
    (127, b"sh: 1: docker: not found", "Docker is not installed on vm1"),
    (1, (b"permission denied while trying to connect to the Docker daemon socket at "
         b"unix:///var/run/docker.sock: Get ..."), "add the user to the docker group"),
    (1, (b"Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon "
         b"running?"), "is not running or not reachable"),
    (1, b"write /var/lib/docker/tmp/x: no space left on device", "the disk of vm1 is full"),
])
def test_docker_failures_are_one_clear_line(code: int, stderr: bytes, expected: str) -> None:
    transport = FakeTransport(CommandResult(code, b"", stderr))
    engine = DockerCli(transport, host="unix:///x.sock", where="remotevm", machine="vm1",  # type: ignore[arg-type]
                       user="me")
    with pytest.raises(AmlError) as err:
        engine.run("version")
    message = str(err.value)
    assert expected in message and "remotevm" in message and "\n" not in message
    assert transport.argv[:3] == ["docker", "-H", "unix:///x.sock"]


def test_a_local_run_records_its_interpreter(project: Path) -> None:
    import os
    import sys

    from aml_magic import Workspace
    from aml_magic.domain.history.status import RunStatus
    (project / "v.py").write_text("print('v')\n")
    ws = Workspace(project)
    run = ws.submit("local", "v.py", wait=True)
    assert run.status is RunStatus.COMPLETED
    resolved = os.path.realpath(sys.executable)
    arrow = f" -> {resolved}" if resolved != sys.executable else ""
    assert run.record.target_state.python == \
        f"{sys.executable}{arrow} (Python {'.'.join(map(str, sys.version_info[:3]))})"
