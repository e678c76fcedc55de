"""How every ``aml`` listing prints: ``-o table`` (the text renderings of render.py), ``-o json``
(the shapes of schema.py), ``-o tsv``, and ``--query`` (JMESPath over the JSON form, with the
``jmespath`` library the Azure CLI uses), so ``az ml ... --query`` lines work unchanged.

Times are ISO-8601 (UTC) in ``-o json``, ``-o tsv`` and ``--query``, as the Azure CLI shows
them; the REST API keeps seconds since the epoch (the contract's convention)."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from aml_magic.errors import AmlError
from aml_magic.frontends.render import any_table, any_tsv
from aml_magic.service.schema import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON with ``-o json``, tab-separated with ``-o tsv``, else the text
    rendering (built only then). ``--query`` (JMESPath, as the Azure CLI) selects from the JSON
    form first; a query result is shown as a generic table."""
    query = getattr(args, "query", None)
    output = getattr(args, "output", "table")
    if query or output != "table":
        data = iso_times(data)
    if query:
        data = apply_query(query, data)
    if output == "json":
        print(dumps(data))
    elif output == "tsv":
        print(any_tsv(data))
    elif query:
        print(any_table(data))
    else:
        rendered = text if isinstance(text, str) else text()
        if rendered:                    # an empty listing without an "empty" line prints nothing
            print(rendered)


def apply_query(query: str, data: Any) -> Any:
    """``--query``: the JMESPath expression over ``data`` (the listing's JSON form); a bad
    expression is one line saying where it fails."""
    import jmespath                 # third-party: only --query loads it
    from jmespath.exceptions import JMESPathError
    try:
        return jmespath.search(query, data)
    except JMESPathError as exc:
        detail = " ".join(str(exc).split())
        raise AmlError(f"--query {query!r}: {detail}") from None


#: Fields holding seconds since the epoch in every shape (``service/contract/models.py``).
TIME_FIELDS = frozenset({"created_at", "started_at", "ended_at"})
#: Maps whose keys are the user's (metric names, variables, settings): never converted.
USER_MAPS = frozenset({"metrics", "environment", "configuration", "settings", "provenance"})


def iso_times(data: Any) -> Any:
    """A copy of JSON-like ``data`` with its time fields as ISO-8601 text in UTC (``2026-12-07T
    16:16:21.123+00:00``, which sorts as the time does): ``created_at``/``started_at``/
    ``ended_at`` anywhere, ``time`` in a metric (``name``, ``value``, ``step``, ``time``)."""
    if isinstance(data, list):
        return [iso_times(item) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = dict(data)
    for key in TIME_FIELDS:
        value: Any = out.get(key)
        if _is_seconds(value):
            out[key] = _iso(value)
    if "time" in out and _is_seconds(out["time"]) and {"name", "value", "step"} <= out.keys():
        out["time"] = _iso(out["time"])
    for key, value in data.items():
        if value.__class__ is list or (value.__class__ is dict and key not in USER_MAPS):
            out[key] = iso_times(value)
    return out


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _iso(seconds: float) -> str:
    """As ``datetime.fromtimestamp(s, timezone.utc).isoformat(timespec="milliseconds")`` (the
    same rounding: to the microsecond, then cut), without loading ``datetime``."""
    try:
        whole = int(seconds // 1)
        micro = round((seconds - whole) * 1_000_000)
        if micro >= 1_000_000:
            whole, micro = whole + 1, micro - 1_000_000
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    except (OverflowError, OSError, ValueError):      # a damaged record: show what it holds
        return str(seconds)
    return f"{stamp}.{micro // 1000:03d}+00:00"
