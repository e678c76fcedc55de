"""Every JSON shape aml_magic shows or accepts, declared once: the REST API's request bodies
and answers, and ``aml ... -o json``. Conventions: snake_case keys, times in seconds since the
epoch (``aml -o json``/``--query`` show them as ISO-8601 text, as the Azure CLI does), sizes in
bytes, secret values masked (``******``) or shown as store references.

Plain ``TypedDict``s, so importing this costs the CLI almost nothing; ``typed_json`` derives
the JSON Schema from these type hints, and the trailing ``#`` comment of a field (or the
``#:`` lines above it) becomes its description there and in the generated TypeScript.
Optional keys live in ``total=False`` classes; a name starting with ``_`` is a building block,
not a shape of its own. Add a shape to ``SHAPES`` (and ``OPEN`` if it may carry keys not
declared here), then run ``python -m aml_magic.service.contract``.

Facts of the registry of target types (``domain/registry.py``) are not written again here:
the option kinds are its ``OptionKind``, and the attach request's option keys are its attach
options (``OPEN[AttachRequest]``), so a new option changes the schema when it is regenerated.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict, cast

from aml_magic.domain import registry
from aml_magic.domain.plain_data import field, plain_data

#: The version of the REST API: the Lab extension (built against this contract) refuses to
#: talk to a server that answers another one in ``GET version``.
API_VERSION = 1

#: A run's place in its lifecycle (``RunStatus`` values; a test keeps the two equal).
RunStatusName = Literal["Queued", "Preparing", "Running", "Finalizing", "Completed", "Failed",
                        "Canceled"]
#: What a run is: a script, a sweep's parent, or a notebook tracked by its kernel.
RunKind = Literal["script", "sweep", "notebook"]
#: Where a prepare job is.
PrepareJobState = Literal["running", "succeeded", "failed"]
#: A value an attach option may take (its name says which; the registry validates it).
OptionValue = str | bool | int | float | None
#: How an attach option's value is entered; the attach forms pick a field's input by it.
OptionKind = registry.OptionKind


# -- runs -------------------------------------------------------------------------------------
class MetricJson(TypedDict):
    """One logged value; a series is several rows with one name and increasing ``step``."""

    name: str
    value: Any              # a JSON scalar, or a list (a logged row or histogram)
    step: int | None
    time: float | None


class OutputJson(TypedDict):
    """One file under the run's ``outputs/``."""

    path: str               # relative to outputs/, '/'-separated
    size: int
    sha256: str


class RunJson(TypedDict):
    """A run as listed (``aml run list -o json``, the runs table, the REST list)."""

    run_id: str             # <project>_<13-digit epoch ms>_<4 hex>: sorts by time
    project: str
    run_configuration: str | None
    target: str
    target_type: str
    status: RunStatusName
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None  # seconds from start to end (or to now while it runs)
    exit_code: int | None
    reason: str | None      # why it failed or was canceled, notes on what was refused
    command: list[str]      # the script and its arguments
    script: str | None
    environment: dict[str, str]   # variables it was given, secret-looking ones masked
    snapshot_digest: str | None
    environment_hash: str | None
    git_commit: str | None
    git_dirty: bool | None
    kind: RunKind
    parent_run_id: str | None     # the sweep a child run belongs to


class ConfigurationJson(TypedDict, total=False):
    """What a run was configured with: its ``.runconfig`` and ``.compute`` files' keys as
    they were at submit (secrets masked or as store references), and a sweep's grid."""

    runconfig: dict[str, Any]
    compute: dict[str, Any]
    sweep: dict[str, Any]
    isolation: IsolationJson   # present when the user allowed options weakening isolation


class ReductionJson(TypedDict):
    """One ``.compute`` value that weakened a container's isolation."""

    allow: str              # the name that allows it (capabilities, root_user, ...)
    option: str             # the .compute key
    value: str              # its value
    why: str                # what it does


class IsolationJson(TypedDict):
    """A run whose container ran with reduced isolation, and who allowed that."""

    reduced: list[ReductionJson]
    allowed_by: str         # the user's settings file, or --allow-unsafe-container


class ProvenanceJson(TypedDict, total=False):
    """Facts the agent reported about where the run ran."""

    python: str             # the interpreter, resolved
    python_version: str
    python_location: str | None   # pythonLocation as configured (null: the target's default)
    python_executable: str  # the path it was started by, when it differs from the resolved one
    python_prefix: str      # its environment's prefix
    hint: str               # a Workbench module the run lacked, and what to use instead


