"""Hostile projects (issue 23, findings 4 and 5): a project's files cannot weaken its
containers' isolation, nor can a project's own ``.aml/cache`` change what its files say.

The container scenario runs on the suite's real Docker engine (tests/fixtures/dockerd) through
the real ``aml`` command; the cache scenario through the real ``aml`` command and a real local
run. The user's settings file is the test's own (``AML_MAGIC_CONFIG``), as a user's would be.
"""
from __future__ import annotations

import hashlib
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.domain.config import _parse, _parse_cache
from aml_magic.frontends.notebook.widgets._render import summary_text
from aml_magic.frontends.notebook.widgets._snapshot import LogTail, snapshot_of
from tests._project import aml

#: What a hostile ``docker.compute`` adds: every container hardening switched off. (Not
#: ``capabilities: ALL``, which the suite's engine cannot grant: its own bounding set lacks
#: SYS_RESOURCE; SYS_ADMIN is as good as root. ALL is classified in tests/test_isolation.py.)
CAPS = "SYS_ADMIN,NET_ADMIN,SYS_PTRACE"
HOSTILE = {"native_shared_directory": "/", "shared_volumes": True, "container_user": "0:0",
           "capabilities": CAPS, "network_mode": "host"}
KEYS = ("nativeSharedDirectory: /", "containerUser: 0:0", f"capabilities: {CAPS}",
        "networkMode: host")
SYS_ADMIN = 1 << 21

PROBE = """\
import os, sys
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
print("uid", os.getuid())
print("caps", int(caps, 16))
print("host-marker", os.path.exists("/aml/share" + sys.argv[1]))
print("interfaces", ",".join(sorted(os.listdir("/sys/class/net"))))
"""


def _facts(log: str) -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in log.splitlines()
            if line.split(" ", 1)[0] in ("uid", "caps", "host-marker", "interfaces")}


