"""Two suites on one machine do not disturb each other: each session's sshd has its own random
user, removed at the end with its processes and home; users of crashed sessions are reclaimed."""
from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from aml_magic.errors import TargetError
from aml_magic.transports.ssh import SshTransport
from tests._wait import wait_until
from tests.fixtures.sshd import (USER_COMMENT, SshServer, pids_of_uid, remove_abandoned_users,
                                 session_user_name, start_sshd)


def whoami(server: SshServer, *, key_of: SshServer | None = None) -> str:
    with SshTransport(server.host, server.port, server.username,
                      key_path=str((key_of or server).client_key_path),
                      pinned_fingerprint=server.host_key_fingerprint, connect_timeout=10) as ssh:
        return ssh.run(["whoami"]).stdout.decode().strip()


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_a_second_session_gets_its_own_user_and_leaves_nothing_behind(
        sshd: SshServer, tmp_path: Path) -> None:
    # Given this session's server, When a second "session" starts its own beside it
    other = start_sshd(tmp_path)
    try:
        # Then the users differ, are random, and each key opens only its own account
        assert other.username != sshd.username
        assert sshd.username.startswith("amlt_") and other.username.startswith("amlt_")
        assert whoami(sshd) == sshd.username and whoami(other) == other.username
        with pytest.raises(TargetError):
            whoami(sshd, key_of=other)
        # When the second one ends with a process of its user still running
        subprocess.Popen(["runuser", "-u", other.username, "--", "sleep", "300"],
                         start_new_session=True)
        uid = pwd.getpwnam(other.username).pw_uid
        wait_until(lambda: pids_of_uid(uid), 30, f"a process of {other.username} runs")
    finally:
        other.stop()
        other.remove_user()
    # Then its user and home are gone, and this session's server is untouched
    assert not user_exists(other.username)
    assert not os.path.exists(other.home)
    assert whoami(sshd) == sshd.username


def test_users_of_crashed_sessions_are_reclaimed_live_ones_kept(sshd: SshServer) -> None:
    # Given a leftover user whose owning session (a pid) no longer exists
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = session_user_name()
    subprocess.run(["useradd", "--create-home", "--comment", f"{USER_COMMENT}{dead.pid}", name],
                   check=True)
    try:
        # When a session starts (it reclaims abandoned users)
        remove_abandoned_users()
        # Then the leftover is gone, while this live session's user stays
        assert not user_exists(name)
        assert user_exists(sshd.username)
    finally:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
