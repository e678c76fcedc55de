"""What a run produces that the history keeps: the values it logged (``metrics.jsonl``) and the
files it wrote (``outputs/``). Read from its run folder (``parsing``, ``trees``), stored by the
history (``history.records`` re-exports them)."""
from __future__ import annotations

from aml_magic.domain.plain_data import plain_data

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@plain_data(frozen=True)
class Metric:
    """One logged value. ``value`` is a JSON scalar or a list; ``step`` counts per name and is
    filled in by the store when None; ``time`` defaults to the moment it is stored."""

    name: str
    value: Any
    step: int | None = None
    time: float | None = None


@plain_data(frozen=True)
class Artifact:
    """One file under the run's ``outputs/``; ``path`` is relative to that folder, '/'-separated."""

    path: str
    size: int
    sha256: str
