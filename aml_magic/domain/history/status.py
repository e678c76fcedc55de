"""Run status: the lifecycle ``Queued → Preparing → Running → Finalizing → terminal``."""
from __future__ import annotations

import enum


class RunStatus(str, enum.Enum):
    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    def is_terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)

    def __str__(self) -> str:
        return self.value
