"""The on-target agent: files shipped into ``<run_dir>/.agent/`` on the target with each run.

Nothing here is imported on the target; this module only tells clients what to copy and how to
start it. The contract (launch spec, files written) is in the agent section of
docs/architecture.md.
"""
from __future__ import annotations

from pathlib import Path

AGENT_DIR = Path(__file__).resolve().parent
SUPERVISOR = "supervisor.py"
_SHIPPED = ("supervisor.py", "_supervisor.py", "_process.py", "_runfiles.py", "_logmask.py",
            "_prestart.py",
            "assemble.py",
            "proctool.py", "storegc.py",
            "compat/azureml/__init__.py",
            "compat/azureml/logging.py",
            *(f"compat/azureml/dataprep/{name}.py" for name in (
                "__init__", "_errors", "_document", "_sources", "_columns", "_rows", "_blocks",
                "_engine", "_readers", "_spark", "package", "datasource")),
            "compat/dataprep/__init__.py",
            "compat/_aml_notebook.py")


def agent_files() -> dict[str, bytes]:
    """Relative path (posix, under ``.agent/``) -> content, for every file the agent needs."""
    return {rel: (AGENT_DIR / rel).read_bytes() for rel in _SHIPPED}


def launch_command(python: str, agent_dir: str, run_dir: str) -> list[str]:
    """argv that starts the agent (launch spec goes on its stdin). ``-S -E``: the agent needs
    no site-packages and must not be steered by the target's PYTHON* variables."""
    return [python, "-S", "-E", f"{agent_dir.rstrip('/')}/{SUPERVISOR}", "launch", run_dir]
