/* eslint-disable */
/**
 * Generated from aml_magic/service/contract/api.schema.json by scripts/schema-to-ts.mjs: do not edit.
 * Change aml_magic/service/contract/models.py, run `python -m aml_magic.service.contract`,
 * then `npm run build:types`.
 */

/** The REST API version these types describe; the server answers it in `GET version`. */
export const API_VERSION = 1;

/** A run's place in its lifecycle (`RunStatus` values; a test keeps the two equal). */
export type RunStatus = 'Queued' | 'Preparing' | 'Running' | 'Finalizing' | 'Completed' | 'Failed' | 'Canceled';
export const RunStatusValues: readonly RunStatus[] = ['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed', 'Failed', 'Canceled'];

/** What a run is: a script, a sweep's parent, or a notebook tracked by its kernel. */
export type RunKind = 'script' | 'sweep' | 'notebook';
export const RunKindValues: readonly RunKind[] = ['script', 'sweep', 'notebook'];

/** Where a prepare job is. */
export type PrepareJobState = 'running' | 'succeeded' | 'failed';
export const PrepareJobStateValues: readonly PrepareJobState[] = ['running', 'succeeded', 'failed'];

/** A value an attach option may take (its name says which; the registry validates it). */
export type OptionValue = string | boolean | number | null;

/** How an attach option's value is entered; the attach forms pick a field's input by it. */
export type OptionKind = 'text' | 'integer' | 'flag' | 'choice' | 'path' | 'password';
export const OptionKindValues: readonly OptionKind[] = ['text', 'integer', 'flag', 'choice', 'path', 'password'];

/** The order of the runs table: ascending or descending. */
export type SortOrder = 'asc' | 'desc';
export const SortOrderValues: readonly SortOrder[] = ['asc', 'desc'];

/** What a member may do: admin (members, targets, secrets) > contributor (submit, cancel) > reader (runs, logs, metrics, artifacts). */
export type RoleName = 'admin' | 'contributor' | 'reader';
export const RoleNameValues: readonly RoleName[] = ['admin', 'contributor', 'reader'];

/** One logged value; a series is several rows with one name and increasing `step`. */
export interface MetricJson {
  name: string;
  /** a JSON scalar, or a list (a logged row or histogram) */
  value: unknown;
  step: number | null;
  time: number | null;
}

/** One file under the run's `outputs/`. */
export interface OutputJson {
  /** relative to outputs/, '/'-separated */
  path: string;
  size: number;
  sha256: string;
}

/** A run as listed (`aml run list -o json`, the runs table, the REST list). */
export interface RunJson {
  /** <project>_<13-digit epoch ms>_<4 hex>: sorts by time */
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** seconds from start to end (or to now while it runs) */
  duration: number | null;
  exit_code: number | null;
  /** why it failed or was canceled, notes on what was refused */
  reason: string | null;
  /** the script and its arguments */
  command: string[];
  script: string | null;
  /** variables it was given, secret-looking ones masked */
  environment: Record<string, string>;
  snapshot_digest: string | null;
  environment_hash: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  kind: RunKind;
  /** the sweep a child run belongs to */
  parent_run_id: string | null;
}

/** What a run was configured with: its `.runconfig` and `.compute` files' keys as they were at submit (secrets masked or as store references), and a sweep's grid. */
export interface ConfigurationJson {
  runconfig?: Record<string, unknown>;
  compute?: Record<string, unknown>;
  sweep?: Record<string, unknown>;
  /** present when the user allowed options weakening isolation */
  isolation?: IsolationJson;
  /** Keys not declared here (see the description). */
  [key: string]: unknown;
}

/** One `.compute` value that weakened a container's isolation. */
export interface ReductionJson {
  /** the name that allows it (capabilities, root_user, ...) */
  allow: string;
  /** the .compute key */
  option: string;
  /** its value */
  value: string;
  /** what it does */
  why: string;
}

