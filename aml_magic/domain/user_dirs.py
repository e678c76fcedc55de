"""The user's own places outside every project: the settings file and the cache folder.

A project folder is input (it may come from a teammate or a download), so nothing aml_magic
relies on is read from it besides what its files say: caches that speed up reading it (parsed
``aml_config/`` files, snapshot hashes and ignore decisions, what a remote store holds) live
in the user's cache folder, and what a project may not decide for itself (container options
that weaken isolation) is allowed in the user's settings file.

- settings: ``$AML_MAGIC_CONFIG`` if set, else ``~/.aml_magic/config.yml``
- caches: ``$AML_MAGIC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/aml_magic``, else
  ``~/.cache/aml_magic``; one folder per project under ``projects/``, named after the
  project's absolute path.

A cache folder is used only when it is a real folder owned by this user that no one else may
write (made 0700); otherwise nothing is cached. Standard library only and cheap: the CLI's
start-up reads the parse cache through here.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from aml_magic.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONFIG_ENV = "AML_MAGIC_CONFIG"
CACHE_ENV = "AML_MAGIC_CACHE_DIR"
#: Longest folder name made from a project's path; longer paths end in a hash of the path.
_NAME_LIMIT = 200


def config_file() -> Path:
    """The user's settings file (it need not exist)."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env).expanduser() if env else Path.home() / ".aml_magic" / "config.yml"


def load_settings() -> dict[str, Any]:
    """The user's settings file as a mapping ({} when there is none). It decides what projects
    may not, so one that others could have written is refused, with one line saying so."""
    path = config_file()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc.strerror})",
                          path=str(path)) from None
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path}: the settings file must be yours and writable only by you "
                          f"(it is mode {stat.S_IMODE(st.st_mode):04o}, uid {st.st_uid}): "
                          f"chmod go-w {path}", path=str(path))
    import yaml         # only when a project asks for something only the user may allow

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the settings file: "
                          f"{str(exc).splitlines()[0] if str(exc) else exc!r}",
                          path=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the settings file must be a mapping of keys to values",
                          path=str(path))
    return data


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "aml_magic"


def project_cache(project_root: str | os.PathLike[str], *, create: bool = False) -> Path | None:
    """The cache folder of the project at ``project_root``; None when it cannot be trusted
    (not ours, writable by others, a link) or, without ``create``, does not exist yet."""
    projects = cache_root() / "projects"
    folder = projects / _folder_name(os.path.abspath(project_root))
    if _private(folder) and _private(projects):
        return folder
    if not create:
        return None
    try:
        os.makedirs(projects.parent, mode=0o700, exist_ok=True)
        for made in (projects, folder):
            try:
                os.mkdir(made, 0o700)
            except FileExistsError:
                pass
    except OSError:
        return None
    return folder if _private(folder) and _private(projects) else None


def _folder_name(path: str) -> str:
    """``path`` as one file name, reversibly (``%`` -> ``%25``, ``/`` -> ``%2F``): two projects
    never share a folder; a very long path is cut and ends in its SHA-256."""
    name = path.replace("%", "%25").replace("/", "%2F")
    if len(name) <= _NAME_LIMIT:
        return name
    import hashlib      # rare (very deep projects): not imported on the common path
    return name[:_NAME_LIMIT - 65] + "-" + hashlib.sha256(path.encode()).hexdigest()


def _private(folder: Path) -> bool:
    """A real folder owned by this user, writable by no one else."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


__all__ = ["CACHE_ENV", "CONFIG_ENV", "cache_root", "config_file", "load_settings",
           "project_cache"]
