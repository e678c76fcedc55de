"""Hostile runs on every target: what a run writes in its run folder is untrusted input.

Each target gets three hostile runs and one well-behaved one, against the real machine, the real
Docker engine (tests/fixtures/dockerd) and the real OpenSSH server (tests/fixtures/sshd):

- ``forge``: plants symlinks to a folder outside where the host copies outputs and writes its
  lock, stamp, cancel marker and agent log; appends garbage, a non-numeric step, HTML and a
  10 GB sparse tail to ``metrics.jsonl``; then rewrites ``status.json`` as "Running" with the
  pid/group id of a victim process the test owns, and kills its own agent;
- ``html``: makes ``outputs`` a symlink to the outside folder, rewrites ``status.json`` as
  "Completed" with an HTML exit code and the victim's group id, and kills its agent;
- ``zero``: points ``metrics.jsonl`` and ``log.txt`` at ``/dev/zero`` and writes outputs with
  HTML and non-UTF-8 names (kept with ``\\xNN`` escapes; over SSH paramiko cannot list such a
  name, so the outputs are not collected and the reason says why).

Then: nothing outside the run folders changed, the victim is alive, the reconciling process's
peak memory grew by less than 64 MB, ``aml run list``/``show`` work for every run without a
traceback, and the widget's HTML shows the run-written text escaped.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._render import summary_html
from aml_magic.frontends.notebook.widgets._watcher import RunWatcher
from aml_magic.frontends.notebook.widgets.runs_table import RunsTable
from tests._wait import wait_until
from tests.targets.test_remotedocker_target import engine_access  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parents[1]
MEMORY_BOUND = 64 << 20

HOSTILE = r'''
import json, os, signal, sys, time
mode, victim, outside = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = os.path.dirname(os.getcwd())


def plant(path, target):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        os.rmdir(path)
    os.symlink(target, path)


def forge_status(**fields):
    status = {"state": "Running", "pid": victim, "child_pid": victim, "child_pgid": victim,
              "started": 1.0, "heartbeat": 1.0, "heartbeat_seconds": 1.0, "ended": None,
              "exit_code": None, "reason": None}
    status.update(fields)
    with open(os.path.join(run, "status.json.x"), "w") as fh:
        json.dump(status, fh)
    os.replace(os.path.join(run, "status.json.x"), os.path.join(run, "status.json"))


def kill_agent_and_linger(**fields):
    with open(os.path.join(run, "hostile.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    forge_status(**fields)
    os.kill(os.getppid(), signal.SIGKILL)   # (in a container this ends the container too)
    forge_status(**fields)               # in case the agent beat its heart in between
    time.sleep(120)                      # the host must stop us by the session it recorded


if mode == "forge":
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.bin", "wb") as fh:
        fh.write(b"weights")
    plant("outputs/escape", outside)
    plant(os.path.join(run, "outputs"), outside)
    for name in (".lock", ".logs-synced", "cancel", "agent.log"):
        plant(os.path.join(run, name), os.path.join(outside, "planted" + name))
    with open(os.path.join(run, "metrics.jsonl"), "a") as fh:
        fh.write("garbage, not JSON\n")
        fh.write('{"name": "loss", "value": 1, "step": "one"}\n')
        fh.write('{"name": "<b>bold</b>", "value": "<script>alert(1)</script>"}\n')
        fh.write('{"name": "ok", "value": 2.5}\n')
        fh.write('{"name": "nan", "value": NaN}\n')
        fh.flush()
        fh.truncate(fh.tell() + (10 << 30))   # a 10 GB tail of zeros, no newline (sparse)
    print("planted", flush=True)
    time.sleep(2.5)                      # let the host reconcile with everything planted
    kill_agent_and_linger()
elif mode == "html":
    plant("outputs", outside)
    print("<img src=x onerror=alert('log')>", flush=True)
    kill_agent_and_linger(state="Completed", exit_code="<img src=x onerror=alert(1)>",
                          ended=time.time(), heartbeat=time.time())
elif mode == "zero":
    for name in ("metrics.jsonl", "log.txt"):
        plant(os.path.join(run, name), "/dev/zero")
    with open("outputs/<i>x.txt", "w") as fh:
        fh.write("html name")
    if sys.argv[4] == "1":
        with open(b"outputs/\xff\xfe.bin", "wb") as fh:
            fh.write(b"bytes name")
'''


# -- the scenario, shared by every target ------------------------------------------------------

class Outside:
    """A folder outside every run folder, and a fingerprint of everything in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o777, exist_ok=True)
        os.chmod(root, 0o777)            # the SSH user could write here if the host let it
        (root / "sentinel.txt").write_text("unchanged")

    def fingerprint(self) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for path in sorted(self.root.rglob("*")):
            st = path.lstat()
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
            seen[str(path.relative_to(self.root))] = (st.st_mode, st.st_size, st.st_mtime_ns,
                                                      data)
        return seen


