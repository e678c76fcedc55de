"""Keep-alive HTTP/1.1 connections to a workspace server, on plain sockets (TLS for https).

Why not ``urllib.request``: importing it costs ~28 ms (``http.client`` alone ~20 ms: the
``email`` package and OpenSSL), more than a linked ``aml experiment submit`` spends talking to
the server, and it opens a new connection for every request. The server is ours (tornado), so
this reads the subset of HTTP/1.1 its answers use: a body by ``Content-Length``, ``chunked``,
or up to the close. A proxy set in the environment is left to ``urllib.request`` (``proxied``,
``urllib_answer``), which knows ``no_proxy`` and ``CONNECT``."""
from __future__ import annotations

import functools
import os
import select
import socket
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping
    from typing import BinaryIO

#: The longest status or header line, and the most header lines, an answer may have.
MAX_LINE = 65536
MAX_HEADERS = 100
#: Methods sent again on a fresh connection when a kept-alive one turns out closed before any
#: answer came (a POST is never sent twice: it may be a submit).
RETRIED = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class ProtocolError(ConnectionError):
    """The server's answer is not HTTP/1.x as this client reads it."""


class Answer:
    """An answer's status and headers (names in lower case), its body read as it comes: once
    read to its end, the connection goes back to the pool for the next request; closed early,
    the connection is dropped (its unread rest would be taken for the next answer)."""

    def __init__(self, connection: Connection, status: int, reason: str,
                 headers: dict[str, str], method: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._connection = connection
        self._keep = connection.keep_alive(headers)
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self._left: int | None = None           # bytes of body left; None: up to the close
        if method == "HEAD" or status in (204, 304) or status < 200:
            self._left = 0
        elif not self._chunked and "content-length" in headers:
            try:
                self._left = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"Content-Length {headers['content-length']!r}") from None
            if self._left < 0:
                raise ProtocolError(f"Content-Length {self._left}")
        elif not self._chunked:
            self._keep = False
        self._done = False
        if self._left == 0 and not self._chunked:
            self._finish()

    def read(self, size: int = -1) -> bytes:
        """Up to SIZE bytes of the body (all of the rest when SIZE < 0); b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        file = self._connection.file
        if self._left is None:                          # the body ends with the connection
            data = file.read() if size < 0 else file.read(size)
            if not data or size < 0:
                self._finish()
            return data
        want = self._left if size < 0 else min(size, self._left)
        data = file.read(want)
        if len(data) < want:
            self._connection.close()
            raise ProtocolError(f"the server closed the connection {self._left - len(data)} "
                                "bytes before the end of its answer")
        self._left -= len(data)
        if self._left == 0:
            self._finish()
        return data

    def _read_chunked(self, size: int) -> bytes:
        parts: list[bytes] = []
        want = size
        while not self._done and (size < 0 or want > 0):
            if self._chunk_left == 0:
                line = self._connection.readline()
                try:
                    self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"chunk size {line[:40]!r}") from None
                if self._chunk_left == 0:               # the last chunk: trailers, blank line
                    while self._connection.readline() not in (b"\r\n", b"\n"):
                        pass
                    self._finish()
                    break
            take = self._chunk_left if size < 0 else min(want, self._chunk_left)
            parts.append(self._connection.exactly(take))
            self._chunk_left -= take
            want -= take
            if self._chunk_left == 0:
                self._connection.exactly(2)            # the CRLF after a chunk's data
        return b"".join(parts)

    def _finish(self) -> None:
        self._done = True
        if self._keep:
            self._connection.release()
        else:
            self._connection.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._connection.close()

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connection:
    """One socket to HOST:PORT, used by one request at a time; RELEASE takes it back when an
    answer has been read to its end."""

    def __init__(self, scheme: str, host: str, port: int, timeout: float,
                 release: Callable[[Connection], None]) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.timeout = timeout
        self._release = release
        self.sock: socket.socket | None = None
        self._file: BinaryIO | None = None      # the socket's buffered reader
        self.version = "HTTP/1.1"               # of the last answer

    @property
    def file(self) -> BinaryIO:
        if self._file is None:
            raise ConnectionResetError("the connection to the server was closed")
        return self._file

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _open(self) -> None:
        # an ASCII name as bytes: a str goes through the "idna" codec (~1 ms to import)
        host: str | bytes = self.host.encode() if self.host.isascii() else self.host
        sock = socket.create_connection((host, self.port), self.timeout)  # type: ignore[arg-type]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                sock = tls_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._file = sock.makefile("rb")

    def _closed_by_server(self) -> bool:
        """Whether an idle kept-alive socket has been closed (or written to) by the server."""
        assert self.sock is not None
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def request(self, method: str, target: str, body: bytes | None,
                headers: Mapping[str, str]) -> Answer:
        """Send METHOD TARGET with HEADERS and BODY; the answer once its head has come."""
        # no smuggled header or request; the message names the header, never its value
        # (the Authorization header holds the member's token)
        checks = [("the request line", method, " \r\n\0"), ("the request line", target, " \r\n\0")]
        checks += [(f"header {name[:40]!r}", text, "\r\n\0") for name, value in headers.items()
                   for text in (name, value)]
        for what, part, forbidden in checks:
            if any(c in part for c in forbidden):
                raise ValueError(f"{method} request: {what} holds a space or line break where "
                                 "HTTP takes none; nothing was sent")
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.authority}",
                "Accept-Encoding: identity"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body or b'')}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        if self.sock is not None and self._closed_by_server():
            self.close()
        reused = self.sock is not None
        if self.sock is None:
            self._open()
        try:
            assert self.sock is not None
            self.sock.sendall(message)
            first = self.file.readline(MAX_LINE + 1)
            if not first:
                raise ConnectionResetError("the server closed the connection without answering")
        except (ConnectionError, TimeoutError, OSError) as exc:
            self.close()
            if reused and method in RETRIED and not isinstance(exc, TimeoutError):
                return self.request(method, target, body, headers)
            raise
        try:
            return self._answer(first, method)
        except BaseException:
            self.close()
            raise

    def _answer(self, first: bytes, method: str) -> Answer:
        while True:
            version, _, rest = first.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
                raise ProtocolError(f"not an HTTP answer: {first[:60]!r}")
            self.version = version
            headers = self._headers()
            if not 100 <= int(code) < 200:              # an interim answer: the real one next
                break
            first = self.readline()
        return Answer(self, int(code), reason, headers, method)

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.readline()
            if line in (b"\r\n", b"\n"):
                return headers
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise ProtocolError(f"header line {line[:60]!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")

    def keep_alive(self, headers: Mapping[str, str]) -> bool:
        tokens = headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def readline(self) -> bytes:
        line = self.file.readline(MAX_LINE + 1)
        if not line:
            raise ProtocolError("the server closed the connection in the middle of an answer")
        if len(line) > MAX_LINE:
            raise ProtocolError(f"a line of the answer is longer than {MAX_LINE} bytes")
        return bytes(line)

    def exactly(self, size: int) -> bytes:
        data = self.file.read(size)
        if len(data) < size:
            raise ProtocolError("the server closed the connection in the middle of an answer")
        return bytes(data)

    def release(self) -> None:
        self._release(self)

    def close(self) -> None:
        for closing in (self._file, self.sock):
            if closing is not None:
                try:
                    closing.close()
                except OSError:
                    pass
        self._file = self.sock = None


class Pool:
    """Idle connections to one server, for a client several threads may share (the Jupyter
    server's proxy, a widget's refresh): each request takes one or opens a new one."""

    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        self.scheme, self.host, self.port, self.timeout = scheme, host, port, timeout
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def request(self, method: str, target: str, body: bytes | None,
                headers: Mapping[str, str]) -> Answer:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = Connection(self.scheme, self.host, self.port, self.timeout,
                                    self._give_back)
        return connection.request(method, target, body, headers)

    def _give_back(self, connection: Connection) -> None:
        with self._lock:
            self._idle.append(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The platform's trust store (``SSL_CERT_FILE`` for a private CA), made once per process:
    loading it costs ~10 ms, and ``--wait`` asks many times."""
    import ssl          # stdlib, loaded for https only: ~9 ms a plain-http workspace skips
    return ssl.create_default_context()


