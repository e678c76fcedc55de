"""What the Slurm target says to and reads from the scheduler, as pure functions: the sbatch
options of a ``.compute``, the job script, the parsing of ``squeue``/``sacct`` answers and
the mapping of Slurm's job states onto the run's.

Every value a user or a run wrote reaches the login node's shell through ``shlex.quote``
(``Transport.run`` quotes every argv item; the scripts here read their values from ``"$@"``).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aml_magic.errors import TargetError

if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget

#: squeue's fields, ``|``-terminated (``-O``: unpadded; ``exit_code`` is the wait status).
SQUEUE_FIELDS = "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,Reason:|,NodeList:|,Partition:|,exit_code:|"

# Slurm's job states, by the run status they mean.
QUEUED_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                           "RESV_DEL_HOLD", "SUSPENDED", "STOPPED"})
ACTIVE_STATES = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "STAGE_OUT", "SIGNALING",
                           "RESIZING"})
ENDED_STATES = {"COMPLETED": "Completed", "CANCELLED": "Canceled", "FAILED": "Failed",
                "TIMEOUT": "Failed", "OUT_OF_MEMORY": "Failed", "NODE_FAIL": "Failed",
                "PREEMPTED": "Failed", "BOOT_FAIL": "Failed", "DEADLINE": "Failed",
                "SPECIAL_EXIT": "Failed", "REVOKED": "Failed"}


@dataclass(frozen=True)
class Job:
    """One job (or array task) as the scheduler reported it."""
    job_id: str                   # "123", or "123_4" for an array task
    state: str                    # Slurm's state, e.g. PENDING
    reason: str = ""
    node: str = ""
    partition: str = ""
    exit_code: int | None = None  # the batch script's exit status, when Slurm says it

    @property
    def run_status(self) -> str:
        """Queued, Running, or the end state (Completed, Failed, Canceled)."""
        base = self.state.split()[0] if self.state else ""
        if base in QUEUED_STATES:
            return "Queued"
        if base in ENDED_STATES:
            return ENDED_STATES[base]
        return "Running"


def sbatch_options(compute: ComputeTarget) -> list[str]:
    """The options of every sbatch of ``compute`` (each one argv item: quoted when sent)."""
    out: list[str] = []
    for name, flag in (("partition", "--partition"), ("account", "--account"),
                       ("qos", "--qos"), ("time_limit", "--time"),
                       ("cpus_per_task", "--cpus-per-task"), ("memory", "--mem")):
        value = compute.value(name)
        if value not in (None, ""):
            out.append(f"{flag}={value}")
    gpus = compute.value("gpus")
    if gpus:
        out.append(f"--gres=gpu:{int(gpus)}")
    extra = compute.value("sbatch_options")
    if extra:
        try:
            out += shlex.split(str(extra))
        except ValueError as exc:
            raise TargetError(f"target '{compute.name}': sbatchOptions cannot be split as a "
                              f"shell would ({exc}): fix it in {compute.name}.compute") from None
    return out


#: The job script (its text never varies: values come as arguments). ``$1`` is the run folder,
#: or for an array the file listing one run folder per task (a task's output then goes on in
#: its run's ``log.txt``, Slurm's own in the array folder); ``$2`` the interpreter. The
#: launch spec (it holds the run's secrets) is read, then deleted, before the agent starts.
JOB_SCRIPT = r'''#!/bin/sh
run=$1; py=$2
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  run=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$1") || exit 97
  [ -d "$run/.agent" ] && exec >>"$run/log.txt" 2>&1
  tmpl=${1%/*}/template                 # the frozen snapshot, copied as the task starts
  if [ -d "$run/.agent" ] && [ ! -d "$run/work" ]; then
    cp -a "$tmpl/work" "$run/work.tmp" && mv "$run/work.tmp" "$run/work" \
      && cp -a "$tmpl/.agent/." "$run/.agent/" || exit 97
  fi
fi
case $py in "~/"*) py="$HOME/${py#"~/"}";; esac
spec="$run/.agent/spec.json"
if [ ! -r "$spec" ]; then
  echo "aml_magic: node $(hostname) cannot see the run folder $run (or it was started" \
       "twice): remoteBaseDirectory must be on a filesystem the compute nodes share" >&2
  exit 97
fi
exec 3<"$spec"
rm -f "$spec"
exec "$py" -S -E "$run/.agent/supervisor.py" run "$run" <&3 3<&-
'''

#: Array mode, in ONE process (no per-task copy at submit: 1000 tasks cost milliseconds):
#: stdin holds a run folder line and a launch spec line per task, in task order. The first
#: folder was synced; its tree becomes the array's pristine ``template/`` (one frozen snapshot
#: for every task), which ``job.sh`` copies into the task's run folder as the task starts.
#: Each task's spec is written 0600 into its ``.agent/``; ``runs.txt`` lists the folders.
ARRAY_FILL = r"""
import os, shutil, sys
target = sys.argv[1]
template = os.path.join(target, "template")
lines = sys.stdin.buffer.read().split(b"\n")
first = None
with open(os.path.join(target, "runs.txt"), "wb") as runs:
    for raw, spec in zip(lines[0::2], lines[1::2]):
        folder = raw.decode("utf-8")
        if first is None:
            first = folder
            if not os.path.isdir(template):
                os.makedirs(template, mode=0o700)
                os.rename(os.path.join(folder, "work"), os.path.join(template, "work"))
                shutil.copytree(os.path.join(folder, ".agent"),
                                os.path.join(template, ".agent"), symlinks=True)
        os.makedirs(os.path.join(folder, ".agent"), mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(folder, ".agent", "spec.json"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(spec)
        runs.write(raw + b"\n")
"""

#: Run over SSH as ``sh -c SUBMIT sh FOLDER MODE JOB_SCRIPT PYTHON ARRAY_FILL SBATCH_OPTION...``.
#: MODE ``one``: FOLDER is the run folder, its launch spec arrives on stdin (written 0600).
#: MODE ``array``: FOLDER is the array's folder, stdin is ``ARRAY_FILL``'s. Then one
#: ``sbatch --parsable``.
SUBMIT = r'''
target=$1; mode=$2; job=$3; py=$4; fill=$5; shift 5
umask 077
command -v sbatch >/dev/null 2>&1 || { echo "aml-no-sbatch" >&2; exit 91; }
mkdir -p "$target/.agent" || exit 90
if [ "$mode" = array ]; then
  case $py in "~/"*) p="$HOME/${py#"~/"}";; *) p=$py;; esac
  "$p" -S -E -c "$fill" "$target" || exit 90
  arg=$target/runs.txt
else
  cat > "$target/.agent/spec.json" || exit 90
  arg=$target
fi
printf '%s' "$job" > "$target/.agent/job.sh" || exit 90
exec sbatch --parsable "$@" "$target/.agent/job.sh" "$arg" "$py"
'''


def parse_squeue(text: str) -> dict[str, Job]:
    """``squeue -h -r -O SQUEUE_FIELDS`` as jobs by id ("123", "123_4")."""
    jobs: dict[str, Job] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 8:
            continue
        job_id, array_id, task, state, reason, node, partition, code = (p.strip()
                                                                        for p in parts[:8])
        key = f"{array_id}_{task}" if task not in ("", "N/A") else job_id
        exit_code = _wait_status(code)
        for one in _expand(key):
            jobs[one] = Job(one, state, reason if reason != "None" else "", node, partition,
                            exit_code)
    return jobs


def parse_sacct(text: str) -> dict[str, Job]:
    """``sacct -n -P -X -o JobID,State,Reason,NodeList,Partition,ExitCode`` by job id."""
    jobs: dict[str, Job] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 6:
            continue
        job_id, state, reason, node, partition, code = (p.strip() for p in parts[:6])
        first = code.split(":")[0]
        for one in _expand(job_id):
            jobs[one] = Job(one, state, reason if reason != "None" else "", node, partition,
                            int(first) if first.isdigit() else None)
    return jobs


def parse_scontrol(text: str) -> dict[str, Job]:
    """``scontrol -o show job ID`` (one line per job record, ``Key=value`` words): the jobs
    it names, array tasks as ``<array>_<task>``. Each key's FIRST word counts: the fields
    read come before the paths (WorkDir, StdOut, Command), whose spaces could make words that
    look like fields; the job name before them is the run's id."""
    jobs: dict[str, Job] = {}
    for line in text.splitlines():
        fields: dict[str, str] = {}
        for word in line.split():
            key, sep, value = word.partition("=")
            if sep:
                fields.setdefault(key, value)
        job_id, state = fields.get("JobId", ""), fields.get("JobState", "")
        if not job_id.isdigit() or not state:
            continue
        array, task = fields.get("ArrayJobId", ""), fields.get("ArrayTaskId", "")
        key = f"{array}_{task}" if array.isdigit() and task not in ("", "N/A") else job_id
        reason = fields.get("Reason", "")
        first, _, signal = fields.get("ExitCode", "").partition(":")
        code = int(first) if first.isdigit() else None
        if code == 0 and signal.isdigit() and int(signal):
            code = -int(signal)
        for one in _expand(key):
            jobs[one] = Job(one, state, reason if reason not in ("None", "(null)") else "",
                            fields.get("NodeList", "") if fields.get("NodeList") != "(null)"
                            else "", fields.get("Partition", ""), code)
    return jobs


def _wait_status(code: str) -> int | None:
    if not code.isdigit():
        return None
    value = int(code)
    return value >> 8 if value & 0x7F == 0 else -(value & 0x7F)


def _expand(key: str) -> list[str]:
    """A pending array's ``123_[0-9%2]`` (or ``123_1,3-5``) as its tasks' ids."""
    head, sep, rest = key.partition("_")
    if not sep or rest.isdigit():
        return [key]
    body = rest.strip("[]").split("%")[0]
    out: list[str] = []
    for part in body.split(","):
        low, dash, high = part.partition("-")
        if low.isdigit() and (not dash or high.isdigit()):
            out += [f"{head}_{i}" for i in range(int(low), int(high if dash else low) + 1)]
    return out


def array_spec(count: int, limit: int | None) -> str:
    """``--array=0-(N-1)%K``."""
    spec = f"--array=0-{count - 1}"
    return spec + (f"%{limit}" if limit else "")


__all__ = ["ACTIVE_STATES", "ARRAY_FILL", "ENDED_STATES", "JOB_SCRIPT", "Job", "QUEUED_STATES",
           "SQUEUE_FIELDS", "SUBMIT", "array_spec", "parse_sacct", "parse_scontrol", "parse_squeue",
           "sbatch_options"]
