"""The ignore entries aml_magic relies on in a project's ``.gitignore`` and ``.amlignore``:
``.aml/`` (the run history, 10s of MB), ``outputs/`` and ``logs/`` (what runs write), appended
where no line mentions them yet (``config.init_project`` and ``aml init``'s adoption).

Existing lines are never rewritten or reordered, the file keeps its line endings and its bytes
(even ones that are not UTF-8), and a second call adds nothing. A line that re-includes an entry
(``!outputs/``) counts as mentioning it: appending the entry after it would silently undo the
user's choice.
"""
from __future__ import annotations

from pathlib import Path

from aml_magic.domain.atomic_file import replace_file

ADOPTED_ENTRIES = (".aml/", "outputs/", "logs/")
IGNORE_FILE_NAMES = (".gitignore", ".amlignore")
_COMMENT = b"# aml_magic: run history and caches (.aml/), what runs write (outputs/, logs/)"


def _bare(line: bytes) -> bytes:
    """The path a gitignore line names, without negation, anchoring and the folder slash, so
    ``/outputs``, ``outputs/`` and ``!outputs/`` all name ``outputs``."""
    text = line.strip()
    if text.startswith(b"!"):
        text = text[1:]
    return text.strip(b"/")


def ensure_entries(path: Path, entries: tuple[str, ...]) -> list[str]:
    """Append each of ``entries`` that no line of ``path`` mentions (creating the file if
    absent), in one write; returns the entries appended."""
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    mentioned = {_bare(line) for line in old.splitlines() if not line.lstrip().startswith(b"#")}
    missing = [e for e in entries if _bare(e.encode()) not in mentioned]
    if not missing:
        return []
    newline = b"\r\n" if b"\r\n" in old else b"\n"
    lead = newline if old and not old.endswith(b"\n") else b""
    addition = lead + newline.join([_COMMENT, *(e.encode() for e in missing)]) + newline
    _replace_bytes(path, old + addition)
    return missing


def _replace_bytes(path: Path, data: bytes) -> None:
    """Replace the file atomically, keeping its permission bits."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    replace_file(path, data, mode=mode)
