"""Models as plain mappings in the files' own key names: for ``show`` commands, JSON output and
the configuration snapshot each run records (secrets are references already)."""
from __future__ import annotations


from aml_magic.domain.config.compute import _KEYS as _COMPUTE_KEYS
from aml_magic.domain.config.compute import SECRET_KEYS, ComputeTarget
from aml_magic.domain.config.runconfig import _KEYS as _RUNCONFIG_KEYS
from aml_magic.domain.config.runconfig import RunConfiguration
from aml_magic.domain.masking import MASK, is_reference, mask_tree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def compute_to_mapping(target: ComputeTarget) -> dict[str, Any]:
    """The target as recorded with a run and shown. A registry key is masked when its
    ``secret`` flag says so and it holds text that is no reference (a plaintext password of
    an unsecured Workbench file); references are kept (they reveal nothing). Unknown keys kept
    from the file (``sshPassphrase: ...``) have only their names: a secret-looking one's text
    is masked, at any depth."""
    data: dict[str, Any] = {"name": target.name}
    for attr, key in _COMPUTE_KEYS.items():
        value = target.value(attr) if attr != "type" else target.type
        if value not in (None, False) or attr == "type":
            data[key] = (MASK if key in SECRET_KEYS and isinstance(value, str)
                         and not is_reference(value) else value)
    for key, value in target.extra.items():
        data[key] = mask_tree(value, name=key)
    return data


def compute_from_mapping(name: str, data: dict[str, Any]) -> ComputeTarget:
    """Rebuild a target from a run's recorded snapshot (its ``.compute`` may be gone)."""
    values = {attr: data[key] for attr, key in _COMPUTE_KEYS.items() if key in data}
    return ComputeTarget.from_values(name, values)


def runconfig_to_mapping(config: RunConfiguration) -> dict[str, Any]:
    data: dict[str, Any] = {"name": config.name}
    for attr, key in _RUNCONFIG_KEYS.items():
        data[key] = getattr(config, attr)
    data.update(config.extra)
    return data


def config_snapshot(rc: RunConfiguration, compute: ComputeTarget) -> dict[str, Any]:
    """What a run was configured with, as its record keeps it; ``.compute`` passwords are
    references already."""
    return {"runconfig": runconfig_to_mapping(rc), "compute": compute_to_mapping(compute)}
