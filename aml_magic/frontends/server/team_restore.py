"""The team server's routes serving a run's snapshot to members (readers too), for ``aml project
restore`` in a linked project: ``GET runs/ID/snapshot/manifest?project=P`` (every file with its
sha256) and ``GET runs/ID/snapshot/file?project=P&path=REL`` (one file's bytes; REL is looked
up in the kept manifest only, its content verified by hash: ``service/team/snapshot_files``)."""
from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.ioloop import IOLoop

from aml_magic.frontends.server.handlers import RUN_ID, AmlHandler
from aml_magic.frontends.server.team import TeamHandler
from aml_magic.service.team import snapshot_files


class SnapshotManifestHandler(TeamHandler):
    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        workspace = await self.call(self.service.workspace, self.project_path)
        self.reply(await self.call(snapshot_files.manifest_json, workspace, run_id))


class SnapshotFileHandler(TeamHandler):
    team_roles = {"read": "reader", "write": "admin"}

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        rel = self.get_query_argument("path", "")
        workspace = await self.call(self.service.workspace, self.project_path)
        size, chunks = await self.call(snapshot_files.open_file, workspace, run_id, rel,
                                       self.team.blobs.path)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(size))
        while block := await IOLoop.current().run_in_executor(self.team.executor, next,
                                                              chunks, b""):
            self.write(block)
            await self.flush()
        self.finish()


def restore_routes() -> list[tuple[str, type[AmlHandler]]]:
    return [(rf"runs/{RUN_ID}/snapshot/manifest", SnapshotManifestHandler),
            (rf"runs/{RUN_ID}/snapshot/file", SnapshotFileHandler)]
