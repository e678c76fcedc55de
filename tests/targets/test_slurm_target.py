"""The ``slurm`` target against a real Slurm cluster (tests/fixtures/slurm.py: munged,
slurmctld, one slurmd on 127.0.0.1) whose login node is reached through the real OpenSSH
server (tests/fixtures/sshd.py). sbatch, squeue and scancel run as the session's SSH user."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.errors import AmlError
from aml_magic.service.workspace import Workspace
from tests._project import submit_then_sigkill
from tests._wait import wait_until
from tests.fixtures.slurm import SlurmCluster
from tests.fixtures.sshd import SshServer

REPO = Path(__file__).resolve().parents[2]


def aml(project: Path, *args: str, stdin: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project, input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=env)


def attach(ws: Workspace, sshd: SshServer, base: str, name: str = "hpc",
           **options: Any) -> Any:
    options.setdefault("password", sshd.password)
    options.setdefault("trust_new_host_key", True)
    return ws.attach("slurm", name, address=f"{sshd.host}:{sshd.port}",
                     username=sshd.username, remote_base_dir=base, **options)


@pytest.fixture
def base(sshd: SshServer) -> Iterator[str]:
    """A remote base folder of this test's own (the home folder: the node sees it)."""
    name = f".aml-slurm-{os.urandom(4).hex()}"
    yield f"~/{name}"
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / name)], check=False)


@pytest.fixture
def ws(project: Path, sshd: SshServer, slurm_cluster: SlurmCluster,
       base: str) -> Iterator[Workspace]:
    workspace = Workspace(project)
    attach(workspace, sshd, base)
    yield workspace
    workspace.close()


def squeue_calls(ws: Workspace, name: str = "hpc") -> int:
    target: Any = ws.target_for(ws.config.compute(name))
    return int(target.launch.view.calls["squeue"])


# -- attach ---------------------------------------------------------------------------------

def test_attach_writes_the_slurm_keys_and_checks_the_partition(
        project: Path, sshd: SshServer, slurm_cluster: SlurmCluster, base: str) -> None:
    ws = Workspace(project)
    attach(ws, sshd, base, partition="long", time_limit="00:10:00", cpus_per_task=1,
           memory="100M", sbatch_options="--comment='a b'", max_concurrent_runs=3)
    compute = ws.config.compute("hpc")
    assert compute.type == "slurm" and compute.host_key_fingerprint
    assert compute.value("partition") == "long" and compute.value("time_limit") == "00:10:00"
    text = (project / "aml_config" / "hpc.compute").read_text()
    for key in ("partition:", "timeLimit:", "cpusPerTask:", "memory:", "sbatchOptions:",
                "maxConcurrentRuns: 3"):
        assert key in text, text
    # an unknown partition is one line naming the known ones
    with pytest.raises(AmlError) as info:
        attach(ws, sshd, base, name="bad", partition="nosuch")
    said = str(info.value)
    assert "nosuch" in said and "debug" in said and "long" in said and "\n" not in said
    assert not (project / "aml_config" / "bad.compute").exists()
    # the CLI takes the same options
    cli = aml(project, "computetarget", "attach", "slurm", "--name", "cli", "--address",
              f"{sshd.host}:{sshd.port}", "--username", sshd.username, "--password-stdin",
              "--trust-new-host-key", "--partition", "debug", "--time", "5",
              "--max-concurrent-runs", "2", stdin=sshd.password + "\n")
    assert cli.returncode == 0, cli.stderr
    assert 'partition: "debug"' in (project / "aml_config" / "cli.compute").read_text()
    ws.close()


# -- submit, exit code, arguments, live log, outputs, metrics -------------------------------

