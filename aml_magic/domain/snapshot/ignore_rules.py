"""Which project files a snapshot leaves out: ``.gitignore`` / ``.amlignore`` rules, with git's
precedence (last matching pattern wins, deeper files after shallower ones).

Matching is done by pathspec, but whether a path is ignored depends only on the texts of the
ignore files in effect and on the path, so decisions are remembered per set of texts (keyed by
their hash) in ``ignored.json`` in the user's cache folder, never the project's own
``.aml/cache/`` (``user_dirs.py``): re-snapshotting an unchanged project neither imports nor compiles
a matcher (pathspec's import alone is ~8 ms of every ``aml experiment submit``).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from aml_magic.domain.digest import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

#: The project's ignore files, read in this order in every folder.
IGNORE_FILES = (".gitignore", ".amlignore")
_CACHE_VERSION = 1


def read_ignore_file(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


_compiled_specs: dict[str, _Matcher] = {}
_NAMED_GROUP = r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>"  # compiled by `re` on first use


class _Matcher:
    """pathspec's gitignore matcher for one file's text, behind one combined regex: most paths
    match no pattern at all, and one search of the alternation of every pattern says so, where
    pathspec tries each pattern in turn. A path the combined regex matches is decided by
    pathspec itself (last matching pattern wins, negations, folder rules)."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.any: re.Pattern[str] | None = None
        self.always_check = False
        sources = []
        for pattern in spec.patterns:
            regex = getattr(pattern, "regex", None)
            if pattern.include is None or regex is None:
                continue
            if not isinstance(regex.pattern, str) or regex.flags != re.UNICODE \
                    or "(?P=" in regex.pattern:
                self.always_check = True          # not combinable: ask pathspec every time
                return
            sources.append("(?:" + re.sub(_NAMED_GROUP, "(?:", regex.pattern) + ")")
        if sources:
            try:
                self.any = re.compile("|".join(sources))
            except re.error:
                self.always_check = True

    def include(self, path: str) -> bool | None:
        """True (ignored), False (re-included by a negation) or None (no pattern matches)."""
        if not self.always_check and (self.any is None or self.any.search(path) is None):
            return None
        result: bool | None = self.spec.check_file(path).include
        return result


def _compile_spec(text: str) -> _Matcher:
    """A gitignore matcher for ``text``; pathspec is imported only when a decision is not in
    the decision cache (see ``IgnoreDecisions``)."""
    matcher = _compiled_specs.get(text)
    if matcher is None:
        import pathspec
        if len(_compiled_specs) > 64:     # a long-lived kernel whose .gitignore keeps changing
            _compiled_specs.clear()
        matcher = _compiled_specs[text] = _Matcher(
            pathspec.GitIgnoreSpec.from_lines(text.splitlines()))
    return matcher


def _ignored(specs: list[tuple[str, _Matcher]], rel: str, is_dir: bool) -> bool:
    """Last matching pattern wins, deeper ignore files after shallower ones, as in git."""
    result = False
    for base, matcher in specs:
        sub = rel[len(base):] + ("/" if is_dir else "")
        include = matcher.include(sub)
        if include is not None:
            result = include
    return result


class IgnoreChain:
    """The ignore files in effect in one folder: ``(folder prefix, file text)`` from the root
    down, and a fingerprint of exactly those texts at those places."""

    def __init__(self, rules: tuple[tuple[str, str], ...] = (), fingerprint: str = "") -> None:
        self.rules = rules
        self.fingerprint = fingerprint

    def extended(self, prefix: str, text: str) -> IgnoreChain:
        h = sha256()
        h.update(self.fingerprint.encode())
        h.update(os.fsencode(prefix) + b"\0" + text.encode("utf-8", "surrogateescape"))
        return IgnoreChain(self.rules + ((prefix, text),), h.hexdigest())

    def decide(self, rel: str, is_dir: bool) -> bool:
        return _ignored([(base, _compile_spec(text)) for base, text in self.rules], rel, is_dir)


class IgnoreDecisions:
    """Whether a path is ignored is a pure function of the ignore files' texts in effect and the
    path: decisions are kept per chain fingerprint in ``ignored.json`` beside the hash cache, so
    an unchanged project is walked without importing or compiling any gitignore matcher.

    The file is rewritten only when a walk made new decisions (chains no walk used any more are
    dropped then). What this process last read or wrote is kept in memory, keyed by the file's
    own stat: a process that lives on (a kernel, the Jupyter server) does not parse it again
    unless another process replaced it."""

    _memory: ClassVar[dict[str, tuple[tuple[int, int, int], dict[str, dict[str, bool]]]]] = {}

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.old: dict[str, dict[str, bool]] = {}        # never mutated: may be shared memory
        self.added: dict[str, dict[str, bool]] = {}
        self.used: set[str] = set()
        if path is None:
            return
        try:
            identity = _stat_identity(path)
            remembered = self._memory.get(str(path))
            if remembered is not None and remembered[0] == identity:
                self.old = remembered[1]
                return
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == _CACHE_VERSION and isinstance(data.get("chains"), dict):
                self.old = data["chains"]
                self._memory[str(path)] = (identity, self.old)
        except (OSError, ValueError, AttributeError):
            pass

    def ignored(self, chain: IgnoreChain, rel: str, is_dir: bool) -> bool:
        key = rel + "/" if is_dir else rel
        self.used.add(chain.fingerprint)
        known = self.old.get(chain.fingerprint, {}).get(key)
        if not isinstance(known, bool):
            known = chain.decide(rel, is_dir)
            self.added.setdefault(chain.fingerprint, {})[key] = known
        return known

    def save(self) -> None:
        if self.path is None or not self.added:
            return
        chains = {fp: {**self.old.get(fp, {}), **self.added.get(fp, {})} for fp in self.used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": _CACHE_VERSION, "chains": chains},
                                      separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
            self._memory[str(self.path)] = (_stat_identity(self.path), chains)
        except OSError:
            pass  # a cache that cannot be written only costs speed next time


def _stat_identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino
