"""The ``cluster`` target against a real Spark standalone cluster (tests/fixtures/spark.py: a
master and two workers on 127.0.0.1) whose head node is reached through the real OpenSSH
server (tests/fixtures/sshd.py). spark-submit runs as the session's SSH user."""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from aml_magic.errors import AmlError
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._wait import wait_until
from tests._project import submit_then_sigkill
from tests.fixtures.spark import SparkCluster
from tests.fixtures.sshd import SshServer

REPO = Path(__file__).resolve().parents[2]
PROBE_MODULE = "amlspark_probe"


# -- what the tests write: a wheel only the prepared environment has, a local Maven repo -----

def write_wheel(folder: Path, marker: str) -> Path:
    """A pure-Python wheel ``amlspark_probe`` whose ``MARK`` is ``marker`` (no build tools)."""
    name, version = PROBE_MODULE, "1.0"
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"MARK = {marker!r}\n".encode(),
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 .encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n"}
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def write_maven_repo(root: Path, group: str, artifact: str, version: str, resource: str) -> None:
    """A Maven-layout repository holding one jar (with ``resource`` in it) and its pom."""
    folder = root.joinpath(*group.split("."), artifact, version)
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / f"{artifact}-{version}.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr(resource, "from the local maven repository\n")
    (folder / f"{artifact}-{version}.pom").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<project><modelVersion>4.0.0</modelVersion>'
        f"<groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version><packaging>jar</packaging></project>\n")


def readable_tree(path: Path) -> None:
    subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)


@pytest.fixture(scope="module")
def shared(sshd: SshServer) -> Iterator[dict[str, Any]]:
    """What every test of this module shares: a wheel, a Maven repo (in a folder the SSH user
    can read: pytest's own base folder is root's, mode 0700), one remote base folder (so the
    environment is built once for the module)."""
    folder = Path(tempfile.mkdtemp(prefix="aml-spark-test-", dir="/tmp"))
    wheels = folder / "wheels"
    wheels.mkdir()
    wheel = write_wheel(wheels, "only-in-the-prepared-environment")
    maven = folder / "maven"
    write_maven_repo(maven, "org.amlmagic.test", "amltiny", "1.0", "amltiny.txt")
    readable_tree(folder)
    base = f".aml-test-spark-{os.urandom(4).hex()}"
    yield {"wheel": wheel, "maven": maven, "base": base}
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / base), str(folder)], check=False)


def conda_text(wheel: Path) -> str:
    return f"name: e\ndependencies:\n  - python=3\n  - pip:\n    - {wheel}\n"


def spark_text(conf: dict[str, str], repositories: Sequence[str] = (),
               packages: Sequence[tuple[str, str, str]] = ()) -> str:
    lines = ["configuration:"]
    lines += [f'  "{k}": "{v}"' for k, v in conf.items()]
    lines.append("repositories:" + ("" if repositories else " []"))
    lines += [f'  - "{r}"' for r in repositories]
    lines.append("packages:" + ("" if packages else " []"))
    for group, artifact, version in packages:
        lines += [f'  - group: "{group}"', f'    artifact: "{artifact}"',
                  f'    version: "{version}"']
    return "\n".join(lines) + "\n"


BASE_CONF = {"spark.driver.host": "127.0.0.1", "spark.executor.memory": "512m",
             "spark.ui.showConsoleProgress": "false"}


def aml(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project,
                          capture_output=True, text=True, timeout=timeout, env=env)


def attach_cluster(ws: Workspace, sshd: SshServer, cluster: SparkCluster, base: str,
                   name: str = "spk", **options: Any) -> Any:
    options.setdefault("spark_master", cluster.master_url)
    options.setdefault("spark_submit_location", cluster.spark_submit)
    return ws.attach("cluster", name, address=f"{sshd.host}:{sshd.port}",
                     username=sshd.username, password=sshd.password, trust_new_host_key=True,
                     remote_base_dir=f"~/{base}", **options)


@pytest.fixture
def ws(project: Path, sshd: SshServer, spark_cluster: SparkCluster,
       shared: dict[str, Any]) -> Iterator[Workspace]:
    workspace = Workspace(project)
    attach_cluster(workspace, sshd, spark_cluster, shared["base"])
    (project / "aml_config" / "conda_dependencies.yml").write_text(conda_text(shared["wheel"]))
    (project / "aml_config" / "spark_dependencies.yml").write_text(spark_text(BASE_CONF))
    yield workspace
    workspace.close()


JOB = """
import os, sys
from pyspark.sql import SparkSession
import amlspark_probe
from azureml.logging import get_azureml_logger

spark = SparkSession.builder.getOrCreate()
sc = spark.sparkContext

def where(i):
    import os, amlspark_probe
    return (amlspark_probe.MARK, os.getcwd(), sys.executable)

rows = sc.parallelize(range(8), 4).map(where).collect()
for mark, cwd, python in sorted(set(rows)):
    print("task", mark, cwd, python, flush=True)
print("driver", amlspark_probe.MARK, sys.executable, flush=True)
print(f"conf {sc.getConf().get('spark.aml.test.value', 'absent')}", flush=True)
get_azureml_logger().log("tasks", len(rows))
os.makedirs("outputs", exist_ok=True)
with open("outputs/result.txt", "w") as f:
    f.write("%d rows\\n" % len(rows))
spark.stop()
"""


