"""A fake ``Run`` for widget unit tests: the real one is exercised by the shell and kernel tests."""
from __future__ import annotations

import threading
import time
from typing import Any

from aml_magic.domain.history.records import Artifact, Metric, RunRecord
from aml_magic.domain.history.status import RunStatus
from tests._wait import wait_until


class FakeRun:
    """A run whose log, metrics and status the test drives; counts refresh calls."""

    def __init__(self, run_id: str = "proj_0000000000001_abcd", **record: Any) -> None:
        self.id = run_id
        self.record = RunRecord(run_id=run_id, project="proj", run_configuration="local",
                                target="local", target_type="local", started_at=time.time(),
                                **record)
        self.log = b""
        self._metrics: list[Metric] = []
        self._outputs: list[Artifact] = []
        self.refreshes = 0
        self.canceled = threading.Event()
        self.lock = threading.Lock()

    @property
    def status(self) -> RunStatus:
        return self.record.status

    def refresh(self) -> RunRecord:
        self.refreshes += 1
        return self.record

    def write(self, text: str) -> None:
        with self.lock:
            self.log += text.encode()

    def log_text(self, offset: int = 0) -> tuple[str, int]:
        with self.lock:
            data = self.log[offset:]
        end = data.rfind(b"\n") + 1
        return data[:end].decode(), offset + end

    def log_metric(self, name: str, value: Any) -> None:
        self._metrics.append(Metric(name, value, len([m for m in self._metrics
                                                      if m.name == name]), time.time()))

    def metrics(self) -> list[Metric]:
        return list(self._metrics)

    def outputs(self) -> list[Artifact]:
        return list(self._outputs)

    def finish(self, status: RunStatus = RunStatus.COMPLETED, *, exit_code: int = 0) -> None:
        self._outputs = [Artifact("model.txt", 12, "0" * 64)]
        self.record.ended_at = time.time()
        self.record.exit_code = exit_code
        self.record.status = status

    def cancel(self) -> RunStatus:
        self.canceled.set()
        self.finish(RunStatus.CANCELED, exit_code=-15)
        return self.record.status


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    """Wait until the widget's background thread made PREDICATE true (``tests/_wait.py``)."""
    wait_until(predicate, timeout, "the widget updated")
