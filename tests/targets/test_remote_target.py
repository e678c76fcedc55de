"""The ``remote`` target against the real OpenSSH server the suite starts (tests/fixtures/sshd.py),
through the Workspace and the ``aml`` CLI."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.errors import AmlError, HostKeyError
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._wait import process_alive, wait_until
from tests._project import submit_then_sigkill
from tests.fixtures.sshd import SshServer

pytestmark = pytest.mark.sshd
REPO = Path(__file__).resolve().parents[2]


# -- helpers --------------------------------------------------------------------------------

def aml(project: Path, *args: str, stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project, input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=env)


def attach(ws: Workspace, sshd: SshServer, name: str = "vm", **options: Any) -> Any:
    options.setdefault("password", sshd.password)
    options.setdefault("trust_new_host_key", True)
    return ws.attach("remote", name, address=f"{sshd.host}:{sshd.port}",
                     username=sshd.username, **options)


def secret_files() -> list[Path]:
    root = Path(os.environ["AML_MAGIC_SECRETS_DIR"])
    return [p for p in root.rglob("*") if p.is_file()]


def as_user(sshd: SshServer, *cmd: str) -> None:
    subprocess.run(["runuser", "-u", sshd.username, "--", *cmd], check=True)


@pytest.fixture
def remote_base(sshd: SshServer) -> Iterator[Path]:
    """A base folder of this test's own on the remote (the session user serves every test)."""
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def ws(project: Path, sshd: SshServer, remote_base: Path) -> Iterator[Workspace]:
    workspace = Workspace(project)
    attach(workspace, sshd, remote_base_dir=f"~/{remote_base.name}")
    yield workspace
    workspace.close()


def script(project: Path, name: str, body: str) -> str:
    (project / name).write_text(body)
    return name


# -- attach ---------------------------------------------------------------------------------

def test_attach_by_password_stdin_through_the_cli_then_submit(project: Path,
                                                               sshd: SshServer) -> None:
    # Given the password on stdin and --trust-new-host-key
    result = aml(project, "computetarget", "attach", "remote", "-n", "vm", "-a",
                 f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
                 "--trust-new-host-key", stdin=sshd.password + "\n")
    # Then the target is written with the pinned key and a reference, not the password
    assert result.returncode == 0, result.stderr
    assert sshd.host_key_fingerprint in result.stdout
    compute = (project / "aml_config" / "vm.compute").read_text()
    assert sshd.host_key_fingerprint in compute and "aml-secret:" in compute
    assert sshd.password not in compute
    # When a script is submitted through the CLI and waited for
    script(project, "hello.py", "import sys\nprint('hello from', sys.argv[1])\nsys.exit(4)\n")
    run = aml(project, "experiment", "submit", "-c", "vm", "--wait", "hello.py", "remote")
    # Then its log streams back and the exit code is the script's
    assert "hello from remote" in run.stdout
    assert run.returncode == 4, run.stderr


def test_wrong_password_fails_attach_and_writes_nothing(project: Path, sshd: SshServer) -> None:
    result = aml(project, "computetarget", "attach", "remote", "-n", "vm", "-a",
                 f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
                 "--trust-new-host-key", stdin="not-the-password\n")
    assert result.returncode == 2
    assert "authentication failed" in result.stderr
    assert not (project / "aml_config" / "vm.compute").exists()
    assert not (project / "aml_config" / "vm.runconfig").exists()
    assert secret_files() == []


def test_attach_by_generated_key(project: Path, sshd: SshServer) -> None:
    # Given -k: a key pair is generated and the authorized_keys line printed
    ws = Workspace(project)
    messages: list[str] = []
    compute = ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}",
                        username=sshd.username, use_key=True, trust_new_host_key=True,
                        on_message=messages.append)
    text = "\n".join(messages)
    line = next(row for row in text.splitlines() if "authorized_keys" in row and "echo '" in row)
    public = line.split("echo '", 1)[1].split("'", 1)[0]
    assert public.startswith("ssh-ed25519 ") and public.endswith(" aml_magic-vm")
    assert compute.key_reference and compute.password is None
    keys = Path(sshd.home) / ".ssh" / "authorized_keys"
    try:
        # When the user authorizes it on the server (we do it as root)
        with open(keys, "a") as fh:
            fh.write("\n" + public + "\n")
        # Then runs log in with that key
        script(project, "k.py", "print('by key')\n")
        run = ws.submit("vm", "k.py")
        assert run.wait(30) == RunStatus.COMPLETED
        assert run.log_text()[0] == "by key\n"
    finally:                                       # later tests of this session use the user
        keys.write_text("".join(row for row in keys.read_text().splitlines(keepends=True)
                                if row.strip() != public))
        ws.close()


