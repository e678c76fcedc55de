"""Downloading a remote folder over SFTP without trusting what it holds: symlinks, special files
and names that would land outside the destination are refused and reported, never followed."""
from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Any


def download_tree(sftp: Any, root: str, local_root: Path) -> list[str]:
    """Copy the regular files under ``root`` into ``local_root``; return the refused paths."""
    refused: list[str] = []
    try:
        top = sftp.lstat(root)
    except FileNotFoundError:
        return refused
    if not stat.S_ISDIR(top.st_mode or 0):
        return ["."]  # the folder itself is a symlink or not a folder: nothing is trusted
    local_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    base = os.path.realpath(local_root)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        for entry in sftp.listdir_attr(posixpath.join(root, rel_dir) if rel_dir else root):
            name = entry.filename
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            if name in ("", ".", "..") or "/" in name or "\\" in name:
                refused.append(rel)
                continue
            mode = entry.st_mode or 0
            target = local_root / rel
            parent = os.path.realpath(target.parent)
            if (parent != base and not parent.startswith(base + os.sep)) or target.is_symlink():
                refused.append(rel)
            elif stat.S_ISDIR(mode):
                target.mkdir(mode=0o700, exist_ok=True)
                stack.append(rel)
            elif stat.S_ISREG(mode):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    sftp.getfo(posixpath.join(root, rel), fh)
            else:  # symlink, fifo, socket, device
                refused.append(rel)
    return sorted(refused)


__all__ = ["download_tree"]
