"""A notebook's Interrupt is SIGINT to the kernel's whole process group (jupyter_client's
``killpg``): it must not kill the ``docker`` commands aml_magic runs for it (a run widget's
refresh, a submit's image check), and a ``docker`` command that a signal did end gets the one
actionable line that every front end shows (``DockerCli.error``), not ``exit code -2``.
Real processes and real signals; the ``docker`` here is a script standing in for the client,
because a real client on a healthy engine answers before any signal could reach it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aml_magic.targets.container.engine import DockerCli, EngineError
from aml_magic.transports.local import LocalTransport
from tests._wait import wait_until

REPO = Path(__file__).resolve().parents[2]

KERNEL = """\
import signal, sys
from aml_magic.transports.local import LocalTransport
# as ipykernel does: SIGINT interrupts the cell, it does not end the kernel
signal.signal(signal.SIGINT, lambda *_: print("kernel interrupted", flush=True))
result = LocalTransport().run(["sh", "-c", "touch started; sleep 1; echo answered"], check=False)
print("exit", result.exit_code, result.stdout.decode().strip(), flush=True)
"""


def test_an_interrupt_of_the_kernels_group_does_not_kill_its_commands(tmp_path: Path) -> None:
    # Given a kernel-like process (its own process group, as jupyter_client starts kernels)
    # waiting on a command through the local transport
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, start_new_session=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: (tmp_path / "started").exists(), 30, "the command started")
        # When the front end interrupts the kernel: SIGINT to its whole process group
        os.killpg(kernel.pid, signal.SIGINT)
        out, _ = kernel.communicate(timeout=30)
    finally:
        if kernel.poll() is None:
            kernel.kill()
    # Then the kernel saw the interrupt and its command still answered
    assert "kernel interrupted" in out
    assert "exit 0 answered" in out, out


@pytest.mark.parametrize(("sig", "said"), [(signal.SIGINT, "interrupted (SIGINT)"),
                                           (signal.SIGKILL, "killed by SIGKILL")])
def test_a_docker_command_ended_by_a_signal_is_one_actionable_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals, said: str) -> None:
    # Given a `docker` client that a signal ends before it says anything
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(f"#!/bin/sh\nkill -{sig.name[3:]} $$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    # When the image is looked up (the first engine command of a submit or prepare)
    with pytest.raises(EngineError) as raised:
        DockerCli(LocalTransport(), where="docker").image("aml-env:1")
    # Then one line names the target, the command, the signal and what to check
    message = str(raised.value)
    assert "\n" not in message and "exit code" not in message
    assert message.startswith("target 'docker': docker image inspect on this machine was "
                              f"{said} before the Docker engine answered")
    assert "`docker info`" in message
