"""Signals go only to what the host recorded from its own side at launch (the agent's pid,
start time and session, from the launcher's answer), identity checked by
``aml_magic.agent.proctool`` on the target; never to an id read from the run folder."""
from __future__ import annotations

import json
import os
from typing import Any

from aml_magic.agent.proctool import is_same, kill_session, signal_process
from aml_magic.agent import AGENT_DIR

#: Runs PYTHON (``~/`` expanded on the target) with the remaining arguments.
_EXEC_PYTHON = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}";; esac; exec "$p" "$@"'
_PROCTOOL = AGENT_DIR / "proctool.py"


def launch_identity(answer: dict[str, Any]) -> dict[str, int]:
    """``agent_start``/``agent_sid`` from the launcher's answer (written by the supervisor
    before any run code ran, so trusted); empty when an older agent did not send them."""
    start, sid = answer.get("start"), answer.get("sid")
    if type(start) is int and type(sid) is int and start > 0 and sid > 1:
        return {"agent_start": start, "agent_sid": sid}
    return {}


def proc_over(transport: Any, python: str, op: str, target_state: dict[str, Any]) -> bool | None:
    """Run a proctool operation (``alive``, ``signal`` = SIGTERM to the agent, ``kill-session``)
    on the target for the agent recorded in ``target_state``. ``alive``: True/False, or None
    when it cannot be told; the others: whether anything was signalled."""
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    sid = target_state.get("agent_sid")
    if type(pid) is not int or pid <= 1:
        return None
    if type(start) is not int:                  # recorded by an older version: probe only
        if op != "alive":
            return False
        return transport.run(["kill", "-0", str(pid)], check=False, timeout=20).exit_code == 0
    if op == "kill-session" and type(sid) is not int:
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


def local_alive(target_state: dict[str, Any]) -> bool | None:
    """``proc_over(..., "alive", ...)`` on this machine, without starting a process."""
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    if type(pid) is not int or pid <= 1:
        return None
    if type(start) is int:
        return is_same(pid, start)
    try:                                          # recorded by an older version: probe only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_signal_agent(target_state: dict[str, Any], signum: int = 15) -> bool:
    pid, start = target_state.get("agent_pid"), target_state.get("agent_start")
    return type(pid) is int and type(start) is int and signal_process(pid, start, signum)


def local_kill_session(target_state: dict[str, Any]) -> int:
    sid, start = target_state.get("agent_sid"), target_state.get("agent_start")
    return kill_session(sid, start) if type(sid) is int and type(start) is int else 0
