"""The ``docker`` target end to end, against the real engine the suite starts
(tests/fixtures/dockerd): prepare, submit, history, cancel, re-attach, GPU request, shares."""
from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.domain.config import load_conda
from aml_magic.domain.environment import environment_identity
from aml_magic.errors import AmlError, TargetError
from aml_magic.domain.history.status import RunStatus
from aml_magic.targets.container.images import DockerEnvironmentBuilder
from tests._wait import wait_until
from tests.fixtures.dockerd import DockerEngine  # the `dockerd` fixture: tests/conftest.py
from tests.targets.helpers import containers_of

CONDA = """\
name: project_environment
dependencies:
  - python=3
  - six=1.16
  - pip:
    - tomli==2.0.1
"""
# The same specification, reordered, re-spaced and commented: the same environment.
CONDA_REORDERED = """\
# reordered on purpose
name: project_environment
dependencies:
  - pip:
    - tomli == 2.0.1   # pinned
  - SIX=1.16
  - python=3
"""


def write(root: Path, name: str, body: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))


@pytest.fixture
def ws(project: Path, dockerd: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A project whose `docker` target uses the suite's engine and a small environment."""
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    write(project, "aml_config/conda_dependencies.yml", CONDA)
    workspace = Workspace(project)
    set_compute(workspace, network_mode="host")     # the suite's engine has no bridge
    yield workspace
    workspace.close()


def identity_of(ws: Any) -> str:
    conda = load_conda(ws.root / "aml_config" / "conda_dependencies.yml")
    return environment_identity(conda, base_image=ws.config.compute("docker").base_docker_image,
                                framework="Python")


def forget(dockerd: DockerEngine, identity: str) -> None:
    import docker
    try:
        dockerd.client().images.remove(DockerEnvironmentBuilder.image_tag(identity), force=True)
    except docker.errors.ImageNotFound:
        pass


def set_compute(ws: Any, **changes: Any) -> None:
    ws.config.write_compute(dataclasses.replace(ws.config.compute("docker"), **changes))


def set_runconfig(ws: Any, **changes: Any) -> None:
    ws.config.write_runconfig(dataclasses.replace(ws.config.runconfig("docker"), **changes))


def test_importing_the_target_does_not_import_docker() -> None:
    code = "import sys, aml_magic.targets.container.docker; sys.exit('docker' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_prepare_builds_once_reuses_fast_and_rebuilds_on_change(
        ws: Any, dockerd: DockerEngine) -> None:
    # Given no environment image for the project's conda file
    forget(dockerd, identity_of(ws))
    progress: list[str] = []
    # When prepared, Then it is built, with the build output streamed
    first = ws.prepare("docker", on_progress=progress.append)
    assert first.built and first.environment_hash == identity_of(ws)
    assert "built" in first.message and any("tomli==2.0.1" in line for line in progress)
    # When prepared again, Then it is reused, said so, in well under a second
    again = Workspace(ws.root).prepare("docker")
    assert not again.built and again.seconds < 1.0
    assert again.message == (f"environment {first.environment_hash} reused (image "
                             f"aml-magic/env:{first.environment_hash})")
    # When the file is reordered and re-commented, Then it is still the same environment
    write(ws.root, "aml_config/conda_dependencies.yml", CONDA_REORDERED)
    reordered = ws.prepare("docker")
    assert not reordered.built and reordered.environment_hash == first.environment_hash
    # When the specification really changes, Then a new environment is built
    write(ws.root, "aml_config/conda_dependencies.yml", CONDA.replace("2.0.1", "2.0.0"))
    forget(dockerd, identity_of(ws))
    changed = ws.prepare("docker")
    assert changed.built and changed.environment_hash != first.environment_hash


