"""``sbatch`` as the launch (the ``slurm`` type): the snapshot syncs to the shared filesystem
as for a remote target (``RemotePlacement.sync``, content-addressed), then ONE SSH command
writes the launch spec (0600; the job script deletes it as it starts the agent) and runs
``sbatch --parsable``. Inside the allocation the job script runs the agent in the foreground
(``supervisor.py run``), which writes ``status.json``, ``log.txt``, metrics and outputs in the
run folder, read back through SSH like any remote run.

The scheduler is asked once per poll per target: ``SchedulerView`` keeps the answer of one
``squeue`` (every job of the login user, array tasks one per line) for ``POLL_SECONDS``, so
reconciling 100 active runs costs one call. Jobs squeue does not list are asked of ``sacct``
when accounting is enabled; without accounting (``accounting_storage/none``) of ``scontrol
show job``, which knows a job until ``MinJobAge`` purges it; past that their end is what the
agent wrote, and a job that ended without it says so.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from aml_magic.domain import runfolder
from aml_magic.errors import TargetError
from aml_magic.targets.base import AgentState, Launched, LaunchRequest, TargetState, join
from aml_magic.targets.launch import Launch, launch_spec, write_cancel_marker
from aml_magic.targets.slurm.scheduler import (
    ARRAY_FILL,
    JOB_SCRIPT,
    SQUEUE_FIELDS,
    SUBMIT,
    Job,
    array_spec,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    sbatch_options,
)

if TYPE_CHECKING:
    from aml_magic.targets.base import AgentTarget
    from aml_magic.transports.base import CommandResult

#: What the agent records of the job's environment as the run gets it: the GPUs Slurm gave
#: (``--gres=gpu:N``); the run's environment section shows it (``service/observed_env.py``).
OBSERVED_ENV = ("CUDA_VISIBLE_DEVICES",)
#: How long one squeue answer serves every run of the target (one poll pass).
POLL_SECONDS = 1.0


class SchedulerView:
    """The target's jobs as one ``squeue`` (and, for forgotten ones, one ``sacct``) said."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.at = 0.0
        self.calls: dict[str, int] = {"squeue": 0, "sacct": 0, "scontrol": 0}  # for tests
        self.accounting: bool | None = None       # None: not asked yet
        self.purged: set[str] = set()            # scontrol no longer knows them: not asked again
        self._lock = threading.Lock()

    def job(self, target: AgentTarget, job_id: str, *,
            newer_than: float = POLL_SECONDS) -> Job | None:
        """The job as squeue said at most ``newer_than`` seconds ago (one call serves every
        run of the target meanwhile)."""
        with self._lock:
            age = time.monotonic() - self.at
            if age > newer_than or (job_id not in self.jobs and age > 0.2):
                self._refresh(target)
            job = self.jobs.get(job_id)
            if job is None and self.accounting is not False:
                job = self._from_sacct(target, job_id)
            if job is None and self.accounting is False and job_id not in self.purged:
                job = self._from_scontrol(target, job_id)
            return job

    def forget(self) -> None:
        self.at = 0.0

    def _refresh(self, target: AgentTarget) -> None:
        result = target.transport.run(["squeue", "--me", "-h", "-r", "-t", "all",
                                       "-O", SQUEUE_FIELDS], timeout=60, check=False)
        self.calls["squeue"] += 1
        if result.exit_code != 0:
            raise TargetError(f"target '{target.compute.name}': squeue failed: "
                              f"{_said(result)}")
        self.jobs = parse_squeue(result.text)
        self.at = time.monotonic()

    def _from_sacct(self, target: AgentTarget, job_id: str) -> Job | None:
        result = target.transport.run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o",
                                       "JobID,State,Reason,NodeList,Partition,ExitCode"],
                                      timeout=60, check=False)
        self.calls["sacct"] += 1
        if result.exit_code != 0 or b"accounting storage is disabled" in result.stderr:
            self.accounting = False
            return None
        self.accounting = True
        found = parse_sacct(result.text)
        self.jobs.update(found)
        return found.get(job_id)


    def _from_scontrol(self, target: AgentTarget, job_id: str) -> Job | None:
        """Without accounting (``accounting_storage/none``): slurmctld's own record of a job
        squeue did not list (a hidden partition's; one that ended, until ``MinJobAge``
        purges it). A purged job is remembered, so each poll asks only for new ones."""
        result = target.transport.run(["scontrol", "-o", "show", "job", job_id], timeout=60,
                                      check=False)
        self.calls["scontrol"] += 1
        found = parse_scontrol(result.text) if result.exit_code == 0 else {}
        if job_id not in found:
            self.purged.add(job_id)
        self.jobs.update(found)
        return found.get(job_id)