class _RunDetailJson(RunJson):
    configuration: ConfigurationJson
    metrics: list[MetricJson]
    outputs: list[OutputJson]


class RunDetailJson(_RunDetailJson, total=False):
    """A run in full (``aml run show -o json``, REST ``runs/<id>``): what it was configured
    with, its metrics and outputs, where its log is, and why its state may be stale."""

    log: str                # the log file's path
    environment_log: str    # the log of the environment build its submit triggered
    unreachable: str        # why the target could not be asked: the state may be stale
    orphaned: str           # why its target is gone from aml_config/: nothing connects for it
    python: str             # the interpreter the run used (path and version)
    provenance: ProvenanceJson
    hint: str
    spark_app_id: str
    spark_ui: str
    slurm_job: str          # 'JOBID (partition P, node N)' of a run on a Slurm target
    isolation: str          # 'reduced: KEY: VALUE, ... (allowed by ...)' when it was


class RunPageJson(TypedDict):
    """One page of a project's runs (REST ``runs``), newest first."""

    project: ProjectJson
    runs: list[RunJson]
    metrics: dict[str, dict[str, Any]]   # run id -> its first metrics' latest values
    total: int              # runs matching the filters
    active: int             # the project's runs not ended yet
    limit: int
    offset: int


#: The order of the runs table: ascending or descending.
SortOrder = Literal["asc", "desc"]


class RunTableJson(TypedDict):
    """One page of the runs table (REST ``run-table``): filtered and sorted on the server by
    ``sort``, a column (``start``, ``created``, ``duration``, ``status``, ``target``, ``name``)
    or ``metric:NAME`` (its latest value) or ``param:NAME`` (a ``--NAME VALUE`` argument)."""

    project: ProjectJson
    runs: list[RunJson]
    metrics: dict[str, dict[str, Any]]      # run id -> each metric's latest value
    parameters: dict[str, dict[str, Any]]   # run id -> its parameters (numbers as numbers)
    metric_names: list[str]     # every metric name of the project (columns one may add)
    parameter_names: list[str]  # every parameter name of the project
    total: int                  # runs matching the filters
    active: int                 # the project's runs not ended yet
    sort: str
    order: SortOrder
    limit: int
    offset: int


class _LogChunkJson(TypedDict):
    run_id: str
    offset: int             # the byte the text starts at (> 0: earlier text exists)
    next_offset: int        # where to ask from next (for ``before``: where the text ends)
    text: str
    status: RunStatusName
    complete: bool          # the run has ended and nothing is left to read


class LogChunkJson(_LogChunkJson, total=False):
    """A piece of a run's log (masked) from byte ``offset`` up to its last complete line.

    ``GET runs/{id}/log`` reads from ``?offset=`` (at most ``&limit=`` bytes), or its last
    ``?tail=`` bytes, or the ``&limit=`` bytes ``?before=`` a byte; a window starts at a line's
    start and is at most 4 MB, so the log's size never makes an answer big."""

    run: RunDetailJson      # team server, ``&wait=S&detail=1``: the run once ``complete``


# -- projects, targets, run configurations ----------------------------------------------------
class ProjectJson(TypedDict):
    """A project as the server sees it."""

    name: str
    path: str               # its folder relative to the server's root ('' for the root)


class TargetJson(TypedDict):
    """A compute target."""

    name: str
    type: str
    address: str | None
    username: str | None
    settings: dict[str, Any]   # its .compute file's keys as written there, secrets masked


class RunConfigurationJson(TypedDict):
    """A run configuration."""

    name: str
    target: str
    framework: str
    arguments: list[str]
    environment: dict[str, str]   # secret-looking values masked
    settings: dict[str, Any]      # its .runconfig file's keys as written there


class EnvironmentLogJson(TypedDict):
    """REST ``GET runs/{id}/environment-log``: the log of the environment build the run's
    submit triggered (``aml run logs --environment``); 404, one line, when it triggered none."""

    run_id: str
    text: str


class EnvironmentJson(TypedDict):
    """Whether a target's environment (for one of its run configurations) exists already;
    looking never builds it."""

    target: str
    run_configuration: str | None
    prepared: bool | None   # null: nothing to tell (no run configuration uses the target)
    message: str


class PrepareJobJson(TypedDict):
    """An environment build running in the server; poll it until ``state`` is not running."""

    job_id: str
    project: str
    run_configuration: str
    state: PrepareJobState
    progress: list[str]     # the newest lines of the build's output
    message: str | None
    built: bool | None
    started_at: float
    ended_at: float | None


