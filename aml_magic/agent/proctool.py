"""Process identity on the target, from /proc (stdlib only, Python 3.9+, Linux).

The host never signals a process id it read from a file the run can write. It records, from the
launcher's answer (produced by the supervisor before any run code executes), the agent's pid,
its start time (``/proc/PID/stat`` field 22, clock ticks since boot) and its session id; the
script runs inside that session (its own process group, not its own session). Before it
signals, the host checks the identity here: a pid whose start time differs is another process
(the pid was reused), and a session is only ever killed while its leader is gone (our session's
leader, the launcher's middle process, exits at once; Linux does not reuse a pid while a session
or group still carries it), so a live process with pid == session id means the number now names
someone else's session.

Imported by the host for the local targets (``aml_magic.domain.runfolder``) and shipped as the source
of ``PYTHON -S -E -c <this file> OP ARGS...`` to remote ones; prints one JSON line.
"""
from __future__ import annotations

import os
import sys


def proc_stat(pid: int) -> dict[str, int] | None:
    """``{"state", "ppid", "pgid", "sid", "start"}`` of a live process, or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            raw = fh.read(4096)
        fields = raw.rsplit(b")", 1)[1].split()
        return {"state": fields[0][0], "ppid": int(fields[1]), "pgid": int(fields[2]),
                "sid": int(fields[3]), "start": int(fields[19])}
    except (OSError, IndexError, ValueError):
        return None


def self_identity() -> dict[str, int]:
    """What the supervisor puts in its answer: its pid, start time and session id."""
    stat = proc_stat(os.getpid()) or {}
    return {"pid": os.getpid(), "start": stat.get("start", 0), "sid": stat.get("sid", 0)}


def is_same(pid: int, start: int) -> bool:
    """True while ``pid`` is the process that started at ``start`` and is not a zombie."""
    stat = proc_stat(pid)
    return (stat is not None and int(start) > 0 and stat["start"] == int(start)
            and stat["state"] not in (ord("Z"), ord("X")))


def signal_process(pid: int, start: int, signum: int) -> bool:
    """Signal ``pid`` only if it is still the recorded process; True when signalled."""
    if int(pid) <= 1 or not is_same(pid, start):
        return False
    try:
        os.kill(int(pid), int(signum))
        return True
    except (ProcessLookupError, PermissionError):
        return False


def session_members(sid: int, start: int) -> list[int]:
    """Live processes of session ``sid`` that started no earlier than the agent did. Empty
    when the number may name another session (its leader is alive: ours exited at launch)."""
    sid, start = int(sid), int(start)
    if sid <= 1 or start <= 0 or proc_stat(sid) is not None:
        return []
    members: list[int] = []
    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        stat = proc_stat(int(name))
        if (stat is not None and stat["sid"] == sid and stat["start"] >= start
                and stat["state"] not in (ord("Z"), ord("X"))):
            members.append(int(name))
    return members


def kill_session(sid: int, start: int, signum: int = 9) -> int:
    """Signal every member of the run's session (see ``session_members``); how many."""
    count = 0
    for pid in session_members(sid, start):
        try:
            os.kill(pid, int(signum))
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    return count


def main(argv: list[str]) -> int:
    """``alive PID START`` | ``signal PID START SIG`` | ``kill-session SID START``."""
    try:
        op, args = argv[1], [int(a) for a in argv[2:]]
        if op == "alive" and len(args) == 2:
            answer: dict[str, object] = {"alive": is_same(args[0], args[1])}
        elif op == "signal" and len(args) == 3:
            answer = {"signalled": signal_process(args[0], args[1], args[2])}
        elif op == "kill-session" and len(args) == 2:
            answer = {"killed": kill_session(args[0], args[1])}
        else:
            raise ValueError(op)
    except (IndexError, ValueError):
        sys.stderr.write("usage: proctool alive PID START | signal PID START SIG | "
                         "kill-session SID START\n")
        return 2
    import json  # here: the supervisor imports this module and avoids json's import cost
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
