"""aml_magic: the Azure ML Workbench Experimentation Service, self-hosted, in Jupyter.

``import aml_magic`` stays light: the workspace, targets, widgets, paramiko and docker load only
when first used.
"""
from __future__ import annotations

__version__ = "0.1.0"

# Not ``typing.TYPE_CHECKING``: importing ``typing`` alone costs more than the rest of this file.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from aml_magic.service.run import Run
    from aml_magic.service.workspace import Workspace

__all__ = ["Run", "Workspace", "__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext aml_magic``: register the magics (nothing heavy is imported here)."""
    from aml_magic.frontends.notebook.magics import register   # only when %load_ext runs
    register(ipython)


def __getattr__(name: str) -> Any:
    # The service loads on first use, so that `import aml_magic` stays light.
    if name in ("Workspace", "Run"):
        from aml_magic.service import run, workspace   # the service, on first use
        return workspace.Workspace if name == "Workspace" else run.Run
    raise AttributeError(f"module 'aml_magic' has no attribute {name!r}")
