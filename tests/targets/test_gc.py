"""``aml computetarget gc`` against the real OpenSSH server (tests/fixtures/sshd.py) and the real
Docker engine (tests/fixtures/dockerd.py): it lists exactly what no kept run uses, with the
sizes ``du -b`` gives on the remote side, and ``--yes`` removes exactly that."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.snapshot.manifest import Manifest
from aml_magic.targets.ssh.placement import _project_key
from aml_magic.service.workspace import Workspace
from tests._contract import assert_shape
from tests._wait import wait_until
from tests.fixtures.sshd import SshServer
from tests.targets.test_remotedocker_target import engine_access as engine_access  # fixture

pytestmark = pytest.mark.sshd
REPO = Path(__file__).resolve().parents[2]
DAY = 86400.0
WAIT_FOR_STOP = ("import os, time\n"
                 "while not os.path.exists('stop'):\n"
                 "    time.sleep(0.05)\n"
                 "print('stopped')\n")
SHOW = "print(open('data.txt').read())\n"


def aml(project: Path, *args: str,
        env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def remote_base(sshd: SshServer) -> Iterator[Path]:
    base = Path(sshd.home) / f".aml-gc-{os.urandom(4).hex()}"
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def ws(project: Path, sshd: SshServer, remote_base: Path) -> Iterator[Workspace]:
    workspace = Workspace(project)
    workspace.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}",
                     username=sshd.username, password=sshd.password, trust_new_host_key=True,
                     remote_base_dir=f"~/{remote_base.name}")
    yield workspace
    workspace.close()


def du_b(*paths: Path) -> int:
    """``du -b`` of the paths together (the remote is this machine: run as root)."""
    out = subprocess.run(["du", "-bc", *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip().splitlines()[-1].split()[0])


def spares_of(base: Path, key: str) -> dict[str, set[str]]:
    """name -> the objects its listing names, for every ready spare tree of the project."""
    folder = base / "spares" / key
    found: dict[str, set[str]] = {}
    for listing in folder.glob("*.json") if folder.is_dir() else ():
        if (folder / listing.stem).is_dir():
            found[listing.stem] = {sha for sha, _ in json.loads(listing.read_text()).values()}
    return found


def submitted(ws: Workspace, script: str, base: Path) -> Any:
    """Submit, then wait until the background child left the spare tree of exactly this
    snapshot (so the next submit takes it over and the store holds every object)."""
    run = ws.submit("vm", script)
    shas = Manifest.from_json((ws.store.run_dir(run.id) / "manifest.json").read_text()).shas()
    key = _project_key(ws.root)
    wait_until(lambda: list(spares_of(base, key).values()) == [shas]
               and all((base / "objects" / s[:2] / s).is_file() for s in shas),
               timeout=60, message=f"spare tree and store of {run.id}")
    return run


def make_old(project: Path, run_id: str, days: float) -> None:
    with sqlite3.connect(project / ".aml" / "history.db") as conn:
        conn.execute("UPDATE runs SET created_at = ? WHERE run_id = ?",
                     (time.time() - days * DAY, run_id))


def store_listing(base: Path) -> set[str]:
    """Every object, spare and run folder under the base (relative names)."""
    names = {f"objects/{p.parent.name}/{p.name}" for p in (base / "objects").glob("??/*")}
    names |= {f"spares/{p.parent.name}/{p.name}" for p in (base / "spares").glob("*/*")}
    names |= {f"runs/{p.name}" for p in (base / "runs").iterdir()}
    return names


def test_gc_lists_and_removes_exactly_what_no_kept_run_uses(ws: Workspace, sshd: SshServer,
                                                           remote_base: Path) -> None:
    root, base, key = ws.root, remote_base, _project_key(ws.root)
    # Given a recent ended run (v2), an old run still running (v3), and an old ended run (v1)
    # submitted last, so the project's spare tree is v1's
    (root / "show.py").write_text(SHOW)
    (root / "wait.py").write_text(WAIT_FOR_STOP)
    (root / "data.txt").write_text("version two\n")
    recent = submitted(ws, "show.py", base)
    assert recent.wait(60) == RunStatus.COMPLETED
    (root / "data.txt").write_text("version three\n")
    active = submitted(ws, "wait.py", base)
    wait_until(lambda: active.refresh().status == RunStatus.RUNNING, timeout=60)
    v1 = "version one, used only by an old run\n"
    (root / "data.txt").write_text(v1)
    old = submitted(ws, "show.py", base)
    assert old.wait(60) == RunStatus.COMPLETED
    make_old(root, old.id, days=10)
    make_old(root, active.id, days=10)          # old, yet not ended: never collected
    stale_sha = hashlib.sha256(v1.encode()).hexdigest()
    stale_object = base / "objects" / stale_sha[:2] / stale_sha
    [spare_name] = spares_of(base, key)
    spare = base / "spares" / key / spare_name
    before = store_listing(base)
    assert {f"runs/{r.id}" for r in (recent, active, old)} <= before

    # When gc runs without --yes
    dry = aml(root, "computetarget", "gc", "vm", "--keep-days", "7", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    listed = json.loads(dry.stdout)
    assert_shape("GcPlanJson", listed)
    # Then it lists exactly the old run's folder, its spare tree and the object only it used,
    # each with its size as du -b counts it on the remote, and the total
    items = {(i["kind"], i["name"]): i["bytes"] for i in listed["items"]}
    assert items == {("run", old.id): du_b(base / "runs" / old.id),
                     ("spare", f"{key}/{spare_name}"): du_b(spare, spare.with_suffix(".json")),
                     ("object", stale_sha): du_b(stale_object)}
    assert listed["total_bytes"] == sum(items.values()) and listed["removed"] is False
    # and nothing changed
    assert store_listing(base) == before
    # The text form: one line per item and a total
    text = aml(root, "computetarget", "gc", "vm", "--keep-days", "7")
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == 3 and stale_sha in text.stdout
    assert "would remove 3 item(s) from 'vm'" in text.stderr
    assert f"({listed['total_bytes']} bytes); add --yes" in text.stderr

    # When gc runs with --yes
    done = aml(root, "computetarget", "gc", "vm", "--keep-days", "7", "--yes", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"] == listed["items"]
    # Then exactly those are gone; everything else (the running run's folder too) is there
    gone = {f"runs/{old.id}", f"spares/{key}/{spare_name}", f"spares/{key}/{spare_name}.json",
            f"objects/{stale_sha[:2]}/{stale_sha}"}
    assert store_listing(base) == before - gone
    assert "removed 3 item(s)" in done.stderr

    # The running run is unharmed and ends normally
    (base / "runs" / active.id / "work" / "stop").write_text("")
    assert active.wait(60) == RunStatus.COMPLETED
    assert "stopped" in active.log_text()[0]
    # A new submit of v1 still works: the store is sent what it lost
    again = ws.submit("vm", "show.py")
    assert again.wait(60) == RunStatus.COMPLETED
    assert v1 in again.log_text()[0]
    assert stale_object.is_file() or (base / "runs" / again.id / "work" / "data.txt").is_file()


def test_gc_of_a_target_with_nothing_remote_is_one_clear_line(project: Path) -> None:
    result = aml(project, "computetarget", "gc", "local")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "target 'local'" in result.stderr and "history prune" in result.stderr


# -- environment images (remotedocker: the engine reached over SSH) ---------------------------

CONDA_OLD = ("name: project_environment\ndependencies:\n  - python=3\n  - pip:\n"
             "    - tomli==2.0.0\n")
CONDA_NOW = ("name: project_environment\ndependencies:\n  - python=3\n  - pip:\n"
             "    - tomli==2.0.1\n")
KEEP_REPO = "aml-magic-gc-test-keep"


def env_tags(dockerd: Any) -> dict[str, str]:
    """``aml-magic/env:*`` tag -> image id on the engine."""
    return {tag: image.id for image in dockerd.client().images.list("aml-magic/env")
            for tag in image.tags if tag.startswith("aml-magic/env:")}


def identities_of_project(ws: Workspace, base_image: str) -> set[str]:
    from aml_magic.domain.environment import environment_identity
    out = set()
    for name in ws.config.runconfig_names():
        rc = ws.config.runconfig(name)
        bases = {base_image, ws.config.compute(rc.target).base_docker_image or base_image}
        out |= {environment_identity(ws.dependencies(rc).conda, base_image=b,
                                     framework=rc.framework) for b in bases}
    return out


def test_gc_removes_exactly_the_environment_images_no_runconfig_uses(
        project: Path, sshd: SshServer, dockerd: Any, engine_access: str,
        remote_base: Path) -> None:
    from tests.targets.test_remotedocker_target import attach as attach_remotedocker
    conda = project / "aml_config" / "conda_dependencies.yml"
    conda.write_text(CONDA_OLD)
    ws = Workspace(project)
    client = dockerd.client()
    kept_aside: dict[str, str] = {}
    try:
        compute = attach_remotedocker(ws, sshd, engine_access, remote_base, name="rd")
        # Given the environment of an older specification, then the one of the current
        old = ws.prepare("rd").environment_hash
        conda.write_text(CONDA_NOW)
        ws.close()
        ws = Workspace(project)
        now = ws.prepare("rd").environment_hash
        assert old and now and old != now
        tags = env_tags(dockerd)
        assert f"aml-magic/env:{old}" in tags and f"aml-magic/env:{now}" in tags
        # (images other sessions cached on this engine get a second tag for the test's length:
        # gc untags them, their layers stay for the sessions that built them)
        for tag, image_id in tags.items():
            if tag != f"aml-magic/env:{old}":
                backup = f"{KEEP_REPO}:{tag.split(':', 1)[1]}"
                client.images.get(image_id).tag(backup)
                kept_aside[backup] = tag
        in_use = identities_of_project(ws, compute.base_docker_image)
        assert now in in_use and old not in in_use
        expected = {t: image_id for t, image_id in tags.items()
                    if t.split(":", 1)[1] not in in_use}
        # When gc lists
        dry = aml(project, "computetarget", "gc", "rd", "-o", "json")
        assert dry.returncode == 0, dry.stderr
        items = {i["name"]: i["bytes"] for i in json.loads(dry.stdout)["items"]
                 if i["kind"] == "image"}
        # Then every env image no run configuration uses is listed with the engine's size,
        # the old specification's among them, the current one not
        assert set(items) == set(expected) and f"aml-magic/env:{old}" in items
        assert all(items[t] == client.images.get(t).attrs["Size"] for t in items)
        assert env_tags(dockerd) == tags
        # The local `docker` target of the project (same engine through DOCKER_HOST) lists
        # the same images, and nothing remote
        local = aml(project, "computetarget", "gc", "docker", "-o", "json",
                    env_extra={"DOCKER_HOST": dockerd.host})
        assert local.returncode == 0, local.stderr
        assert {(i["kind"], i["name"]) for i in json.loads(local.stdout)["items"]} == {
            ("image", t) for t in items}
        # When gc removes
        done = aml(project, "computetarget", "gc", "rd", "--yes", "-o", "json")
        assert done.returncode == 0, done.stderr
        assert {i["name"] for i in json.loads(done.stdout)["items"]} == set(items)
        # Then exactly those tags are gone, the old image with them; the current one stays
        assert env_tags(dockerd) == {t: i for t, i in tags.items() if t not in items}
        assert not any(image.id == tags[f"aml-magic/env:{old}"]
                       for image in client.images.list(all=True))
        # and a submit runs in the current environment without building
        (project / "t.py").write_text("import tomli\nprint('tomli', tomli.__name__)\n")
        run = ws.submit("rd", "t.py")
        assert run.wait(120) == RunStatus.COMPLETED, run.log_text()[0]
        assert "tomli tomli" in run.log_text()[0]
    finally:
        for backup, tag in kept_aside.items():      # give other sessions their cache back
            image = client.images.get(backup)
            image.tag(tag)
            client.images.remove(backup)
        ws.close()


# -- the helper itself: names checked, links never followed (run as on a target) --------------

def storegc(op: str, request: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    source = (REPO / "aml_magic" / "agent" / "storegc.py").read_text()
    return subprocess.run([sys.executable, "-S", "-E", "-c", source, op],
                          input=json.dumps(request).encode(), capture_output=True, timeout=60)


def test_storegc_never_follows_links_out_of_the_base_nor_takes_odd_names(tmp_path: Path) -> None:
    # Given a base whose store fan folder, a run folder and a spare folder are links to
    # folders outside it, each holding a file
    base, outside = tmp_path / "base", tmp_path / "outside"
    outside.mkdir()
    sha = "ab" + "0" * 62
    (outside / sha).write_text("precious")
    for folder in ("objects", "runs", "spares"):
        (base / folder).mkdir(parents=True)
    (base / "objects" / "ab").symlink_to(outside)
    (base / "runs" / "r1").symlink_to(outside)
    (base / "spares" / "k").symlink_to(outside)
    real = "cd" + "1" * 62
    (base / "objects" / "cd").mkdir()
    (base / "objects" / "cd" / real).write_text("12345")
    # When planned: only the real object is listed, with its size
    planned = storegc("plan", {"base": str(base), "project_key": "k", "used": [],
                               "runs": ["r1"]})
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout) == {"objects": [[real, 5]], "spares": [], "runs": [],
                                         "envs": []}
    # When told to remove the linked names anyway: nothing outside the base is touched
    removed = storegc("remove", {"base": str(base), "objects": [sha, real],
                                 "spares": [f"k/{sha}"], "runs": ["r1"]})
    assert removed.returncode == 0, removed.stderr
    assert (outside / sha).read_text() == "precious"
    assert not (base / "objects" / "cd" / real).exists()
    assert not (base / "runs" / "r1").is_symlink()          # the link itself goes
    # Names that could leave their folder are refused with one line, nothing removed
    for request in ({"runs": ["../outside"]}, {"spares": ["k/../../outside"]},
                    {"objects": ["../" + sha]}):
        bad = storegc("remove", {"base": str(base), **request})
        assert bad.returncode == 2 and b"aml_magic storegc: bad" in bad.stderr
    assert (outside / sha).read_text() == "precious"


def test_gc_removes_the_remote_environments_no_runconfig_uses(
        ws: Workspace, remote_base: Path) -> None:
    import dataclasses
    # Given a remote target that builds its own environments, one of an older specification
    # and the current one
    ws.config.write_compute(dataclasses.replace(ws.config.compute("vm"),
                                                user_managed_environment=False))
    conda = ws.root / "aml_config" / "conda_dependencies.yml"
    conda.write_text(CONDA_OLD)
    old = ws.prepare("vm").environment_hash
    conda.write_text(CONDA_NOW)
    fresh = Workspace(ws.root)
    try:
        now = fresh.prepare("vm").environment_hash
        assert old and now and old != now
        envs = remote_base / "envs"
        assert (envs / old).is_dir() and (envs / now).is_dir()
        # When gc lists, Then only the old environment is listed, sized as du -b counts it
        dry = aml(ws.root, "computetarget", "gc", "vm", "-o", "json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["items"] == [
            {"kind": "env", "name": old, "bytes": du_b(envs / old)}]
        # When gc removes, Then it is gone and the current one serves a run
        done = aml(ws.root, "computetarget", "gc", "vm", "--yes")
        assert done.returncode == 0 and "removed 1 item(s)" in done.stderr, done.stderr
        assert sorted(p.name for p in envs.iterdir()) == [now]
        (ws.root / "t.py").write_text("import tomli, sys\nprint('tomli', sys.prefix)\n")
        run = fresh.submit("vm", "t.py")
        assert run.wait(60) == RunStatus.COMPLETED, run.record.reason
        assert f"/envs/{now}" in run.log_text()[0]
    finally:
        fresh.close()
