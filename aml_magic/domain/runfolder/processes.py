"""Signals go only to what the host recorded from its own side at launch (the agent's pid,
start time and session, from the launcher's answer), identity checked by
``aml_magic.agent.proctool`` on the target; never to an id read from the run folder."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping

from aml_magic.agent.proctool import is_same, kill_session, signal_process
from aml_magic.agent import AGENT_DIR
from aml_magic.domain.target_state import TargetState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Runs PYTHON (``~/`` expanded on the target) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'
_PROCTOOL = AGENT_DIR / "proctool.py"


def launch_identity(answer: Mapping[str, object]) -> tuple[int, int] | None:
    """``(agent_start, agent_sid)`` from the launcher's answer (written by the supervisor
    before any run code ran, so trusted); None when an older agent did not send them."""
    start, sid = answer.get("start"), answer.get("sid")
    if type(start) is int and type(sid) is int and start > 0 and sid > 1:
        return start, sid
    return None


def proc_over(transport: Any, python: str, op: str,
              target_state: TargetState) -> bool | None:
    """Run a proctool operation (``alive``, ``signal`` = SIGTERM to the agent, ``kill-session``)
    on the target for the agent recorded in ``target_state``. ``alive``: True/False, or None
    when it cannot be told; the others: whether anything was signalled."""
    pid, start, sid = target_state.agent_pid, target_state.agent_start, target_state.agent_sid
    if pid is None or pid <= 1:
        return None
    if start is None:                           # recorded by an older version: probe only
        if op != "alive":
            return False
        return transport.run(["kill", "-0", str(pid)], check=False, timeout=20).exit_code == 0
    if op == "kill-session" and sid is None:
        return False
    args: list[int] = {"alive": [pid, start], "signal": [pid, start, 15],
                       "kill-session": [int(sid or 0), start]}[op]
    argv = ["sh", "-c", _EXEC_PYTHON, "sh", python, "-S", "-E", "-c",
            _PROCTOOL.read_text(encoding="utf-8"), op, *[str(a) for a in args]]
    result = transport.run(argv, check=False, timeout=30)
    try:
        answer = json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1])
        value = next(iter(answer.values()))
    except (ValueError, IndexError, StopIteration, AttributeError, UnicodeDecodeError):
        return None
    return bool(value) if op != "kill-session" else int(value) > 0


def local_alive(target_state: TargetState) -> bool | None:
    """``proc_over(..., "alive", ...)`` on this machine, without starting a process."""
    pid, start = target_state.agent_pid, target_state.agent_start
    if pid is None or pid <= 1:
        return None
    if start is not None:
        return is_same(pid, start)
    try:                                          # recorded by an older version: probe only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_signal_agent(target_state: TargetState, signum: int = 15) -> bool:
    pid, start = target_state.agent_pid, target_state.agent_start
    return pid is not None and start is not None and signal_process(pid, start, signum)


def local_kill_session(target_state: TargetState) -> int:
    sid, start = target_state.agent_sid, target_state.agent_start
    return kill_session(sid, start) if sid is not None and start is not None else 0
