"""``aml project restore --run-id ID``: put back the project files a run was submitted with.

A run folder keeps the snapshot's ``manifest.json`` (path -> sha256, size, mode) but not a
second copy of the project: the content is found by hash, first in the run's own work copy
(``<run folder>/work``), then in the project as it is now, then in other runs' work copies (a
file unchanged since an older run). Every file is verified by its sha256 before it is written;
when some content exists nowhere any more, nothing is written and the missing files are named.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.domain.snapshot.manifest import Manifest

_CHUNK = 1 << 20


@dataclass
class RestorePlan:
    """Where each file of the snapshot comes from; ``unchanged`` files are already right."""

    sources: dict[str, Path]
    unchanged: list[str]


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None when it is not a readable regular file (never follows a
    symbolic link: a work copy may hold links a script made)."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def plan_restore(manifest: Manifest, *, run_folder: Path, dest: Path,
                 other_work_copies: Iterable[Path]) -> RestorePlan:
    """Find a verified source for every file of ``manifest``; raise naming what is gone."""
    sources: dict[str, Path] = {}
    unchanged: list[str] = []
    others = list(other_work_copies)
    missing: list[str] = []
    for rel, entry in sorted(manifest.files.items()):
        if sha256_of(dest / rel) == entry.sha256:
            unchanged.append(rel)
            continue
        for root in (run_folder / "work", *others):
            if sha256_of(root / rel) == entry.sha256:
                sources[rel] = root / rel
                break
        else:
            missing.append(rel)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")
        raise AmlError(f"cannot restore run {run_folder.name}: the content of {len(missing)} "
                       f"file(s) of its snapshot exists nowhere any more ({shown}); its work "
                       "copy was removed or changed and the project no longer has them. "
                       "Nothing was written")
    return RestorePlan(sources, unchanged)


def apply_restore(manifest: Manifest, plan: RestorePlan, dest: Path) -> int:
    """Write the planned files into ``dest`` (each through a temporary file, then renamed, with
    the snapshot's mode); returns how many were written. Files not in the snapshot are left."""
    written = 0
    for rel, source in plan.sources.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restore-partial")
        shutil.copyfile(source, partial)
        os.chmod(partial, manifest.files[rel].mode)
        os.replace(partial, target)
        written += 1
    return written


def restore_run(manifest_path: Path, *, run_folder: Path, dest: Path, project_root: Path,
                runs_root: Path) -> tuple[int, int]:
    """Restore the snapshot of the run in ``run_folder`` into ``dest``; (written, unchanged).
    Sources: the run's work copy, the project as it is, other runs' work copies (newest
    first)."""
    if not manifest_path.is_file():
        raise AmlError(f"run {run_folder.name} has no snapshot manifest ({manifest_path}): "
                       "it was recorded before its snapshot was taken, or its folder was pruned")
    manifest = Manifest.from_json(manifest_path.read_bytes())
    others = sorted((p / "work" for p in runs_root.iterdir()
                     if p.name != run_folder.name and (p / "work").is_dir()),
                    key=lambda p: p.parent.name, reverse=True) if runs_root.is_dir() else []
    plan = plan_restore(manifest, run_folder=run_folder, dest=dest,
                        other_work_copies=[project_root, *others])
    return apply_restore(manifest, plan, dest), len(plan.unchanged)