# -- REST: envelopes and requests -------------------------------------------------------------
class VersionJson(TypedDict):
    """The version handshake; the sidebar refuses another ``api``."""

    version: str
    api: int


class TargetListJson(TypedDict):
    """REST ``GET targets``."""

    targets: list[TargetJson]


class RunConfigurationListJson(TypedDict):
    """REST ``GET runconfigs``."""

    run_configurations: list[RunConfigurationJson]


class MetricListJson(TypedDict):
    """REST ``GET runs/<id>/metrics``."""

    metrics: list[MetricJson]


class OutputListJson(TypedDict):
    """REST ``GET runs/<id>/outputs``."""

    outputs: list[OutputJson]


class SnapshotFileJson(TypedDict):
    """One file of a run's snapshot (the project as the run got it)."""

    path: str               # relative to the project, '/'-separated
    size: int
    mode: int               # 0o755 or 0o644 (only the exec bit is kept)


class SnapshotJson(TypedDict):
    """REST ``GET runs/<id>/snapshot``: the files of the run's snapshot manifest (the copy the
    history keeps), the first ``limit`` by path; ``kept`` false when the history has none."""

    run_id: str
    digest: str | None
    kept: bool
    files: list[SnapshotFileJson]
    total: int              # files in the manifest
    total_size: int         # their bytes
    warnings: list[str]     # files the snapshot skipped, and why


class SnapshotManifestFileJson(TypedDict):
    """One file of a run's snapshot: its content by hash, size and mode."""

    sha256: str
    size: int
    mode: int               # 0o755 if executable, else 0o644


class SnapshotManifestJson(TypedDict):
    """REST ``GET runs/<id>/snapshot/manifest`` (team server; readers): every file of the run's
    snapshot manifest the workspace's history kept, by relative posix path, for ``aml project
    restore``; the server's own files (its targets) are left out and counted."""

    run_id: str
    digest: str
    files: dict[str, SnapshotManifestFileJson]
    server_owned: int       # files of the server's own left out


class _ErrorJson(TypedDict):
    message: str            # one line naming the file, run or target and what to do


class HostKeyJson(TypedDict):
    """An SSH host key a target offered at attach that nothing pins yet: the user compares
    the fingerprint with the server's own and, to trust it, attaches again giving it as
    ``host_key_fingerprint``."""

    host: str
    port: int
    key_type: str           # e.g. ssh-ed25519
    fingerprint: str        # SHA256:..., as `ssh-keygen -lf KEY.pub` prints it


class ErrorJson(_ErrorJson, total=False):
    """Every failed REST request (4xx, 5xx)."""

    reason: str | None      # the HTTP reason phrase
    traceback: str
    host_key: HostKeyJson   # POST targets, 409: the unknown host key to confirm
    missing: list[str]      # POST workspace/projects/NAME/snapshot, 409: the blobs to upload


class AttachedTargetJson(TargetJson, total=False):
    """REST ``POST targets``: the attached target and what attach had to say."""

    messages: list[str]     # lines for the user (e.g. the pinned host key)
    public_key: str         # a generated key's authorized_keys line, to add on the machine


class _ProjectActiveJson(TypedDict):
    name: str
    path: str               # its folder relative to the server's root ('' for the root)
    active: int


class ProjectActiveJson(_ProjectActiveJson, total=False):
    """One project's count of runs not ended yet."""

    workspace: str          # the team server running them; path: the linked folder or ''


class _ActiveRunsJson(TypedDict):
    active: int
    projects: list[ProjectActiveJson]   # those with active runs, most first


class ActiveRunsJson(_ActiveRunsJson, total=False):
    """REST ``GET active-runs``: the runs not ended yet in every project the server knows
    (seen by a request, or found under its root folder), whatever folder is shown, plus those
    the team server of a linked project runs (what its member can see)."""

    workspace_error: str    # one line: a linked project's workspace could not be asked


class AttachRequest(TypedDict):
    """REST ``POST targets``: attach a compute target. Its further keys are the attach options
    of the registry of target types (``GET target-types`` lists those each type takes); one a
    type does not take, or a value of the wrong kind, is a 400 naming it. The password travels
    in this body once and goes to the secret store."""

    type: str               # a type's name or alias, as GET target-types lists them
    name: str               # the target's name (its .compute file's)


