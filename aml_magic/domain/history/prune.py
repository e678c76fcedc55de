"""``aml history prune``: which ended runs to forget, and how much their folders hold.

Only runs in a terminal state are ever candidates (a live run's folder is being written).
The size listed for a run is what its folder occupies on disk (allocated blocks of every file
and folder in it, links not followed), so the total listed is what removing them frees."""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aml_magic.errors import AmlError
from aml_magic.domain.history.records import RunRecord, parse_status

if TYPE_CHECKING:
    from aml_magic.domain.history.store import RunStore

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 86400.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PAGE = 1000


@dataclass(frozen=True)
class Candidate:
    record: RunRecord
    folder: Path
    size: int


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` (a bare number is days) as seconds."""
    match = _AGE.match(text)
    if not match:
        raise AmlError(f"--older-than {text!r}: give an age such as 30d, 12h, 90m or 2w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def folder_size(folder: Path) -> int:
    """Bytes allocated on disk to ``folder`` and everything in it (``du`` counts the same)."""
    total = 0
    try:
        total += os.lstat(folder).st_blocks * 512
    except FileNotFoundError:
        return 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in [*dirnames, *filenames]:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def plan(store: RunStore, *, older_than: float | None = None, status: str | None = None,
         keep_last: int | None = None, now: float | None = None) -> list[Candidate]:
    """The ended runs matching every filter given, newest first; ``keep_last`` keeps that many
    of the newest matching runs out of the list. At least one filter must be given."""
    if older_than is None and status is None and keep_last is None:
        raise AmlError("history prune: say which runs: --older-than AGE, --status STATUS "
                       "and/or --keep-last N")
    if keep_last is not None and keep_last < 0:
        raise AmlError("history prune: --keep-last takes a number >= 0")
    wanted = None if status is None else parse_status(status)
    if wanted is not None and not wanted.is_terminal():
        raise AmlError(f"history prune: --status {wanted.value} is not an end state; only "
                       "Completed, Failed and Canceled runs can be pruned")
    cutoff = None if older_than is None else (time.time() if now is None else now) - older_than
    matching: list[RunRecord] = []
    offset = 0
    while True:
        page = store.list_runs(status=wanted, limit=_PAGE, offset=offset)
        matching += [r for r in page if r.status.is_terminal()
                     and (cutoff is None or r.created_at < cutoff)]
        if len(page) < _PAGE:
            break
        offset += _PAGE
    if keep_last is not None:
        matching = matching[keep_last:]
    return [Candidate(r, store.run_dir(r.run_id), folder_size(store.run_dir(r.run_id)))
            for r in matching]