def peak_rss_reset() -> int:
    """Reset this process's peak RSS (VmHWM) and return the current RSS, in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def peak_rss() -> int:
    return _status_kb("VmHWM") * 1024


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/self/status")


def aml(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project,
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def widget_html(run: Any) -> str:
    return summary_html(RunWatcher(run, on_update=lambda _snap: None).poll_once())


def run_hostile_scenario(ws: Workspace, target: str, outside: Outside,
                         start_victim: Callable[[], subprocess.Popen[bytes]], *,
                         bytes_names: str = "escaped", in_container: bool = False) -> None:
    (ws.root / "hostile.py").write_text(HOSTILE)
    (ws.root / "good.py").write_text(textwrap.dedent("""
        from azureml.logging import get_azureml_logger
        get_azureml_logger().log("fine", 1)
        print("good run")
    """))
    victim = start_victim()
    before = outside.fingerprint()
    try:
        good = ws.submit(target, "good.py")
        runs = {mode: ws.submit(target, "hostile.py", [mode, str(victim.pid), str(outside.root),
                                                       "1"])
                for mode in ("forge", "html", "zero")}
        baseline = peak_rss_reset()
        statuses = {mode: run.wait(timeout=90) for mode, run in runs.items()}
        grown = peak_rss() - baseline
        print(f"{target}: peak RSS grew by {grown / 1e6:.1f} MB while reconciling")
        assert good.wait(timeout=60) is RunStatus.COMPLETED

        # Nothing outside changed and the victim was never signalled
        assert outside.fingerprint() == before
        assert victim.poll() is None, "a process named in a forged status.json was signalled"
        # Memory stayed bounded while reconciling a 10 GB metrics file and /dev/zero
        assert grown < MEMORY_BOUND, f"peak RSS grew by {grown / 1e6:.1f} MB"

        forge, html, zero = runs["forge"], runs["html"], runs["zero"]
        if not in_container:     # (a container's pids are its own; the container is gone)
            for run in (forge, html):   # the script outlived its agent: the host stopped it
                pid = int((Path(run.record.target_state.folder()) / "hostile.pid").read_text())
                assert wait_until(lambda pid=pid: not running_script(pid), 10), pid
        assert statuses["forge"] is RunStatus.FAILED, forge.record.reason
        assert "without recording an end state" in (forge.record.reason or "")
        assert {m.name: m.value for m in forge.metrics()} == {
            "<b>bold</b>": "<script>alert(1)</script>", "ok": 2.5, "nan": "nan"}
        assert [a.path for a in forge.outputs()] == [] or \
            [a.path for a in forge.outputs()] == ["model.bin"]
        assert statuses["html"] is RunStatus.FAILED
        assert "status.json is malformed" in (html.record.reason or "")
        assert html.record.exit_code is None
        assert statuses["zero"] is RunStatus.COMPLETED, zero.record.reason
        assert "metrics not read" in (zero.record.reason or "")
        names = sorted(a.path for a in zero.outputs())
        if bytes_names == "escaped":
            assert "<i>x.txt" in names and "\\xff\\xfe.bin" in names
        else:   # paramiko cannot list a non-UTF-8 name: the run still ends, saying why
            assert names == [] and "outputs/ (" in (zero.record.reason or "")

        # Other runs list fine; show works for every run; no traceback anywhere
        listed = aml(ws.root, "run", "list")
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert good.id in listed.stdout and all(r.id in listed.stdout for r in runs.values())
        for run in (good, *runs.values()):
            shown = aml(ws.root, "run", "show", run.id)
            assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr

        # The widget shows run-written text escaped
        table = RunsTable([good, *runs.values()]).html()
        page = widget_html(html) + widget_html(forge) + widget_html(zero) + table
        assert "<img" not in page and "<script" not in page and "<b>bold" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "&lt;b&gt;bold&lt;/b&gt;" in page
        assert "&lt;i&gt;x.txt" in page or bytes_names == "refused"
    finally:
        victim.kill()
        victim.wait()


def running_script(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"hostile.py" in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z"


def own_victim() -> subprocess.Popen[bytes]:
    """A process of the test's own, leader of its own group and session."""
    return subprocess.Popen(["sleep", "600"], start_new_session=True)


