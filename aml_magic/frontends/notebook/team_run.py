"""A run of a linked project's workspace, seen through its team server, with the reading side of
a local ``Run`` (``refresh``, ``log_text``, ``metrics``, ``outputs``, ``open_output``, ``cancel``,
``wait``, ``logs``): the live run widget and the static summary follow it unchanged, fed from the
server's REST routes as the member logged in on this machine. The target's credentials never
reach the notebook; only the server talks to the target."""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.results import Artifact, Metric
from aml_magic.domain.target_state import TargetState
from aml_magic.service.contract import models as M

if TYPE_CHECKING:
    from aml_magic.service.team.client import WorkspaceClient
    from aml_magic.service.team.remote import LinkedProject

#: What a follower's log request may wait on the team server for more (``wait``), seconds.
LONG_POLL = 10


def record_of(detail: M.RunDetailJson) -> RunRecord:
    """The history record a widget reads, from the server's run JSON (list or detail)."""
    state = TargetState(python=detail.get("python"), spark_app_id=detail.get("spark_app_id"),
                        spark_ui=detail.get("spark_ui"))
    return RunRecord(
        run_id=str(detail["run_id"]), project=str(detail.get("project") or ""),
        run_configuration=detail.get("run_configuration"),
        target=str(detail.get("target") or ""), target_type=str(detail.get("target_type") or ""),
        status=RunStatus(detail["status"]), created_at=float(detail.get("created_at") or 0),
        started_at=detail.get("started_at"), ended_at=detail.get("ended_at"),
        exit_code=detail.get("exit_code"), reason=detail.get("reason"),
        command=list(detail.get("command") or []), script=detail.get("script"),
        environment=dict(detail.get("environment") or {}), target_state=state,
        snapshot_digest=detail.get("snapshot_digest"), kind=str(detail.get("kind") or "script"),
        provenance=dict(detail.get("provenance") or {}))


class RemoteRun:
    """One run on the workspace; ``run["status"]`` reads its latest JSON (what the text path of
    the magics returned)."""

    folder = None           # no run folder here: no environment build log to follow
    starting = None

    def __init__(self, client: WorkspaceClient, linked: LinkedProject,
                 detail: M.RunJson) -> None:
        self.client = client
        self.linked = linked
        self.id = str(detail["run_id"])
        # A listed run (the submit's answer) until the first refresh: every key a detail has
        # past a listed run's is read with ``get``, as absent.
        self.detail = cast("M.RunDetailJson", dict(detail))
        self.record = record_of(self.detail)
        self.last_error: str | None = None

    def __getitem__(self, key: str) -> object:
        detail: Mapping[str, object] = self.detail
        return detail[key]

    def __repr__(self) -> str:
        return f"<run {self.id} on {self.linked.url}: {self.record.status.value}>"

    def _route(self, tail: str = "", **more: str | int | float) -> str:
        return f"runs/{quote(self.id)}{tail}" + self.linked.query(**more)

    def refresh(self) -> RunRecord:
        """The run as the server has it now (the server reconciles it with its target)."""
        self.detail = self.client.get(self._route(), M.RunDetailJson)
        self.record = record_of(self.detail)
        self.last_error = self.detail.get("unreachable")
        return self.record

    def log_text(self, offset: int, *, wait: float | None = None) -> tuple[str, int]:
        more = {"offset": offset} if wait is None else {"offset": offset, "wait": wait}
        chunk = self.client.get(self._route("/log", **more), M.LogChunkJson)
        return str(chunk["text"]), int(chunk["next_offset"])

    def metrics(self) -> list[Metric]:
        """As of the last ``refresh`` (the detail carries them)."""
        return [Metric(m["name"], m["value"], m.get("step"), m.get("time"))
                for m in self.detail.get("metrics") or []]

    def outputs(self) -> list[Artifact]:
        return [Artifact(o["path"], int(o["size"]), str(o.get("sha256") or ""))
                for o in self.detail.get("outputs") or []]

    def open_output(self, name: str) -> tuple[int, int]:
        """(fd, size) of an output downloaded from the server, as ``Run.open_output`` gives."""
        data = self.client.send("GET", self._route("/outputs/" + quote(name)), None)
        with tempfile.TemporaryFile() as handle:
            handle.write(data)
            handle.seek(0)
            return os.dup(handle.fileno()), len(data)

    def cancel(self) -> RunRecord:
        empty: M.EmptyRequest = {}
        self.client.post(self._route("/cancel"), empty, M.RunJson)
        return self.refresh()

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> RunRecord:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().status.is_terminal():
            if end is not None and time.monotonic() >= end:
                break
            time.sleep(poll)
        return self.record

    def logs(self, *, follow: bool = False) -> Iterator[str]:
        """The log's text as it comes (``follow``: until the run has ended), the server
        holding each request until there is more."""
        offset = 0
        while True:
            chunk = self.client.get(self._route(
                "/log", offset=offset, **({"wait": LONG_POLL} if follow else {})),
                M.LogChunkJson)
            if chunk["text"]:
                yield str(chunk["text"])
            offset = int(chunk["next_offset"])
            if chunk["complete"] or (not follow and not chunk["text"]):
                return
