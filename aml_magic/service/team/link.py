"""A project's link to a team workspace: ``aml_config/workspace.yml`` holding the server's URL
and nothing else. It is committed with the project, so it must never hold a secret: a URL with
a user, password, query or fragment is refused (the token stays in the member's login).

The file may also say ``project: NAME``, the name of the project on the server (not a secret);
by default it is the project folder's name. The CLI's submit and run verbs go through the
server in a linked project (``service/team/remote.py``)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from aml_magic.domain.atomic_file import replace_file
from aml_magic.errors import AmlError

LINK_FILE = "workspace.yml"
_PROJECT_LINE = re.compile(r'^project:\s*(?P<name>"(?:[^"\\]|\\.)*"|\S+)\s*$')
_LINE = re.compile(r'^url:\s*(?P<url>"(?:[^"\\]|\\.)*"|\S+)\s*$')


def link_path(project: Path) -> Path:
    return project / "aml_config" / LINK_FILE


def check_url(url: str) -> str:
    """URL as the link keeps it (no trailing '/'); one line saying why it cannot be kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AmlError(f"{url!r} is not a workspace URL; give one like https://aml.example.org")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise AmlError(f"a workspace link holds the server's URL only, never a user, password "
                       f"or token; give {parts.scheme}://{parts.hostname}"
                       f"{':' + str(parts.port) if parts.port else ''}{parts.path.rstrip('/')}")
    return url.strip().rstrip("/")


def read_link(project: Path) -> str | None:
    """The URL PROJECT is linked to; None when it is not linked."""
    path = link_path(project)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        found = _LINE.match(line.strip())
        if found:
            value = found.group("url")
            return str(json.loads(value)) if value.startswith('"') else value
    raise AmlError(f"{path}: no 'url: ...' line; run `aml workspace link URL --force` to "
                   "rewrite it")


def project_name(project: Path) -> str:
    """The name PROJECT has on its workspace: ``project: NAME`` in the link, else its folder's
    name."""
    try:
        text = link_path(project).read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    for line in text.splitlines():
        found = _PROJECT_LINE.match(line.strip())
        if found:
            value = found.group("name")
            return str(json.loads(value)) if value.startswith('"') else value
    return project.resolve().name


def write_link(project: Path, url: str, *, force: bool = False) -> bool:
    """Link PROJECT to URL (atomically); False when it was linked to URL already. A link to
    another URL is replaced only with FORCE."""
    url = check_url(url)
    current = read_link(project) if link_path(project).exists() else None
    if current == url:
        return False
    if current is not None and not force:
        raise AmlError(f"{link_path(project)} links this project to {current}; "
                       f"`aml workspace link {url} --force` to link it to {url} instead")
    text = ("# This project's team workspace (`aml workspace link`): the URL only, never a "
            "secret.\n" f"url: {json.dumps(url)}\n")
    replace_file(link_path(project), text.encode("utf-8"), mode=0o644)
    return True


def remove_link(project: Path) -> str | None:
    """Unlink PROJECT; the URL it was linked to, or None."""
    path = link_path(project)
    try:
        current = read_link(project)
    except AmlError:
        current = "(unreadable link)"
    path.unlink(missing_ok=True)
    return current
