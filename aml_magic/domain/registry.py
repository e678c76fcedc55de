"""Every compute type and every option of a ``.compute`` file, in one declarative table.

This is the one place a type or an option is written down. Derived from it, never written
again: ``ComputeTarget``'s keys, comments and load checks (``domain/config/compute.py``), the
``attach`` parser of the CLI and of ``%aml_attach`` (``frontends/arguments.py``), the widget
attach form, REST attach validation and ``GET /aml/api/target-types`` (which the Lab form
renders), and the ``.compute`` keys table of ``docs/formats.md`` (``registry_catalog.py``).
``docs/adding-a-target.md`` says how to add an option (one ``Option``) or a type (one module or
subfolder under ``targets/`` plus one ``TargetType``).

Standard library only and cheap to import: config loading and the CLI's start-up read it.
Nothing here imports a target module; ``targets.target_class`` does, on first use.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from aml_magic.domain.plain_data import field, plain_data

from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:   # the shape of catalog(), declared in the API contract (types only)
    from typing import Any, Literal
    from aml_magic.service.contract.models import TargetTypesJson

#: The image the container types build on when ``baseDockerImage`` is not given.
DEFAULT_DOCKER_IMAGE = "aml-magic/base:bookworm"

#: How an option's value is entered. ``password`` is a secret typed at attach (a masked prompt
#: on the command line); only a reference to it is stored. ``path`` is a file on this machine.
KINDS: tuple[OptionKind, ...] = ("text", "integer", "flag", "choice", "path", "password")
if TYPE_CHECKING:   # the same names (at run time OptionKind is made from KINDS, on first use)
    OptionKind = Literal["text", "integer", "flag", "choice", "path", "password"]
#: The JSON value of each kind in an attach request (a choice is also one of its ``choices``).
VALUE_TYPES: dict[OptionKind, type] = {"text": str, "integer": int, "flag": bool, "choice": str,
                                      "path": str, "password": str}

# Selectors for ``Option.types``: a type name, or every type of a placement or launch.
REMOTE = "placement=remote"
LOCAL = "placement=local"
PROCESS = "launch=process"
CONTAINER = "launch=container"
SPARK = "launch=spark"
SLURM = "launch=slurm"
ANY = "*"


@plain_data(frozen=True)
class TargetType:
    """One compute type. ``placement`` says where run folders live (``local``: this machine;
    ``remote``: a machine reached over SSH), ``launch`` how the agent starts (``process``: a
    detached process; ``container``: the main process of a container; ``spark``: spark-submit
    as the agent's command). ``defaults`` are ComputeTarget attributes set at attach;
    ``prepare_environment`` and ``framework`` go into the ``.runconfig`` attach writes."""
    name: str
    target: str                               # "module:Class", imported on first use
    placement: str
    launch: str
    summary: str
    aliases: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    prepare_environment: bool = False
    framework: str = "Python"

    @property
    def uses_ssh(self) -> bool:
        return self.placement == "remote"

    @property
    def attach_options(self) -> tuple[str, ...]:
        """Names of the options ``attach`` takes for this type, in table order."""
        return tuple(o.name for o in options_for(self.name))


@plain_data(frozen=True)
class Option:
    """One option: an ``attach`` option (``name`` is its snake_case spelling and its REST body
    key), a ``.compute`` key (``key``; None for attach-only options), or both.

    ``types`` selects the types it applies to (names, ``placement=...``, ``launch=...``, ``*``);
    ``attach`` False keeps it out of attach (set by editing the file). ``flags`` are the CLI
    spellings besides ``--<name-with-dashes>``, which always works; the first long one is shown.
    ``doc`` is the comment above the key in a written file and its docs row (default: ``help``).
    ``attribute`` is the ComputeTarget attribute (default: ``name``). ``group`` makes options
    mutually exclusive (one way to log in). ``pattern`` (a regular expression the whole value
    matches) comes with ``pattern_hint``, what the value should be; ``pattern_in_files`` False
    checks it at attach only, so files written otherwise still load."""
    name: str
    key: str | None
    kind: OptionKind
    help: str
    types: tuple[str, ...]
    attach: bool = True
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    doc: str = ""
    attribute: str = ""
    default: Any = None
    secret: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    pattern: str | None = None
    pattern_hint: str = ""
    pattern_in_files: bool = True            # False: only attach input must match
    group: str | None = None
    label: str = ""                          # the form field's label (default: the name)
    example: str = ""                        # a valid value: the form's hint, the tests' sample
    workbench: bool = False                   # a key Azure ML Workbench itself wrote
    # On a container target, a value of this option can weaken the run's isolation; this is
    # the name under which the user allows that (``domain/isolation.py``), never the project
    isolation: str | None = None

    @property
    def attr(self) -> str:
        return self.attribute or self.name

    @property
    def flag(self) -> str:
        """The long CLI spelling shown in help, docs and the type catalog."""
        return next((f for f in self.flags if f.startswith("--")), self.dashed)

    @property
    def dashed(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every CLI spelling, short ones first (argparse shows them in this order)."""
        extra = () if self.dashed in self.flags else (self.dashed,)
        return (*self.flags, *extra)

    @property
    def comment(self) -> str:
        return self.doc or self.help

    @property
    def field_label(self) -> str:
        """The label of its field in the widget and Lab attach forms."""
        return self.label or self.name.replace("_", " ")

    def applies_to(self, spec: TargetType) -> bool:
        return any(s in (ANY, spec.name, f"placement={spec.placement}", f"launch={spec.launch}")
                   for s in self.types)


_SSH_LOGIN = "login"

#: The types, in the order front ends list them.
TYPES: tuple[TargetType, ...] = (
    TargetType("local", "aml_magic.targets.process.local:LocalTarget", "local", "process",
               "this machine, pythonLocation's interpreter"),
    TargetType("docker", "aml_magic.targets.container.docker:DockerTarget", "local", "container",
               "a container on this machine's Docker engine (DOCKER_HOST honoured)",
               aliases=("localdocker",), defaults={"base_docker_image": DEFAULT_DOCKER_IMAGE},
               prepare_environment=True),
    TargetType("remote", "aml_magic.targets.ssh.remote:RemoteTarget", "remote", "process",
               "a machine over SSH, its own Python (userManagedEnvironment)",
               defaults={"user_managed_environment": True}),
    TargetType("remotedocker", "aml_magic.targets.container.remotedocker:RemoteDockerTarget",
               "remote", "container", "a container on a machine's Docker engine, reached over SSH",
               defaults={"base_docker_image": DEFAULT_DOCKER_IMAGE}, prepare_environment=True),
    TargetType("cluster", "aml_magic.targets.spark.cluster:ClusterTarget", "remote", "spark",
               "a Spark cluster: spark-submit on its head node, reached over SSH",
               defaults={"user_managed_environment": False}, prepare_environment=True,
               framework="PySpark"),
    TargetType("slurm", "aml_magic.targets.slurm.cluster:SlurmTarget", "remote", "slurm",
               "a Slurm cluster: sbatch on its login node, reached over SSH",
               defaults={"user_managed_environment": True}),
)

#: The options, in the order a new ``.compute`` file is written (attach-only ones where they
#: read best in ``--help``).
OPTIONS: tuple[Option, ...] = (
    Option("address", "address", "text", "HOST or HOST:PORT of the machine", (REMOTE,),
           flags=("-a",), metavar="HOST[:PORT]", required=True, workbench=True,
           doc="Host name or IP address of the machine (host:port is allowed).",
           pattern=r"[^\s/\x00-\x1f]+", example="vm.example.org:2222",
           pattern_hint="a host name or IP address (HOST or HOST:PORT, no spaces or '/')"),
    Option("port", "port", "integer", "SSH port of the machine", (REMOTE,), attach=False,
           doc="SSH port of the machine.",
           low=1, high=65535),
    Option("username", "username", "text", "SSH user", (REMOTE,), flags=("-u",),
           metavar="USER", required=True, workbench=True, doc="User to log in as over SSH."),
    Option("password", "password", "password", "the SSH password",
           (REMOTE,), flags=("-w",), secret=True, group=_SSH_LOGIN, workbench=True,
           doc="A reference into the local secret store, never the password itself."),
    Option("use_key", None, "flag", "generate an SSH key pair and print the authorized_keys line",
           (REMOTE,), flags=("-k", "--use-azureml-ssh-key"), group=_SSH_LOGIN,
           label="generate an SSH key pair instead of a password"),
    Option("key_file", None, "path", "an existing private key file (stored in the secret store)",
           (REMOTE,), metavar="PATH", group=_SSH_LOGIN, example="~/.ssh/id_ed25519"),
    Option("key_reference", "sshKey", "text", "secret reference of the private SSH key",
           (REMOTE,), attach=False, secret=True,
           doc="A reference into the local secret store to the private SSH key."),
    Option("host_key_fingerprint", "hostKeyFingerprint", "text",
           "the SSH host key fingerprint to pin, known ahead", (REMOTE,), metavar="SHA256:...",
           doc="The SSH host key this target must present (pinned on attach).",
           pattern=r"\s*(?i:sha256:)?[A-Za-z0-9+/]{43}=?\s*",
           pattern_hint="a SHA256 host key fingerprint: 'SHA256:' and 43 base64 characters, "
                        "as `ssh-keygen -lf KEY.pub` prints it", pattern_in_files=False,
           label="host key", example="SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"),
    Option("trust_new_host_key", None, "flag",
           "pin the host key shown on first connection without asking", (REMOTE,),
           label="pin the host key seen on first connection"),
    Option("remote_base_dir", "remoteBaseDirectory", "text",
           "folder on the remote for runs and snapshots (default ~/.aml_magic)", (REMOTE,),
           metavar="DIR", doc="Folder on the target that holds aml_magic's run folders.",
           example="~/.aml_magic"),
    Option("base_image", "baseDockerImage", "text", "base Docker image", (CONTAINER,),
           attribute="base_docker_image", metavar="IMAGE", workbench=True,
           doc="Docker image the run's container is built on.", example="my/image:tag"),
    Option("shared_volumes", "sharedVolumes", "flag",
           "mount the project instead of copying it", (CONTAINER,), default=False,
           workbench=True, doc="Mount the project into the container instead of copying it.",
           isolation="host_folder"),
    Option("nvidia_docker", "nvidiaDocker", "flag", "give the container the host's GPUs",
           (CONTAINER,), default=False, workbench=True, doc="Give the container the host's GPUs."),
    Option("native_shared_directory", "nativeSharedDirectory", "text",
           "folder on the target that persists across runs", (ANY,), attach=False,
           workbench=True, isolation="host_folder",
           doc="Folder on the target that persists across runs\n"
               "(AZUREML_NATIVE_SHARE_DIRECTORY; on Docker it is mounted only with sharedVolumes: true,\n"
               "as in Workbench, and ignored with one note otherwise)."),
    Option("python_location", "pythonLocation", "text", "the interpreter on the target",
           (PROCESS, REMOTE), metavar="PATH", workbench=True,
           doc="Python interpreter used on the target.", example="python3"),
    Option("spark_submit_location", "sparkSubmitLocation", "text", "spark-submit on the target",
           (PROCESS, SPARK), metavar="PATH", workbench=True,
           doc="spark-submit used for PySpark runs.", example="spark-submit"),
    Option("user_managed_environment", "userManagedEnvironment", "flag",
           "use the target's Python as it is", (REMOTE, "local"), attach=False, workbench=True,
           doc="true: use the target's Python as it is; build no environment. false: `prepare`\n"
               "builds one from conda_dependencies.yml (local: a uv venv, cached)."),
    Option("yarn_deploy_mode", "yarnDeployMode", "choice",
           "spark-submit --deploy-mode on YARN", (SPARK,),
           choices=("client", "cluster"), workbench=True,
           doc="spark-submit --deploy-mode on YARN: client or cluster."),
    Option("spark_master", "sparkMaster", "text",
           "spark-submit --master of a cluster target", (SPARK,),
           metavar="URL", example="spark://head:7077",
           doc="spark-submit --master of a cluster target, e.g. spark://head:7077\n"
               "(absent: the cluster's own default, e.g. YARN on HDInsight)."),
    Option("network_mode", "networkMode", "text",
           "Docker network of builds and runs: host, bridge, none or a network name",
           (CONTAINER,), flags=("--network",), metavar="MODE",
           label="network", example="host", isolation="network_host",
           doc="Docker network of builds and runs: host, bridge, none or a network name\n"
               "(default: the engine's default network)."),
    Option("container_user", "containerUser", "text", "user the run's container runs as",
           (CONTAINER,), attach=False, isolation="root_user",
           doc="User (name or uid[:gid]) the run's container runs as\n"
               "(default: the owner of the run folder)."),
    Option("capabilities", "capabilities", "text", "Linux capabilities the container keeps",
           (CONTAINER,), attach=False, isolation="capabilities",
           doc="Linux capabilities the run's container keeps (default: none), e.g.\n"
               "SYS_PTRACE,NET_ADMIN."),
    Option("docker_host", "dockerHost", "text",
           "the engine on the machine, as `docker -H URL` takes it (default: the docker "
           "command's own)", (CONTAINER,), metavar="URL",
           doc="Docker engine to use on the machine (docker -H), e.g.\n"
               "unix:///run/user/1000/docker.sock.", example="unix:///run/user/1000/docker.sock"),
    Option("ssh_timeout", "sshTimeout", "integer",
           "seconds an SSH operation may go without progress", (REMOTE,), attach=False,
           low=1, high=86400,
           doc="Seconds an SSH connect, login or transfer may go without progress (default 30)."),
    Option("max_concurrent_runs", "maxConcurrentRuns", "integer",
           "how many child runs of a sweep run at once", (ANY,), low=1, high=1024,
           metavar="N", example="4",
           doc="How many child runs of a sweep run at once on this target (default: the\n"
               "machine's CPU count for local, 1 elsewhere; a Slurm array's %K)."),
    # Slurm (targets/slurm/): what every sbatch of the target asks for
    Option("partition", "partition", "text", "Slurm partition of the jobs (sbatch --partition)",
           (SLURM,), metavar="P", pattern=r"[A-Za-z0-9_.,-]+", example="debug",
           pattern_hint="a partition name (letters, digits, '_', '.', '-')"),
    Option("account", "account", "text", "Slurm account charged (sbatch --account)", (SLURM,),
           metavar="A", pattern=r"[A-Za-z0-9_.-]+", example="proj42",
           pattern_hint="an account name (letters, digits, '_', '.', '-')"),
    Option("qos", "qos", "text", "Slurm quality of service (sbatch --qos)", (SLURM,),
           metavar="Q", pattern=r"[A-Za-z0-9_.-]+", example="normal",
           pattern_hint="a QOS name (letters, digits, '_', '.', '-')"),
    Option("time_limit", "timeLimit", "text", "time limit of each job (sbatch --time)",
           (SLURM,), flags=("--time",), metavar="HH:MM:SS", example="01:30:00",
           pattern=r"[0-9]+(-[0-9]{1,2}(:[0-9]{2}){0,2})?|[0-9]+(:[0-9]{2}){1,2}",
           pattern_hint="a Slurm time: MINUTES, HH:MM:SS or D-HH[:MM[:SS]]"),
    Option("cpus_per_task", "cpusPerTask", "integer", "CPUs of each job (sbatch --cpus-per-task)",
           (SLURM,), flags=("--cpus",), metavar="N", low=1, high=100000, example="4"),
    Option("memory", "memory", "text", "memory of each job (sbatch --mem)", (SLURM,),
           metavar="SIZE", pattern=r"[0-9]+[KMGTkmgt]?", example="8G",
           pattern_hint="a size such as 500M or 8G"),
    Option("gpus", "gpus", "integer", "GPUs of each job (sbatch --gres=gpu:N)", (SLURM,),
           metavar="N", low=1, high=1024, example="1"),
    Option("sbatch_options", "sbatchOptions", "text",
           "more sbatch options for every job, split as a shell would", (SLURM,),
           flags=("--sbatch-option",), metavar="OPTIONS", example="--constraint=a100",
           doc="More sbatch options for every job, split as a shell would\n"
               "(e.g. \"--constraint=a100 --exclusive\"); each is passed quoted."),
)

_BY_NAME = {o.name: o for o in OPTIONS}
_BY_TYPE = {t.name: t for t in TYPES}


def registered() -> dict[str, TargetType]:
    """name -> type, in table order."""
    return _BY_TYPE


def lookup(name: str) -> TargetType | None:
    """The type named ``name`` or one of its aliases (``localdocker`` is ``docker``)."""
    if name in _BY_TYPE:
        return _BY_TYPE[name]
    return next((t for t in TYPES if name in t.aliases), None)


def attach_choices() -> list[str]:
    """Names and aliases accepted by ``attach``."""
    return [n for t in TYPES for n in (t.name, *t.aliases)]


def aliases() -> dict[str, str]:
    """alias -> type name."""
    return {a: t.name for t in TYPES for a in t.aliases}


def option(name: str) -> Option:
    return _BY_NAME[name]


def attach_options() -> tuple[Option, ...]:
    """Every option ``attach`` takes for some type, in table order."""
    return tuple(o for o in OPTIONS if o.attach)


def options_for(type_name: str) -> tuple[Option, ...]:
    """The attach options of one type (or alias), in table order."""
    spec = lookup(type_name)
    if spec is None:
        return ()
    return tuple(o for o in OPTIONS if o.attach and o.applies_to(spec))


def compute_options() -> tuple[Option, ...]:
    """The options that are ``.compute`` keys, in the order a new file is written."""
    return tuple(o for o in OPTIONS if o.key is not None)


def types_of(opt: Option) -> list[str]:
    """Names of the types an option applies to."""
    return [t.name for t in TYPES if opt.applies_to(t)]


def default_for(opt: Option, spec: TargetType) -> Any:
    """What attach writes when the option is not given: the type's default, else the option's."""
    return spec.defaults.get(opt.attr, opt.default)


def check_attach(type_name: str, values: Mapping[str, Any], *,
                 rest: bool = False) -> tuple[TargetType, dict[str, Any]]:
    """The type and the options given for it, checked against the table: known, taken by the
    type, of their kind, in range, one way to log in, the required ones there. Absent values
    (None, "" or False) are left out. The first problem is one ``AmlError`` line naming the
    option as the caller spells it (``--flag``, or the body key when ``rest``)."""
    spec = lookup(type_name)
    if spec is None:
        raise AmlError(f"unknown compute type '{type_name}'; one of: "
                       f"{', '.join(attach_choices())}")
    unknown = sorted(k for k in values if k not in _BY_NAME or not _BY_NAME[k].attach)
    if unknown:
        raise AmlError(f"unknown attach option(s) {', '.join(unknown)}; known: "
                       f"{', '.join(o.name for o in attach_options())}")

    def say(o: Option) -> str:
        return o.name if rest else o.dashed
    given = {k: v for k, v in values.items() if not (v is None or v is False or v == "")}
    taken = options_for(spec.name)
    unused = [_BY_NAME[k] for k in given if _BY_NAME[k] not in taken]
    if unused:
        takes = ", ".join(say(o) for o in taken) or "none"
        raise AmlError(f"{', '.join(say(o) for o in unused)} do(es) not apply to compute type "
                       f"'{spec.name}' (it takes: {takes})")
    checked = {k: _checked(_BY_NAME[k], v, say(_BY_NAME[k])) for k, v in given.items()}
    groups: dict[str, list[str]] = {}
    for k in checked:
        if _BY_NAME[k].group:
            groups.setdefault(str(_BY_NAME[k].group), []).append(say(_BY_NAME[k]))
    for names in groups.values():
        if len(names) > 1:
            raise AmlError(f"give only one of {' or '.join(names)}")
    missing = [o for o in taken if o.required and o.name not in checked]
    if missing:
        needs = " and ".join(f"{say(o)} {o.metavar}" if o.metavar and not rest else say(o)
                             for o in missing)
        raise AmlError(f"attaching a {spec.name} target needs {needs}")
    return spec, checked


def _checked(o: Option, value: Any, said: str) -> Any:
    """VALUE as option O takes it, or one AmlError line."""
    if o.kind == "flag":
        if value is not True:
            raise AmlError(f"{said} is a flag: true or false, not {value!r}")
        return True
    if o.kind == "integer":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or \
                not (o.low or 0) <= value <= (o.high if o.high is not None else value):
            raise AmlError(f"{said} must be a whole number from {o.low} to {o.high}, not "
                           f"{value!r}")
        return value
    if not isinstance(value, str):
        raise AmlError(f"{said} must be text, not {value!r}")
    if o.kind == "choice" and value not in o.choices:
        raise AmlError(f"{said} {value!r}: use {' or '.join(o.choices)}")
    if o.pattern and not re.fullmatch(o.pattern, value):
        raise AmlError(f"{said} {value!r} is not {o.pattern_hint}")
    return value


def catalog() -> TargetTypesJson:
    """Every type with the attach options it takes: the JSON of ``GET /aml/api/target-types``,
    from which the Lab attach form renders."""
    return {"types": [
        {"name": t.name, "aliases": list(t.aliases), "summary": t.summary,
         "placement": t.placement, "launch": t.launch,
         "options": [{"name": o.name, "key": o.key, "flag": o.flag, "kind": o.kind,
                      "default": default_for(o, t), "help": o.help, "secret": o.secret,
                      "required": o.required, "choices": list(o.choices) or None,
                      "label": o.field_label, "example": o.example or None,
                      "group": o.group}
                     for o in options_for(t.name)]}
        for t in TYPES]}


__all__ = [
    "ANY", "CONTAINER", "DEFAULT_DOCKER_IMAGE", "KINDS", "LOCAL", "OPTIONS", "PROCESS", "REMOTE",
    "SLURM", "SPARK", "TYPES", "VALUE_TYPES", "Option", "OptionKind", "TargetType", "aliases",
    "attach_choices", "attach_options", "catalog", "check_attach", "compute_options",
    "default_for", "lookup", "option", "options_for", "registered", "types_of",
]


def __getattr__(name: str) -> Any:
    if name == "OptionKind":   # the type, for the API contract: typing is ~5 % of a CLI start
        from typing import Literal
        return Literal[KINDS]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
