"""A Docker engine driven by the ``docker`` command line through a ``Transport``.

The same code reaches this machine's engine (``LocalTransport``: ``DOCKER_HOST`` is honoured as
the CLI honours it) and a VM's engine (the pinned SSH transport: no client with a host-key
policy of its own). Failures that have a known cause (no Docker, no access to the engine, an
image that is missing, a full disk) become one line naming the target and what to do.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from aml_magic.errors import TargetError
from aml_magic.transports.base import CommandResult, Transport


@dataclass
class ImageInfo:
    """What the environment logic needs of an image."""
    id: str
    labels: dict[str, str] = field(default_factory=dict)


# $1 status.json, $2 the container's name, then `docker run` arguments. Runs the container
# with only stdin attached, fed this command's stdin (the launch spec; `run -i` closes the
# container's stdin after it), waits until the agent has written status.json (or the client
# ended), drops the client (SIGKILL; `--sig-proxy=false` anyway) and prints
# "ID STATUS PID ERROR", then the first 16 KB of status.json. The client's own errors (an
# image or mount it cannot use, no access to the engine) go to stderr.
_RUN_ATTACHED = r"""s=$1; c=$2; shift 2
exec 3<&0 </dev/null
docker run --attach stdin --sig-proxy=false "$@" <&3 >/dev/null &
a=$!
exec 3<&-
n=0
while [ ! -s "$s" ] && kill -0 "$a" 2>/dev/null && [ "$n" -lt 3000 ]; do
  n=$((n+1)); sleep 0.01
done
kill -9 "$a" 2>/dev/null
wait "$a" 2>/dev/null
f="{{.Id}} {{.State.Status}} {{.State.Pid}} {{json .State.Error}}"
i=$(docker container inspect --format "$f" "$c") || exit 125
echo "$i"
head -c 16384 "$s" 2>/dev/null
exit 0
"""
# $1 container, $2 log file: once the container has stopped (up to 5 s), keep its output as the
# log file (created exclusively, renamed over: never written through a link) and remove it.
_RETIRE = r"""c=$1; log=$2
state() { docker container inspect --format '{{.State.Status}}' "$c" 2>/dev/null; }
st=$(state) || exit 0
n=0
while [ "$st" = running ] && [ "$n" -lt 100 ]; do
  sleep 0.05; n=$((n+1)); st=$(state) || exit 0
