"""The agent as the main process of a container (``docker`` and ``remotedocker``).

Everything goes through ``DockerCli`` over the placement's transport, so this machine's engine
and a VM's engine share one code path. A run's container is made from the environment image
(``docker_images``), mounts only the run folder (``/aml/run``), the agent read-only
(``/aml/agent``) and, when configured, the native shared directory; it runs with
``no-new-privileges`` and no capabilities unless the ``.compute`` lists some
(``capabilities``), as ``containerUser`` (default: the owner of the run folder), on the
engine's default network unless ``networkMode`` says otherwise.

The launch spec holds secrets, so it never enters the container's configuration: ``docker run
-i`` with only stdin attached is fed the spec (the container's stdin closes after it); once the
agent has recorded the run (``status.json``) the client is dropped and the container runs on
under the engine, independent of the SSH connection and of the submitter.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aml_magic.domain import runfolder
from aml_magic.errors import SecretError, TargetError
from aml_magic.domain.provenance import describe_python
from aml_magic.targets.base import (
    Dependencies,
    Launched,
    LaunchRequest,
    PrepareResult,
    ProgressCallback,
    TargetState,
    join,
)
from aml_magic.targets.container.engine import DockerCli, ImageInfo
from aml_magic.targets.container.images import ENV_PYTHON, LABEL, DockerEnvironmentBuilder
from aml_magic.targets.launch import Launch, launch_spec, write_cancel_marker
from aml_magic.domain.runfolder.build_log import BuildLog
from aml_magic.targets.container.environment_image import environment_image
from aml_magic.targets.container.options import (
    AGENT_MOUNT,
    PROJECT_MOUNT,
    RUN_MOUNT,
    SHARE_MOUNT,
    container_name,
    container_options,
)

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import AgentTarget

CANCEL_GRACE_SECONDS = 3.0
START_TIMEOUT = 90.0
#: Spark settings of a PySpark run in a container: its user may have no passwd entry (the run
#: folder's owner), so Java's user.home is "?" and Ivy refuses it; keep Ivy's files in /tmp.
CONTAINER_SPARK = {"spark.jars.ivy": "/tmp/.ivy2"}


class ContainerLaunch(Launch):
    """One container per run, from the environment image built by ``prepare``."""

    builds_environments = True

    def __init__(self) -> None:
        self._engine: DockerCli | None = None
        self._builder: DockerEnvironmentBuilder | None = None
        self._owner: str | None = None

    # -- the engine -------------------------------------------------------------------------
    def engine(self, target: AgentTarget) -> DockerCli:
        if self._engine is None or self._engine.transport is not target.transport:
            c = target.compute
            self._engine = DockerCli(target.transport, host=c.docker_host or None,
                                     where=c.name, machine=target.placement.where(),
                                     user=c.username)
            self._builder = None
        return self._engine

    def builder(self, target: AgentTarget) -> DockerEnvironmentBuilder:
        engine = self.engine(target)
        if self._builder is None:
            self._builder = DockerEnvironmentBuilder(engine,
                                                     network=target.compute.network_mode or None)
        return self._builder

    def check_secret_destination(self, target: AgentTarget) -> None:
        """On this machine, a spec holding secrets goes only to the engine the target was
        attached with (``dockerHost``, bound at attach); the docker command's own engine needs
        no binding. A remote machine's engine is bound with its login (``ssh/binding.py``)."""
        if not target.run_folder_is_local:
            return
        c = target.compute
        bound = target.secrets.target_binding(target.project_root, c.name)
        attached = str((bound or {}).get("dockerHost") or "")
        now = c.docker_host or ""
        if now == attached:
            return
        default = "the docker command's own engine"
        was = f"attached with {attached or default}" if bound \
            else "not attached on this machine with that engine"
        raise SecretError(
            f"{target.compute_file()}: dockerHost is {now or 'unset'}, but '{c.name}' was {was}; "
            "a run's secrets go only to the engine the target was attached with: refused, "
            "nothing was sent. If the engine really changed, re-attach the target "
            f"(`aml computetarget detach -n {c.name}`, then `aml computetarget attach {c.type} "
            f"-n {c.name} --docker-host {now or 'URL'}`)")

    # -- check and prepare ------------------------------------------------------------------
    def prepare(self, target: AgentTarget, runconfig: RunConfiguration, dependencies: Dependencies, *,
                on_progress: ProgressCallback | None, build: bool,
                strict: bool) -> PrepareResult:
        """Build the run configuration's environment image unless it exists (one lookup)."""
        started = time.monotonic()
        image, identity, built = self.environment(target, runconfig, dependencies, build=build,
                                                  on_progress=on_progress, strict=strict)
        seconds = time.monotonic() - started
        tag = DockerEnvironmentBuilder.image_tag(identity)
        if not target.run_folder_is_local:
            tag += f" on {target.placement.where()}"
        if built:
            installer = image.labels.get(f"{LABEL}installer", "?")
            message = (f"environment {identity} built with {installer} in {seconds:.1f} s "
                       f"(image {tag})")
        else:
            message = f"environment {identity} reused (image {tag})"
        return PrepareResult(built, message, environment_hash=identity, seconds=seconds)

    def environment(self, target: AgentTarget, runconfig: RunConfiguration, dependencies: Dependencies, *,
                    build: bool, on_progress: ProgressCallback | None,
                    strict: bool = False) -> tuple[ImageInfo, str, bool]:
        """(image, identity, built now): the existing image, or a new one when ``build``."""
        return environment_image(self.builder(target), target.compute, runconfig, dependencies,
                                 compute_file=target.compute_file(), build=build,
                                 on_progress=on_progress, strict=strict)

    # -- submit -----------------------------------------------------------------------------
    def submit(self, target: AgentTarget, request: LaunchRequest) -> Launched:
        rc = request.runconfig
        # kept with the run that triggered the build, line by line (build_log.py)
        with BuildLog(request.run_folder, request.on_progress) as on_build:
            image, identity, _built = self.environment(
                target, rc, request.dependencies, on_progress=on_build,
                build=bool(getattr(rc, "prepare_environment", False)))
        request.environment_hash = identity
        python = image.labels.get(f"{LABEL}python") or ENV_PYTHON
        local_project = bool(target.compute.shared_volumes and target.run_folder_is_local)
        if local_project:           # sharedVolumes here: the run works in the project itself
            run_dir = target.placement.run_dir(request)
            target.transport.makedirs(run_dir)
            state = TargetState(run_dir=run_dir)
        else:
            state = target.placement.sync(request)
            run_dir = state.folder()
        options = self._options(target, request, run_dir, local_project=local_project)
        if getattr(request.runconfig, "framework", "Python") == "PySpark":
            options += self._spark_user(target, options, run_dir)
        command = [python, "-S", "-E", f"{AGENT_MOUNT}/supervisor.py", "run", RUN_MOUNT]
        spec = launch_spec(
            request, argv=target.script_argv(request, python, spark_defaults=CONTAINER_SPARK),
            python=python,
            heartbeat_seconds=target.heartbeat_seconds,
            cwd=PROJECT_MOUNT if local_project else "work",
            native_share_dir=SHARE_MOUNT if target.compute.native_share else None,
            outputs_dir=f"{PROJECT_MOUNT}/outputs" if local_project else None)
        container, status, pid, facts = self._start(target, request.run_id, options,
                                                          image.id, command, run_dir, spec)
        state.container_id, state.agent_pid, state.container_status = container, pid, status
        state.image = DockerEnvironmentBuilder.image_tag(identity)
        state.metrics_offset, state.heartbeat_seconds = 0, target.heartbeat_seconds
        state.python = describe_python(facts)
        if local_project:
            state.outputs_dir = str(request.project_root / "outputs")
            state.logs_dir = str(request.project_root / "logs")
        return Launched(state, facts)

    def _options(self, target: AgentTarget, request: LaunchRequest, run_dir: str, *,
                 local_project: bool) -> list[str]:
        return container_options(target, request, run_dir, local_project=local_project,
                                 owner=lambda: self._run_folder_owner(target))

    @staticmethod
    def _spark_user(target: AgentTarget, options: list[str], run_dir: str) -> list[str]:
        """A passwd entry for a numeric ``--user``: Spark's Hadoop login refuses a uid without
        one ("Invalid UID, could not determine effective user"). Written beside the run folder's
        files and mounted read-only over the container's ``/etc/passwd``."""
        user = options[options.index("--user") + 1] if "--user" in options else ""
        uid, _, gid = user.partition(":")
        if not uid.isdigit():
            return []
        path = join(run_dir, "passwd")
        entries = ("root:x:0:0:root:/root:/bin/sh\n"
                   f"aml:x:{uid}:{gid or uid}:aml run:/tmp:/bin/sh\n")
        target.transport.write_file(path, entries.encode())
        return ["--volume", f"{path}:/etc/passwd:ro"]

    def _run_folder_owner(self, target: AgentTarget) -> str | None:
        """``uid:gid`` of the user owning the run folders (None for root), asked once."""
        if self._owner is None:
            out = target.transport.run(["sh", "-c", "echo $(id -u):$(id -g)"], timeout=30)
            self._owner = out.stdout.decode().strip()
        return None if self._owner.startswith("0:") else self._owner

    def _start(self, target: AgentTarget, request_id: str, options: list[str], image: str,
               command: list[str], run_dir: str,
               spec: bytes) -> tuple[str, str, int | None, dict[str, str] | None]:
        engine = self.engine(target)
        status_file = join(run_dir, "status.json")
        name = container_name(request_id)
        container, status, pid, error, status_raw = engine.run_attached(
            name, options, image, command, status_file=status_file, stdin=spec,
            timeout=START_TIMEOUT)
        if status in ("created", "dead") or (status != "running"
                                             and not target.transport.exists(status_file)):
            logs = engine.logs(container).decode("utf-8", "replace").strip()
            engine.remove(container)
            raise TargetError(f"target '{target.compute.name}': the run's container did not "
                              f"start ({status}): {error} {logs[-300:]}".strip())
        return container, status, pid, runfolder.parse_status(status_raw).python_facts

    # -- while it runs and after ------------------------------------------------------------
    def alive(self, target: AgentTarget, state: TargetState) -> bool | None:
        cid = state.container_id
        if not cid:
            return None
        try:
            current = self.engine(target).state(cid)
        except TargetError:           # unreachable: cannot tell
            return None
        if current is None:
            return False
        if current.get("Status") in ("running", "restarting", "paused"):
            return True
        self.retire(target, state)    # stopped: keep its output (why the agent died)
        return False

    def wait_for_change(self, target: AgentTarget, state: TargetState,
                        timeout: float) -> None:
        """Wake as soon as the container stops: locally a pidfd on its init; remotely one
        ``docker wait`` bounded by ``timeout`` (short waits just sleep)."""
        cid = state.container_id
        if target.run_folder_is_local and state.agent_pid:
            target.placement.wait_for_exit(state.agent_pid, timeout)
        elif cid and timeout >= 0.2:
            started = time.monotonic()
            try:
                self.engine(target).wait_stopped(cid, timeout)
            except TargetError:
                time.sleep(max(0.0, timeout - (time.monotonic() - started)))
        else:
            time.sleep(timeout)

    def cancel(self, target: AgentTarget, state: TargetState) -> None:
        """Ask the agent (cancel file + SIGTERM through the container's init): it stops the
        script's group and records Canceled; stop the container if it lingers."""
        write_cancel_marker(target, state)
        cid = state.container_id
        if not cid:
            return
        engine = self.engine(target)
        current = engine.state(cid)
        if current is None or current.get("Status") != "running":
            return
        engine.run("kill", "--signal", "TERM", cid, check=False, timeout=30)
        deadline = time.monotonic() + CANCEL_GRACE_SECONDS
        while time.monotonic() < deadline:
            current = engine.state(cid)
            if current is None or current.get("Status") != "running":
                return
            time.sleep(0.1)
        engine.run("stop", "--time", "1", cid, check=False, timeout=60)

    def kill_group(self, target: AgentTarget, state: TargetState) -> None:
        """The container recorded at create (never a process id from the run folder):
        stopping it stops the script's group."""
        cid = state.container_id
        if cid:
            self.engine(target).run("kill", cid, check=False, timeout=30)

    def retire(self, target: AgentTarget, state: TargetState) -> None:
        """Keep the container's output (the agent's own stderr) as agent.log, then remove it."""
        cid = state.container_id
        if cid:
            try:
                self.engine(target).retire(cid, join(state.folder(), "agent.log"))
            except TargetError:       # a container left behind is harmless; the run is recorded
                pass

    def close(self) -> None:
        self._engine = None
        self._builder = None


__all__ = [
    "AGENT_MOUNT",
    "PROJECT_MOUNT",
    "RUN_MOUNT",
    "SHARE_MOUNT",
    "ContainerLaunch",
    "container_name",
]
