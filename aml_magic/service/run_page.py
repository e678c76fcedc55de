"""What the Lab's run page asks beyond a run's detail: the files of its snapshot, and a re-run
(the same script, arguments and target, as a new run).

A re-run reads the command the history recorded. That command had secret values masked, so a
run whose arguments held a secret cannot be repeated from it: it is refused, and says how to
submit it again. The run configuration must still produce the recorded command (its argument
vector may have changed since): otherwise the re-run is refused rather than run differently.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aml_magic.domain.config.runconfig import FILE_TOKEN
from aml_magic.domain.history.manifests import kept_manifest
from aml_magic.domain.masking import MASK
from aml_magic.errors import ApiError, ConfigError

if TYPE_CHECKING:
    from aml_magic.domain.config.runconfig import RunConfiguration
    from aml_magic.service.contract.models import SnapshotJson
    from aml_magic.service.run import Run
    from aml_magic.service.workspace import Workspace

#: Most snapshot files one answer lists (the total is always given).
SNAPSHOT_FILES = 5000


def snapshot_json(workspace: Workspace, run_id: str, limit: int = SNAPSHOT_FILES) -> SnapshotJson:
    """The files of the run's snapshot from the manifest the history kept at submit (never the
    run folder's copy, which the run may rewrite), the first LIMIT by path."""
    record = workspace.run(run_id).record
    manifest = kept_manifest(workspace.store.aml_dir, record.snapshot_digest)
    if manifest is None:
        return {"run_id": record.run_id, "digest": record.snapshot_digest, "kept": False,
                "files": [], "total": 0, "total_size": 0, "warnings": []}
    files = list(manifest.files.items())
    return {"run_id": record.run_id, "digest": manifest.digest, "kept": True,
            "files": [{"path": rel, "size": e.size, "mode": e.mode} for rel, e in files[:limit]],
            "total": len(files), "total_size": manifest.total_size,
            "warnings": list(manifest.warnings)}


def rerun(workspace: Workspace, run_id: str) -> Run:
    """Submit the run's script with its arguments on its target again, as a new run (started
    in the background, like a REST submit)."""
    record = workspace.run(run_id).record
    if record.kind != "script" or not record.run_configuration:
        raise ApiError(409, f"run {record.run_id} is a {record.kind} run; only a submitted "
                            "script can be re-run")
    if any(MASK in arg for arg in record.command):
        raise ApiError(409, f"run {record.run_id} had a secret in its arguments (kept masked): "
                            "submit it again with the secret, e.g. `aml experiment submit`")
    configs = workspace.run_configurations()
    rc = configs.get(record.run_configuration)
    if rc is None:
        raise ApiError(409, f"run configuration '{record.run_configuration}' of run "
                            f"{record.run_id} is gone from aml_config/; submit it again")
    script, args = split_command(rc, record.command)
    if script is None and args is None:
        raise ApiError(409, f"run configuration '{rc.name}' no longer gives the command of run "
                            f"{record.run_id} ({' '.join(record.command)}); submit it again")
    overrides: dict[str, Any] = {"target": record.target} if rc.target != record.target else {}
    path = str(workspace.root / script) if script is not None else None
    return workspace.submit(rc.name, path, args or [], background=True,
                            overrides=overrides or None)


def split_command(rc: RunConfiguration, command: list[str]
                  ) -> tuple[str | None, list[str] | None]:
    """(script, arguments) that make RC resolve to COMMAND; (None, None) when none do. The
    script is found where the argument vector has ``$file`` (or first, with no ``$file``),
    then checked by resolving the command again."""
    vector = [str(item) for item in (rc.argument_vector or [FILE_TOKEN])]
    candidates: list[str | None] = [None]
    for at, item in enumerate(vector):
        if FILE_TOKEN in item and at < len(command):
            before, after = item.split(FILE_TOKEN, 1)
            shown = command[at]
            if shown.startswith(before) and shown.endswith(after) and \
                    len(shown) > len(before) + len(after):
                candidates.append(shown[len(before):len(shown) - len(after)])
    if not any(FILE_TOKEN in item for item in vector) and command:
        candidates.append(command[0])
    for script in candidates:
        try:
            prefix = rc.resolve_arguments(script, [])
        except ConfigError:   # a vector that needs a script: not this candidate
            continue
        if command[:len(prefix)] == prefix and len(prefix) <= len(command):
            return script, command[len(prefix):]
    return None, None
