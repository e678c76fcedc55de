"""The magics driven through a real IPython shell (run_line_magic / run_cell_magic) against
real projects and the real local target."""
from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from aml_magic.domain.history.status import RunStatus
from tests._require import require, require_module

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

TRAIN_CELL = """\
import os, sys
from azureml.logging import get_azureml_logger
log = get_azureml_logger()
print("hello from the cell", sys.argv[1:])
for i in range(3):
    log.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
%time x = 1
"""


def line(ip: Any, name: str, text: str = "") -> tuple[Any, Any]:
    with capture_output() as cap:
        result = ip.run_line_magic(name, text)
    return result, cap


def cell(ip: Any, name: str, text: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        result = ip.run_cell_magic(name, text, body)
    return result, cap


def remote_available(project: Path) -> None:
    """The remote target comes from its own module; without it the password tests cannot run."""
    from aml_magic.errors import AmlError
    from aml_magic.targets import target_class
    try:
        target_class("remote")
    except AmlError as err:
        require(False, f"remote compute type missing: {err}")


def one_error_line(cap: Any) -> str:
    lines = cap.stderr.strip().splitlines()
    assert len(lines) == 1, cap.stderr
    assert "Traceback" not in cap.stderr and lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def project(ip: Any, magics: Any, tmp_path: Path) -> Path:
    _, cap = line(ip, "aml_init", "proj")
    assert "Project ready" in cap.stdout
    return tmp_path / "proj"


def test_no_project_says_how_to_make_one(ip: Any, magics: Any) -> None:
    # Given a working directory outside any project, when a magic needs one
    _, cap = line(ip, "aml_runs")
    # Then one line names %aml_init and aml init
    error = one_error_line(cap)
    assert "%aml_init" in error and "aml init" in error


def test_cell_submit_exports_runs_and_shows_widget(ip: Any, project: Path) -> None:
    # When a cell is submitted with --name and --wait
    run, cap = cell(ip, "aml_submit", "-c local --name train.py --wait 0.5", TRAIN_CELL)
    # Then the cell went through transform_cell into train.py, ran, and the widget was displayed
    exported = (project / "train.py").read_text()
    assert "get_ipython().run_line_magic('time'" in exported and "def get_ipython" in exported
    assert run.status is RunStatus.COMPLETED
    text, _ = run.log_text(0)
    assert "hello from the cell ['0.5']" in text
    assert [m.value for m in run.metrics() if m.name == "loss"] == [1.0, 0.5, 1.0 / 3]
    assert [a.path for a in run.outputs()] == ["model.txt"]
    bundles = [o.data for o in cap.outputs]
    assert any(WIDGET_VIEW in b and run.id in b["text/plain"] for b in bundles)
    assert cap.stderr == ""


def test_cell_export_never_overwrites_a_users_file(ip: Any, project: Path) -> None:
    # Given a script the user wrote in the project
    users = "print('the user wrote this')\n"
    (project / "train.py").write_text(users)
    # When a cell is submitted with --name naming that file
    run, cap = cell(ip, "aml_submit", "-c local --name train.py --wait", "print('cell one')\n")
    # Then one line refuses and names --force, no run started, and the file is untouched
    error = one_error_line(cap)
    assert "train.py" in error and "--force" in error
    assert run is None and (project / "train.py").read_text() == users
    assert not list(project.glob(".train.py*")), "nothing half-written is left behind"
    # When --force is given, the cell replaces it and runs
    run, cap = cell(ip, "aml_submit", "-c local --name train.py --force --wait",
                    "print('cell one')\n")
    assert run.status is RunStatus.COMPLETED, cap.stderr
    assert "cell one" in (project / "train.py").read_text()
    # And a later cell may replace what the magic itself wrote, without --force
    run, cap = cell(ip, "aml_submit", "-c local --name train.py --wait", "print('cell two')\n")
    assert run.status is RunStatus.COMPLETED, cap.stderr
    assert "cell two" in (project / "train.py").read_text()
    # But once the user edits the exported file, it is theirs again
    (project / "train.py").write_text(users)
    run, cap = cell(ip, "aml_submit", "-c local --name train.py --wait", "print('cell three')\n")
    assert "--force" in one_error_line(cap) and run is None
    assert (project / "train.py").read_text() == users


def test_cell_export_to_a_new_name_needs_no_force(ip: Any, project: Path) -> None:
    # Given no file of that name, the export writes it (and a rerun of the same cell is a no-op)
    for _ in range(2):
        run, cap = cell(ip, "aml_submit", "-c local --name sub/new.py --wait", "print('new')\n")
        assert run.status is RunStatus.COMPLETED, cap.stderr
    assert (project / "sub" / "new.py").read_text().strip() == "print('new')"


def test_cell_without_name_goes_to_content_addressed_file(ip: Any, project: Path) -> None:
    _, cap = cell(ip, "aml_submit", "-c local --wait --out r", "print('anon')\n!echo from-shell\n")
    run = ip.user_ns["r"]
    assert run.status is RunStatus.COMPLETED, cap.stderr
    cells = list((project / ".aml" / "cells").glob("cell_*.py"))
    assert len(cells) == 1 and run.record.script == f".aml/cells/{cells[0].name}"
    text, _ = run.log_text(0)
    assert "anon" in text and "from-shell" in text


def test_line_submit_runs_existing_script(ip: Any, project: Path) -> None:
    (project / "script.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    run, _ = line(ip, "aml_submit", "-c local script.py a 'b c'")
    assert run.wait(timeout=60) is RunStatus.COMPLETED
    assert "args ['a', 'b c']" in run.log_text(0)[0]


def test_own_flags_may_follow_the_scripts_arguments(ip: Any, project: Path) -> None:
    # As documented for the CLI: `submit -c NAME script.py ARGS... --wait`; after `--`, all
    # goes to the script
    (project / "script.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    run, _ = line(ip, "aml_submit", "-c local script.py a --wait -- --wait")
    assert run.record.status is RunStatus.COMPLETED        # waited: already terminal
    assert "args ['a', '--wait']" in run.log_text(0)[0]


@pytest.mark.parametrize("args, expected", [
    ("-c nope x.py", "unknown run configuration 'nope'"),
    ("x.py", "missing -c NAME"),
    ("-c local", "required"),
    ("-c local 'unbalanced", "cannot split"),
    ("--project /nonexistent/place -c local x.py", "%aml_init"),
])
def test_bad_input_is_one_readable_line(ip: Any, project: Path, args: str, expected: str) -> None:
    result, cap = line(ip, "aml_submit", args)
    assert result is None
    error = one_error_line(cap)
    assert expected in error
    if "unknown run configuration" in expected or "missing -c" in expected:
        assert "docker, local" in error


def test_targets_sets_default_run_configuration(ip: Any, project: Path, magics: Any) -> None:
    _, cap = line(ip, "aml_targets")
    assert any("local" in str(o.data) for o in cap.outputs) or "local" in cap.stdout
    line(ip, "aml_targets", "local")
    assert magics.default_runconfig == "local"
    run, cap = cell(ip, "aml_submit", "--wait", "print('default target')")
    assert run is not None and run.record.run_configuration == "local", cap.stderr


def test_targets_picker_widget_sets_default(ip: Any, project: Path, magics: Any) -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.targets_picker import TargetsPicker
    _, cap = line(ip, "aml_targets")
    assert any(WIDGET_VIEW in o.data for o in cap.outputs)
    picker = next(w for w in _all_widgets() if isinstance(w, TargetsPicker))
    picker.dropdown.value = "docker"
    assert magics.default_runconfig == "docker"


def _all_widgets() -> list[Any]:
    from ipywidgets.widgets import widget
    return list(widget._instances.values())


def test_runs_run_and_cancel(ip: Any, project: Path) -> None:
    done, _ = cell(ip, "aml_submit", "-c local --wait", "print('quick')")
    slow, _ = cell(ip, "aml_submit", "-c local",
                   "import time\nfor i in range(200):\n    print('tick', i, flush=True)\n"
                   "    time.sleep(0.1)\n")
    # %aml_runs lists both; filters narrow the list
    _, cap = line(ip, "aml_runs")
    table = cap.outputs[-1].data["text/plain"]
    assert done.id in table and slow.id in table
    _, cap = line(ip, "aml_runs", "--status Completed")
    table = cap.outputs[-1].data["text/plain"]
    assert done.id in table and slow.id not in table
    # %aml_run re-attaches a widget to an existing run
    again, cap = line(ip, "aml_run", done.id)
    assert again.id == done.id and any(WIDGET_VIEW in o.data for o in cap.outputs)
    # %aml_cancel stops the running one
    _, cap = line(ip, "aml_cancel", slow.id)
    assert "Canceled" in cap.stdout, cap.stderr
    _, cap = line(ip, "aml_cancel", done.id)
    assert "already ended" in one_error_line(cap)
    _, cap = line(ip, "aml_run", "proj_0000000000000_ffff")
    one_error_line(cap)


def test_prepare_local_says_nothing_to_prepare(ip: Any, project: Path) -> None:
    _, cap = line(ip, "aml_prepare", "-c local")
    assert cap.stderr == "" and cap.stdout.strip()
    assert "nothing to prepare" in cap.stdout.lower() or "user-managed" in cap.stdout.lower()
    _, cap = line(ip, "aml_prepare", "")
    assert "missing -c" in one_error_line(cap)


def test_attach_local_writes_pair(ip: Any, project: Path) -> None:
    _, cap = line(ip, "aml_attach", "local --name cpu")
    assert (project / "aml_config" / "cpu.compute").is_file()
    assert (project / "aml_config" / "cpu.runconfig").is_file()
    assert "-c cpu" in cap.stdout
    _, cap = line(ip, "aml_attach", "local --name cpu")
    assert "already exists" in one_error_line(cap)
    _, cap = line(ip, "aml_attach", "martian --name x")
    one_error_line(cap)


def test_attach_without_arguments_shows_form(ip: Any, project: Path) -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.attach_form import AttachForm
    _, cap = line(ip, "aml_attach")
    assert any(WIDGET_VIEW in o.data for o in cap.outputs)
    form = [w for w in _all_widgets() if isinstance(w, AttachForm)][-1]
    form.type.value, form.name.value = "local", "formcpu"
    form.button.click()
    assert (project / "aml_config" / "formcpu.compute").is_file(), form.message.value
    assert "formcpu" in form.message.value


def test_password_is_asked_with_getpass_and_never_stored_in_project(
        ip: Any, project: Path, monkeypatch: pytest.MonkeyPatch, sshd: Any) -> None:
    remote_available(project)
    # Given a password prompt answered by the (monkeypatched) masked getpass
    asked: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or sshd.password)
    # When a remote target is attached with --password
    _, cap = line(ip, "aml_attach",
                  f"remote --name vm --address {sshd.host}:{sshd.port} --username {sshd.username} "
                  f"--password --host-key-fingerprint {sshd.host_key_fingerprint}")
    # Then the prompt was shown, the target attached, and the password is in no project file
    assert asked and sshd.username in asked[0]
    assert (project / "aml_config" / "vm.compute").is_file(), cap.stderr
    secret = sshd.password.encode()
    for path in project.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    assert sshd.password not in cap.stdout + cap.stderr


def test_attach_with_generated_key_shows_authorized_keys_line(
        ip: Any, project: Path, sshd: Any) -> None:
    remote_available(project)
    # When a remote target is attached with -k
    _, cap = line(ip, "aml_attach",
                  f"remote --name keyed --address {sshd.host}:{sshd.port} --username "
                  f"{sshd.username} -k --host-key-fingerprint {sshd.host_key_fingerprint}")
    # Then the public key and the exact line to append to authorized_keys are shown
    assert cap.stderr == "", cap.stderr
    assert ">> ~/.ssh/authorized_keys" in cap.stdout and "ssh-" in cap.stdout
    assert (project / "aml_config" / "keyed.compute").is_file()


def test_unknown_host_key_is_not_pinned_without_asking(
        ip: Any, project: Path, sshd: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    remote_available(project)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": sshd.password)
    # Given a user who answers "no" when asked to pin an unknown host key
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    _, cap = line(ip, "aml_attach", f"remote --name unpinned --address {sshd.host}:{sshd.port} "
                                    f"--username {sshd.username} --password")
    # Then the fingerprint was shown, nothing was written, and one error line says why
    assert sshd.host_key_fingerprint in cap.stdout
    one_error_line(cap)
    assert not (project / "aml_config" / "unpinned.compute").exists()


def test_line_submit_takes_the_target_and_dependency_overrides(ip: Any, project: Path) -> None:
    (project / "t.py").write_text("print('ran')\n")
    # -t names a target: one the project lacks is an error naming it (never a run on 'local')
    _, cap = line(ip, "aml_submit", "-c local -t nope --project proj t.py")
    assert "nope" in one_error_line(cap)
    # -d must be a file in the project, as for `aml experiment submit`
    _, cap = line(ip, "aml_submit", "-c local -d ../elsewhere.yml --project proj t.py")
    assert "-d/--conda-dependencies ../elsewhere.yml: no such file" in one_error_line(cap)
    assert not (project / ".aml" / "runs").exists() or not any(
        (project / ".aml" / "runs").iterdir())
    # and a good one is this run's, the run configuration file unchanged
    (project / "deps").mkdir()
    (project / "deps" / "conda.yml").write_text("dependencies:\n  - python\n")
    run, cap = line(ip, "aml_submit", "-c local -t local -d deps/conda.yml --wait "
                    "--project proj t.py")
    assert run.record.status is RunStatus.COMPLETED, cap.stderr
    assert run.record.config_snapshot["runconfig"]["CondaDependenciesFile"] == "deps/conda.yml"
    assert "deps/conda.yml" not in (project / "aml_config" / "local.runconfig").read_text()
