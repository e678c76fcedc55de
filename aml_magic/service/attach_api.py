"""Attach over REST: what the Lab form sends, checked against the registry, and an answer that
a browser can act on. An unknown host key is a 409 carrying the key (host, type, fingerprint)
in words rather than command-line flags, so the form can ask and attach again with that very
fingerprint pinned; a generated key comes back as its authorized_keys line."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aml_magic.domain.registry import check_attach
from aml_magic.errors import AmlError, ApiError
from aml_magic.service import schema
from aml_magic.transports.hostkeys import UnknownHostKey

if TYPE_CHECKING:
    from aml_magic.service.contract.models import AttachedTargetJson, AttachRequest, HostKeyJson
    from aml_magic.service.workspace import Workspace

#: The line of a generated key's message that holds its public key.
_PUBLIC_KEY_PREFIXES = ("ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-")


class HostKeyUnknown(ApiError):
    """409: the machine answered with a host key nothing pins; ``host_key`` says which."""

    def __init__(self, host_key: HostKeyJson) -> None:
        super().__init__(409, host_key_words(host_key), extra={"host_key": host_key})
        self.host_key = host_key


def host_key_words(key: HostKeyJson) -> str:
    """The question the user has to answer, in one line of plain words."""
    return (f"{key['host']}:{key['port']} is not known yet: it presented the {key['key_type']} "
            f"host key with fingerprint {key['fingerprint']}. Compare it with the key on that "
            f"machine (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and trust it only if they "
            f"match")


def attach(workspace: Workspace, body: AttachRequest) -> AttachedTargetJson:
    """Attach a target from a REST body; a password goes to the secret store, never a file."""
    options: dict[str, Any] = dict(body)
    type_name = str(options.pop("type", "") or "")
    name = str(options.pop("name", "") or "")
    if not type_name or not name:
        raise ApiError(400, "attach needs 'type' and 'name'")
    try:                                     # every option the registry has for the type
        _, values = check_attach(type_name, options, rest=True)
    except AmlError as exc:
        raise ApiError(400, str(exc)) from None
    messages: list[str] = []
    try:
        workspace.attach(type_name, name, on_message=messages.append, **values)
    except UnknownHostKey as exc:
        raise HostKeyUnknown({"host": exc.host, "port": int(exc.port), "key_type": exc.key_type,
                              "fingerprint": exc.offered_fingerprint}) from None
    answer: AttachedTargetJson = {**schema.target_json(workspace.config.compute(name)),
                                  "messages": messages}
    public = public_key_line(messages)
    if public:
        answer["public_key"] = public
    return answer


def public_key_line(messages: list[str]) -> str | None:
    """The authorized_keys line of the key attach generated (``-k``), if it said one."""
    return next((line.strip() for text in messages for line in text.splitlines()
                 if line.startswith(_PUBLIC_KEY_PREFIXES)), None)