def test_unpinned_host_is_not_silently_accepted(project: Path, sshd: SshServer) -> None:
    ws = Workspace(project)
    # Without --trust-new-host-key and without a confirmation, attach refuses
    with pytest.raises(HostKeyError) as err:
        attach(ws, sshd, trust_new_host_key=False)
    assert sshd.host_key_fingerprint in str(err.value)
    assert "--host-key-fingerprint" in str(err.value) and "--trust-new-host-key" in str(err.value)
    # A declined confirmation refuses as well; nothing is written either time
    asked: list[tuple[str, str]] = []
    with pytest.raises(HostKeyError):
        attach(ws, sshd, trust_new_host_key=False,
               confirm_host_key=lambda host, fp: asked.append((host, fp)) or False)
    assert asked == [(f"{sshd.host}:{sshd.port}", sshd.host_key_fingerprint)]
    assert not (project / "aml_config" / "vm.compute").exists()
    assert secret_files() == []
    # The CLI without a terminal does not ask: it refuses
    result = aml(project, "computetarget", "attach", "remote", "-n", "vm", "-a",
                 f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
                 stdin=sshd.password + "\n")
    assert result.returncode == 2 and sshd.host_key_fingerprint in result.stderr
    assert not (project / "aml_config" / "vm.compute").exists()
    # A confirmed key and a matching given fingerprint are pinned
    compute = attach(ws, sshd, trust_new_host_key=False, confirm_host_key=lambda h, f: True)
    assert compute.host_key_fingerprint == sshd.host_key_fingerprint
    compute = attach(ws, sshd, name="vm2", trust_new_host_key=False,
                     host_key_fingerprint=sshd.host_key_fingerprint)
    assert compute.host_key_fingerprint == sshd.host_key_fingerprint


def test_given_fingerprint_that_does_not_match_is_refused(project: Path,
                                                          sshd: SshServer) -> None:
    ws = Workspace(project)
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(HostKeyError) as err:
        attach(ws, sshd, trust_new_host_key=False, host_key_fingerprint=wrong)
    assert wrong in str(err.value) and sshd.host_key_fingerprint in str(err.value)
    assert not (project / "aml_config" / "vm.compute").exists()


def test_changed_host_key_is_refused(ws: Workspace, project: Path, sshd: SshServer) -> None:
    script(project, "a.py", "print(1)\n")
    assert ws.submit("vm", "a.py").wait(30) == RunStatus.COMPLETED
    ws.close()
    new = sshd.restart_with_new_host_key()
    try:
        with pytest.raises(AmlError) as err:
            ws.submit("vm", "a.py")
        text = str(err.value)
        assert "HOST KEY CHANGED" in text and new in text and "pinned" in text
        failed = ws.runs(limit=1)[0].record
        assert failed.status == RunStatus.FAILED and new in (failed.reason or "")
    finally:
        sshd.restore_host_key()


# -- runs -----------------------------------------------------------------------------------

