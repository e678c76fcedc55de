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
