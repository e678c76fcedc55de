"""What an SSH login secret was stored for, and the check at every use that a ``.compute`` still
names it: a project file is shared and anyone who can edit it could otherwise point the user's
stored password (and the run's secrets) at a host of their own, as ssh refuses a changed host key.

A password or key is bound when attach stores it (``bind_login``): address, port, user, pinned
host key and, for container targets, the Docker engine (``dockerHost``). Re-attaching binds it
anew. A reference stored by an older version has no binding: it is bound at its first
successful login (the host key pinned in the file checked before the password is sent), the
trust-on-first-use of ssh itself; after that any change is refused (``check_login``).
"""
from __future__ import annotations


from aml_magic.domain.config import split_address
from aml_magic.domain.secrets import SECRET_ENV_PREFIX
from aml_magic.errors import HostKeyError, SecretError
from aml_magic.transports.hostkeys import normalize_fingerprint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.config import ComputeTarget
    from aml_magic.domain.secrets import SecretStore

#: The fields compared; a binding written without one (none yet) compares as empty.
FIELDS = ("address", "port", "username", "hostKeyFingerprint", "dockerHost")


def login_ref(compute: ComputeTarget) -> str | None:
    """The stored secret the target logs in with (key first, as ``ssh_transport_for``); None
    for a plaintext password in the file, or none."""
    for ref in (compute.key_reference, compute.password):
        if ref:
            return ref if ref.startswith(SECRET_ENV_PREFIX) else None
    return None


def login_binding(compute: ComputeTarget) -> dict[str, Any]:
    """What the file says the login is for, in the form bindings are kept and compared."""
    host, port = split_address(compute.address or "")
    fingerprint = compute.host_key_fingerprint or ""
    try:
        fingerprint = normalize_fingerprint(fingerprint) if fingerprint else ""
    except HostKeyError:   # a malformed pin compares as written (and fails the login anyway)
        pass
    return {"for": "ssh-login", "address": host.lower(), "port": int(compute.port or port or 22),
            "username": compute.username or "", "hostKeyFingerprint": fingerprint,
            "dockerHost": compute.docker_host or ""}


def describe(binding: dict[str, Any]) -> str:
    """``user@host:port (host key SHA256:..., engine URL)``."""
    engine = f", engine {binding['dockerHost']}" if binding.get("dockerHost") else ""
    return (f"{binding.get('username') or '?'}@{binding.get('address') or '?'}:"
            f"{binding.get('port') or '?'} (host key {binding.get('hostKeyFingerprint') or 'none'}"
            f"{engine})")


def bind_login(compute: ComputeTarget, secrets: SecretStore, refs: list[str] | None = None) -> None:
    """Bind the target's login secret (or ``refs``) to what the file names now: at attach."""
    for ref in refs if refs is not None else [r for r in [login_ref(compute)] if r]:
        secrets.bind(ref, login_binding(compute))


def check_login(compute: ComputeTarget, secrets: SecretStore, *, context: str) -> bool:
    """Refuse (SecretError, one line, before any connection) when the login secret was bound
    to anything other than what ``compute`` names. True when the secret has no binding yet
    (stored by an older version): the caller binds it after its first successful login."""
    ref = login_ref(compute)
    if ref is None:
        return False
    bound = secrets.binding(ref, context=context)
    if bound is None:
        return True
    now = login_binding(compute)
    if all(_same(bound.get(f), now[f]) for f in FIELDS):
        return False
    what = "SSH key" if ref == compute.key_reference else "password"
    raise SecretError(
        f"{context}: the {what} {ref} was stored for {describe(bound)}, but the file names "
        f"{describe(now)}; refused, nothing was sent. If the target really changed, re-attach "
        f"it to bind the {what} anew (`aml computetarget detach -n {compute.name}`, then `aml "
        f"computetarget attach {compute.type} -n {compute.name} ...`)")


def check_secret_destination(compute: ComputeTarget, secrets: SecretStore, *,
                             context: str) -> None:
    """A launch that carries secrets goes only to a target whose login is a stored secret,
    bound to what the file names (``check_login``; one an older version stored is bound at
    its first login, before the spec is sent): not to a host a file names together with a
    password written out in it. Makes no connection."""
    ref = login_ref(compute)
    if ref is not None:
        check_login(compute, secrets, context=context)
    else:
        raise SecretError(
            f"{context}: the run has secrets in its EnvironmentVariables, and this target's "
            "login is not a secret attached on this machine; refused, nothing was sent. Attach "
            f"the target (`aml computetarget attach {compute.type} -n {compute.name} ...`) or "
            f"store its password (`aml computetarget secure {compute.name}`)")


def _same(bound: object, now: object) -> bool:
    return (bound if bound is not None else "") == now


__all__ = ["bind_login", "check_login", "check_secret_destination", "describe", "login_binding",
           "login_ref"]
