"""Helpers shared by the container target tests (real engine: tests/fixtures/dockerd)."""
from __future__ import annotations

from typing import Any

from tests._wait import wait_until  # re-exported for the container tests


def containers_of(dockerd: Any, run_id: str) -> list[Any]:
    """The run's containers (retried when one is removed while being listed)."""
    import docker
    while True:
        try:
            return list(dockerd.client().containers.list(
                all=True, filters={"label": f"org.aml-magic.run={run_id}"}))
        except docker.errors.NotFound:
            continue




def forget_environment(ws: Any, dockerd: Any, target: str) -> str:
    """Remove the environment image of run configuration ``target`` from the engine, so that
    the next prepare or submit really builds it; returns its identity."""
    import docker

    from aml_magic.domain.environment import environment_identity
    rc = ws.config.runconfig(target)
    identity = environment_identity(ws.dependencies(rc).conda,
                                    base_image=ws.config.compute(rc.target).base_docker_image,
                                    framework=rc.framework)
    try:
        dockerd.client().images.remove(f"aml-magic/env:{identity}", force=True)
    except docker.errors.ImageNotFound:
        pass
    return identity


__all__ = ["containers_of", "forget_environment", "wait_until"]
