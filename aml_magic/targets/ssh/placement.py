"""A machine over SSH: run folders under ``remoteBaseDirectory`` (default ``~/.aml_magic``).

``<base>/objects/`` is a content-addressed store (one file per sha256), ``<base>/runs/<id>/``
one folder per run (the agent's files in ``.agent/``, ``work/`` the run's copy of the project),
``spares/`` a pristine tree per project that the next submit takes over instead of copying.

A sync is one SSH command: the helper ``agent/assemble.py`` (run by the remote's Python and
kept compiled under ``helpers/``, see ``transports/helper_cache.py``) reads a header and one tar
of the objects the remote lacks, assembles ``work/``, writes the agent and, when given a launch
spec, starts the agent. Which objects the remote has is remembered per target in the user's
cache folder (``user_dirs.py``, never the project); a wrong memory costs one more round trip
(the helper answers with what is missing), never a wrong run.
"""
from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from aml_magic.errors import ConfigError, TargetError
from aml_magic.transports.base import CommandResult, Transport
from aml_magic.targets.base import AgentStarted, LaunchRequest, TargetState
from aml_magic.targets.placement import Placement
from aml_magic.agent import agent_files
from aml_magic.domain.snapshot.manifest import gc_paused
from aml_magic.domain.snapshot.ship import write_objects_tar
from aml_magic.domain.user_dirs import project_cache
from aml_magic.targets.ssh.binding import check_login, check_secret_destination
from aml_magic.targets.ssh.login import CONNECT_TIMEOUT, ssh_transport_for
from aml_magic.transports.helper_cache import helper_arguments

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration

DEFAULT_BASE_DIR = "~/.aml_magic"
_UPLOAD_BUFFER = 1 << 20
# Runs PYTHON (``~/`` expanded on the remote) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'