/** A run whose container ran with reduced isolation, and who allowed that. */
export interface IsolationJson {
  reduced: ReductionJson[];
  /** the user's settings file, or --allow-unsafe-container */
  allowed_by: string;
}

/** Facts the agent reported about where the run ran. */
export interface ProvenanceJson {
  /** the interpreter, resolved */
  python?: string;
  python_version?: string;
  /** pythonLocation as configured (null: the target's default) */
  python_location?: string | null;
  /** the path it was started by, when it differs from the resolved one */
  python_executable?: string;
  /** its environment's prefix */
  python_prefix?: string;
  /** a Workbench module the run lacked, and what to use instead */
  hint?: string;
  /** Keys not declared here (see the description). */
  [key: string]: unknown;
}

/** A run in full (`aml run show -o json`, REST `runs/<id>`): what it was configured with, its metrics and outputs, where its log is, and why its state may be stale. */
export interface RunDetailJson {
  /** <project>_<13-digit epoch ms>_<4 hex>: sorts by time */
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** seconds from start to end (or to now while it runs) */
  duration: number | null;
  exit_code: number | null;
  /** why it failed or was canceled, notes on what was refused */
  reason: string | null;
  /** the script and its arguments */
  command: string[];
  script: string | null;
  /** variables it was given, secret-looking ones masked */
  environment: Record<string, string>;
  snapshot_digest: string | null;
  environment_hash: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  kind: RunKind;
  /** the sweep a child run belongs to */
  parent_run_id: string | null;
  configuration: ConfigurationJson;
  metrics: MetricJson[];
  outputs: OutputJson[];
  /** the log file's path */
  log?: string;
  /** the log of the environment build its submit triggered */
  environment_log?: string;
  /** why the target could not be asked: the state may be stale */
  unreachable?: string;
  /** why its target is gone from aml_config/: nothing connects for it */
  orphaned?: string;
  /** the interpreter the run used (path and version) */
  python?: string;
  provenance?: ProvenanceJson;
  hint?: string;
  spark_app_id?: string;
  spark_ui?: string;
  /** 'JOBID (partition P, node N)' of a run on a Slurm target */
  slurm_job?: string;
  /** 'reduced: KEY: VALUE, ... (allowed by ...)' when it was */
  isolation?: string;
}

/** One page of a project's runs (REST `runs`), newest first. */
export interface RunPageJson {
  project: ProjectJson;
  runs: RunJson[];
  /** run id -> its first metrics' latest values */
  metrics: Record<string, Record<string, unknown>>;
  /** runs matching the filters */
  total: number;
  /** the project's runs not ended yet */
  active: number;
  limit: number;
  offset: number;
}

/** One page of the runs table (REST `run-table`): filtered and sorted on the server by `sort`, a column (`start`, `created`, `duration`, `status`, `target`, `name`) or `metric:NAME` (its latest value) or `param:NAME` (a `--NAME VALUE` argument). */
export interface RunTableJson {
  project: ProjectJson;
  runs: RunJson[];
  /** run id -> each metric's latest value */
  metrics: Record<string, Record<string, unknown>>;
  /** run id -> its parameters (numbers as numbers) */
  parameters: Record<string, Record<string, unknown>>;
  /** every metric name of the project (columns one may add) */
  metric_names: string[];
  /** every parameter name of the project */
  parameter_names: string[];
  /** runs matching the filters */
  total: number;
  /** the project's runs not ended yet */
  active: number;
  sort: string;
  order: SortOrder;
  limit: number;
  offset: number;
}

/** A piece of a run's log (masked) from byte `offset` up to its last complete line. `GET runs/{id}/log` reads from `?offset=` (at most `&limit=` bytes), or its last `?tail=` bytes, or the `&limit=` bytes `?before=` a byte; a window starts at a line's start and is at most 4 MB, so the log's size never makes an answer big. */
export interface LogChunkJson {
  run_id: string;
  /** the byte the text starts at (> 0: earlier text exists) */
  offset: number;
  /** where to ask from next (for `before`: where the text ends) */
  next_offset: number;
  text: string;
  status: RunStatus;
  /** the run has ended and nothing is left to read */
  complete: boolean;
  /** team server, `&wait=S&detail=1`: the run once `complete` */
  run?: RunDetailJson;
}