def test_submitted_script_sees_packages_env_args_and_reports_to_history(ws: Any) -> None:
    # Given a Workbench-style script using a package from the conda file
    write(ws.root, "train.py", """
        import os, sys, six, tomli
        from azureml.logging import get_azureml_logger
        get_azureml_logger().log("Accuracy", 0.9)
        get_azureml_logger().log("Recall", [0.1, 0.5])
        os.makedirs("outputs/model", exist_ok=True)
        open("outputs/model/w.bin", "wb").write(b"x" * 10)
        print("six", six.__version__, "env", os.environ["EXAMPLE_ENV_VAR"], "args", sys.argv[1:])
        print("python", sys.executable, "run", os.environ["AZUREML_RUN_ID"])
        print("warn", file=sys.stderr)
    """)
    # When submitted (PrepareEnvironment: true builds or reuses the environment) and waited for
    run = ws.submit("docker", "train.py", ["0.5", "two words"])
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
    # Then the script ran in the environment's Python with its packages, env and arguments
    text, _ = run.log_text()
    assert "six 1.16.0 env Example Value args ['0.5', 'two words']" in text
    assert f"python /opt/aml-env/bin/python run {run.id}" in text and "warn" in text
    # And metrics, outputs, exit code and environment identity are in history
    assert {m.name: m.value for m in run.metrics()} == {"Accuracy": 0.9, "Recall": [0.1, 0.5]}
    assert {a.path: a.size for a in run.outputs()} == {"model/w.bin": 10}
    assert run.record.exit_code == 0
    assert run.record.environment_hash == identity_of(ws)
    assert run.record.target_state.container_id


def test_exit_code_matches(ws: Any) -> None:
    write(ws.root, "fail.py", "import sys; print('bye'); sys.exit(3)\n")
    run = ws.submit("docker", "fail.py")
    assert run.wait(timeout=120) is RunStatus.FAILED
    assert run.record.exit_code == 3 and "exit code 3" in (run.record.reason or "")


def test_unprepared_environment_with_prepare_false_fails_the_run(ws: Any) -> None:
    # Given a specification never built, and PrepareEnvironment: false
    write(ws.root, "aml_config/conda_dependencies.yml",
          CONDA + "    - aml-magic-never-built-zz==0.0\n")
    set_runconfig(ws, prepare_environment=False)
    write(ws.root, "hello.py", "print('hello')\n")
    # When submitted, Then it fails, and the failed run says how to prepare
    with pytest.raises(AmlError, match="aml experiment prepare -c docker"):
        ws.submit("docker", "hello.py")
    [run] = ws.runs()
    assert run.status is RunStatus.FAILED
    assert "aml experiment prepare -c docker" in (run.record.reason or "")


def test_cancel_stops_the_container_and_secrets_stay_off_its_configuration(
        ws: Any, dockerd: DockerEngine) -> None:
    # Given a long run whose environment holds a secret-looking value
    set_runconfig(ws, environment_variables={"TOKEN": "s3cr3t-value-zz"})
    write(ws.root, "sleep.py", """
        import os, time
        print("token ok", os.environ["TOKEN"] == "s3cr3t-value-zz", flush=True)
        time.sleep(60)
    """)
    run = ws.submit("docker", "sleep.py")
    assert wait_until(lambda: "token ok True" in run.log_text()[0], 30), run.log_text()[0]
    # Then the container runs under init, on the host network, with the value nowhere in it
    [container] = containers_of(dockerd, run.id)
    attrs = container.attrs
    assert container.status == "running"
    assert attrs["HostConfig"]["Init"] is True and attrs["HostConfig"]["NetworkMode"] == "host"
    assert "s3cr3t-value-zz" not in repr(attrs)
    # least privilege: no capabilities, no new privileges, only the run folder is writable
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in attrs["HostConfig"]["SecurityOpt"]
    mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in attrs["Mounts"]}
    assert mounts == {"/aml/run": (str(ws.root / ".aml" / "runs" / run.id), True),
                      "/aml/agent": (mounts["/aml/agent"][0], False)}
    # When canceled, Then the run is Canceled and the container stops
    assert run.cancel() is RunStatus.CANCELED
    wait_until(lambda: all(c.status != "running" for c in containers_of(dockerd, run.id)), 30,
               "the run's container stopped")


