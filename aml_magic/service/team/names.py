"""The names a linked project and its team server agree on: a project's name, a blob's
(sha256), and which paths of a project are the server's own and never part of a member's
snapshot. Kept apart from ``snapshots`` (the server's blob store) so a member's CLI checks them
without loading the store's imports."""
from __future__ import annotations

import re

from aml_magic.errors import ApiError

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")


def check_sha(text: str) -> str:
    if not SHA256.match(text):
        raise ApiError(400, f"{text[:80]!r} is not a sha256 (64 lowercase hex digits)")
    return text


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name):
        raise ApiError(400, f"{name[:80]!r} is not a project name (letters, digits, '._-', "
                       "not starting with '.')")
    return name


#: In a server-side project, the record of the shared targets the server wrote there (so a
#: detached one is removed): the server's, never a member's upload.
MATERIALIZED = ".shared-targets.json"


def server_owned(rel: str) -> bool:
    """Whether REL (a posix path in a project) belongs to the server, never to a snapshot."""
    top = rel.split("/", 1)[0]
    if top == ".aml":
        return not rel.startswith(".aml/cells/")
    if top == ".git":
        return True
    if rel.startswith("aml_config/") and rel.count("/") == 1:
        return (rel.endswith(".compute") or rel == "aml_config/workspace.yml"
                or rel == f"aml_config/{MATERIALIZED}")
    return False


def check_relpath(rel: str) -> str:
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\0" in rel
            or any(p in ("", ".", "..") for p in parts)):
        raise ApiError(400, f"snapshot path {rel[:200]!r} is not a safe relative path")
    if server_owned(rel):
        raise ApiError(400, f"snapshot path {rel!r} belongs to the server (its run history, "
                       "its targets); a snapshot never sends it")
    return rel
