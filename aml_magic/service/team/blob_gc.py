"""``aml server gc``: remove the blobs nothing refers to any more from the team server's
content-addressed store (``<artifacts>/blobs``, ``snapshots.BlobStore``).

A blob is kept when the outputs index of a run in PostgreSQL (``artifacts``: pushed runs and
the runs the server executes) names it, when a server project's current snapshot
(``projects/*/.aml/team-snapshot.json``) or a kept snapshot manifest of one of its runs
(``projects/*/.aml/manifests/*.json``) lists it, or when it is younger than the grace period.
The grace period covers a member between two requests: a blob uploaded, or reported present
by ``blobs/missing`` (which refreshes its mtime), is kept until the snapshot or push that
needs it arrives. Candidates are listed before the references are read, and each one's age
is looked at again just before it goes, so a snapshot submitted while gc runs loses nothing.
Anything the references cannot be read from stops gc before it removes a file.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from aml_magic.domain.snapshot.manifest import Manifest
from aml_magic.domain.teamdb import check_schema, connect
from aml_magic.errors import AmlError
from aml_magic.service.team.names import SHA256
from aml_magic.service.team.snapshots import REFRESH, TMP_SUFFIX

#: Blobs younger than this are kept whatever refers to them (minutes).
DEFAULT_GRACE_MINUTES = 60.0
#: The shortest grace allowed: longer than ``blobs/missing`` waits to refresh a blob's mtime.
MIN_GRACE_MINUTES = 2 * REFRESH / 60


@dataclass
class GcReport:
    removed: int = 0
    freed: int = 0
    referenced: int = 0
    young: int = 0
    stale_uploads: int = 0
    dry_run: bool = False

    def line(self) -> str:
        verb, freed = ("would remove", "to free") if self.dry_run else ("removed", "freed")
        return (f"aml server gc: {verb} {self.removed} blob(s) and {self.stale_uploads} "
                f"abandoned upload(s), {_size(self.freed)} {freed}; kept {self.referenced} "
                f"referenced and {self.young} younger than the grace period")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def database_references(url: str) -> set[str]:
    """Every sha of a run's outputs index in the workspace's PostgreSQL."""
    with connect(url) as conn:
        check_schema(conn)
        rows = conn.execute("SELECT DISTINCT sha256 FROM artifacts").fetchall()
    return {str(row[0]) for row in rows}


def project_references(projects: Path) -> set[str]:
    """Every sha the server projects' current snapshots and kept run manifests list; an
    unreadable one is a one-line error (gc must not guess)."""
    shas: set[str] = set()
    if not projects.is_dir():
        return shas
    for project in sorted(projects.iterdir()):
        aml = project / ".aml"
        state = aml / "team-snapshot.json"
        try:
            if state.is_file():
                known = json.loads(state.read_text(encoding="utf-8"))
                shas.update(str(entry[0]) for entry in known.values())
            manifests = aml / "manifests"
            for path in sorted(manifests.glob("*.json")) if manifests.is_dir() else []:
                shas |= Manifest.from_json(path.read_bytes()).shas()
        except (OSError, ValueError, AttributeError, TypeError, KeyError, IndexError,
                AmlError) as exc:
            raise AmlError(f"gc stopped, nothing removed: cannot read the snapshots of "
                           f"{project} ({exc})") from None
    return shas


def _candidates(blobs: Path) -> list[tuple[Path, str | None]]:
    """(file, its sha; None for an upload's temporary file) of everything in the store."""
    found: list[tuple[Path, str | None]] = []
    if not blobs.is_dir():
        return found
    for shard in sorted(blobs.iterdir()):
        if not shard.is_dir() or shard.is_symlink() or len(shard.name) != 2:
            continue
        for entry in sorted(shard.iterdir()):
            if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX):
                found.append((entry, None))
            elif SHA256.match(shard.name + entry.name):
                found.append((entry, shard.name + entry.name))
    return found


def collect(database: str, artifacts: Path, *, grace_minutes: float = DEFAULT_GRACE_MINUTES,
            dry_run: bool = False, now: float | None = None) -> GcReport:
    """Remove (or with DRY_RUN only count) the unreferenced blobs older than the grace."""
    if grace_minutes < MIN_GRACE_MINUTES:
        raise AmlError(f"--grace must be at least {MIN_GRACE_MINUTES:g} minutes (a member "
                       "told a blob is on the server must find it there at the submit)")
    artifacts = artifacts.expanduser()
    if not (artifacts / "projects").is_dir():
        raise AmlError(f"{artifacts} is not a team server's artifacts folder (no projects/); "
                       "give the --artifacts of `aml server start`")
    candidates = _candidates(artifacts / "blobs")       # listed before the references
    referenced = database_references(database) | project_references(artifacts / "projects")
    report = GcReport(dry_run=dry_run)
    cutoff = (time.time() if now is None else now) - grace_minutes * 60
    for path, sha in candidates:
        if sha is not None and sha in referenced:
            report.referenced += 1
            continue
        try:
            st = path.lstat()                       # looked at again just before it goes
        except FileNotFoundError:
            continue
        if st.st_mtime >= cutoff:
            report.young += sha is not None
            continue
        if not dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
        if sha is None:
            report.stale_uploads += 1
        else:
            report.removed += 1
        report.freed += st.st_size
    return report