class PrepareRequest(TypedDict, total=False):
    """REST ``POST prepare``: a run configuration, or a target one of them uses."""

    run_configuration: str
    target: str


class _SubmitRequest(TypedDict):
    run_configuration: str


class SubmitRequest(_SubmitRequest, total=False):
    """REST ``POST runs``: submit a script with a run configuration."""

    script: str | None      # its path from the server's root (else the configuration's own)
    arguments: list[str]
    # this run only, as ``experiment submit -t/-d/-s``: a target of the project by name, a
    # dependency file by its path relative to the project (one outside it is a 400)
    target: str
    conda_dependencies_file: str
    spark_dependencies_file: str
    #: ``--sweep NAME=V1,V2,...`` (each option's value): a sweep's parent run is submitted,
    #: its child runs started by the server
    sweep: list[str]
    max_concurrent: int     # with ``sweep``: at most this many child runs at once


class AttachOptionJson(TypedDict):
    """One attach option of a target type, from the registry: the attach forms render one
    field per option."""

    name: str               # its key in the attach request (AttachRequest)
    key: str | None         # its .compute key (null: attach-only)
    flag: str               # its long spelling on the command line and in %aml_attach
    kind: OptionKind
    default: OptionValue    # what attach writes when it is left out (null: nothing)
    help: str               # one line: what it sets (the --help text)
    secret: bool            # sent once, in the attach request; never kept in a page or file
    required: bool
    choices: list[str] | None   # the values of a choice (null for other kinds)
    label: str              # the label of its field in the attach forms
    example: str | None     # a valid value, the field's hint (null: none)
    #: Options of one group are alternatives: at most one is given (``login``: a password,
    #: a key file or a generated key). Null: no group.
    group: str | None


class TargetTypeJson(TypedDict):
    """One registered compute type: where run folders live (``placement``: local or remote)
    and how the agent starts (``launch``: process, container or spark)."""

    name: str
    aliases: list[str]      # other names attach takes for it
    summary: str
    placement: str
    launch: str
    options: list[AttachOptionJson]   # the attach options it takes, in the registry's order


class TargetTypesJson(TypedDict):
    """REST ``GET target-types``: every compute type and its attach options, from the one
    registry (``aml_magic/domain/registry.py``)."""

    types: list[TargetTypeJson]


class EmptyRequest(TypedDict):
    """A body that carries nothing (``POST runs/<id>/cancel``); ``{}`` or none at all."""


# -- the CLI's own listings -------------------------------------------------------------------
class HistoryRunJson(RunJson):
    """A run as ``aml history list -o json`` gives it. As Workbench's JSON had them, each
    metric is also a top-level key (unless it names a field), so ``--query "[?Accuracy >
    `0.9`]"`` works unchanged."""

    arguments: list[str]    # the script's arguments
    metrics: dict[str, Any]  # the last value of each metric series


class ComparedRunJson(HistoryRunJson):
    """One run in ``aml history compare -o json``."""

    python: str | None      # the interpreter (resolved path and version)


class ComparisonJson(TypedDict):
    """``aml history compare -o json``: runs side by side."""

    runs: list[ComparedRunJson]
    metrics: list[str]      # every metric name, in first-seen order
    environment_differences: list[str]   # variables whose values differ between the runs


class RunComparisonJson(ComparisonJson):
    """REST ``compare?run=ID&run=ID`` (or ``?sweep=ID``): the Lab's compare page, the runs of
    ``aml history compare`` plus their parameters and numeric metric series."""

    project: ProjectJson
    parameters: dict[str, dict[str, Any]]   # run id -> its parameters (numbers as numbers)
    parameter_names: list[str]  # every parameter name of these runs, sorted
    #: run id -> metric name -> ``[step, value]`` pairs in step order (numeric values only,
    #: at most 1000 evenly spaced points a series)
    series: dict[str, dict[str, list[list[float]]]]


class SweepJson(TypedDict):
    """A sweep (a run with child runs), as the runs table's sweep filter lists it."""

    run_id: str
    name: str               # its script, else its id
    status: RunStatusName
    created_at: float
    children: int           # how many child runs it has


class SweepListJson(TypedDict):
    """REST ``sweeps``: the project's sweeps, newest first."""

    sweeps: list[SweepJson]


class GcItemJson(TypedDict):
    """One thing a target keeps that no recent run uses."""

    kind: str
    name: str
    bytes: int


