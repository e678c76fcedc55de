"""A run's environment variables (``EnvironmentVariables`` of a run configuration): one shape,
name -> text, and one function for each thing done with it: read from wherever it is kept
(a ``.runconfig``, a run record, a configuration snapshot), resolved for the launch (secret
references replaced by their values), masked for history and every front end."""
from __future__ import annotations

from collections.abc import Mapping

from aml_magic.domain.secrets import Masker, SecretStore, is_reference, looks_secret, url_passwords
from aml_magic.errors import SecretError

#: name -> value, both text: what the run's process gets (resolved), or history and the front
#: ends keep and show (masked).
EnvironmentVariables = dict[str, str]


def is_variable_name(name: object) -> bool:
    """Whether ``name`` can name an environment variable: text, non-empty, no ``=`` or NUL."""
    return isinstance(name, str) and bool(name) and "=" not in name and "\0" not in name


def variable_text(value: object, raw: str | None = None) -> str:
    """One value as the run sees it: none is empty, a boolean ``true``/``false``, a number as
    written (``raw``, from the YAML) or as Python spells it; a ``ValueError`` for anything
    else (a list, a mapping)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return raw if raw is not None else str(value)
    raise ValueError(f"must be text, not {type(value).__name__}")


def environment_variables(value: object) -> EnvironmentVariables:
    """The shape from a mapping as stored anywhere (None: no variables); a ``ValueError``
    naming the first name or value that cannot be one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"environment variables must be a mapping, not {type(value).__name__}")
    env: EnvironmentVariables = {}
    for name, item in value.items():
        if not is_variable_name(name):
            raise ValueError(f"{name!r} cannot be an environment variable name")
        try:
            env[name] = variable_text(item)
        except ValueError as exc:
            raise ValueError(f"environment variable '{name}' {exc}") from None
    return env


def resolve_env(env: Mapping[str, object] | None, store: SecretStore, *,
                context: str | None = None) -> tuple[EnvironmentVariables, Masker]:
    """Resolve the ``aml-secret:`` values of a runconfig's EnvironmentVariables for launch, and
    return a Masker knowing every resolved value (and literal values of secret-looking names)
    so they are masked in logs and records."""
    masker = Masker()
    resolved: EnvironmentVariables = {}
    for name, text in environment_variables(env).items():
        if is_reference(text):
            where = f"{context}: EnvironmentVariables.{name}" if context \
                else f"EnvironmentVariables.{name}"
            _check_made_for_runs(store, text, where, name)
            text = store.get(text, context=where)
            masker.add(text)
        elif looks_secret(name):
            masker.add(text)
        for password in url_passwords(text):
            masker.add(password)
        resolved[name] = text
    return resolved, masker


#: The kind of secret ``aml secret set`` stores: the only one a run's environment may hold.
RUN_SECRET_KIND = "env"


def _check_made_for_runs(store: SecretStore, ref: str, where: str, name: str) -> None:
    """SSH passwords and keys log in to a target; they never reach a run's environment (a
    script could print or send them anywhere). One line names the variable and the reference."""
    kind = store.kind(ref, context=where)
    if kind != RUN_SECRET_KIND:
        what = {"password": "an SSH login password", "sshkey": "an SSH private key"}.get(
            kind, f"a '{kind}' secret")
        raise SecretError(
            f"{where}: {ref} is {what}, not a secret made for runs; refused. Store the value "
            f"for runs with `aml secret set {name}` and use the reference it prints")


def masked_environment(env: Mapping[str, object] | None,
                       masker: Masker | None = None) -> EnvironmentVariables:
    """The variables as history keeps them and every front end shows them: the value of a
    secret-looking name is ``******`` (a secret reference is kept: it reveals nothing), and
    known secret values and URL passwords inside the others are masked. Idempotent, so a
    record written by an older version is masked again when shown. Without ``masker``, the
    literal values of secret-looking names are the known ones, as ``resolve_env`` has them."""
    if masker is None:
        masker = Masker(value for name, value in (env or {}).items()
                        if isinstance(value, str) and looks_secret(str(name))
                        and not is_reference(value))
    masked = masker.mask_mapping(env)
    return {str(name): value if isinstance(value, str) else _shown_text(value)
            for name, value in masked.items()}


def _shown_text(value: object) -> str:
    try:
        return variable_text(value)
    except ValueError:
        return str(value)


__all__ = ["EnvironmentVariables", "environment_variables", "is_variable_name",
           "masked_environment", "resolve_env", "variable_text"]
