"""How every ``aml`` listing prints: ``-o table`` (the text renderings of render.py), ``-o json``
(the shapes of schema.py), ``-o tsv``, and ``--query`` (JMESPath over the JSON form, with the
``jmespath`` library the Azure CLI uses), so ``az ml ... --query`` lines work unchanged."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from aml_magic.errors import AmlError
from aml_magic.frontends.render import any_table, any_tsv
from aml_magic.service.schema import dumps


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON with ``-o json``, tab-separated with ``-o tsv``, else the text
    rendering (built only then). ``--query`` (JMESPath, as the Azure CLI) selects from the JSON
    form first; a query result is shown as a generic table."""
    query = getattr(args, "query", None)
    output = getattr(args, "output", "table")
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
