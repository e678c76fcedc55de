"""``spark_dependencies.yml`` to a ``spark-submit`` command line, shared by the local target and
the cluster target to come."""
from __future__ import annotations

from typing import Any


def spark_submit_argv(spark_submit: str, deps: Any, command: list[str], *,
                      master: str | None = None, deploy_mode: str | None = None,
                      python: str | None = None) -> list[str]:
    """``spark-submit [--master M] [--name N] --conf k=v ... [--repositories R]
    [--packages g:a:v,...] SCRIPT ARGS...``; values stay separate argv items (never a shell)."""
    argv = [spark_submit]
    if master:
        argv += ["--master", master]
    if deploy_mode:
        argv += ["--deploy-mode", deploy_mode]
    configuration = dict(getattr(deps, "configuration", None) or {})
    name = configuration.pop("spark.app.name", None)
    if name:
        argv += ["--name", str(name)]
    if python:
        configuration.setdefault("spark.pyspark.python", python)
    for key, value in configuration.items():
        argv += ["--conf", f"{key}={value}"]
    repositories = list(getattr(deps, "repositories", None) or [])
    if repositories:
        argv += ["--repositories", ",".join(repositories)]
    packages = [p.coordinate for p in (getattr(deps, "packages", None) or [])]
    if packages:
        argv += ["--packages", ",".join(packages)]
    return argv + list(command)
