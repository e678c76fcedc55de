"""The runs a linked project's team server is running, for the Lab's status bar: the server's
own ``GET active-runs`` (its projects under ``<artifacts>/projects``, read by any member),
asked once per workspace as the member this machine is logged in as. A workspace that cannot
be asked (unreachable, not logged in, a refused token) leaves the local count whole and says
so in one line. Answers are kept ``KEEP_SECONDS`` (``FAILED_SECONDS`` for a failure): the
status bar asks every 2 s in every open Lab tab."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.service.contract.models import ActiveRunsJson, ProjectActiveJson
from aml_magic.service.team.link import project_name, read_link
from aml_magic.service.team.linked import linked_client

#: How long one workspace's count is reused.
KEEP_SECONDS = 2.0
#: How long a failure is reused (an unreachable server is not asked on every poll).
FAILED_SECONDS = 10.0
#: A team server answering slower than this counts as unreachable here.
TIMEOUT = 3.0

_lock = threading.Lock()
_answers: dict[str, tuple[float, list[ProjectActiveJson] | str]] = {}


def _ask(url: str, root: Path) -> list[ProjectActiveJson] | str:
    """The server's projects with runs going, or one line saying why they are not known."""
    try:
        client = linked_client(root)
        if client is None:
            return []
        client.timeout = TIMEOUT
        answer = client.get("active-runs", ActiveRunsJson)
        return [{"name": str(p["name"]), "path": "", "active": int(p["active"]),
                 "workspace": url} for p in answer["projects"] if int(p["active"]) > 0]
    except AmlError as exc:
        return f"workspace {url}: {str(exc).strip().splitlines()[0]}" if str(exc).strip() \
            else f"workspace {url}: no answer"
    except (ValueError, KeyError, TypeError) as exc:
        return f"workspace {url}: not an aml server's answer ({exc})"


def _cached(url: str, root: Path) -> list[ProjectActiveJson] | str:
    now = time.monotonic()
    with _lock:
        kept = _answers.get(url)
    if kept is not None and now - kept[0] < (KEEP_SECONDS if isinstance(kept[1], list)
                                             else FAILED_SECONDS):
        return kept[1]
    answer = _ask(url, root)
    with _lock:
        _answers[url] = (time.monotonic(), answer)
    return answer


def workspace_active(roots: Iterable[tuple[Path, str]]) -> tuple[list[ProjectActiveJson],
                                                                 list[str]]:
    """The team servers' projects with runs going (each with the local path of the linked
    folder that names it, '' when none does) and the failures, one line each, for the linked
    projects among ROOTS (``(folder, its path relative to the Jupyter root)``)."""
    linked: dict[str, list[tuple[Path, str]]] = {}
    for root, path in roots:
        try:
            url = read_link(root)
        except AmlError as exc:
            return [], [f"{path or '/'}: {exc}"]
        if url is not None:
            linked.setdefault(url.rstrip("/"), []).append((root, path))
    projects: list[ProjectActiveJson] = []
    errors: list[str] = []
    for url, folders in sorted(linked.items()):
        answer = _cached(url, folders[0][0])
        if isinstance(answer, str):
            errors.append(answer)
            continue
        local = {project_name(root): path for root, path in folders}
        for entry in answer:
            projects.append({**entry, "path": local.get(entry["name"], "")})
    return projects, errors


def forget() -> None:
    """Drop the kept answers (tests, or a new login)."""
    with _lock:
        _answers.clear()


def with_workspaces(counted: ActiveRunsJson,
                    roots: Iterable[tuple[Path, str]]) -> ActiveRunsJson:
    """COUNTED (the local projects') with the runs the workspaces of the linked projects
    among ROOTS are running added; ``workspace_error`` when one could not be asked."""
    remote, errors = workspace_active(roots)
    projects = list(counted["projects"]) + remote
    projects.sort(key=lambda p: (-p["active"], p["path"], p["name"]))
    added: ActiveRunsJson = {"active": sum(p["active"] for p in projects), "projects": projects}
    if errors:
        added["workspace_error"] = "; ".join(errors)
    return added
