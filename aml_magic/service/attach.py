"""Attaching a compute target: build the ``.compute`` model, keep secrets in the secret store,
let the target type check what it needs (the remote type pins the host key), then write the
``.compute``/``.runconfig`` pair, both or neither."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aml_magic.domain.config import ComputeTarget, RunConfiguration, split_address
from aml_magic.domain.registry import attach_choices, lookup
from aml_magic.errors import AmlError
from aml_magic.targets import target_class

if TYPE_CHECKING:
    from aml_magic.service.workspace import Workspace

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def attach_target(ws: Workspace, type_name: str, name: str, *, address: str | None = None,
                  username: str | None = None, password: str | None = None,
                  use_key: bool = False, key_file: str | None = None,
                  host_key_fingerprint: str | None = None, trust_new_host_key: bool = False,
                  confirm_host_key: Any = None, base_image: str | None = None,
                  python_location: str | None = None, shared_volumes: bool | None = None,
                  nvidia_docker: bool | None = None, remote_base_dir: str | None = None,
                  network_mode: str | None = None, docker_host: str | None = None,
                  spark_master: str | None = None, yarn_deploy_mode: str | None = None,
                  spark_submit_location: str | None = None,
                  overwrite: bool = False,
                  on_message: Any = None) -> Any:
    spec = lookup(type_name)
    if spec is None:
        raise AmlError(f"unknown compute type '{type_name}'; one of: "
                       f"{', '.join(attach_choices())}")
    type_name = spec.name
    given = {"address": address, "username": username, "password": password,
             "use_key": use_key or None, "key_file": key_file,
             "host_key_fingerprint": host_key_fingerprint,
             "trust_new_host_key": trust_new_host_key or None, "base_image": base_image,
             "python_location": python_location, "shared_volumes": shared_volumes,
             "nvidia_docker": nvidia_docker, "remote_base_dir": remote_base_dir,
             "network_mode": network_mode, "docker_host": docker_host,
             "spark_master": spark_master, "yarn_deploy_mode": yarn_deploy_mode,
             "spark_submit_location": spark_submit_location}
    unused = [k for k, v in given.items() if v is not None and k not in spec.attach_options]
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise AmlError(f"{flags} do(es) not apply to compute type '{type_name}'")
    if not name or not set(name) <= _NAME_CHARS:
        raise AmlError(f"invalid target name {name!r}: use letters, digits, '_' and '-'")
    if name in ws.config.compute_names() and not overwrite:
        raise AmlError(f"compute target '{name}' already exists ({name}.compute); detach it "
                       f"first with `aml computetarget detach --name {name}`")
    cls = target_class(type_name)
    compute = ComputeTarget(name=name, type=type_name)
    if address:
        host, port = split_address(address)
        compute.address, compute.port = host, port
    compute.username = username
    compute.python_location = python_location
    for attr, value in spec.defaults.items():
        setattr(compute, attr, value)
    if base_image:
        compute.base_docker_image = base_image
    if network_mode:
        compute.network_mode = network_mode
    if docker_host:
        compute.docker_host = docker_host
    if shared_volumes is not None:
        compute.shared_volumes = shared_volumes
    if nvidia_docker is not None:
        compute.nvidia_docker = nvidia_docker
    if remote_base_dir:
        compute.remote_base_dir = remote_base_dir
    if spark_master:
        compute.spark_master = spark_master
    if yarn_deploy_mode:
        if yarn_deploy_mode not in ("client", "cluster"):
            raise AmlError(f"--yarn-deploy-mode {yarn_deploy_mode!r}: use client or cluster")
        compute.yarn_deploy_mode = yarn_deploy_mode
    if spark_submit_location:
        compute.spark_submit_location = spark_submit_location
    created_refs: list[str] = []
    try:
        if password is not None:
            ref = ws.secrets.put("password", f"{name}-{username or 'user'}", password)
            created_refs.append(ref)
            compute.password = ref
        configure = getattr(cls, "configure_attach", None)
        if configure is not None:
            configure(compute, secrets=ws.secrets, use_key=use_key, key_file=key_file,
                      host_key_fingerprint=host_key_fingerprint,
                      trust_new_host_key=trust_new_host_key, confirm_host_key=confirm_host_key,
                      created_refs=created_refs, on_message=on_message)
        runconfig = RunConfiguration(name=name, target=name, framework=spec.framework,
                                     prepare_environment=spec.prepare_environment)
        ws.config.write_compute(compute)
        try:
            if name not in ws.config.runconfig_names() or overwrite:
                ws.config.write_runconfig(runconfig)
        except BaseException:
            ws.config.remove(name, runconfig=False)
            raise
    except BaseException:
        for ref in created_refs:
            try:
                ws.secrets.delete(ref)
            except AmlError:
                pass
        raise
    return compute
