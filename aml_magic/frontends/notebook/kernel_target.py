"""A project kernel (``aml kernel install``, ``churnprediction_local``): the project and the run
configuration its kernelspec puts in the environment become the kernel's project and default
``-c``, and one line says where cells run and where ``%%aml_submit`` sends them.

Read while ``%load_ext aml_magic`` runs (at kernel start): environment variables and nothing
else, so the kernel starts as fast as a plain one. The line is the kernel's banner (a console
shows it) and the first output of the first cell a notebook runs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.domain.kernel_names import KERNEL_NAME_ENV, PROJECT_ENV, RUNCONFIG_ENV

if TYPE_CHECKING:
    from aml_magic.frontends.notebook.magics import AmlMagics


def kernel_line(kernel: str, project: Path, runconfig: str) -> str:
    """One line: cells run here; ``%%aml_submit`` sends to the run configuration."""
    return (f"Kernel {kernel}: cells run here, on this machine; %%aml_submit sends to "
            f"'{runconfig}' (aml_config/{runconfig}.runconfig of {project}) unless given -c")


def apply_kernel_target(magics: AmlMagics, shell: Any, environ: dict[str, str] | None = None) -> str | None:
    """Take the project and default run configuration from a project kernel's environment;
    returns the line shown (None in any other kernel, where nothing changes)."""
    environ = dict(os.environ) if environ is None else environ
    project, runconfig = environ.get(PROJECT_ENV), environ.get(RUNCONFIG_ENV)
    if not project or not runconfig:
        return None
    magics.project = Path(project)
    magics.default_runconfig = runconfig
    line = kernel_line(environ.get(KERNEL_NAME_ENV) or "of this project", Path(project), runconfig)
    if hasattr(shell, "banner2"):
        shell.banner2 = f"{shell.banner2}\n{line}\n" if shell.banner2 else f"{line}\n"
    _print_before_first_cell(shell, line)
    return line


def _print_before_first_cell(shell: Any, line: str) -> None:
    """Print ``line`` as the first output of the first cell run (output printed while the
    kernel starts belongs to no cell, and notebooks do not show it)."""
    events = getattr(shell, "events", None)
    if events is None:
        return

    def once(_info: Any = None) -> None:
        events.unregister("pre_run_cell", once)
        print(line)

    events.register("pre_run_cell", once)
