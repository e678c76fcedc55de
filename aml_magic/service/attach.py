"""Attaching a compute target: build the ``.compute`` model, keep secrets in the secret store,
let the target type check what it needs (the remote type pins the host key), then write the
``.compute``/``.runconfig`` pair, both or neither."""
from __future__ import annotations


from aml_magic.domain.config import ComputeTarget, RunConfiguration, split_address
from aml_magic.domain.registry import check_attach, option
from aml_magic.errors import AmlError
from aml_magic.targets import target_class
from aml_magic.targets.ssh import binding as ssh_binding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.service.workspace import Workspace

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def attach_target(ws: Workspace, type_name: str, name: str, *, confirm_host_key: Any = None,
                  overwrite: bool = False, on_message: Any = None, **options: Any) -> Any:
    """OPTIONS are the registry's attach options (``domain/registry.py``), checked there. Those
    with a ``.compute`` key go into the model; ``password`` ones go to the secret store (the
    model keeps the reference); attach-only ones (``use_key``, ``key_file``, ...) are handed to
    the type's ``configure_attach``."""
    spec, values = check_attach(type_name, options)
    type_name = spec.name
    if not name or not set(name) <= _NAME_CHARS:
        raise AmlError(f"invalid target name {name!r}: use letters, digits, '_' and '-'")
    if name in ws.config.compute_names() and not overwrite:
        raise AmlError(f"compute target '{name}' already exists ({name}.compute); detach it "
                       f"first with `aml computetarget detach --name {name}`")
    cls = target_class(type_name)
    compute = ComputeTarget(name=name, type=type_name)
    for attr, value in spec.defaults.items():
        compute.set_value(attr, value)
    secrets: dict[str, str] = {}
    hook: dict[str, Any] = {}
    for key, value in values.items():
        opt = option(key)
        if opt.kind == "password":
            secrets[opt.attr] = value
        elif opt.key is None:
            hook[key] = value
        elif key == "address":
            compute.address, compute.port = split_address(value)
        else:
            compute.set_value(opt.attr, value)
    created_refs: list[str] = []
    bound = False
    try:
        for attr, secret in secrets.items():
            ref = ws.secrets.put(attr, f"{name}-{compute.username or 'user'}", secret)
            created_refs.append(ref)
            compute.set_value(attr, ref)
        configure = getattr(cls, "configure_attach", None)
        if configure is not None:
            configure(compute, secrets=ws.secrets, confirm_host_key=confirm_host_key,
                      created_refs=created_refs, on_message=on_message, **hook)
        runconfig = RunConfiguration(name=name, target=name, framework=spec.framework,
                                     prepare_environment=spec.prepare_environment)
        # what this machine attached: a run's secrets go only to that engine (container/launch)
        ws.secrets.bind_target(ws.root, name, {"type": type_name,
                                               "dockerHost": compute.docker_host or ""})
        bound = True
        ws.config.write_compute(compute)
        try:
            if name not in ws.config.runconfig_names() or overwrite:
                ws.config.write_runconfig(runconfig)
        except BaseException:
            ws.config.remove(name, runconfig=False)
            raise
    except BaseException:
        if bound:
            ws.secrets.unbind_target(ws.root, name)
        for ref in created_refs:
            try:
                ws.secrets.delete(ref)
            except AmlError:
                pass
        raise
    return compute


def bind_login(ws: Workspace, compute: ComputeTarget) -> None:
    """Bind a target's stored login secret to what its file names (``aml computetarget
    secure``). Without a pinned host key there is nothing safe to bind to yet: the first
    successful login binds it (``targets/ssh/binding.py``)."""
    if compute.is_remote and compute.host_key_fingerprint:
        ssh_binding.bind_login(compute, ws.secrets)
