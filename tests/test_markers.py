"""The component markers are applied and ``-m`` really selects by them (issue 13): a test that
starts sshd, dockerd, a kernel or a browser carries the marker, so ``-m "not docker"`` runs no
docker test and ``scripts/test.sh --quick`` runs only server-free tests."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._collect_probe import PREFIX
from tests.conftest import MARKER_OF_FIXTURE

REPO = Path(__file__).resolve().parents[1]
COMPONENT_MARKERS = ("sshd", "docker", "browser", "kernel", "spark", "slurm", "postgres")


def quick_expression() -> str:
    """The ``-m`` expression ``scripts/test.sh --quick`` passes, read from the script itself."""
    script = (REPO / "scripts" / "test.sh").read_text()
    found = re.search(r'args=\(-m "([^"]+)"', script)
    assert found, "scripts/test.sh no longer passes -m to pytest for --quick"
    return found.group(1)


def collect(*args: str) -> list[dict[str, Any]]:
    """Collect the suite in a child pytest (with ``-m`` applied) and return the selected tests."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "tests._collect_probe", "-p", "no:cacheprovider", *args, "tests"],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode in (0, 5), proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(line[len(PREFIX):]) for line in proc.stdout.splitlines()
            if line.startswith(PREFIX)]


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    return collect()


def test_every_test_using_a_component_fixture_carries_its_marker(
        everything: list[dict[str, Any]]) -> None:
    for fixture, marker in MARKER_OF_FIXTURE.items():
        users = [t for t in everything if fixture in t["fixtures"]]
        # Then the suite has such tests, and each is marked
        assert users, f"no test uses the {fixture} fixture any more: update MARKER_OF_FIXTURE"
        unmarked = [t["id"] for t in users if marker not in t["markers"]]
        assert not unmarked, f"tests using {fixture} lack the {marker} marker: {unmarked}"


def test_not_docker_selects_no_docker_test(everything: list[dict[str, Any]]) -> None:
    selected = collect("-m", "not docker")
    docker_tests = {t["id"] for t in everything if "docker" in t["markers"]}
    # Then some tests were left out, none that needs the engine ran, and nothing else was dropped
    assert docker_tests and selected
    assert not [t["id"] for t in selected if "dockerd" in t["fixtures"]
                or "docker" in t["markers"]]
    assert {t["id"] for t in selected} == {t["id"] for t in everything} - docker_tests


def test_quick_expression_selects_only_server_free_tests(
        everything: list[dict[str, Any]]) -> None:
    expression = quick_expression()
    assert all(marker in expression for marker in COMPONENT_MARKERS), expression
    selected = collect("-m", expression)
    # Then the fast loop still runs most of the suite, and no selected test starts a server
    assert len(selected) > len(everything) // 2
    starting = [t["id"] for t in selected
                if set(t["fixtures"]) & set(MARKER_OF_FIXTURE)
                or set(t["markers"]) & set(COMPONENT_MARKERS)]
    assert not starting, f"--quick would start servers for: {starting}"