class RemotePlacement(Placement):
    """Run folders on an SSH machine, filled from its content-addressed store."""

    connect_timeout: float | None = None      # None: sshlogin.CONNECT_TIMEOUT
    #: the interpreter of the environment a submit runs in (``userManagedEnvironment: false``)
    interpreter: str | None = None

    def _make_transport(self) -> Transport:
        transport: Transport = ssh_transport_for(
            self.compute, self.secrets, connect_timeout=self.connect_timeout or CONNECT_TIMEOUT)
        return transport

    def check(self, runconfig: RunConfiguration) -> None:
        if not self.compute.address:
            raise ConfigError(f"{self.compute.name}.compute has no address; re-attach with "
                              "--address HOST[:PORT]",
                              path=str(self.compute.path) if self.compute.path else None)
        # a login secret bound elsewhere is refused before the run is even recorded
        check_login(self.compute, self.secrets, context=self._context())

    def check_secret_destination(self) -> None:
        """A run carrying secrets goes only where the stored login is bound."""
        check_secret_destination(self.compute, self.secrets, context=self._context())

    def _context(self) -> str:
        return str(self.compute.path) if self.compute.path else f"{self.compute.name}.compute"

    def where(self) -> str:
        return str(self.compute.address)

    def python(self) -> str:
        return str(self.interpreter or self.compute.python_location or "python3")

    def base_dir(self) -> str:
        return str(self.compute.remote_base_dir or DEFAULT_BASE_DIR).rstrip("/") or "/"

    def run_dir(self, request: LaunchRequest) -> str:
        return f"{self.base_dir()}/runs/{request.run_id}"

    def agent_dir(self, run_dir: str) -> str:
        return f"{run_dir.rstrip('/')}/.agent"

    def sync(self, request: LaunchRequest) -> TargetState:
        answer = self._exchange(request, spec=None, agent=_agent_text())
        how, copied = answer.get("how"), answer.get("copied")
        return TargetState(run_dir=self._run_dir_of(answer),
                           sync=how if isinstance(how, str) else None,
                           copied_files=copied if type(copied) is int else None)

    def start_agent(self, request: LaunchRequest, spec: bytes) -> AgentStarted:
        answer = self._exchange(request, spec=json.loads(spec), agent=_agent_text())
        return AgentStarted.from_answer({**answer, "sync": answer.get("how"),
                                         "copied_files": answer.get("copied")},
                                        run_dir=self._run_dir_of(answer),
                                        target=self.compute.name)

    def _run_dir_of(self, answer: dict[str, object]) -> str:
        run_dir = answer.get("run_dir")
        if not isinstance(run_dir, str) or not run_dir:
            raise TargetError(f"target '{self.compute.name}': the remote helper named no run "
                              f"folder: {str(answer)[:200]}")
        return run_dir

    # -- the sync exchange ------------------------------------------------------------------
    def _exchange(self, request: LaunchRequest, *, spec: dict[str, object] | None,
                  agent: dict[str, str] | None = None) -> dict[str, object]:
        manifest = request.manifest
        progress = request.on_progress
        with gc_paused():                     # 10,000s of short-lived objects
            files = manifest.files_json()     # [[rel, sha, mode, size], ...], texts remembered
            known = self._known_objects()
            sending = sorted(manifest.shas() - known) if known is not None else []
            sizes = {e.sha256: e.size for e in manifest.files.values()}
            first: dict[str, str] = {}        # the tar names each object by its first path
            for rel, entry in manifest.files.items():
                first.setdefault(entry.sha256, rel)
        argv = ["sh", "-c", _EXEC_PYTHON, "sh", self.python(), "-S", "-E",
                *helper_arguments(self.base_dir(), "session")]  # compiled once per target
        keep: list[str] = []
        for _attempt in range(3):
            rest = json.dumps({
                "version": 2, "base": self.base_dir(), "run_id": request.run_id,
                "project_key": _project_key(request.project_root),
                "sending": [[sha, first[sha]] for sha in sending], "keep": keep, "agent": agent,
                "spec": spec})
            header = ('{"files":' + files + "," + rest[1:]).encode("utf-8")
            if progress and sending:
                size = sum(sizes[s] for s in sending)
                progress(f"sending {len(sending)} new file(s), {size / 1e6:.1f} MB, to "
                         f"'{self.compute.name}'")

            def produce(raw: BinaryIO, header: bytes = header, shas: list[str] = sending) -> None:
                # tarfile writes 10 KB at a time: batch them, one SSH packet run per MB
                out = io.BufferedWriter(raw, buffer_size=_UPLOAD_BUFFER)
                out.write(b"%d\n" % len(header))
                out.write(header)
                if shas:
                    write_objects_tar(manifest, request.source, shas, out, by_path=True)
                out.flush()
                out.detach()

            result = self.transport.run(argv, stdin=produce, check=False)  # type: ignore[arg-type]
            answer = self._answer(result)
            if "missing" not in answer:
                self._remember_objects(manifest.shas())
                return answer
            missing = answer["missing"]
            sending = [str(sha) for sha in missing] if isinstance(missing, list) else []
            # sent before, yet missing: store them before the run can touch its copy
            keep = [sha for sha in sending if known is not None and sha in known]
        raise TargetError(f"target '{self.compute.name}': the remote object store still lacks "
                          f"{len(sending)} file(s) after uploading them; check free space under "
                          f"{self.base_dir()} on the remote")

    def _answer(self, result: CommandResult) -> dict[str, object]:
        err = result.stderr.decode("utf-8", "replace").strip()
        if result.exit_code == 127:
            raise TargetError(f"target '{self.compute.name}': Python '{self.python()}' was not "
                              f"found on {self.compute.address}; set pythonLocation in "
                              f"{self.compute.name}.compute ({err[-200:]})")
        if result.exit_code != 0:
            if "No space left" in err:
                raise TargetError(f"target '{self.compute.name}': the disk of "
                                  f"{self.compute.address} is full (under {self.base_dir()}); "
                                  "free some space there and submit again")
            raise TargetError(f"target '{self.compute.name}': preparing the run on "
                              f"{self.compute.address} failed (exit {result.exit_code}): "
                              f"{err[-400:] or 'no message'}")
        try:
            return dict(json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1]))
        except (ValueError, IndexError, TypeError):
            raise TargetError(f"target '{self.compute.name}': unexpected answer from the remote "
                              f"helper: {result.stdout[-200:]!r} {err[-200:]}") from None

    # -- what the remote store holds (a cache: may be wrong, never trusted for correctness) --
    def _known_path(self) -> Path | None:
        """In the user's cache folder, never the project's (None: nothing is remembered)."""
        c = self.compute
        ident = f"{c.username}@{c.address}:{c.port or 22}:{self.base_dir()}"
        digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
        folder = project_cache(self.project_root, create=True)
        return folder / f"remote-objects-{digest}.json" if folder is not None else None

    def _known_objects(self) -> set[str] | None:
        path = self._known_path()
        if path is None:
            return None
        try:
            identity = _file_identity(path)
            remembered = _KNOWN_IN_MEMORY.get(path)
            if remembered is not None and remembered[0] in (identity, _PENDING):
                return set(remembered[1])     # this process wrote or read it last: no parse
            shas = frozenset(json.loads(path.read_text(encoding="utf-8"))["shas"])
            _KNOWN_IN_MEMORY[path] = (identity, shas)
            return set(shas)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember_objects(self, shas: set[str]) -> None:
        path = self._known_path()
        if path is None:
            return
        remembered = _KNOWN_IN_MEMORY.get(path)
        try:
            if remembered is not None and remembered[1] == shas \
                    and remembered[0] in (_PENDING, _file_identity(path)):
                return                    # unchanged: a warm re-submit writes nothing
        except OSError:
            pass
        # written off the submit's path (10,000s of hashes): the file is a cache, and a memory
        # that lags costs one round trip next time, nothing else
        _KNOWN_IN_MEMORY[path] = (_PENDING, frozenset(shas))
        writer = threading.Thread(target=_write_known, args=(path, frozenset(shas)),
                                  name="aml-known-objects", daemon=True)
        if not _WRITERS:
            atexit.register(_finish_writes)   # a one-shot command still leaves the file
        _WRITERS.append(writer)
        writer.start()


