"""Jupyter kernels that load aml_magic at start (``aml kernel install``).

Two kinds, both ordinary ipykernel kernelspecs written by ipykernel's ``write_kernel_spec`` and
installed by jupyter_client's ``KernelSpecManager`` (``--user``, ``--sys-prefix`` or a prefix):

- ``aml-magic`` ("Python (aml_magic)"): the extension is loaded at start (``--ext``), so
  ``%azureml`` and ``%aml_*`` work in a notebook's first cell;
- per project, one per run configuration, named as Workbench named them
  (``churnprediction_local``): the same kernel with the project and the run configuration in
  its ``env``, read when the extension loads, so ``%%aml_submit`` without ``-c`` goes there.
  The names the project's own notebooks ask for (a sample whose folder is not named after its
  Workbench project) are registered too, when they end with one of the project's run
  configurations.

Each spec carries a ``metadata.aml_magic`` block (project, run configuration, where cells run:
``"here"`` today). A later kernel that runs on the target reads the same block (through a
jupyter_client kernel provisioner) without renaming anything users' notebooks name."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aml_magic.domain.config import ProjectConfig
from aml_magic.domain.kernel_names import (
    GENERIC_DISPLAY_NAME,
    GENERIC_KERNEL,
    KERNEL_NAME_ENV,
    METADATA_KEY,
    PROJECT_ENV,
    RUNCONFIG_ENV,
    match_project_kernel,
    project_display_name,
    project_kernel_name,
)
from aml_magic.errors import AmlError

#: What the kernels load at start: the magics, registered so that a notebook's own
#: ``%load_ext aml_magic`` is quietly a no-op.
START_EXTENSION = "aml_magic.frontends.notebook.kernel_start"
#: Folders never searched for notebooks: what runs write, caches, hidden folders.
_SKIPPED_DIRS = {"outputs", "logs", "node_modules", "__pycache__", "aml_config"}
#: A project with more notebooks than this is searched only this far.
MAX_NOTEBOOKS = 1000
#: Notebooks larger than this (outputs with images) are not read for their kernel name.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class KernelPlan:
    """One kernelspec to install: its name, display name, and for a project kernel the project
    and run configuration (None for the generic kernel)."""
    name: str
    display_name: str
    project: Path | None = None
    runconfig: str | None = None

    def spec_overrides(self) -> dict[str, Any]:
        """What replaces ipykernel's defaults in ``kernel.json``."""
        block: dict[str, Any] = {"kind": "generic" if self.project is None else "project",
                                 "runs": "here"}
        env = {KERNEL_NAME_ENV: self.name}
        if self.project is not None and self.runconfig is not None:
            block.update(project=str(self.project), run_configuration=self.runconfig)
            env.update({PROJECT_ENV: str(self.project), RUNCONFIG_ENV: self.runconfig})
        return {"display_name": self.display_name, "env": env,
                "metadata": {**_ipykernel_metadata(), METADATA_KEY: block}}


@dataclass(frozen=True)
class Installed:
    """What installing one plan did: ``installed`` (where), or ``skipped`` with the reason."""
    plan: KernelPlan
    path: str | None = None
    skipped: str | None = None
    replaced_project: str | None = None

    def line(self) -> str:
        if self.skipped:
            return f"kept kernel {self.plan.name}: {self.skipped}"
        target = (f"; %%aml_submit sends to '{self.plan.runconfig}'"
                  if self.plan.runconfig else "")
        was = (f" (replaced the one for {self.replaced_project})"
               if self.replaced_project else "")
        return f"installed kernel {self.plan.name} (\"{self.plan.display_name}\"){target}{was}: {self.path}"


def generic_plan(name: str = GENERIC_KERNEL, display_name: str | None = None) -> KernelPlan:
    return KernelPlan(name, display_name or (GENERIC_DISPLAY_NAME if name == GENERIC_KERNEL
                                             else f"Python (aml_magic, {name})"))


def project_plans(root: Path) -> list[KernelPlan]:
    """One plan per run configuration of the project at ``root`` (named after its folder), plus
    the Workbench kernel names its notebooks ask for that end with one of its run
    configurations. Empty when the project has no run configuration."""
    root = Path(root).resolve()
    runconfigs = ProjectConfig(root).runconfig_names()
    plans: dict[str, KernelPlan] = {}
    for runconfig in runconfigs:
        name = project_kernel_name(root.name, runconfig)
        plans.setdefault(name, KernelPlan(name, project_display_name(root.name, runconfig),
                                          root, runconfig))
    for _notebook, spec in notebook_kernelspecs(root):
        request = match_project_kernel(spec.get("name", ""), runconfigs)
        if request is None or request.runconfig is None or request.name in plans:
            continue
        display = spec.get("display_name")
        plans[request.name] = KernelPlan(
            request.name, display if isinstance(display, str) and display.strip()
            else project_display_name(request.project_part, request.runconfig),
            root, request.runconfig)
    return list(plans.values())


