"""``<target>.compute``: one compute target, where a run goes and how to reach it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aml_magic.errors import ConfigError
from aml_magic.domain.config._emit import atomic_write, order_keys, render
from aml_magic.domain.config._fields import Fields, load_mapping
from aml_magic.domain.secrets import is_reference

TYPES = ("local", "docker", "remote", "remotedocker", "cluster")
_ALIASES = {"localdocker": "docker"}
_VIENNA_KEYS = ("cluster", "native")          # early files: no 'type', these two booleans

# attribute -> key in the file, in the order a new file is written
_KEYS: dict[str, str] = {
    "type": "type",
    "address": "address",
    "port": "port",
    "username": "username",
    "password": "password",
    "key_reference": "sshKey",
    "host_key_fingerprint": "hostKeyFingerprint",
    "remote_base_dir": "remoteBaseDirectory",
    "base_docker_image": "baseDockerImage",
    "shared_volumes": "sharedVolumes",
    "nvidia_docker": "nvidiaDocker",
    "native_shared_directory": "nativeSharedDirectory",
    "python_location": "pythonLocation",
    "spark_submit_location": "sparkSubmitLocation",
    "user_managed_environment": "userManagedEnvironment",
    "yarn_deploy_mode": "yarnDeployMode",
    "spark_master": "sparkMaster",
    "network_mode": "networkMode",
    "container_user": "containerUser",
    "capabilities": "capabilities",
    "docker_host": "dockerHost",
    "ssh_timeout": "sshTimeout",
    "max_concurrent_runs": "maxConcurrentRuns",
}
_TEXT_KEYS = ("username", "password", "key_reference", "host_key_fingerprint", "remote_base_dir",
              "base_docker_image", "native_shared_directory", "python_location",
              "spark_submit_location", "network_mode", "container_user", "capabilities",
              "docker_host", "spark_master")
_COMMENTS = {
    "type": "Kind of target: local, docker, remote, remotedocker or cluster.",
    "address": "Host name or IP address of the machine (host:port is allowed).",
    "port": "SSH port of the machine.",
    "username": "User to log in as over SSH.",
    "password": "A reference into the local secret store, never the password itself.",
    "sshKey": "A reference into the local secret store to the private SSH key.",
    "hostKeyFingerprint": "The SSH host key this target must present (pinned on attach).",
    "remoteBaseDirectory": "Folder on the target that holds aml_magic's run folders.",
    "baseDockerImage": "Docker image the run's container is built on.",
    "sharedVolumes": "Mount the project into the container instead of copying it.",
    "nvidiaDocker": "Give the container the host's GPUs.",
    "nativeSharedDirectory": "Folder on the target that persists across runs\n"
                             "(AZUREML_NATIVE_SHARE_DIRECTORY; needs sharedVolumes on Docker).",
    "pythonLocation": "Python interpreter used on the target.",
    "sparkSubmitLocation": "spark-submit used for PySpark runs.",
    "userManagedEnvironment": "true: use the target's Python as it is; build no environment.",
    "yarnDeployMode": "spark-submit --deploy-mode on YARN: client or cluster.",
    "sparkMaster": "spark-submit --master of a cluster target, e.g. spark://head:7077\n"
                   "(absent: the cluster's own default, e.g. YARN on HDInsight).",
    "networkMode": "Docker network of builds and runs: host, bridge, none or a network name\n"
                   "(default: the engine's default network).",
    "containerUser": "User (name or uid[:gid]) the run's container runs as\n"
                     "(default: the owner of the run folder).",
    "capabilities": "Linux capabilities the run's container keeps (default: none), e.g.\n"
                    "SYS_PTRACE,NET_ADMIN.",
    "dockerHost": "Docker engine to use on the machine (docker -H), e.g.\n"
                  "unix:///run/user/1000/docker.sock.",
    "sshTimeout": "Seconds an SSH connect, login or transfer may go without progress (default 30).",
    "maxConcurrentRuns": "How many child runs of a sweep run at once on this target (default: the\n"
                         "machine's CPU count for local, 1 elsewhere).",
}


@dataclass
class ComputeTarget:
    """One ``<name>.compute`` file. ``type`` is normalized (``localdocker`` is ``docker``)."""

    name: str
    type: str
    address: str | None = None
    username: str | None = None
    password: str | None = None              # a secret *reference*, never the secret
    base_docker_image: str | None = None
    shared_volumes: bool = False
    nvidia_docker: bool = False
    native_shared_directory: str | None = None
    python_location: str | None = None
    spark_submit_location: str | None = None
    user_managed_environment: bool | None = None
    yarn_deploy_mode: str | None = None
    spark_master: str | None = None           # spark-submit --master (cluster targets)
    host_key_fingerprint: str | None = None
    port: int | None = None
    key_reference: str | None = None
    remote_base_dir: str | None = None
    network_mode: str | None = None
    container_user: str | None = None
    capabilities: str | None = None          # comma-separated capability names
    docker_host: str | None = None
    ssh_timeout: int | None = None            # seconds; None: $AML_MAGIC_SSH_TIMEOUT or 30
    max_concurrent_runs: int | None = None    # sweep children at once; None: see concurrency()
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    key_order: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def host(self) -> str | None:
        """``address`` without a ``:port`` suffix."""
        return split_address(self.address)[0] if self.address else None

    @property
    def is_docker(self) -> bool:
        return self.type in ("docker", "remotedocker")

    @property
    def is_remote(self) -> bool:
        return self.type in ("remote", "remotedocker", "cluster")

    def concurrency(self) -> int:
        """How many child runs of a sweep may run at once here: ``maxConcurrentRuns``, else the
        CPU count of this machine for ``local`` (its runs share those cores), else 1 (a
        remote machine's size is unknown until asked; one run at a time is always safe)."""
        if self.max_concurrent_runs is not None:
            return self.max_concurrent_runs
        if self.type == "local":
            import os
            return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)
        return 1


