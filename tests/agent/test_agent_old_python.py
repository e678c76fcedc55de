"""The agent on the oldest Python the suite can prove, with an interpreter it obtains itself.

``scripts/build_base_image.sh`` debootstraps Debian bullseye (Python 3.9, plus Python 2.7 for
the ``azureml.logging`` stand-in) once per machine; the test engine imports it as
``aml-magic/base:bullseye``. One container per module keeps running; each test's run folder lives
under a folder bind-mounted at the same path inside, so status, log and metrics files are read
from the host exactly as a target reads them, while the supervisor and the script run on 3.9.
"""
from __future__ import annotations

import json
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests._wait import wait_until
from tests.agent.conftest import ship_agent, wait_status
from tests.fixtures.dockerd import DockerEngine, ensure_base_image

BULLSEYE = "aml-magic/base:bullseye"
OLDEST_PYTHON = (3, 9)
COMPAT_RELATIVE = ".agent/compat"


@dataclass
class OldPythonBox:
    """A running bullseye container with SHARED bind-mounted at the same path."""

    container: Any
    shared: Path

    def sh(self, script: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run a shell script in the container; returns (exit code, stdout, stderr)."""
        code, (out, err) = self.container.exec_run(["sh", "-c", script], environment=env or {},
                                                   demux=True)
        return code, (out or b"").decode(), (err or b"").decode()

    def new_run_dir(self, name: str) -> Path:
        run_dir = self.shared / name
        (run_dir / "work").mkdir(parents=True)
        return run_dir

    def launch(self, run_dir: Path, script: str, **spec: Any) -> dict[str, Any]:
        """Ship the agent, then start it the way targets do: ``python3 -S -E supervisor.py launch``
        inside the container, the spec on stdin; returns the launch answer."""
        (run_dir / "work" / "script.py").write_text(script)
        supervisor = ship_agent(run_dir)
        spec_file = run_dir.parent / f"{run_dir.name}.spec.json"
        spec_file.write_text(json.dumps({"run_id": "proj_1_abcd", "argv": ["python", "script.py"],
                                         "python": "/usr/bin/python3", "env": {}, **spec}))
        command = " ".join(shlex.quote(str(part)) for part in
                           ("python3", "-S", "-E", supervisor, "launch", run_dir))
        code, out, err = self.sh(f"{command} < {shlex.quote(str(spec_file))}")
        assert code == 0, err
        answer: dict[str, Any] = json.loads(out)
        return answer


@pytest.fixture(scope="module")
def box(dockerd: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OldPythonBox]:
    image = ensure_base_image(dockerd, BULLSEYE)
    shared = tmp_path_factory.mktemp("old-python")
    client = dockerd.client()
    container = client.containers.run(
        image, ["sleep", "infinity"], detach=True, network_mode="none", init=True,
        volumes={str(shared): {"bind": str(shared), "mode": "rw"}},
        labels={"org.aml-magic.test": "agent-old-python"})
    try:
        yield OldPythonBox(container, shared)
    finally:
        container.remove(force=True)


def test_the_image_provides_the_oldest_python_and_python_2_7(box: OldPythonBox) -> None:
    # Given the bullseye container, When asked for its interpreters' versions
    code, out, err = box.sh("python3 -c 'import sys; print(sys.version_info[:2])'; "
                            "python2.7 -c 'import sys; print(sys.version_info[:2])'")
    # Then they are 3.9 (the agent's oldest proven Python) and 2.7 (Workbench-era scripts)
    assert code == 0, err
    assert out.split("\n")[:2] == [str(OLDEST_PYTHON), "(2, 7)"]


def test_launch_completes_with_log_metrics_and_outputs(box: OldPythonBox) -> None:
    run_dir = box.new_run_dir("completed")
    # Given a Workbench-style script logging metrics and writing an output
    script = textwrap.dedent("""\
        import os, sys
        from azureml.logging import get_azureml_logger
        logger = get_azureml_logger()
        logger.log("Accuracy", 0.9)
        logger.log("curve", [1, 2.5])
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("weights")
        print("python", sys.version_info[:2])
        sys.stderr.write("warn\\n")
    """)
    # When the 3.9 supervisor launches it under 3.9
    answer = box.launch(run_dir, script)
    status = wait_status(run_dir, timeout=60)
    # Then it completed, with its merged log, metrics and outputs manifest
    assert answer["pid"] > 0
    assert (status["state"], status["exit_code"]) == ("Completed", 0), status
    assert (run_dir / "log.txt").read_text() == f"python {OLDEST_PYTHON}\nwarn\n"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(m["name"], m["value"], m["step"]) for m in metrics] == [
        ("Accuracy", 0.9, 0), ("curve", [1, 2.5], 0)]
    outputs = json.loads((run_dir / "outputs.json").read_text())
    assert [(o["path"], o["size"]) for o in outputs] == [("model.txt", 7)]


def test_exit_code_is_propagated(box: OldPythonBox) -> None:
    run_dir = box.new_run_dir("failed")
    # Given a script exiting 4; When launched and ended
    box.launch(run_dir, "import sys; print('hi'); sys.exit(4)")
    status = wait_status(run_dir, timeout=60)
    # Then the run failed with that code and the log is exact
    assert (status["state"], status["exit_code"], status["reason"]) == ("Failed", 4, "exit code 4")
    assert (run_dir / "log.txt").read_text() == "hi\n"


def test_cancel_by_file_stops_the_script_and_its_child(box: OldPythonBox) -> None:
    run_dir = box.new_run_dir("canceled")
    # Given a running script that started `sleep 60`
    box.launch(run_dir, textwrap.dedent("""\
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open("pids.txt", "w").write("%d %d" % (__import__("os").getpid(), child.pid))
        print("started", flush=True)
        time.sleep(60)
    """))
    pids = run_dir / "work" / "pids.txt"
    wait_until(lambda: pids.exists() and pids.read_text(), 60, "the script wrote its pids")
    script_pid, sleep_pid = pids.read_text().split()
    # When RUN_DIR/cancel appears
    (run_dir / "cancel").touch()
    status = wait_status(run_dir, timeout=60)
    # Then the run is Canceled and neither process is left in the container
    assert (status["state"], status["reason"]) == ("Canceled", "canceled")

    def gone() -> bool:
        code, _, _ = box.sh(f"kill -0 {script_pid} 2>/dev/null || kill -0 {sleep_pid} 2>/dev/null")
        return code != 0
    wait_until(gone, 30, "script and child processes exited in the container")


@pytest.mark.parametrize("python", ["python2.7", "python3"])
def test_azureml_logging_stand_in_on_old_pythons(box: OldPythonBox, python: str) -> None:
    run_dir = box.new_run_dir(f"standin-{python}")
    ship_agent(run_dir)
    metrics = run_dir / "m.jsonl"
    # Given a Workbench-era interpreter with the stand-in first on its path
    code = "from azureml.logging import get_azureml_logger as g\ng().log('acc', [1, 2])"
    env = {"PYTHONPATH": str(run_dir / COMPAT_RELATIVE), "AML_MAGIC_METRICS_FILE": str(metrics)}
    # When it logs a metric
    rc, _, err = box.sh(f"{python} -c {shlex.quote(code)}", env=env)
    # Then the JSON line is written
    assert rc == 0, err
    assert json.loads(metrics.read_text())["value"] == [1, 2]