class SbatchLaunch(Launch):
    """One ``sbatch`` per run; a sweep's children as one job array (``submit_array``)."""

    def __init__(self) -> None:
        self.view = SchedulerView()

    # -- submit -----------------------------------------------------------------------------
    def submit(self, target: AgentTarget, request: LaunchRequest) -> Launched:
        state = target.placement.sync(request)        # snapshot + agent in the run folder
        run_dir = state.folder()
        python = target.process_python()
        spec = self._spec(target, request, python)
        options = [f"--job-name={request.run_id}", f"--output={run_dir}/log.txt",
                   "--open-mode=append", *sbatch_options(target.compute)]
        job_id = self._sbatch(target, run_dir, "one", python, options, spec)
        self._fill(target, state, job_id)
        return Launched(state, None, queued=True)

    def submit_array(self, target: AgentTarget, requests: list[LaunchRequest], *,
                     name: str, limit: int | None) -> list[Launched]:
        """The runs of ``requests`` (a sweep's children: one frozen snapshot) as ONE job array
        ``--array=0-(N-1)%limit``: task i runs ``requests[i]``; its job id is
        ``<array>_<i>``. Two SSH commands whatever N: the first run folder's sync (its tree
        becomes the array's template, copied by each task as it starts), then the submit."""
        first = target.placement.sync(requests[0])   # one sync: every task copies it
        base = first.folder().rsplit("/runs/", 1)[0]
        states = [first] + [TargetState(run_dir=f"{base}/runs/{request.run_id}",
                                        sync=f"copy of {requests[0].run_id}'s")
                            for request in requests[1:]]
        python = target.process_python()
        lines = b""
        for request, state in zip(requests, states):
            lines += state.folder().encode() + b"\n" + self._spec(target, request, python) + b"\n"
        folder = f"{base}/arrays/{name}"
        options = [f"--job-name={name}", array_spec(len(requests), limit),
                   f"--output={folder}/slurm-%a.out", "--open-mode=append",
                   *sbatch_options(target.compute)]
        job_id = self._sbatch(target, folder, "array", python, options, lines)
        out = []
        for index, state in enumerate(states):
            self._fill(target, state, f"{job_id}_{index}")
            out.append(Launched(state, None, queued=True))
        return out

    def _spec(self, target: AgentTarget, request: LaunchRequest, python: str) -> bytes:
        return launch_spec(request, argv=target.process_argv(request, python), python=python,
                           heartbeat_seconds=target.heartbeat_seconds,
                           native_share_dir=target.compute.native_shared_directory,
                           observe_env=list(OBSERVED_ENV))

    def _fill(self, target: AgentTarget, state: TargetState, job_id: str) -> None:
        state.slurm_job_id = job_id
        state.slurm_partition = str(target.compute.value("partition") or "") or None
        state.slurm_state = "PENDING"
        state.heartbeat_seconds = target.heartbeat_seconds
        state.metrics_offset = 0
        state.launched_at = time.time()

    def _sbatch(self, target: AgentTarget, folder: str, mode: str, python: str,
                options: list[str], stdin: bytes) -> str:
        name = target.compute.name
        argv = ["sh", "-c", SUBMIT, "sh", folder, mode, JOB_SCRIPT, python, ARRAY_FILL,
                *options]
        result = target.transport.run(argv, stdin=stdin, timeout=120, check=False)
        self.view.forget()
        if result.exit_code == 91:
            raise TargetError(f"target '{name}': sbatch was not found on the login node "
                              f"{target.compute.address}; is this a Slurm login node (and "
                              "is sbatch on the login shell's PATH)?")
        if result.exit_code == 90:
            raise TargetError(f"target '{name}': the run folder {folder} could not be written "
                              f"on {target.compute.address}: {_said(result)}")
        if result.exit_code != 0:
            raise TargetError(f"target '{name}': sbatch refused the job: {_said(result)}")
        answer = result.text.strip().splitlines()
        job_id = answer[-1].split(";")[0].strip() if answer else ""
        if not job_id.isdigit():
            raise TargetError(f"target '{name}': unexpected answer from sbatch: "
                              f"{result.text[-200:]!r}")
        return job_id

    # -- state ------------------------------------------------------------------------------
    def observe_state(self, target: AgentTarget, target_state: TargetState,
                      state: AgentState) -> AgentState:
        """The agent's own status decides once it wrote one; before that (and when Slurm
        ended the job under it: a time limit, a node failure) Slurm's state does."""
        job_id = target_state.slurm_job_id
        if not job_id or (state.state == "Completed" and target_state.slurm_node):
            return state
        job = self.view.job(target, job_id)
        if job is not None and (job.run_status == "Queued" and state.state == "Running"
                                or job.run_status in ("Queued", "Running") and state.is_final):
            job = self.view.job(target, job_id, newer_than=0.2)   # the agent is further
        if job is not None:
            target_state.slurm_state = job.state
            target_state.slurm_node = job.node or target_state.slurm_node
            target_state.slurm_partition = job.partition or target_state.slurm_partition
        if state.is_final:
            if state.state != "Completed" and (state.exit_code or 0) < 0 and job is not None \
                    and job.run_status == "Running":
                # killed by a signal in a job Slurm is still ending (COMPLETING): scancel or a
                # time limit; the next poll has Slurm's verdict
                return AgentState("Running", heartbeat=time.time(),
                                  heartbeat_seconds=state.heartbeat_seconds)
            return _slurm_end(state, job)
        if job is None:
            return state       # squeue and sacct have forgotten it: the heartbeat decides
        status = job.run_status
        if status == "Queued" and state.state == "Missing":
            why = job.reason or "waiting"
            return AgentState("Queued", reason=f"Slurm: PENDING ({why})")
        if status in ("Completed", "Failed", "Canceled") and state.state in ("Missing",
                                                                              "Running"):
            return self._ended_without_agent(target, target_state, state, job)
        return state

    def _ended_without_agent(self, target: AgentTarget, target_state: TargetState,
                             state: AgentState, job: Job) -> AgentState:
        """Slurm says the job ended, the agent has not recorded an end: read status.json
        once more (it may have just written it), else the end is Slurm's."""
        again = runfolder.read_status(target.transport, join(target_state.folder(), "status.json"),
                                      heartbeat_seconds=target.heartbeat_seconds)
        if again.is_final:
            return again
        drop_specs(target, [target_state.folder()])     # never started: its secrets go
        if job.run_status == "Canceled":
            return AgentState("Canceled", reason=f"canceled in Slurm ({job.state})",
                              exit_code=job.exit_code, ended=time.time())
        if again.state == "Missing":
            why = (f"the Slurm job {job.job_id} ended {job.state} before the run agent "
                   f"started (exit code {job.exit_code}); if the job's log says the node cannot "
                   "see the run folder, set remoteBaseDirectory to a filesystem the compute "
                   "nodes share")
        else:
            why = f"Slurm ended the job: {job.state} (exit code {job.exit_code})"
        return AgentState("Failed", reason=why, exit_code=job.exit_code, ended=time.time())

    def alive(self, target: AgentTarget, state: TargetState) -> bool | None:
        job_id = state.slurm_job_id
        if not job_id:
            return False
        job = self.view.job(target, job_id)
        if job is None:
            return None if self.view.accounting is not False else False
        return job.run_status in ("Queued", "Running")

    def cancel(self, target: AgentTarget, state: TargetState) -> None:
        write_cancel_marker(target, state)
        if state.slurm_job_id:
            target.transport.run(["scancel", state.slurm_job_id], timeout=60, check=False)
            self.view.forget()
        drop_specs(target, [state.folder()])

    def cancel_array(self, target: AgentTarget, array_id: str, run_dirs: list[str]) -> None:
        target.transport.run(["scancel", array_id], timeout=60, check=False)
        self.view.forget()
        drop_specs(target, run_dirs)

    def kill_group(self, target: AgentTarget, state: TargetState) -> None:
        if state.slurm_job_id:
            target.transport.run(["scancel", state.slurm_job_id], timeout=60, check=False)

    def wait_for_change(self, target: AgentTarget, state: TargetState, timeout: float) -> None:
        time.sleep(timeout)