done
[ "$st" = running ] && exit 3
t="$log.tmp-$$"
if (set -C; docker logs "$c" > "$t" 2>&1) && [ -s "$t" ]; then mv -fT "$t" "$log"; fi
rm -f "$t"
docker rm --force --volumes "$c" >/dev/null
"""


class EngineError(TargetError):
    """The engine refused or failed a command."""


class DockerCli:
    """``docker [-H HOST] ...`` over ``transport``; ``where`` names the target in messages."""

    def __init__(self, transport: Transport, *, host: str | None = None,
                 where: str = "docker", machine: str = "this machine",
                 user: str | None = None) -> None:
        self.transport = transport
        self.host = host
        self.where = where
        self.machine = machine
        self.user = user

    def argv(self, *args: str) -> list[str]:
        return ["docker", *(["-H", self.host] if self.host else []), *args]

    def shell(self, script: str, *args: str) -> list[str]:
        """``sh -c SCRIPT`` on the machine, its ``docker`` commands on this engine."""
        prefix = ["env", f"DOCKER_HOST={self.host}"] if self.host else []
        return [*prefix, "sh", "-c", script, "sh", *args]

    def run(self, *args: str, stdin: bytes | None = None, timeout: float | None = 120,
            check: bool = True) -> CommandResult:
        result = self._run_once(args, stdin, timeout)
        relogin = getattr(self.transport, "relogin", None)
        if _denied(result) and relogin is not None:
            # a kept connection predates the user's membership of the docker group (groups
            # are fixed at login): log in again once, as the message tells a person to do
            relogin()
            result = self._run_once(args, stdin, timeout)
        if check and result.exit_code != 0:
            raise self.error(result, args[0] if args else "docker")
        return result

    def _run_once(self, args: tuple[str, ...], stdin: bytes | None,
                  timeout: float | None) -> CommandResult:
        try:
            result: CommandResult = self.transport.run(self.argv(*args), stdin=stdin,
                                                       timeout=timeout, check=False)
        except TargetError as exc:
            if "cannot run 'docker'" in str(exc):         # LocalTransport: no such command
                return CommandResult(127, b"", b"docker: not found")
            raise
        return result

    def error(self, result: CommandResult, what: str) -> EngineError:
        """The one line for a failed ``docker`` command."""
        err = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        low = err.lower()
        if result.exit_code == 127 or "docker: not found" in low or "command not found" in low:
            return EngineError(f"target '{self.where}': Docker is not installed on "
                               f"{self.machine} (no `docker` command); install Docker Engine "
                               "there, then prepare again")
        if _denied(result):
            who = f"user '{self.user}'" if self.user else "this user"
            return EngineError(f"target '{self.where}': {who} may not use the Docker engine on "
                               f"{self.machine}; add the user to the docker group (sudo usermod "
                               "-aG docker USER) and log in again")
        if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
            return EngineError(f"target '{self.where}': the Docker engine on {self.machine} is "
                               f"not running or not reachable ({_first_line(err)}); start it "
                               "(or set dockerHost in the .compute) and try again")
        if result.exit_code < 0 and not err:    # killed by a signal before it said anything
            return EngineError(f"target '{self.where}': docker {what} on {self.machine} was "
                               f"{_signal_text(-result.exit_code)} before the Docker engine "
                               "answered; check that the engine answers (`docker info`; "
                               "restart it if that hangs) and try again")
        if "no space left on device" in low:
            return EngineError(f"target '{self.where}': the disk of {self.machine} is full "
                               f"(docker {what}); free space there (docker system prune) and "
                               "try again")
        return EngineError(f"target '{self.where}': docker {what} failed on {self.machine}: "
                           f"{_first_line(err) or f'exit code {result.exit_code}'}")

    # -- images -----------------------------------------------------------------------------
    def image(self, ref: str) -> ImageInfo | None:
        """The image, or None when the engine lacks it (one command)."""
        result = self.run("image", "inspect", "--format",
                          "{{json .Id}}\t{{json .Config.Labels}}", ref, check=False)
        if result.exit_code != 0:
            if b"no such image" in result.stderr.lower():
                return None
            raise self.error(result, "image inspect")
        ident, _, labels = result.stdout.decode().strip().partition("\t")
        return ImageInfo(json.loads(ident), json.loads(labels or "null") or {})

    def pull(self, ref: str) -> CommandResult:
        return self.run("pull", "--quiet", ref, timeout=1800, check=False)

    def remove_image(self, ref: str) -> None:
        self.run("image", "rm", "--force", ref, check=False)

    def architecture(self) -> str:
        return self.run("info", "--format", "{{.Architecture}}").stdout.decode().strip()

    def run_quick(self, image: str, command: list[str]) -> str:
        """``docker run --rm --network none IMAGE COMMAND``: its standard output."""
        out = self.run("run", "--rm", "--network", "none", image, *command, timeout=300)
        return out.stdout.decode("utf-8", "replace")

    # -- containers -------------------------------------------------------------------------
    def create(self, options: list[str], image: str, command: list[str]) -> str:
        result = self.run("create", *options, image, *command)
        return result.stdout.decode().strip().splitlines()[-1]

    def copy_in(self, container: str, tar: bytes, dest: str = "/") -> None:
        self.run("cp", "-", f"{container}:{dest}", stdin=tar, timeout=600)

    def start_streaming(self, container: str, on_line: Callable[[str], None],
                        timeout: float | None = None) -> int:
        """``docker start -a``: output line by line; the container's exit code."""
        return self.transport.stream(self.argv("start", "-a", container), on_line=on_line,
                                     timeout=timeout)

    def commit(self, container: str, ref: str, changes: list[str]) -> None:
        args: list[str] = []
        for change in changes:
            args += ["--change", change]
        self.run("commit", *args, container, ref, timeout=1800)

    def run_attached(self, name: str, options: list[str], image: str, command: list[str], *,
                     status_file: str, stdin: bytes,
                     timeout: float) -> tuple[str, str, int | None, str, bytes]:
        """One command: ``docker run`` named ``name`` fed ``stdin``, until ``status_file``
        exists; returns (container id, status, init's pid, engine error, start of
        status.json)."""
        result = self.transport.run(
            self.shell(_RUN_ATTACHED, status_file, name, "--name", name, *options, image,
                       *command),
            stdin=stdin, timeout=timeout, check=False)
        first, _, status_raw = result.stdout.partition(b"\n")
        words = first.decode("utf-8", "replace").strip().split(" ", 3)
        if result.exit_code != 0 or len(words) < 3:
            self.remove(name)
            raise self.error(result, "run")
        pid = int(words[2]) if words[2].isdigit() and int(words[2]) > 0 else None
        error = json.loads(words[3]) if len(words) > 3 else ""
        return words[0], words[1], pid, str(error or ""), status_raw

    def retire(self, container: str, log_file: str, *, wait: bool = False) -> None:
        """Keep a stopped container's output as ``log_file``, then remove it: one command,
        left running in the background on the machine unless ``wait`` (the run's end is
        recorded meanwhile; nothing waits for the clean-up)."""
        argv = self.shell(_RETIRE, container, log_file)
        if not wait:
            argv = ["sh", "-c", '(trap "" HUP; "$@") >/dev/null 2>&1 </dev/null &', "sh", *argv]
        self.transport.run(argv, timeout=60, check=False)

    def wait_stopped(self, container: str, timeout: float) -> None:
        """Return when the container stops or ``timeout`` seconds pass (one command)."""
        self.transport.run(self.shell(f"timeout {timeout:.2f} docker wait \"$1\" >/dev/null",
                                      container), timeout=timeout + 30, check=False)

    def state(self, container: str) -> dict[str, Any] | None:
        """The container's ``State`` (Status, Pid, ExitCode, ...), None when it is gone."""
        result = self.run("container", "inspect", "--format", "{{json .State}}", container,
                          check=False, timeout=30)
        if result.exit_code != 0:
            if b"no such" in result.stderr.lower():
                return None
            raise self.error(result, "container inspect")
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    def inspect(self, container: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.run("container", "inspect", container).stdout)[0]
        return value

    def logs(self, container: str) -> bytes:
        result = self.run("logs", container, check=False, timeout=60)
        return result.stdout + result.stderr

    def remove(self, container: str) -> None:
        self.run("rm", "--force", "--volumes", container, check=False, timeout=60)

    def list_by_label(self, label: str) -> list[str]:
        out = self.run("ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={label}")
        return out.stdout.decode().split()


def _denied(result: CommandResult) -> bool:
    """The engine refused this user (not in the docker group, or not yet in this login)."""
    if result.exit_code == 0:
        return False
    low = (result.stderr or result.stdout).decode("utf-8", "replace").lower()
    return "permission denied" in low and ("docker.sock" in low or "daemon socket" in low)


def _signal_text(number: int) -> str:
    """``interrupted (SIGINT)`` / ``killed by SIGKILL``: how a signal ended a command."""
    import signal                       # only on this error path
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"interrupted ({name})" if name == "SIGINT" else f"killed by {name}"


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def dockerfile_quote(value: str) -> str:
    """A value for ``docker commit --change 'LABEL k=...'`` (Dockerfile syntax)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


__all__ = ["DockerCli", "EngineError", "ImageInfo", "dockerfile_quote"]