/** A project as the server sees it. */
export interface ProjectJson {
  name: string;
  /** its folder relative to the server's root ('' for the root) */
  path: string;
}

/** A compute target. */
export interface TargetJson {
  name: string;
  type: string;
  address: string | null;
  username: string | null;
  /** its .compute file's keys as written there, secrets masked */
  settings: Record<string, unknown>;
}

/** A run configuration. */
export interface RunConfigurationJson {
  name: string;
  target: string;
  framework: string;
  arguments: string[];
  /** secret-looking values masked */
  environment: Record<string, string>;
  /** its .runconfig file's keys as written there */
  settings: Record<string, unknown>;
}

/** Whether a target's environment (for one of its run configurations) exists already; looking never builds it. */
export interface EnvironmentJson {
  target: string;
  run_configuration: string | null;
  /** null: nothing to tell (no run configuration uses the target) */
  prepared: boolean | null;
  message: string;
}

/** An environment build running in the server; poll it until `state` is not running. */
export interface PrepareJobJson {
  job_id: string;
  project: string;
  run_configuration: string;
  state: PrepareJobState;
  /** the newest lines of the build's output */
  progress: string[];
  message: string | null;
  built: boolean | null;
  started_at: number;
  ended_at: number | null;
}

/** The version handshake; the sidebar refuses another `api`. */
export interface VersionJson {
  version: string;
  api: number;
}

/** REST `GET targets`. */
export interface TargetListJson {
  targets: TargetJson[];
}

/** REST `GET runconfigs`. */
export interface RunConfigurationListJson {
  run_configurations: RunConfigurationJson[];
}

/** REST `GET runs/<id>/metrics`. */
export interface MetricListJson {
  metrics: MetricJson[];
}

/** REST `GET runs/<id>/outputs`. */
export interface OutputListJson {
  outputs: OutputJson[];
}

/** An SSH host key a target offered at attach that nothing pins yet: the user compares the fingerprint with the server's own and, to trust it, attaches again giving it as `host_key_fingerprint`. */
export interface HostKeyJson {
  host: string;
  port: number;
  /** e.g. ssh-ed25519 */
  key_type: string;
  /** SHA256:..., as `ssh-keygen -lf KEY.pub` prints it */
  fingerprint: string;
}

/** Every failed REST request (4xx, 5xx). */
export interface ErrorJson {
  /** one line naming the file, run or target and what to do */
  message: string;
  /** the HTTP reason phrase */
  reason?: string | null;
  traceback?: string;
  /** POST targets, 409: the unknown host key to confirm */
  host_key?: HostKeyJson;
  /** POST workspace/projects/NAME/snapshot, 409: the blobs to upload */
  missing?: string[];
}

/** REST `POST targets`: the attached target and what attach had to say. */
export interface AttachedTargetJson {
  name: string;
  type: string;
  address: string | null;
  username: string | null;
  /** its .compute file's keys as written there, secrets masked */
  settings: Record<string, unknown>;
  /** lines for the user (e.g. the pinned host key) */
  messages?: string[];
  /** a generated key's authorized_keys line, to add on the machine */
  public_key?: string;
}

/** One project's count of runs not ended yet. */
export interface ProjectActiveJson {
  name: string;
  /** its folder relative to the server's root ('' for the root) */
  path: string;
  active: number;
  /** the team server running them; path: the linked folder or '' */
  workspace?: string;
}

/** REST `GET active-runs`: the runs not ended yet in every project the server knows (seen by a request, or found under its root folder), whatever folder is shown, plus those the team server of a linked project runs (what its member can see). */
export interface ActiveRunsJson {
  active: number;
  /** those with active runs, most first */
  projects: ProjectActiveJson[];
  /** one line: a linked project's workspace could not be asked */
  workspace_error?: string;
}