#: Slurm states that end a job from outside the run: they decide how the run ended.
_SLURM_ENDED = frozenset({"CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                          "DEADLINE", "BOOT_FAIL"})


def _slurm_end(state: AgentState, job: Job | None) -> AgentState:
    """The agent's end, unless Slurm ended the job (scancel, a time limit, a node failure):
    the agent then saw a SIGTERM (or its command was killed), and Slurm's state says why."""
    if job is None or state.state == "Completed":
        return state
    base = job.state.split()[0] if job.state else ""
    if base not in _SLURM_ENDED:
        return state
    if base == "CANCELLED":
        if state.state != "Canceled":
            state.state, state.reason = "Canceled", f"canceled in Slurm ({job.state})"
        return state
    state.state = "Failed"
    state.reason = f"Slurm ended the job: {job.state}" + (f" ({state.reason})" if state.reason
                                                          else "")
    return state


def drop_specs(target: AgentTarget, run_dirs: list[str]) -> None:
    """Delete the launch specs (they hold the runs' secrets) that no job will read now."""
    if run_dirs:
        target.transport.run(["rm", "-f", *(join(d, ".agent", "spec.json") for d in run_dirs)],
                             timeout=60, check=False)


def _said(result: CommandResult) -> str:
    text = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (" ".join(lines[-3:])[-400:]) or f"exit code {result.exit_code}"


__all__ = ["POLL_SECONDS", "SbatchLaunch", "SchedulerView"]
