"""What to do instead of the Azure CLI and Workbench commands aml_magic does not provide
(``az login``, ``az ml service create realtime``, ...), and the one line an unknown command gets.

One declarative table (``GUIDANCE``) serves both the ``aml`` command and the ``az`` shim
(``aml compat install-az``): a command is looked up by the words after ``az``, the longest
matching prefix wins. Stdlib only and no imports beyond it: the shim answers these at once."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

NOT_NEEDED = "not needed: targets authenticate with their own credentials"
NO_DEPLOYMENT = ("not part of aml_magic: the model is in `aml history download -r ID`; serve it "
                 "with your tool of choice")
NO_CLOUD_PROJECT = ("not needed: a project here is its folder with aml_config/ (`aml init DIR` "
                    "makes one) and its run history lives in it")


class Guidance(NamedTuple):
    """``az WORDS`` ``what`` (present tense, said of the command); ``advice`` says what to do
    here.
    ``code`` is the exit status: 0 where nothing needs doing here (a script carries on), 2 where
    the command's work is not done."""
    words: tuple[str, ...]
    what: str
    advice: str
    code: int


GUIDANCE: tuple[Guidance, ...] = (
    Guidance(("login",), "signs in to Azure", NOT_NEEDED, 0),
    Guidance(("logout",), "signs out of Azure", NOT_NEEDED, 0),
    Guidance(("account",), "chooses the Azure subscription", NOT_NEEDED, 0),
    Guidance(("ml", "account", "experimentation"),
             "manages Workbench's Azure Experimentation account", NOT_NEEDED, 0),
    Guidance(("ml", "account", "modelmanagement"),
             "manages Workbench's Model Management account (model deployment)",
             NO_DEPLOYMENT, 2),
    Guidance(("ml", "account"), "manages Workbench's Azure accounts", NOT_NEEDED, 0),
    Guidance(("ml", "workspace"), "manages Workbench's Azure workspace of projects",
             NO_CLOUD_PROJECT, 0),
    Guidance(("ml", "project", "list"), "lists the projects of a Workbench workspace",
             NO_CLOUD_PROJECT, 0),
    Guidance(("ml", "project", "show"), "shows a project of a Workbench workspace",
             NO_CLOUD_PROJECT, 0),
    Guidance(("ml", "project", "delete"), "deletes a project from a Workbench workspace",
             NO_CLOUD_PROJECT, 0),
    Guidance(("ml", "env"), "sets up the environment that serves models as web services "
             "(Workbench's operationalization)", NO_DEPLOYMENT, 2),
    Guidance(("ml", "service"), "deploys and calls models as web services (Workbench's "
             "operationalization, a separate service)", NO_DEPLOYMENT, 2),
    Guidance(("ml", "model"), "registers models with Model Management", NO_DEPLOYMENT, 2),
    Guidance(("ml", "manifest"), "describes a model deployment for Model Management",
             NO_DEPLOYMENT, 2),
    Guidance(("ml", "image"), "builds a web-service image with Model Management",
             NO_DEPLOYMENT, 2),
    Guidance(("ml", "history", "promote"), "promotes a run's output to Model Management",
             NO_DEPLOYMENT, 2),
    Guidance(("ml", "notebook"), "starts Jupyter for the project in Workbench",
             "not provided: run `jupyter lab` in the project; the aml-magic kernel loads "
             "aml_magic (`aml kernel install`)", 2),
)


def find(words: Sequence[str]) -> tuple[Guidance, tuple[str, ...]] | None:
    """The entry for ``words`` (after ``az``), by the longest prefix, with the command words
    the user gave for it (the prefix and up to two more verbs, as in ``ml service create
    realtime``: the verbs come before the first option); None when there is none."""
    named: tuple[str, ...] = ()
    for word in words:
        if word.startswith("-"):
            break
        named += (word,)
    best: Guidance | None = None
    for entry in GUIDANCE:
        n = len(entry.words)
        if named[:n] == entry.words and (best is None or n > len(best.words)):
            best = entry
    if best is None:
        return None
    shown = list(best.words)
    for word in named[len(best.words):len(best.words) + 2]:
        if not word.isalpha() or not word.islower():       # a value, not a verb
            break
        shown.append(word)
    return best, tuple(shown)


def for_az(args: Sequence[str]) -> tuple[str, int] | None:
    """Guidance for ``az ARGS``: the line and exit code, or None."""
    found = find(args)
    if found is None:
        return None
    entry, shown = found
    return f"az {' '.join(shown)}: {entry.what}; {entry.advice}", entry.code


def for_aml(args: Sequence[str]) -> tuple[str, int] | None:
    """Guidance for ``aml ARGS`` (a Workbench user typing ``aml`` where ``az ml`` was, or
    ``aml ml ...``): the line and exit code, or None."""
    found = find(args) if args[:1] == ["ml"] else (find(("ml", *args)) or find(args))
    if found is None:
        if args[:1] == ["ml"] and len(args) > 1:
            return f"aml ml {args[1]}: `aml` is `az ml`: drop the `ml` (`aml {args[1]} …`)", 2
        return None
    entry, shown = found
    typed = shown[1:] if shown[:1] == ("ml",) and args[:1] != ["ml"] else shown
    return (f"aml {' '.join(typed)}: that is `az {' '.join(shown)}`, which {entry.what}; "
            f"{entry.advice}"), entry.code


def unknown(command: str, word: str, choices: Iterable[str], help_command: str) -> str:
    """One line for an unknown command word: the command, close matches, where to look."""
    if not word:
        return f"{command}: which command? one of {', '.join(choices)} (see `{help_command}`)"
    near = close_matches(word, choices)
    maybe = f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else ""
    return f"{command} {word}: no such command{maybe} (see `{help_command}`)"


def close_matches(word: str, choices: Iterable[str], *, limit: int = 3) -> list[str]:
    """Choices that ``word`` is a prefix of or within two edits of, nearest first (difflib's
    import would cost every command its few ms; this is only run on an error)."""
    scored = []
    for choice in choices:
        if choice.startswith(word) and word:
            scored.append((0, choice))
            continue
        d = _distance(word.lower(), choice.lower())
        if d <= min(2, max(1, len(choice) // 3)):
            scored.append((d, choice))
    return [c for _, c in sorted(scored)[:limit]]


def _distance(a: str, b: str) -> int:
    """Edit distance with transpositions (``sumbit`` is one edit from ``submit``)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]
