"""``aml init`` in a folder that is already a project (a Workbench project with ``aml_config/``,
scripts and its own ``.gitignore``): the folder is adopted, not re-created.

What adoption changes is only additive: the ignore entries aml_magic relies on (``.aml/``, the
run history, 10s of MB; ``outputs/`` and ``logs/``, what runs write) are appended to
``.gitignore`` and ``.amlignore`` when no line mentions them yet. Existing lines are never
rewritten or reordered, the file keeps its line endings and its bytes (even ones that are not
UTF-8), and a second ``init`` adds nothing. A line that re-includes an entry (``!outputs/``)
counts as mentioning it: appending the entry after it would silently undo the user's choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aml_magic.domain.config.ignore_entries import ADOPTED_ENTRIES, IGNORE_FILE_NAMES, ensure_entries
from aml_magic.domain.config.project import CONFIG_DIR, create_config_files


@dataclass
class Adoption:
    """What ``init`` did to a folder: the project root and, per ignore file, the entries it
    appended (an empty dict: nothing was missing)."""
    root: Path
    added: dict[str, list[str]] = field(default_factory=dict)
    created_config: bool = False

    def summary(self) -> str:
        """One line per changed file, or one line saying nothing was missing."""
        if not self.added:
            return f"{self.root}: .gitignore and .amlignore already list .aml/, outputs/, logs/"
        return "\n".join(f"{self.root / name}: added {', '.join(entries)}"
                         for name, entries in self.added.items())


def init_or_adopt(directory: Path) -> Adoption:
    """``config.init_project``, telling what it did: the configuration files it lacks are
    created (existing ones are kept as they are) and the missing ignore entries appended."""
    created = not (Path(directory) / CONFIG_DIR).is_dir()
    root = create_config_files(Path(directory))
    adoption = Adoption(root, created_config=created)
    for name in IGNORE_FILE_NAMES:
        added = ensure_entries(root / name, ADOPTED_ENTRIES)
        if added:
            adoption.added[name] = added
    return adoption
