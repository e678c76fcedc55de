"""A notebook as a run: ``python -m _aml_notebook NOTEBOOK.ipynb [--NAME VALUE ...]``.

Shipped with the agent (its ``compat`` folder is on the run's ``PYTHONPATH``) and started by the
agent in place of a script, in the run's own interpreter: the notebook runs headless with
nbclient in a kernel of that same interpreter, so the packages the run sees are the ones the
notebook sees. This module imports only the standard library until it runs; nbclient,
nbformat and ipykernel must be installed in the run's interpreter, and when they are not the
run fails with one line saying so.

Parameters are injected as papermill does: a new cell (tagged ``injected-parameters``) after the
cell tagged ``parameters``, or at the top when none is tagged. Each value is a Python literal
(``ast.literal_eval``; any other text is a string), written back with ``repr``: never code taken
from the command line. The executed notebook, with its outputs, is written after every cell to
``outputs/<name>.ipynb`` (the run's outputs), so a failed or cancelled run keeps what ran.

The log shows each cell as it starts and what it printed; a failing cell ends the run with
``aml_magic notebook: ...`` as its last line, which the host keeps as the run's hint.
"""
from __future__ import annotations

import keyword
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The prefix of the line the host reads back as the run's hint (domain/notebook_hints.py).
HINT_PREFIX = "aml_magic notebook: "
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
OUTPUTS = "outputs"
PACKAGES = ("nbclient", "nbformat", "ipykernel")


class ParameterError(ValueError):
    """A notebook argument that is no ``--NAME VALUE``, ``--NAME=VALUE`` or ``--param N=V``."""


def _literal_eval(text: str) -> Any:
    # stdlib `ast` costs ~18 M instructions to import (~6 ms): the host imports this module
    # (notebook_submit) on every `aml experiment submit`, and only a notebook's values need it
    import ast
    return ast.literal_eval(text)


def literal(text: str) -> Any:
    """``0.1`` -> 0.1, ``True`` -> True, ``[1, 2]`` -> [1, 2]; any other text stays a string."""
    try:
        return _literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _name(raw: str) -> str:
    name = raw.replace("-", "_")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(f"notebook parameter {raw!r} is not a Python name")
    return name


def parse_parameters(args: list[str]) -> dict[str, str]:
    """The notebook's parameters, as text: ``--NAME VALUE``, ``--NAME=VALUE`` (what a sweep
    gives each child) and ``--param NAME=VALUE``; a lone ``--NAME`` is ``True``."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        item = args[i]
        if item in ("--param", "-p") or item.startswith("--param="):
            spec = item[len("--param="):] if item.startswith("--param=") else (
                args[i + 1] if i + 1 < len(args) else "")
            i += 1 if item.startswith("--param=") else 2
            if "=" not in spec:
                raise ParameterError(f"--param {spec!r}: expected NAME=VALUE (e.g. --param lr=0.1)")
            name, value = spec.split("=", 1)
            found[_name(name)] = value
            continue
        if not item.startswith("--") or len(item) == 2:
            raise ParameterError(f"notebook argument {item!r}: a notebook takes parameters as "
                                 "--NAME VALUE or --param NAME=VALUE")
        if "=" in item:
            name, value = item[2:].split("=", 1)
            i += 1
        elif i + 1 < len(args) and not (args[i + 1].startswith("--") and len(args[i + 1]) > 2):
            name, value = item[2:], args[i + 1]
            i += 2
        else:
            name, value = item[2:], "True"
            i += 1
        found[_name(name)] = value
    return found


def literal_code(text: str) -> str:
    """The literal's code, when it reads back as the same value; else the text as a string
    (``1e999`` would be ``inf``, which is no literal)."""
    value = literal(text)
    code = repr(value)
    try:
        if _literal_eval(code) == value:
            return code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return repr(text)


def parameters_source(parameters: dict[str, str]) -> str:
    """The injected cell's code: one ``NAME = <literal>`` line per parameter."""
    lines = ["# Parameters (injected by aml_magic)"]
    lines += [f"{name} = {literal_code(value)}" for name, value in parameters.items()]
    return "\n".join(lines) + "\n"


