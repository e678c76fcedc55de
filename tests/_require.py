"""The one place that decides what a missing component means: skip locally, fail under CI.

A test that needs a real component (sshd, dockerd, Chromium, a Python package, the Workbench
corpus) calls :func:`require` or :func:`require_module`; nothing else in the suite calls
``pytest.skip`` or ``pytest.importorskip`` for a missing component. Under ``CI=true`` (any case)
every such skip becomes a failure, so a CI run that passes has really exercised everything.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when ``CI`` says ``true`` in any case (GitHub, GitLab and most runners set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(reason: str) -> NoReturn:
    """Skip the test with REASON, or fail it under CI where every component must be present."""
    if in_ci():
        pytest.fail(f"missing under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require(condition: object, reason: str) -> None:
    """Go on when CONDITION holds; otherwise skip (or, under CI, fail) naming what is missing."""
    if not condition:
        missing(reason)


def require_module(name: str, hint: str = "") -> ModuleType:
    """Import NAME for the test, or skip/fail saying how to install it (``importorskip`` for CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        missing(f"python module {name} is not importable ({err}){'; ' + hint if hint else ''}")
