"""A pytest plugin for tests/test_markers.py: after collection (and ``-m`` deselection), print
one JSON line per selected test with its fixture closure and markers. Loaded with
``-p tests._collect_probe`` in a child pytest; unused otherwise."""
from __future__ import annotations

import json

import pytest

PREFIX = "AML-COLLECTED "


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        row = {"id": item.nodeid,
               "fixtures": sorted(getattr(item, "fixturenames", ())),
               "markers": sorted({mark.name for mark in item.iter_markers()})}
        print(PREFIX + json.dumps(row), flush=True)
