"""Where the Workbench corpus lives, which of its files are configuration files, and what a test
does when it is absent.

The corpus (110 real Workbench configuration files) is optional input, not part of the
repository: ``$AML_MAGIC_CORPUS``, else ``<repo>/../shared/compat/workbench-corpus`` when present.
Every test that reads it goes through :func:`require_corpus` / :func:`corpus_file`, so an absent
corpus skips with the reason outside CI and fails under ``CI=true``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests._require import require

PATTERNS = ("*.compute", "*.runconfig", "*conda_dependencies*.yml*", "spark_dependencies*.yml",
            "*.amb")
EXPECTED_COUNT = 110
REPO = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    """``$AML_MAGIC_CORPUS``, else ``shared/compat/workbench-corpus`` beside the repository."""
    override = os.environ.get("AML_MAGIC_CORPUS")
    if override:
        return Path(override)
    return REPO.parent / "shared" / "compat" / "workbench-corpus"


def require_corpus() -> Path:
    """The corpus root, or skip (fail under CI) saying where it was looked for."""
    root = corpus_root()
    require(root.is_dir(), f"Workbench corpus not found at {root} (set AML_MAGIC_CORPUS to it)")
    return root


def corpus_files() -> list[Path]:
    root = corpus_root()
    if not root.is_dir():
        return []
    return sorted({path for pattern in PATTERNS for path in root.rglob(pattern) if path.is_file()})


def corpus_params(files: list[Path]) -> list[Any]:
    """Parameters for a test over every corpus file; one ``None`` placeholder when the corpus is
    absent, so the test runs, calls :func:`require_corpus` and reports why (never an empty set)."""
    if not files:
        return [pytest.param(None, id="no-corpus")]
    root = corpus_root()
    return [pytest.param(path, id=str(path.relative_to(root))) for path in files]


def corpus_file(relative: str) -> Path:
    """One file of the corpus, or skip (fail under CI) when the corpus or the file is missing."""
    path = require_corpus() / relative
    require(path.is_file(), f"Workbench corpus file missing: {path}")
    return path
