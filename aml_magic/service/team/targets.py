"""Shared targets: attached once by an admin, stored on the server, used by every member's
submit by name. The attach is the one every front end does (``Workspace.attach``: the registry
checks the options, the remote type pins the host key), run in a scratch project whose secret
store is the key store, so the password or key lands encrypted in PostgreSQL and the target's
files hold references only. The files are kept in the ``targets`` table and written into a
server-side project before each submit (``materialize``)."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, cast

from aml_magic.domain.atomic_file import replace_file
from aml_magic.domain.config import check_name
from aml_magic.domain.registry import check_attach
from aml_magic.domain.teamdb.server_secrets import KeyStoreSecrets
from aml_magic.domain.teamdb.targets import SharedTargetStore
from aml_magic.errors import AmlError, ApiError
from aml_magic.service import schema
from aml_magic.service.attach_api import public_key_line
from aml_magic.service.contract import models as M
from aml_magic.service.team.names import MATERIALIZED
from aml_magic.service.workspace import Workspace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.teamdb.database import TeamDatabase
    from aml_magic.domain.teamdb.members import MemberStore

#: Options that would read files on the server's machine: a shared target logs in with a
#: password, a private key sent in the body (``private_key``), or a key pair the server
#: generates (``use_key``, ``-k``: the private key goes to the key store, the answer carries
#: the public key's authorized_keys line), never a server path.
SERVER_PATH_OPTIONS = ("key_file",)
#: The body key of a private key's text (PEM): the CLI sends a --key-file's content in it.
PRIVATE_KEY = "private_key"


class SharedTargets:
    def __init__(self, db: TeamDatabase, members: MemberStore, secrets: KeyStoreSecrets,
                 scratch: Path) -> None:
        self.store = SharedTargetStore(db, members)
        self.secrets = secrets
        self.scratch = scratch

    def attach(self, actor: str, body: M.AttachRequest) -> M.AttachedTargetJson:
        """Attach BODY's target (as ``POST targets`` does) and keep it on the server; audited
        in the same transaction. Its secrets go to the key store only; a generated key's
        public half comes back (``public_key``) for the machine's authorized_keys."""
        options: dict[str, Any] = dict(body)
        type_name = str(options.pop("type", "") or "")
        name = str(options.pop("name", "") or "")
        if not type_name or not name:
            raise ApiError(400, "attach needs 'type' and 'name'")
        refused = [o for o in SERVER_PATH_OPTIONS if options.get(o)]
        if refused:
            raise ApiError(400, f"{', '.join(refused)} do(es) not apply to a shared target (it "
                           "would use a file on the server's machine); attach it with a "
                           f"password, '{PRIVATE_KEY}' (the key's text) or -k (a key pair "
                           "the server generates)")
        private_key = options.pop(PRIVATE_KEY, None)
        if private_key is not None and (not isinstance(private_key, str)
                                        or not private_key.strip()):
            raise ApiError(400, f"'{PRIVATE_KEY}' must be the private key's text (PEM)")
        try:
            _, values = check_attach(type_name, options, rest=True)
        except AmlError as exc:
            raise ApiError(400, str(exc)) from None
        if sum(bool(x) for x in (private_key, values.get("password"),
                                 values.get("use_key"))) > 1:
            raise ApiError(400, f"give one of 'password', '{PRIVATE_KEY}' or 'use_key' (-k)")
        if self.store.get(name) is not None:
            raise ApiError(409, f"shared target '{name}' exists already; detach it first "
                           f"(`aml computetarget detach --name {name}` in a linked project)")
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch) as folder:
            (Path(folder) / "aml_config").mkdir()
            ws = Workspace(folder, secrets=self.secrets)
            key_dir = None
            messages: list[str] = []
            try:
                if private_key is not None:
                    # attach reads a key from a file: a 0600 one in a 0700 folder of
                    # memory-backed /dev/shm, removed as soon as the attach is done
                    key_dir = self._key_dir(Path(folder), private_key)
                    values["key_file"] = str(key_dir / "key")
                compute = ws.attach(type_name, name, on_message=messages.append, **values)
            except AmlError as exc:
                raise ApiError(400, str(exc)) from None
            finally:
                ws.close()
                if key_dir is not None:
                    shutil.rmtree(key_dir, ignore_errors=True)
            files = {"compute": ws.config.compute_path(name).read_text(encoding="utf-8"),
                     "runconfig": ws.config.runconfig_path(name).read_text(encoding="utf-8")}
        refs = [r for r in (getattr(compute, "password", None),
                            getattr(compute, "key_reference", None))
                if r and self.secrets.is_reference(r)]
        target = schema.target_json(compute)
        stored = {"files": files, "secrets": refs, "target": target,
                  "engine": compute.docker_host or ""}
        try:
            self.store.add(actor, name, compute.type, stored)
        except BaseException:
            self._forget(refs)
            raise
        answer: M.AttachedTargetJson = {**target, "messages": messages}
        public = public_key_line(messages)
        if public:
            answer["public_key"] = public
        return answer

    @staticmethod
    def _key_dir(folder: Path, pem: str) -> Path:
        shm = Path("/dev/shm")
        where = Path(tempfile.mkdtemp(prefix="aml-attach-", dir=shm if shm.is_dir() else folder))
        try:
            replace_file(where / "key", pem.encode("utf-8"), mode=0o600)
        except BaseException:
            shutil.rmtree(where, ignore_errors=True)
            raise
        return where

    def _forget(self, refs: list[str]) -> None:
        for ref in refs:
            try:
                self.secrets.delete(ref)
            except AmlError:
                pass

    def list(self) -> list[M.TargetJson]:
        """The shared targets as the API shows any target: references, never a secret."""
        return [cast(M.TargetJson, stored["target"]) for _, stored in self.store.all()]

    def detach(self, actor: str, name: str) -> None:
        """Remove the shared target and its secrets; audited in the same transaction."""
        for ref in self.store.remove(actor, name):
            self.secrets.drop_copy(ref)

    def materialize(self, project: Path) -> None:
        """Write every shared target's ``.compute``/``.runconfig`` (references only) into the
        server-side PROJECT, bound to it as attach binds them; a shared target's name wins over
        the project's own file of that name; ones detached since are removed."""
        rows = self.store.all()
        config = project / "aml_config"
        config.mkdir(parents=True, exist_ok=True)
        record = config / MATERIALIZED
        try:
            written = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            written = []
        # names only: an entry with a path in it must never reach an unlink
        earlier = {n for n in written if isinstance(n, str) and _plain_name(n)} \
            if isinstance(written, list) else set()
        names = set()
        for name, stored in rows:
            names.add(name)
            self.secrets.bind_target(project, name, {"type": stored["target"]["type"],
                                                     "dockerHost": stored.get("engine", "")})
            _write_changed(config / f"{name}.compute", stored["files"]["compute"])
            _write_changed(config / f"{name}.runconfig", stored["files"]["runconfig"])
        for gone in earlier - names:
            (config / f"{gone}.compute").unlink(missing_ok=True)
            (config / f"{gone}.runconfig").unlink(missing_ok=True)
            self.secrets.unbind_target(project, gone)
        _write_changed(record, json.dumps(sorted(names)))


def _write_changed(path: Path, text: str) -> None:
    """PATH made to hold TEXT (atomically, 0644), left alone when it does already: every
    submit materializes the shared targets, and a file rewritten is a temporary file, a sync
    and a rename each time."""
    data = text.encode("utf-8")
    try:
        if path.is_file() and not path.is_symlink() and path.read_bytes() == data \
                and path.stat().st_mode & 0o777 == 0o644:
            return
    except OSError:
        pass
    replace_file(path, data, mode=0o644)


def _plain_name(name: str) -> bool:
    try:
        return check_name(name) == name
    except AmlError:
        return False
