"""The remote side of a sync (agent/assemble.py), run here with this machine's Python: a cut
upload never reaches a run or the object store, a whole one assembles a working copy whose files
are its own (no hard links into the store)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.config import ComputeTarget, init_project
from aml_magic.domain.secrets import SecretStore
from aml_magic.domain.snapshot.manifest import take_snapshot
from aml_magic.targets.base import LaunchRequest
from aml_magic.targets.ssh.placement import RemotePlacement
from aml_magic.targets.ssh.remote import RemoteTarget
from aml_magic.transports.base import CommandResult
from tests._wait import wait_until


class PipeTransport:
    """Runs the helper as a local subprocess; ``keep`` cuts the upload to that many bytes."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep

    def run(self, argv: list[str], *, stdin: Any = None, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        buf = io.BytesIO()
        stdin(buf)
        data = buf.getvalue()
        if self.keep is not None and len(data) > self.keep:
            data = data[: self.keep]
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=60)
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def close(self) -> None:
        pass


@pytest.fixture
def setup(tmp_path: Path) -> tuple[RemotePlacement, LaunchRequest, Path]:
    project = tmp_path / "proj"
    init_project(project)
    for i in range(20):
        (project / "data" / f"f{i}.bin").parent.mkdir(exist_ok=True)
        (project / "data" / f"f{i}.bin").write_bytes(os.urandom(50_000))
    (project / "data" / "same.bin").write_bytes((project / "data" / "f0.bin").read_bytes())
    base = tmp_path / "remote-base"
    compute = ComputeTarget(name="vm", type="remote", address="127.0.0.1", username="u",
                            python_location=sys.executable, remote_base_dir=str(base),
                            host_key_fingerprint="SHA256:x")
    target = RemoteTarget(compute, project_root=project,
                          secrets=SecretStore(tmp_path / "s")).placement
    manifest = take_snapshot(project)
    request = LaunchRequest(run_id="r1", command=["x.py"], env={}, manifest=manifest,
                            project_root=project, run_folder=project / ".aml" / "r1",
                            runconfig=None)
    return target, request, base


def test_a_cut_upload_reaches_neither_a_run_nor_the_store(setup: Any) -> None:
    target, request, base = setup
    # Given a first sync whose stream is cut in the middle of the objects
    target._transport = PipeTransport()
    target._known_objects = lambda: set()           # the client believes the store is empty
    sizes: list[int] = []
    real_run = PipeTransport.run

    def measuring(self: PipeTransport, argv: list[str], **kw: Any) -> CommandResult:
        buf = io.BytesIO()
        kw["stdin"](buf)
        sizes.append(len(buf.getvalue()))
        self.keep = sizes[-1] // 2
        return real_run(self, argv, **kw)

    target._transport.run = measuring.__get__(target._transport)  # type: ignore[method-assign]
    # When it is sent, Then the sync fails clearly
    with pytest.raises(Exception, match="upload|cut|corrupt|exit"):
        target._exchange(request, spec=None)
    # and nothing of it is in a run or the store
    assert not (base / "runs" / "r1" / "work").exists()
    objects = base / "objects"
    stored = [p for p in objects.rglob("*") if p.is_file()] if objects.exists() else []
    assert stored == []


def test_a_whole_upload_assembles_own_files_and_fills_the_store(setup: Any) -> None:
    target, request, base = setup
    target._transport = PipeTransport()
    target._known_objects = lambda: set()
    answer = target._exchange(request, spec=None)
    work = Path(answer["run_dir"]) / "work"
    for rel, entry in request.manifest.files.items():
        path = work / rel
        assert path.stat().st_nlink == 1, rel        # never a hard link into the store
        assert path.stat().st_size == entry.size
    assert (work / "data" / "same.bin").read_bytes() == (work / "data" / "f0.bin").read_bytes()
    # the niced background child fills the store with every object, verified
    want = set(request.manifest.shas())

    def store_filled() -> bool:
        return want <= {p.name for p in (base / "objects").rglob("*") if p.is_file()}
    wait_until(store_filled, 60, "the background child stored every object")
