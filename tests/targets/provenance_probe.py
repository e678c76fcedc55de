"""A script body that prints the interpreter it runs under, as the run's provenance must record
it: the path it was started by, the resolved path, the version, the prefix."""
from __future__ import annotations

import json
from typing import Any

PROBE = ("import json, os, platform, sys\n"
         "print('PROBE ' + json.dumps({'executable': sys.executable, "
         "'resolved': os.path.realpath(sys.executable), "
         "'version': platform.python_version(), 'prefix': sys.prefix}))\n")


def probed(log: str) -> dict[str, Any]:
    """What the probe printed in a run's log."""
    line = next(x for x in log.splitlines() if x.startswith("PROBE "))
    facts: dict[str, Any] = json.loads(line[len("PROBE "):])
    return facts


def assert_recorded(provenance: dict[str, Any], seen: dict[str, Any],
                    python_location: str | None) -> None:
    """The run's provenance names exactly the interpreter its script saw."""
    assert provenance["python"] == seen["resolved"], provenance
    assert provenance["python_version"] == seen["version"], provenance
    assert provenance["python_location"] == python_location, provenance
    assert provenance.get("python_executable", seen["resolved"]) == seen["executable"], provenance
    assert provenance["python_prefix"] == seen["prefix"], provenance
