"""What the Slurm target reads from and says to the scheduler, without a cluster: squeue and
sacct answers, the state mapping (a time limit is Failed with Slurm's state, scancel is
Canceled, a script's own failure stays the agent's) and the sbatch options of a ``.compute``.
The real cluster is in test_slurm_target.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.domain.config import ComputeTarget
from aml_magic.domain.runfolder.parsing import AgentState
from aml_magic.errors import AmlError
from aml_magic.targets.slurm.launch import _slurm_end
from aml_magic.targets.slurm.scheduler import (
    Job,
    array_spec,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    sbatch_options,
)


def test_squeue_lines_become_jobs_by_id_with_array_tasks_and_exit_codes() -> None:
    text = ("41|41|N/A|COMPLETED|None|n1|debug|0|\n"
            "42|42|N/A|FAILED|NonZeroExitCode|n1|debug|768|\n"
            "45|43|2|RUNNING|None|n2|long|0|\n"
            "43|43|4-6%2|PENDING|JobArrayTaskLimit||long|0|\n"
            "garbage\n")
    jobs = parse_squeue(text)
    assert jobs["41"].run_status == "Completed" and jobs["41"].node == "n1"
    assert jobs["42"].exit_code == 3 and jobs["42"].run_status == "Failed"
    assert jobs["43_2"].state == "RUNNING" and jobs["43_2"].partition == "long"
    assert jobs["43_5"].run_status == "Queued" and jobs["43_5"].reason == "JobArrayTaskLimit"
    assert {"43_4", "43_5", "43_6"} <= set(jobs) and "garbage" not in jobs


def test_scontrol_show_job_lines_as_the_suites_cluster_wrote_them() -> None:
    """``scontrol -o show job`` captured from tests/fixtures/slurm.py's cluster: a failed job
    (exit 3) in the hidden partition, a pending array task, a job its time limit ended."""
    text = (Path(__file__).parent / "data" / "scontrol_show_job.txt").read_text()
    jobs = parse_scontrol(text)
    assert set(jobs) == {"1", "2_2", "3"}
    failed, task, timeout = jobs["1"], jobs["2_2"], jobs["3"]
    assert failed.run_status == "Failed" and failed.exit_code == 3
    assert (failed.node, failed.partition, failed.reason) == ("vm", "unlisted", "NonZeroExitCode")
    assert task.run_status == "Queued" and task.reason == "JobArrayTaskLimit" and task.node == ""
    assert timeout.state == "TIMEOUT" and timeout.exit_code == -15
    assert timeout.reason == "TimeLimit" and timeout.run_status == "Failed"
    assert parse_scontrol("slurm_load_jobs error: Invalid job id specified\n") == {}
    # a path with spaces cannot shadow a field read before it
    forged = ("JobId=5 JobName=r JobState=RUNNING Reason=None ExitCode=0:0 Partition=debug "
              "NodeList=n1 WorkDir=/x JobState=COMPLETED ExitCode=1:0")
    assert parse_scontrol(forged)["5"].state == "RUNNING"


def test_pending_array_ranges_expand_to_their_tasks() -> None:
    jobs = parse_squeue("7|7|N/A|PENDING|Priority||debug|0|\n")
    assert set(jobs) == {"7"}
    jobs = parse_sacct("9_[0-2,5%3]|PENDING|None|None assigned|debug|0:0\n"
                       "8|TIMEOUT|None|n1|debug|0:15\n")
    assert set(jobs) == {"9_0", "9_1", "9_2", "9_5", "8"}
    assert jobs["8"].run_status == "Failed" and jobs["8"].exit_code == 0


@pytest.mark.parametrize(("slurm", "run"), [
    ("PENDING", "Queued"), ("REQUEUED", "Queued"), ("RUNNING", "Running"),
    ("COMPLETING", "Running"), ("CONFIGURING", "Running"), ("COMPLETED", "Completed"),
    ("CANCELLED by 1000", "Canceled"), ("FAILED", "Failed"), ("TIMEOUT", "Failed"),
    ("OUT_OF_MEMORY", "Failed"), ("NODE_FAIL", "Failed"), ("PREEMPTED", "Failed")])
def test_slurm_states_map_onto_run_statuses(slurm: str, run: str) -> None:
    assert Job("1", slurm).run_status == run


def test_slurm_decides_an_end_it_caused_and_leaves_the_scripts_own() -> None:
    killed = AgentState("Failed", exit_code=-15, reason="killed by signal 15 (SIGTERM)")
    timeout = _slurm_end(killed, Job("1", "TIMEOUT"))
    assert timeout.state == "Failed" and timeout.reason is not None
    assert timeout.reason.startswith("Slurm ended the job: TIMEOUT")
    canceled = _slurm_end(AgentState("Failed", exit_code=-15), Job("1", "CANCELLED by 0"))
    assert canceled.state == "Canceled" and "CANCELLED" in (canceled.reason or "")
    own = _slurm_end(AgentState("Failed", exit_code=3, reason="exit code 3"), Job("1", "FAILED"))
    assert own.state == "Failed" and own.reason == "exit code 3"
    done = _slurm_end(AgentState("Completed", exit_code=0), Job("1", "CANCELLED"))
    assert done.state == "Completed"


def test_sbatch_options_are_one_argv_item_each() -> None:
    compute = ComputeTarget(name="hpc", type="slurm")
    for name, value in (("partition", "gpu"), ("account", "proj"), ("qos", "high"),
                        ("time_limit", "01:00:00"), ("cpus_per_task", 4), ("memory", "8G"),
                        ("gpus", 2), ("sbatch_options", "--constraint='a100 b' --exclusive")):
        compute.set_value(name, value)
    assert sbatch_options(compute) == [
        "--partition=gpu", "--account=proj", "--qos=high", "--time=01:00:00",
        "--cpus-per-task=4", "--mem=8G", "--gres=gpu:2", "--constraint=a100 b", "--exclusive"]
    compute.set_value("sbatch_options", "--comment='unclosed")
    with pytest.raises(AmlError, match="sbatchOptions cannot be split"):
        sbatch_options(compute)
    assert array_spec(100, 5) == "--array=0-99%5" and array_spec(3, None) == "--array=0-2"