JOB = r"""
import os, sys, time
from azureml.logging import get_azureml_logger
print("args", sys.argv[1:], flush=True)
print("job", os.environ.get("SLURM_JOB_ID"), "name", os.environ.get("SLURM_JOB_NAME"), flush=True)
get_azureml_logger().log("loss", 0.25)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights\n")
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def test_a_run_is_one_sbatch_with_its_exit_code_args_metrics_and_outputs(
        ws: Workspace, project: Path, slurm_cluster: SlurmCluster) -> None:
    (project / "job.py").write_text(JOB)
    args = ["a b", "it's", 'say "hi"', "$HOME", "; rm -rf x"]
    run = ws.submit("hpc", "job.py", args)
    assert run.wait(120) == RunStatus.COMPLETED, run.record.reason
    record = run.record
    state = record.target_state
    assert state.slurm_job_id and state.slurm_job_id.isdigit()
    assert state.slurm_node == slurm_cluster.node and state.slurm_partition == "debug"
    log = run.log_text()[0]
    assert f"args {args!r}" in log, log
    assert f"job {state.slurm_job_id} name {run.id}" in log, log
    assert record.exit_code == 0
    assert [(m.name, m.value) for m in run.metrics()] == [("loss", 0.25)]
    assert (run.outputs_folder / "model.txt").read_text() == "weights\n"
    shown = aml(project, "run", "show", run.id)
    assert f"slurm job: {state.slurm_job_id} (partition debug, node {slurm_cluster.node})" \
        in shown.stdout, shown.stdout
    # and the widget's header names it too
    from aml_magic.frontends.notebook.widgets._render import header_html
    from aml_magic.frontends.notebook.widgets._snapshot import LogTail, snapshot_of
    header = header_html(snapshot_of(run, record, LogTail()))
    assert f"Slurm job <code>{state.slurm_job_id} (partition debug, node " in header, header
    # the job was Slurm's: named by the run id
    job = slurm_cluster.run("scontrol", "show", "job", "-o", state.slurm_job_id).stdout
    assert f"JobName={run.id}" in job


def test_the_exit_code_of_a_failing_script_is_kept(ws: Workspace, project: Path) -> None:
    (project / "fail.py").write_text("import sys\nprint('bye')\nsys.exit(7)\n")
    run = ws.submit("hpc", "fail.py")
    assert run.wait(120) == RunStatus.FAILED
    assert run.record.exit_code == 7 and "exit code 7" in (run.record.reason or "")


def test_the_log_streams_while_the_job_runs(ws: Workspace, project: Path) -> None:
    (project / "slow.py").write_text(
        "import os, time\nprint('first', flush=True)\n"
        "while not os.path.exists('go'):\n    time.sleep(0.1)\nprint('second', flush=True)\n")
    run = ws.submit("hpc", "slow.py")
    wait_until(lambda: "first" in (run.refresh() and run.log_text()[0]), timeout=90,
               interval=0.3, message="the first line while the job runs")
    assert run.record.status is RunStatus.RUNNING
    assert run.record.target_state.slurm_state == "RUNNING"
    folder = run.record.target_state.folder()
    subprocess.run(["runuser", "-u", ws.config.compute("hpc").username, "--", "touch",
                    f"{folder}/work/go"], check=True)
    assert run.wait(90) == RunStatus.COMPLETED
    assert "second" in run.log_text()[0]


def test_cancel_is_scancel_and_the_run_ends_canceled(
        ws: Workspace, project: Path, slurm_cluster: SlurmCluster) -> None:
    (project / "long.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    run = ws.submit("hpc", "long.py")
    wait_until(lambda: "up" in (run.refresh() and run.log_text()[0]), timeout=90,
               interval=0.3, message="the job to run")
    job = run.record.target_state.slurm_job_id
    ws.cancel(run.id)
    assert run.wait(60) == RunStatus.CANCELED, run.record.reason
    wait_until(lambda: "CANCELLED" in slurm_cluster.run("squeue", "-h", "-t", "all", "-j",
                                                        str(job), "-o", "%T").stdout
               or "COMPLETED" in slurm_cluster.run("squeue", "-h", "-t", "all", "-j",
                                                   str(job), "-o", "%T").stdout,
               timeout=30, interval=0.3, message="Slurm to end the job")


def test_the_environment_section_shows_cuda_visible_devices_as_the_agent_recorded_it(
        ws: Workspace, project: Path, sshd: SshServer, slurm_cluster: SlurmCluster,
        base: str) -> None:
    """No GPU here: Slurm sets no CUDA_VISIBLE_DEVICES, and the agent records that (the
    section leaves it out: no GPUs asked). A job whose environment Slurm gives the variable
    (here through sbatch's own --export, as gres does on a GPU node) shows its value."""
    from aml_magic.service.schema import run_detail_json
    (project / "cuda.py").write_text("import os\nprint('cvd', os.environ.get("
                                     "'CUDA_VISIBLE_DEVICES'), flush=True)\n")
    plain = ws.submit("hpc", "cuda.py")
    assert plain.wait(120) == RunStatus.COMPLETED, plain.record.reason
    assert "cvd None" in plain.log_text()[0]
    folder = Path(str(plain.record.target_state.folder()))
    status = json.loads((folder / "status.json").read_text())
    assert status["observed_env"] == {"CUDA_VISIBLE_DEVICES": None}
    assert "CUDA_VISIBLE_DEVICES" not in plain.record.environment
    attach(ws, sshd, base, name="gpuenv",
           sbatch_options="--export=ALL,CUDA_VISIBLE_DEVICES=3")
    given = ws.submit("gpuenv", "cuda.py")
    assert given.wait(120) == RunStatus.COMPLETED, given.record.reason
    assert "cvd 3" in given.log_text()[0]
    assert given.record.environment["CUDA_VISIBLE_DEVICES"] == "3"
    assert run_detail_json(given.record)["environment"]["CUDA_VISIBLE_DEVICES"] == "3"


def test_a_time_limit_ends_the_run_failed_with_slurms_timeout(
        project: Path, sshd: SshServer, slurm_cluster: SlurmCluster, base: str) -> None:
    """Slurm's own time-limit enforcement (OverTimeLimit=0, KillWait=2 in the generated
    conf) ends the job: the run is Failed with TIMEOUT in its reason. The limit is 5 min;
    an administrator's ``scontrol update EndTime=now`` (the time limit Slurm enforces, moved
    to now) makes Slurm's next time-limit check, at most 30 s later, end it."""
    ws = Workspace(project)
    attach(ws, sshd, base, time_limit="00:05:00")
    (project / "slow.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    run = ws.submit("hpc", "slow.py")
    wait_until(lambda: "up" in (run.refresh() and run.log_text()[0]), timeout=90,
               interval=0.3, message="the job to run")
    job = str(run.record.target_state.slurm_job_id)
    shown = slurm_cluster.run("scontrol", "-o", "show", "job", job).stdout
    assert "TimeLimit=00:05:00" in shown, shown
    moved = slurm_cluster.run("scontrol", "update", f"JobId={job}", "EndTime=now")
    assert moved.returncode == 0, moved.stderr
    assert run.wait(70) == RunStatus.FAILED, run.record.reason
    assert "TIMEOUT" in (run.record.reason or ""), run.record.reason
    assert "JobState=TIMEOUT" in slurm_cluster.run("scontrol", "-o", "show", "job", job).stdout
    ws.close()


def test_a_pending_job_is_queued_with_slurms_reason(
        ws: Workspace, project: Path, sshd: SshServer, base: str) -> None:
    # Given a job that holds both CPUs of the only node
    (project / "hold.py").write_text("import time\ntime.sleep(300)\n")
    (project / "quick.py").write_text("print('ran')\n")
    attach(ws, sshd, base, name="wide", cpus_per_task=2)
    holder = ws.submit("wide", "hold.py")
    wait_until(lambda: holder.refresh().status is RunStatus.RUNNING
               and holder.record.target_state.slurm_state == "RUNNING", timeout=90,
               interval=0.3, message="the holder to run")
    # When another run is submitted, it waits in Slurm's queue: Queued, the reason shown
    run = ws.submit("hpc", "quick.py")
    wait_until(lambda: run.refresh().status is RunStatus.QUEUED
               and "Resources" in (run.record.reason or ""), timeout=60,
               interval=0.3, message="the run to be Queued for Resources")
    assert run.record.reason and run.record.reason.startswith("Slurm: PENDING")
    assert (Path(run.record.target_state.folder()) / ".agent" / "spec.json").exists()
    listed = aml(project, "run", "show", run.id)
    assert "Queued" in listed.stdout and "Resources" in listed.stdout, listed.stdout
    # Then once the holder is canceled, it runs and completes, the reason gone
    ws.cancel(holder.id)
    assert run.wait(120) == RunStatus.COMPLETED
    assert run.record.reason is None and "ran" in run.log_text()[0]


# -- polling: one squeue per poll for every active run --------------------------------------

def test_reconciling_many_active_runs_asks_squeue_once(
        ws: Workspace, project: Path, slurm_cluster: SlurmCluster) -> None:
    (project / "wait.py").write_text("import time\ntime.sleep(300)\n")
    runs = [ws.submit("hpc", "wait.py") for _ in range(6)]
    before = squeue_calls(ws)
    target: Any = ws.target_for(ws.config.compute("hpc"))
    target.launch.view.forget()
    assert ws.reconcile_active() == len(runs)
    assert squeue_calls(ws) - before == 1
    statuses = {ws.store.get(r.id).status for r in runs}
    assert statuses <= {RunStatus.QUEUED, RunStatus.RUNNING}
    assert RunStatus.QUEUED in statuses          # 2 CPUs: most wait
    for run in runs:
        ws.cancel(run.id)
    for run in runs:
        assert run.wait(60) == RunStatus.CANCELED, run.record.reason


def test_without_accounting_a_job_squeue_does_not_list_is_read_from_scontrol(
        ws: Workspace, sshd: SshServer, slurm_cluster: SlurmCluster) -> None:
    """accounting_storage/none: sacct cannot answer; a finished job in a hidden partition
    (squeue lists it only with --all) is read from ``scontrol show job``, once."""
    job = slurm_cluster.run("sbatch", "--parsable", "-p", "unlisted", "-o", "/dev/null",
                            "--wrap", "exit 3", user=sshd.username).stdout.strip()
    assert job.isdigit(), job
    wait_until(lambda: "JobState=FAILED" in slurm_cluster.run(
        "scontrol", "-o", "show", "job", job).stdout, timeout=60, interval=0.3,
        message="the job to end")
    listed = slurm_cluster.run("squeue", "--me", "-h", "-t", "all", "-o", "%i",
                               user=sshd.username).stdout.split()
    assert job not in listed, "the test needs a job the user's squeue does not list"
    target: Any = ws.target_for(ws.config.compute("hpc"))
    view = target.launch.view
    view.forget()
    before = dict(view.calls)
    found = view.job(target, job)
    assert found is not None and found.state == "FAILED" and found.exit_code == 3
    assert found.partition == "unlisted" and found.node == slurm_cluster.node
    assert view.accounting is False
    assert view.calls["scontrol"] - before["scontrol"] == 1
    # an id slurmctld no longer knows (purged after MinJobAge) is asked once, then not again
    assert view.job(target, "999999") is None and view.job(target, "999999") is None
    assert view.calls["scontrol"] - before["scontrol"] == 2


# -- bad input: one line, the run Failed with the reason ------------------------------------

def test_a_rejected_sbatch_shows_sbatchs_message(ws: Workspace, project: Path, sshd: SshServer,
                                                  base: str) -> None:
    (project / "a.py").write_text("print('never')\n")
    attach(ws, sshd, base, name="toomany", memory="100000M")     # the node has 1000 MB
    with pytest.raises(AmlError) as info:
        ws.submit("toomany", "a.py")
    said = str(info.value)
    assert "sbatch refused the job" in said and "\n" not in said
    assert "Memory specification can not be satisfied" in said, said
    assert not ws.store.active_runs()         # nothing left half-started
    (record,) = ws.store.find_runs("")
    assert record.status is RunStatus.FAILED and "sbatch refused" in (record.reason or "")


def test_no_sbatch_on_the_login_node_is_one_line(ws: Workspace, project: Path, sshd: SshServer,
                                                  base: str) -> None:
    (project / "a.py").write_text("print('never')\n")
    # attach checks it: a login shell without the Slurm commands on its PATH
    env_file = Path(sshd.home) / ".ssh" / "environment"
    saved = env_file.read_text()
    bare = Path(sshd.home) / f".bare-{os.urandom(3).hex()}"      # sh and python3, no Slurm
    bare.mkdir()
    for tool in ("sh", "python3", "true", "cat", "env", "mkdir", "tar", "ln", "rm", "sed"):
        (bare / tool).symlink_to(f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}")
                                 else f"/bin/{tool}")
    env_file.write_text(saved + f"PATH={bare}\n")
    try:
        with pytest.raises(AmlError) as info:
            attach(ws, sshd, base, name="nosbatch")
        said = str(info.value)
        assert "sbatch was not found on the login node" in said and "\n" not in said
        # and a submit to a target attached before says the same, the run Failed
        with pytest.raises(AmlError) as info:
            ws.submit("hpc", "a.py")
        assert "sbatch was not found on the login node" in str(info.value)
        (record,) = ws.store.find_runs("")
        assert record.status is RunStatus.FAILED
        assert "sbatch was not found" in (record.reason or "") and not ws.store.active_runs()
    finally:
        env_file.write_text(saved)
        shutil.rmtree(bare, ignore_errors=True)


def test_a_base_folder_the_nodes_cannot_see_fails_the_run_with_the_explanation(
        ws: Workspace, project: Path, sshd: SshServer, slurm_cluster: SlurmCluster) -> None:
    hidden = slurm_cluster.hidden / f"base-{os.urandom(3).hex()}"
    attach(ws, sshd, str(hidden), name="unshared")
    (project / "a.py").write_text("print('never')\n")
    run = ws.submit("unshared", "a.py")
    assert run.wait(120) == RunStatus.FAILED
    reason = run.record.reason or ""
    assert "before the run agent started" in reason and "remoteBaseDirectory" in reason, reason
    assert "\n" not in reason


# -- a submitter killed mid-run -------------------------------------------------------------

def test_a_killed_submitter_leaves_the_run_to_complete_and_be_reconciled(
        ws: Workspace, project: Path) -> None:
    (project / "k.py").write_text("import time\ntime.sleep(2)\nprint('finished', flush=True)\n")
    run_id = submit_then_sigkill(project, "hpc", "k.py")
    run = ws.run(run_id)
    assert run.wait(120) == RunStatus.COMPLETED, run.record.reason
    assert "finished" in run.log_text()[0]
    assert json.loads(json.dumps(run.record.target_state.to_json()))["slurm_job_id"]


# -- sweeps: one job array ------------------------------------------------------------------

POINT = ("import os, sys\nprint('point', sys.argv[1:], os.environ.get('SLURM_ARRAY_TASK_ID'),"
         " flush=True)\n")


def test_a_sweep_is_one_job_array_throttled_by_max_concurrent(
        ws: Workspace, project: Path, slurm_cluster: SlurmCluster) -> None:
    from aml_magic.service.sweep import children_of, submit_sweep
    (project / "sw.py").write_text(POINT)
    parent = submit_sweep(ws, "hpc", "sw.py", ["--tag", "a b"], ["x=1,2,3,4"],
                          max_concurrent=2)
    assert parent.wait(180) == RunStatus.COMPLETED, parent.record.reason
    children = [ws.run(c["run_id"]) for c in children_of(parent.record)]
    jobs = [c.record.target_state.slurm_job_id or "" for c in children]
    arrays = {job.split("_")[0] for job in jobs}
    assert len(arrays) == 1 and [job.split("_")[1] for job in jobs] == ["0", "1", "2", "3"]
    (array,) = arrays
    assert parent.record.target_state.slurm_job_id == array
    shown = slurm_cluster.run("scontrol", "show", "job", array).stdout
    assert "ArrayTaskThrottle=2" in shown, shown
    for index, (child, value) in enumerate(zip(children, "1234")):
        assert child.record.status is RunStatus.COMPLETED
        assert f"point ['--tag', 'a b', '--x', '{value}'] {index}" in child.log_text()[0]
    # the CLI takes --max-concurrent for every target type
    cli = aml(project, "experiment", "submit", "-c", "hpc", "--sweep", "x=5,6",
              "--max-concurrent", "1", "-a", "sw.py")
    assert cli.returncode == 0, cli.stderr
    cli_parent = ws.run(cli.stdout.strip())
    assert cli_parent.wait(180) == RunStatus.COMPLETED
    assert cli_parent.record.config_snapshot["sweep"]["max_concurrent_runs"] == 1


def test_an_array_sweeps_driver_killed_leaves_the_parent_to_its_children(
        ws: Workspace, project: Path, slurm_cluster: SlurmCluster) -> None:
    """The submit launches the array itself and does not wait for the driver; a driver
    killed after taking over leaves the tasks to Slurm and the parent to its children."""
    import signal

    from aml_magic.service.sweep import children_of, submit_sweep
    (project / "sw.py").write_text(POINT)
    parent = submit_sweep(ws, "hpc", "sw.py", [], ["x=1,2"])
    assert ws.store.get(parent.id).target_state.slurm_job_id   # in Slurm when submit returns
    wait_until(lambda: ws.store.get(parent.id).target_state.driver_pid not in (None, os.getpid()),
               timeout=60, interval=0.1, message="the driver to take the sweep over")
    driver = int(ws.store.get(parent.id).target_state.driver_pid or 0)
    os.kill(driver, signal.SIGKILL)
    assert parent.wait(180) == RunStatus.COMPLETED, parent.record.reason
    assert f"pid {driver}" in (parent.record.reason or ""), parent.record.reason
    for child in children_of(parent.record):
        assert ws.store.get(child["run_id"]).status is RunStatus.COMPLETED


def test_canceling_a_sweep_cancels_its_array(ws: Workspace, project: Path,
                                             slurm_cluster: SlurmCluster) -> None:
    from aml_magic.service.sweep import children_of, submit_sweep
    (project / "nap.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    parent = submit_sweep(ws, "hpc", "nap.py", [], ["x=1,2,3,4,5"])
    wait_until(lambda: ws.store.get(parent.id).target_state.slurm_job_id, timeout=90,
               interval=0.3, message="the array to be submitted")
    array = str(ws.store.get(parent.id).target_state.slurm_job_id)
    ws.cancel(parent.id)
    assert parent.wait(60) == RunStatus.CANCELED
    for child in children_of(parent.record):
        assert ws.store.get(child["run_id"]).status is RunStatus.CANCELED
    # no task's launch spec (it holds the run's secrets) is left on the shared filesystem
    for child in children_of(parent.record):
        folder = Path(str(ws.store.get(child["run_id"]).target_state.run_dir))
        assert not (folder / ".agent" / "spec.json").exists()
    wait_until(lambda: set(slurm_cluster.run("squeue", "-h", "-r", "-t", "all", "-j", array,
                                             "-o", "%T").stdout.split()) == {"CANCELLED"},
               timeout=60, interval=0.3, message="every task of the array CANCELLED")


# -- a managed environment on the shared filesystem -----------------------------------------

def test_a_managed_environment_is_built_once_and_every_job_uses_it(
        project: Path, sshd: SshServer, slurm_cluster: SlurmCluster, base: str) -> None:
    ws = Workspace(project)
    attach(ws, sshd, base)
    path = project / "aml_config" / "hpc.compute"
    text = path.read_text()
    assert "userManagedEnvironment: true" in text
    path.write_text(text.replace("userManagedEnvironment: true", "userManagedEnvironment: false"))
    (project / "aml_config" / "conda_dependencies.yml").write_text(
        "name: e\ndependencies:\n  - python=3\n")
    first = ws.prepare("hpc")
    assert first.built and first.environment_hash, first.message
    assert not ws.prepare("hpc").built
    (project / "py.py").write_text("import sys\nprint('python', sys.executable)\n")
    run = ws.submit("hpc", "py.py")
    assert run.wait(120) == RunStatus.COMPLETED, run.record.reason
    assert f"/envs/{first.environment_hash}/bin/python" in run.log_text()[0]
    assert run.record.environment_hash == first.environment_hash
    ws.close()