def test_logs_metrics_outputs_exit_code_and_no_password_anywhere(ws: Workspace, project: Path,
                                                                 sshd: SshServer) -> None:
    # Given a script that logs, reports metrics, writes outputs and ./logs/, and exits 0
    script(project, "train.py", (
        "import os\nfrom azureml.logging import get_azureml_logger\n"
        "log = get_azureml_logger()\n"
        "for i in range(3):\n    print('epoch', i)\n    log.log('loss', 1.0 / (i + 1))\n"
        "os.makedirs('outputs/model', exist_ok=True)\n"
        "open('outputs/model/w.bin', 'wb').write(b'\\x00' * 1000)\n"
        "os.makedirs('logs', exist_ok=True)\nopen('logs/extra.txt', 'w').write('side log')\n"))
    run = ws.submit("vm", "train.py")
    assert run.wait(30) == RunStatus.COMPLETED
    record = run.record
    assert record.exit_code == 0
    assert run.log_text()[0] == "epoch 0\nepoch 1\nepoch 2\n"
    assert [m.value for m in run.metrics() if m.name == "loss"] == [1.0, 0.5, 1.0 / 3]
    assert [(a.path, a.size) for a in run.outputs()] == [("model/w.bin", 1000)]
    assert (run.outputs_folder / "model" / "w.bin").read_bytes() == b"\x00" * 1000
    assert (run.folder / "logs" / "extra.txt").read_text() == "side log"
    # and a failing script's exit code is kept
    script(project, "fail.py", "import sys\nsys.exit(7)\n")
    failed = ws.submit("vm", "fail.py")
    assert failed.wait(30) == RunStatus.FAILED and failed.record.exit_code == 7
    # Then the password is in no file under the project (history.db included)
    secret = sshd.password.encode()
    leaks = [p for p in project.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaks == []


def test_arguments_and_environment_arrive_byte_for_byte(ws: Workspace, project: Path) -> None:
    nasty = ["$(touch /tmp/aml-pwned)", "`id`", "it's \"quoted\"", "line1\nline2",
             "naïve café ☃", "a b\tc", "; rm -rf ~ #", "", "--flag=$HOME"]
    rc = ws.config.runconfig("vm")
    rc.environment_variables = {"NASTY": "$(id) `id` 'q' \"d\"\nnext ☃", "PLAIN": "x"}
    ws.config.write_runconfig(rc)
    script(project, "echo.py", (
        "import json, os, sys\nos.makedirs('outputs', exist_ok=True)\n"
        "json.dump({'argv': sys.argv[1:], 'nasty': os.environ['NASTY']},"
        " open('outputs/got.json', 'w', encoding='utf-8'), ensure_ascii=False)\n"))
    run = ws.submit("vm", "echo.py", nasty)
    assert run.wait(30) == RunStatus.COMPLETED, run.record.reason
    got = json.loads((run.outputs_folder / "got.json").read_text(encoding="utf-8"))
    assert got == {"argv": nasty, "nasty": "$(id) `id` 'q' \"d\"\nnext ☃"}
    assert not Path("/tmp/aml-pwned").exists()


def test_native_shared_directory_is_created_on_the_remote(ws: Workspace, project: Path,
                                                          sshd: SshServer) -> None:
    compute = ws.config.compute("vm")
    compute.native_shared_directory = "~/.aml-test-share/"
    ws.config.write_compute(compute)
    script(project, "share.py", (
        "import os\nd = os.environ['AZUREML_NATIVE_SHARE_DIRECTORY']\nprint(d)\n"
        "open(os.path.join(d, 'seen.txt'), 'w').write('shared')\n"))
    run = ws.submit("vm", "share.py")
    assert run.wait(30) == RunStatus.COMPLETED, run.log_text()
    share = Path(sshd.home) / ".aml-test-share"
    assert run.log_text()[0] == f"{share}/\n"
    assert (share / "seen.txt").read_text() == "shared"


def background_done(remote_base: Path) -> bool:
    """The submit's detached background child is done: it fills the object store, then leaves
    a spare tree (``spares/KEY/ID``, announced by ``ID.json``) as its last step."""
    return any(p.with_suffix("").is_dir() for p in remote_base.glob("spares/*/*.json"))


def test_resubmit_sends_only_the_change_and_runs_never_share_files(
        ws: Workspace, project: Path, remote_base: Path) -> None:
    # Given a project whose script rewrites one of its own files in place
    (project / "data.txt").write_text("original")
    for i in range(20):
        (project / f"f{i}.txt").write_text(f"file {i}")
    script(project, "rewrite.py", (
        "print(open('data.txt').read())\nopen('data.txt', 'w').write('clobbered')\n"
        "open('f1.txt', 'a').write('more')\n"))
    first = ws.submit("vm", "rewrite.py")
    assert first.wait(30) == RunStatus.COMPLETED
    assert first.record.target_state.sync == "copy"
    wait_until(lambda: background_done(remote_base), 60, "the spare tree was built")
    # When one file changes and it is submitted again
    (project / "f2.txt").write_text("changed")
    second = ws.submit("vm", "rewrite.py")
    assert second.wait(30) == RunStatus.COMPLETED
    # Then the new run got a patched spare tree with the change, not the first run's edits
    assert second.record.target_state.sync == "spare"
    # (f2.txt; data.txt and f1.txt too when run 1 rewrote them before the store kept a copy)
    assert 1 <= second.record.target_state.copied_files <= 3
    assert second.log_text()[0] == "original\n"
    work = Path(second.record.target_state.folder()) / "work"
    assert (work / "f2.txt").read_text() == "changed"
    assert (work / "f1.txt").read_text() == "file 1more"   # its own edit, on its own copy
    first_work = Path(first.record.target_state.folder()) / "work"
    assert (first_work / "data.txt").stat().st_ino != (work / "data.txt").stat().st_ino
    assert (first_work / "data.txt").stat().st_nlink == 1
    # And the object store still holds the original content
    objects = remote_base / "objects"
    sha = first.workspace.store.run_dir(first.id) / "manifest.json"
    data_sha = json.loads(sha.read_text())["files"]["data.txt"]["sha256"]
    assert (objects / data_sha[:2] / data_sha).read_text() == "original"


def test_stale_client_cache_costs_a_round_trip_not_a_wrong_run(
        ws: Workspace, project: Path, sshd: SshServer, remote_base: Path) -> None:
    script(project, "s.py", "print(open('payload.txt').read())\n")
    (project / "payload.txt").write_text("payload-1")
    assert ws.submit("vm", "s.py").wait(30) == RunStatus.COMPLETED
    # Given the remote store was wiped behind the client's back
    wait_until(lambda: background_done(remote_base), 60, "the background store fill finished")
    as_user(sshd, "rm", "-rf", str(remote_base / "objects"), str(remote_base / "spares"))
    (project / "payload.txt").write_text("payload-2")
    run = ws.submit("vm", "s.py")
    assert run.wait(30) == RunStatus.COMPLETED
    assert run.log_text()[0] == "payload-2\n"


# -- disconnects, detached life, cancel -----------------------------------------------------

COUNTER = ("import time\nfor i in range(30):\n    print('line %03d' % i, flush=True)\n"
           "    time.sleep(0.1)\n")


def test_connection_cut_mid_run_resumes_without_loss_or_doubling(ws: Workspace, project: Path,
                                                                  sshd: SshServer) -> None:
    script(project, "count.py", COUNTER)
    run = ws.submit("vm", "count.py")
    wait_until(lambda: run.refresh() and run.log_text()[0].count("\n") >= 5, 60,
               "five lines of the run's log arrived")
    assert sshd.kill_connections() >= 1           # the network drops mid-run
    assert run.wait(30) == RunStatus.COMPLETED
    assert run.log_text()[0] == "".join("line %03d\n" % i for i in range(30))


def test_a_run_whose_client_died_is_complete_when_looked_at_later(project: Path,
                                                                  sshd: SshServer) -> None:
    ws = Workspace(project)
    attach(ws, sshd)
    ws.close()
    script(project, "count.py", COUNTER)
    run_id = submit_then_sigkill(project, "vm", "count.py")

    # the run finishes with nobody watching; `aml run show` later finds it Completed
    def shown_completed() -> subprocess.CompletedProcess[str] | None:
        shown = aml(project, "run", "show", run_id)
        assert shown.returncode == 0, shown.stderr
        return shown if "Completed" in shown.stdout else None
    wait_until(shown_completed, 60, f"aml run show {run_id} says Completed")
    log = (project / ".aml" / "runs" / run_id / "log.txt").read_text()
    assert log == "".join("line %03d\n" % i for i in range(30))


def test_cancel_stops_the_remote_process_group(ws: Workspace, project: Path) -> None:
    script(project, "spawn.py", (
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '120'])\n"
        "print(child.pid, flush=True)\ntime.sleep(120)\n"))
    run = ws.submit("vm", "spawn.py")
    wait_until(lambda: run.refresh() and run.log_text()[0], 60, "the child's pid was printed")
    child = int(run.log_text()[0].split()[0])
    os.kill(child, 0)                              # sshd is on this machine: same pids
    assert run.cancel() == RunStatus.CANCELED
    wait_until(lambda: not process_alive(child), 30, f"the remote child {child} exited")


