"""Values of the registry's attach options (``aml_magic/domain/registry.py``) for tests that
walk every option: a valid one, one of the wrong kind, and what a type needs."""
from __future__ import annotations

from typing import Any

from aml_magic.domain import registry
from aml_magic.domain.registry import Option


def sample(o: Option) -> Any:
    """A valid value of option O."""
    if o.kind == "flag":
        return True
    if o.kind == "integer":
        return (o.low or 0) + 1
    if o.kind == "choice":
        return o.choices[-1]
    if o.kind == "password":
        return "pw-sample"
    return o.example or f"{o.name}-value"


def bad(o: Option) -> Any:
    """A value of the wrong kind (or out of range, or not matching) for O."""
    return {"flag": "yes", "integer": "many", "choice": "bogus"}.get(
        o.kind, "not a host/name" if o.pattern else 42)


def required(type_name: str) -> dict[str, Any]:
    """The options TYPE needs, with valid values."""
    return {o.name: sample(o) for o in registry.options_for(type_name) if o.required}
