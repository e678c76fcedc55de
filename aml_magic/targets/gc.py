"""``aml computetarget gc NAME``: what a target holds that no recent run of this project needs.

Kept: every run of this project's history created within ``keep_days``, and every run not in an
end state whatever its age. On a target with run folders over SSH (``remote`` placement) the
listing and the removal are one small helper each (``agent/storegc.py``, run by the target's
Python over the target's own transport): objects of the content-addressed store that no kept
run's ``manifest.json`` and no kept spare tree lists, this project's spare trees built for a
tree no kept run uses, and the remote folders of this target's runs that ended and are older
than ``keep_days``, and the remote environments (``envs/<identity>``) of identities no run
configuration has now. On a container target, environment images (``aml-magic/env:*``) whose
identity no run configuration of this project has now, computed for this target's engine.

Removing an object only costs a re-send: a later submit is told what the store lacks. The
plan lists what will be removed; ``remove`` removes exactly that list, nothing else.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aml_magic.errors import AmlError, TargetError
from aml_magic.domain.registry import lookup
from aml_magic.domain.history.manifests import kept_manifest
from aml_magic.agent import AGENT_DIR
from aml_magic.domain.config.templates import DEFAULT_DOCKER_IMAGE
from aml_magic.domain.environment import plan_environment
from aml_magic.domain.snapshot.manifest import Manifest
from aml_magic.targets.base import AgentTarget
from aml_magic.targets.container.images import ENV_REPOSITORY
from aml_magic.targets.container.launch import ContainerLaunch
from aml_magic.targets.ssh.placement import RemotePlacement, _project_key as key_of

if TYPE_CHECKING:
    from aml_magic.service.workspace import Workspace
    from aml_magic.targets.base import AgentTarget
    from aml_magic.targets.container.engine import DockerCli

DEFAULT_KEEP_DAYS = 7.0
_PAGE = 1000
_STOREGC = AGENT_DIR / "storegc.py"
# Runs PYTHON (``~/`` expanded on the target) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'
KINDS = ("run", "spare", "object", "env", "image")


@dataclass(frozen=True)
class GcItem:
    """One thing to remove: ``kind`` is run (a remote run folder), spare, object, env (a
    remote target's environment, ``<base>/envs/ID``) or image."""
    kind: str
    name: str
    size: int


@dataclass
class GcPlan:
    target: str
    keep_days: float
    items: list[GcItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(i.size for i in self.items)

    def of(self, kind: str) -> list[str]:
        return [i.name for i in self.items if i.kind == kind]


def plan(ws: Workspace, name: str, *, keep_days: float = DEFAULT_KEEP_DAYS,
         now: float | None = None) -> GcPlan:
    """What ``gc`` would remove from target ``name`` (nothing is changed)."""
    if keep_days < 0:
        raise AmlError("computetarget gc: --keep-days takes a number >= 0")
    compute = ws.config.compute(name)
    ttype = lookup(compute.type)
    if ttype is None or (ttype.placement != "remote" and ttype.launch != "container"):
        raise AmlError(f"computetarget gc: target '{name}' ({compute.type}) keeps nothing to "
                       "collect; its run folders are this project's (use `aml history prune`)")
    cutoff = (time.time() if now is None else now) - keep_days * 86400.0
    kept, stale_runs = _split_history(ws, name, cutoff)
    result = GcPlan(name, keep_days)
    target = _agent_target(ws, compute)
    if ttype.placement == "remote":
        answer = _storegc(target, "plan", {
            "base": _remote_base(target), "project_key": _project_key(ws),
            "used": sorted(_used_objects(ws, kept)), "runs": stale_runs,
            "envs_used": sorted(_identities_in_use(ws, compute, kept, remote_env=True))})
        result.items += [GcItem("run", str(n), int(s)) for n, s in answer.get("runs", [])]
        result.items += [GcItem("spare", str(n), int(s)) for n, s in answer.get("spares", [])]
        result.items += [GcItem("object", str(n), int(s)) for n, s in answer.get("objects", [])]
        result.items += [GcItem("env", str(n), int(s)) for n, s in answer.get("envs", [])]
    if ttype.launch == "container":
        result.items += _stale_images(ws, target, kept)
    return result


def remove(ws: Workspace, gc_plan: GcPlan) -> None:
    """Remove exactly the items of ``gc_plan``."""
    target = _agent_target(ws, ws.config.compute(gc_plan.target))
    if any(i.kind in ("run", "spare", "object", "env") for i in gc_plan.items):
        _storegc(target, "remove", {"base": _remote_base(target),
                                    "objects": gc_plan.of("object"), "envs": gc_plan.of("env"),
                                    "spares": gc_plan.of("spare"), "runs": gc_plan.of("run")})
        if gc_plan.of("object"):
            _forget_known_objects(target)
    images = gc_plan.of("image")
    if images:
        engine = _engine(target)
        failed = []
        for ref in images:          # untag: an image a container still uses is refused
            result = engine.run("image", "rm", ref, check=False)
            if result.exit_code != 0:
                failed.append(ref)
        if failed:
            raise TargetError(f"target '{gc_plan.target}': the engine kept {', '.join(failed)} "
                              "(a container still uses it); stop that container, then gc again")


def _agent_target(ws: Workspace, compute: Any) -> AgentTarget:
    target = ws.target_for(compute)
    if not isinstance(target, AgentTarget):     # every registered type is one today
        raise AmlError(f"computetarget gc: target '{compute.name}' ({compute.type}) is not "
                       "collected by gc")
    return target


def _remote_base(target: AgentTarget) -> str:
    if not isinstance(target.placement, RemotePlacement):
        raise AmlError(f"computetarget gc: target '{target.compute.name}' keeps no remote store")
    return target.placement.base_dir()


def _engine(target: AgentTarget) -> DockerCli:
    if not isinstance(target.launch, ContainerLaunch):
        raise AmlError(f"computetarget gc: target '{target.compute.name}' runs no containers")
    return target.launch.engine(target)


# -- which runs are kept ----------------------------------------------------------------------
def _split_history(ws: Workspace, name: str, cutoff: float) -> tuple[list[Any], list[str]]:
    """(kept runs of the whole project, ids of this target's ended runs older than cutoff)."""
    kept: list[Any] = []
    stale: list[str] = []
    offset = 0
    while True:
        page = ws.store.list_runs(limit=_PAGE, offset=offset)
        for record in page:
            if not record.status.is_terminal() or record.created_at >= cutoff:
                kept.append(record)
            elif record.target == name:
                stale.append(record.run_id)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return kept, stale


def _used_objects(ws: Workspace, kept: list[Any]) -> set[str]:
    """The objects every kept run's ``manifest.json`` lists (whatever its target: targets on
    one machine may share a store)."""
    used: set[str] = set()
    for record in kept:
        path = ws.store.run_dir(record.run_id) / "manifest.json"
        try:
            used |= Manifest.from_json(path.read_bytes()).shas()
            continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        # a Slurm array's child: its sweep's frozen snapshot, kept by digest
        kept_copy = kept_manifest(ws.store.aml_dir, record.snapshot_digest) \
            if record.parent_run_id else None
        if kept_copy is not None:  # else no manifest: its run has its own copy; objects re-sent
            used |= kept_copy.shas()
    return used


def _project_key(ws: Workspace) -> str:
    return key_of(ws.root)


# -- the remote store -------------------------------------------------------------------------
def _storegc(target: Any, op: str, request: dict[str, Any]) -> dict[str, Any]:
    placement = target.placement
    argv = ["sh", "-c", _EXEC_PYTHON, "sh", placement.python(), "-S", "-E", "-c",
            _STOREGC.read_text(encoding="utf-8"), op]
    result = placement.transport.run(argv, stdin=json.dumps(request).encode("utf-8"),
                                     check=False, timeout=600)
    err = result.stderr.decode("utf-8", "replace").strip()
    if result.exit_code != 0:
        raise TargetError(f"target '{target.compute.name}': gc ({op}) under "
                          f"{placement.base_dir()} on {placement.where()} failed (exit "
                          f"{result.exit_code}): {err[-300:] or 'no message'}")
    try:
        return dict(json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1]))
    except (ValueError, IndexError, TypeError, UnicodeDecodeError):
        raise TargetError(f"target '{target.compute.name}': unexpected answer from the gc "
                          f"helper: {result.stdout[-200:]!r}") from None


