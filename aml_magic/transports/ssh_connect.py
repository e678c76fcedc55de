"""Opening one SSH connection in named stages, each under a deadline, and telling a stalled peer
from a silent command.

A connection is made in four stages: TCP connect, the SSH handshake (key exchange and the host
key check against the pin), authentication, and later opening channels. Each stage has its own
deadline, and a failure names the stage, so the user can tell "wrong port" from "the server hung
during login". Host keys are checked on EVERY new connection: there is no cache of "already
trusted" connections, only the pin.

paramiko logs its transport thread's failures with full tracebacks; a front end shows one line
per expected error, so those records are routed to a ``NullHandler`` (``debug=True`` lets them
propagate to the application's logging again).
"""
from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from aml_magic.errors import TargetError
from aml_magic.transports.hostkeys import check_host_key

if TYPE_CHECKING:  # paramiko is imported lazily: ``import aml_magic`` must not need it
    import paramiko

WINDOW = 8 * 1024 * 1024
KEEPALIVE_SECONDS = 15


class AuthenticationFailed(TargetError):
    """The server refused the password or key: retrying will not help."""


class StalledPeer(TargetError):
    """The server stopped answering within the deadline (connection kept open, no progress)."""


def configure_paramiko_logging(*, debug: bool = False) -> None:
    """Keep paramiko's own records (tracebacks of its transport thread) off the terminal; with
    ``debug`` they propagate to whatever the application configured."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())  # no "last resort" printing to stderr
    logger.propagate = debug


def open_connection(*, host: str, port: int, username: str, password: str | None, pkey: Any,
                    pinned_fingerprint: str | None, timeout: float, where: str
                    ) -> paramiko.Transport:
    """Connect, check the host key against the pin, authenticate; every stage within
    ``timeout`` seconds. Returns an authenticated paramiko ``Transport`` with keepalive on."""

    configure_paramiko_logging()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise TargetError(f"{where}: cannot connect: {reason} (connect timeout {timeout:g} s); "
                          "check the address and port and that sshd is running") from None
    # small requests (a command, an SFTP read) must not wait for delayed ACKs (Nagle: ~40 ms)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = _fast_transport(sock)
    transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
    try:
        _handshake(transport, host=host, port=port, pinned=pinned_fingerprint, timeout=timeout,
                   where=where)
        _authenticate(transport, username=username, password=password, pkey=pkey,
                      timeout=timeout, where=where)
    except BaseException:
        transport.close()
        raise
    transport.set_keepalive(KEEPALIVE_SECONDS)
    return transport


def _handshake(transport: paramiko.Transport, *, host: str, port: int, pinned: str | None,
               timeout: float, where: str) -> None:
    import paramiko

    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()  # raises when the exchange did not finish in time
    except (paramiko.SSHException, EOFError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, socket.timeout) or "No existing session" in reason:
            reason = "timed out"
        raise TargetError(f"{where}: cannot connect: the SSH handshake failed ({reason}; "
                          f"connect timeout {timeout:g} s); is this an SSH server, and is it "
                          "responsive?") from None
    check_host_key(host, port, key, pinned)


def _authenticate(transport: paramiko.Transport, *, username: str, password: str | None,
                  pkey: Any, timeout: float, where: str) -> None:
    import paramiko

    how = "key" if pkey is not None else "password"
    try:
        if pkey is not None:
            transport.auth_publickey(username, pkey)
        else:
            transport.auth_password(username, password or "")
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            raise StalledPeer(f"{where}: no answer from the server within {timeout:g} s while "
                              "authenticating; check that the server is responsive") from None
        raise AuthenticationFailed(f"{where}: authentication failed ({how}); check the username "
                                   f"and the {how}, then re-attach the target") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise TargetError(f"{where}: the connection failed while authenticating: "
                          f"{exc or type(exc).__name__}") from None
    if not transport.is_authenticated():
        raise AuthenticationFailed(f"{where}: authentication failed ({how}); check the username "
                                   f"and the {how}, then re-attach the target")


def _fast_transport(sock: socket.socket) -> paramiko.Transport:
    """A paramiko Transport preferring AES-GCM (no separate MAC pass: bulk sync is much faster)."""
    import paramiko

    transport = paramiko.Transport(sock, default_window_size=WINDOW)
    options = transport.get_security_options()
    gcm = tuple(c for c in options.ciphers if c.endswith("-gcm@openssh.com"))
    options.ciphers = gcm + tuple(c for c in options.ciphers if c not in gcm)
    return transport


class LivenessProbe:
    """Asks the server for a reply (an SSH global request it must answer, even if only to
    refuse it) to tell a silent command from a stalled peer. One probe at a time per
    connection: paramiko keeps a single pending global request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def answers(self, transport: paramiko.Transport, timeout: float) -> bool:
        """True when the server answered within ``timeout`` seconds; False when it did not or
        the connection is gone (the caller then closes the connection)."""
        if not self._lock.acquire(timeout=timeout):
            return False  # another probe is pending and did not come back either
        try:
            answered = threading.Event()

            def ask() -> None:
                try:
                    transport.global_request("keepalive@openssh.com", wait=True)
                    if transport.is_active():
                        answered.set()
                except Exception:  # a dying connection may fail in many ways: not answered
                    pass

            threading.Thread(target=ask, name="aml-ssh-probe", daemon=True).start()
            return answered.wait(timeout)
        finally:
            self._lock.release()


__all__ = ["AuthenticationFailed", "LivenessProbe", "StalledPeer",
           "configure_paramiko_logging", "open_connection"]
