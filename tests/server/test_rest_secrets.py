"""Issue 23, findings 7 and 9, through the real Jupyter server, the ``aml`` command and real
local runs: only secrets made for runs reach a run's environment, every encoded spelling of
them is masked in every view of the log, and ``.compute`` views mask what the registry says is
secret and whatever only a name can say is (``sshPassphrase``)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from aml_magic.domain.secrets import SecretStore
from tests._project import write
from tests._wait import wait_until
from tests.server.jupyter import JupyterServer, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
P = {"project": "proj"}
RUN_SECRET = "tok/3n+Sh4red s3cret&x"      # '/', '+', ' ', '&': every encoding differs
SSH_PASSWORD = "ssh-login-pw-71ac"
PASSPHRASE = "phrase-of-the-key-93b1"

LEAK = """
    import base64, os, urllib.parse
    v = os.environ["API_TOKEN"].encode()
    print("b64", base64.b64encode(v).decode())
    print("b64url", base64.urlsafe_b64encode(v).decode())
    print("basic", base64.b64encode(b"user:" + v).decode())
    print("hex", v.hex(), v.hex().upper())
    print("url", urllib.parse.quote(v), urllib.parse.quote_plus(v))
    print("done")
"""


def forms(value: str) -> list[str]:
    """What LEAK prints of ``value`` (the embedded one: the part only the value decides)."""
    raw = value.encode()
    basic = base64.b64encode(b"user:" + raw).decode()
    return [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            basic[8:-4], raw.hex(), raw.hex().upper(), urllib.parse.quote(raw),
            urllib.parse.quote(raw, safe=""), urllib.parse.quote_plus(raw), value]


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, secrets_dir: Path) -> Path:
    """proj/ with a run configuration using a run secret, one using an SSH login password's
    reference, and a remote target file holding an unknown ``sshPassphrase`` key."""
    from aml_magic.domain.config import init_project
    top = tmp_path_factory.mktemp("root")
    project = init_project(top / "proj")
    store = SecretStore(secrets_dir)
    run_ref = store.put("env", "API_TOKEN", RUN_SECRET)            # as `aml secret set` does
    login_ref = store.put("password", "vm-alice", SSH_PASSWORD)    # as attach does
    write(project, "leak.py", LEAK)
    for name, ref in (("sec", run_ref), ("stolen", login_ref)):
        (project / "aml_config" / f"{name}.runconfig").write_text(
            f"Target: local\nFramework: Python\nEnvironmentVariables:\n  API_TOKEN: \"{ref}\"\n")
    (project / "aml_config" / "vm.compute").write_text(
        "type: remote\naddress: 10.9.8.7\nusername: alice\n"
        f"password: {login_ref}\nsshPassphrase: {PASSPHRASE}\n")
    (project / "aml_config" / "flow.compute").write_text(
        "{type: remote, address: 10.9.8.6, username: bob, password: flow-plain-pw-5c}\n")
    return top


@pytest.fixture(scope="module")
def server(root: Path, secrets_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    started = start_server(root, tmp_path_factory.mktemp("jupyter-state"),
                           extra_env={"AML_MAGIC_SECRETS_DIR": str(secrets_dir)})
    yield started
    stop_server(started)


def aml(root: Path, secrets_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), AML_MAGIC_SECRETS_DIR=str(secrets_dir))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=root / "proj",
                          capture_output=True, text=True, timeout=120, env=env)


def test_a_run_secret_is_masked_in_every_encoding_in_every_view_of_the_log(
        server: JupyterServer, root: Path, secrets_dir: Path) -> None:
    # Given a run configuration whose API_TOKEN is a secret made for runs
    # When a run prints it base64- (both alphabets, and inside HTTP basic auth), hex- and
    # URL-encoded
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "sec", "script": "proj/leak.py"})
    assert reply.status == 201, reply.body
    run_id = reply.json["run_id"]

    def done() -> bool:
        return server.api("GET", f"runs/{run_id}", params=P).json["status"] == "Completed"
    wait_until(done, 60, f"run {run_id} Completed", interval=0.1)
    # Then log.txt, `aml run logs` and the REST log hold masks and none of those spellings
    raw = (root / "proj" / ".aml" / "runs" / run_id / "log.txt").read_text()
    cli = aml(root, secrets_dir, "run", "logs", run_id)
    assert cli.returncode == 0, cli.stderr
    rest = server.api("GET", f"runs/{run_id}/log", params=P).json["text"]
    for view in (raw, cli.stdout, rest):
        assert "done" in view and view.count("******") == 7, view
        leaked = [form for form in forms(RUN_SECRET) if form in view]
        assert not leaked, (leaked, view)


def test_an_ssh_password_reference_never_reaches_a_run(server: JupyterServer, root: Path,
                                                       secrets_dir: Path) -> None:
    # Given a run configuration that puts the SSH login password's reference in API_TOKEN
    runs_before = server.api("GET", "runs", params=P).json["runs"]
    # When it is submitted through the REST API and through the aml command
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "stolen", "script": "proj/leak.py"})
    cli = aml(root, secrets_dir, "experiment", "submit", "-c", "stolen", "leak.py")
    # Then both are refused with one line naming the variable and the reference, and no run
    # was recorded (nothing reached a script)
    assert reply.status == 422, reply.body
    message = reply.json["message"]
    assert "EnvironmentVariables.API_TOKEN" in message and "aml-secret:password/" in message
    assert "not a secret made for runs" in message and "aml secret set API_TOKEN" in message
    assert cli.returncode != 0
    errors = [line for line in cli.stderr.splitlines() if not line.startswith("aml: warning")]
    assert len(errors) == 1 and "EnvironmentVariables.API_TOKEN" in errors[0], cli.stderr
    assert SSH_PASSWORD not in reply.body.decode() + cli.stdout + cli.stderr
    runs_after = server.api("GET", "runs", params=P).json["runs"]
    assert len(runs_after) == len(runs_before)


def test_compute_views_mask_by_the_registry_flag_and_unknown_secret_names(
        server: JupyterServer, root: Path, secrets_dir: Path) -> None:
    # Given vm.compute with an unknown key sshPassphrase and flow.compute, a flow-style YAML
    # file with a plaintext password
    # When the targets are listed over REST and shown by the aml command
    listed = server.api("GET", "targets", params=P)
    by_name = {t["name"]: t for t in listed.json["targets"]}
    shown = aml(root, secrets_dir, "computetarget", "show", "-n", "vm", "-o", "json")
    flow = aml(root, secrets_dir, "computetarget", "show", "-n", "flow", "-o", "json")
    # Then the passphrase and the plaintext password come back masked everywhere
    assert by_name["vm"]["settings"]["sshPassphrase"] == "******"
    assert by_name["flow"]["settings"]["password"] == "******"
    assert json.loads(shown.stdout)["settings"]["sshPassphrase"] == "******", shown.stderr
    assert json.loads(flow.stdout)["settings"]["password"] == "******", flow.stderr
    for text in (listed.body.decode(), shown.stdout, shown.stderr, flow.stdout, flow.stderr):
        assert PASSPHRASE not in text and "flow-plain-pw-5c" not in text
    # while the registry's non-secret keys are shown as they are (hostKeyFingerprint-like
    # names are not guessed at) and references are kept
    assert by_name["vm"]["settings"]["password"].startswith("aml-secret:password/")
    assert by_name["vm"]["settings"]["username"] == "alice"
