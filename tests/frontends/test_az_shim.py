"""The ``az`` shim (``aml compat install-az``) and the guidance for the ``az`` commands aml_magic
does not provide (issues 22 and 24): the argv mapping and the one-line answers as units, then the
shim installed into a temporary folder and run as a subprocess on a real project (local target),
as a Workbench ``run.py`` runs it through ``os.system``."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from aml_magic.domain.history import RunStore
from aml_magic.errors import AmlError
from aml_magic.frontends import guidance
from aml_magic.frontends.cli import compat
from aml_magic.frontends.cli.az import AmlCommand, PasswordFirst, Reply, known_group, translate
from aml_magic.frontends.cli.main import GROUPS
from aml_magic.frontends.cli.main import main as aml_main
from tests._project import aml, write
from tests.fixtures.sshd import SshServer

DEPLOY = ("not part of aml_magic: the model is in `aml history download -r ID`; serve it with "
          "your tool of choice")


# --- argv mapping --------------------------------------------------------------------------

@pytest.mark.parametrize(("az", "expected"), [
    ("ml experiment submit -c local ./iris_sklearn.py 0.01",
     ["experiment", "submit", "-c", "local", "./iris_sklearn.py", "0.01"]),
    ("ml experiment submit --run-configuration docker -a iris.py",
     ["experiment", "submit", "--run-configuration", "docker", "-a", "iris.py"]),
    ("ml execute start -c local ./iris_sklearn.py 0.5",          # the 2017 preview's spelling
     ["experiment", "submit", "-c", "local", "./iris_sklearn.py", "0.5"]),
    ("ml execute prepare -c docker", ["experiment", "prepare", "-c", "docker"]),
    ("ml experiment prepare --run-configuration docker",
     ["experiment", "prepare", "--run-configuration", "docker"]),
    ("ml history list", ["history", "list"]),
    ("ml history info -r iris_1", ["history", "info", "-r", "iris_1"]),
    ("ml history download -r iris_1 -d out", ["history", "download", "-r", "iris_1", "-d", "out"]),
    ("ml computetarget list", ["computetarget", "list"]),
    ("ml computetarget attach --type remotedocker --name vm --address 10.0.0.4 --username me",
     ["computetarget", "attach", "remotedocker", "--name", "vm", "--address", "10.0.0.4",
      "--username", "me"]),
    ("ml project create -n myIris -a acct -g rg -w ws --path /tmp/projects --template",
     ["init", "/tmp/projects/myIris"]),
    ("ml project create --name myIris", ["init", "myIris"]),
    ("--debug ml history list", ["--debug", "history", "list"]),
    ("ml --verbose history last", ["history", "last"]),
    ("ml", ["--help"]),
    ("ml --help", ["--help"]),
])
def test_az_ml_maps_to_the_aml_command(az: str, expected: list[str]) -> None:
    # Given a Workbench `az ml` command line, When translated, Then it is aml's command line
    assert translate(az.split()) == AmlCommand(expected)


def test_a_password_on_the_command_line_goes_to_aml_on_standard_input() -> None:
    for spelled in (["--password", "s3cret"], ["-w", "s3cret"], ["--password=s3cret"]):
        got = translate(["ml", "computetarget", "attach", "remote", "-n", "vm", "-a", "h",
                         "-u", "me", *spelled])
        assert got == AmlCommand(["computetarget", "attach", "remote", "-n", "vm", "-a", "h",
                                  "-u", "me", "--password-stdin"], "s3cret\n")
    # --password alone (aml asks with a masked prompt) is left as it is
    assert translate(["ml", "computetarget", "attach", "remote", "-n", "vm", "--password"]) \
        == AmlCommand(["computetarget", "attach", "remote", "-n", "vm", "--password"])


# --- one line for what is not provided -----------------------------------------------------

@pytest.mark.parametrize(("az", "start", "advice", "code"), [
    ("login", "az login: ", guidance.NOT_NEEDED, 0),
    ("account set --subscription my-sub", "az account set: ", guidance.NOT_NEEDED, 0),
    ("ml env setup -n myenv -l eastus2", "az ml env setup: ", DEPLOY, 2),
    ("ml env local", "az ml env local: ", DEPLOY, 2),
    ("ml account modelmanagement create -l eastus2 -n mm -g rg",
     "az ml account modelmanagement create: ", DEPLOY, 2),
    ("ml service create realtime -f score.py --model-file model.pkl -n irisapp -r python",
     "az ml service create realtime: ", DEPLOY, 2),
    ("ml service run realtime -i irisapp -d {}", "az ml service run realtime: ", DEPLOY, 2),
    ("ml service list realtime", "az ml service list realtime: ", DEPLOY, 2),
    ("ml history promote -r iris_1 -ap outputs/model.pkl -n model.pkl",
     "az ml history promote: ", DEPLOY, 2),
])
def test_commands_not_provided_get_one_line_saying_what_to_do(
        az: str, start: str, advice: str, code: int) -> None:
    got = translate(az.split())
    assert isinstance(got, Reply) and got.code == code
    assert got.text.startswith(start) and got.text.endswith(advice) and "\n" not in got.text


def test_anything_but_az_ml_is_the_azure_cli() -> None:
    assert translate(["vm", "list"]) == Reply(
        "az vm is the Azure CLI; this `az` only provides `az ml` commands", 2)
    assert translate(["storage", "blob", "upload", "-f", "x"]).code == 2   # type: ignore[union-attr]


def test_unknown_az_ml_commands_name_the_command_and_close_matches() -> None:
    got = translate(["ml", "histroy", "list"])
    assert isinstance(got, AmlCommand)
    assert known_group(got, GROUPS) == Reply(
        "az ml histroy: no such command; did you mean 'history'? (see `aml --help`)", 2)
    for fine in (["ml", "history", "list"], ["--debug", "ml", "run", "list"], ["ml"]):
        command = translate(fine)
        assert isinstance(command, AmlCommand) and known_group(command, GROUPS) == command
    got = translate(["ml", "execute", "strat", "x.py"])
    assert isinstance(got, Reply) and "'start'" in got.text and got.code == 2


def test_the_guidance_table_is_one_source_for_az_and_aml() -> None:
    # every entry answers under az and, typed after aml (without az's `ml`), under aml
    for entry in guidance.GUIDANCE:
        az = guidance.for_az(entry.words)
        typed = list(entry.words[1:] if entry.words[0] == "ml" else entry.words)
        via_aml = guidance.for_aml(typed)
        assert az is not None and via_aml is not None, entry
        assert az[0].endswith(entry.advice) and via_aml[0].endswith(entry.advice)
        if entry.words[0] == "ml":      # (`aml account` is read as `az ml account`)
            assert f"`az {' '.join(entry.words)}`" in via_aml[0]


@pytest.mark.parametrize(("argv", "expected"), [
    (["histroy", "list"], "aml histroy: no such command; did you mean 'history'? "
                          "(see `aml --help`)"),
    (["experiment", "sumbit", "x.py"], "aml experiment sumbit: no such command; did you mean "
                                       "'submit'? (see `aml experiment --help`)"),
    (["frobnicate"], "aml frobnicate: no such command (see `aml --help`)"),
    (["service", "create", "realtime", "-f", "score.py"],
     "aml service create realtime: that is `az ml service create realtime`, which "),
    (["login"], "aml login: that is `az login`, which signs in to Azure; " + guidance.NOT_NEEDED),
    (["env", "setup"], "aml env setup: that is `az ml env setup`, which "),
    (["ml", "experiment", "submit", "-c", "local", "x.py"],
     "aml ml experiment: `aml` is `az ml`: drop the `ml` (`aml experiment …`)"),
    (["history", "list", "-o", "xml"], "aml history list: -o/--output 'xml' is not one of "
                                       "table, json, tsv"),
])
def test_aml_answers_unknown_commands_in_one_line(
        argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a command aml does not have, Then one line (no argparse "invalid choice") and exit 2
    assert aml_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aml: error: " + expected)
    assert "invalid choice" not in err and err.count("\n") == 1


# --- install-az ----------------------------------------------------------------------------

def _fake_azure_cli(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "az"
    path.write_text("#!/bin/sh\necho azure-cli 2.0\n")
    path.chmod(0o755)
    return path


def test_the_shim_goes_beside_aml_by_default() -> None:
    # the running interpreter's scripts folder: in a virtual environment, its bin with `aml`
    assert compat.default_bin_dir() == Path(sysconfig.get_path("scripts"))
    if sys.prefix != sys.base_prefix:
        assert compat.default_bin_dir() == Path(sys.executable).parent
        assert (compat.default_bin_dir() / "aml").exists()


def test_install_refuses_to_shadow_a_real_azure_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = _fake_azure_cli(tmp_path / "azure-cli")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{real.parent}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(AmlError, match="the Azure CLI is on PATH"):
        compat.install_az(bin_dir)
    assert not (bin_dir / "az").exists()
    compat.install_az(bin_dir, force=True)
    assert compat.is_shim(bin_dir / "az")
    # our own shim is not "a real az": installing again needs no --force once the CLI is gone
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    assert compat.real_az_on_path() is None
    compat.install_az(bin_dir)


def test_install_never_replaces_an_azure_cli_in_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _fake_azure_cli(tmp_path / "bin")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    proc = aml("compat", "install-az", "--bin-dir", str(real.parent), cwd=tmp_path, check=False,
               env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "is not aml_magic's `az`" in proc.stderr
    assert "azure-cli" in real.read_text()


# --- end to end: the installed shim on a real project --------------------------------------

IRIS = """\
import sys
from azureml.logging import get_azureml_logger
reg = float(sys.argv[1])
get_azureml_logger().log("Regularization Rate", reg)
print("Accuracy is", round(1.0 - reg / 2, 4))
sys.exit(3 if reg > 5 else 0)
"""

RUN_PY = """\
# as the Workbench Iris sample's run.py: one submit per regularization rate
import os
for reg in (0.01, 10):
    status = os.system('az ml experiment submit -c local ./iris_sklearn.py {}'.format(reg))
    print('status', reg, os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.fixture
def az_bin(tmp_path: Path) -> Path:
    """The shim installed by `aml compat install-az --bin-dir` into a temporary folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = aml("compat", "install-az", "--bin-dir", str(bin_dir), cwd=tmp_path, env=env)
    assert f"installed {bin_dir / 'az'}" in done.stdout
    assert (bin_dir / "az").read_text().startswith(f"#!{sys.executable}\n")
    return bin_dir


def _env(bin_dir: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_az_ml_submit_runs_on_a_real_project_and_exit_codes_pass_through(
        project: Path, az_bin: Path) -> None:
    write(project, "iris_sklearn.py", IRIS)
    # When `az ml experiment submit -c local` runs as a program
    ok = subprocess.run(["az", "ml", "experiment", "submit", "-c", "local", "./iris_sklearn.py",
                         "0.01"], cwd=project, env=_env(az_bin), capture_output=True, text=True)
    # Then it streams the run, exits 0, and the run is in the history with its metric
    assert ok.returncode == 0, ok.stderr
    assert "Accuracy is 0.995" in ok.stdout
    runs = RunStore(project).list_runs()
    assert len(runs) == 1 and runs[0].status.value == "Completed"
    assert RunStore(project).metrics(runs[0].run_id)[0].value == 0.01
    # and the history answers under az as under aml
    listed = subprocess.run(["az", "ml", "history", "list"], cwd=project, env=_env(az_bin),
                            capture_output=True, text=True)
    assert listed.returncode == 0 and runs[0].run_id in listed.stdout
    # When run.py submits through os.system, a failed run is a non-zero status there
    write(project, "run.py", RUN_PY)
    driven = subprocess.run([sys.executable, "run.py"], cwd=project, env=_env(az_bin),
                            capture_output=True, text=True, timeout=120)
    assert "status 0.01 0" in driven.stdout and "status 10 3" in driven.stdout, driven.stderr
    assert sorted(r.status.value for r in RunStore(project).list_runs()) == [
        "Completed", "Completed", "Failed"]


def test_the_shim_answers_what_it_does_not_provide(project: Path, az_bin: Path) -> None:
    def az(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["az", *args], cwd=project, env=_env(az_bin),
                              capture_output=True, text=True)
    login = az("login")
    assert login.returncode == 0 and login.stdout.strip().endswith(guidance.NOT_NEEDED)
    deploy = az("ml", "service", "create", "realtime", "-f", "score.py", "-n", "iris")
    assert deploy.returncode == 2 and deploy.stderr.strip().endswith(DEPLOY)
    vm = az("vm", "list")
    assert vm.returncode == 2 and vm.stderr.strip() == (
        "az vm is the Azure CLI; this `az` only provides `az ml` commands")
    created = az("ml", "project", "create", "-n", "myIris", "-a", "acct", "-g", "rg", "-w", "ws",
                 "--path", str(project.parent), "--template")
    assert created.returncode == 0, created.stderr
    assert (project.parent / "myIris" / "aml_config" / "local.runconfig").is_file()
    typo = az("ml", "experiment", "sumbit", "-c", "local", "x.py")
    assert typo.returncode == 2 and "did you mean 'submit'?" in typo.stderr
    assert "invalid choice" not in typo.stderr and not (project / ".aml" / "runs").exists()


def test_the_shim_answers_without_loading_the_aml_command_line() -> None:
    # the shim starts fast: a one-line answer loads only the guidance table
    code = ("import sys\nsys.argv = ['az', 'login']\nfrom aml_magic.frontends.cli import az\n"
            "assert az.main() == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('aml_magic')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "aml_magic.frontends.cli.main" not in proc.stdout
    assert "aml_magic.frontends.arguments" not in proc.stdout
    assert "aml_magic.frontends.guidance" in proc.stdout


def test_password_stdin_hand_over_then_the_real_input() -> None:
    rest = io.StringIO("y\n")
    stdin = PasswordFirst("s3cret\n", rest)
    assert stdin.readline() == "s3cret\n" and stdin.readline() == "y\n"
    assert stdin.isatty() is False


def test_az_ml_computetarget_attach_with_a_password_on_a_real_sshd(
        project: Path, az_bin: Path, sshd: SshServer) -> None:
    # Given Workbench's spelling: --type T and --password VALUE on the command line
    done = subprocess.run(
        ["az", "ml", "computetarget", "attach", "--type", "remote", "--name", "vm",
         "--address", f"{sshd.host}:{sshd.port}", "--username", sshd.username,
         "--password", sshd.password, "--trust-new-host-key"],
        cwd=project, env=_env(az_bin), capture_output=True, text=True, timeout=120)
    # Then the target is attached and the password kept in the secret store, not the file
    assert done.returncode == 0, done.stderr
    compute = (project / "aml_config" / "vm.compute").read_text()
    assert "aml-secret:" in compute and sshd.password not in compute
    # and a Workbench submit to it runs there, with its exit code
    write(project, "hello.py", "import sys\nprint('hello from', sys.argv[1])\nsys.exit(4)\n")
    ran = subprocess.run(["az", "ml", "experiment", "submit", "-c", "vm", "hello.py", "vm"],
                         cwd=project, env=_env(az_bin), capture_output=True, text=True,
                         timeout=300)
    assert "hello from vm" in ran.stdout and ran.returncode == 4, ran.stderr
