"""IPython magics: thin front ends over ``Workspace`` that parse arguments (the same specs as the
``aml`` command), call the workspace and display widgets. Expected errors print one line.

Importing this module is cheap (``%load_ext aml_magic``): it registers the magics and keeps the
kernel's state; their bodies are in ``commands.py``, imported by the first magic run, with the
workspace and the argument parsers (widgets and ipywidgets load when first displayed).
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from aml_magic.errors import AmlError, HelpShown
from aml_magic.frontends.notebook.azureml_logging import expose_azureml_logging
from aml_magic.frontends.notebook.kernel_target import apply_kernel_target

if TYPE_CHECKING:
    from aml_magic.frontends.notebook.azureml_magic import NotebookHistory
    from aml_magic.service.run import Run
    from aml_magic.service.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(method: F) -> F:
    """Turn an ``AmlError`` into one readable line in the cell output (no traceback)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except HelpShown:
            return None
        except AmlError as err:
            print(f"Error: {' '.join(str(err).split())}", file=sys.stderr)
            return None

    return wrapper  # type: ignore[return-value]


def _commands() -> ModuleType:
    # the magics' bodies, with the workspace and the parsers: loaded by the first magic run,
    # so that %load_ext stays light
    from aml_magic.frontends.notebook import commands
    return commands


@magics_class
class AmlMagics(Magics):
    """The ``%aml_*`` magics of one kernel: they remember the workspaces they opened, the
    project made by ``%aml_init`` and the default run configuration picked in ``%aml_targets``."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.workspaces: dict[Path, Workspace] = {}
        self.project: Path | None = None
        self.default_runconfig: str | None = None
        self.use_widgets: bool | None = None      # None: decide on first display
        self.watch_interval = 0.25
        self.notebook_history: NotebookHistory | None = None   # %azureml history on|off
        self.loaded_at_start = False      # by an `aml kernel install` kernel (kernel_start.py)

    # -- shared helpers -----------------------------------------------------------------------
    def workspace(self, project: str | None = None) -> Workspace:
        """``--project`` wins, then the project made by ``%aml_init``, then the nearest folder
        at or above the working directory holding ``aml_config/``."""
        return _commands().workspace(self, project)

    def runconfig_name(self, ws: Workspace, name: str | None) -> str:
        """The run configuration to use, checked against the project's ``aml_config/``."""
        return _commands().runconfig_name(self, ws, name)

    def widgets_enabled(self) -> bool:
        return _commands().widgets_enabled(self)

    def show(self, run: Run) -> Any:
        """Display a live widget for the run (or a static summary without ipywidgets); both
        turn final in place when the run ends."""
        return _commands().show(self, run)

    def wait(self, run: Run, shown: Any) -> None:
        """Block for ``--wait``, then make ``shown`` (what ``show`` returned) final in place;
        Ctrl-C stops waiting, not the run."""
        _commands().wait(self, run, shown)

    # -- project and targets ------------------------------------------------------------------
    @line_magic
    @reports_errors
    def aml_init(self, line: str) -> None:
        """%aml_init [DIR]: create aml_config/ (local and docker targets) in DIR (default: .)."""
        _commands().aml_init(self, line)

    @line_magic
    @reports_errors
    def aml_attach(self, line: str) -> Any:
        """%aml_attach TYPE --name N [--address A] [--username U] [--password | -k]: attach a
        compute target. With no arguments, shows a form."""
        return _commands().aml_attach(self, line)

    @line_magic
    @reports_errors
    def aml_targets(self, line: str) -> None:
        """%aml_targets [NAME]: list run configurations and targets; pick the default -c."""
        _commands().aml_targets(self, line)

    @line_magic
    @reports_errors
    def aml_prepare(self, line: str) -> None:
        """%aml_prepare -c NAME: build the run configuration's environment, with progress."""
        _commands().aml_prepare(self, line)

    # -- runs ----------------------------------------------------------------------------------
    @line_cell_magic
    @reports_errors
    def aml_submit(self, line: str, cell: str | None = None) -> Run | None:
        """%%aml_submit -c NAME [--name FILE.py] [--wait] [--out VAR] [ARGS...]: export the cell
        and run it on the target. Line form: %aml_submit -c NAME script.py [ARGS...]."""
        return _commands().aml_submit(self, line, cell)

    @line_magic
    @reports_errors
    def aml_run(self, line: str) -> Run | None:
        """%aml_run RUN_ID: show the live widget of any run (also one from before a restart)."""
        return _commands().aml_run(self, line)

    @line_magic
    @reports_errors
    def aml_runs(self, line: str) -> None:
        """%aml_runs [--status S] [-t TARGET] [--limit N]: a table of recent runs."""
        _commands().aml_runs(self, line)

    @line_magic
    @reports_errors
    def aml_compare(self, line: str) -> None:
        """%aml_compare RUN_ID... | --last N | --sweep PARENT_ID: runs side by side with a chart
        of a metric against an argument, and metric series over steps."""
        _commands().aml_compare(self, line)

    @line_magic
    @reports_errors
    def aml_cancel(self, line: str) -> None:
        """%aml_cancel RUN_ID: stop a run on its target."""
        _commands().aml_cancel(self, line)

    @line_magic
    @reports_errors
    def azureml(self, line: str) -> None:
        """%azureml history on|off: track this notebook as a run (Workbench's magic); other
        Workbench words print the aml_magic equivalent."""
        _commands().azureml_words(self, line)


def register(ipython: Any, *, at_start: bool = False) -> AmlMagics:
    """Called by ``%load_ext aml_magic`` (and, ``at_start``, by the kernels of ``aml kernel
    install``, after which ``%load_ext`` keeps the magics and their state as they are)."""
    existing = ipython.magics_manager.registry.get("AmlMagics")
    if isinstance(existing, AmlMagics) and existing.loaded_at_start:
        return existing
    expose_azureml_logging()
    magics = AmlMagics(ipython)
    magics.loaded_at_start = at_start
    ipython.register_magics(magics)
    apply_kernel_target(magics, ipython)      # a project kernel's default target, if any
    return magics