def proxied(scheme: str) -> bool:
    """Whether the environment names a proxy for SCHEME (``urllib.request`` then connects)."""
    return any(os.environ.get(name) for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY",
                                                 "all_proxy", "ALL_PROXY"))


class UrllibAnswer:
    """``urllib.request``'s answer (or HTTPError) read as an ``Answer``."""

    def __init__(self, response: object, status: int, headers: dict[str, str]) -> None:
        self._response = response
        self.status = status
        self.reason = ""
        self.headers = headers

    def read(self, size: int = -1) -> bytes:
        return bytes(self._response.read(size) or b"")     # type: ignore[attr-defined]

    def close(self) -> None:
        self._response.close()                              # type: ignore[attr-defined]

    def __enter__(self) -> UrllibAnswer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def urllib_answer(url: str, method: str, body: bytes | None, headers: Mapping[str, str],
                  timeout: float) -> UrllibAnswer:
    """METHOD URL through ``urllib.request`` (proxies from the environment, ``no_proxy``); an
    error status is an answer too, as from ``Pool.request``."""
    import urllib.error     # stdlib, loaded only when a proxy is configured
    import urllib.request
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    # an opener of its own: urlopen's global one keeps the proxies of its first use
    handlers = [urllib.request.HTTPSHandler(context=tls_context())] \
        if url.startswith("https:") else []
    try:
        response = urllib.request.build_opener(*handlers).open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        return UrllibAnswer(exc, exc.code, {k.lower(): v for k, v in exc.headers.items()})
    return UrllibAnswer(response, response.status,
                        {k.lower(): v for k, v in response.headers.items()})