# -- attach, prepare, a job on the executors ------------------------------------------------

def test_attach_writes_a_cluster_target_with_its_master(ws: Workspace,
                                                        spark_cluster: SparkCluster) -> None:
    compute = ws.config.compute("spk")
    assert compute.type == "cluster" and compute.spark_master == spark_cluster.master_url
    assert compute.host_key_fingerprint and compute.user_managed_environment is False
    rc = ws.config.runconfig("spk")
    assert rc.framework == "PySpark" and rc.target == "spk"
    text = (ws.config.root / "aml_config" / "spk.compute").read_text()
    assert f'sparkMaster: "{spark_cluster.master_url}"' in text


def test_prepare_then_a_job_runs_on_the_executors_with_the_prepared_environment(
        ws: Workspace, project: Path, spark_cluster: SparkCluster) -> None:
    # Given a package that exists only in conda_dependencies.yml's environment
    first = ws.prepare("spk")
    assert first.environment_hash, first.message
    again = ws.prepare("spk")
    assert not again.built and again.environment_hash == first.environment_hash
    (project / "aml_config" / "spark_dependencies.yml").write_text(
        spark_text({**BASE_CONF, "spark.aml.test.value": "forty-two"}))
    (project / "job.py").write_text(JOB)
    # When the job is submitted
    run = ws.submit("spk", "job.py")
    assert run.wait(300) == RunStatus.COMPLETED, run.record.reason
    log = run.log_text()[0]
    # Then its tasks ran in the workers' executor folders, importing the package there
    tasks = [line.split() for line in log.splitlines() if line.startswith("task ")]
    assert tasks, log[-3000:]
    env_python = f"/envs/{first.environment_hash}/bin/python"
    for _task, mark, cwd, python in tasks:
        assert mark == "only-in-the-prepared-environment"
        assert cwd.startswith(str(spark_cluster.root / "work")), cwd
        assert env_python in python
    assert "driver only-in-the-prepared-environment" in log
    assert "conf forty-two" in log
    # And the application id is recorded, shown, and was known to the master
    state = run.record.target_state
    app = state.spark_app_id
    assert app and app.startswith("app-"), state
    assert app in spark_cluster.completed_app_ids()
    shown = aml(project, "run", "show", run.id)
    assert "spark app" in shown.stdout and app in shown.stdout, shown.stdout + shown.stderr
    # And metrics and outputs came back
    assert [(m.name, m.value) for m in run.metrics()] == [("tasks", 8)]
    assert (run.outputs_folder / "result.txt").read_text() == "8 rows\n"


def test_packages_resolve_offline_from_a_local_maven_repository(
        ws: Workspace, project: Path, shared: dict[str, Any]) -> None:
    (project / "aml_config" / "spark_dependencies.yml").write_text(spark_text(
        BASE_CONF, repositories=[shared["maven"].as_uri()],
        packages=[("org.amlmagic.test", "amltiny", "1.0")]))
    (project / "pkg.py").write_text(
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "loader = spark._jvm.java.lang.Thread.currentThread().getContextClassLoader()\n"
        "print('resource', loader.getResource('amltiny.txt'), flush=True)\n"
        "print('jars', spark.sparkContext.getConf().get('spark.jars', ''), flush=True)\n"
        "spark.stop()\n")
    run = ws.submit("spk", "pkg.py")
    assert run.wait(300) == RunStatus.COMPLETED, run.record.reason
    log = run.log_text()[0]
    resource = next(line for line in log.splitlines() if line.startswith("resource "))
    assert "org.amlmagic.test_amltiny-1.0.jar!/amltiny.txt" in resource, resource


def test_an_unresolvable_package_fails_with_one_line_naming_it(
        ws: Workspace, project: Path, shared: dict[str, Any]) -> None:
    (project / "aml_config" / "spark_dependencies.yml").write_text(spark_text(
        BASE_CONF, repositories=[shared["maven"].as_uri()],
        packages=[("org.amlmagic.test", "nothere", "9.9")]))
    (project / "a.py").write_text("print('never')\n")
    run = ws.submit("spk", "a.py")
    assert run.wait(300) == RunStatus.FAILED
    reason = run.record.reason or ""
    assert "org.amlmagic.test:nothere:9.9" in reason and "spark_dependencies.yml" in reason
    assert "\n" not in reason
    assert "unresolved dependency" in run.log_text()[0]      # the full output stays in the log


# -- live log, SSH cut, submitter killed, cancel --------------------------------------------

SLOW = """
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
sc = spark.sparkContext
for i in range(SECONDS):
    print("tick %03d" % i, flush=True)
    sc.parallelize(range(2), 2).map(lambda x: x + 1).collect()
    time.sleep(1)
print("done", flush=True)
spark.stop()
"""


