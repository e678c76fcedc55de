"""``<target>.compute``: one compute target, where a run goes and how to reach it."""
from __future__ import annotations

import re
from aml_magic.domain.plain_data import field, field_names, plain_data
from pathlib import Path

from aml_magic.domain import registry
from aml_magic.errors import ConfigError
from aml_magic.domain.config._emit import atomic_write, order_keys, render
from aml_magic.domain.config._fields import Fields, load_mapping
from aml_magic.domain.config._parse import parse_file
from aml_magic.domain.config._tree import Node
from aml_magic.domain.masking import is_reference, is_secret_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TYPES = tuple(registry.registered())
_ALIASES = registry.aliases()
_VIENNA_KEYS = ("cluster", "native")          # early files: no 'type', these two booleans
_OPTIONS = registry.compute_options()
#: Keys whose value is a secret, as the registry's ``secret`` flag says (lower case: a
#: differently spelled key still holds the secret, even if it is not read).
SECRET_KEYS = frozenset(str(o.key) for o in _OPTIONS if o.secret)
_SECRET_KEYS_LOWER = frozenset(k.lower() for k in SECRET_KEYS)
_REGISTRY_KEYS = frozenset(str(o.key) for o in _OPTIONS) | {"type"}

# attribute -> key in the file, in the order a new file is written
_KEYS: dict[str, str] = {"type": "type", **{o.attr: str(o.key) for o in _OPTIONS}}
_COMMENTS: dict[str, str] = {
    "type": f"Kind of target: {', '.join(TYPES[:-1])} or {TYPES[-1]}.",
    **{str(o.key): o.comment for o in _OPTIONS}}


@plain_data
class ComputeTarget:
    """One ``<name>.compute`` file. ``type`` is normalized (``localdocker`` is ``docker``).

    Every key of the registry (``domain/registry.py``) is read, checked and written. Its
    attribute here is typed where code reads it; a registry option without one lives in
    ``options`` (``value``/``set_value`` reach both), so adding an option is one entry."""

    name: str
    type: str
    address: str | None = None
    username: str | None = None
    password: str | None = None              # a secret *reference*, never the secret
    base_docker_image: str | None = None
    shared_volumes: bool = False
    nvidia_docker: bool = False
    native_shared_directory: str | None = None
    python_location: str | None = None
    spark_submit_location: str | None = None
    user_managed_environment: bool | None = None
    yarn_deploy_mode: str | None = None
    spark_master: str | None = None           # spark-submit --master (cluster targets)
    host_key_fingerprint: str | None = None
    port: int | None = None
    key_reference: str | None = None
    remote_base_dir: str | None = None
    network_mode: str | None = None
    container_user: str | None = None
    capabilities: str | None = None          # comma-separated capability names
    docker_host: str | None = None
    ssh_timeout: int | None = None            # seconds; None: $AML_MAGIC_SSH_TIMEOUT or 30
    max_concurrent_runs: int | None = None    # sweep children at once; None: see concurrency()
    options: dict[str, Any] = field(default_factory=dict)   # registry attribute -> value
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    key_order: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def host(self) -> str | None:
        """``address`` without a ``:port`` suffix."""
        return split_address(self.address)[0] if self.address else None

    @property
    def is_docker(self) -> bool:
        spec = registry.lookup(self.type)
        return spec is not None and spec.launch == "container"

    @property
    def native_share(self) -> str | None:
        """The ``nativeSharedDirectory`` a run gets. A container target mounts it only with
        ``sharedVolumes: true``: Workbench's own ``docker.compute`` template sets the folder
        with ``sharedVolumes: false``, and Workbench then did not mount it; neither do we."""
        if self.is_docker and not self.shared_volumes:
            return None
        return self.native_shared_directory or None

    def unused_share_note(self) -> str | None:
        """One informational line when ``nativeSharedDirectory`` is set but not used."""
        if not self.native_shared_directory or self.native_share:
            return None
        where = str(self.path) if self.path else f"{self.name}.compute"
        return (f"{where}: nativeSharedDirectory {self.native_shared_directory} is not mounted "
                "(sharedVolumes is false, as in Workbench); set sharedVolumes: true to use it")

    @property
    def is_remote(self) -> bool:
        spec = registry.lookup(self.type)
        return spec is not None and spec.placement == "remote"

    def value(self, attr: str) -> Any:
        """The registry option ``attr`` (its typed attribute, else ``options``)."""
        if attr in _FIELDS:
            return getattr(self, attr)
        return self.options.get(attr, registry.option(attr).default)

    def set_value(self, attr: str, value: Any) -> None:
        if attr in _FIELDS:
            setattr(self, attr, value)
        elif value is None:            # absent: the registry's default, as never set
            self.options.pop(attr, None)
        else:
            self.options[attr] = value

    @classmethod
    def from_values(cls, name: str, values: dict[str, Any], **attributes: Any) -> ComputeTarget:
        """A target from attribute -> value (typed attributes and registry options alike)."""
        target = cls(name=name, type=str(values.get("type", "local")), **attributes)
        for attr, value in values.items():
            if attr != "type":
                target.set_value(attr, value)
        return target

    def concurrency(self) -> int:
        """How many child runs of a sweep may run at once here: ``maxConcurrentRuns``, else the
        CPU count of this machine for ``local`` (its runs share those cores), else 1 (a
        remote machine's size is unknown until asked; one run at a time is always safe)."""
        if self.max_concurrent_runs is not None:
            return self.max_concurrent_runs
        if self.type == "local":
            import os
            return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)
        return 1


