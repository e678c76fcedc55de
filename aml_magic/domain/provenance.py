"""What a run ran with, as found on its target: the interpreter the agent reports (path as
started, resolved path, version, environment prefix) turned into ``RunRecord.provenance`` and
into the one line ``aml run show`` and the widget print.

The agent reports these facts in ``status.json`` and in its launch answer (see
``agent/_supervisor.interpreter_facts``); they are written by code aml_magic shipped, but a
run could overwrite the file, so every value is checked before it is kept.
"""
from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

def python_facts(value: object) -> dict[str, str] | None:
    """The agent's ``python`` facts (``executable``, ``resolved``, ``version``, and ``prefix``
    when the agent reports it), each a short string; None when absent or malformed (the run
    may have written the file)."""
    if not isinstance(value, dict):
        return None
    facts = {k: value.get(k) for k in ("executable", "resolved", "version")}
    if not all(isinstance(v, str) and 0 < len(v) < 1024 for v in facts.values()):
        return None
    prefix = value.get("prefix")
    if isinstance(prefix, str) and 0 < len(prefix) < 1024:
        facts["prefix"] = prefix
    return {k: str(v) for k, v in facts.items()}


def describe_python(value: object) -> str | None:
    """``/path/python (3.11.2)`` (resolved path added when it differs) from the agent's
    ``python`` facts; None when absent or malformed (the run may have written the file)."""
    facts = python_facts(value)
    if facts is None:
        return None
    text = facts["executable"]
    if facts["resolved"] != facts["executable"]:
        text += f" -> {facts['resolved']}"
    return f"{text} (Python {facts['version']})"


def interpreter_provenance(facts: Mapping[str, str] | None,
                           python_location: str | None) -> dict[str, Any]:
    """``RunRecord.provenance`` from what the agent found on the target: the interpreter's
    resolved path and version, the path it was started by when that differs (a venv's
    ``bin/python`` resolves to its base interpreter), its prefix (which environment), and
    ``pythonLocation`` as configured (None: the target's default)."""
    if not facts:
        return {"python_location": python_location} if python_location else {}
    provenance: dict[str, Any] = {"python": facts["resolved"],
                                  "python_version": facts["version"],
                                  "python_location": python_location}
    if facts["executable"] != facts["resolved"]:
        provenance["python_executable"] = facts["executable"]
    if facts.get("prefix"):
        provenance["python_prefix"] = facts["prefix"]
    return provenance

