"""A ``.compute`` with a plaintext password (as real Workbench files have): used to log in over
the real sshd, warned about once with file and line, and found nowhere afterwards -- not in
the history, JSON output, logs, the run folder or the remote. ``aml computetarget secure``
moves it into the secret store. Plus the secret-name heuristics and URL password masking."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from aml_magic.domain.secrets import Masker, looks_secret, mask_url_passwords
from aml_magic.service.workspace import Workspace
from tests._project import aml, write
from tests.fixtures.sshd import SshServer


def _run_id(stderr: str) -> str:
    """The id from the ``run <id>`` line ``experiment submit --wait`` prints first."""
    return next(line.split()[1] for line in stderr.splitlines() if line.startswith("run "))


def _grep(root: Path, needle: bytes) -> list[Path]:
    """Files under ROOT holding NEEDLE (links not followed; unreadable files count as hits)."""
    hits = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            if needle in path.read_bytes():
                hits.append(path)
        except OSError:
            hits.append(path)
    return hits


def test_plaintext_password_used_warned_never_copied(project: Path, sshd: SshServer) -> None:
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    ws = Workspace(project)
    ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
              password=sshd.password, trust_new_host_key=True, remote_base_dir=f"~/{base.name}")
    ws.close()
    compute = project / "aml_config" / "vm.compute"
    text = compute.read_text()
    text = re.sub(r"(?m)^password: .*$", f"password: {sshd.password}", text)
    assert f"password: {sshd.password}" in text
    compute.write_text(text)
    line = text.splitlines().index(f"password: {sshd.password}") + 1
    secret = sshd.password.encode()
    try:
        write(project, "hello.py", "import os\nprint('hello from', os.uname().nodename)\n")
        run = aml("experiment", "submit", "-c", "vm", "hello.py", "--wait", cwd=project)
        assert "hello from" in run.stdout                 # the password logged in
        warnings = [w for w in run.stderr.splitlines() if "plaintext password" in w]
        assert len(warnings) == 1 and f"vm.compute:{line}:" in warnings[0]
        assert "aml computetarget secure vm" in warnings[0]
        run_id = _run_id(run.stderr)
        outputs = [aml("run", "show", run_id, "-o", "json", cwd=project).stdout,
                   aml("run", "list", "-o", "json", cwd=project).stdout,
                   aml("computetarget", "show", "-n", "vm", "-o", "json", cwd=project).stdout,
                   aml("computetarget", "list", "-o", "json", cwd=project).stdout,
                   aml("run", "logs", run_id, cwd=project).stdout, run.stdout, run.stderr]
        assert json.loads(outputs[2])["settings"]["password"] == "******"
        assert not [o for o in outputs if sshd.password in o]
        assert _grep(project / ".aml", secret) == []      # history.db, WAL, run folders
        assert base.is_dir() and _grep(base, secret) == []   # the remote's copy and run folder

        secured = aml("computetarget", "secure", "vm", cwd=project)
        assert "secret store" in secured.stdout
        assert sshd.password not in compute.read_text()
        assert re.search(r"(?m)^password: \"?aml-secret:password/", compute.read_text())
        again = aml("experiment", "submit", "-c", "vm", "hello.py", "--wait", cwd=project)
        assert "hello from" in again.stdout and "plaintext password" not in again.stderr
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.parametrize("name", ["DB_PASS", "MYSQL_PWD", "GITHUB_PAT", "API_TOKEN",
                                  "AWS_SECRET_ACCESS_KEY", "GOOGLE_CREDENTIALS", "OPENAI_KEY",
                                  "APP_SECRET", "DB_PASSWORD"])
def test_secret_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["PWD", "OLDPWD", "PATH", "PATTERN", "COMPASS", "DATABASE_URL"])
def test_not_secret_names(name: str) -> None:
    assert not looks_secret(name)


def test_url_password_masked_wherever_shown(project: Path) -> None:
    assert mask_url_passwords("postgres://app:p@ss@db:5432/x") == "postgres://app:******@db:5432/x"
    assert mask_url_passwords("https://example.org/a:b@c") == "https://example.org/a:b@c"
    assert Masker().mask("url=redis://:hunter22@cache:6379") == "url=redis://:******@cache:6379"
    rc = project / "aml_config" / "local.runconfig"
    rc.write_text(rc.read_text().replace(
        "EnvironmentVariables:", "EnvironmentVariables:\n  DATABASE_URL: "
        "postgres://app:Sup3rS3cret@localhost/db\n  GITHUB_PAT: ghp_literalvalue123", 1))
    assert "DATABASE_URL" in rc.read_text()
    write(project, "show.py", "import os\nprint(os.environ['DATABASE_URL'], "
          "os.environ['GITHUB_PAT'])\n")
    run = aml("experiment", "submit", "-c", "local", "show.py", "--wait", cwd=project)
    hints = [w for w in run.stderr.splitlines() if "literal secret" in w]
    assert len(hints) == 2 and all("aml secret set" in h for h in hints)
    assert "postgres://app:******@localhost/db ******" in run.stdout
    run_id = _run_id(run.stderr)
    shown = aml("run", "show", run_id, "-o", "json", cwd=project).stdout
    assert "Sup3rS3cret" not in shown and "ghp_literalvalue123" not in shown
    hits = _grep(project / ".aml", b"Sup3rS3cret")   # only the project copy the user wrote it in
    assert hits and all("work" in p.relative_to(project / ".aml").parts for p in hits), hits
