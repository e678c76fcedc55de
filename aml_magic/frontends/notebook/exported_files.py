"""Which project files the magics wrote, so that they never overwrite one of the user's.

``.aml/exported.json`` maps each exported file (project-relative) to the SHA-256 of the content
the magics last wrote there. A file may be replaced only when it is absent, already holds the
new content, or still holds exactly what was recorded: a file the user wrote, or edited since the
export, has another hash, and the export is refused unless ``--force`` is given. The file is
written before the record, so a crash between the two errs on the side of refusing.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath

from aml_magic.domain.atomic_file import replace_file
from aml_magic.errors import AmlError

RECORD = PurePosixPath(".aml") / "exported.json"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record_path(project_root: Path) -> Path:
    return project_root.joinpath(*RECORD.parts)


def exported_hashes(project_root: Path) -> dict[str, str]:
    """The record; an unreadable or hand-edited one counts as empty (so nothing is overwritten
    on its word)."""
    try:
        data = json.loads(_record_path(project_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def write_export(project_root: Path, rel: PurePosixPath, data: bytes, *, what: str,
                 force: bool = False) -> bool:
    """Put ``data`` at ``rel`` unless that would overwrite a file the magics did not write
    (``what`` names the option for the one-line refusal); return whether the file changed."""
    path = project_root.joinpath(*rel.parts)
    key = rel.as_posix()
    mode = 0o644
    if path.is_symlink() or path.exists():
        if not path.is_file() or path.is_symlink():
            raise AmlError(f"{what}: {key} exists and is not a plain file; pick another name")
        current, mode = path.read_bytes(), path.stat().st_mode & 0o777
        if current == data:
            if force:
                _remember(project_root, key, data)
            return False
        if not force and exported_hashes(project_root).get(key) != content_hash(current):
            raise AmlError(f"{what}: {key} already exists and was not written by aml_magic (or was "
                           "edited since); pass --force to overwrite it, or pick another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, data, mode=mode)
    _remember(project_root, key, data)
    return True


def _remember(project_root: Path, key: str, data: bytes) -> None:
    record = _record_path(project_root)
    record.parent.mkdir(parents=True, exist_ok=True)
    fresh = {**exported_hashes(project_root), key: content_hash(data)}
    replace_file(record, (json.dumps(fresh, indent=1, sort_keys=True) + "\n").encode("utf-8"))
