"""Every compute type in one table: what composes it and what ``attach`` accepts for it.

A compute type is one module (its target class) plus one entry here. The entry feeds the
``aml computetarget attach`` choices and help (``arguments.py``), ``%aml_attach``, the attach
form (``widgets/attach_form.py``), the attach logic (``attach.py``) and the README table (a test
checks that the README names every registered type). Nothing imports a target module until a
target of that type is used, so paramiko and docker load only when needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aml_magic.domain.config.templates import DEFAULT_DOCKER_IMAGE

#: Attach options shared by the types that log in over SSH.
SSH_OPTIONS = ("address", "username", "password", "use_key", "key_file",
               "host_key_fingerprint", "trust_new_host_key", "python_location",
               "remote_base_dir")
#: Attach options of the types that run in containers.
CONTAINER_OPTIONS = ("base_image", "shared_volumes", "nvidia_docker", "network_mode",
                     "docker_host")

#: Attach options of the cluster type.
SPARK_OPTIONS = ("spark_master", "yarn_deploy_mode", "spark_submit_location")


@dataclass(frozen=True)
class TargetType:
    """One compute type. ``placement`` says where run folders live (``local``: this machine;
    ``remote``: a machine reached over SSH), ``launch`` how the agent starts (``process``: a
    detached process; ``container``: the main process of a container; ``spark``: spark-submit
    as the agent's command). ``framework`` is the Framework of the ``.runconfig`` attach writes."""
    name: str
    target: str                               # "module:Class", imported on first use
    placement: str
    launch: str
    summary: str
    aliases: tuple[str, ...] = ()
    attach_options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)   # ComputeTarget attribute -> value
    prepare_environment: bool = False         # PrepareEnvironment of the attached .runconfig
    framework: str = "Python"                 # Framework of the attached .runconfig

    @property
    def uses_ssh(self) -> bool:
        return self.placement == "remote"


def _types() -> tuple[TargetType, ...]:
    return (
        TargetType("local", "aml_magic.targets.process.local:LocalTarget", "local", "process",
                   "this machine, pythonLocation's interpreter",
                   attach_options=("python_location", "spark_submit_location")),
        TargetType("docker", "aml_magic.targets.container.docker:DockerTarget", "local", "container",
                   "a container on this machine's Docker engine (DOCKER_HOST honoured)",
                   aliases=("localdocker",), attach_options=CONTAINER_OPTIONS,
                   defaults={"base_docker_image": DEFAULT_DOCKER_IMAGE},
                   prepare_environment=True),
        TargetType("remote", "aml_magic.targets.ssh.remote:RemoteTarget", "remote", "process",
                   "a machine over SSH, its own Python (userManagedEnvironment)",
                   attach_options=(*SSH_OPTIONS, "spark_submit_location"),
                   defaults={"user_managed_environment": True}),
        TargetType("remotedocker", "aml_magic.targets.container.remotedocker:RemoteDockerTarget",
                   "remote", "container",
                   "a container on a machine's Docker engine, reached over SSH",
                   attach_options=SSH_OPTIONS + CONTAINER_OPTIONS,
                   defaults={"base_docker_image": DEFAULT_DOCKER_IMAGE},
                   prepare_environment=True),
        TargetType("cluster", "aml_magic.targets.spark.cluster:ClusterTarget", "remote", "spark",
                   "a Spark cluster: spark-submit on its head node, reached over SSH",
                   attach_options=(*SSH_OPTIONS, *SPARK_OPTIONS),
                   defaults={"user_managed_environment": False},
                   prepare_environment=True, framework="PySpark"),
    )


_CACHE: dict[str, TargetType] = {}


def registered() -> dict[str, TargetType]:
    """name -> type, in table order."""
    if not _CACHE:
        _CACHE.update((t.name, t) for t in _types())
    return _CACHE


def lookup(name: str) -> TargetType | None:
    """The type named ``name`` or one of its aliases (``localdocker`` is ``docker``)."""
    types = registered()
    if name in types:
        return types[name]
    return next((t for t in types.values() if name in t.aliases), None)


def attach_choices() -> list[str]:
    """Names and aliases accepted by ``attach``."""
    out: list[str] = []
    for t in registered().values():
        out += [t.name, *t.aliases]
    return out


__all__ = [
    "CONTAINER_OPTIONS",
    "SPARK_OPTIONS",
    "SSH_OPTIONS",
    "TargetType",
    "attach_choices",
    "lookup",
    "registered",
]