/** REST `POST targets`: attach a compute target. Its further keys are the attach options of the registry of target types (`GET target-types` lists those each type takes); one a type does not take, or a value of the wrong kind, is a 400 naming it. The password travels in this body once and goes to the secret store. */
export interface AttachRequest {
  /** a type's name or alias, as GET target-types lists them */
  type: string;
  /** the target's name (its .compute file's) */
  name: string;
  /** HOST or HOST:PORT of the machine; taken by remote, remotedocker, cluster, slurm */
  address?: string;
  /** SSH user; taken by remote, remotedocker, cluster, slurm */
  username?: string;
  /** the SSH password; taken by remote, remotedocker, cluster, slurm */
  password?: string;
  /** generate an SSH key pair and print the authorized_keys line; taken by remote, remotedocker, cluster, slurm */
  use_key?: boolean;
  /** an existing private key file (stored in the secret store); taken by remote, remotedocker, cluster, slurm */
  key_file?: string;
  /** the SSH host key fingerprint to pin, known ahead; taken by remote, remotedocker, cluster, slurm */
  host_key_fingerprint?: string;
  /** pin the host key shown on first connection without asking; taken by remote, remotedocker, cluster, slurm */
  trust_new_host_key?: boolean;
  /** folder on the remote for runs and snapshots (default ~/.aml_magic); taken by remote, remotedocker, cluster, slurm */
  remote_base_dir?: string;
  /** base Docker image; taken by docker, remotedocker */
  base_image?: string;
  /** mount the project instead of copying it; taken by docker, remotedocker */
  shared_volumes?: boolean;
  /** give the container the host's GPUs; taken by docker, remotedocker */
  nvidia_docker?: boolean;
  /** the interpreter on the target; taken by local, remote, remotedocker, cluster, slurm */
  python_location?: string;
  /** spark-submit on the target; taken by local, remote, cluster */
  spark_submit_location?: string;
  /** spark-submit --deploy-mode on YARN; taken by cluster */
  yarn_deploy_mode?: 'client' | 'cluster';
  /** spark-submit --master of a cluster target; taken by cluster */
  spark_master?: string;
  /** Docker network of builds and runs: host, bridge, none or a network name; taken by docker, remotedocker */
  network_mode?: string;
  /** the engine on the machine, as `docker -H URL` takes it (default: the docker command's own); taken by docker, remotedocker */
  docker_host?: string;
  /** how many child runs of a sweep run at once; taken by local, docker, remote, remotedocker, cluster, slurm */
  max_concurrent_runs?: number;
  /** Slurm partition of the jobs (sbatch --partition); taken by slurm */
  partition?: string;
  /** Slurm account charged (sbatch --account); taken by slurm */
  account?: string;
  /** Slurm quality of service (sbatch --qos); taken by slurm */
  qos?: string;
  /** time limit of each job (sbatch --time); taken by slurm */
  time_limit?: string;
  /** CPUs of each job (sbatch --cpus-per-task); taken by slurm */
  cpus_per_task?: number;
  /** memory of each job (sbatch --mem); taken by slurm */
  memory?: string;
  /** GPUs of each job (sbatch --gres=gpu:N); taken by slurm */
  gpus?: number;
  /** more sbatch options for every job, split as a shell would; taken by slurm */
  sbatch_options?: string;
  /** Keys not declared here (see the description). */
  [key: string]: OptionValue | undefined;
}

/** One attach option of a target type, from the registry: the attach forms render one field per option. */
export interface AttachOptionJson {
  /** its key in the attach request (AttachRequest) */
  name: string;
  /** its .compute key (null: attach-only) */
  key: string | null;
  /** its long spelling on the command line and in %aml_attach */
  flag: string;
  kind: OptionKind;
  /** what attach writes when it is left out (null: nothing) */
  default: OptionValue;
  /** one line: what it sets (the --help text) */
  help: string;
  /** sent once, in the attach request; never kept in a page or file */
  secret: boolean;
  required: boolean;
  /** the values of a choice (null for other kinds) */
  choices: string[] | null;
  /** the label of its field in the attach forms */
  label: string;
  /** a valid value, the field's hint (null: none) */
  example: string | null;
  /** Options of one group are alternatives: at most one is given (`login`: a password, a key file or a generated key). Null: no group. */
  group: string | null;
}

