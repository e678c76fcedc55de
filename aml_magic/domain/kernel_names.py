"""Names of the Jupyter kernels aml_magic registers, spelled as Azure ML Workbench spelled them.

Workbench made one kernel per run configuration of a project and saved notebooks name it:
``"name": "churnprediction_local"``, ``"display_name": "ChurnPrediction local"`` (the project
name lowercased, ``_``, the run configuration). Jupyter allows only ``[a-z0-9._-]`` in a
kernel name, so any other character becomes ``_``. Stdlib only: the notebook front end reads
the environment names below while ``%load_ext aml_magic`` runs."""
from __future__ import annotations

import re

TYPE_CHECKING = False       # not ``typing``'s: this module loads with ``%load_ext aml_magic``
if TYPE_CHECKING:
    from collections.abc import Iterable

#: The kernel ``aml kernel install`` always registers (any folder, no default target).
GENERIC_KERNEL = "aml-magic"
GENERIC_DISPLAY_NAME = "Python (aml_magic)"

#: Set in a project kernel's ``env``: the project folder and the run configuration that
#: ``%%aml_submit`` uses without ``-c``. Read once when the extension loads.
PROJECT_ENV = "AML_MAGIC_PROJECT"
RUNCONFIG_ENV = "AML_MAGIC_DEFAULT_RUNCONFIG"
KERNEL_NAME_ENV = "AML_MAGIC_KERNEL_NAME"

#: The key of aml_magic's block in a kernelspec's ``metadata``.
METADATA_KEY = "aml_magic"

_NOT_ALLOWED = r"[^a-z0-9._-]"


def kernel_name_part(text: str) -> str:
    """``text`` as part of a Jupyter kernel name: lowercased, other characters as ``_``."""
    return re.sub(_NOT_ALLOWED, "_", text.lower())


def project_kernel_name(project_name: str, runconfig: str) -> str:
    """``ChurnPrediction`` + ``local`` -> ``churnprediction_local`` (Workbench's spelling)."""
    return f"{kernel_name_part(project_name)}_{kernel_name_part(runconfig)}"


def project_display_name(project_name: str, runconfig: str) -> str:
    """``ChurnPrediction local``, as Workbench showed it in the kernel menu."""
    return f"{project_name} {runconfig}"


class KernelRequest:
    """A kernel a notebook names that looks like a Workbench project kernel:
    ``<project>_<runconfig>``, with ``runconfig`` one of the project's (None: it names none).
    (A plain class: a dataclass costs a millisecond at every kernel start.)"""
    __slots__ = ("name", "project_part", "runconfig")

    def __init__(self, name: str, project_part: str, runconfig: str | None) -> None:
        self.name, self.project_part, self.runconfig = name, project_part, runconfig

    def __repr__(self) -> str:
        return f"KernelRequest({self.name!r}, {self.project_part!r}, {self.runconfig!r})"


def match_project_kernel(name: str, runconfigs: Iterable[str]) -> KernelRequest | None:
    """Read ``name`` as ``<project>_<runconfig>`` against the project's run configurations (the
    longest one that ends the name wins: ``iris_docker-python`` is ``docker-python``, not
    ``python``). A name with no ``_`` is not a project kernel (None); one whose end matches no
    run configuration gives a request with ``runconfig`` None, split at its last ``_``."""
    lowered = name.lower()
    for runconfig in sorted(runconfigs, key=len, reverse=True):
        suffix = "_" + kernel_name_part(runconfig)
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return KernelRequest(lowered, lowered[:-len(suffix)], runconfig)
    head, sep, tail = lowered.rpartition("_")
    if not sep or not head or not tail:
        return None
    return KernelRequest(lowered, head, None)
