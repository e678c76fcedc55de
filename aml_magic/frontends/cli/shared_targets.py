"""``aml computetarget attach|list|detach`` in a project linked to a workspace: the targets
are the workspace's shared ones, kept on the server. The password is read as for a personal
attach and sent once, in the request body over the link; the server keeps it in its key store
only, and no answer carries it."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.errors import AmlError, ProjectNotFound
from aml_magic.frontends.cli.common import project_root
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import table
from aml_magic.service.team.link import link_path

if TYPE_CHECKING:
    from aml_magic.service.team.client import WorkspaceClient


def linked(args: argparse.Namespace) -> WorkspaceClient | None:
    """The workspace client when the command's project is linked; None otherwise (and outside
    a project: the personal command then says what is wrong, as before)."""
    try:
        root: Path = project_root(args)
    except ProjectNotFound:
        return None
    if not link_path(root).exists():
        return None
    # the HTTP client (ssl, urllib) loads only for a linked project: personal verbs skip it
    from aml_magic.service.team.linked import linked_client
    return linked_client(root)


def attach(client: WorkspaceClient, type_name: str, name: str, values: dict[str, Any]) -> int:
    """POST the attach; a --key-file is read here and its text sent (``private_key``): the
    server never reads a path of its own machine for a member."""
    body = {"type": type_name, "name": name,
            **{k: v for k, v in values.items() if v not in (None, False, "")}}
    key_file = body.pop("key_file", None)
    if key_file:
        path = Path(str(key_file)).expanduser()
        try:
            body["private_key"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AmlError(f"{path}: cannot read the key file "
                           f"({getattr(exc, 'strerror', None) or exc})") from None
    target = client.request("POST", "workspace/targets", body)
    print(f"attached the shared target '{target['name']}' on {client.url}: members submit to "
          "it by name; its secrets are in the server's key store only")
    public = target.get("public_key")
    if public:
        print(f"the server generated its SSH key; public key:\n{public}\nAuthorize it on "
              f"{body.get('address')} (as {body.get('username')}) with:\n"
              f"mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '{public}' >> ~/.ssh/authorized_keys")
    return 0


def list_targets(client: WorkspaceClient, args: argparse.Namespace) -> int:
    targets = client.request("GET", "workspace/targets")["targets"]
    emit(args, targets, lambda: table(targets, (("name", "name"), ("type", "type"),
                                                ("address", "address")),
                                      empty=f"no shared targets on {client.url}"))
    return 0


def detach(client: WorkspaceClient, name: str) -> int:
    client.request("DELETE", f"workspace/targets/{name}")
    print(f"detached the shared target '{name}' from {client.url} (its secrets are deleted "
          "from the key store)")
    return 0
