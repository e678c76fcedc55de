"""The workspace client's HTTP/1.1 connection (``service/team/connection.py``) against a scripted
socket server on loopback: bodies by Content-Length, chunked and up to the close; one connection
kept for many requests; a kept-alive connection the server closed is replaced; a header that
could smuggle a request is refused before anything is sent; a proxy in the environment is
``urllib.request``'s job. The real team server is the suite's other tests' (``test_team_*``)."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from aml_magic.errors import ApiError
from aml_magic.service.team.client import WorkspaceClient
from tests._wait import wait_until

#: A scripted answer: what the server sends for one request, and whether it then closes.
Script = Callable[[bytes], tuple[bytes, bool]]


class ScriptedServer:
    """Accepts connections on 127.0.0.1; for each request read (head and Content-Length body)
    sends the next scripted answer. Records the requests and how many connections came."""

    def __init__(self, answers: list[Script]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0             # connections this server closed
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        try:
            self._answer_all(conn)
        finally:
            conn.close()
            self.closed += 1

    def _answer_all(self, conn: socket.socket) -> None:
        data = b""
        while self.answers:
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, data = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(data) < length:
                data += conn.recv(65536)
            body, data = data[:length], data[length:]
            self.requests.append(head + b"\r\n\r\n" + body)
            answer, close = self.answers.pop(0)(head)
            conn.sendall(answer)
            if close:
                return

    def close(self) -> None:
        self.answers.clear()
        self.listener.close()


def reply(body: bytes, *, status: str = "200 OK", headers: str = "",
          close: bool = False) -> Script:
    def answer(_: bytes) -> tuple[bytes, bool]:
        head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body, close
    return answer


@pytest.fixture
def scripted() -> Iterator[Callable[[list[Script]], ScriptedServer]]:
    made: list[ScriptedServer] = []

    def make(answers: list[Script]) -> ScriptedServer:
        made.append(ScriptedServer(answers))
        return made[-1]
    yield make
    for server in made:
        server.close()


def test_one_connection_carries_many_requests_with_the_token_in_a_header(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    server = scripted([reply(b'{"n": 1}'), reply(b'{"n": 2}'), reply(b"")])
    client = WorkspaceClient(server.url + "/prefix/", "tok-123")
    assert client.request("GET", "runs?project=p") == {"n": 1}
    assert client.request("POST", "runs/r1/cancel", {"x": 1}) == {"n": 2}
    assert client.send("PUT", "workspace/blobs/ab", b"\x00raw") == b""
    assert server.connections == 1
    first, second, third = server.requests
    assert first.startswith(b"GET /prefix/aml/api/runs?project=p HTTP/1.1\r\n")
    assert b"Authorization: Bearer tok-123\r\n" in first and b"tok-123" not in first[:60]
    assert second.endswith(b'\r\n\r\n{"x": 1}') and b"Content-Length: 8\r\n" in second
    assert third.endswith(b"\r\n\r\n\x00raw")


def test_a_chunked_answer_is_read_whole_or_a_block_at_a_time(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    def chunked(_: bytes) -> tuple[bytes, bool]:
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n", False)
    server = scripted([chunked, chunked, reply(b"{}")])
    client = WorkspaceClient(server.url, "t")
    assert client.send("GET", "a", None) == b"hello, world"
    with client.open("b") as answer:
        blocks = []
        while block := answer.read(3):
            blocks.append(block)
    assert b"".join(blocks) == b"hello, world" and max(map(len, blocks)) == 3
    assert client.request("GET", "c") == {}
    assert server.connections == 1          # both chunked bodies were read to their end


def test_a_body_up_to_the_close_ends_the_connection(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    def to_close(_: bytes) -> tuple[bytes, bool]:
        return b"HTTP/1.0 200 OK\r\n\r\n{\"old\": true}", True
    server = scripted([to_close, reply(b"[]")])
    client = WorkspaceClient(server.url, "t")
    assert client.request("GET", "a") == {"old": True}
    assert client.request("GET", "b") == []
    assert server.connections == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_kept_connection_the_server_closed_is_replaced(
        method: str, scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    server = scripted([reply(b"1", close=True), reply(b"2")])
    client = WorkspaceClient(server.url, "t")
    assert client.request(method, "a", {} if method == "POST" else None) == 1
    wait_until(lambda: server.closed == 1, 10, "the server closed the first connection")
    assert client.request(method, "b", {} if method == "POST" else None) == 2
    assert server.connections == 2 and len(server.requests) == 2     # each sent once


def test_an_error_answer_is_one_line_with_what_else_the_server_said(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    server = scripted([
        reply(b'{"message": "2 blob(s) missing\\nmore", "missing": ["aa", "bb"]}',
              status="409 Conflict"),
        reply(b'{"message": "token revoked"}', status="401 Unauthorized"),
        reply(b"", status="301 Moved", headers="Location: https://aml.example.org/\r\n")])
    client = WorkspaceClient(server.url, "t")
    with pytest.raises(ApiError) as conflict:
        client.request("POST", "workspace/projects/p/snapshot", {"files": {}})
    assert conflict.value.status == 409 and conflict.value.extra == {"missing": ["aa", "bb"]}
    assert str(conflict.value) == f"{server.url}: 2 blob(s) missing (409)"
    with pytest.raises(ApiError, match=r"not authenticated \(401\): token revoked$"):
        client.request("GET", "whoami")
    with pytest.raises(ApiError, match=r"redirects to https://aml.example.org/ \(301\)"):
        client.request("GET", "whoami")
    assert server.connections == 1            # error answers were read to their end


def test_a_server_that_breaks_off_or_is_gone_is_one_line(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    def short(_: bytes) -> tuple[bytes, bool]:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", True
    server = scripted([short])
    client = WorkspaceClient(server.url, "t")
    with pytest.raises(ApiError, match=r"broke off its answer") as broken:
        client.send("GET", "a", None)
    assert broken.value.status == 502 and "\n" not in str(broken.value)
    server.close()
    with pytest.raises(ApiError, match=r"unreachable at http://127\.0\.0\.1:\d+ .*offline"):
        WorkspaceClient(server.url, "t").request("GET", "whoami")


def test_a_line_break_in_a_header_or_target_is_never_sent(
        scripted: Callable[[list[Script]], ScriptedServer]) -> None:
    server = scripted([reply(b"{}")])
    with pytest.raises(ValueError, match="'Authorization' holds .* line break") as refused:
        WorkspaceClient(server.url, "tok-secret\r\nX-Admin: yes").request("GET", "whoami")
    assert "tok-secret" not in str(refused.value)       # the token is never shown
    with pytest.raises(ValueError, match="line break"):
        WorkspaceClient(server.url, "t").request("GET", "runs HTTP/1.1\r\nHost: x\r\n\r\nGET /")
    assert server.requests == []


def test_a_proxy_in_the_environment_is_urllibs_to_use(
        scripted: Callable[[list[Script]], ScriptedServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = scripted([reply(b'{"via": "no_proxy"}')])
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    # a proxy nobody listens on: the request goes there, so it fails in one line
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with pytest.raises(ApiError, match="unreachable"):
        WorkspaceClient(server.url, "t").request("GET", "whoami")
    assert server.requests == []
    # and no_proxy sends it straight to the server (urllib's rules)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert WorkspaceClient(server.url, "t").request("GET", "whoami") == {"via": "no_proxy"}
    assert b"Authorization: Bearer t" in server.requests[0]