_FIELDS = frozenset(field_names(ComputeTarget))


def split_address(address: str) -> tuple[str, int | None]:
    """``host:port`` -> (host, port); IPv6 needs brackets (``[::1]:22``)."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<h>[^:]+):(?P<p>\d+)", address)
    if not match:
        return address, None
    host = match.group("v6") or match.group("h")
    port = match.group("p6") or match.group("p")
    return host, int(port) if port else None


def load_compute(path: Path) -> ComputeTarget:
    """Load one ``.compute`` file (any Workbench generation); ConfigError with file:line if bad."""
    path = Path(path)
    root = load_mapping(path, what="compute target")
    f = Fields(root, path)
    warnings: list[str] = []
    kind = _target_type(f, warnings)
    values: dict[str, Any] = {o.attr: _read(f, o) for o in _OPTIONS}
    values["username"] = values["username"] or None
    values["password"] = values["password"] or None
    address, port = values["address"] or None, values["port"]
    if address and split_address(address)[1] is not None:
        from_address = split_address(address)[1]
        if port is not None and port != from_address:
            warnings.append(f"{path}: 'port: {port}' differs from the port in 'address: {address}';"
                            f" port {port} is used")
        port = port if port is not None else from_address
    values.update(type=kind, address=address, port=port)
    target = ComputeTarget.from_values(path.stem, values, path=path)
    for key, line in plaintext_secrets(root):
        if key == "password":
            warnings.append(f"{path}:{line}: plaintext password; it is used to log in but never "
                            "stored, shown or sent (the file is left out of the run's copy); "
                            "move it into the secret store with `aml computetarget secure "
                            f"{path.stem}`")
        else:
            warnings.append(f"{path}:{line}: '{key}' holds a plaintext secret; the file is left "
                            "out of the run's copy; keep secrets in the secret store (`aml "
                            "computetarget secure`, `aml secret set`) and write the reference")
    extra, unknown = f.rest(known=list(_KEYS.values()), quiet=_VIENNA_KEYS)
    target.extra, target.warnings = extra, warnings + unknown
    target.key_order = f.order
    return target


def _read(f: Fields, o: registry.Option) -> Any:
    """One key as its registry entry says: a flag, a whole number in range, a choice, or text
    matching the entry's pattern."""
    key = str(o.key)
    if o.kind == "flag":
        return f.optional_flag(key) if o.default is None else f.flag(key, o.default)
    if o.kind == "integer":
        return f.integer(key, low=o.low or 0, high=o.high if o.high is not None else 1 << 62)
    if o.kind == "choice":
        return f.choice(key, o.choices)
    text = f.text(key)
    if text and o.pattern and o.pattern_in_files and not re.fullmatch(o.pattern, text):
        raise f.error(f.entry(key), f"'{key}: {text}' is not {o.pattern_hint}")
    return text


