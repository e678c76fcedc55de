"""``%azureml``: the Workbench notebook magic. ``history on|off`` tracks the notebook as a run
(see ``notebook_run.py``); every other word prints one line naming the aml_magic equivalent, so
a migrated notebook says what to write instead of failing with a traceback."""
from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from aml_magic.service.notebook_run import NotebookRun

if TYPE_CHECKING:
    from aml_magic.service.workspace import Workspace

USAGE = ("%azureml history on|off: track this notebook as a run (metrics from "
         "get_azureml_logger().log(), ./outputs/ collected at off)")

#: Workbench's ``%azureml GROUP VERB`` words and what to use instead (a GROUP alone: any verb).
HINTS: dict[tuple[str, ...], str] = {
    ("experiment", "submit"): "%%aml_submit -c NAME (this cell as a script) or "
                              "%aml_submit -c NAME script.py; in a terminal `aml experiment "
                              "submit -c NAME script.py`",
    ("experiment", "prepare"): "%aml_prepare -c NAME (`aml experiment prepare -c NAME`)",
    ("experiment", "cancel"): "%aml_cancel RUN_ID (`aml experiment cancel -r RUN_ID`)",
    ("experiment",): "%%aml_submit / %aml_prepare / %aml_cancel (`aml experiment ...`)",
    ("history", "list"): "%aml_runs (a table of runs), or `aml history list -o table` in a "
                         "terminal for metrics as columns",
    ("history", "info"): "%aml_run RUN_ID (the run's widget), or `aml history info -r RUN_ID`",
    ("history", "last"): "%aml_runs --limit 1, or `aml history last`",
    ("history", "download"): "`aml history download -r RUN_ID` in a terminal (or "
                             "%aml_run RUN_ID to see the outputs)",
    ("history", "compare"): "`aml history compare RUN_ID...` in a terminal",
    ("history", "promote"): "`aml history download -r RUN_ID` and copy the file you want "
                            "(there is no model registry)",
    ("history",): "%azureml history on|off, %aml_runs, %aml_run RUN_ID or `aml history ...`",
    ("computetarget", "attach"): "%aml_attach TYPE --name NAME ... (no arguments: a form)",
    ("computetarget",): "%aml_targets (list, pick the default -c), %aml_attach, or "
                        "`aml computetarget ...`",
    ("runconfiguration",): "%aml_targets lists run configurations; `aml runconfiguration "
                           "...` creates and shows them",
    ("project", "create"): "%aml_init DIR (`aml init DIR`)",
    ("project", "restore"): "`aml project restore --run-id RUN_ID` in a terminal",
    ("project",): "%aml_init DIR; `aml project restore --run-id RUN_ID`",
}
FALLBACK_HINT = ("no aml_magic equivalent of `%azureml {words}`: the magics are %aml_init, "
                 "%aml_attach, %aml_targets, %aml_prepare, %%aml_submit, %aml_run, %aml_runs, "
                 "%aml_cancel and %azureml history on|off")


def hint_for(words: list[str]) -> str:
    """The one line for a ``%azureml`` word other than ``history on|off``."""
    if not words:
        return USAGE
    lowered = [word.lower() for word in words]
    for size in (2, 1):
        hint = HINTS.get(tuple(lowered[:size]))
        if hint is not None:
            return f"%azureml {' '.join(words[:size])} is Workbench's; with aml_magic use {hint}"
    return FALLBACK_HINT.format(words=" ".join(words))


class NotebookHistory:
    """The ``history on|off`` state of one kernel: at most one notebook run at a time."""

    def __init__(self) -> None:
        self.run: NotebookRun | None = None

    def on(self, workspace: Workspace, user_ns: dict[str, Any], shell: Any) -> str:
        if self.run is not None and not self.run.ended:
            return (f"History is already on: this notebook is run {self.run.id}; "
                    "`%azureml history off` ends it")
        run = NotebookRun.start(workspace, user_ns)
        self.run = run
        if shell is not None:
            shell.events.register("post_run_cell", self._after_cell)
        return (f"History on: this notebook is run {run.id} on local ({run.record.script}); "
                "get_azureml_logger().log() records metrics into it and files written to "
                "./outputs/ are collected at `%azureml history off`")

    def off(self, shell: Any) -> str:
        run = self.run
        if run is None or run.ended:
            return "History is already off: `%azureml history on` starts tracking this notebook"
        self._unhook(shell)
        record = run.finish()
        self.run = None
        outputs = run.workspace.store.artifacts(run.id)
        shown = ", ".join(f"outputs/{a.path}" for a in outputs) or "none"
        return (f"History off: run {run.id} {record.status.value} with {run.metrics_count} "
                f"metric value(s); outputs: {shown}")

    def _after_cell(self, _result: Any = None) -> None:
        if self.run is not None and not self.run.ended:
            self.run.ingest_quietly()

    def _unhook(self, shell: Any) -> None:
        if shell is None:
            return
        try:
            shell.events.unregister("post_run_cell", self._after_cell)
        except ValueError:
            pass


def azureml(history: NotebookHistory, workspace_of: Any, shell: Any, line: str) -> None:
    """``%azureml WORDS``: run ``history on|off``, or print the hint for any other words.
    ``workspace_of`` is called only for ``history on`` (the project is found then)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    lowered = [word.lower() for word in words]
    if lowered[:1] == ["history"] and lowered[1:] in (["on"], ["off"]):
        if lowered[1] == "on":
            user_ns = shell.user_ns if shell is not None else {}
            print(history.on(workspace_of(), user_ns, shell))
        else:
            print(history.off(shell))
        return
    print(hint_for(words))


__all__ = ["NotebookHistory", "azureml", "hint_for"]
