"""What a submit may carry besides its script and arguments, checked once for every front end:
the run-time overrides of ``experiment submit`` (``-t``, ``-d``, ``-s``: this run only, the run
configuration file unchanged) and a sweep (``--sweep``, ``--max-concurrent``). The CLI checks
its flags with these; the REST submit (the Jupyter extension and the team server, where the
values come from a member's request) checks the request's fields with the same code, each bad
value one 400 line naming its flag. A dependency file is named relative to the project and
must be a file in it: a path leaving the project (``..``, absolute, a link out) is refused,
so a member cannot make the server read a file of its own. A target must be one the project
has: on the team server, the server's targets and the workspace's shared ones."""
from __future__ import annotations

from pathlib import Path
from aml_magic.errors import AmlError, ApiError
from aml_magic.service.sweep import parse_sweep

TYPE_CHECKING = False       # no `typing` on the CLI's submit path (test_plain_data.py)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any
    from aml_magic.service.contract.models import SubmitRequest
    from aml_magic.service.workspace import Workspace

#: The override fields of a run configuration and the flag each stands for.
OVERRIDES = {"target": "-t/--target", "conda_dependencies_file": "-d/--conda-dependencies",
             "spark_dependencies_file": "-s/--spark-dependencies"}
#: The dependency overrides (paths relative to the project) and their run configuration keys.
DEPENDENCIES = {"conda_dependencies_file": "CondaDependenciesFile",
                "spark_dependencies_file": "SparkDependenciesFile"}


def in_project(root: Path, relative: str) -> bool:
    """RELATIVE names a file inside the project ROOT (after links are followed; an absolute
    path must be in the project too)."""
    if not relative or "\0" in relative:
        return False
    path = (root / relative).resolve()
    return path.is_file() and path.is_relative_to(root.resolve())


def outside_project(workspace: Workspace, run_configuration: str,
                    overrides: Mapping[str, object]) -> str | None:
    """Why the run configuration's own dependency files (those OVERRIDES leave) would be read
    from outside the project, or None. The team server asks this of a member's run
    configuration (a file of their snapshot), so that it never reads a file of its own."""
    try:
        config = workspace.config.runconfig(run_configuration)
    except AmlError:
        return None                 # the submit says what is wrong with it
    root = workspace.root.resolve()
    for field in DEPENDENCIES:
        value = getattr(config, field)
        if field in overrides or not value:
            continue
        if not (root / value).resolve().is_relative_to(root):
            return (f"run configuration '{config.name}': {DEPENDENCIES[field]} {value!r} is "
                    "outside the project; a workspace reads only the project's files")
    return None


def not_in_project(flag: str, value: str, project: object) -> str:
    return (f"{flag} {value}: no such file in the project {project} (the path is relative "
            "to the project)")


def line_overrides(root: Path, args: Any) -> dict[str, str]:
    """The overrides of parsed submit flags (``args.target``, ``args.conda_dependencies``,
    ``args.spark_dependencies``; a cell's parser has none), dependency files checked to be in
    the project ROOT as ``experiment submit`` checks them."""
    overrides = {field: value for field, value in (
        ("target", getattr(args, "target", None)),
        ("conda_dependencies_file", getattr(args, "conda_dependencies", None)),
        ("spark_dependencies_file", getattr(args, "spark_dependencies", None))) if value}
    for field in DEPENDENCIES:
        value = overrides.get(field)
        if value is not None and not in_project(root, value):
            raise AmlError(not_in_project(OVERRIDES[field], value, root))
    return overrides


def check_max_concurrent(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AmlError(f"--max-concurrent {value!r}: give a number of runs, 1 or more")
    return value


def request_overrides(workspace: Workspace, body: SubmitRequest) -> dict[str, str]:
    """The overrides a REST submit asks for, checked (400 naming the flag): a target the
    project has, dependency files in the project."""
    overrides: dict[str, str] = {}
    raw: dict[str, Any] = dict(body)
    for field, flag in OVERRIDES.items():
        value = raw.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"{flag}: '{field}' must be a non-empty string")
        if field == "target":
            names = sorted(workspace.config.compute_names())
            if value not in names:
                raise ApiError(400, f"{flag} {value[:100]!r}: no such compute target in the "
                               f"project {workspace.name}; its targets: "
                               f"{', '.join(names) or 'none'}")
        elif not in_project(workspace.root, value):
            raise ApiError(400, not_in_project(flag, value[:200], workspace.name))
        overrides[field] = value
    return overrides


def request_sweep(body: SubmitRequest) -> tuple[list[str], int | None] | None:
    """The sweep a REST submit asks for: its ``--sweep`` specs (parsed as the CLI parses them)
    and ``--max-concurrent``; None for one run."""
    raw: dict[str, Any] = dict(body)
    specs, limit = raw.get("sweep"), raw.get("max_concurrent")
    if specs is None:
        if limit is not None:
            raise ApiError(400, "--max-concurrent is for a sweep: give --sweep as well")
        return None
    if not isinstance(specs, list) or not specs or not all(isinstance(s, str) for s in specs):
        raise ApiError(400, "--sweep: 'sweep' must be a non-empty list of NAME=V1,V2,... "
                       "strings")
    try:
        parse_sweep(specs)
        if limit is not None:
            check_max_concurrent(limit)
    except AmlError as exc:
        raise ApiError(400, str(exc)) from None
    return list(specs), limit
