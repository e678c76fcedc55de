"""The ``remote`` target: a Linux machine the user owns, reached over SSH, running the user's own
Python. Runs live under a base folder on the remote (``remoteBaseDirectory``, default
``~/.aml_magic``): ``objects/`` is a content-addressed store shared by every run, ``runs/<id>/``
one folder per run (the agent's files, ``work/`` the run's copy of the project), ``spares/`` a
pristine tree per project that the next submit takes over instead of copying every file.

A submit is one SSH command: the helper ``agent/assemble.py`` (run by the remote's Python and
kept compiled under ``helpers/``, see ``transports/helper_cache.py``) reads a header and one tar
of the objects the remote lacks, assembles ``work/`` and starts the agent. Which objects the
remote has is remembered per target in ``.aml/cache/``; a wrong memory costs one more round
trip (the helper answers with what is missing), never a wrong run.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
from pathlib import Path
from typing import Any, BinaryIO, Callable

from ..errors import AmlError, ConfigError, HostKeyError, TargetError
from .base import AgentTarget, LaunchRequest

DEFAULT_BASE_DIR = "~/.aml_magic"
CONNECT_TIMEOUT = 10.0
_UPLOAD_BUFFER = 1 << 20
# Runs PYTHON (``~/`` expanded on the remote) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'


class RemoteTarget(AgentTarget):
    type_name = "remote"
    connect_timeout: float = CONNECT_TIMEOUT

    # -- attach -----------------------------------------------------------------------------
    @classmethod
    def configure_attach(cls, compute: Any, *, secrets: Any, use_key: bool = False,
                         key_file: str | None = None, host_key_fingerprint: str | None = None,
                         trust_new_host_key: bool = False,
                         confirm_host_key: Callable[[str, str], bool] | None = None,
                         created_refs: list[str], on_message: Callable[[str], None] | None = None
                         ) -> None:
        """Pin the host key (given, trusted on first use, or confirmed; never silently), store
        the login key, and check that the login works before anything is written."""
        from ..transports.hostkeys import (UnknownHostKey, fingerprints_match,
                                           normalize_fingerprint, probe_host_key)
        say = on_message or (lambda _text: None)
        if not compute.address or not compute.username:
            raise AmlError("attaching a remote target needs --address HOST[:PORT] and "
                           "--username USER")
        if use_key and key_file:
            raise AmlError("give either -k/--use-azureml-ssh-key or --key-file, not both")
        if not (use_key or key_file or compute.password):
            raise AmlError(f"how should aml_magic log in to {compute.address}? give --password "
                           "(or --password-stdin), -k to generate a key, or --key-file PATH")
        host, port = _host_port(compute)
        key_type, offered = probe_host_key(host, port, timeout=cls.connect_timeout)
        if host_key_fingerprint:
            pinned = normalize_fingerprint(host_key_fingerprint)
            if not fingerprints_match(pinned, offered):
                raise HostKeyError(
                    f"{host}:{port}: the server offered {key_type} {offered}, not the "
                    f"fingerprint given with --host-key-fingerprint ({pinned}); nothing was "
                    "written. Check the key on the server (`ssh-keygen -lf "
                    "/etc/ssh/ssh_host_*_key.pub`)")
        elif trust_new_host_key:
            say(f"pinned the host key of {host}:{port}: {key_type} {offered} "
                "(--trust-new-host-key)")
        elif confirm_host_key is None or not confirm_host_key(f"{host}:{port}", offered):
            raise UnknownHostKey(host, port, key_type, offered)
        compute.host_key_fingerprint = offered
        label = f"{compute.name}-{compute.username}"
        if use_key:
            private, public = _generate_key(f"aml_magic-{compute.name}")
            ref = secrets.put_private_key(label, private)
            created_refs.append(ref)
            compute.key_reference = ref
            say(f"generated an SSH key for '{compute.name}'; public key:\n{public}\n"
                f"Authorize it on {host} (as {compute.username}) with:\n"
                f"mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '{public}' >> "
                "~/.ssh/authorized_keys")
        elif key_file:
            path = Path(key_file).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise AmlError(f"{path}: cannot read the key file ({exc.strerror})") from None
            ref = secrets.put_private_key(label, data)
            created_refs.append(ref)
            compute.key_reference = ref
        if key_file or compute.password:
            target = cls(compute, project_root=Path.cwd(), secrets=secrets)
            try:
                target.transport.run(["true"], timeout=cls.connect_timeout * 3)
            finally:
                target.close()
            say(f"logged in to {compute.username}@{host}:{port}")

    # -- hooks ------------------------------------------------------------------------------
    def check(self, runconfig: Any) -> None:
        if getattr(runconfig, "framework", "Python") == "PySpark":
            raise TargetError(f"run configuration '{runconfig.name}': PySpark runs on remote "
                              "targets are not supported yet; set Framework: Python")
        if not self.compute.address:
            raise ConfigError(f"{self.compute.name}.compute has no address; re-attach with "
                              "--address HOST[:PORT]", path=self._source())

    def _source(self) -> str | None:
        return str(self.compute.path) if self.compute.path else None

    def _make_transport(self) -> Any:
        """A lease on the process's pooled connection for this target's credentials: kept
        across submits, log follows and reconciles; ``close()`` hands it back to the pool."""
        from ..transports.pool import ssh_pool, ssh_timeout
        c = self.compute
        context = self._source() or f"{c.name}.compute"
        if not c.address:
            raise ConfigError(f"{context}: no address; re-attach with --address HOST[:PORT]",
                              path=self._source())
        if not c.host_key_fingerprint:
            raise HostKeyError(f"{context}: no pinned host key (hostKeyFingerprint); re-attach "
                               f"with `aml computetarget attach remote --name {c.name} ... "
                               "--trust-new-host-key` or --host-key-fingerprint SHA256:...")
        password = key_path = None
        if c.key_reference:
            key_path = str(self.secrets.key_path(c.key_reference, context=context))
        elif c.password:
            password = (self.secrets.get(c.password, context=context)
                        if self.secrets.is_reference(c.password) else c.password)
        host, port = _host_port(c)
        deadline = ssh_timeout(c.ssh_timeout, source=f"{context}: sshTimeout")
        return ssh_pool().acquire(host, port, c.username, password=password, key_path=key_path,
                                  pinned_fingerprint=c.host_key_fingerprint,
                                  connect_timeout=min(self.connect_timeout, deadline),
                                  io_timeout=deadline, label=f"target '{c.name}'")

    def _python(self) -> str:
        return self.compute.python_location or "python3"

    def _base_dir(self) -> str:
        return (self.compute.remote_base_dir or DEFAULT_BASE_DIR).rstrip("/") or "/"

    def _run_dir(self, request: LaunchRequest) -> str:
        return f"{self._base_dir()}/runs/{request.run_id}"

    def _sync_snapshot(self, request: LaunchRequest, run_dir: str) -> None:
        """Send what the store lacks and assemble ``work/`` (no launch)."""
        self._exchange(request, spec=None)

    # -- submit: sync, ship the agent and launch in one SSH command ---------------------------
    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        from ..agent import agent_files
        spec: dict[str, Any] = {
            "run_id": request.run_id, "argv": ["python", *request.command], "cwd": "work",
            "env": request.env, "heartbeat_seconds": self.heartbeat_seconds, "python": "python",
            "mask": request.secret_values}
        share = self._native_share_dir()
        if share:
            spec["native_share_dir"] = share
        agent = {rel: data.decode("utf-8") for rel, data in agent_files().items()}
        answer = self._exchange(request, spec=spec, agent=agent)
        try:
            pid = int(answer["pid"])
        except (KeyError, TypeError, ValueError):
            raise TargetError(f"target '{self.compute.name}': unexpected answer from the run "
                              f"agent: {str(answer)[:200]}") from None
        return {"run_dir": answer["run_dir"], "agent_pid": pid, "metrics_offset": 0,
                "heartbeat_seconds": self.heartbeat_seconds, "sync": answer.get("how"),
                "copied_files": answer.get("copied")}

    def _exchange(self, request: LaunchRequest, *, spec: dict[str, Any] | None,
                  agent: dict[str, str] | None = None) -> dict[str, Any]:
        from ..transports.helper_cache import helper_arguments
        from ..snapshot import gc_paused, write_objects_tar
        manifest = request.manifest
        progress = request.extra.get("on_progress") if request.extra else None
        with gc_paused():                     # 10,000s of short-lived objects
            files = [(rel, e.sha256, e.mode, e.size) for rel, e in manifest.files.items()]
            known = self._known_objects()
            sending = sorted(manifest.shas() - known) if known is not None else []
            sizes = {e.sha256: e.size for e in manifest.files.values()}
            first: dict[str, str] = {}        # the tar names each object by its first path
            for rel, entry in manifest.files.items():
                first.setdefault(entry.sha256, rel)
        argv = ["sh", "-c", _EXEC_PYTHON, "sh", self._python(), "-S", "-E",
                *helper_arguments(self._base_dir(), "session")]  # compiled once per target
        keep: list[str] = []
        for _attempt in range(3):
            header = json.dumps({
                "version": 2, "base": self._base_dir(), "run_id": request.run_id,
                "project_key": _project_key(request.project_root), "files": files,
                "sending": [[sha, first[sha]] for sha in sending], "keep": keep, "agent": agent,
                "spec": spec}).encode("utf-8")
            if progress and sending:
                size = sum(sizes[s] for s in sending)
                progress(f"sending {len(sending)} new file(s), {size / 1e6:.1f} MB, to "
                         f"'{self.compute.name}'")

            def produce(raw: BinaryIO, header: bytes = header, shas: list[str] = sending) -> None:
                # tarfile writes 10 KB at a time: batch them, one SSH packet run per MB
                out = io.BufferedWriter(raw, buffer_size=_UPLOAD_BUFFER)  # type: ignore[arg-type]
                out.write(b"%d\n" % len(header))
                out.write(header)
                if shas:
                    write_objects_tar(manifest, request.project_root, shas, out, by_path=True)
                out.flush()
                out.detach()

            result = self.transport.run(argv, stdin=produce, check=False)
            answer = self._answer(result)
            if "missing" not in answer:
                self._remember_objects(manifest.shas())
                return answer
            sending = list(answer["missing"])
            # sent before, yet missing: store them before the run can touch its copy
            keep = [sha for sha in sending if known is not None and sha in known]
        raise TargetError(f"target '{self.compute.name}': the remote object store still lacks "
                          f"{len(sending)} file(s) after uploading them; check free space under "
                          f"{self._base_dir()} on the remote")

    def _answer(self, result: Any) -> dict[str, Any]:
        err = result.stderr.decode("utf-8", "replace").strip()
        if result.exit_code == 127:
            raise TargetError(f"target '{self.compute.name}': Python '{self._python()}' was not "
                              f"found on {self.compute.address}; set pythonLocation in "
                              f"{self.compute.name}.compute ({err[-200:]})")
        if result.exit_code != 0:
            raise TargetError(f"target '{self.compute.name}': preparing the run on "
                              f"{self.compute.address} failed (exit {result.exit_code}): "
                              f"{err[-400:] or 'no message'}")
        try:
            return dict(json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1]))
        except (ValueError, IndexError, TypeError):
            raise TargetError(f"target '{self.compute.name}': unexpected answer from the remote "
                              f"helper: {result.stdout[-200:]!r} {err[-200:]}") from None

    # -- what the remote store holds (a cache: may be wrong, never trusted for correctness) --
    def _known_path(self) -> Path:
        c = self.compute
        ident = f"{c.username}@{c.address}:{c.port or 22}:{self._base_dir()}"
        digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
        return self.project_root / ".aml" / "cache" / f"remote-objects-{digest}.json"

    def _known_objects(self) -> set[str] | None:
        path = self._known_path()
        try:
            identity = _file_identity(path)
            remembered = _KNOWN_IN_MEMORY.get(path)
            if remembered is not None and remembered[0] == identity:
                return set(remembered[1])     # this process wrote or read it last: no parse
            shas = frozenset(json.loads(path.read_text(encoding="utf-8"))["shas"])
            _KNOWN_IN_MEMORY[path] = (identity, shas)
            return set(shas)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember_objects(self, shas: set[str]) -> None:
        path = self._known_path()
        remembered = _KNOWN_IN_MEMORY.get(path)
        try:
            if remembered is not None and remembered[1] == shas \
                    and remembered[0] == _file_identity(path):
                return                    # unchanged: a warm re-submit writes nothing
        except OSError:
            pass
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"shas": sorted(shas)}), encoding="utf-8")
            os.replace(tmp, path)
            _KNOWN_IN_MEMORY[path] = (_file_identity(path), frozenset(shas))
        except OSError:
            pass                      # costs one round trip next time, nothing else


# What this process last read or wrote per known-objects file, by the file's (mtime, size,
# inode): a process that lives on (a kernel) skips re-reading 10,000s of hashes per submit.
_KNOWN_IN_MEMORY: dict[Path, tuple[tuple[int, int, int], frozenset[str]]] = {}


def _file_identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino


def _host_port(compute: Any) -> tuple[str, int]:
    """``address`` may carry the port (``host:port``, as Workbench files do) or ``port`` may."""
    from ..config import split_address
    host, port = split_address(compute.address)
    return host, int(compute.port or port or 22)


def _generate_key(comment: str) -> tuple[bytes, str]:
    """A new Ed25519 key pair: (OpenSSH private key, ``ssh-ed25519 AAAA... comment``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode("ascii")
    return private, f"{public} {comment}"


def _project_key(project_root: Path) -> str:
    """Names the project's spare trees on the remote (one machine's folder of one project)."""
    ident = f"{socket.gethostname()}:{Path(project_root).resolve()}"
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


__all__ = ["RemoteTarget", "DEFAULT_BASE_DIR"]