@pytest.fixture
def hostile_docker(project: Path, dockerd: Any, monkeypatch: pytest.MonkeyPatch,
                   tmp_path: Path) -> Path:
    """A project whose docker.compute switches every hardening off; the user's settings file
    (not written yet) is the test's."""
    import dataclasses

    from tests.targets.test_docker_target import CONDA
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    monkeypatch.setenv("AML_MAGIC_CONFIG", str(tmp_path / "user" / "config.yml"))
    (project / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
    (project / "probe.py").write_text(PROBE)
    ws = Workspace(project)
    ws.config.write_compute(dataclasses.replace(ws.config.compute("docker"), **HOSTILE))
    ws.close()
    return project


def test_a_project_cannot_weaken_its_containers_isolation(hostile_docker: Path, dockerd: Any,
                                                          tmp_path: Path) -> None:
    project = hostile_docker
    settings = tmp_path / "user" / "config.yml"
    marker = tmp_path / "host-marker"
    marker.write_text("the host's own file\n")
    text = (project / "aml_config" / "docker.compute").read_text()
    assert all(key.split(":")[0] in text for key in KEYS), text

    # When the project is submitted (and prepared) as it is
    submitted = aml("experiment", "submit", "-c", "docker", "probe.py", str(marker),
                    cwd=project, check=False)
    prepared = aml("experiment", "prepare", "-c", "docker", cwd=project, check=False)

    # Then both are refused with one line naming the keys, the file and how to allow them
    assert submitted.returncode != 0, submitted.stdout + submitted.stderr
    lines = submitted.stderr.strip().splitlines()
    assert len(lines) == 1, submitted.stderr
    for word in (*KEYS, "docker.compute", str(settings), "allow_unsafe_container",
                 "--allow-unsafe-container", "root_user", "host_folder"):
        assert word in lines[0], (word, lines[0])
    assert prepared.returncode != 0 and "networkMode: host" in prepared.stderr
    assert len(prepared.stderr.strip().splitlines()) == 1, prepared.stderr
    # and nothing was recorded or started
    ws = Workspace(project)
    try:
        assert ws.runs() == []
        assert not dockerd.client().containers.list(
            all=True, filters={"label": f"org.aml-magic.project={project}"})

        # When the user allows them for this project in their own settings
        settings.parent.mkdir()
        settings.write_text(textwrap.dedent(f"""\
            allow_unsafe_container:
              - project: {project}
                options: [capabilities, root_user, network_host, host_folder]
            """))
        done = aml("experiment", "submit", "-c", "docker", "probe.py", str(marker), cwd=project)

        # Then it runs as the file asks: root, every capability, the host's root folder, the
        # host's network
        facts = _facts(done.stdout)
        assert facts["uid"] == "0" and int(facts["caps"]) & SYS_ADMIN, done.stdout
        assert facts["host-marker"] == "True", done.stdout
        assert facts["interfaces"] == ",".join(sorted(os.listdir("/sys/class/net")))
        # And its record, `aml run show`, its JSON and the run widget say it had reduced
        # isolation, and who allowed it
        run = ws.runs()[0].record
        isolation = run.config_snapshot["isolation"]
        assert {r["allow"] for r in isolation["reduced"]} == {
            "capabilities", "root_user", "network_host", "host_folder"}
        assert isolation["allowed_by"] == str(settings)
        shown = aml("run", "show", run.run_id, cwd=project).stdout
        line = next(line for line in shown.splitlines() if line.startswith("isolation"))
        assert "reduced" in line and "networkMode: host" in line and str(settings) in line
        detail = json.loads(aml("run", "show", run.run_id, "-o", "json", cwd=project).stdout)
        assert detail["isolation"].startswith("reduced: ")
        assert detail["configuration"]["isolation"] == isolation
        widget = summary_text(snapshot_of(ws.run(run.run_id), run, LogTail()))
        assert "isolation: reduced: " in widget and f"capabilities: {CAPS}" in widget

        # When the settings allow nothing, a submit given --allow-unsafe-container runs too,
        # and its record names the flag
        settings.write_text("allow_unsafe_container: []\n")
        aml("experiment", "submit", "-c", "docker", "--allow-unsafe-container", "probe.py",
            str(marker), cwd=project)
        flagged = ws.runs()[0].record
        assert flagged.run_id != run.run_id
        assert flagged.config_snapshot["isolation"]["allowed_by"] == "--allow-unsafe-container"
    finally:
        ws.close()


# -- finding 5: a project's own cache -----------------------------------------------------------
HARMLESS = "type: docker\nbaseDockerImage: aml-magic/base:bookworm\n"
MALICIOUS = ("type: docker\nbaseDockerImage: aml-magic/base:bookworm\nsharedVolumes: true\n"
             "nativeSharedDirectory: /\ncontainerUser: '0:0'\ncapabilities: ALL\n"
             "networkMode: host\n")


def test_a_projects_own_cache_changes_nothing(project: Path, tmp_path: Path) -> None:
    root = project.resolve()
    compute = root / "aml_config" / "docker.compute"
    compute.write_text(HARMLESS)
    (root / "train.py").write_text("print('trained')\n")
    # Given a project shipping a forged parse cache: the harmless text's entry holds the tree
    # of the malicious one (in the form the cache had, keyed by path and by text hash)
    malicious = _parse.parse_text(MALICIOUS, path=str(compute))
    assert malicious is not None
    forged_tree = _parse_cache._encode(malicious)
    assert forged_tree is not None
    cache = root / ".aml" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    entry = {"text": HARMLESS, "tree": forged_tree}
    content_key = getattr(_parse_cache, "content_key", lambda text: "-")   # (absent before)
    (cache / "config-trees.json").write_text(json.dumps(
        {str(compute): entry, content_key(HARMLESS): entry}))
    # and a forged hash cache vouching for a wrong hash of train.py (its real size, time and
    # inode: the best forgery there is; the time is older than the cache's racy window)
    st = os.stat(root / "train.py")
    os.utime(root / "train.py", ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))
    st = os.stat(root / "train.py")
    (cache / "hashes.json").write_text(json.dumps({"version": 1, "entries": {
        "train.py": [st.st_size, st.st_mtime_ns, st.st_ino, "0" * 64]}}))

    # When the real command reads the target and a real run is submitted
    shown = json.loads(aml("computetarget", "show", "docker", "-o", "json", cwd=root).stdout)
    aml("experiment", "submit", "-c", "local", "train.py", cwd=root)

    # Then the target is what its text says
    settings = shown["settings"]
    for key in ("nativeSharedDirectory", "containerUser", "capabilities", "networkMode"):
        assert not settings.get(key), (key, shown)
    assert not settings.get("sharedVolumes"), shown
    # And the run's snapshot holds the real hash of train.py
    ws = Workspace(root)
    try:
        run = ws.runs()[0]
        manifest = json.loads((run.folder / "manifest.json").read_text())
        real = hashlib.sha256((root / "train.py").read_bytes()).hexdigest()
        assert manifest["files"]["train.py"]["sha256"] == real
        assert "trained" in run.log_text()[0]
    finally:
        ws.close()
