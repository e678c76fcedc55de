"""A linked project's runs, through its workspace server: the submit (the project's snapshot
uploaded content-addressed, only the blobs the server lacks), following a run's log, and the
run verbs. The manifest is the one every submit takes (``domain/snapshot``: same hashes, same
ignore rules); the files the server owns (targets, the link, ``.aml/``) are never sent."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

from aml_magic.domain.config import find_project
from aml_magic.domain.digest import sha256
from aml_magic.domain.plain_data import plain_data
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.snapshot.manifest import Manifest, take_snapshot
from aml_magic.errors import AmlError, ApiError
from aml_magic.service.team import login as team_login
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.link import project_name, read_link
from aml_magic.service.submit_options import (DEPENDENCIES, OVERRIDES, check_max_concurrent,
                                              in_project, not_in_project)
from aml_magic.service.team.names import check_project_name, server_owned

TYPE_CHECKING = False
if TYPE_CHECKING:       # the contract's shapes, for the type checker: the CLI skips ~7 ms
    from aml_magic.service.contract import models as M

#: How often ``follow`` asks for more of a live log while none comes (print-to-client latency).
POLL_SECONDS = 0.1
#: The largest file a snapshot may hold: the server's request body limit (tornado's default).
MAX_BLOB = 100 * 2**20
#: How long the team server may hold a log request while nothing new comes (below the
#: client's timeout).
LONG_POLL = 10


@plain_data(frozen=True)
class LinkedProject:
    root: Path
    url: str
    name: str

    def query(self, **more: str | int | float) -> str:
        return "?" + urlencode({"project": self.name, **more})


@plain_data(frozen=True)
class Upload:
    files: int
    blobs: int          # blobs sent (the server lacked them)
    bytes: int


def linked_project(start: Path | None) -> LinkedProject | None:
    """The project at or above START if it is linked to a workspace; None when it is not (it
    works offline, as before)."""
    root = find_project(start)
    url = read_link(root)
    if url is None:
        return None
    name = project_name(root)
    try:
        check_project_name(name)
    except AmlError as exc:
        raise AmlError(f"{root}: {exc}; set `project: NAME` in aml_config/workspace.yml") \
            from None
    return LinkedProject(root, url, name)


def client_for(linked: LinkedProject) -> WorkspaceClient:
    """A client as this machine's member; refused when logged in to another workspace."""
    login = team_login.require()
    if login.url.rstrip("/") != linked.url.rstrip("/"):
        raise AmlError(f"this project is linked to {linked.url} but you are logged in to "
                       f"{login.url}; run `aml workspace login {linked.url} --token-stdin`")
    return WorkspaceClient(linked.url, login.token())


def snapshot_files(manifest: Manifest) -> dict[str, M.UploadedFileJson]:
    return {rel: {"sha256": e.sha256, "mode": e.mode} for rel, e in manifest.files.items()
            if not server_owned(rel)}


def project_files(linked: LinkedProject) -> dict[str, M.UploadedFileJson]:
    """The project's snapshot as the server takes it (what it owns left out); a file too large
    for the server is refused here, before anything is sent."""
    manifest = take_snapshot(linked.root)
    size, rel = max(((e.size, rel) for rel, e in manifest.files.items()), default=(0, ""))
    if size > MAX_BLOB:
        raise AmlError(f"{rel} is {size / 2**20:.1f} MiB; a workspace takes files of up to "
                       f"{MAX_BLOB / 2**20:g} MiB: list it in .amlignore and read it from "
                       "storage the target reaches")
    return snapshot_files(manifest)


def send_blobs(client: WorkspaceClient, linked: LinkedProject,
               files: Mapping[str, M.UploadedFileJson], missing: list[str]) -> tuple[int, int]:
    """Upload the blobs MISSING (hashes of FILES) the server lacks: (blobs, bytes) sent. A
    file that no longer hashes to its snapshot's hash is refused (submit again)."""
    by_sha = {entry["sha256"]: rel for rel, entry in files.items()}
    sent = 0
    for sha in missing:
        rel = by_sha.get(sha)
        if rel is None:
            raise AmlError(f"{linked.url} asked for a blob ({sha[:12]}) this snapshot does "
                           "not hold; submit again")
        data = (linked.root / rel).read_bytes()
        digest = sha256(len(data))
        digest.update(data)
        if digest.hexdigest() != sha:
            raise AmlError(f"{rel} changed while it was being uploaded; submit again")
        client.send("PUT", f"workspace/blobs/{sha}", data)
        sent += len(data)
    return len(missing), sent


