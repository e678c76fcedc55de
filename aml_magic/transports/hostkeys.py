"""SSH host key fingerprints and pinning: what attach shows the user and what every connection checks.

A fingerprint is written like OpenSSH prints it: ``SHA256:<base64 of the key blob's sha256, no
padding>``. There is no known_hosts file: the pin lives in the target's ``.compute`` file.
"""
from __future__ import annotations

import hashlib

from aml_magic.errors import HostKeyError, TargetError

TYPE_CHECKING = False
if TYPE_CHECKING:  # paramiko is imported lazily: ``import aml_magic`` must not need it
    import paramiko


def fingerprint_of_blob(blob: bytes) -> str:
    """OpenSSH-style SHA256 fingerprint of a public key blob (the wire form of the key)."""
    import base64   # here, not at import: local commands load this module (~1 % of a start)
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256 fingerprint of a paramiko key."""
    return fingerprint_of_blob(key.asbytes())


def normalize_fingerprint(text: str) -> str:
    """Accept ``SHA256:abc``, ``sha256:abc=`` or a bare ``abc`` and return ``SHA256:abc``.

    Raises ``HostKeyError`` for MD5 (``aa:bb:...``) or anything that is not base64."""
    value = text.strip()
    if value[:7].lower() == "sha256:":
        value = value[7:]
    value = value.rstrip("=")
    if ":" in value or not value:
        raise HostKeyError(f"host key fingerprint {text!r} is not a SHA256 fingerprint; give it as "
                           "'SHA256:...' (as printed by `ssh-keygen -lf KEY.pub`)")
    import base64   # see fingerprint_of_blob
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise HostKeyError(f"host key fingerprint {text!r} is not a SHA256 fingerprint (expected 43 "
                           "base64 characters after 'SHA256:')")
    return "SHA256:" + value


def fingerprints_match(pinned: str, offered: str) -> bool:
    return normalize_fingerprint(pinned) == normalize_fingerprint(offered)


class UnknownHostKey(HostKeyError):
    """The server offered a key and nothing is pinned: show ``offered_fingerprint``, ask, pin."""

    def __init__(self, host: str, port: int, key_type: str, offered: str) -> None:
        self.host, self.port, self.key_type = host, port, key_type
        self.offered_fingerprint, self.pinned_fingerprint = offered, None
        super().__init__(
            f"{host}:{port}: host key not pinned; the server offered {key_type} {offered}. Check it "
            f"on the server (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`), then attach with "
            f"--host-key-fingerprint {offered} (or --trust-new-host-key)")


class ChangedHostKey(HostKeyError):
    """The server's key does not match the pin: possibly an attack, possibly a reinstall."""

    def __init__(self, host: str, port: int, key_type: str, offered: str, pinned: str) -> None:
        self.host, self.port, self.key_type = host, port, key_type
        self.offered_fingerprint, self.pinned_fingerprint = offered, pinned
        super().__init__(
            f"{host}:{port}: HOST KEY CHANGED: pinned {pinned}, the server offered {key_type} "
            f"{offered}. Refusing to connect. If the server was reinstalled, re-attach with "
            f"--host-key-fingerprint {offered}; otherwise someone may be intercepting the connection")


def check_host_key(host: str, port: int, key: paramiko.PKey, pinned: str | None) -> None:
    """Raise unless ``key`` matches ``pinned``. Never accepts an unpinned key."""
    offered = fingerprint(key)
    if pinned is None:
        raise UnknownHostKey(host, port, key.get_name(), offered)
    if not fingerprints_match(pinned, offered):
        raise ChangedHostKey(host, port, key.get_name(), offered, normalize_fingerprint(pinned))


def probe_host_key(host: str, port: int = 22, timeout: float = 10.0) -> tuple[str, str]:
    """Fetch the server's host key without authenticating: ``(key_type, fingerprint)``.

    Uses paramiko's key negotiation, so the key is the same one ``SshTransport`` will check."""
    import paramiko
    import socket   # only here: ~5 % of a CLI start for every command that loads targets

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TargetError(f"{host}:{port}: cannot connect to read its host key: "
                          f"{exc.strerror or exc}; check the address, the port and that sshd runs") from None
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return key.get_name(), fingerprint(key)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise TargetError(f"{host}:{port}: SSH handshake failed while reading the host key: "
                          f"{exc}; is this an SSH server?") from None
    finally:
        transport.close()


__all__ = ["ChangedHostKey", "UnknownHostKey", "check_host_key", "fingerprint",
           "fingerprint_of_blob", "fingerprints_match", "normalize_fingerprint",
           "probe_host_key"]
