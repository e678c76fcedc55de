"""Container options that weaken a run's isolation, and the user's permission for them.

A run's container is least-privilege by default (``targets/container/options.py``). A few
``.compute`` values undo part of that, and a ``.compute`` file is project input (a teammate's
commit, a downloaded example), so those values are honoured only when the user allows them,
outside the project: for one submit or prepare (``--allow-unsafe-container``), or for a project
in the user's settings file (``user_dirs.config_file()``, ``~/.aml_magic/config.yml``)::

    allow_unsafe_container:
      - project: ~/work/spark-demo            # the project folder, or a pattern with *
        options: [network_host, capabilities] # names from ALLOW below, or [all]

Which options can weaken isolation is the registry's ``isolation`` field; this module says
which of their values do. ``nvidiaDocker`` is not one: it gives the container the GPUs'
device nodes (its documented purpose), no host files, privileges or network. There is no
option for privileged mode or arbitrary devices or mounts, so a project cannot ask for them.
"""
from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from pathlib import Path

from aml_magic.domain import registry
from aml_magic.domain.user_dirs import config_file, load_settings
from aml_magic.errors import AmlError, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.config import ComputeTarget

#: The names the user allows, and what each lets a project file do.
ALLOW: dict[str, str] = {
    "capabilities": "add Linux capabilities to the container (capabilities)",
    "root_user": "run the container as root (containerUser 0 or root)",
    "network_host": "put the container on the host's network, or another container's "
                    "(networkMode host or container:...)",
    "host_folder": "mount read-write a host folder that is or holds the root, a home folder, "
                   "system files or credentials (nativeSharedDirectory, or the project itself "
                   "with sharedVolumes)",
}
ALL = "all"
SETTINGS_KEY = "allow_unsafe_container"
FLAG = "--allow-unsafe-container"
#: What an environment build uses of the target's options (prepare checks only these).
BUILD = frozenset({"network_host"})

#: Folders of the system a run must not get read-write, nor a folder holding them.
_SYSTEM = ("/etc", "/root", "/run", "/var/run", "/var/lib/docker", "/proc", "/sys", "/dev",
           "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
#: Folders of a home folder that hold credentials, programs run at login, or aml_magic's own
#: state (secrets, settings, caches).
_CREDENTIALS = (".ssh", ".aml_magic", ".docker", ".gnupg", ".config", ".aws", ".azure",
                ".kube", ".local", ".cache")
_HOMES = r"/(home|Users)(/[^/]+)?"       # (compiled on first use, by re's own cache)
_REMOTE_HOME = "/home/~"          # a remote machine's home folder, not known here


class Reduction:
    """One ``.compute`` value that weakens isolation: the name that allows it, the key, the
    value as written, and what it does. (A plain class: a dataclass or NamedTuple would cost
    every command that loads the workspace a few hundred microseconds more.)"""
    __slots__ = ("allow", "key", "value", "why")

    def __init__(self, allow: str, key: str, value: str, why: str) -> None:
        self.allow, self.key, self.value, self.why = allow, key, value, why

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reduction) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Reduction({self.allow!r}, {self.key!r}, {self.value!r}, {self.why!r})"

    def to_json(self) -> dict[str, str]:
        # "option", not "key": a field named like a secret would be masked on the way out
        return {"allow": self.allow, "option": self.key, "value": self.value, "why": self.why}

    @property
    def text(self) -> str:
        return f"{self.key}: {self.value} ({self.why})"


def capability_names(value: Any) -> list[str]:
    """``capabilities`` of a .compute: a list or a comma/space separated string."""
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    return [str(item).strip().upper() for item in items if str(item).strip()]


def reductions(compute: ComputeTarget, *, project_root: Path, share: str | None = None,
               home: str | None = None) -> list[Reduction]:
    """What of ``compute`` weakens its containers' isolation ([] for other launches).
    ``share``: the shared directory as resolved on the machine (at launch), else it is
    resolved here; ``home``: a remote machine's home folder when known."""
    spec = registry.lookup(compute.type)
    if spec is None or spec.launch != "container":
        return []
    local = spec.placement == "local"
    found: list[Reduction] = []
    for option in registry.compute_options():
        if not option.isolation or not option.applies_to(spec):
            continue
        value = compute.value(option.attr)
        why = _weakens(option.isolation, option.attr, value, compute=compute, local=local,
                       project_root=project_root, share=share, home=home)
        if why:
            shown = ",".join(capability_names(value)) if option.attr == "capabilities" \
                else str(value).lower() if isinstance(value, bool) else str(value)
            found.append(Reduction(option.isolation, str(option.key), shown, why))
    return found


def _weakens(allow: str, attr: str, value: Any, *, compute: ComputeTarget, local: bool,
             project_root: Path, share: str | None, home: str | None) -> str | None:
    if value is None or value is False or value == "":
        return None
    if allow == "capabilities":
        names = capability_names(value)
        return f"adds capabilities {', '.join(names)}" if names else None
    if allow == "root_user":
        user = str(value).strip().split(":", 1)[0].strip().lower()
        return "runs as root" if user in ("0", "root") else None
    if allow == "network_host":
        mode = str(value).strip().lower()
        if mode == "host":
            return "the host's network"
        return "another container's network" if mode.startswith("container:") else None
    if allow == "host_folder":
        if attr == "shared_volumes":        # the project itself, mounted read-write
            return host_folder(str(project_root), local=True) if local else None
        if compute.is_docker and not compute.shared_volumes:
            return None                     # not mounted (ComputeTarget.native_share)
        return host_folder(share or str(value), local=local, project_root=project_root,
                           home=home)
    raise AmlError(f"unknown isolation name {allow!r} in the registry")


