"""The ``local`` target's own environment (``userManagedEnvironment: false``, or ``aml
experiment prepare --managed``): a venv made from the project's interpreter and filled by uv
from ``conda_dependencies.yml`` (``machine_environment``, as a remote machine's), in the user's
cache folder ``<cache>/envs/<identity>/``: shared by every project with the same
specification, rebuilt only when the specification or the base interpreter changes. Imported
only by a prepare or a submit that needs it."""
from __future__ import annotations

import os
import stat
from aml_magic.domain.user_dirs import cache_root
from aml_magic.errors import TargetError
from aml_magic.targets.env_build_scripts import local_uv_binary
from aml_magic.targets.machine_environment import BuildPlace, MachineEnvironment, machine_environment
from aml_magic.transports.local import LocalTransport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import AgentTarget, Dependencies, ProgressCallback


def environments_base() -> str:
    """The folder holding ``envs/``: the user's cache folder, private (it holds interpreters
    that runs execute, so no one else may write it)."""
    base = cache_root()
    try:
        os.makedirs(base / "envs", mode=0o700, exist_ok=True)
        st = os.lstat(base / "envs")
    except OSError as exc:
        raise TargetError(f"local: cannot create {base / 'envs'} for environments "
                          f"({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() \
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise TargetError(f"local: {base / 'envs'} must be a folder of yours that no one else "
                          f"may write: chmod go-w {base / 'envs'}")
    return str(base)


def local_environment(target: AgentTarget, runconfig: RunConfiguration,
                      dependencies: Dependencies, *, build: bool,
                      on_progress: ProgressCallback | None = None,
                      strict: bool = False) -> MachineEnvironment:
    """The environment for ``runconfig`` on this machine, built when missing and ``build``."""
    uv = local_uv_binary()
    base = environments_base()
    place = BuildPlace(LocalTransport(), base,
                       target.placement.base_python(),       # type: ignore[attr-defined]
                       target.compute.name, target.placement.where(), target.compute_file(),
                       installer="uv", uv=str(uv) if uv else None, cache=base)
    return machine_environment(place, runconfig, dependencies, build=build,
                               on_progress=on_progress, strict=strict)


__all__ = ["environments_base", "local_environment"]