def inject(nb: Any, parameters: dict[str, str], new_code_cell: Any) -> None:
    """Put the parameters cell after the ``parameters``-tagged cell (or first); an earlier
    injected cell (a notebook that is itself an executed run's output) is replaced."""
    if not parameters:
        return
    cells = [cell for cell in nb.cells
             if INJECTED_TAG not in cell.get("metadata", {}).get("tags", [])]
    at = next((index + 1 for index, cell in enumerate(cells)
               if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])), 0)
    cell = new_code_cell(source=parameters_source(parameters))
    cell.metadata["tags"] = [INJECTED_TAG]
    cells.insert(at, cell)
    nb.cells = cells


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _cell_text(outputs: list[Any]) -> str:
    """What a cell printed (streams) and its error, for the log."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])))
    return "".join(parts)


_ANSI = None


def _plain(text: str) -> str:
    global _ANSI
    if _ANSI is None:
        import re
        _ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    return _ANSI.sub("", text)


def _kernel_manager(workdir: str) -> Any:
    """A kernel of this very interpreter (not whatever ``python3`` kernelspec is installed),
    reached over Unix sockets in WORKDIR (mode 0700: a temporary folder)."""
    import json

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    folder = os.path.join(workdir, "kernels", "aml_run")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "kernel.json"), "w") as handle:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                            "{connection_file}"],
                   "display_name": "aml_magic run", "language": "python"}, handle)
    specs = KernelSpecManager(kernel_dirs=[os.path.join(workdir, "kernels")])
    # IPC sockets in the private folder, not TCP ports other users of a shared host can reach
    return KernelManager(kernel_name="aml_run", kernel_spec_manager=specs, transport="ipc",
                         ip=os.path.join(workdir, "kernel"))


def execute(path: str, parameters: dict[str, str]) -> int:
    """Run the notebook; 0 when every cell ran, 1 when one failed (the hint line is printed)."""
    try:
        import nbclient  # noqa: F401
        import nbformat
        import ipykernel  # noqa: F401
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        _say(f"{HINT_PREFIX}{missing} is not installed in {sys.executable}: a notebook run "
             f"needs {', '.join(PACKAGES)} there (pip install {' '.join(PACKAGES)}, or add "
             "them to conda_dependencies.yml and prepare)")
        return 2
    import signal
    import tempfile

    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    def stop(signum: int, frame: Any) -> None:   # cancel: shut the kernel down on the way out
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    nb = nbformat.read(path, as_version=4)
    inject(nb, parameters, nbformat.v4.new_code_cell)
    nb.metadata["aml_magic"] = {"run_id": os.environ.get("AML_MAGIC_RUN_ID"),
                                "parameters": dict(parameters)}
    os.makedirs(OUTPUTS, exist_ok=True)
    out = os.path.join(OUTPUTS, os.path.basename(path))
    code = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    _say(f"[notebook] {path}: {len(code)} code cells"
         + (f", parameters {', '.join(f'{k}={literal(v)!r}' for k, v in parameters.items())}"
            if parameters else ""))
    with tempfile.TemporaryDirectory(prefix="aml-nb-") as workdir:
        client = NotebookClient(nb, km=_kernel_manager(workdir), timeout=None,
                                resources={"metadata": {"path": os.getcwd()}})
        failed = None
        try:
            with client.setup_kernel():     # its exit shuts the kernel down, also on cancel
                for number, index in enumerate(code, 1):
                    cell = nb.cells[index]
                    _say(f"[notebook] cell {number}/{len(code)} (#{index + 1})")
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as exc:
                        failed = (number, index, exc)
                    finally:
                        text = _plain(_cell_text(cell.get("outputs", [])))
                        if text:
                            sys.stdout.write(text if text.endswith("\n") else text + "\n")
                            sys.stdout.flush()
                        nbformat.write(nb, out)
                    if failed:
                        break
        except KeyboardInterrupt:
            _say(f"[notebook] stopped; the notebook as far as it ran is {out}")
            return 130
        finally:
            nbformat.write(nb, out)
    if failed:
        number, index, cell_error = failed
        error = (f"{getattr(cell_error, 'ename', 'Error')}: "
                 f"{getattr(cell_error, 'evalue', '')}").strip()
        _say(f"{HINT_PREFIX}cell {number} (#{index + 1}) failed: {error} "
             f"(the executed notebook is {out})")
        return 1
    _say(f"[notebook] done: {out}")
    return 0


def main(argv: list[str]) -> int:
    if not argv or not argv[0].endswith(".ipynb"):
        _say(f"{HINT_PREFIX}usage: python -m _aml_notebook NOTEBOOK.ipynb [--NAME VALUE ...]")
        return 2
    try:
        parameters = parse_parameters(argv[1:])
    except ParameterError as exc:
        _say(f"{HINT_PREFIX}{exc}")
        return 2
    return execute(argv[0], parameters)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