def test_live_driver_log_survives_an_ssh_cut(ws: Workspace, project: Path,
                                             sshd: SshServer) -> None:
    (project / "slow.py").write_text(SLOW.replace("SECONDS", "8"))
    run = ws.submit("spk", "slow.py")
    wait_until(lambda: run.refresh() and "tick 001" in run.log_text()[0], 240,
               "the driver's second line arrived while the job runs")
    assert run.record.status == RunStatus.RUNNING            # live, not after the fact
    assert sshd.kill_connections() >= 1
    assert run.wait(300) == RunStatus.COMPLETED, run.record.reason
    log = run.log_text()[0]
    assert [ln for ln in log.splitlines() if ln.startswith("tick ")] == [
        "tick %03d" % i for i in range(8)]
    assert "done" in log


def test_a_job_whose_submitter_was_killed_completes(project: Path, sshd: SshServer,
                                                    spark_cluster: SparkCluster,
                                                    shared: dict[str, Any],
                                                    ws: Workspace) -> None:
    (project / "slow.py").write_text(SLOW.replace("SECONDS", "3"))
    run_id = submit_then_sigkill(project, "spk", "slow.py")

    def shown_completed() -> str | None:
        shown = aml(project, "run", "show", run_id)
        assert shown.returncode == 0, shown.stderr
        return shown.stdout if "Completed" in shown.stdout else None
    text = wait_until(shown_completed, 300, f"aml run show {run_id} says Completed")
    assert "spark app" in text
    log = (project / ".aml" / "runs" / run_id / "log.txt").read_text()
    assert "tick 002" in log and "done" in log


def test_cancel_ends_the_spark_application(ws: Workspace, project: Path,
                                           spark_cluster: SparkCluster) -> None:
    (project / "forever.py").write_text(
        "import time\nfrom pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\nprint('started', flush=True)\n"
        "spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(900)).collect()\n")
    run = ws.submit("spk", "forever.py")

    def app_running() -> str | None:
        run.refresh()
        app = run.record.target_state.spark_app_id
        return app if app and app in spark_cluster.active_app_ids() else None
    app = wait_until(app_running, 240, "the application is running on the master")
    assert run.cancel() == RunStatus.CANCELED
    wait_until(lambda: app not in spark_cluster.active_app_ids(), 120,
               f"{app} left the master's running applications")
    assert app in spark_cluster.completed_app_ids()


# -- errors ---------------------------------------------------------------------------------

def test_no_spark_submit_on_the_head_node_is_one_clear_line(ws: Workspace,
                                                            project: Path) -> None:
    compute = ws.config.compute("spk")
    compute.spark_submit_location = "/nonexistent/spark-submit"
    ws.config.write_compute(compute)
    (project / "a.py").write_text("print(1)\n")
    with pytest.raises(AmlError) as err:
        ws.submit("spk", "a.py")
    message = str(err.value)
    assert "/nonexistent/spark-submit" in message and "sparkSubmitLocation" in message
    assert "'spk'" in message and "\n" not in message


def test_an_unreachable_master_is_one_clear_line(ws: Workspace, project: Path) -> None:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]           # nothing listens there once closed
    compute = ws.config.compute("spk")
    compute.spark_master = f"spark://127.0.0.1:{port}"
    ws.config.write_compute(compute)
    (project / "a.py").write_text("print(1)\n")
    with pytest.raises(AmlError) as err:
        ws.submit("spk", "a.py")
    message = str(err.value)
    assert f"spark://127.0.0.1:{port}" in message and "cannot be reached" in message
    assert "sparkMaster" in message and "\n" not in message


def test_attach_cluster_through_the_cli(project: Path, sshd: SshServer) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aml_magic", "computetarget", "attach", "cluster", "-n", "myhdi",
         "-a", f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
         "--trust-new-host-key", "--spark-master", "spark://head.example:7077",
         "--yarn-deploy-mode", "client"],
        cwd=project, input=sshd.password + "\n", capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr
    text = (project / "aml_config" / "myhdi.compute").read_text()
    assert 'sparkMaster: "spark://head.example:7077"' in text
    assert 'yarnDeployMode: "client"' in text
    assert sshd.password not in text
    assert 'Framework: "PySpark"' in (project / "aml_config" / "myhdi.runconfig").read_text()


def test_a_python_spark_cannot_start_is_one_clear_line(ws: Workspace, project: Path) -> None:
    (project / "aml_config" / "spark_dependencies.yml").write_text(
        spark_text({**BASE_CONF, "spark.pyspark.python": "/nonexistent/env/bin/python"}))
    (project / "a.py").write_text("print('never')\n")
    run = ws.submit("spk", "a.py")
    assert run.wait(300) == RunStatus.FAILED
    reason = run.record.reason or ""
    assert "/nonexistent/env/bin/python" in reason and "prepare" in reason, reason
    assert "\n" not in reason
