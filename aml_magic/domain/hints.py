"""Migration hints: a Workbench script that imports an ``azureml.*`` module aml_magic does not
provide fails with a bare ``ModuleNotFoundError``; the hint says which Workbench module it was
and what to use instead, in one line.

Found once, when the run ends, in the tail of its log, and stored in the run's provenance
(``provenance["hint"]``): history, ``aml run show`` and the widget show it without reading
logs again. Only ``azureml.logging`` is provided (``agent/compat``), so any other
``azureml.<x>`` is the project's Workbench habit, not a typo in the user's own package.
"""
from __future__ import annotations

import re
from pathlib import Path

from aml_magic.domain.runfolder.files import read_tail_nofollow

#: How much of the end of a run's log is searched (a traceback is at its end).
TAIL_BYTES = 64 * 1024

# "No module named 'azureml.dataprep'" (Python 3) and "No module named azureml.dataprep" (2)
# (compiled on first use, by ``re``: only a failed run's log is searched)
_MISSING = (r"(?:ModuleNotFoundError|ImportError): No module named "
            r"'?azureml\.([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_.]*)?'?")

_INSTEAD = {
    "dataprep": "load the data with pandas (pandas.read_csv / read_parquet) in the script; "
                ".dprep packages do not run outside Workbench",
    "datacollector": "log values with get_azureml_logger() from azureml.logging, or write "
                     "files to ./outputs/",
    "api": "Workbench's web-service schema and deployment API is gone: save the model to "
           "./outputs/ and serve it with your own code (e.g. a Flask or FastAPI app)",
    "core": "azureml.core is the later Azure ML SDK (pip install azureml-core, with its own "
            "workspace); for metrics use get_azureml_logger() from azureml.logging",
}


def hint_for_module(submodule: str) -> str:
    """The one-line hint for ``azureml.<submodule>``."""
    instead = _INSTEAD.get(submodule)
    if instead is None:
        return (f"azureml.{submodule} is not provided by aml_magic; only azureml.logging is "
                "(get_azureml_logger)")
    return f"azureml.{submodule} (Azure ML Workbench) is not provided by aml_magic: {instead}"


def hint_from_log(text: str) -> str | None:
    """The hint for the last missing ``azureml.<x>`` import (other than ``logging``) named in
    ``text``; None when there is none."""
    found = [m.group(1) for m in re.finditer(_MISSING, text) if m.group(1) != "logging"]
    return hint_for_module(found[-1]) if found else None


def hint_from_log_file(path: Path) -> str | None:
    """``hint_from_log`` over the last ``TAIL_BYTES`` of a log file (None if unreadable)."""
    tail = read_tail_nofollow(path, TAIL_BYTES)
    if tail is None:
        return None
    return hint_from_log(tail.decode("utf-8", "replace"))
