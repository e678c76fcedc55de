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

from ..errors import TargetError
from ..transports.base import CommandResult, Transport


@dataclass
class ImageInfo:
    """What the environment logic needs of an image."""
    id: str
    labels: dict[str, str] = field(default_factory=dict)


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

    def run(self, *args: str, stdin: bytes | None = None, timeout: float | None = 120,
            check: bool = True) -> CommandResult:
        try:
            result = self.transport.run(self.argv(*args), stdin=stdin, timeout=timeout,
                                        check=False)
        except TargetError as exc:
            if "cannot run 'docker'" in str(exc):         # LocalTransport: no such command
                result = CommandResult(127, b"", b"docker: not found")
            else:
                raise
        if check and result.exit_code != 0:
            raise self.error(result, args[0] if args else "docker")
        return result

    def error(self, result: CommandResult, what: str) -> EngineError:
        """The one line for a failed ``docker`` command."""
        err = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        low = err.lower()
        if result.exit_code == 127 or "docker: not found" in low or "command not found" in low:
            return EngineError(f"target '{self.where}': Docker is not installed on "
                               f"{self.machine} (no `docker` command); install Docker Engine "
                               "there, then prepare again")
        if "permission denied" in low and ("docker.sock" in low or "daemon socket" in low):
            who = f"user '{self.user}'" if self.user else "this user"
            return EngineError(f"target '{self.where}': {who} may not use the Docker engine on "
                               f"{self.machine}; add the user to the docker group (sudo usermod "
                               "-aG docker USER) and log in again")
        if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
            return EngineError(f"target '{self.where}': the Docker engine on {self.machine} is "
                               f"not running or not reachable ({_first_line(err)}); start it "
                               "(or set dockerHost in the .compute) and try again")
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


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def dockerfile_quote(value: str) -> str:
    """A value for ``docker commit --change 'LABEL k=...'`` (Dockerfile syntax)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


__all__ = ["DockerCli", "EngineError", "ImageInfo", "dockerfile_quote"]