# -- refusals -------------------------------------------------------------------------------

def test_outputs_that_escape_are_refused(ws: Workspace, project: Path) -> None:
    script(project, "escape.py", (
        "import os\nos.makedirs('outputs/sub', exist_ok=True)\n"
        "os.symlink('/etc/passwd', 'outputs/passwd')\nos.symlink('/etc', 'outputs/etc')\n"
        "os.symlink('../../../../', 'outputs/sub/up')\n"
        "open('outputs/sub/ok.txt', 'w').write('ok')\n"))
    run = ws.submit("vm", "escape.py")
    run.wait(30)
    record = run.record
    assert [a.path for a in run.outputs()] == ["sub/ok.txt"]
    assert "refused" in (record.reason or "")
    for name in ("passwd", "etc", "sub/up"):
        assert not os.path.lexists(run.outputs_folder / name)


@pytest.mark.timeout(60)        # a hang guard, not a timing claim
def test_unreachable_remote_fails_the_run_quickly(ws: Workspace, project: Path) -> None:
    compute = ws.config.compute("vm")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        compute.port = sock.getsockname()[1]       # nothing listens there once closed
    ws.config.write_compute(compute)
    ws.bind_login(compute)     # as re-attaching there would (an edited port alone is refused)
    script(project, "a.py", "print(1)\n")
    with pytest.raises(AmlError) as err:
        ws.submit("vm", "a.py")
    assert "cannot connect" in str(err.value)
    record = ws.runs(limit=1)[0].record
    assert record.status == RunStatus.FAILED and "cannot connect" in (record.reason or "")