class GcPlanJson(TypedDict):
    """``aml computetarget gc -o json``."""

    removed: bool           # false: a dry run, nothing was removed
    target: str
    keep_days: float
    total_bytes: int
    items: list[GcItemJson]


class PrunedRunJson(TypedDict):
    """One run ``aml history prune`` removes."""

    run_id: str
    status: RunStatusName
    created_at: float
    bytes: int


class PrunePlanJson(TypedDict):
    """``aml history prune -o json``."""

    removed: bool           # false: a dry run, nothing was removed
    total_bytes: int
    runs: list[PrunedRunJson]


# -- the team server (``aml server``) ---------------------------------------------------------
#: What a member may do: admin (members, targets, secrets) > contributor (submit, cancel) >
#: reader (runs, logs, metrics, artifacts).
RoleName = Literal["admin", "contributor", "reader"]


class _MemberRequest(TypedDict):
    name: str
    role: RoleName


class MemberRequest(_MemberRequest, total=False):
    """REST ``POST members`` (admins): add a member with a role (and a token that expires
    after ``expires_in_days``)."""

    expires_in_days: float | None


class MemberJson(TypedDict):
    """A member of the workspace."""

    name: str
    role: RoleName
    created_at: str         # ISO-8601


class MemberTokenJson(TypedDict):
    """The answer to ``POST members``: the new member's token, shown this once (only its hash
    is stored)."""

    name: str
    role: RoleName
    token: str


class MemberListJson(TypedDict):
    members: list[MemberJson]


class WhoAmIJson(TypedDict):
    """REST ``GET whoami``: the member the request's token belongs to."""

    name: str
    role: RoleName


class AuditEntryJson(TypedDict):
    """One audit log entry: member changes, attach, detach, cancel."""

    id: int
    time: str               # ISO-8601
    actor: str              # the member who did it
    action: str             # member.add, member.remove, target.attach, target.detach, run.cancel
    subject: str            # the member, target or run it was done to
    detail: dict[str, Any]


class AuditLogJson(TypedDict):
    entries: list[AuditEntryJson]   # newest first


class HealthJson(TypedDict):
    """``GET /health`` (no token): whether the server and its database answer."""

    status: Literal["ok", "unavailable"]
    database: str           # "ok", or why not


class _PushedRunJson(TypedDict):
    record: dict[str, Any]  # the run's fields as the personal history keeps them


class PushedRunJson(_PushedRunJson, total=False):
    """One run of a personal history, as ``aml history push`` sends it."""

    transitions: list[list[Any]]    # [status, time, reason]
    metrics: list[list[Any]]        # [name, value, step, time]
    artifacts: list[list[Any]]      # [path, size, sha256]


class PushRequest(TypedDict):
    """REST ``POST workspace/runs`` (contributors): runs of a personal history, stored as the
    member's; pushing the same runs again changes nothing."""

    runs: list[PushedRunJson]


class PushResultJson(TypedDict):
    created: list[str]      # run ids new to the workspace
    updated: list[str]      # run ids already there, brought up to date
    not_owner: list[str]    # run ids another member pushed first: left alone


class WorkspaceRunJson(TypedDict):
    """A run of the workspace's shared history (PostgreSQL)."""

    run_id: str
    project: str
    run_configuration: str | None
    target: str
    target_type: str
    status: RunStatusName
    created_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    kind: RunKind
    parent_run_id: str | None
    owner: str              # the member who submitted or pushed it


class WorkspaceRunPageJson(TypedDict):
    """REST ``GET workspace/runs?status=&target=&limit=50&offset=0&sort=created_at&order=desc
    &after=``: newest first, or ``sort=metric:NAME`` by NAME's latest numeric value (only the
    runs that logged it). ``after`` is a page's ``next`` (keyset paging: deep pages cost what
    the first does); ``next`` is null on the last page."""

    runs: list[WorkspaceRunJson]
    limit: int
    offset: int
    sort: str                  # "created_at" or "metric:NAME"
    order: SortOrder
    next: str | None           # the cursor of the following page
    values: dict[str, float]   # run id -> the sort metric's value (empty unless sorted by one)


class BlobHashesRequest(TypedDict):
    """REST ``POST workspace/blobs/missing`` (contributors): which of these blobs (sha256)
    the server lacks."""

    hashes: list[str]


class WorkspaceArtifactJson(TypedDict):
    """One output of a run of the shared history."""

    path: str               # relative to the run's outputs/, '/'-separated
    size: int
    sha256: str
    stored: bool            # its file is on the server (false: pushed without it)


