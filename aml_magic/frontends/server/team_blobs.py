"""The team server's blob routes: which blobs a snapshot lacks, and ``PUT workspace/blobs/SHA``
streamed to a temporary file in the blob's folder while it is hashed (never held in memory;
``snapshots.BlobWriter``). The member and their role are checked in ``prepare``, before the
body is read, so a request that may not upload writes nothing."""
from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web

from aml_magic.errors import AmlError
from aml_magic.frontends.server.handlers import AUTH_RESOURCE, status_of
from aml_magic.frontends.server.team import TeamHandler
from aml_magic.service.contract import models as M
from aml_magic.service.team.remote import MAX_BLOB
from aml_magic.service.team.snapshots import BlobWriter


class BlobsMissingHandler(TeamHandler):
    """Which blobs of a snapshot the server lacks (the member uploads only those)."""

    team_roles = {"read": "contributor", "write": "contributor"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(M.BlobHashesRequest)
        self.reply(await self.call(self.team.blobs_missing, request["hashes"]))


@web.stream_request_body
class BlobHandler(TeamHandler):
    """``PUT workspace/blobs/SHA``: the raw body (at most ``MAX_BLOB`` bytes), kept only if it
    hashes to SHA (else a one-line 400 and nothing kept); 201 kept, 200 there already."""

    team_roles = {"read": "contributor", "write": "contributor"}
    _writer: BlobWriter | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()          # the member, from the bearer token (401 without)
        if self.request.method != "PUT":
            return
        action = "write"
        if not self.current_user or not await ensure_async(
                self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)):
            raise web.HTTPError(403, f"not authorized to {action} blobs")
        length = int(self.request.headers.get("Content-Length") or 0)
        if length > MAX_BLOB:
            raise web.HTTPError(413, f"a blob is at most {MAX_BLOB // 2**20} MiB; this one is "
                                f"{length} bytes")
        self.request.connection.set_max_body_size(MAX_BLOB)  # type: ignore[union-attr]
        try:
            self._writer = self.team.blobs.writer(self.path_kwargs["sha"])
        except AmlError as exc:
            raise web.HTTPError(status_of(exc), str(exc)) from None

    def data_received(self, chunk: bytes) -> None:
        if self._writer is not None:
            self._writer.write(chunk)

    @web.authenticated
    @authorized
    async def put(self, sha: str) -> None:
        writer = self._writer
        if writer is None:
            raise web.HTTPError(500, "the blob's upload was not opened")
        created = await self.call(writer.commit)
        self.set_status(201 if created else 200)
        self.finish()

    def on_finish(self) -> None:
        self._discard()

    def on_connection_close(self) -> None:
        self._discard()          # a client gone mid-body: its partial upload goes
        super().on_connection_close()

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def blob_routes() -> list[tuple[str, type[TeamHandler]]]:
    return [("workspace/blobs/missing", BlobsMissingHandler),
            (r"workspace/blobs/(?P<sha>[0-9a-f]{64})", BlobHandler)]
