"""Where the Workbench corpus lives and which of its files are configuration files."""
from __future__ import annotations

import os
from pathlib import Path

PATTERNS = ("*.compute", "*.runconfig", "*conda_dependencies*.yml*", "spark_dependencies*.yml",
            "*.amb")
EXPECTED_COUNT = 110


def corpus_root() -> Path:
    """``$AML_MAGIC_CORPUS``, else ``shared/compat/workbench-corpus`` beside the repository."""
    override = os.environ.get("AML_MAGIC_CORPUS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared/compat/workbench-corpus"


def corpus_files() -> list[Path]:
    root = corpus_root()
    if not root.is_dir():
        return []
    return sorted({path for pattern in PATTERNS for path in root.rglob(pattern) if path.is_file()})


def corpus_file(relative: str) -> Path:
    return corpus_root() / relative