# What this process last read or wrote per known-objects file, by the file's (mtime, size,
# inode): a process that lives on (a kernel) skips re-reading 10,000s of hashes per submit.
_KNOWN_IN_MEMORY: dict[Path, tuple[tuple[int, int, int], frozenset[str]]] = {}


def _write_known(path: Path, shas: frozenset[str]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with _KNOWN_WRITE_LOCK:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"shas": sorted(shas)}), encoding="utf-8")
            os.replace(tmp, path)
            remembered = _KNOWN_IN_MEMORY.get(path)
            if remembered is not None and remembered[1] == shas:
                _KNOWN_IN_MEMORY[path] = (_file_identity(path), shas)
        except OSError:
            pass                      # costs one round trip next time, nothing else
    if threading.current_thread() in _WRITERS:
        _WRITERS.remove(threading.current_thread())


_KNOWN_WRITE_LOCK = threading.Lock()
_PENDING = (-1, -1, -1)                # identity of a memory whose file is being written
_WRITERS: list[threading.Thread] = []


def _finish_writes() -> None:
    for writer in list(_WRITERS):
        writer.join(timeout=10)


def _file_identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino


def _agent_text() -> dict[str, str]:
    return {rel: data.decode("utf-8") for rel, data in agent_files().items()}


def _project_key(project_root: Path) -> str:
    """Names the project's spare trees on the remote (one machine's folder of one project)."""
    ident = f"{socket.gethostname()}:{Path(project_root).resolve()}"
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


__all__ = ["DEFAULT_BASE_DIR", "RemotePlacement"]