def synchronize(client: WorkspaceClient, linked: LinkedProject,
                files: dict[str, M.UploadedFileJson],
                submit: M.SubmitRequest | None = None) -> tuple[M.SnapshotResultJson, Upload]:
    """Make the server's copy of the project hold FILES, then (SUBMIT) submit there: one
    request when the server has every blob already (nothing is sent twice); otherwise it
    answers which blobs it lacks (409, ``missing``), those go up and the snapshot is asked
    again."""
    body: M.SnapshotRequest = {"files": files}
    if submit is not None:
        body["submit"] = submit
    blobs = sent = 0
    for attempt in range(3):
        try:
            answer: M.SnapshotResultJson = client.request(
                "POST", f"workspace/projects/{quote(linked.name)}/snapshot", body)
            return answer, Upload(len(files), blobs, sent)
        except ApiError as exc:
            missing = exc.extra.get("missing") if exc.status == 409 else None
            if not isinstance(missing, list) or not missing or attempt == 2:
                raise
            more, size = send_blobs(client, linked, files, [str(m) for m in missing])
            blobs, sent = blobs + more, sent + size
    raise AssertionError("unreachable")     # the loop returns or raises


def submit(client: WorkspaceClient, linked: LinkedProject, run_configuration: str,
           script: str | None, arguments: list[str], *,
           overrides: Mapping[str, str | None] | None = None, sweep: list[str] | None = None,
           max_concurrent: int | None = None) -> tuple[M.RunJson, Upload]:
    """Upload, then submit in the server's copy of the project (one request, under the
    project's lock on the server). SCRIPT is sent relative to the project. OVERRIDES (``-t``,
    ``-d``, ``-s`` by their run configuration field) and the SWEEP go with it: a dependency
    file as its path in the project (it is in the snapshot), a target by name (one the
    workspace has: the server says which otherwise)."""
    request: M.SubmitRequest = {"run_configuration": run_configuration, "arguments": arguments}
    if script:
        request["script"] = relative_script(linked.root, script)
    wanted = {field: value for field, value in (overrides or {}).items() if value}
    for field in DEPENDENCIES:
        if field in wanted:
            wanted[field] = relative_dependency(linked.root, OVERRIDES[field], wanted[field])
    if sweep:
        request["sweep"] = list(sweep)
        if max_concurrent is not None:
            request["max_concurrent"] = check_max_concurrent(max_concurrent)
    files = project_files(linked)
    for field, value in wanted.items():
        if field in DEPENDENCIES and value not in files:
            raise AmlError(f"{OVERRIDES[field]} {value}: .amlignore or .gitignore leaves it out "
                           f"of the snapshot, so {linked.url} would not have it")
        request[field] = value      # type: ignore[literal-required]
    answer, sent = synchronize(client, linked, files, request)
    if answer["run"] is None:
        raise AmlError(f"{linked.url} took the snapshot but submitted no run")
    return answer["run"], sent


def prepare(client: WorkspaceClient, linked: LinkedProject, run_configuration: str,
            out: Callable[[str], None], poll: float = 0.5) -> M.PrepareJobJson:
    """Upload the project (its run configuration and dependency files as they are here),
    then build its environment on the server (``POST prepare``), printing the build's
    progress through OUT as it comes; the job once it has ended."""
    synchronize(client, linked, project_files(linked))
    asked: M.PrepareRequest = {"run_configuration": run_configuration}
    job: M.PrepareJobJson = client.request("POST", "prepare" + linked.query(), asked)
    shown: list[str] = []
    while True:
        for line in new_lines(shown, job["progress"]):
            out(line + "\n")
        shown = job["progress"]
        if job["state"] != "running":
            return job
        time.sleep(poll)
        job = client.request("GET", f"prepare/{quote(job['job_id'])}")


def new_lines(before: list[str], now: list[str]) -> list[str]:
    """The lines of NOW not in BEFORE: the job keeps only its newest lines, so NOW starts
    somewhere inside BEFORE (the longest end of BEFORE that NOW starts with)."""
    for k in range(min(len(before), len(now)), 0, -1):
        if before[len(before) - k:] == now[:k]:
            return now[k:]
    return now


def relative_script(root: Path, script: str) -> str:
    """SCRIPT relative to the project, as ``Workspace`` reads it (relative paths are from the
    project's root already)."""
    path = Path(script).expanduser()
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise AmlError(f"script {script} is outside the project {root}: copy it into the "
                       "project first") from None


def relative_dependency(root: Path, flag: str, value: str) -> str:
    """A ``-d``/``-s`` file as its posix path in the project (as the personal submit takes
    it: relative to the project); one outside the project is refused as there."""
    path = Path(value).expanduser()
    full = path if path.is_absolute() else root / path
    try:
        relative = full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise AmlError(not_in_project(flag, value, root)) from None
    if not in_project(root, relative):
        raise AmlError(not_in_project(flag, value, root))
    return relative


def follow(client: WorkspaceClient, linked: LinkedProject, run_id: str,
           write: Callable[[str], None], *, offset: int = 0,
           poll: float = POLL_SECONDS) -> M.RunDetailJson:
    """Write the run's log as it grows until the run has ended and all of it is written;
    the run's detail at the end (in the last answer: ``detail=1``). The team server holds
    each request until there is more (``wait``); a host that answers at once is asked again
    every POLL seconds."""
    while True:
        asked = time.monotonic()
        chunk: M.LogChunkJson = client.request(
            "GET", f"runs/{quote(run_id)}/log" + linked.query(offset=offset, wait=LONG_POLL,
                                                               detail=1))
        if chunk["text"]:
            write(chunk["text"])
        offset = int(chunk["next_offset"])
        if chunk["complete"]:
            break
        if not chunk["text"] and time.monotonic() - asked < poll:
            time.sleep(poll)
    return chunk["run"] if "run" in chunk else run(client, linked, run_id)


def run(client: WorkspaceClient, linked: LinkedProject, run_id: str) -> M.RunDetailJson:
    detail: M.RunDetailJson = client.request("GET", f"runs/{quote(run_id)}" + linked.query())
    return detail


def runs(client: WorkspaceClient, linked: LinkedProject, *, status: str | None,
         target: str | None, limit: int) -> list[M.RunJson]:
    more: dict[str, str | int] = {"limit": limit}
    if status:
        more["status"] = status
    if target:
        more["target"] = target
    try:
        page: M.RunPageJson = client.request("GET", "runs" + linked.query(**more))
        return page["runs"]
    except ApiError as exc:
        if exc.status == 404:           # nothing submitted yet: the server has no copy
            return []
        raise


def cancel(client: WorkspaceClient, linked: LinkedProject, run_id: str) -> M.RunJson:
    empty: M.EmptyRequest = {}
    cancelled: M.RunJson = client.request("POST", f"runs/{quote(run_id)}/cancel"
                                          + linked.query(), empty)
    return cancelled


def wait(client: WorkspaceClient, linked: LinkedProject, run_id: str,
         timeout: float | None, poll: float = 0.5) -> M.RunDetailJson:
    """The run's detail once it has ended, or when TIMEOUT seconds have passed."""
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        detail = run(client, linked, run_id)
        if RunStatus(detail["status"]).is_terminal() or (end is not None and time.monotonic() >= end):
            return detail
        time.sleep(poll)


#: The largest page the server's ``run-table`` answers.
TABLE_PAGE = 500


def history(client: WorkspaceClient, linked: LinkedProject, *, status: str | None,
            target: str | None, limit: int | None) -> tuple[list[M.RunJson],
                                                             dict[str, dict[str, object]]]:
    """The project's runs on the server, newest first (LIMIT of them, else all), and each
    one's last metric values (masked by the server): ``aml history list``, a page of
    ``run-table`` at a time."""
    found: list[M.RunJson] = []
    last: dict[str, dict[str, object]] = {}
    while limit is None or len(found) < limit:
        page = TABLE_PAGE if limit is None else min(TABLE_PAGE, limit - len(found))
        more: list[tuple[str, str | int]] = [("project", linked.name), ("sort", "created"),
                                             ("order", "desc"), ("limit", page),
                                             ("offset", len(found))]
        more += [("status", status)] if status else []
        more += [("target", target)] if target else []
        try:
            table: M.RunTableJson = client.request("GET", "run-table?" + urlencode(more))
        except ApiError as exc:
            if exc.status == 404:       # nothing submitted yet: the server has no copy
                break
            raise
        found += table["runs"]
        last.update(table["metrics"])
        if len(table["runs"]) < page or len(found) >= table["total"]:
            break
    return found, last


def compare(client: WorkspaceClient, linked: LinkedProject, run_ids: list[str],
            sweep: str | None) -> M.ComparisonJson:
    """``aml history compare``'s runs side by side, as the server compares them: RUN_IDS
    (unique prefixes will do) or SWEEP's children."""
    asked = [("project", linked.name), *(("run", r) for r in run_ids)]
    asked += [("sweep", sweep)] if sweep else []
    page: M.RunComparisonJson = client.request("GET", "compare?" + urlencode(asked))
    return {"runs": page["runs"], "metrics": page["metrics"],
            "environment_differences": page["environment_differences"]}


def download(client: WorkspaceClient, linked: LinkedProject, run_id: str, name: str,
             dest: Path) -> int:
    """Output NAME of the run written to DEST (a block at a time); its size."""
    size = 0
    answer = client.open(f"runs/{quote(run_id)}/outputs/{quote(name)}" + linked.query())
    with answer, open(dest, "wb") as copy:
        while block := answer.read(256 * 1024):
            copy.write(block)
            size += len(block)
    return size