def install(plans: list[KernelPlan], *, user: bool = True, prefix: str | None = None,
            force: bool = False) -> list[Installed]:
    """Install each plan (``user``: the user's kernels folder; ``prefix``: PREFIX/share/jupyter;
    a kernelspec of the same name is replaced when it is aml_magic's, otherwise kept unless
    ``force``)."""
    # jupyter_client and ipykernel (third-party, ~100 ms): only `aml kernel install` needs them
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    manager = KernelSpecManager()
    existing = manager.find_kernel_specs()
    python_arguments = (["-Xfrozen_modules=off"]     # as `ipykernel install`: the debugger needs it
                        if platform.python_implementation() == "CPython" else None)
    results = []
    for plan in plans:
        previous = _read_spec(existing.get(plan.name))
        ours = previous is not None and METADATA_KEY in (previous.get("metadata") or {})
        if previous is not None and not ours and not force:
            results.append(Installed(plan, skipped=f"a kernel of that name exists and is not "
                                     f"aml_magic's ({existing[plan.name]}); pass --force to "
                                     "replace it"))
            continue
        replaced = None
        if ours and previous is not None:
            was = (previous.get("metadata") or {}).get(METADATA_KEY, {}).get("project")
            if was and plan.project is not None and was != str(plan.project):
                replaced = was
        with tempfile.TemporaryDirectory(prefix="aml-kernelspec-") as tmp:
            source = write_kernel_spec(Path(tmp) / plan.name, overrides=plan.spec_overrides(),
                                       extra_arguments=[f"--ext={START_EXTENSION}"],
                                       python_arguments=python_arguments)
            try:
                path = manager.install_kernel_spec(source, kernel_name=plan.name,
                                                   user=user and prefix is None, prefix=prefix)
            except PermissionError as exc:
                raise AmlError(f"cannot write the kernel {plan.name} into {exc.filename}: "
                               "permission denied; use --user (the default) or "
                               "--sys-prefix") from None
        results.append(Installed(plan, path=path, replaced_project=replaced))
    return results


def installed_kernel_names() -> set[str]:
    """The names of every kernelspec Jupyter finds (lowercase, as Jupyter compares them)."""
    # third-party, loaded by `aml doctor` and `aml kernel` only
    from jupyter_client.kernelspec import KernelSpecManager
    return {name.lower() for name in KernelSpecManager().find_kernel_specs()}


def notebook_kernelspecs(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(notebook, metadata.kernelspec)`` for the project's notebooks that name a kernel
    (hidden folders and what runs write are not searched; unreadable notebooks are skipped)."""
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for file in sorted(files):
            if not file.endswith(".ipynb"):
                continue
            seen += 1
            if seen > MAX_NOTEBOOKS:
                return
            path = Path(folder) / file
            spec = _notebook_kernelspec(path)
            if spec is not None:
                yield path, spec


@dataclass(frozen=True)
class MissingKernel:
    """A notebook of the project names a Workbench-style kernel that Jupyter does not have."""
    notebook: Path
    kernel: str
    runconfig: str | None

    def hint(self, root: Path, command: str) -> str:
        """One line: the notebook, the kernel, and the exact command that fixes it."""
        if self.runconfig is not None:
            return (f"{self.notebook}: kernel {self.kernel} is not installed; run "
                    f"`{command}` to register it ('{self.runconfig}' run configuration)")
        runconfig = self.kernel.split("_", 1)[1]
        return (f"{self.notebook}: kernel {self.kernel} is not installed and {root.name} has no "
                f"'{runconfig}' run configuration; create it (`aml runconfiguration create -n "
                f"{runconfig} -t TARGET`), then run `{command}`")


def missing_kernels(root: Path, installed: set[str] | None = None) -> list[MissingKernel]:
    """The project's notebooks that name a ``<project>_<x>`` kernel that is not installed: ``x``
    one of the project's run configurations, or the project part the project's own name."""
    root = Path(root).resolve()
    installed = installed_kernel_names() if installed is None else installed
    runconfigs = ProjectConfig(root).runconfig_names()
    own = project_kernel_name(root.name, "x")[:-2]
    missing = []
    for notebook, spec in notebook_kernelspecs(root):
        name = spec.get("name")
        if not isinstance(name, str) or name.lower() in installed:
            continue
        request = match_project_kernel(name, runconfigs)
        if request is None or (request.runconfig is None and request.project_part != own):
            continue
        missing.append(MissingKernel(notebook.relative_to(root), request.name, request.runconfig))
    return missing


def _notebook_kernelspec(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    return spec if isinstance(spec, dict) and isinstance(spec.get("name"), str) else None


def _read_spec(directory: str | None) -> dict[str, Any] | None:
    if directory is None:
        return None
    try:
        with open(Path(directory) / "kernel.json", encoding="utf-8") as handle:
            spec = json.load(handle)
    except (OSError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


def _ipykernel_metadata() -> dict[str, Any]:
    from ipykernel.kernelspec import get_kernel_dict   # third-party: see install()
    metadata = get_kernel_dict().get("metadata")
    return dict(metadata) if isinstance(metadata, dict) else {}


def sys_prefix() -> str:
    """The prefix ``--sys-prefix`` installs into: this environment's."""
    return sys.prefix
