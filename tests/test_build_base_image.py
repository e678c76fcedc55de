"""scripts/build_base_image.sh takes the Debian suite from the image tag (the images themselves
are exercised by the docker-marked tests: bookworm for targets, bullseye for the agent's oldest
Python), and refuses a suite it does not know before doing any work."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "build_base_image.sh"


def test_unknown_suite_is_refused_with_one_line_naming_it(tmp_path: Path) -> None:
    proc = subprocess.run(["sh", str(SCRIPT), "aml-magic/base:hamm"], capture_output=True,
                          text=True, check=False, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "AML_MAGIC_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "build_base_image: unknown Debian suite 'hamm' (from tag aml-magic/base:hamm); "
        "set AML_MAGIC_SUITE"]
    assert list(tmp_path.iterdir()) == []


def test_cached_rootfs_is_keyed_by_suite(tmp_path: Path) -> None:
    # Given a cached bullseye rootfs under the name the script derives (suite + script hash)
    script_hash = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:16]
    cached = tmp_path / f"base-bullseye-{script_hash}.tar"
    cached.write_bytes(b"not empty")
    env = {"PATH": "/usr/bin:/bin", "AML_MAGIC_CACHE_DIR": str(tmp_path), "AML_MAGIC_TAR_ONLY": "1"}

    def build(tag: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(SCRIPT), tag], capture_output=True, text=True,
                              check=False, timeout=60, env=env)
    # When bullseye is asked for, Then the cache answers (no debootstrap on this PATH)
    hit = build("aml-magic/base:bullseye")
    assert (hit.returncode, hit.stdout.strip()) == (0, str(cached)), hit.stderr
    # When bookworm is asked for, Then that cache entry is not used: it needs a debootstrap
    miss = build("aml-magic/base:bookworm")
    assert miss.returncode == 1 and "debootstrap is not installed" in miss.stderr
