"""Target side of ``aml computetarget gc`` (stdlib only, Python 3.9+): list, then remove, what
the remote base folder holds that no kept run needs.

Shipped as the source of ``PYTHON -S -E -c <this file> plan|remove`` over the target's
transport; the request is one JSON document on stdin (a kept run's objects may be 10,000s of
hashes: too many for argv), the answer one JSON line on stdout.

``plan`` gets ``{"base", "project_key", "used": [sha...], "runs": [run_id...], "envs_used":
[identity...]}`` (``used``: the objects of the runs the client keeps; ``runs``: ended, old runs of
this project; ``envs_used``: the environments still in use) and answers ``{"objects": [[sha,
bytes]], "spares": [["KEY/NAME", bytes]], "runs": [[id, bytes]], "envs": [[identity, bytes]]}``:

- a spare tree of this project (``spares/KEY/NAME`` + ``NAME.json``, its listing) is stale when
  its listing names an object no kept run uses (it was built for a tree nobody runs any more);
  spares of other projects are never listed, and their objects count as used;
- an object (``objects/XX/SHA``) is stale when no kept run and no kept spare uses it;
- a run folder is listed when the client named it and it exists;
- an environment (``envs/IDENTITY``, see ``targets/remote_env.py``) is listed when it is
  complete (its marker exists: one being built has none) and not in use.

Sizes are apparent bytes of every entry, links not followed, each inode once (``du -b``).
``remove`` gets ``{"base", "objects", "spares", "runs", "envs"}`` (what ``plan`` listed) and removes
exactly those; every name is checked, nothing is followed through a symbolic link, nothing
outside ``base`` is touched. Exit codes: 0 answered; 2 bad request.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from typing import Any, NoReturn

_SHA = re.compile(r"^[0-9a-f]{64}$")
ENV_MARKER = ".aml-env.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _fail(message: str) -> NoReturn:
    sys.stderr.write("aml_magic storegc: " + message + "\n")
    sys.exit(2)


def _real_dir(path: str) -> bool:
    """True when ``path`` is a folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _size(paths: list[str]) -> int:
    """``du -b PATHS``: apparent bytes of every entry under them, links not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        stack = [top]
        while stack:
            path = stack.pop()
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
            if stat.S_ISDIR(st.st_mode):
                try:
                    stack.extend(os.path.join(path, n) for n in os.listdir(path))
                except OSError:
                    pass
    return total


def _spares(base: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """``(key, name, listing or None)`` for every ready spare tree."""
    root = os.path.join(base, "spares")
    if not _real_dir(root):
        return []
    found: list[tuple[str, str, dict[str, Any] | None]] = []
    for key in sorted(os.listdir(root)):
        folder = os.path.join(root, key)
        if not _NAME.match(key) or not _real_dir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or name.endswith(".json") or not _NAME.match(name):
                continue
            listing: dict[str, Any] | None = None
            try:
                with open(os.path.join(folder, name + ".json"), "rb") as fh:
                    listing = json.loads(fh.read().decode("utf-8"))
            except (OSError, ValueError):
                pass
            found.append((key, name, listing))
    return found


def _spare_paths(base: str, key: str, name: str) -> list[str]:
    folder = os.path.join(base, "spares", key)
    return [os.path.join(folder, name), os.path.join(folder, name + ".json")]


def _objects(base: str) -> list[tuple[str, str]]:
    """``(sha, path)`` of every object in the store (staging folders are assemble's)."""
    root = os.path.join(base, "objects")
    if not _real_dir(root):
        return []
    found: list[tuple[str, str]] = []
    for fan in sorted(os.listdir(root)):
        folder = os.path.join(root, fan)
        if len(fan) != 2 or not _real_dir(folder):
            continue
        for sha in sorted(os.listdir(folder)):
            if _SHA.match(sha) and sha[:2] == fan:
                found.append((sha, os.path.join(folder, sha)))
    return found


def plan(request: dict[str, Any]) -> dict[str, list[list[Any]]]:
    base = request["base"]
    key = request.get("project_key")
    used = set(request.get("used") or ())
    spares: list[list[Any]] = []
    for spare_key, name, listing in _spares(base):
        shas = {entry[0] for entry in listing.values()} if listing else set()
        if spare_key == key and (listing is None or not shas <= used):
            spares.append([spare_key + "/" + name,
                           _size(_spare_paths(base, spare_key, name))])
        else:
            used |= shas
    objects = [[sha, _size([path])] for sha, path in _objects(base) if sha not in used]
    runs: list[list[Any]] = []
    for run_id in request.get("runs") or ():
        path = os.path.join(base, "runs", _checked(run_id))
        if _real_dir(path):
            runs.append([run_id, _size([path])])
    envs: list[list[Any]] = []
    envs_used = set(request.get("envs_used") or ())
    root = os.path.join(base, "envs")
    for name in sorted(os.listdir(root)) if _real_dir(root) else ():
        path = os.path.join(root, name)
        if (_NAME.match(name) and name not in envs_used and _real_dir(path)
                and os.path.isfile(os.path.join(path, ENV_MARKER))):
            envs.append([name, _size([path])])
    return {"objects": objects, "spares": spares, "runs": runs, "envs": envs}


def _checked(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        _fail("bad name in request: %r" % (name,))
    return name


def _remove(path: str) -> bool:
    """Remove ``path`` (a file, or a folder with everything in it) without following links."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)          # refuses a link; fd-based where the platform allows
    else:
        os.unlink(path)
    return True


def remove(request: dict[str, Any]) -> dict[str, int]:
    base = request["base"]
    removed = {"objects": 0, "spares": 0, "runs": 0, "envs": 0}
    objects = os.path.join(base, "objects")
    for sha in request.get("objects") or ():
        if not isinstance(sha, str) or not _SHA.match(sha):
            _fail("bad object name: %r" % (sha,))
        if _real_dir(os.path.join(objects, sha[:2])):
            removed["objects"] += _remove(os.path.join(objects, sha[:2], sha))
    for item in request.get("spares") or ():
        key, _, name = str(item).partition("/")
        _checked(key), _checked(name)
        if _real_dir(os.path.join(base, "spares", key)):
            done = [_remove(p) for p in _spare_paths(base, key, name)]
            removed["spares"] += any(done)
    if _real_dir(os.path.join(base, "runs")):
        for run_id in request.get("runs") or ():
            removed["runs"] += _remove(os.path.join(base, "runs", _checked(run_id)))
    if _real_dir(os.path.join(base, "envs")):
        for name in request.get("envs") or ():
            removed["envs"] += _remove(os.path.join(base, "envs", _checked(name)))
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("plan", "remove"):
        _fail("usage: storegc plan|remove  (JSON request on stdin)")
    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        base = os.path.abspath(os.path.expanduser(str(request["base"])))
    except (ValueError, KeyError, TypeError):
        _fail("the request on stdin is not a JSON object with a base")
    if not _real_dir(base):
        answer: dict[str, Any] = {"objects": [], "spares": [], "runs": [], "envs": []}
    else:
        request["base"] = os.path.realpath(base)    # the base itself may be a link: once
        answer = plan(request) if argv[1] == "plan" else remove(request)
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
