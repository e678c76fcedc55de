"""A member's HTTP client for a team server: a bearer token on every request, and each
expected failure as one line (unreachable, 401, 403, and the server's own message)."""
from __future__ import annotations

import functools
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from aml_magic.errors import ApiError
from aml_magic.service.contract.models import WhoAmIJson

API = "/aml/api/"
#: A shape of the contract (``service/contract/models.py``) an answer is read as.
T = TypeVar("T")


class WorkspaceClient:
    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Mapping[str, object] | None = None) -> Any:
        """JSON of METHOD on the API's PATH; None for an empty answer. Untyped: read an answer
        with ``get``/``post`` and its shape instead."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        text = self.send(method, path, data, "application/json")
        return json.loads(text) if text.strip() else None

    def get(self, path: str, shape: type[T]) -> T:
        """The answer of GET PATH as SHAPE, a TypedDict of the contract: the one place the
        server's JSON enters, so callers read typed values (not checked: the server answers
        its own contract)."""
        return cast(T, self.request("GET", path))

    def post(self, path: str, body: Mapping[str, object], shape: type[T]) -> T:
        """The answer of POST PATH with BODY as SHAPE (as ``get``)."""
        return cast(T, self.request("POST", path, body))

    def _request(self, method: str, path: str, data: bytes | None = None,
                 content_type: str = "application/octet-stream") -> urllib.request.Request:
        """METHOD on the API's PATH as this member (the token in a header, never the URL)."""
        request = urllib.request.Request(self.url + API + path.lstrip("/"), data=data,
                                         method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        return request

    def _unreachable(self, exc: BaseException) -> ApiError:
        reason = getattr(exc, "reason", exc)
        return ApiError(502, f"workspace server unreachable at {self.url} ({reason}); "
                             "personal projects keep working offline")

    def send(self, method: str, path: str, data: bytes | None,
             content_type: str = "application/octet-stream") -> bytes:
        """The raw answer of METHOD on the API's PATH with DATA as the body."""
        try:
            with urllib.request.urlopen(self._request(method, path, data, content_type),
                                        timeout=self.timeout, context=_context()) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, f"{self.url}: {_message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise self._unreachable(exc) from None

    def open(self, path: str) -> Any:
        """The open answer of GET PATH, to be read a block at a time and closed (a download
        passed on without holding it whole); failures as ``send``'s."""
        try:
            return urllib.request.urlopen(self._request("GET", path), timeout=self.timeout,
                                          context=_context())
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, f"{self.url}: {_message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise self._unreachable(exc) from None

    def exchange(self, method: str, path: str, data: bytes | None,
                 content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of METHOD on the API's PATH, an error status included (a
        proxy passes it on); only an unreachable server raises, in one line."""
        try:
            with urllib.request.urlopen(self._request(method, path, data, content_type),
                                        timeout=self.timeout, context=_context()) as answer:
                return answer.status, dict(answer.headers.items()), bytes(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), bytes(exc.read() or b"")
        except (urllib.error.URLError, OSError) as exc:
            raise self._unreachable(exc) from None

    def whoami(self) -> WhoAmIJson:
        return self.get("whoami", WhoAmIJson)


@functools.cache
def _context() -> ssl.SSLContext:
    """Made once per process: loading the CA bundle costs ~10 ms, and --wait polls."""
    return ssl.create_default_context()


def _message(exc: urllib.error.HTTPError) -> str:
    """The server's one-line ``message`` with what the status means for the member."""
    try:
        text = str(json.loads(exc.read() or b"{}").get("message") or "")
    except ValueError:
        text = ""
    text = text.strip().splitlines()[0] if text.strip() else (exc.reason or "")
    if exc.code == 401:
        return f"not authenticated (401): {text}"
    if exc.code == 403:
        return f"not allowed (403): {text}"
    return f"{text} ({exc.code})"