/** One registered compute type: where run folders live (`placement`: local or remote) and how the agent starts (`launch`: process, container or spark). */
export interface TargetTypeJson {
  name: string;
  /** other names attach takes for it */
  aliases: string[];
  summary: string;
  placement: string;
  launch: string;
  /** the attach options it takes, in the registry's order */
  options: AttachOptionJson[];
}

/** REST `GET target-types`: every compute type and its attach options, from the one registry (`aml_magic/domain/registry.py`). */
export interface TargetTypesJson {
  types: TargetTypeJson[];
}

/** REST `POST prepare`: a run configuration, or a target one of them uses. */
export interface PrepareRequest {
  run_configuration?: string;
  target?: string;
}

/** REST `POST runs`: submit a script with a run configuration. */
export interface SubmitRequest {
  run_configuration: string;
  /** its path from the server's root (else the configuration's own) */
  script?: string | null;
  arguments?: string[];
  target?: string;
  conda_dependencies_file?: string;
  spark_dependencies_file?: string;
  /** `--sweep NAME=V1,V2,...` (each option's value): a sweep's parent run is submitted, its child runs started by the server */
  sweep?: string[];
  /** with `sweep`: at most this many child runs at once */
  max_concurrent?: number;
}

/** A body that carries nothing (`POST runs/<id>/cancel`); `{}` or none at all. */
export interface EmptyRequest {
}

/** A run as `aml history list -o json` gives it. As Workbench's JSON had them, each metric is also a top-level key (unless it names a field), so `--query "[?Accuracy > `0.9`]"` works unchanged. */
export interface HistoryRunJson {
  /** <project>_<13-digit epoch ms>_<4 hex>: sorts by time */
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** seconds from start to end (or to now while it runs) */
  duration: number | null;
  exit_code: number | null;
  /** why it failed or was canceled, notes on what was refused */
  reason: string | null;
  /** the script and its arguments */
  command: string[];
  script: string | null;
  /** variables it was given, secret-looking ones masked */
  environment: Record<string, string>;
  snapshot_digest: string | null;
  environment_hash: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  kind: RunKind;
  /** the sweep a child run belongs to */
  parent_run_id: string | null;
  /** the script's arguments */
  arguments: string[];
  /** the last value of each metric series */
  metrics: Record<string, unknown>;
  /** Keys not declared here (see the description). */
  [key: string]: unknown;
}

/** One run in `aml history compare -o json`. */
export interface ComparedRunJson {
  /** <project>_<13-digit epoch ms>_<4 hex>: sorts by time */
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** seconds from start to end (or to now while it runs) */
  duration: number | null;
  exit_code: number | null;
  /** why it failed or was canceled, notes on what was refused */
  reason: string | null;
  /** the script and its arguments */
  command: string[];
  script: string | null;
  /** variables it was given, secret-looking ones masked */
  environment: Record<string, string>;
  snapshot_digest: string | null;
  environment_hash: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  kind: RunKind;
  /** the sweep a child run belongs to */
  parent_run_id: string | null;
  /** the script's arguments */
  arguments: string[];
  /** the last value of each metric series */
  metrics: Record<string, unknown>;
  /** the interpreter (resolved path and version) */
  python: string | null;
  /** Keys not declared here (see the description). */
  [key: string]: unknown;
}

/** `aml history compare -o json`: runs side by side. */
export interface ComparisonJson {
  runs: ComparedRunJson[];
  /** every metric name, in first-seen order */
  metrics: string[];
  /** variables whose values differ between the runs */
  environment_differences: string[];
}

/** One thing a target keeps that no recent run uses. */
export interface GcItemJson {
  kind: string;
  name: string;
  bytes: number;
}

