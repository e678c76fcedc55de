"""What clients ship and how they start it."""
from __future__ import annotations

from aml_magic.agent import AGENT_DIR, agent_files, launch_command


def test_every_agent_source_file_is_shipped() -> None:
    # Given the agent folder; When listing what clients ship
    shipped = set(agent_files())
    on_disk = {p.relative_to(AGENT_DIR).as_posix() for p in AGENT_DIR.rglob("*.py")
               if "__pycache__" not in p.parts} - {"__init__.py"}
    # Then every source file is shipped (a file added but not shipped would break remote runs)
    assert shipped == on_disk
    assert all(isinstance(data, bytes) and data for data in agent_files().values())


def test_launch_command_runs_supervisor_without_site() -> None:
    # Given a target's python and folders; When building the command; Then it is the contract's
    assert launch_command("/usr/bin/python3", "/r/x/.agent/", "/r/x") == [
        "/usr/bin/python3", "-S", "-E", "/r/x/.agent/supervisor.py", "launch", "/r/x"]


def test_the_client_and_the_shipped_agent_name_the_guess_alike() -> None:
    # Given the client's names for the launcher's guess and the agent's own (shipped
    # standalone, so written twice); Then they agree
    from aml_magic import agent
    from aml_magic.agent import _prestart
    assert (agent.GUESS_VARIABLE, agent.GUESS_ON_STDIN) == (
        _prestart.GUESS_VARIABLE, _prestart.GUESS_ON_STDIN)
    # and the folder is the same as a string and as a Path
    assert str(agent.AGENT_DIR) == agent.AGENT_FOLDER == str(AGENT_DIR)


def test_a_launcher_waiting_for_its_guess_exits_quietly_when_its_command_goes(tmp_path) -> None:
    # Given a launcher spawned as the aml program spawns it (the guess to come on its stdin)
    import os
    import sys
    from aml_magic.agent import GUESS_ON_STDIN, GUESS_VARIABLE, spawn_launcher
    launcher = spawn_launcher(sys.executable, {**os.environ, GUESS_VARIABLE: GUESS_ON_STDIN})
    # When the command ends before it told the guess (its input closes)
    launcher.cancel()
    # Then the launcher exits 0, having started nothing
    _, status = os.waitpid(launcher.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
