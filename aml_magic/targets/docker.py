"""The ``docker`` target (files also say ``localdocker``): each run in its own container, made
from the prepared environment image, on the Docker engine of this machine.

The run folder stays the history's run folder, exactly as on the local target: the snapshot is
copied into ``<project>/.aml/runs/<id>/work`` and the container bind-mounts that folder at
``/aml/run`` and the installed agent read-only at ``/aml/agent``. The container's main process
is the agent in the foreground (``supervisor.py run``), so the container lives exactly as long
as the run, and the agent writes ``log.txt``, ``status.json``, ``metrics.jsonl`` and
``outputs.json`` straight into the history's folder. The launch spec (it holds resolved secret
values) goes to the agent on the container's stdin, never into the container's configuration,
where ``docker inspect`` would show it.

Runs use the host's network (``network_mode="host"``): the engines this targets may have no
bridge, and scripts often need the network. Containers are labelled ``org.aml-magic.run=<id>``
and removed once the run's end has been recorded (their own output, the agent's stderr, is
kept as ``agent.log`` in the run folder first). The engine must be on this machine (bind
mounts of host paths); ``DOCKER_HOST`` is honoured.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .. import runfolder
from ..errors import ConfigError, TargetError
from .base import LaunchRequest, PrepareResult, ProgressCallback
from .docker_images import ENV_PYTHON, LABEL, DockerEnvironmentBuilder
from .local import LocalTarget

RUN_MOUNT = "/aml/run"
AGENT_MOUNT = "/aml/agent"
PROJECT_MOUNT = "/aml/project"
SHARE_MOUNT = "/aml/share"
NETWORK_MODE = "host"
CANCEL_GRACE_SECONDS = 3.0


class DockerTarget(LocalTarget):
    """Runs in containers of the environment image built from ``conda_dependencies.yml``."""

    type_name = "docker"
    builds_environments = True
    run_folder_is_local = True

    def __init__(self, compute: Any, *, project_root: Path, secrets: Any) -> None:
        super().__init__(compute, project_root=project_root, secrets=secrets)
        self._client: Any = None
        self._builder: DockerEnvironmentBuilder | None = None

    # -- the engine -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The engine's client (``docker.from_env()``: honours ``DOCKER_HOST``), made once."""
        if self._client is None:
            import docker
            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                where = os.environ.get("DOCKER_HOST") or "the default socket"
                raise TargetError(f"target '{self.compute.name}': cannot reach the Docker engine "
                                  f"at {where}: {_first_line(exc)}. Start Docker (or set "
                                  "DOCKER_HOST) and try again") from None
        return self._client

    @property
    def builder(self) -> DockerEnvironmentBuilder:
        if self._builder is None:
            self._builder = DockerEnvironmentBuilder(self.client)
        return self._builder

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()
            self._client = None
            self._builder = None

    # -- check and prepare ------------------------------------------------------------------
    def check(self, runconfig: Any) -> None:
        if self.compute.native_shared_directory and not self.compute.shared_volumes:
            raise ConfigError(
                f"{self._compute_file()}: nativeSharedDirectory needs 'sharedVolumes: true' on a "
                "Docker target (the folder is mounted into the container); set sharedVolumes: "
                "true or remove nativeSharedDirectory",
                path=str(self.compute.path) if self.compute.path else None)

    def prepare(self, runconfig: Any, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False) -> PrepareResult:
        """Build the run configuration's environment image unless it exists (then: one lookup)."""
        started = time.monotonic()
        image, identity, built = self._environment(runconfig, build=build,
                                                   on_progress=on_progress, strict=strict)
        seconds = time.monotonic() - started
        tag = self.builder.image_tag(identity)
        if built:
            installer = (image.labels or {}).get(f"{LABEL}installer", "?")
            message = f"environment {identity} built with {installer} in {seconds:.1f} s " \
                      f"(image {tag})"
        else:
            message = f"environment {identity} reused (image {tag})"
        return PrepareResult(built, message, environment_hash=identity, seconds=seconds)

    def _environment(self, runconfig: Any, *, build: bool, on_progress: ProgressCallback | None,
                     strict: bool = False) -> tuple[Any, str, bool]:
        """(image, identity, built now): the existing image, or a new one when ``build``."""
        from ..config import ProjectConfig
        from ..environment import plan_environment
        base = self._base_image()
        conda = ProjectConfig(self.project_root).conda_dependencies(runconfig)
        plan = plan_environment(conda, base_image=base,
                                framework=getattr(runconfig, "framework", "Python"))
        image = self.builder.find(plan.identity)
        if image is not None:
            unhonoured = json.loads((image.labels or {}).get(f"{LABEL}unhonoured") or "[]")
            if strict and unhonoured:
                raise ConfigError(
                    f"environment {plan.identity} (image {self.builder.image_tag(plan.identity)}) "
                    "was built without these specifications, which the image cannot honour: "
                    + ", ".join(unhonoured) + "; change conda_dependencies.yml or "
                    "baseDockerImage", path=self._compute_file())
            if unhonoured and on_progress is not None:
                on_progress("warning: this environment was built without "
                            + ", ".join(unhonoured) + " (the image cannot honour them)")
            return image, plan.identity, False
        self.builder.ensure(plan, base, build=build, runconfig=runconfig.name,
                            on_progress=on_progress, target=self.compute.name, strict=strict,
                            compute_file=self._compute_file())
        image = self.builder.find(plan.identity)
        if image is None:                         # pragma: no cover - the engine lost it
            raise TargetError(f"the environment image {self.builder.image_tag(plan.identity)} "
                              "vanished right after it was built")
        return image, plan.identity, True

    def _base_image(self) -> str:
        from ..config.templates import DEFAULT_DOCKER_IMAGE
        return (self.compute.base_docker_image or DEFAULT_DOCKER_IMAGE).strip()

    def _compute_file(self) -> str:
        return str(self.compute.path) if self.compute.path else f"{self.compute.name}.compute"

    # -- submit -----------------------------------------------------------------------------
    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        """Ensure the environment, copy the snapshot, start the container, hand it the spec."""
        rc = request.runconfig
        image, identity, _ = self._environment(
            rc, build=bool(getattr(rc, "prepare_environment", False)),
            on_progress=request.extra.get("on_progress"))
        request.environment_hash = identity
        python = (image.labels or {}).get(f"{LABEL}python") or ENV_PYTHON
        run_dir = Path(self._run_dir(request))
        run_dir.mkdir(parents=True, exist_ok=True)
        shared = bool(self.compute.shared_volumes)
        if not shared:
            self._sync_snapshot(request, str(run_dir))
        container = self._create(request, image, python, run_dir, shared=shared)
        try:
            self._start_with_spec(container, self._spec(request, python, shared=shared))
            container.reload()
        except BaseException:
            _quietly(lambda: container.remove(force=True))
            raise
        state: dict[str, Any] = {
            "run_dir": str(run_dir), "container_id": container.id,
            "agent_pid": container.attrs.get("State", {}).get("Pid") or None,
            "image": self.builder.image_tag(identity), "metrics_offset": 0,
            "heartbeat_seconds": self.heartbeat_seconds}
        if shared:
            state["outputs_dir"] = str(self.project_root / "outputs")
            state["logs_dir"] = str(self.project_root / "logs")
        return state

    def _create(self, request: LaunchRequest, image: Any, python: str, run_dir: Path, *,
                shared: bool) -> Any:
        from ..agent import AGENT_DIR
        volumes = {str(run_dir): {"bind": RUN_MOUNT, "mode": "rw"},
                   str(AGENT_DIR): {"bind": AGENT_MOUNT, "mode": "ro"}}
        if shared:
            volumes[str(self.project_root)] = {"bind": PROJECT_MOUNT, "mode": "rw"}
            share = self._host_share_dir()
            if share is not None:
                volumes[str(share)] = {"bind": SHARE_MOUNT, "mode": "rw"}
        options: dict[str, Any] = {}
        if os.getuid() != 0:      # files in the run folder (and project) stay the user's
            options.update(user=f"{os.getuid()}:{os.getgid()}", environment={"HOME": "/tmp"})
        if self.compute.nvidia_docker:
            import docker
            options["device_requests"] = [docker.types.DeviceRequest(count=-1,
                                                                     capabilities=[["gpu"]])]
        labels = {f"{LABEL}run": request.run_id, f"{LABEL}project": str(self.project_root),
                  f"{LABEL}target": self.compute.name}
        command = [python, "-S", "-E", f"{AGENT_MOUNT}/supervisor.py", "run", RUN_MOUNT]
        try:
            return self.client.containers.create(
                image.id, command, name=_container_name(request.run_id), volumes=volumes,
                labels=labels, network_mode=NETWORK_MODE, init=True, stdin_open=True,
                detach=False, working_dir=RUN_MOUNT, **options)   # detach=False: StdinOnce
        except Exception as exc:
            raise TargetError(f"target '{self.compute.name}': cannot create the run's "
                              f"container: {_first_line(exc)}") from None

    def _spec(self, request: LaunchRequest, python: str, *, shared: bool) -> bytes:
        spec: dict[str, Any] = {
            "run_id": request.run_id, "argv": self._argv(request, python),
            "cwd": PROJECT_MOUNT if shared else f"{RUN_MOUNT}/work", "env": request.env,
            "mask": request.secret_values, "heartbeat_seconds": self.heartbeat_seconds,
            "python": python}
        if shared:
            spec["outputs_dir"] = f"{PROJECT_MOUNT}/outputs"
            if self.compute.native_shared_directory:
                spec["native_share_dir"] = SHARE_MOUNT
        return json.dumps(spec).encode()

    def _argv(self, request: LaunchRequest, python: str) -> list[str]:
        rc = request.runconfig
        if getattr(rc, "framework", "Python") != "PySpark":
            return [python, *request.command]
        from ..config import ProjectConfig
        from .spark import spark_submit_argv
        deps = ProjectConfig(request.project_root).spark_dependencies(rc)
        return spark_submit_argv("spark-submit", deps, request.command, master="local[*]",
                                 python=python)

    def _start_with_spec(self, container: Any, spec: bytes) -> None:
        """Start the container and write the launch spec to its stdin, then close it (the agent
        reads to end of input). Attached before start, so no byte is lost."""
        sock = container.attach_socket(params={"stdin": 1, "stream": 1})
        raw = getattr(sock, "_sock", sock)
        try:
            container.start()
            raw.sendall(spec)
        except Exception as exc:
            raise TargetError(f"target '{self.compute.name}': cannot start the run's "
                              f"container: {_first_line(exc)}") from None
        finally:
            _quietly(sock.close)
            _quietly(raw.close)

    def _host_share_dir(self) -> Path | None:
        configured = self.compute.native_shared_directory
        if not configured:
            return None
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute():
            path = self.project_root / path
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _native_share_dir(self) -> str | None:
        return None               # set in _spec: the in-container path of the mounted folder

    # -- while it runs and after ------------------------------------------------------------
    def _container(self, target_state: dict[str, Any]) -> Any | None:
        """The run's container, or None when the engine no longer has it."""
        import docker
        cid = target_state.get("container_id")
        if not cid:
            return None
        try:
            return self.client.containers.get(cid)
        except docker.errors.NotFound:
            return None

    def agent_alive(self, target_state: dict[str, Any]) -> bool | None:
        try:
            container = self._container(target_state)
        except Exception:         # engine unreachable: cannot tell
            return None
        if container is None:
            return False
        if container.status in ("running", "restarting", "paused"):
            return True
        self._retire(target_state)    # stopped: keep its output (why the agent died) as agent.log
        return False

    def kill_group(self, target_state: dict[str, Any]) -> None:
        """The container recorded at create, never a process id from the run folder."""
        try:
            container = self._container(target_state)
            if container is not None:
                container.kill(signal="SIGKILL")
        except Exception:         # stopped already, or the engine is gone: nothing to stop
            pass

    def wait_for_change(self, target_state: dict[str, Any], timeout: float) -> None:
        """Wake as soon as the container stops (the agent exits right after the end state)."""
        cid = target_state.get("container_id")
        started = time.monotonic()
        if cid and timeout > 0:
            try:
                self.client.api.wait(cid, timeout=max(timeout, 0.01))
                return
            except Exception:     # timed out, gone, or unreachable
                pass
        time.sleep(max(0.0, min(timeout, 0.1) - (time.monotonic() - started)))

    def cancel(self, target_state: dict[str, Any]) -> None:
        """Ask the agent (cancel file + SIGTERM through the container's init): it stops the
        script's group and records Canceled; stop the container if it lingers."""
        runfolder.write_marker(target_state["run_dir"], "cancel", b"cancel\n")
        try:
            container = self._container(target_state)
            if container is None or container.status != "running":
                return
            _quietly(lambda: container.kill(signal="SIGTERM"))
            deadline = time.monotonic() + CANCEL_GRACE_SECONDS
            while time.monotonic() < deadline:
                container.reload()
                if container.status != "running":
                    return
                time.sleep(0.05)
            container.stop(timeout=1)
        except Exception as exc:
            import docker
            if isinstance(exc, docker.errors.NotFound):
                return
            raise TargetError(f"target '{self.compute.name}': cannot stop container "
                              f"{str(target_state.get('container_id'))[:12]}: "
                              f"{_first_line(exc)}") from None

    def collect_outputs(self, target_state: dict[str, Any], dest: Path) -> list[str]:
        """Copy ``./outputs/`` (the project's own with sharedVolumes), then retire the
        container: the end state has been read, so only its own log is worth keeping."""
        source = Path(target_state.get("outputs_dir")
                      or Path(target_state["run_dir"]) / "work" / "outputs")
        refused = runfolder.copy_tree_safely(source, dest)
        self._retire(target_state)
        return refused

    def collect_logs_dir(self, target_state: dict[str, Any], dest: Path) -> None:
        logs = target_state.get("logs_dir")
        if logs:                  # sharedVolumes: ./logs/ is the project's, copy it
            runfolder.copy_tree_safely(Path(logs), dest)

    def _retire(self, target_state: dict[str, Any]) -> None:
        """Keep the container's output (the agent's own stderr) as agent.log, then remove it."""
        try:
            container = self._container(target_state)
            if container is None:
                return
            if container.status == "running":
                container.wait(timeout=5)         # the agent exits right after the end state
            text = container.logs(stdout=True, stderr=True, tail=2000)
            if text:                              # never through a link the run planted
                _quietly(lambda: runfolder.append_nofollow(target_state["run_dir"], "agent.log",
                                                           text[-(1 << 20):]))
            container.remove(force=True)
        except Exception:         # a container left behind is harmless; the run is recorded
            pass


def _container_name(run_id: str) -> str:
    return "aml-" + re.sub(r"[^A-Za-z0-9_.-]", "-", run_id)[:120]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception:
        pass


__all__ = ["DockerTarget", "RUN_MOUNT", "AGENT_MOUNT", "PROJECT_MOUNT", "SHARE_MOUNT"]