# -- local ------------------------------------------------------------------------------------

def test_hostile_runs_on_the_local_target(project: Path, tmp_path: Path) -> None:
    ws = Workspace(project)
    try:
        run_hostile_scenario(ws, "local", Outside(tmp_path / "outside"), own_victim)
    finally:
        ws.close()


# -- docker -----------------------------------------------------------------------------------

@pytest.fixture
def docker_ws(project: Path, dockerd: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    from tests.targets.test_docker_target import CONDA, set_compute
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    (project / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
    ws = Workspace(project)
    set_compute(ws, network_mode="host")          # the suite's engine has no bridge
    yield ws
    ws.close()


def test_hostile_runs_on_the_docker_target(docker_ws: Workspace, tmp_path: Path) -> None:
    # The run is root in its container; its symlinks name host paths.
    docker_ws.prepare("docker")
    run_hostile_scenario(docker_ws, "docker", Outside(tmp_path / "outside"), own_victim,
                         in_container=True)


# -- remote -----------------------------------------------------------------------------------

@pytest.fixture
def remote_ws(project: Path, sshd: Any) -> Iterator[Workspace]:
    base = Path(sshd.home) / f".aml-hostile-{os.urandom(4).hex()}"
    ws = Workspace(project)
    ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
              password=sshd.password, trust_new_host_key=True, remote_base_dir=f"~/{base.name}")
    yield ws
    ws.close()
    subprocess.run(["rm", "-rf", str(base)], check=False)


def ssh_users_victim(sshd: Any) -> Callable[[], subprocess.Popen[bytes]]:
    """A starter of the SSH user's own process: the run could signal it, the host must not."""
    import pwd
    user = pwd.getpwnam(sshd.username)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                                 "--clear-groups", "sleep", "600"], start_new_session=True)
    return start


@pytest.mark.sshd
def test_hostile_runs_on_the_remote_target(remote_ws: Workspace, sshd: Any,
                                           tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    os.chmod(tmp_path, 0o755)
    run_hostile_scenario(remote_ws, "vm", outside, ssh_users_victim(sshd),
                         bytes_names="refused")
    # The base folder is the SSH user's alone
    base = Path(sshd.home) / remote_ws.config.compute("vm").remote_base_dir.removeprefix("~/")
    assert base.stat().st_mode & 0o777 == 0o700
    written = [p for name in ("log.txt", "status.json", "outputs.json")
               for p in base.rglob(name) if not p.is_symlink()]
    assert len(written) >= 6
    for path in written:
        assert path.lstat().st_mode & 0o077 == 0, path


@pytest.fixture
def remotedocker_ws(project: Path, sshd: Any,
                    engine_access: str) -> Iterator[Workspace]:  # noqa: F811 (the fixture)
    from tests.targets.test_docker_target import CONDA
    from tests.targets.test_remotedocker_target import attach
    base = Path(sshd.home) / f".aml-hostile-rd-{os.urandom(4).hex()}"
    (project / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
    ws = Workspace(project)
    attach(ws, sshd, engine_access, base, name="rdvm")
    yield ws
    ws.close()
    subprocess.run(["rm", "-rf", str(base)], check=False)


def test_hostile_runs_on_the_remotedocker_target(remotedocker_ws: Workspace, sshd: Any,
                                                 tmp_path: Path) -> None:
    # The run is root in a container on the VM; the host side reads its folder over SSH.
    outside = Outside(tmp_path / "outside")
    os.chmod(tmp_path, 0o755)
    remotedocker_ws.prepare("rdvm")
    run_hostile_scenario(remotedocker_ws, "rdvm", outside, ssh_users_victim(sshd),
                         bytes_names="refused", in_container=True)
