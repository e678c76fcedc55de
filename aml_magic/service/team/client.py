"""A member's HTTP client for a team server: a bearer token on every request, and each
expected failure as one line (unreachable, 401, 403, and the server's own message with what
else it said, such as the blobs a snapshot lacks). One keep-alive connection per thread at a
time (``connection.Pool``); through ``urllib.request`` when the environment names a proxy."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from aml_magic.errors import ApiError
from aml_magic.service.team.connection import Pool, proxied, urllib_answer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeVar

    from aml_magic.service.contract.models import WhoAmIJson
    from aml_magic.service.team.connection import Answer, UrllibAnswer
    #: A shape of the contract (``service/contract/models.py``) an answer is read as.
    T = TypeVar("T")

API = "/aml/api/"


class WorkspaceClient:
    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        parts = urlsplit(self.url)
        self._base = parts.path.rstrip("/") + API
        self._pool: Pool | None = None
        if not proxied(parts.scheme):
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise ApiError(400, f"{self.url}: not a workspace URL (its port)") from None
            self._pool = Pool(parts.scheme, parts.hostname or "", port, timeout)

    def request(self, method: str, path: str, body: Mapping[str, object] | None = None) -> Any:
        """JSON of METHOD on the API's PATH; None for an empty answer. Untyped: read an answer
        with ``get``/``post`` and its shape, or into a variable annotated with the shape."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        text = self.send(method, path, data, "application/json")
        return json.loads(text) if text.strip() else None

    def get(self, path: str, shape: type[T]) -> T:
        """The answer of GET PATH as SHAPE, a TypedDict of the contract, so callers read typed
        values (not checked: the server answers its own contract)."""
        answer: T = self.request("GET", path)
        return answer

    def post(self, path: str, body: Mapping[str, object], shape: type[T]) -> T:
        """The answer of POST PATH with BODY as SHAPE (as ``get``)."""
        answer: T = self.request("POST", path, body)
        return answer

    def _answer(self, method: str, path: str, data: bytes | None = None,
                content_type: str = "application/octet-stream") -> Answer | UrllibAnswer:
        """METHOD on the API's PATH as this member (the token in a header, never the URL);
        only an unreachable server raises, in one line."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        target = self._base + path.lstrip("/")
        try:
            if self._pool is None:
                return urllib_answer(self.url + API + path.lstrip("/"), method, data, headers,
                                     self.timeout)
            return self._pool.request(method, target, data, headers)
        except OSError as exc:          # refused, reset, timed out, TLS, not HTTP
            reason = getattr(exc, "reason", None) or exc
            raise ApiError(502, f"workspace server unreachable at {self.url} ({reason}); "
                                "personal projects keep working offline") from None

    def _refused(self, answer: Answer | UrllibAnswer) -> ApiError:
        """The one-line error of an answer with an error status (its body read)."""
        try:
            body = self._read(answer)
        except ApiError:
            body = b""
        try:
            said = json.loads(body or b"{}")
        except ValueError:
            said = {}
        said = said if isinstance(said, dict) else {}
        text = str(said.get("message") or "").strip()
        text = text.splitlines()[0] if text else (answer.reason or f"HTTP {answer.status}")
        if answer.status == 401:
            text = f"not authenticated (401): {text}"
        elif answer.status == 403:
            text = f"not allowed (403): {text}"
        elif 300 <= answer.status < 400:
            text = (f"the server redirects to {answer.headers.get('location', '?')} "
                    f"({answer.status}); link the project to that URL")
        else:
            text = f"{text} ({answer.status})"
        extra = {k: v for k, v in said.items() if k not in ("message", "reason", "traceback")}
        return ApiError(answer.status, f"{self.url}: {text}", extra=extra)

    def _read(self, answer: Answer | UrllibAnswer) -> bytes:
        try:
            with answer:
                return answer.read()
        except OSError as exc:          # reset, or not HTTP (ProtocolError)
            raise ApiError(502, f"workspace server at {self.url} broke off its answer ({exc})"
                           ) from None

    def send(self, method: str, path: str, data: bytes | None,
             content_type: str = "application/octet-stream") -> bytes:
        """The raw answer of METHOD on the API's PATH with DATA as the body."""
        answer = self._answer(method, path, data, content_type)
        if answer.status >= 300:
            raise self._refused(answer)
        return self._read(answer)

    def open(self, path: str) -> Answer | UrllibAnswer:
        """The open answer of GET PATH, to be read a block at a time and closed (a download
        passed on without holding it whole); failures as ``send``'s."""
        answer = self._answer("GET", path)
        if answer.status >= 300:
            raise self._refused(answer)
        return answer

    def exchange(self, method: str, path: str, data: bytes | None,
                 content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of METHOD on the API's PATH, an error status included (a
        proxy passes it on); header names in lower case. Only an unreachable server raises."""
        answer = self._answer(method, path, data, content_type)
        return answer.status, answer.headers, self._read(answer)

    def whoami(self) -> WhoAmIJson:
        answer: WhoAmIJson = self.request("GET", "whoami")
        return answer

    def close(self) -> None:
        """Close the idle connections (they close with the process otherwise)."""
        if self._pool is not None:
            self._pool.close()
