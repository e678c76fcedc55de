"""The environment image of a run configuration on one engine: found by identity, or built."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aml_magic.errors import ConfigError, TargetError
from aml_magic.targets.base import Dependencies, ProgressCallback
from aml_magic.targets.container.engine import ImageInfo
from aml_magic.targets.container.images import LABEL, DockerEnvironmentBuilder
from aml_magic.domain.config.templates import DEFAULT_DOCKER_IMAGE
from aml_magic.domain.environment import plan_environment

if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget, RunConfiguration


def environment_image(builder: DockerEnvironmentBuilder, compute: ComputeTarget,
                      runconfig: RunConfiguration, dependencies: Dependencies, *,
                      compute_file: str, build: bool,
                      on_progress: ProgressCallback | None,
                      strict: bool = False) -> tuple[ImageInfo, str, bool]:
    """(image, identity, built now). An existing image costs one lookup; one built without
    specifications the image cannot honour is reported (refused with ``strict``)."""
    base = (compute.base_docker_image or DEFAULT_DOCKER_IMAGE).strip()
    plan = plan_environment(dependencies.conda, base_image=base,
                            framework=getattr(runconfig, "framework", "Python"))
    tag = builder.image_tag(plan.identity)
    image = builder.find(plan.identity)
    if image is not None:
        unhonoured = json.loads(image.labels.get(f"{LABEL}unhonoured") or "[]")
        if strict and unhonoured:
            raise ConfigError(
                f"environment {plan.identity} (image {tag}) was built without these "
                "specifications, which the image cannot honour: " + ", ".join(unhonoured)
                + "; change conda_dependencies.yml or baseDockerImage", path=compute_file)
        if unhonoured and on_progress is not None:
            on_progress("warning: this environment was built without "
                        + ", ".join(unhonoured) + " (the image cannot honour them)")
        return image, plan.identity, False
    builder.ensure(plan, base, build=build, runconfig=getattr(runconfig, "name", None),
                   on_progress=on_progress, target=compute.name, strict=strict,
                   compute_file=compute_file)
    image = builder.find(plan.identity)
    if image is None:                         # pragma: no cover - the engine lost it
        raise TargetError(f"the environment image {tag} vanished right after it was built")
    return image, plan.identity, True


__all__ = ["environment_image"]
