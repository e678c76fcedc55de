"""Prepare jobs: building an environment takes minutes, longer than a request may wait, so the
server starts it in its thread pool and answers with a job the sidebar polls for progress."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from aml_magic.errors import AmlError, ApiError

if TYPE_CHECKING:
    from aml_magic.service.contract.models import PrepareJobJson, PrepareJobState
    from aml_magic.service.workspace import Workspace

#: Progress lines a job keeps (the newest ones); a long build prints thousands.
MAX_PROGRESS_LINES = 500
#: Finished jobs kept for polling, oldest dropped first.
MAX_FINISHED_JOBS = 50


class PrepareJobs:
    """The prepare jobs of one server, by id."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._jobs: dict[str, PrepareJobJson] = {}
        self._lock = threading.Lock()

    def start(self, workspace: Workspace, runconfig: str) -> PrepareJobJson:
        job: PrepareJobJson = {
            "job_id": uuid.uuid4().hex, "project": workspace.name,
            "run_configuration": runconfig, "state": "running", "progress": [],
            "message": None, "built": None, "started_at": time.time(), "ended_at": None}
        with self._lock:
            self._jobs[job["job_id"]] = job
            self._forget_old()
        self._executor.submit(self._run, workspace, job)
        return self.get(job["job_id"])

    def get(self, job_id: str) -> PrepareJobJson:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ApiError(404, f"no prepare job '{job_id}' (jobs are kept in memory "
                                    "until the server stops)")
            return {**job, "progress": list(job["progress"])}

    def _run(self, workspace: Workspace, job: PrepareJobJson) -> None:
        def progress(line: str) -> None:
            with self._lock:
                job["progress"].append(line.rstrip("\n"))
                del job["progress"][:-MAX_PROGRESS_LINES]
        state: PrepareJobState = "failed"
        built = False
        try:
            result = workspace.prepare(job["run_configuration"], on_progress=progress)
            state, message, built = "succeeded", result.message, result.built
        except AmlError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - the job must end whatever happens
            message = f"internal error: {exc!r}"
        with self._lock:
            job["state"], job["message"], job["built"] = state, message, built
            job["ended_at"] = time.time()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j["state"] != "running"]
        finished.sort(key=lambda j: j["ended_at"] or 0.0)
        for job in finished[:max(0, len(finished) - MAX_FINISHED_JOBS)]:
            del self._jobs[job["job_id"]]
