"""The run's copy of the project: a content-addressed manifest (one sha256 per file), built fast
by caching hashes by path+size+mtime, then copied into a run folder or streamed to a remote
object store as a tar of only the objects the target lacks.

Walking honours ``.gitignore`` and ``.amlignore`` (gitignore syntax, nested files too; in the same
folder ``.amlignore`` is read after ``.gitignore`` so it can re-include with ``!``). ``.git`` is
always skipped, and so is the project's own ``.aml/`` folder. The project's top-level
``outputs/`` and ``logs/`` (what runs write) are left out unless an ignore file re-includes them.
"""
from __future__ import annotations

import collections
import gc
import itertools
import json
import os
import stat
import threading
import time
from aml_magic.domain.plain_data import field, plain_data
from pathlib import Path

from aml_magic.domain.atomic_file import replace_file
from aml_magic.domain.digest import sha256, sha256_hex
from aml_magic.errors import AmlError
from aml_magic.domain.snapshot.ignore_rules import (
    IGNORE_FILES,
    IgnoreChain,
    IgnoreDecisions,
    read_ignore_file,
)
from aml_magic.domain.snapshot.watch import AML_FOLDER, TreeWatch
from aml_magic.domain.config.compute import holds_plaintext_secret
from aml_magic.domain.user_dirs import project_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

# What runs write into the project's top level: a stale ./outputs/model.pkl shipped with every
# run would be reported as each run's output. Left out as if listed first in the top .gitignore,
# so ``!outputs/`` in .amlignore (or .gitignore) brings it back.
RUN_WRITTEN_FOLDERS = frozenset({"outputs", "logs"})
DEFAULT_EXCLUDES = "/outputs/\n/logs/\n"
_CHUNK = 1 << 20
_PARALLEL_MIN_FILES = 256        # fewer: a second thread costs more than it saves
_CACHE_VERSION = 1
# A file modified within this window before the scan started may change again within the
# same timestamp tick, unseen by size+mtime: hash it but do not cache it (git's "racy clean").
_RACY_NS = 50_000_000
_RACY_COARSE_NS = 2_000_000_000  # file systems with whole-second timestamps


if TYPE_CHECKING:
    class FileEntry(NamedTuple):
        sha256: str
        size: int
        mode: int
else:   # the same tuple without importing typing (~5 % of a CLI start)
    FileEntry = collections.namedtuple("FileEntry", ["sha256", "size", "mode"])
FileEntry.__doc__ = """One file of a snapshot. ``mode`` is normalized to 0o755 or 0o644 (only
the exec bit matters), so the digest does not depend on the user's umask. A tuple, so that the
garbage collector stops scanning the 10,000s a live process keeps (full collections cost tens of
milliseconds per submit otherwise)."""