def _forget_known_objects(target: Any) -> None:
    """The client's memory of the remote store is now wrong: drop it (the next submit asks)."""
    try:
        target.placement._known_path().unlink()
    except (OSError, AttributeError):
        pass


# -- environment images -----------------------------------------------------------------------
def _stale_images(ws: Workspace, target: Any, kept: list[Any]) -> list[GcItem]:
    engine = _engine(target)
    listed = engine.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                        ENV_REPOSITORY).stdout.decode("utf-8").split()
    in_use = _identities_in_use(ws, target.compute, kept)
    stale = sorted(ref for ref in listed if ref.startswith(ENV_REPOSITORY + ":")
                   and ref.split(":", 1)[1] not in in_use)
    if not stale:
        return []
    out = engine.run("image", "inspect", "--format", "{{.Size}}", *stale).stdout.decode()
    sizes = [int(s) for s in out.split()]
    return [GcItem("image", ref, size) for ref, size in zip(stale, sizes)]


def _identities_in_use(ws: Workspace, compute: Any, kept: list[Any], *,
                       remote_env: bool = False) -> set[str]:
    """Each run configuration's environment identity on this target's base image and on its
    own target's (engines and base folders may be shared), plus the environments of runs not
    yet ended. ``remote_env``: a remote machine's environments, whose "base image" is its
    interpreter (``remote_env.py``)."""
    used = {r.environment_hash for r in kept
            if not r.status.is_terminal() and r.environment_hash}
    if remote_env:
        bases = {f"python:{compute.python_location or 'python3'}"}
    else:
        bases = {(compute.base_docker_image or DEFAULT_DOCKER_IMAGE).strip()}
    for rc_name in ws.config.runconfig_names():
        try:
            rc = ws.config.runconfig(rc_name)
            own = ws.config.target_of(rc)
            conda = ws.dependencies(rc).conda
        except AmlError:
            continue            # a broken runconfig names no environment
        images = set(bases)
        own_base = (f"python:{own.python_location or 'python3'}" if remote_env
                    else getattr(own, "base_docker_image", None))
        if own_base:
            images.add(str(own_base).strip())
        for base in images:
            used.add(plan_environment(conda, base_image=base,
                                      framework=getattr(rc, "framework", "Python")).identity)
    return {u for u in used if u}


__all__ = ["DEFAULT_KEEP_DAYS", "GcItem", "GcPlan", "plan", "remove"]
