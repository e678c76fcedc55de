"""The runs not ended yet across every project the server knows, for Lab's status bar: the
count must not depend on the folder the file browser happens to show.

"Known" is the projects a request has opened plus those found under the server's root folder
by a bounded walk (a few levels, hidden folders skipped), repeated at most every
``RESCAN_SECONDS``; a project found this way is opened like any other, so the background
reconciler keeps its runs current too.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aml_magic.errors import AmlError

if TYPE_CHECKING:
    from aml_magic.service.api import AmlService
    from aml_magic.service.contract.models import ActiveRunsJson, ProjectActiveJson

#: How deep under the root a project is looked for (the root itself is depth 0).
MAX_DEPTH = 3
#: How many folders one walk looks at, at most (a huge root is not walked whole).
MAX_FOLDERS = 5000
#: The walk is repeated at most this often; projects opened by requests count at once.
RESCAN_SECONDS = 30.0
#: Folders never looked into besides hidden ones: big and never a project.
_SKIP = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env"})

_lock = threading.Lock()
_found: dict[Path, tuple[float, list[Path]]] = {}   # root -> (when walked, project folders)


def find_projects(root: Path) -> list[Path]:
    """Folders holding ``aml_config/`` at most MAX_DEPTH below ROOT, breadth first."""
    projects: list[Path] = []
    level, seen = [root], 0
    for depth in range(MAX_DEPTH + 1):
        below: list[Path] = []
        for folder in level:
            if (folder / "aml_config").is_dir():
                projects.append(folder)
            if depth == MAX_DEPTH:
                continue
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith(".") or entry.name in _SKIP or \
                                entry.name == "aml_config" or not entry.is_dir(follow_symlinks=False):
                            continue
                        seen += 1
                        if seen > MAX_FOLDERS:
                            return projects
                        below.append(Path(entry.path))
            except OSError:
                continue
        level = below
    return projects


def _projects_under(root: Path) -> list[Path]:
    now = time.monotonic()
    with _lock:
        cached = _found.get(root)
    if cached is not None and now - cached[0] < RESCAN_SECONDS:
        return cached[1]
    projects = find_projects(root)
    with _lock:
        _found[root] = (now, projects)
    return projects


def count(service: AmlService) -> ActiveRunsJson:
    """Each known project's active runs (those with any, most first) and their sum."""
    for folder in _projects_under(service.root_dir):
        try:
            service.workspace(folder.relative_to(service.root_dir).as_posix())
        except (AmlError, ValueError):
            continue
    projects: list[ProjectActiveJson] = []
    for workspace in service.workspaces():
        try:
            active = len(workspace.store.active_runs())
        except AmlError:
            continue
        if active:
            path = workspace.root.relative_to(service.root_dir).as_posix() \
                if workspace.root != service.root_dir else ""
            projects.append({"name": workspace.name, "path": path, "active": active})
    projects.sort(key=lambda p: (-p["active"], p["path"]))
    return {"active": sum(p["active"] for p in projects), "projects": projects}