def test_run_survives_the_submitting_process_and_is_found_complete(
        ws: Any, dockerd: DockerEngine) -> None:
    # Given a script that takes a moment, submitted by a process that is then SIGKILLed
    write(ws.root, "slow.py", """
        import os, time
        time.sleep(1.5)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/done.txt", "w").write("done")
        print("finished")
    """)
    code = ("import sys; from aml_magic import Workspace; "
            "run = Workspace(sys.argv[1]).submit('docker', 'slow.py'); "
            "print(run.id, flush=True); import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(ws.root)], capture_output=True,
                          text=True, env=dockerd.env(), timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run_id = proc.stdout.split()[0]
    # When a fresh workspace looks at the run later
    run = Workspace(ws.root).run(run_id)
    # Then it completes, with its output, and its container is retired
    assert run.wait(timeout=60) is RunStatus.COMPLETED, run.record.reason
    assert "finished" in run.log_text()[0]
    assert [a.path for a in run.outputs()] == ["done.txt"]
    assert wait_until(lambda: containers_of(dockerd, run_id) == [], 10)


def test_nvidia_docker_requests_the_gpus(ws: Any, dockerd: DockerEngine) -> None:
    # Given nvidiaDocker: true (this engine has no GPU: the container is created, not started)
    from aml_magic.targets.base import LaunchRequest
    set_compute(ws, nvidia_docker=True)
    target = ws.target_for(ws.config.compute("docker"))
    rc = ws.config.runconfig("docker")
    image, _, _ = target.launch.environment(target, rc, ws.dependencies(rc), build=True,
                                            on_progress=None)
    request = LaunchRequest(run_id="gpu_test_0001", command=["x.py"], env={}, manifest=None,
                            project_root=ws.root, run_folder=ws.root / ".aml" / "runs" / "gpu",
                            runconfig=rc, allowed_isolation=frozenset({"network_host"}))
    options = target.launch._options(target, request, str(request.run_folder),
                                     local_project=False)
    cid = target.launch.engine(target).create(options, image.id, ["true"])
    container = dockerd.client().containers.get(cid)
    try:
        # Then its configuration asks for every GPU
        [req] = container.attrs["HostConfig"]["DeviceRequests"]
        assert req["Count"] == -1 and req["Capabilities"] == [["gpu"]]
    finally:
        container.remove(force=True)


# Workbench's own docker.compute template (comments shortened), as a Workbench project has it
WORKBENCH_DOCKER_COMPUTE = """\
# Defines a localdocker compute target that uses a local Docker container.
type: "localdocker"
baseDockerImage: "{image}"
# This Docker features isn't completely stable yet on Windows, and so it's
# disabled by default to ensure compatibility.
sharedVolumes: false
# Note that this is not available if sharedVolumes is false.
nativeSharedDirectory: "~/.azureml/share/"
# (the suite's engine has no bridge network; not part of the template)
networkMode: host
"""
WORKBENCH_DOCKER_RUNCONFIG = """\
ArgumentVector:
  - "$file"
Target: "docker"
EnvironmentVariables:
  "EXAMPLE_ENV_VAR": "Example Value"
Framework: "Python"
CondaDependenciesFile: "aml_config/conda_dependencies.yml"
SparkDependenciesFile: "aml_config/spark_dependencies.yml"
PrepareEnvironment: true
TrackedRun: true
"""


def test_workbench_default_docker_target_prepares_and_runs_unchanged(
        ws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given Workbench's default docker.compute (sharedVolumes false with a
    # nativeSharedDirectory, which Workbench then did not mount) and its docker.runconfig
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    image = ws.config.compute("docker").base_docker_image
    write(ws.root, "aml_config/docker.compute", WORKBENCH_DOCKER_COMPUTE.format(image=image))
    write(ws.root, "aml_config/docker.runconfig", WORKBENCH_DOCKER_RUNCONFIG)
    write(ws.root, "hello.py", """
        import os
        print("share", os.environ.get("AZUREML_NATIVE_SHARE_DIRECTORY"),
              os.path.exists("/aml/share"), os.environ["EXAMPLE_ENV_VAR"])
    """)
    workspace = Workspace(ws.root)
    # When prepared, Then it is, with one line saying the share is not mounted
    progress: list[str] = []
    workspace.prepare("docker", on_progress=progress.append)
    notes = [line for line in progress if "nativeSharedDirectory" in line]
    assert len(notes) == 1 and "not mounted" in notes[0] and "sharedVolumes" in notes[0]
    assert notes[0].count("docker.compute") == 1
    # When submitted with the same files, Then it runs, the share unmounted, said once
    warned: list[str] = []
    run = workspace.submit("docker", "hello.py", on_warning=warned.append)
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.log_text()[0]
    assert "share None False Example Value" in run.log_text()[0]
    assert not [line for line in warned if "nativeSharedDirectory" in line]   # once a workspace
    assert not (tmp_path / "home" / ".azureml").exists()
    fresh: list[str] = []
    Workspace(ws.root).submit("docker", "hello.py", on_warning=fresh.append).wait(timeout=120)
    assert len([line for line in fresh if "nativeSharedDirectory" in line]) == 1
    workspace.close()


def test_shared_volumes_mount_the_project_and_the_native_share(
        ws: Any, tmp_path: Path) -> None:
    # Given sharedVolumes and a native shared directory
    share = tmp_path / "share"
    set_compute(ws, shared_volumes=True, native_shared_directory=str(share))
    write(ws.root, "shared.py", """
        import os
        d = os.environ["AZUREML_NATIVE_SHARE_DIRECTORY"]
        open(d + "kept.txt", "w").write("across runs")
        open("written-by-run.txt", "w").write("in the project")
        for private in ("aml_config/evil.txt", ".aml/evil.txt"):
            try:
                open(private, "w").write("x")
                print("writable", private)
            except OSError:
                print("read-only", private)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/o.txt", "w").write("o")
        print("share", d)
    """)
    # When submitted
    run = ws.submit("docker", "shared.py")
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.log_text()[0]
    # Then the script ran in the project itself, the share is the host folder, outputs arrive
    assert (ws.root / "written-by-run.txt").read_text() == "in the project"
    # but the project's aml_config/ and .aml/ are not writable from the run
    assert "read-only aml_config/evil.txt" in run.log_text()[0]
    assert "read-only .aml/evil.txt" in run.log_text()[0]
    assert not (ws.root / "aml_config" / "evil.txt").exists()
    assert (share / "kept.txt").read_text() == "across runs"
    assert "share /aml/share/" in run.log_text()[0]
    assert [a.path for a in run.outputs()] == ["o.txt"]


def test_missing_base_image_names_the_image_and_the_compute_file(ws: Any) -> None:
    # Given a base image the engine lacks and cannot pull (nothing listens on localhost:1)
    set_compute(ws, base_docker_image="localhost:1/aml-magic/none:1")
    # When prepared, Then the error names the image and the .compute file to change
    with pytest.raises(TargetError, match="localhost:1/aml-magic/none:1") as err:
        ws.prepare("docker")
    assert "docker.compute" in str(err.value)


def test_a_killed_container_fails_the_run_with_the_reason(ws: Any, dockerd: DockerEngine) -> None:
    # Given a running run whose container is then killed outright (as by a reboot)
    write(ws.root, "sleep.py", "import time; print('up', flush=True); time.sleep(60)\n")
    run = ws.submit("docker", "sleep.py")
    assert wait_until(lambda: "up" in run.log_text()[0], 30)
    containers_of(dockerd, run.id)[0].kill(signal="SIGKILL")
    # When history is reconciled, Then the run fails, saying its agent stopped, within seconds
    assert run.wait(timeout=10) is RunStatus.FAILED
    assert "stopped without recording an end state" in (run.record.reason or "")
    assert wait_until(lambda: containers_of(dockerd, run.id) == [], 10)


def test_unhonourable_python_version_warns_or_fails_with_strict(ws: Any, project: Path) -> None:
    # Given a conda file asking for a Python the base image does not have
    write(project, "aml_config/conda_dependencies.yml", CONDA.replace("python=3", "python=3.5.2"))
    # When prepared strictly, Then it fails naming the specification and builds nothing
    with pytest.raises(AmlError, match=r"python=3\.5\.2"):
        ws.prepare("docker", strict=True)
    # When prepared without --strict, Then it builds and the warning names the specification
    said: list[str] = []
    result = ws.prepare("docker", on_progress=said.append)
    assert result.environment_hash
    assert any("python=3.5.2" in line for line in said), said


def test_capabilities_are_dropped_unless_the_compute_lists_them(ws: Any) -> None:
    # Given a script reporting its effective capabilities (CAP_NET_RAW is bit 13)
    write(ws.root, "caps.py", """
        for line in open("/proc/self/status"):
            if line.startswith("CapEff:"):
                print("effective", int(line.split()[1], 16))
    """)
    # When run with the defaults, Then it has none
    run = ws.submit("docker", "caps.py")
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
    assert "effective 0\n" in run.log_text()[0]
    # When the .compute lists NET_RAW, Then it is refused unless the user allows it (issue 23:
    # a project file cannot add capabilities on its own)
    set_compute(ws, capabilities="net_raw")
    with pytest.raises(AmlError, match="capabilities: NET_RAW"):
        ws.submit("docker", "caps.py")
    # And once allowed for this submit, exactly that one is kept
    run = ws.submit("docker", "caps.py", allow_unsafe_container=True)
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
    assert f"effective {1 << 13}\n" in run.log_text()[0]
