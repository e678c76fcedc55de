"""The ``docker create`` options of a run's container: least privilege by default.

Only the run folder (read-write) and the agent (read-only) are mounted, plus the native shared
directory when configured; with ``sharedVolumes`` on this machine's engine the project is
mounted with its ``.aml/`` and ``aml_config/`` read-only over it. ``no-new-privileges``, every
capability dropped unless ``capabilities`` lists some, the engine's default network unless
``networkMode`` names one, ``containerUser`` or else the owner of the run folder.

Values that weaken this (``domain/isolation.py``) are checked once more here, against the
resolved shared directory: a request the user did not allow them for starts nothing.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Callable

from aml_magic.domain.isolation import FLAG, capability_names, reductions
from aml_magic.domain.user_dirs import config_file
from aml_magic.errors import TargetError
from aml_magic.targets.base import LaunchRequest, join
from aml_magic.targets.container.images import LABEL

if TYPE_CHECKING:
    from aml_magic.targets.base import AgentTarget

RUN_MOUNT = "/aml/run"
AGENT_MOUNT = "/aml/agent"
PROJECT_MOUNT = "/aml/project"
SHARE_MOUNT = "/aml/share"


def container_options(target: AgentTarget, request: LaunchRequest, run_dir: str, *,
                      local_project: bool, owner: Callable[[], str | None]) -> list[str]:
    """Options of ``docker run``/``create`` (the name is given apart: ``container_name``)."""
    c = target.compute
    share = share_path(target, c.native_share, request) if c.native_share else None
    home = target.transport.home() if share and not target.run_folder_is_local else None
    refused = [r for r in reductions(c, project_root=request.project_root, share=share,
                                     home=home)
               if r.allow not in request.allowed_isolation]
    if refused:
        raise TargetError(f"{target.compute_file()}: {'; '.join(r.text for r in refused)}: "
                          "weakens the container's isolation and was not allowed for this run "
                          f"(allow it in {config_file()} or use {FLAG})")
    agent_dir = target.placement.agent_dir(run_dir)
    options = ["--interactive", "--init",
               "--label", f"{LABEL}run={request.run_id}",
               "--label", f"{LABEL}project={request.project_root}",
               "--label", f"{LABEL}target={c.name}",
               "--security-opt", "no-new-privileges", "--cap-drop", "ALL",
               "--volume", f"{run_dir}:{RUN_MOUNT}",
               "--volume", f"{agent_dir}:{AGENT_MOUNT}:ro", "--workdir", RUN_MOUNT]
    for capability in capabilities(c.capabilities):
        options += ["--cap-add", capability]
    if c.network_mode:
        options += ["--network", c.network_mode]
    user = c.container_user or owner()
    if user:
        options += ["--user", user, "--env", "HOME=/tmp"]
    if c.nvidia_docker:
        options += ["--gpus", "all"]
    if local_project:
        root = request.project_root
        options += ["--volume", f"{root}:{PROJECT_MOUNT}"]
        for private in (".aml", "aml_config"):       # never writable from a run
            if (root / private).is_dir():
                options += ["--volume", f"{root / private}:{PROJECT_MOUNT}/{private}:ro"]
    if share:
        target.transport.makedirs(share)
        options += ["--volume", f"{share}:{SHARE_MOUNT}"]
    return options


def share_path(target: AgentTarget, share: str, request: LaunchRequest) -> str:
    """The native shared directory on the machine (relative: to the project locally, to the
    home folder remotely)."""
    if target.run_folder_is_local:
        path = os.path.expanduser(share)
        if not os.path.isabs(path):
            path = str(request.project_root / path)
    else:
        home = target.transport.home()
        path = share.replace("~", home, 1) if share.startswith("~") else share
        path = path if path.startswith("/") else join(home, path)
    return path


def container_name(run_id: str) -> str:
    return "aml-" + re.sub(r"[^A-Za-z0-9_.-]", "-", run_id)[:120]


capabilities = capability_names


__all__ = ["AGENT_MOUNT", "PROJECT_MOUNT", "RUN_MOUNT", "SHARE_MOUNT", "capabilities",
           "container_name", "container_options", "share_path"]
