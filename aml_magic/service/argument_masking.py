"""Submit arguments that hold a secret value are masked in the history and everywhere shown.

``aml experiment submit -c vm train.py --password hunter2``: the run gets ``hunter2``, but its
record (``history.db``, ``record.json``), ``aml run show``, REST and the widget show
``******``, and the agent masks it in ``log.txt`` too. The values looked for are the secrets
the run is given (its ``EnvironmentVariables`` references, resolved) and those of its target
(every registry option flagged ``secret``, such as the SSH password), with their escaped
spellings (``Masker``); a URL's password is masked as everywhere else."""
from __future__ import annotations

from collections.abc import Sequence

from aml_magic.domain import registry
from aml_magic.domain.secrets import Masker
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget
    from aml_magic.domain.secrets import SecretStore


def target_secret_values(compute: ComputeTarget, secrets: SecretStore) -> list[str]:
    """The values of the target's secret options (references resolved; unresolvable ones
    left out: the submit reports those itself)."""
    values: list[str] = []
    spec = registry.lookup(compute.type)
    for option in registry.compute_options():
        if not option.secret or spec is None or not option.applies_to(spec):
            continue
        ref = compute.value(option.attr)
        if isinstance(ref, str) and secrets.is_reference(ref):
            try:
                values.append(secrets.get(ref))
            except AmlError:
                continue
    return values


def masked_arguments(command: Sequence[str], run_secrets: Masker, compute: ComputeTarget,
                     secrets: SecretStore) -> tuple[list[str], Masker]:
    """``command`` as history keeps it, and a masker of the secret values found in it (the
    run's log masks them too)."""
    return mask_arguments(command, argument_candidates(run_secrets, compute, secrets))


def argument_candidates(run_secrets: Masker, compute: ComputeTarget,
                        secrets: SecretStore) -> Masker:
    """The secret values an argument may hold: the run's and its target's (looked up once
    for all of a sweep's children)."""
    candidates = Masker(run_secrets.values())
    for value in target_secret_values(compute, secrets):
        candidates.add(value)
    return candidates


def mask_arguments(command: Sequence[str], candidates: Masker) -> tuple[list[str], Masker]:
    """``masked_arguments`` with the candidates known."""
    found = Masker(v for v in candidates.values() if any(v in arg for arg in command))
    return [found.mask(arg) for arg in command], found
