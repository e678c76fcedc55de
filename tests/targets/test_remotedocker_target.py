"""The ``remotedocker`` target against the suite's real sshd and real dockerd on loopback.

The SSH test user gets the engine the way a VM admin gives it: the engine's socket belongs to a
group (what ``dockerd --group GROUP`` does; here the suite's socket is re-grouped), the user is
added to that group, and the target is told the socket with ``--docker-host`` (a VM with the
default socket needs nothing: ``sudo usermod -aG docker USER`` is all).
"""
from __future__ import annotations

import grp
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.errors import AmlError, HostKeyError, TargetError
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests.fixtures.dockerd import DockerEngine
from tests.fixtures.sshd import SshServer
from tests.targets.helpers import containers_of, forget_environment, wait_until
from tests.targets.test_docker_target import CONDA  # the same environment specification

REPO = Path(__file__).resolve().parents[2]
ENGINE_GROUP = "aml-magic-docker"


@pytest.fixture(scope="module")
def engine_access(sshd: SshServer, dockerd: DockerEngine) -> str:
    """Give the SSH user the engine as an admin would: group-owned socket, user in the group."""
    sock = dockerd.host.removeprefix("unix://")
    subprocess.run(["groupadd", "-f", ENGINE_GROUP], check=True)
    os.chown(sock, 0, grp.getgrnam(ENGINE_GROUP).gr_gid)
    os.chmod(sock, 0o660)
    os.chmod(os.path.dirname(sock), 0o711)
    subprocess.run(["usermod", "-aG", ENGINE_GROUP, sshd.username], check=True)
    return dockerd.host


@pytest.fixture
def remote_base(sshd: SshServer) -> Iterator[Path]:
    base = Path(sshd.home) / f".aml-rd-{os.urandom(4).hex()}"
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


def attach(ws: Workspace, sshd: SshServer, engine: str, base: Path, name: str = "remotevm",
           **options: Any) -> Any:
    if not options.get("use_key"):
        options.setdefault("password", sshd.password)
    options.setdefault("trust_new_host_key", True)
    return ws.attach("remotedocker", name, address=f"{sshd.host}:{sshd.port}",
                     username=sshd.username, network_mode="host", docker_host=engine,
                     remote_base_dir=f"~/{base.name}", **options)


