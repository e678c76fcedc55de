"""Logging in to an SSH target: attach (pin the host key, store the login secret, check the
login) and the ONE function that makes a target's SSH transport (``ssh_transport_for``), so
that connection pooling can take over in one place."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aml_magic.errors import AmlError, ConfigError, HostKeyError
from aml_magic.domain.config import split_address
from aml_magic.transports.hostkeys import (
    UnknownHostKey,
    fingerprints_match,
    normalize_fingerprint,
    probe_host_key,
)
from aml_magic.targets.ssh.binding import bind_login, check_login
from aml_magic.transports.pool import ssh_pool, ssh_timeout

if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget
    from aml_magic.domain.secrets import SecretStore
    from aml_magic.transports.base import Transport

CONNECT_TIMEOUT = 10.0


def ssh_transport_for(compute: ComputeTarget, secrets: SecretStore, *,
                      connect_timeout: float = CONNECT_TIMEOUT) -> Transport:
    """The pinned SSH transport of ``compute`` (password or stored key from ``secrets``): a
    lease on the process's pooled connection for these credentials, kept across submits, log
    follows and reconciles; ``close()`` hands it back to the pool."""
    c = compute
    source = str(c.path) if c.path else None
    context = source or f"{c.name}.compute"
    if not c.address:
        raise ConfigError(f"{context}: no address; re-attach with --address HOST[:PORT]",
                          path=source)
    if not c.host_key_fingerprint:
        raise HostKeyError(f"{context}: no pinned host key (hostKeyFingerprint); re-attach "
                           f"with `aml computetarget attach {c.type} --name {c.name} ... "
                           "--trust-new-host-key` or --host-key-fingerprint SHA256:...")
    unbound = check_login(c, secrets, context=context)       # before anything is sent
    password = key_path = None
    if c.key_reference:
        key_path = str(secrets.key_path(c.key_reference, context=context))
    elif c.password:
        password = (secrets.get(c.password, context=context)
                    if secrets.is_reference(c.password) else c.password)
    host, port = host_port(c)
    deadline = ssh_timeout(getattr(c, "ssh_timeout", None), source=f"{context}: sshTimeout")
    transport = ssh_pool().acquire(host, port, c.username, password=password,
                                   key_path=key_path, pinned_fingerprint=c.host_key_fingerprint,
                                   connect_timeout=min(connect_timeout, deadline),
                                   io_timeout=deadline, label=f"target '{c.name}'")
    if unbound:         # stored by an older version: bound at its first successful login
        try:
            transport.run(["true"], timeout=deadline)
        except BaseException:
            transport.close()
            raise
        bind_login(c, secrets)
    return transport


def configure_ssh_attach(compute: Any, *, secrets: Any, use_key: bool = False,
                         key_file: str | None = None, host_key_fingerprint: str | None = None,
                         trust_new_host_key: bool = False,
                         confirm_host_key: Callable[[str, str], bool] | None = None,
                         created_refs: list[str], on_message: Callable[[str], None] | None = None,
                         connect_timeout: float = CONNECT_TIMEOUT,
                         check_login: Callable[[Any], None] | None = None) -> None:
    """Pin the host key (given, trusted on first use, or confirmed; never silently), store
    the login key, and check that the login works before anything is written."""
    say = on_message or (lambda _text: None)
    if not compute.address or not compute.username:
        raise AmlError(f"attaching a {compute.type} target needs --address HOST[:PORT] and "
                       "--username USER")
    if use_key and key_file:
        raise AmlError("give either -k/--use-azureml-ssh-key or --key-file, not both")
    if not (use_key or key_file or compute.password):
        raise AmlError(f"how should aml_magic log in to {compute.address}? give --password "
                       "(or --password-stdin), -k to generate a key, or --key-file PATH")
    host, port = host_port(compute)
    key_type, offered = probe_host_key(host, port, timeout=connect_timeout)
    host_key_fingerprint = host_key_fingerprint or compute.host_key_fingerprint  # given at attach
    if host_key_fingerprint:
        pinned = normalize_fingerprint(host_key_fingerprint)
        if not fingerprints_match(pinned, offered):
            raise HostKeyError(
                f"{host}:{port}: the server offered {key_type} {offered}, not the "
                f"fingerprint given with --host-key-fingerprint ({pinned}); nothing was "
                "written. Check the key on the server (`ssh-keygen -lf "
                "/etc/ssh/ssh_host_*_key.pub`)")
    elif trust_new_host_key:
        say(f"pinned the host key of {host}:{port}: {key_type} {offered} "
            "(--trust-new-host-key)")
    elif confirm_host_key is None or not confirm_host_key(f"{host}:{port}", offered):
        raise UnknownHostKey(host, port, key_type, offered)
    compute.host_key_fingerprint = offered
    label = f"{compute.name}-{compute.username}"
    if use_key:
        private, public = generate_key(f"aml_magic-{compute.name}")
        ref = secrets.put_private_key(label, private)
        created_refs.append(ref)
        compute.key_reference = ref
        say(f"generated an SSH key for '{compute.name}'; public key:\n{public}\n"
            f"Authorize it on {host} (as {compute.username}) with:\n"
            f"mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '{public}' >> "
            "~/.ssh/authorized_keys")
    elif key_file:
        path = Path(key_file).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AmlError(f"{path}: cannot read the key file ({exc.strerror})") from None
        ref = secrets.put_private_key(label, data)
        created_refs.append(ref)
        compute.key_reference = ref
    bind_login(compute, secrets, [ref for ref in created_refs
                                  if ref in (compute.password, compute.key_reference)])
    if key_file or compute.password:
        transport = ssh_transport_for(compute, secrets, connect_timeout=connect_timeout)
        try:
            transport.run(["true"], timeout=connect_timeout * 3)
            if check_login is not None:
                check_login(transport)
        finally:
            transport.close()
        say(f"logged in to {compute.username}@{host}:{port}")


def host_port(compute: ComputeTarget) -> tuple[str, int]:
    """``address`` may carry the port (``host:port``, as Workbench files do) or ``port`` may."""
    host, port = split_address(compute.address or "")
    return host, int(compute.port or port or 22)


def generate_key(comment: str) -> tuple[bytes, str]:
    """A new Ed25519 key pair: (OpenSSH private key, ``ssh-ed25519 AAAA... comment``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode("ascii")
    return private, f"{public} {comment}"


__all__ = [
    "CONNECT_TIMEOUT",
    "configure_ssh_attach",
    "generate_key",
    "host_port",
    "ssh_transport_for",
]