def plaintext_secrets(node: Node, prefix: str = "") -> list[tuple[str, int]]:
    """(key path, line) of every value in a parsed ``.compute`` that is a secret written out
    rather than a reference, at any depth (a JSON one-liner, flow-style YAML, a nested
    mapping all parse to the same tree). A registry key is a secret when its ``secret`` flag
    says so; any other key (unknown, nested) when its name does (``sshPassphrase``)."""
    found: list[tuple[str, int]] = []
    for key, entry in (node.entries or {}).items():
        name = f"{prefix}{key}"
        value = entry.node.value
        secret = (str(key).lower() in _SECRET_KEYS_LOWER
                  or ((prefix or key not in _REGISTRY_KEYS) and is_secret_name(str(key))))
        if secret and not entry.node.is_mapping and not entry.node.is_sequence \
                and value not in (None, "") and not is_reference(value):
            found.append((name, entry.line))
        found += plaintext_secrets(entry.node, name + ".")
    for index, item in enumerate(node.items or ()):
        found += plaintext_secrets(item, f"{prefix}{index}.")
    return found


def holds_plaintext_secret(path: str | Path) -> bool:
    """Whether a ``.compute`` file holds a secret written out (``plaintext_secrets``): such a
    file is never copied into a run (nor to a remote). A file that cannot be read or parsed
    counts as holding one, so that a broken file is never shipped on a guess."""
    try:
        tree = parse_file(Path(path))
    except (ConfigError, OSError):
        return True
    return tree is not None and bool(plaintext_secrets(tree))


def _target_type(f: Fields, warnings: list[str]) -> str:
    if f.has("type") or not any(f.has(k) for k in _VIENNA_KEYS):
        kind = f.choice("type", TYPES, aliases=_ALIASES)
        if kind is None:
            raise f.error(f.entry("type"), "'type' is missing; add a line such as 'type: docker' "
                          f"(one of: {', '.join(TYPES)})")
        return kind
    # Early "Vienna" files: cluster/native booleans. An address means the machine is remote.
    cluster = f.optional_flag("cluster")
    native = f.optional_flag("native")
    f.used.difference_update(_VIENNA_KEYS)         # kept in extra so a rewrite keeps them
    has_address = bool((f.node.entries or {}).get("address") and
                       (f.node.entries or {})["address"].node.value)
    if cluster:
        kind = "cluster"
    elif native:
        kind = "remote" if has_address else "local"
    else:
        kind = "remotedocker" if has_address else "docker"
    warnings.append(f"{f.path}: early Workbench format without 'type' (cluster: {cluster}, "
                    f"native: {native}); read as 'type: {kind}'")
    return kind


def write_compute(target: ComputeTarget, path: Path | None = None) -> Path:
    """Write ``target`` atomically; unknown keys from the original file are kept in place."""
    path = Path(path or target.path or "")
    if not path.name:
        raise ValueError("write_compute needs a path: the model was not loaded from a file")
    if target.type not in TYPES:
        raise ConfigError(f"compute target type '{target.type}' is not one of: {', '.join(TYPES)}",
                          path=str(path))
    values: dict[str, Any] = {}
    defaults = {o.attr: o.default for o in _OPTIONS}
    for attr, key in _KEYS.items():
        value = target.value(attr) if attr != "type" else target.type
        if attr == "port" and value is not None and target.address \
                and split_address(target.address)[1] == value and key not in target.key_order:
            continue                            # already written as part of address
        if value != defaults.get(attr) or key in target.key_order:
            values[key] = value
    values.update(target.extra)
    keys = order_keys(target.key_order or ["type"], values)
    if "type" not in target.key_order:           # early files had none: the new key goes first
        keys.insert(0, keys.pop(keys.index("type")))
    header = f"Compute target '{target.name}' (aml_magic; Azure ML Workbench format)."
    return atomic_write(path, render(((k, values[k]) for k in keys), header=header,
                                     comments=_COMMENTS))
