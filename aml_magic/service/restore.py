"""``aml project restore --run-id ID``: put back the project files a run was submitted with.

The manifest (path -> sha256, size, mode) is the history's own copy, kept at submit where no
run can write (``history/manifests.py``), never the run folder's ``manifest.json``, which the
run may have rewritten. The content is found by hash, first in the run's own work copy
(``<run folder>/work``), then in the project as it is now, then in other runs' work copies (a
file unchanged since an older run); every file is verified by its sha256 as it is copied.
When some content exists nowhere any more, nothing is written and the missing files are named.

Writes stay inside the destination: never under ``.git/`` or ``.aml/`` (a hook written there
runs at the next ``git checkout``), never through a symbolic link (each folder is opened with
``O_NOFOLLOW``), modes only 0644 or 0755; the snapshot's ``.aml/cells/`` files (cells
``%%aml_submit`` exported) are left out and said so. Files that would be overwritten are listed first
(``RestorePlan.overwrites``): the front end asks before writing them.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from aml_magic.domain import digest as digests
from aml_magic.domain.plain_data import field, plain_data
from pathlib import Path

from aml_magic.domain.nofollow import open_dir_nofollow
from aml_magic.domain.snapshot.manifest import Manifest
from aml_magic.errors import AmlError, UnsafeRunFile

_CHUNK = 1 << 20
#: Folders restore never writes into, at any depth (git hooks and config; aml_magic's history).
FORBIDDEN_FOLDERS = (".git", ".aml")


@plain_data
class RestorePlan:
    """Where each file of the snapshot comes from; ``unchanged`` files are already right,
    ``overwrites`` are planned files that exist now with other content."""

    sources: dict[str, Path]
    unchanged: list[str]
    overwrites: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)    # .aml/ files (cells): never written


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None when it is not a readable regular file (never follows a
    symbolic link: a work copy may hold links a script made)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            digest = digests.sha256(info.st_size)
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        except OSError:
            return None
    return digest.hexdigest()


def refused_path(rel: str, dest: Path) -> str | None:
    """Why ``rel`` must not be written below ``dest``, or None."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        return "not a path inside the destination"
    if any(p in FORBIDDEN_FOLDERS for p in parts[:-1]) or parts[-1] in FORBIDDEN_FOLDERS:
        return f"restore never writes into {'/'.join(FORBIDDEN_FOLDERS)} folders"
    here = dest
    for part in parts[:-1]:                 # no folder on the way may be a link
        here = here / part
        if here.is_symlink():
            return f"{here} is a symbolic link; restore never writes through one"
        if not here.exists():
            break
    return None


def restored_mode(mode: int) -> int:
    """0755 for an executable file of the snapshot, else 0644 (never set-id, never writable
    by others, whatever the manifest says)."""
    return 0o755 if mode & 0o111 else 0o644


def refuse_unsafe_paths(manifest: Manifest, dest: Path, run_id: str) -> list[str]:
    """The snapshot's ``.aml/`` files (left out); raise naming every path that must not be
    written below ``dest`` (outside it, into ``.git``/``.aml``, through a link)."""
    refused = [f"{rel} ({why})" for rel in sorted(manifest.files)
               if not rel.startswith(".aml/") and (why := refused_path(rel, dest)) is not None]
    if refused:
        raise AmlError(f"cannot restore run {run_id} into {dest}: its snapshot names "
                       f"{len(refused)} path(s) restore must not write: {_some(refused)}. "
                       "Nothing was written")
    return sorted(rel for rel in manifest.files if rel.startswith(".aml/"))


def plan_restore(manifest: Manifest, *, run_folder: Path, dest: Path,
                 other_work_copies: Iterable[Path]) -> RestorePlan:
    """Find a verified source for every file of ``manifest``; raise naming what is gone or
    what would be written outside the destination's own files."""
    skipped = refuse_unsafe_paths(manifest, dest, run_folder.name)
    sources: dict[str, Path] = {}
    unchanged: list[str] = []
    overwrites: list[str] = []
    others = list(other_work_copies)
    missing: list[str] = []
    for rel, entry in sorted(manifest.files.items()):
        if rel.startswith(".aml/"):         # cells %%aml_submit exported: aml_magic's folder
            continue
        if sha256_of(dest / rel) == entry.sha256:
            unchanged.append(rel)
            continue
        for root in (run_folder / "work", *others):
            if sha256_of(root / rel) == entry.sha256:
                sources[rel] = root / rel
                break
        else:
            missing.append(rel)
        if os.path.lexists(dest / rel):
            overwrites.append(rel)
    if missing:
        raise AmlError(f"cannot restore run {run_folder.name}: the content of {len(missing)} "
                       f"file(s) of its snapshot exists nowhere any more ({_some(missing)}); "
                       "its work copy was removed or changed and the project no longer has "
                       "them. Nothing was written")
    return RestorePlan(sources, unchanged, overwrites, skipped)


def apply_restore(manifest: Manifest, plan: RestorePlan, dest: Path) -> int:
    """Write the planned files into ``dest``: each folder opened without following links,
    each file copied under a fresh name while its sha256 is checked, then renamed into place
    with mode 0644 or 0755; returns how many were written. Files not in the snapshot stay."""
    written = 0
    for rel, source in plan.sources.items():
        entry = manifest.files[rel]
        parent, _, name = rel.rpartition("/")
        try:
            folder = open_dir_nofollow(dest, parent, create=True, mode=0o755)
        except UnsafeRunFile as exc:
            raise AmlError(f"restore stopped at {rel}: {exc} ({written} file(s) written)") \
                from None
        try:
            _copy_verified(source, folder, name, entry.sha256, restored_mode(entry.mode))
        except AmlError as exc:
            raise AmlError(f"restore stopped at {rel}: {exc} ({written} file(s) written)") \
                from None
        finally:
            os.close(folder)
        written += 1
    return written


def _copy_verified(source: Path, folder: int, name: str, sha256: str, mode: int) -> None:
    """Copy ``source`` to ``name`` in the open ``folder``; the copy must hash to ``sha256``
    (a work copy a live run rewrites between the plan and the copy is refused)."""
    tmp = f".{name}.restore-{os.urandom(4).hex()}"
    try:
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise AmlError(f"cannot read {source}: {exc.strerror}") from None
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o600, dir_fd=folder)
    try:
        digest = digests.sha256(os.fstat(src).st_size)
        with os.fdopen(src, "rb") as fin, os.fdopen(out, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                fout.write(chunk)
            os.fchmod(fout.fileno(), mode)
        if digest.hexdigest() != sha256:
            raise AmlError(f"{source} changed while it was copied")
        os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=folder)
        except OSError:
            pass
        raise


def plan_run_restore(manifest: Manifest, *, run_folder: Path, dest: Path, project_root: Path,
                     runs_root: Path) -> RestorePlan:
    """The plan restoring the snapshot of the run in ``run_folder`` into ``dest``. Sources: the
    run's work copy, the project as it is, other runs' work copies (newest first)."""
    others = sorted((p / "work" for p in runs_root.iterdir()
                     if p.name != run_folder.name and (p / "work").is_dir()),
                    key=lambda p: p.parent.name, reverse=True) if runs_root.is_dir() else []
    return plan_restore(manifest, run_folder=run_folder, dest=dest,
                        other_work_copies=[project_root, *others])


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