def host_folder(path: str, *, local: bool, project_root: Path | None = None,
                home: str | None = None) -> str | None:
    """Why mounting ``path`` read-write would hand a run the host, or None. Locally links are
    resolved and ``~`` is this user's home; on a remote machine ``~`` and relative paths are
    its home folder (``home`` when known, else a ``/home/<name>`` the path starts with)."""
    if local:
        home = os.path.realpath(os.path.expanduser("~"))
        expanded = os.path.expanduser(path)
        if not os.path.isabs(expanded) and project_root is not None:
            expanded = str(project_root / expanded)
        candidates = {posixpath.normpath(expanded), os.path.realpath(expanded)}
    else:
        named = re.match(r"/(home|Users)/[^/]+", path)
        home = posixpath.normpath(home) if home else named.group(0) if named else _REMOTE_HOME
        expanded = home + path[1:] if path.startswith("~") else path
        if not expanded.startswith("/"):
            expanded = f"{home}/{expanded}"
        candidates = {posixpath.normpath(expanded)}
    for candidate in sorted(candidates):
        why = _folder_reason(candidate, home)
        if why:
            return why
    return None


def _folder_reason(path: str, home: str) -> str | None:
    if path == "/":
        return "the host's root folder"
    homes = re.fullmatch(_HOMES, path)
    if path == home or homes and path.count("/") == 2:
        return "a home folder"
    if _inside(home, path) or homes:
        return "a folder holding home folders"
    system = [f for f in _SYSTEM if f != home and not _inside(home, f)]   # root's home: /root
    for folder in (*system, *(f"{home}/{name}" for name in _CREDENTIALS), *_own_state()):
        if path == folder or _inside(path, folder) or _inside(folder, path):
            return f"it is or holds {folder}"
    return None


def _own_state() -> list[str]:
    """Where this user's secrets and settings are, when moved by the environment."""
    places = [os.path.dirname(os.path.abspath(config_file()))]
    secrets = os.environ.get("AML_MAGIC_SECRETS_DIR")
    if secrets:
        places.append(os.path.abspath(os.path.expanduser(secrets)))
    return places


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


# -- the user's permission ---------------------------------------------------------------------
def allowed_for(project_root: Path) -> set[str]:
    """The names the user's settings allow for the project at ``project_root``."""
    settings = load_settings()
    where = str(config_file())
    entries = settings.get(SETTINGS_KEY) or []
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: {SETTINGS_KEY} must be a list of "
                          "{project: PATH, options: [...]}", path=where)
    root = os.path.realpath(project_root)
    allowed: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("project"), str):
            raise ConfigError(f"{where}: each {SETTINGS_KEY} entry needs 'project: PATH' and "
                              "'options: [...]'", path=where)
        options = entry.get("options")
        names = [options] if isinstance(options, str) else options
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}: 'options' of project {entry['project']} must be a "
                              f"list of {', '.join(ALLOW)} or {ALL}", path=where)
        unknown = [n for n in names if n not in ALLOW and n != ALL]
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)} for project "
                              f"{entry['project']}; known: {', '.join(ALLOW)}, {ALL}", path=where)
        if _matches(entry["project"], root):
            allowed.update(ALLOW if ALL in names else names)
    return allowed


def _matches(pattern: str, root: str) -> bool:
    expanded = os.path.expanduser(pattern)
    if any(c in expanded for c in "*?["):
        return fnmatch.fnmatchcase(root, expanded) or \
            fnmatch.fnmatchcase(root, os.path.realpath(os.path.dirname(expanded)) + "/"
                                + os.path.basename(expanded))
    return os.path.realpath(expanded) == root


def permit(compute: ComputeTarget, *, project_root: Path, allow_unsafe: bool = False,
           only: frozenset[str] | None = None) -> dict[str, Any] | None:
    """None when ``compute`` keeps its containers' isolation; else what the run record keeps
    (``{"reduced": [...], "allowed_by": ...}``) once the user allowed every reduction, by
    ``allow_unsafe`` or in the settings file; else one ``AmlError`` line naming the keys, the
    file and how to allow them. ``only``: the names that matter (prepare: ``BUILD``)."""
    found = [r for r in reductions(compute, project_root=project_root)
             if only is None or r.allow in only]
    if not found:
        return None
    if allow_unsafe:
        return {"reduced": [r.to_json() for r in found], "allowed_by": FLAG}
    allowed = allowed_for(project_root)
    refused = [r for r in found if r.allow not in allowed]
    if refused:
        names = sorted({r.allow for r in refused})
        source = str(compute.path) if compute.path else f"{compute.name}.compute"
        raise AmlError(
            f"{source}: {'; '.join(r.text for r in refused)} weaken(s) the container's "
            f"isolation, which a project file cannot decide: allow it for this project in "
            f"{config_file()} ({SETTINGS_KEY}: [{{project: {project_root}, options: "
            f"[{', '.join(names)}]}}]) or use {FLAG} for this submit, or remove the key")
    return {"reduced": [r.to_json() for r in found], "allowed_by": str(config_file())}


def allowed_names(isolation: dict[str, Any] | None) -> frozenset[str]:
    """The names ``permit`` allowed (what the container launch may then use)."""
    if not isolation:
        return frozenset()
    return frozenset(str(r["allow"]) for r in isolation["reduced"])


__all__ = ["ALL", "ALLOW", "BUILD", "FLAG", "SETTINGS_KEY", "Reduction", "allowed_for",
           "allowed_names", "capability_names", "host_folder", "permit", "reductions"]
