"""``aml server init`` and ``aml server migrate``: the schema, the first admin, the token file."""
from __future__ import annotations

import os
from pathlib import Path

from aml_magic.domain.teamdb import MemberStore, TeamDatabase, connect, migrate
from aml_magic.domain.teamdb.keystore import KeyStore, create_key_file
from aml_magic.errors import AmlError


def write_token_file(path: Path, token: str) -> None:
    """TOKEN into PATH with mode 0600 from the first byte (never readable by others, even
    briefly); an existing file is replaced only if it is a regular file."""
    path = path.expanduser()
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise AmlError(f"{path}: not a regular file; choose another --token-file")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode("ascii"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def migrate_database(url: str, key_file: Path | None = None) -> list[int]:
    """Bring the database's schema up to date; returns the versions applied. With KEY_FILE
    (created if missing), a key store that has no key yet (a workspace made before it) takes
    that one; a key store that has one refuses any other, in one line."""
    with connect(url) as conn:
        applied = migrate(conn)
    if key_file is not None:
        existed = key_file.expanduser().exists()
        db = TeamDatabase(url)
        try:
            create_key_file(key_file)
            try:
                KeyStore(db, key_file).check()
            except BaseException:
                if not existed:
                    key_file.expanduser().unlink(missing_ok=True)
                raise
        finally:
            db.close()
    return applied


#: Where the key store's key is kept unless ``--key-file`` says: the server user's own folder,
#: outside the database and outside the artifacts the server serves.
DEFAULT_KEY_FILE = Path("~/.aml_magic/server.key")


def init_server(url: str, artifacts: Path, admin: str, token_file: Path, *,
                token_expires_in: float | None = None,
                key_file: Path = DEFAULT_KEY_FILE) -> bool:
    """Create the schema and the first admin; write the admin's token to TOKEN_FILE (0600),
    valid for TOKEN_EXPIRES_IN days (None: until revoked), and the key store's key to KEY_FILE
    (0600; an existing key file is kept, True when it was created). Refused on a database that
    has members already (init runs once)."""
    artifacts = artifacts.expanduser()
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "projects").mkdir(exist_ok=True)
    migrate_database(url)
    db = TeamDatabase(url)
    try:
        conn = db.connection()
        with conn.transaction():
            row = conn.execute("SELECT count(*) FROM members").fetchone()
        if row and row[0]:
            raise AmlError("this workspace has members already (init runs once); an admin adds "
                           "more with `aml workspace member add NAME --role ROLE --token-file F`")
        created = create_key_file(key_file)
        KeyStore(db, key_file).check()      # the key store's key is this one from now on
        token = MemberStore(db).add("aml server init", admin, "admin",
                                    expires_in_days=token_expires_in)
    finally:
        db.close()
    write_token_file(token_file, token)
    return created