def split_address(address: str) -> tuple[str, int | None]:
    """``host:port`` -> (host, port); IPv6 needs brackets (``[::1]:22``)."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<h>[^:]+):(?P<p>\d+)", address)
    if not match:
        return address, None
    host = match.group("v6") or match.group("h")
    port = match.group("p6") or match.group("p")
    return host, int(port) if port else None


def load_compute(path: Path) -> ComputeTarget:
    """Load one ``.compute`` file (any Workbench generation); ConfigError with file:line if bad."""
    path = Path(path)
    root = load_mapping(path, what="compute target")
    f = Fields(root, path)
    warnings: list[str] = []
    kind = _target_type(f, warnings)
    address = f.text("address") or None
    if address and (any(c.isspace() or ord(c) < 32 for c in address) or "/" in address):
        raise f.error(f.entry("address"), f"'address: {address}' is not a host name or IP "
                      "address (HOST or HOST:PORT, no spaces or '/')")
    port = f.integer("port", low=1, high=65535)
    if address and split_address(address)[1] is not None:
        from_address = split_address(address)[1]
        if port is not None and port != from_address:
            warnings.append(f"{path}: 'port: {port}' differs from the port in 'address: {address}';"
                            f" port {port} is used")
        port = port if port is not None else from_address
    values: dict[str, Any] = {k: f.text(_KEYS[k]) for k in _TEXT_KEYS}
    values["username"] = values["username"] or None
    values["password"] = values["password"] or None
    target = ComputeTarget(
        name=path.stem, type=kind,
        address=address, port=port,
        shared_volumes=f.flag("sharedVolumes", False),
        nvidia_docker=f.flag("nvidiaDocker", False),
        user_managed_environment=f.optional_flag("userManagedEnvironment"),
        yarn_deploy_mode=f.choice("yarnDeployMode", ("client", "cluster")),
        ssh_timeout=f.integer("sshTimeout", low=1, high=86400),
        max_concurrent_runs=f.integer("maxConcurrentRuns", low=1, high=1024),
        path=path, **values)
    if target.password and not _is_secret_reference(target.password):
        entry = (f.node.entries or {}).get("password")
        where = f"{path}:{entry.line}" if entry is not None else str(path)
        warnings.append(f"{where}: plaintext password; it is used to log in but never stored, "
                        "shown or sent (the file is left out of the run's copy); move it into "
                        f"the secret store with `aml computetarget secure {path.stem}`")
    extra, unknown = f.rest(known=list(_KEYS.values()), quiet=_VIENNA_KEYS)
    target.extra, target.warnings = extra, warnings + unknown
    target.key_order = f.order
    return target


def _is_secret_reference(value: str) -> bool:
    return is_reference(value)


def _target_type(f: Fields, warnings: list[str]) -> str:
    if f.has("type") or not any(f.has(k) for k in _VIENNA_KEYS):
        kind = f.choice("type", TYPES, aliases=_ALIASES)
        if kind is None:
            raise f.error(f.entry("type"), "'type' is missing; add a line such as 'type: docker' "
                          f"(one of: {', '.join(TYPES)})")
        return kind
    # Early "Vienna" files: cluster/native booleans. An address means the machine is remote.
    cluster = f.optional_flag("cluster")
    native = f.optional_flag("native")
    f.used.difference_update(_VIENNA_KEYS)         # kept in extra so a rewrite keeps them
    has_address = bool((f.node.entries or {}).get("address") and
                       (f.node.entries or {})["address"].node.value)
    if cluster:
        kind = "cluster"
    elif native:
        kind = "remote" if has_address else "local"
    else:
        kind = "remotedocker" if has_address else "docker"
    warnings.append(f"{f.path}: early Workbench format without 'type' (cluster: {cluster}, "
                    f"native: {native}); read as 'type: {kind}'")
    return kind


def write_compute(target: ComputeTarget, path: Path | None = None) -> Path:
    """Write ``target`` atomically; unknown keys from the original file are kept in place."""
    path = Path(path or target.path or "")
    if not path.name:
        raise ValueError("write_compute needs a path: the model was not loaded from a file")
    if target.type not in TYPES:
        raise ConfigError(f"compute target type '{target.type}' is not one of: {', '.join(TYPES)}",
                          path=str(path))
    values: dict[str, Any] = {}
    for attr, key in _KEYS.items():
        value = getattr(target, attr)
        if attr == "port" and value is not None and target.address \
                and split_address(target.address)[1] == value and key not in target.key_order:
            continue                            # already written as part of address
        default = False if attr in ("shared_volumes", "nvidia_docker") else None
        if value != default or key in target.key_order:
            values[key] = value
    values.update(target.extra)
    keys = order_keys(target.key_order or ["type"], values)
    if "type" not in target.key_order:           # early files had none: the new key goes first
        keys.insert(0, keys.pop(keys.index("type")))
    header = f"Compute target '{target.name}' (aml_magic; Azure ML Workbench format)."
    return atomic_write(path, render(((k, values[k]) for k in keys), header=header,
                                     comments=_COMMENTS))
