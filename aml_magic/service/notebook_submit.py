"""Submitting a notebook as a run: ``aml experiment submit -c T analysis.ipynb --lr 0.1``.

A notebook's arguments are its parameters, spelled as a script's are (``--NAME VALUE``,
``--NAME=VALUE``: what ``--sweep`` gives each child) or as ``--param NAME=VALUE``. The run's
record keeps ``analysis.ipynb --lr=0.1`` (so the runs table shows ``lr`` as a parameter); the
target starts ``python -m _aml_notebook analysis.ipynb --lr=0.1``, the executor shipped in the
agent's ``compat`` folder (agent/compat/_aml_notebook.py), which runs it with nbclient.
Parameters are checked here first, so a bad one is one line at submit, not a failed run.
"""
from __future__ import annotations

from aml_magic.agent.compat._aml_notebook import ParameterError, parse_parameters
from aml_magic.errors import AmlError

NOTEBOOK_SUFFIX = ".ipynb"
EXECUTOR_MODULE = "_aml_notebook"


def is_notebook(command: list[str]) -> bool:
    return bool(command) and command[0].endswith(NOTEBOOK_SUFFIX)


def notebook_command(command: list[str]) -> list[str]:
    """``[nb, --param, lr=0.1, --epochs, 3]`` -> ``[nb, --lr=0.1, --epochs=3]``: the record's
    command, one ``--NAME=VALUE`` per parameter; one clear error for a bad one."""
    try:
        parameters = parse_parameters(command[1:])
    except ParameterError as exc:
        raise AmlError(f"{command[0]}: {exc}") from None
    return [command[0], *(f"--{name}={value}" for name, value in parameters.items())]


def launch_command(command: list[str], framework: str | None) -> list[str]:
    """What the target's interpreter is given for a notebook run: the executor module."""
    if framework == "PySpark":
        raise AmlError(f"{command[0]}: a notebook runs under Python, not spark-submit; use a "
                       "run configuration with framework Python")
    return ["-m", EXECUTOR_MODULE, *command]