def test_missing_python_is_a_clear_error(ws: Workspace, project: Path) -> None:
    compute = ws.config.compute("vm")
    compute.python_location = "/nonexistent/python3"
    ws.config.write_compute(compute)
    script(project, "a.py", "print(1)\n")
    with pytest.raises(AmlError) as err:
        ws.submit("vm", "a.py")
    assert "/nonexistent/python3" in str(err.value) and "pythonLocation" in str(err.value)


def test_the_interpreter_is_recorded_and_shown(ws: Workspace, project: Path,
                                               sshd: SshServer) -> None:
    script(project, "v.py", "import sys; print(sys.version_info[0])\n")
    run = ws.submit("vm", "v.py")
    assert run.wait(30) == RunStatus.COMPLETED
    # Then the run records the remote interpreter (as started, resolved) and its version
    python = run.record.target_state.python
    resolved = os.path.realpath(sshd.python)
    version = subprocess.run([resolved, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert python in (f"{sshd.python} -> {resolved} (Python {version})",
                      f"{resolved} (Python {version})"), python
    shown = aml(project, "run", "show", run.id)
    assert re.search(r"python:\s+" + re.escape(python), shown.stdout), shown.stdout + shown.stderr


def test_user_managed_prepare_says_the_conda_file_is_not_used(ws: Workspace) -> None:
    result = ws.prepare("vm")
    assert not result.built
    assert "conda_dependencies.yml is not used" in result.message
    assert "python3 on 127.0.0.1" in result.message


def test_managed_environment_is_built_on_the_remote_reused_and_used_by_runs(
        ws: Workspace, project: Path) -> None:
    import dataclasses
    # Given userManagedEnvironment: false and a package the remote's Python lacks
    ws.config.write_compute(dataclasses.replace(ws.config.compute("vm"),
                                                user_managed_environment=False))
    (project / "aml_config" / "conda_dependencies.yml").write_text(
        "name: e\ndependencies:\n  - python=3\n  - pip:\n    - tomli==2.0.1\n")
    # When prepared, Then it is built there (pip into a venv), its output streamed
    progress: list[str] = []
    first = ws.prepare("vm", on_progress=progress.append)
    assert first.built and "built with pip" in first.message, first.message
    assert any("tomli" in line for line in progress)
    # When prepared again, Then it is reused after one read
    again = Workspace(project)
    target = again.target_for(again.config.compute("vm"))
    reads: list[str] = []
    real_read = target.transport.read_file

    def counting(path: str, *a: Any, **kw: Any) -> bytes:
        reads.append(path)
        return real_read(path, *a, **kw)

    target.transport.read_file = counting  # type: ignore[method-assign]
    second = again.prepare("vm")
    assert not second.built and second.environment_hash == first.environment_hash
    assert len(reads) == 1 and "reused" in second.message
    again.close()
    # And a run imports the package with the environment's Python, recorded with the run
    script(project, "t.py", "import sys, tomli; print(tomli.__name__, sys.prefix)\n")
    run = ws.submit("vm", "t.py")
    assert run.wait(60) == RunStatus.COMPLETED, run.record.reason
    assert run.log_text()[0].startswith("tomli ") and "/envs/" in run.log_text()[0]
    assert f"/envs/{first.environment_hash}/bin/python" in run.record.target_state.python
