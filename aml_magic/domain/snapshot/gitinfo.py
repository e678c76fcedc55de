"""The git commit a run was submitted from, recorded with it (provenance)."""
from __future__ import annotations

import os
from pathlib import Path


def git_info(project_root: Path) -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty) of the repository holding the project; (None, None) when it is not
    a repository or git is missing; commit None in a repository without commits. One ``git``
    process at most (``status --porcelain=v2 --branch`` reports both), none outside a
    repository."""
    if not any((folder / ".git").exists() for folder in (Path(project_root), *Path(project_root).parents)):
        return None, None
    import subprocess   # only inside a repository: ~7 % of a CLI start outside one
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.run(["git", "-C", str(project_root), "status", "--porcelain=v2",
                               "--branch"], capture_output=True, text=True, timeout=30, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if proc.returncode != 0:
        return None, None
    commit: str | None = None
    dirty = False
    for line in proc.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif not line.startswith("#"):
            dirty = True
    return commit, dirty
