"""The history is private whatever the umask: its folders 0700, its files 0600 (the database
names who ran what with which arguments; run folders hold logs and outputs)."""
from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create ``path`` (and its missing parents) as 0700, whatever the umask; an existing one
    of ours made by an older version under a 0022 umask is narrowed to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, 0o700)


def private_files(db_path: Path) -> None:
    """``history.db`` 0600 before SQLite opens it (its ``-wal``/``-shm`` files take its mode
    when SQLite creates them); older ones are narrowed."""
    try:
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    for suffix in ("", "-wal", "-shm"):
        path = db_path.with_name(db_path.name + suffix)
        try:
            st = path.lstat()
            if st.st_mode & 0o077 and st.st_uid == os.getuid() and not path.is_symlink():
                os.chmod(path, 0o600)
        except FileNotFoundError:
            continue
