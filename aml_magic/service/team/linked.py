"""A linked project's way to its workspace: the client for the server its
``aml_config/workspace.yml`` names, as the member this machine is logged in as. The link holds
the URL only; the token comes from this machine's login (``login.py``)."""
from __future__ import annotations

from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.service.team import link, login
from aml_magic.service.team.client import WorkspaceClient


def linked_client(project: Path) -> WorkspaceClient | None:
    """The client for the workspace PROJECT is linked to; None when it is not linked. Not
    logged in, or logged in to another server: one line saying which login to make."""
    url = link.read_link(project)
    if url is None:
        return None
    current = login.load()
    if current is None:
        raise AmlError(f"this project is linked to the workspace {url}; log in first with "
                       f"`aml workspace login {url} --token-stdin`")
    if current.url.rstrip("/") != url.rstrip("/"):
        raise AmlError(f"this project is linked to {url}, but this machine is logged in to "
                       f"{current.url}; `aml workspace login {url} --token-stdin`")
    return WorkspaceClient(url, current.token())