@plain_data
class Manifest:
    """Every file of a snapshot by posix relative path, and a digest over all of them."""
    files: dict[str, FileEntry]
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.files = dict(sorted(self.files.items()))
        self._digest: tuple[int, int, str] | None = None
        self._shas: tuple[int, int, frozenset[str]] | None = None

    @property
    def digest(self) -> str:
        """sha256 over paths, modes and contents (computed once per ``files`` dict)."""
        if self._digest is not None and self._digest[:2] == (id(self.files), len(self.files)):
            return self._digest[2]
        # one string, encoded once: the same bytes as path + NUL + mode + NUL + sha + LF each
        text = "".join([_texts(rel, e)[0] for rel, e in self.files.items()])
        self._digest = (id(self.files), len(self.files),
                        sha256_hex(os.fsencode(text)))
        return self._digest[2]

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.files.values())

    def shas(self) -> set[str]:
        """The distinct contents (a new set each call; computed once per ``files`` dict)."""
        if self._shas is None or self._shas[:2] != (id(self.files), len(self.files)):
            self._shas = (id(self.files), len(self.files),
                          frozenset(e.sha256 for e in self.files.values()))
        return set(self._shas[2])

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "digest": self.digest,
                "files": {r: {"sha256": e.sha256, "size": e.size, "mode": e.mode}
                          for r, e in self.files.items()},
                "warnings": list(self.warnings)}

    def to_json(self) -> str:
        """Compact JSON, the same text as ``json.dumps(self.to_dict())`` without spaces; each
        entry's text is remembered by this process (``_texts``), so a live process re-encodes
        only the entries that changed since its last snapshot."""
        with gc_paused():
            files = ",".join([_texts(rel, e)[1] for rel, e in self.files.items()])
            return (f'{{"version":1,"digest":"{self.digest}","files":{{{files}}},'
                    f'"warnings":{json.dumps(self.warnings, separators=(",", ":"))}}}')

    def files_json(self) -> str:
        """The entries as a JSON array of ``[path, sha256, mode, size]`` (remembered texts)."""
        with gc_paused():
            return "[" + ",".join([_texts(rel, e)[2] for rel, e in self.files.items()]) + "]"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
            files = {str(r): FileEntry(str(e["sha256"]), int(e["size"]), int(e["mode"]))
                     for r, e in data["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AmlError(f"snapshot manifest is not valid: {exc}") from exc
        for rel in files:
            _check_relpath(rel)
        return cls(files, list(data.get("warnings", [])))


# What this process last encoded per path: (entry, digest line, manifest JSON member, header
# JSON array). A tuple per path: the garbage collector does not scan them (see FileEntry).
_TEXTS: dict[str, tuple[FileEntry, str, str, str]] = {}
_TEXTS_MAX = 500_000


def _texts(rel: str, entry: FileEntry) -> tuple[str, str, str]:
    known = _TEXTS.get(rel)
    if known is not None and known[0] == entry:
        return known[1], known[2], known[3]
    name = json.dumps(rel)
    texts = (f"{rel}\0{entry.mode:o}\0{entry.sha256}\n",
             f'{name}:{{"sha256":"{entry.sha256}","size":{entry.size},"mode":{entry.mode}}}',
             f'[{name},"{entry.sha256}",{entry.mode},{entry.size}]')
    if len(_TEXTS) >= _TEXTS_MAX:
        _TEXTS.clear()
    _TEXTS[rel] = (entry, *texts)
    return texts


# ---------------------------------------------------------------- walking and hashing

def _hash_file(path: str) -> str:
    """sha256 of a file, read in chunks so big files do not fill memory. A small file is read
    in one call sized by its ``fstat`` (plus one more to see the end): no buffer is allocated
    per file, which on 10,000 small files is ~40% of a cold snapshot's hashing."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        h = sha256(size)
        want = min(size + 1, _CHUNK)
        while True:
            data = os.read(fd, want)
            if not data:
                return h.hexdigest()
            h.update(data)
            want = _CHUNK
    finally:
        os.close(fd)


def _hash_or_error(path: str) -> str | OSError:
    try:
        return _hash_file(path)
    except OSError as exc:
        return exc


def _hash_files(paths: list[str]) -> list[str | OSError]:
    """sha256 of each path (or why it cannot be read), in order. Many files (a cold
    snapshot: a first submit) are hashed on two threads: ``read`` and ``update`` release the
    GIL, so 10,000 files of 20 KB take ~0.12 s instead of ~0.175 s."""
    if len(paths) < _PARALLEL_MIN_FILES or (os.cpu_count() or 1) < 2:
        return [_hash_or_error(path) for path in paths]
    import hashlib  # noqa: F401  (loaded: digest.py picks OpenSSL, which releases the GIL)
    results: list[str | OSError] = [""] * len(paths)
    turns = itertools.count()            # next() on it is atomic: each index is taken once

    def work() -> None:
        for index in turns:
            if index >= len(paths):
                return
            results[index] = _hash_or_error(paths[index])

    helper = threading.Thread(target=work, name="aml-hash", daemon=True)
    helper.start()
    work()
    helper.join()
    return results


def _mode(st_mode: int) -> int:
    return 0o755 if st_mode & 0o111 else 0o644


HASH_CACHE = "hashes.json"


def hash_cache_path(project_root: str | os.PathLike[str]) -> Path | None:
    """The project's snapshot hash cache in the user's cache folder (``ignored.json``, the
    ignore decisions, beside it); None when that folder cannot be used (nothing is cached)."""
    folder = project_cache(project_root, create=True)
    return folder / HASH_CACHE if folder is not None else None


class _HashCache:
    """relpath -> (size, mtime_ns, inode, sha256), stored as JSON and replaced atomically.
    What this process last read or wrote is kept in memory, keyed by the file's own stat: a
    process that snapshots again skips parsing it unless another process replaced it."""

    _memory: dict[str, tuple[tuple[int, int, int], dict[str, tuple[Any, ...]]]] = {}

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.old: dict[str, tuple[Any, ...]] = {}  # tuples: the garbage collector skips them
        self.new: dict[str, tuple[Any, ...]] = {}
        if path is not None:
            try:
                identity = _stat_identity(path)
                remembered = self._memory.get(str(path))
                if remembered is not None and remembered[0] == identity:
                    self.old = remembered[1]
                    return
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == _CACHE_VERSION and isinstance(data.get("entries"), dict):
                    self.old = {rel: tuple(e) for rel, e in data["entries"].items()
                                if isinstance(e, list)}
                    self._memory[str(path)] = (identity, self.old)
            except (OSError, ValueError, AttributeError):
                pass

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        e = self.old.get(rel)
        if e is not None and len(e) == 4 and e[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            return str(e[3])
        return None

    def record(self, rel: str, st: os.stat_result, sha: str, started_ns: int) -> None:
        window = _RACY_COARSE_NS if st.st_mtime_ns % 1_000_000_000 == 0 else _RACY_NS
        if st.st_mtime_ns < started_ns - window:
            self.new[rel] = (st.st_size, st.st_mtime_ns, st.st_ino, sha)

    def save(self) -> None:
        if self.path is None or self.new == self.old:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self.path, json.dumps({"version": _CACHE_VERSION, "entries": self.new},
                                                separators=(",", ":")).encode())
            self._memory[str(self.path)] = (_stat_identity(self.path), self.new)
        except OSError:
            pass  # a cache that cannot be written only costs speed next time


def _stat_identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino


def shown_name(rel: str) -> str:
    """A project path as one printable line: bytes that are not UTF-8 and control characters
    (a newline in a name) are shown as ``\\xNN``; the name itself is kept as it is."""
    if rel.isprintable():
        return rel
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class gc_paused:
    """No cyclic garbage collection during a burst of short-lived allocations (a walk over
    10,000s of files): one collection afterwards instead of a hundred during it, each of which
    would scan everything a long-lived kernel holds. Restores the previous state. A class, not
    a ``contextlib.contextmanager`` (contextlib's import is ~1 % of a CLI submit)."""

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            gc.enable()


def take_snapshot(project_root: Path, *, cache_path: Path | None = None,
                  use_cache: bool = True) -> Manifest:
    """Walk the project and return its manifest; unchanged files are not re-read.

    ``cache_path`` defaults to ``hash_cache_path(project_root)``, in the user's cache folder
    (never the project's own ``.aml/cache/``: a project cannot vouch for its hashes).
    Symlinks to files inside the project are recorded as regular files; other symlinks are
    skipped with a warning.

    A process that snapshots the same project again (a kernel, the Jupyter server) watches its
    folders from its second snapshot on and afterwards looks only at the paths that changed
    (``snapshot_watch.py``); ``use_cache=False`` always walks and hashes everything.
    """
    with gc_paused():
        if not use_cache:
            return _take_snapshot(project_root, cache_path=cache_path, use_cache=False)
        key = (os.path.abspath(project_root), str(cache_path))
        with _WATCHES_LOCK:
            seen = key in _WATCHES
            watch = _WATCHES.get(key)
        if watch is not None:
            with watch.lock:
                files = watch.changed_files(_hash_file, FileEntry)
            if files is not None:
                return Manifest(files)
            watch.close()
            watch = None
        if seen:                              # snapshotted before: this process lives on
            watch = TreeWatch(key[0])
            watch = watch if watch.usable else None
        with _WATCHES_LOCK:
            _WATCHES.pop(key, None)
            _WATCHES[key] = watch                 # the most recently used last
            held = [k for k, w in _WATCHES.items() if w is not None]
            dropped = [_WATCHES.pop(k) for k in held[:max(0, len(held) - _WATCHES_MAX)]]
        for old in dropped:
            old.close()                           # inotify instances are few per user (128)
        if watch is None:
            return _take_snapshot(project_root, cache_path=cache_path, use_cache=True)
        with watch.lock:
            return _take_snapshot(project_root, cache_path=cache_path, use_cache=True,
                                  watch=watch)


# Per (project, hash cache): None once snapshotted, then the watch of its folders.
_WATCHES: dict[tuple[str, str], Any] = {}
_WATCHES_LOCK = threading.Lock()
_WATCHES_MAX = 4


def forget_watches() -> None:
    """Drop every watch (the next snapshot of each project walks it in full)."""
    with _WATCHES_LOCK:
        watches = list(_WATCHES.values())
        _WATCHES.clear()
    for watch in watches:
        if watch is not None:
            watch.close()


def _take_snapshot(project_root: Path, *, cache_path: Path | None,
                   use_cache: bool, watch: Any = None) -> Manifest:
    root = os.path.abspath(project_root)
    if not os.path.isdir(root):
        raise AmlError(f"{project_root}: project folder does not exist")
    real_root = os.path.realpath(root)
    if cache_path is None and use_cache:
        cache_path = hash_cache_path(root)
    use_cache = use_cache and cache_path is not None
    cache = _HashCache(cache_path if use_cache else None)
    decisions = IgnoreDecisions(cache_path.with_name("ignored.json")
                                if use_cache and cache_path is not None else None)
    started_ns = time.time_ns()
    files: dict[str, FileEntry] = {}
    warnings: list[str] = []

    unhashed: list[tuple[str, str, os.stat_result]] = []

    def add(rel: str, path: str, st: os.stat_result) -> None:
        sha = cache.lookup(rel, st)
        if sha is None:
            unhashed.append((rel, path, st))      # hashed after the walk, on every core
            return
        cache.record(rel, st, sha, started_ns)
        files[rel] = FileEntry(sha, st.st_size, _mode(st.st_mode))

    no_rules = IgnoreChain()
    stack: list[tuple[str, str, IgnoreChain]] = [(root, "", no_rules)]
    while stack:
        dir_path, prefix, specs = stack.pop()
        if watch is not None:
            watch.add_folder(dir_path, prefix)     # before listing: no change is missed
        try:
            with os.scandir(dir_path) as it:
                entries = list(it)
        except OSError as exc:
            warnings.append(f"{shown_name(prefix) or '.'}: skipped, cannot be listed ({exc.strerror})")
            continue
        names = {e.name for e in entries}
        if not prefix and not names.isdisjoint(RUN_WRITTEN_FOLDERS):
            specs = specs.extended("", DEFAULT_EXCLUDES)     # first: ignore files may re-include
        for ign in IGNORE_FILES:
            if ign in names:
                try:
                    specs = specs.extended(prefix, read_ignore_file(os.path.join(dir_path, ign)))
                except OSError as exc:
                    warnings.append(f"{shown_name(prefix)}{ign}: cannot be read ({exc.strerror})")
        if watch is not None:
            watch.folder_rules(prefix, specs)
        for entry in entries:
            name = entry.name
            if name == ".git" or (name == ".aml" and not prefix):
                if watch is not None and name == ".aml":
                    watch.add_folder(entry.path, AML_FOLDER)
                cells = os.path.join(entry.path, "cells")
                if name == ".aml" and os.path.isdir(cells):   # cells exported by %%aml_submit
                    stack.append((cells, ".aml/cells/", no_rules))
                continue
            rel = prefix + name
            try:
                if entry.is_symlink():
                    if specs.rules and decisions.ignored(specs, rel, False):
                        continue
                    if watch is not None:
                        watch.saw_symlink()
                    _add_symlink(rel, entry.path, real_root, add, warnings)
                elif entry.is_dir(follow_symlinks=False):
                    if not (specs.rules and decisions.ignored(specs, rel, True)):
                        if watch is not None:
                            watch.saw_folder(entry.stat(follow_symlinks=False))
                        stack.append((entry.path, rel + "/", specs))
                elif entry.is_file(follow_symlinks=False):
                    if prefix == "aml_config/" and name.endswith(".compute") \
                            and holds_plaintext_secret(entry.path):
                        pass           # never copied; loading it warned already (compute.py)
                    elif not (specs.rules and decisions.ignored(specs, rel, False)):
                        st = entry.stat(follow_symlinks=False)
                        if watch is not None:
                            watch.saw_file(rel, st)
                        add(rel, entry.path, st)
                elif not (specs.rules and decisions.ignored(specs, rel, False)):
                    warnings.append(f"{shown_name(rel)}: skipped, not a regular file")
            except OSError as exc:
                warnings.append(f"{shown_name(rel)}: skipped ({exc.strerror})")
    shas = _hash_files([path for _, path, _ in unhashed])
    for (rel, _, st), sha in zip(unhashed, shas):
        if isinstance(sha, OSError):
            warnings.append(f"{shown_name(rel)}: skipped, cannot be read ({sha.strerror})")
            continue
        cache.record(rel, st, sha, started_ns)
        files[rel] = FileEntry(sha, st.st_size, _mode(st.st_mode))
    cache.save()
    decisions.save()
    if watch is not None:
        watch.walked(files, warnings)
    return Manifest(files, sorted(warnings))


def _add_symlink(rel: str, path: str, real_root: str, add: Any, warnings: list[str]) -> None:
    """A link to a file inside the project becomes a copy of that file; anything else would
    leak outside the project or loop, so it is skipped and reported."""
    target = os.path.realpath(path)
    inside = target.startswith(real_root + os.sep)
    if not inside:
        warnings.append(f"{shown_name(rel)}: skipped, symlink points outside the project")
        return
    first = os.path.relpath(target, real_root).split(os.sep, 1)[0]
    if first in (".git", ".aml"):
        warnings.append(f"{shown_name(rel)}: skipped, symlink points into {first}/")
        return
    try:
        st = os.stat(target)
    except OSError:
        warnings.append(f"{shown_name(rel)}: skipped, broken symlink")
        return
    if stat.S_ISREG(st.st_mode):
        add(rel, target, st)
    else:
        warnings.append(f"{shown_name(rel)}: skipped, symlink to a folder is not followed")


def _check_relpath(rel: str) -> None:
    parts = rel.split("/")
    # A backslash is an ordinary character in a POSIX name (it separates nothing there).
    if not rel or rel.startswith("/") or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise AmlError(f"snapshot manifest has an unsafe path {rel!r}")
