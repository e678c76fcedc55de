"""Which container options weaken isolation, and how only the user allows them
(``domain/isolation.py``; the real-engine scenario is tests/test_hostile_isolation.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from aml_magic.domain.config import ComputeTarget
from aml_magic.domain.isolation import host_folder, permit, reductions
from aml_magic.domain.user_dirs import project_cache
from aml_magic.errors import AmlError, ConfigError
from aml_magic.frontends.arguments import split_submit_args, submit_parser

HOME = os.path.realpath(os.path.expanduser("~"))


def docker(**values: object) -> ComputeTarget:
    return ComputeTarget(name="box", type="docker", **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "user" / "config.yml"
    path.parent.mkdir()
    monkeypatch.setenv("AML_MAGIC_CONFIG", str(path))
    return path


@pytest.mark.parametrize("value, weakens", [
    ("ALL", True), ("sys_admin, net_admin", True), ("", False)])
def test_capabilities(value: str, weakens: bool, tmp_path: Path) -> None:
    found = reductions(docker(capabilities=value), project_root=tmp_path)
    assert bool(found) is weakens
    if weakens:
        assert found[0].allow == "capabilities" and found[0].key == "capabilities"


@pytest.mark.parametrize("user, weakens", [
    ("0", True), ("0:0", True), ("root", True), ("root:staff", True), ("1000:0", False),
    ("1000:1000", False), ("aml", False)])
def test_root_user(user: str, weakens: bool, tmp_path: Path) -> None:
    assert bool(reductions(docker(container_user=user), project_root=tmp_path)) is weakens


@pytest.mark.parametrize("mode, weakens", [
    ("host", True), ("HOST", True), ("container:db", True), ("bridge", False),
    ("none", False), ("my-net", False)])
def test_network(mode: str, weakens: bool, tmp_path: Path) -> None:
    assert bool(reductions(docker(network_mode=mode), project_root=tmp_path)) is weakens


@pytest.mark.parametrize("path, weakens", [
    ("/", True), ("~", True), (HOME, True), (os.path.dirname(HOME), True), ("~/.ssh", True),
    ("~/.aml_magic/secrets", True), ("/etc", True), ("/etc/cron.d", True), ("/var", True),
    ("/run/user/1000", True), ("/home", True), ("/home/someone", True),
    ("~/.azureml/share/", False), ("/tmp/aml-share", False), ("share", False),
    ("/data/shared", False)])
def test_local_shared_folders(path: str, weakens: bool, tmp_path: Path) -> None:
    # (relative: to the project, a folder under tmp_path)
    assert bool(host_folder(path, local=True, project_root=tmp_path / "proj")) is weakens, path


def test_a_link_to_the_root_is_the_root(tmp_path: Path) -> None:
    (tmp_path / "innocent").symlink_to("/")
    assert host_folder(str(tmp_path / "innocent"), local=True) == "the host's root folder"


@pytest.mark.parametrize("path, home, weakens", [
    ("~", None, True), ("", None, True), (".", None, True), ("~/.ssh", None, True),
    ("/home/alice", None, True), ("/home/alice/.ssh", None, True), ("/", None, True),
    ("~/.azureml/share", None, False), ("data", None, False), ("/srv/share", None, False),
    ("/opt/alice", "/opt/alice", True), ("/opt/alice/.kube", "/opt/alice", True),
    ("/opt/alice/share", "/opt/alice", False)])
def test_remote_shared_folders(path: str, home: str | None, weakens: bool) -> None:
    assert bool(host_folder(path, local=False, home=home)) is weakens, path


def test_the_project_itself_with_shared_volumes(tmp_path: Path) -> None:
    # Given the project mounted read-write (sharedVolumes): fine in a project folder, not when
    # the project is the home folder or holds it
    assert reductions(docker(shared_volumes=True), project_root=tmp_path) == []
    found = reductions(docker(shared_volumes=True), project_root=Path(HOME))
    assert [r.key for r in found] == ["sharedVolumes"]


def test_gpus_and_other_launches_keep_isolation(tmp_path: Path) -> None:
    # nvidiaDocker gives the GPUs' device nodes only; a process target has no container
    assert reductions(docker(nvidia_docker=True), project_root=tmp_path) == []
    local = ComputeTarget(name="here", type="local", native_shared_directory="/")
    assert reductions(local, project_root=tmp_path) == []


def test_refused_without_the_users_word(settings: Path, tmp_path: Path) -> None:
    compute = docker(capabilities="ALL", network_mode="host", path=tmp_path / "box.compute")
    with pytest.raises(AmlError) as caught:
        permit(compute, project_root=tmp_path)
    text = str(caught.value)
    assert "\n" not in text
    for word in ("box.compute", "capabilities: ALL", "networkMode: host", str(settings),
                 "allow_unsafe_container", "--allow-unsafe-container", "network_host"):
        assert word in text, word
    # and a prepare minds only what a build uses
    assert permit(docker(capabilities="ALL"), project_root=tmp_path,
                  only=frozenset({"network_host"})) is None
    # while the flag allows it for this run, and says so
    allowed = permit(compute, project_root=tmp_path, allow_unsafe=True)
    assert allowed is not None and allowed["allowed_by"] == "--allow-unsafe-container"


def test_allowed_per_project_in_the_users_settings(settings: Path, tmp_path: Path) -> None:
    compute = docker(capabilities="ALL", network_mode="host")
    mine, other = tmp_path / "mine", tmp_path / "other"
    settings.write_text(f"allow_unsafe_container:\n  - project: {mine}\n"
                        "    options: [capabilities]\n"
                        f"  - project: '{tmp_path}/*'\n    options: [network_host]\n"
                        f"  - project: {other}\n    options: all\n")
    for folder in (mine, other):
        folder.mkdir()
    allowed = permit(compute, project_root=mine)
    assert allowed is not None and allowed["allowed_by"] == str(settings)
    assert permit(compute, project_root=other) is not None
    with pytest.raises(AmlError, match="capabilities: ALL"):
        permit(compute, project_root=tmp_path / "third")


@pytest.mark.parametrize("text, words", [
    ("allow_unsafe_container: yes\n", "must be a list"),
    ("allow_unsafe_container:\n  - options: [capabilities]\n", "needs 'project: PATH'"),
    ("allow_unsafe_container:\n  - project: /x\n    options: [everything]\n",
     "unknown option(s) everything"),
    ("- a list\n", "must be a mapping"),
    ("allow_unsafe_container: [\n", "cannot read the settings file")])
def test_bad_settings_are_one_line(settings: Path, tmp_path: Path, text: str,
                                   words: str) -> None:
    settings.write_text(text)
    with pytest.raises(ConfigError) as caught:
        permit(docker(capabilities="ALL"), project_root=tmp_path)
    assert words in str(caught.value) and str(settings) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_settings_others_can_write_are_refused(settings: Path, tmp_path: Path) -> None:
    settings.write_text(f"allow_unsafe_container:\n  - project: {tmp_path}\n    options: all\n")
    settings.chmod(0o666)
    with pytest.raises(ConfigError, match="writable only by you"):
        permit(docker(capabilities="ALL"), project_root=tmp_path)


def test_the_flag_in_a_cell_magic() -> None:
    args = split_submit_args(submit_parser("%%aml_submit", cell=True).parse_args(
        ["-c", "docker", "0.5", "--allow-unsafe-container"]))
    assert args.allow_unsafe_container is True and args.args == ["0.5"]


def test_a_cache_folder_others_can_write_is_not_used(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AML_MAGIC_CACHE_DIR", str(tmp_path / "cache"))
    folder = project_cache(tmp_path / "proj", create=True)
    assert folder is not None and (folder.stat().st_mode & 0o777) == 0o700
    folder.chmod(0o777)
    assert project_cache(tmp_path / "proj") is None
    assert project_cache(tmp_path / "proj", create=True) is None


def test_submit_sweep_and_prepare_refuse_before_anything_is_recorded(
        project: Path, settings: Path) -> None:
    # Given a project whose docker target asks for root and the host's network
    from aml_magic.service.sweep import submit_sweep
    from aml_magic.service.workspace import Workspace
    compute = project / "aml_config" / "docker.compute"
    compute.write_text(compute.read_text() + "containerUser: root\nnetworkMode: host\n")
    (project / "train.py").write_text("print('hi')\n")
    ws = Workspace(project)
    try:
        # When it is submitted, swept or prepared, Then each is refused with the one line
        for attempt in (lambda: ws.submit("docker", "train.py"),
                        lambda: submit_sweep(ws, "docker", "train.py", [], ["lr=1,2"]),
                        lambda: ws.prepare("docker")):
            with pytest.raises(AmlError, match="networkMode: host") as caught:
                attempt()
            assert "\n" not in str(caught.value)
        # (a build minds only the network; a run also the user)
        assert "containerUser" in str(pytest.raises(AmlError, ws.submit, "docker",
                                                    "train.py").value)
        # And nothing was recorded
        assert ws.runs() == []
    finally:
        ws.close()