/** `aml computetarget gc -o json`. */
export interface GcPlanJson {
  /** false: a dry run, nothing was removed */
  removed: boolean;
  target: string;
  keep_days: number;
  total_bytes: number;
  items: GcItemJson[];
}

/** One run `aml history prune` removes. */
export interface PrunedRunJson {
  run_id: string;
  status: RunStatus;
  created_at: number;
  bytes: number;
}

/** `aml history prune -o json`. */
export interface PrunePlanJson {
  /** false: a dry run, nothing was removed */
  removed: boolean;
  total_bytes: number;
  runs: PrunedRunJson[];
}

/** REST `POST members` (admins): add a member with a role (and a token that expires after `expires_in_days`). */
export interface MemberRequest {
  name: string;
  role: RoleName;
  expires_in_days?: number | null;
}

/** A member of the workspace. */
export interface MemberJson {
  name: string;
  role: RoleName;
  /** ISO-8601 */
  created_at: string;
}

/** The answer to `POST members`: the new member's token, shown this once (only its hash is stored). */
export interface MemberTokenJson {
  name: string;
  role: RoleName;
  token: string;
}

export interface MemberListJson {
  members: MemberJson[];
}

/** REST `GET whoami`: the member the request's token belongs to. */
export interface WhoAmIJson {
  name: string;
  role: RoleName;
}

/** One audit log entry: member changes, attach, detach, cancel. */
export interface AuditEntryJson {
  id: number;
  /** ISO-8601 */
  time: string;
  /** the member who did it */
  actor: string;
  /** member.add, member.remove, target.attach, target.detach, run.cancel */
  action: string;
  /** the member, target or run it was done to */
  subject: string;
  detail: Record<string, unknown>;
}

export interface AuditLogJson {
  /** newest first */
  entries: AuditEntryJson[];
}

/** `GET /health` (no token): whether the server and its database answer. */
export interface HealthJson {
  status: 'ok' | 'unavailable';
  /** "ok", or why not */
  database: string;
}

/** One run of a personal history, as `aml history push` sends it. */
export interface PushedRunJson {
  /** the run's fields as the personal history keeps them */
  record: Record<string, unknown>;
  /** [status, time, reason] */
  transitions?: unknown[][];
  /** [name, value, step, time] */
  metrics?: unknown[][];
  /** [path, size, sha256] */
  artifacts?: unknown[][];
}

/** REST `POST workspace/runs` (contributors): runs of a personal history, stored as the member's; pushing the same runs again changes nothing. */
export interface PushRequest {
  runs: PushedRunJson[];
}

export interface PushResultJson {
  /** run ids new to the workspace */
  created: string[];
  /** run ids already there, brought up to date */
  updated: string[];
  /** run ids another member pushed first: left alone */
  not_owner: string[];
}

/** A run of the workspace's shared history (PostgreSQL). */
export interface WorkspaceRunJson {
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  kind: RunKind;
  parent_run_id: string | null;
  /** the member who submitted or pushed it */
  owner: string;
}

/** REST `GET workspace/runs?status=&target=&limit=50&offset=0&sort=created_at&order=desc &after=`: newest first, or `sort=metric:NAME` by NAME's latest numeric value (only the runs that logged it). `after` is a page's `next` (keyset paging: deep pages cost what the first does); `next` is null on the last page. */
export interface WorkspaceRunPageJson {
  runs: WorkspaceRunJson[];
  limit: number;
  offset: number;
  /** "created_at" or "metric:NAME" */
  sort: string;
  order: SortOrder;
  /** the cursor of the following page */
  next: string | null;
  /** run id -> the sort metric's value (empty unless sorted by one) */
  values: Record<string, number>;
}

/** One output of a run of the shared history. */
export interface WorkspaceArtifactJson {
  /** relative to the run's outputs/, '/'-separated */
  path: string;
  size: number;
  sha256: string;
  /** its file is on the server (false: pushed without it) */
  stored: boolean;
}

export interface WorkspaceArtifactListJson {
  run_id: string;
  artifacts: WorkspaceArtifactJson[];
}

