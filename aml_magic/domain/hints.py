"""Migration hints: a Workbench script that imports an ``azureml.*`` module aml_magic does not
provide fails with a bare ``ModuleNotFoundError``; the hint says which Workbench module it was
and what to use instead, in one line.

Found once, when the run ends, in the tail of its log, and stored in the run's provenance
(``provenance["hint"]``): history, ``aml run show`` and the widget show it without reading
logs again. ``azureml.logging`` and ``azureml.dataprep`` (also under its pre-release name
``dataprep``) are provided (``agent/compat``), so any other ``azureml.<x>``, or a part of
``dataprep`` the stand-in lacks, is the project's Workbench habit, not a typo in the user's own
package. A data-preparation block the stand-in cannot run ends the run with its own one line
(``UnsupportedBlockError: ...``), which becomes the hint as it is.
"""
from __future__ import annotations

import re
from pathlib import Path

from aml_magic.domain.nofollow import read_tail_nofollow

#: How much of the end of a run's log is searched (a traceback is at its end).
TAIL_BYTES = 64 * 1024

# "No module named 'azureml.dataprep'" (Python 3) and "No module named azureml.dataprep" (2)
# (compiled on first use, by ``re``: only a failed run's log is searched)
_MISSING = (r"(?:ModuleNotFoundError|ImportError): No module named "
            r"'?(azureml\.|dataprep\b)([A-Za-z_][A-Za-z0-9_]*)?((?:\.[A-Za-z0-9_]+)*)'?")
#: The stand-in's own one-line refusal of a data-preparation block.
_DATAPREP_ERROR = r"(?m)^(?:[\w.]+\.)?(?:UnsupportedBlockError|DataPrepError): (azureml\.dataprep: .+)$"
#: A notebook run's own last line (agent/compat/_aml_notebook.py): the failing cell and its
#: error, or the packages the run's interpreter lacks to run a notebook.
_NOTEBOOK = r"(?m)^aml_magic notebook: (.+)$"
#: What aml_magic's azureml.dataprep offers, for hints about the parts it lacks.
DATAPREP_OFFERS = ("aml_magic's azureml.dataprep reads .dprep/.dsource packages into pandas with "
                   "package.run, Package.open_package, datasource.load_datasource, read_csv and "
                   "auto_read")

_INSTEAD = {
    "dataprep": DATAPREP_OFFERS + "; for anything else load the data with pandas",
    "datacollector": "log values with get_azureml_logger() from azureml.logging, or write "
                     "files to ./outputs/",
    "api": "Workbench's web-service schema and deployment API is gone: save the model to "
           "./outputs/ and serve it with your own code (e.g. a Flask or FastAPI app)",
    "core": "azureml.core is the later Azure ML SDK (pip install azureml-core, with its own "
            "workspace); for metrics use get_azureml_logger() from azureml.logging",
}


def hint_for_module(submodule: str) -> str:
    """The one-line hint for ``azureml.<submodule>`` (dotted: ``dataprep.dataflow``)."""
    instead = _INSTEAD.get(submodule.split(".")[0])
    if instead is None:
        return (f"azureml.{submodule} is not provided by aml_magic; only azureml.logging "
                "(get_azureml_logger) and azureml.dataprep are")
    return f"azureml.{submodule} (Azure ML Workbench) is not provided by aml_magic: {instead}"


def hint_for_old_module(dotted: str) -> str:
    """The hint for ``dataprep[.<x>]``, Workbench's pre-release name of ``azureml.dataprep``:
    it names the replacement, as :func:`hint_for_module` does."""
    return (f"{dotted} (the pre-release name of azureml.{dotted}) is not provided by aml_magic: "
            f"use azureml.dataprep; {DATAPREP_OFFERS}")


def _hint_for_match(match: re.Match[str]) -> str | None:
    first, rest = match.group(2) or "", match.group(3) or ""
    if match.group(1) == "dataprep":
        return hint_for_old_module("dataprep" + (f".{first}" if first else "") + rest)
    if first == "logging" or not first:
        return None
    return hint_for_module(first + rest if first == "dataprep" else first)


def hint_from_log(text: str) -> str | None:
    """A notebook run's failing cell; else the hint for the last missing ``azureml.<x>``
    (other than ``logging``) or ``dataprep.<x>`` import named in ``text``, or the
    data-preparation stand-in's own refusal; None when there is none."""
    notebook = re.findall(_NOTEBOOK, text)
    if notebook:
        return notebook[-1].strip()
    refused = re.findall(_DATAPREP_ERROR, text)
    if refused:
        return refused[-1].strip()
    found = [hint for hint in map(_hint_for_match, re.finditer(_MISSING, text)) if hint]
    return found[-1] if found else None


def hint_from_log_file(path: Path) -> str | None:
    """``hint_from_log`` over the last ``TAIL_BYTES`` of a log file (None if unreadable)."""
    tail = read_tail_nofollow(path, TAIL_BYTES)
    if tail is None:
        return None
    return hint_from_log(tail.decode("utf-8", "replace"))
