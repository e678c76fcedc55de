"""``spark_dependencies.yml`` to a ``spark-submit`` command line (shared by every target that runs
PySpark), and what a driver's log says about its application."""
from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config.dependencies import SparkDependencies


def spark_submit_argv(spark_submit: str, deps: SparkDependencies | None, command: list[str], *,
                      master: str | None = None, deploy_mode: str | None = None,
                      python: str | None = None,
                      defaults: dict[str, str] | None = None) -> list[str]:
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
    for key, value in (defaults or {}).items():       # the target's, below the user's own
        configuration.setdefault(key, value)
    for key, value in configuration.items():
        argv += ["--conf", f"{key}={value}"]
    repositories = list(getattr(deps, "repositories", None) or [])
    if repositories:
        argv += ["--repositories", ",".join(repositories)]
    packages = [p.coordinate for p in (getattr(deps, "packages", None) or [])]
    if packages:
        argv += ["--packages", ",".join(packages)]
    return argv + list(command)


# What a driver's log says about its application (Spark 3/4 log lines, standalone and YARN).
# The driver's log is the run's output, so each fact is validated as it is read: an id of
# Spark's own forms (ending at a word boundary), an http(s) address of printable ASCII only
# (an address carrying an escape sequence or another scheme is not recorded), a path without
# control characters. Patterns, compiled on first use (``re`` caches them): a local run only
# builds argv here.
_APP_ID = (r"(?:app ID|Submitted application|application ID)\s+"
           r"(app-\d{14}-\d{4,}|application_\d+_\d+|local-\d+)(?![\w-])")
_UI = r"Bound SparkUI to \S+ and started at (\S+)"
_HTTP_ADDRESS = r"https?://[A-Za-z0-9.\-\[\]:]+(?:/[!-~]*)?\Z"
_NO_PYTHON = r'Cannot run program "([^"\x00-\x1f\x7f-\x9f]+)"'
_UNRESOLVED = r"unresolved dependency: ([\w.\-]+)#([\w.\-]+);([\w.\-]+)"


def driver_facts(text: str) -> dict[str, str]:
    """``spark_app_id`` and ``spark_ui`` when this part of the driver's log names them."""
    facts: dict[str, str] = {}
    app = re.search(_APP_ID, text)
    if app:
        facts["spark_app_id"] = app.group(1)
    for ui in re.finditer(_UI, text):
        address = ui.group(1).rstrip(".,")
        if re.match(_HTTP_ADDRESS, address) and len(address) < 300:
            facts["spark_ui"] = address
            break
    return facts


def unresolved_packages(text: str) -> list[str]:
    """``group:artifact:version`` of each package Ivy could not resolve, in order, once."""
    found: list[str] = []
    for group, artifact, version in re.findall(_UNRESOLVED, text):
        coordinate = f"{group}:{artifact}:{version}"
        if coordinate not in found:
            found.append(coordinate)
    return found


def missing_python(text: str) -> str | None:
    """The interpreter Spark could not start (driver or executor), when the log says so."""
    found = re.search(_NO_PYTHON, text)
    return found.group(1) if found else None