class WorkspaceArtifactListJson(TypedDict):
    run_id: str
    artifacts: list[WorkspaceArtifactJson]


class BlobsMissingJson(TypedDict):
    missing: list[str]      # the hashes asked about that the server has no blob for


class UploadedFileJson(TypedDict):
    """One file of a snapshot a member uploads: its content by hash, and its mode."""

    sha256: str             # its blob, uploaded with PUT workspace/blobs/SHA
    mode: int               # 0o755 if executable, else 0o644


class _SnapshotRequest(TypedDict):
    files: dict[str, UploadedFileJson]   # every file of the snapshot by relative posix path


class SnapshotRequest(_SnapshotRequest, total=False):
    """REST ``POST workspace/projects/NAME/snapshot`` (contributors): make the server's project
    NAME hold exactly these files (not its ``.aml/``, targets or link), then submit in it."""

    submit: SubmitRequest   # its script relative to the project


class SnapshotResultJson(TypedDict):
    project: str
    files: int              # files in the snapshot
    written: int            # files the server (re)wrote
    removed: int            # files the server removed (not in the snapshot)
    run: RunJson | None     # the run submitted, when the request asked for one


#: Every shape of the contract, in the schema's order.
SHAPES: tuple[type, ...] = (
    MetricJson, OutputJson, RunJson, ConfigurationJson, ReductionJson, IsolationJson,
    ProvenanceJson, RunDetailJson,
    RunPageJson, RunTableJson, LogChunkJson, ProjectJson, TargetJson, RunConfigurationJson,
    EnvironmentJson,
    PrepareJobJson, VersionJson, TargetListJson, RunConfigurationListJson, MetricListJson,
    OutputListJson, HostKeyJson, ErrorJson, AttachedTargetJson, ProjectActiveJson,
    ActiveRunsJson, AttachRequest, AttachOptionJson, TargetTypeJson, TargetTypesJson,
    PrepareRequest, SubmitRequest, EmptyRequest, HistoryRunJson, ComparedRunJson,
    ComparisonJson, GcItemJson, GcPlanJson, PrunedRunJson, PrunePlanJson,
    MemberRequest, MemberJson, MemberTokenJson, MemberListJson, WhoAmIJson, AuditEntryJson,
    AuditLogJson, HealthJson, PushedRunJson, PushRequest, PushResultJson, WorkspaceRunJson,
    WorkspaceRunPageJson, WorkspaceArtifactJson, WorkspaceArtifactListJson, BlobHashesRequest,
    BlobsMissingJson, UploadedFileJson,
    SnapshotRequest, SnapshotResultJson, SnapshotFileJson, SnapshotJson,
    RunComparisonJson, SweepJson, SweepListJson, EnvironmentLogJson, SnapshotManifestFileJson,
    SnapshotManifestJson,
)
#: Named value types, shared by several shapes (their own ``$defs`` entries).
ALIASES: dict[str, Any] = {"RunStatus": RunStatusName, "RunKind": RunKind,
                           "PrepareJobState": PrepareJobState, "OptionValue": OptionValue,
                           "OptionKind": OptionKind, "SortOrder": SortOrder,
                           "RoleName": RoleName}


@plain_data(frozen=True)
class OpenKeys:
    """The keys of an open shape that its class does not declare: ``known`` ones (declared
    elsewhere) each with their type hint and ``notes``, and any other key holding ``rest``."""

    rest: Any
    known: Mapping[str, Any] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


def attach_option_keys() -> OpenKeys:
    """The attach request's option keys, from the registry: each option's JSON type (one of
    its choices for a choice), its help and the types that take it. Any other key is checked
    as an ``OptionValue`` here and refused by ``registry.check_attach``, naming it."""
    known: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for o in registry.attach_options():
        known[o.name] = cast(Any, Literal)[o.choices] if o.choices else \
            registry.VALUE_TYPES[o.kind]
        notes[o.name] = f"{o.help}; taken by {', '.join(registry.types_of(o))}"
    return OpenKeys(rest=OptionValue, known=known, notes=notes)


#: Shapes that may carry keys not declared here, and what those keys hold: a history row's
#: metric names, a record's configuration and provenance from older versions, the attach
#: options of the registry.
OPEN: dict[type, Any] = {HistoryRunJson: Any, ComparedRunJson: Any, ConfigurationJson: Any,
                         ProvenanceJson: Any, AttachRequest: attach_option_keys()}