@pytest.fixture
def ws(project: Path, sshd: SshServer, engine_access: str,
       remote_base: Path) -> Iterator[Workspace]:
    (project / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
    workspace = Workspace(project)
    attach(workspace, sshd, engine_access, remote_base)
    yield workspace
    workspace.close()


def write(root: Path, name: str, body: str) -> str:
    (root / name).write_text(textwrap.dedent(body))
    return name


def logged(run: Any, text: str) -> bool:
    """Reconcile (copies the log from the VM), then look for ``text``."""
    run.refresh()
    return text in run.log_text()[0]


def test_prepare_builds_on_the_vm_then_reuses_in_one_round_trip(
        ws: Workspace, dockerd: DockerEngine) -> None:
    # Given no environment image on the VM's engine for this specification
    identity = forget_environment(ws, dockerd, "remotevm")
    # When prepared, Then it is built on the VM (through SSH), its output streamed
    progress: list[str] = []
    first = ws.prepare("remotevm", on_progress=progress.append)
    assert first.built and first.environment_hash == identity
    assert any("tomli==2.0.1" in line for line in progress), progress[-20:]
    assert f"aml-magic/env:{identity} on 127.0.0.1" in first.message
    # When prepared again by a fresh workspace, Then it is reused, asking the VM once
    again_ws = Workspace(ws.root)
    target = again_ws.target_for(again_ws.config.compute("remotevm"))
    commands: list[list[str]] = []
    real_run = target.transport.run

    def counting(argv: list[str], **kw: Any) -> Any:
        commands.append(argv)
        return real_run(argv, **kw)

    target.transport.run = counting  # type: ignore[method-assign]
    again = again_ws.prepare("remotevm")
    assert not again.built and again.environment_hash == first.environment_hash
    assert "reused" in again.message and len(commands) == 1, commands
    again_ws.close()


def test_run_in_the_environment_with_exact_args_env_exit_code_and_outputs(
        ws: Workspace, sshd: SshServer, dockerd: DockerEngine) -> None:
    # Given a script importing packages that only the environment image has
    odd = "tab\there 'quoted' \"dq\" $HOME `x` ünï"
    ws.config.write_runconfig(ws.config.runconfig("remotevm").__class__(
        **{**ws.config.runconfig("remotevm").__dict__,
           "environment_variables": {"ODD": odd, "EMPTY": ""}}))
    write(ws.root, "train.py", """
        import os, sys, six, tomli
        os.makedirs("outputs/sub", exist_ok=True)
        open("outputs/sub/r.txt", "w").write("result")
        print("six", six.__version__, "tomli", tomli.__name__)
        print("args", repr(sys.argv[1:]))
        print("env", repr(os.environ["ODD"]), repr(os.environ["EMPTY"]))
        print("uid", os.getuid())
        sys.exit(3)
    """)
    args = ["a b", "", "--flag=$x", "ü"]
    run = ws.submit("remotevm", "train.py", args)
    assert run.wait(timeout=300) is RunStatus.FAILED, run.record.reason
    text = run.log_text()[0]
    # Then the packages, arguments and environment arrived byte for byte; the exit code is 3
    assert "six 1.16.0 tomli tomli" in text, text
    assert f"args {args!r}" in text and f"env {odd!r} ''" in text
    assert run.record.exit_code == 3
    # the interpreter that ran it is recorded with the run
    assert run.record.target_state.python.startswith("/opt/aml-env/bin/python")
    assert "(Python 3." in run.record.target_state.python
    # the container ran as the SSH user (owner of the run folder), not root
    assert f"uid {os.stat(sshd.home).st_uid}" in text
    # outputs came back; the container is retired
    assert {a.path: a.size for a in run.outputs()} == {"sub/r.txt": 6}
    assert wait_until(lambda: containers_of(dockerd, run.id) == [], 10)
    # and the password is in no file of the project (history included) nor on the VM
    # (the secret store outside the project is where it belongs)
    roots = [ws.root, Path(sshd.home)]
    leaked = [p for root in roots for p in root.rglob("*")
              if p.is_file() and not p.is_symlink() and sshd.password.encode() in p.read_bytes()]
    assert leaked == []


def test_container_is_least_privilege_and_secrets_stay_off_its_configuration(
        ws: Workspace, dockerd: DockerEngine) -> None:
    rc = ws.config.runconfig("remotevm")
    ws.config.write_runconfig(rc.__class__(**{**rc.__dict__,
                                              "environment_variables": {"TOKEN": "zz-s3cret"}}))
    write(ws.root, "sleep.py", "import time; print('up', flush=True); time.sleep(60)\n")
    run = ws.submit("remotevm", "sleep.py")
    assert wait_until(lambda: logged(run, "up\n"), 120), run.record.reason
    [container] = containers_of(dockerd, run.id)
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["NetworkMode"] == "host" and "zz-s3cret" not in repr(container.attrs)
    assert sorted(m["Destination"] for m in container.attrs["Mounts"]) == ["/aml/agent",
                                                                            "/aml/run"]
    # When canceled, Then the run is Canceled and the container stops
    assert run.cancel() is RunStatus.CANCELED
    assert wait_until(lambda: all(c.status != "running" for c in containers_of(dockerd, run.id)),
                      10)


def test_ssh_cut_mid_run_loses_and_doubles_no_log_line(ws: Workspace, sshd: SshServer) -> None:
    write(ws.root, "count.py", """
        import time
        for i in range(40):
            print("line", i, flush=True)
            time.sleep(0.05)
    """)
    run = ws.submit("remotevm", "count.py")
    assert wait_until(lambda: logged(run, "line 5\n"), 120), run.record.reason
    # When every SSH connection is cut while it runs
    assert sshd.kill_connections() >= 1
    # Then it completes and the log holds every line exactly once
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
    lines = [ln for ln in run.log_text()[0].splitlines() if ln.startswith("line ")]
    assert lines == [f"line {i}" for i in range(40)]


def test_submitter_killed_then_the_run_is_complete_at_the_next_look(ws: Workspace) -> None:
    write(ws.root, "slow.py", """
        import os, time
        time.sleep(1.5)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/done.txt", "w").write("done")
    """)
    code = ("import sys; from aml_magic import Workspace; "
            "run = Workspace(sys.argv[1]).submit('remotevm', 'slow.py'); "
            "print(run.id, flush=True); import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(ws.root)], capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = Workspace(ws.root).run(proc.stdout.split()[0])
    assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
    assert [a.path for a in run.outputs()] == ["done.txt"]


def test_changed_host_key_is_refused(ws: Workspace, sshd: SshServer) -> None:
    write(ws.root, "hello.py", "print('hello')\n")
    sshd.restart_with_new_host_key()
    try:
        fresh = Workspace(ws.root)
        with pytest.raises(AmlError) as err:
            fresh.submit("remotevm", "hello.py")
        assert "host key" in str(err.value).lower()
        with pytest.raises(HostKeyError):
            fresh.prepare("remotevm")
        fresh.close()
    finally:
        sshd.restore_host_key()


def test_attach_with_a_generated_key_then_run(project: Path, sshd: SshServer,
                                              engine_access: str, remote_base: Path) -> None:
    ws = Workspace(project)
    said: list[str] = []
    attach(ws, sshd, engine_access, remote_base, use_key=True, on_message=said.append)
    public = next(line for text in said for line in text.splitlines()
                  if line.startswith("ssh-ed25519 "))
    keys = Path(sshd.home) / ".ssh" / "authorized_keys"
    original = keys.read_text()
    keys.write_text(original.rstrip("\n") + "\n" + public + "\n")
    try:
        write(project, "hello.py", "print('hello from a container')\n")
        run = ws.submit("remotevm", "hello.py")
        assert run.wait(timeout=300) is RunStatus.COMPLETED, run.record.reason
        assert "hello from a container" in run.log_text()[0]
    finally:
        keys.write_text(original)
        ws.close()


def test_user_without_engine_access_is_told_to_join_the_docker_group(
        project: Path, sshd: SshServer, engine_access: str, remote_base: Path) -> None:
    # Given an engine socket the user may not open (root's own folder)
    with pytest.raises(TargetError, match="add the user to the docker group") as err:
        attach(Workspace(project), sshd, "unix:///root/aml-no-access.sock", remote_base)
    assert "remotevm" in str(err.value) and "\n" not in str(err.value)
    assert not (project / "aml_config" / "remotevm.compute").exists()


def test_missing_base_image_names_the_image_and_the_compute_file(ws: Workspace) -> None:
    import dataclasses
    compute = ws.config.compute("remotevm")
    ws.config.write_compute(dataclasses.replace(compute,
                                                base_docker_image="localhost:1/aml/none:1"))
    with pytest.raises(TargetError, match="localhost:1/aml/none:1") as err:
        ws.prepare("remotevm")
    assert "remotevm.compute" in str(err.value)


def test_demo_notebook_runs_against_the_suites_vm(
        tmp_path: Path, sshd: SshServer, engine_access: str, remote_base: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """demo_notebooks/03_remote_docker.ipynb top to bottom on a real kernel, its parameters
    pointed at the suite's sshd and dockerd."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(str(REPO / "demo_notebooks" / "03_remote_docker.ipynb"), as_version=4)
    [params] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = (f'VM = "{sshd.host}:{sshd.port}"\nVM_USER = "{sshd.username}"\n'
                     f'LOGIN = "--key-file {sshd.client_key_path} --trust-new-host-key"\n'
                     'NETWORK = "host"\n'
                     f'MORE = "--docker-host {engine_access} --remote-base-dir '
                     f'~/{remote_base.name}"')
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = {i: "".join(o.get("text", "") for o in c.get("outputs", []))
            for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    attach = next(t for i, t in text.items() if nb.cells[i].source.startswith("%aml_attach"))
    assert "Attached 'remotevm' (remotedocker)" in attach
    prepares = [t for i, t in text.items() if nb.cells[i].source.startswith("%aml_prepare")]
    assert "reused" in prepares[1], prepares
    waited = next(t for i, t in text.items() if nb.cells[i].source.startswith("print(run.wait"))
    assert waited.strip() == "Completed", text
    ws = Workspace(tmp_path / "remote_docker_project")
    [run] = ws.runs()
    assert {a.path for a in run.outputs()} == {"model.txt"}
    assert [m.value for m in run.metrics()][:1] == [1.0]


def test_a_submit_that_builds_keeps_the_build_log_with_the_run(
        ws: Workspace, dockerd: DockerEngine) -> None:
    (ws.root / "aml_config" / "conda_dependencies.yml").write_text(
        CONDA.replace("tomli==2.0.1", "tomli==2.0.0"))
    identity = forget_environment(ws, dockerd, "remotevm")
    write(ws.root, "v.py", "import tomli; print(tomli.__name__)\n")
    run = ws.submit("remotevm", "v.py")          # PrepareEnvironment: true builds it
    assert run.wait(timeout=300) is RunStatus.COMPLETED, run.record.reason
    build_log = (run.folder / "build.log").read_text()
    assert "aml: installer" in build_log and "tomli==2.0.0" in build_log
    shown = subprocess.run([sys.executable, "-m", "aml_magic", "run", "logs", run.id],
                           cwd=ws.root, capture_output=True, text=True, timeout=60, check=False,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert shown.stdout.startswith("--- environment build (build.log) ---\n"), shown.stderr
    assert shown.stdout.endswith("--- run log ---\ntomli\n")
    assert run.record.environment_hash == identity


def test_native_shared_directory_lives_on_the_vm_across_runs(
        ws: Workspace, sshd: SshServer) -> None:
    import dataclasses
    share = f".aml-share-{os.urandom(3).hex()}"
    ws.config.write_compute(dataclasses.replace(ws.config.compute("remotevm"),
                                                shared_volumes=True,
                                                native_shared_directory=f"~/{share}"))
    write(ws.root, "s.py", """
        import os
        d = os.environ["AZUREML_NATIVE_SHARE_DIRECTORY"]
        path = os.path.join(d, "count.txt")
        n = int(open(path).read()) + 1 if os.path.exists(path) else 1
        open(path, "w").write(str(n))
        print("count", n)
    """)
    try:
        for expected in (1, 2):
            run = ws.submit("remotevm", "s.py")
            assert run.wait(timeout=120) is RunStatus.COMPLETED, run.record.reason
            assert f"count {expected}" in run.log_text()[0]
        assert (Path(sshd.home) / share / "count.txt").read_text() == "2"
    finally:
        subprocess.run(["rm", "-rf", str(Path(sshd.home) / share)], check=False)


def test_attach_through_the_cli_with_the_password_on_stdin(
        project: Path, sshd: SshServer, engine_access: str, remote_base: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aml_magic", "computetarget", "attach", "remotedocker", "-n",
         "remotevm", "-a", f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
         "--trust-new-host-key", "--network", "host", "--docker-host", engine_access,
         "--remote-base-dir", f"~/{remote_base.name}"],
        input=sshd.password + "\n", cwd=project, capture_output=True, text=True, timeout=60,
        check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    text = (project / "aml_config" / "remotevm.compute").read_text()
    config = Workspace(project).config
    compute = config.compute("remotevm")
    assert (compute.type, compute.network_mode, compute.docker_host) == \
        ("remotedocker", "host", engine_access)
    assert compute.host_key_fingerprint == sshd.host_key_fingerprint
    assert sshd.password not in text and config.runconfig("remotevm").prepare_environment
