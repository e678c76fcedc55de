"""Models as plain mappings in the files' own key names: for ``show`` commands, JSON output and
the configuration snapshot each run records (secrets are references already)."""
from __future__ import annotations

from typing import Any

from aml_magic.domain.config.compute import _KEYS as _COMPUTE_KEYS
from aml_magic.domain.config.compute import ComputeTarget
from aml_magic.domain.config.runconfig import _KEYS as _RUNCONFIG_KEYS
from aml_magic.domain.config.runconfig import RunConfiguration


def compute_to_mapping(target: ComputeTarget) -> dict[str, Any]:
    """The target as recorded with a run and shown: a plaintext password (an unsecured
    Workbench file) is replaced by ``******``; references are kept."""
    from aml_magic.domain.secrets import MASK, is_reference
    data = {"name": target.name}
    for attr, key in _COMPUTE_KEYS.items():
        value = target.value(attr) if attr != "type" else target.type
        if value not in (None, False) or attr == "type":
            data[key] = value
    if target.password and not is_reference(target.password):
        data[_COMPUTE_KEYS["password"]] = MASK
    data.update(target.extra)
    return data if not target.extra else _mask_literal_secrets(data)


def _mask_literal_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """Unknown keys kept from a Workbench file (``sshPassword: ...``) are shown and recorded
    too: a secret-looking one's literal text value is masked."""
    from aml_magic.domain.secrets import MASK, is_reference, looks_secret
    return {k: (MASK if isinstance(v, str) and v and looks_secret(k) and not is_reference(v)
                and k not in ("type", "name") else v) for k, v in data.items()}


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