/** REST `POST workspace/blobs/missing` (contributors): which of these blobs (sha256) the server lacks. */
export interface BlobHashesRequest {
  hashes: string[];
}

export interface BlobsMissingJson {
  /** the hashes asked about that the server has no blob for */
  missing: string[];
}

/** One file of a snapshot a member uploads: its content by hash, and its mode. */
export interface UploadedFileJson {
  /** its blob, uploaded with PUT workspace/blobs/SHA */
  sha256: string;
  /** 0o755 if executable, else 0o644 */
  mode: number;
}

/** REST `POST workspace/projects/NAME/snapshot` (contributors): make the server's project NAME hold exactly these files (not its `.aml/`, targets or link), then submit in it. */
export interface SnapshotRequest {
  /** every file of the snapshot by relative posix path */
  files: Record<string, UploadedFileJson>;
  /** its script relative to the project */
  submit?: SubmitRequest;
}

export interface SnapshotResultJson {
  project: string;
  /** files in the snapshot */
  files: number;
  /** files the server (re)wrote */
  written: number;
  /** files the server removed (not in the snapshot) */
  removed: number;
  /** the run submitted, when the request asked for one */
  run: RunJson | null;
}

/** One file of a run's snapshot (the project as the run got it). */
export interface SnapshotFileJson {
  /** relative to the project, '/'-separated */
  path: string;
  size: number;
  /** 0o755 or 0o644 (only the exec bit is kept) */
  mode: number;
}

/** REST `GET runs/<id>/snapshot`: the files of the run's snapshot manifest (the copy the history keeps), the first `limit` by path; `kept` false when the history has none. */
export interface SnapshotJson {
  run_id: string;
  digest: string | null;
  kept: boolean;
  files: SnapshotFileJson[];
  /** files in the manifest */
  total: number;
  /** their bytes */
  total_size: number;
  /** files the snapshot skipped, and why */
  warnings: string[];
}

/** REST `compare?run=ID&run=ID` (or `?sweep=ID`): the Lab's compare page, the runs of `aml history compare` plus their parameters and numeric metric series. */
export interface RunComparisonJson {
  runs: ComparedRunJson[];
  /** every metric name, in first-seen order */
  metrics: string[];
  /** variables whose values differ between the runs */
  environment_differences: string[];
  project: ProjectJson;
  /** run id -> its parameters (numbers as numbers) */
  parameters: Record<string, Record<string, unknown>>;
  /** every parameter name of these runs, sorted */
  parameter_names: string[];
  /** run id -> metric name -> `[step, value]` pairs in step order (numeric values only, at most 1000 evenly spaced points a series) */
  series: Record<string, Record<string, number[][]>>;
}

/** A sweep (a run with child runs), as the runs table's sweep filter lists it. */
export interface SweepJson {
  run_id: string;
  /** its script, else its id */
  name: string;
  status: RunStatus;
  created_at: number;
  /** how many child runs it has */
  children: number;
}

/** REST `sweeps`: the project's sweeps, newest first. */
export interface SweepListJson {
  sweeps: SweepJson[];
}

/** REST `GET runs/{id}/environment-log`: the log of the environment build the run's submit triggered (`aml run logs --environment`); 404, one line, when it triggered none. */
export interface EnvironmentLogJson {
  run_id: string;
  text: string;
}

/** One file of a run's snapshot: its content by hash, size and mode. */
export interface SnapshotManifestFileJson {
  sha256: string;
  size: number;
  /** 0o755 if executable, else 0o644 */
  mode: number;
}

/** REST `GET runs/<id>/snapshot/manifest` (team server; readers): every file of the run's snapshot manifest the workspace's history kept, by relative posix path, for `aml project restore`; the server's own files (its targets) are left out and counted. */
export interface SnapshotManifestJson {
  run_id: string;
  digest: string;
  files: Record<string, SnapshotManifestFileJson>;
  /** files of the server's own left out */
  server_owned: number;
}
