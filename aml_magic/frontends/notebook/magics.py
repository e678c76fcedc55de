"""IPython magics: thin front ends over ``Workspace`` that parse arguments (the same specs as the
``aml`` command), call the workspace and display widgets. Expected errors print one line.

Importing this module is cheap: the workspace, widgets and ipywidgets load on first use.
"""
from __future__ import annotations

import functools
import getpass
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from aml_magic.errors import AmlError, ProjectNotFound

if TYPE_CHECKING:
    import argparse

    from aml_magic.frontends.notebook.azureml_magic import NotebookHistory
    from aml_magic.service.run import Run
    from aml_magic.frontends.notebook.widgets.attach_form import AttachRequest
    from aml_magic.service.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
NO_PROJECT = ("no aml_config/ folder at or above {start}: create a project with `%aml_init DIR` "
              "(or `aml init DIR` in a terminal), or pass --project DIR")


def reports_errors(method: F) -> F:
    """Turn an ``AmlError`` into one readable line in the cell output (no traceback)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from aml_magic.frontends.arguments import HelpShown
        try:
            return method(*args, **kwargs)
        except HelpShown:
            return None
        except AmlError as err:
            print(f"Error: {' '.join(str(err).split())}", file=sys.stderr)
            return None

    return wrapper  # type: ignore[return-value]


def parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    try:
        argv = shlex.split(line, comments=True)
    except ValueError as err:
        raise AmlError(f"{parser.prog}: cannot split the arguments: {err}") from None
    return parser.parse_args(argv)


def confirm_host_key(host: str, fingerprint: str) -> bool:
    """Ask in the front end before pinning a host key seen for the first time."""
    from IPython.core.error import StdinNotImplementedError
    print(f"The SSH host key of {host} is {fingerprint}.")
    try:
        answer = input("Pin it and continue? [y/N] ")
    except (EOFError, StdinNotImplementedError):
        print("No way to ask here: pass --host-key-fingerprint or --trust-new-host-key.")
        return False
    return answer.strip().lower() in ("y", "yes")


@magics_class
class AmlMagics(Magics):
    """The ``%aml_*`` magics of one kernel: they remember the workspaces they opened, the
    project made by ``%aml_init`` and the default run configuration picked in ``%aml_targets``."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.workspaces: dict[Path, Workspace] = {}
        self.project: Path | None = None
        self.default_runconfig: str | None = None
        self.use_widgets: bool | None = None      # None: decide on first display
        self.watch_interval = 0.25
        self.notebook_history: NotebookHistory | None = None   # %azureml history on|off

    # -- shared helpers -----------------------------------------------------------------------
    def workspace(self, project: str | None = None) -> Workspace:
        """``--project`` wins, then the project made by ``%aml_init``, then the nearest folder
        at or above the working directory holding ``aml_config/``."""
        from aml_magic.domain.config import find_project
        from aml_magic.service.workspace import Workspace

        start = Path(project).expanduser() if project else (self.project or Path.cwd())
        try:
            root = find_project(start.resolve())
        except ProjectNotFound:
            raise ProjectNotFound(NO_PROJECT.format(start=start)) from None
        if root not in self.workspaces:
            self.workspaces[root] = Workspace(root)
        return self.workspaces[root]

    def runconfig_name(self, ws: Workspace, name: str | None) -> str:
        """The run configuration to use, checked against the project's ``aml_config/``."""
        existing = sorted(ws.run_configurations())
        listing = ", ".join(existing) if existing else "none: attach a target with %aml_attach"
        if not name:
            name = self.default_runconfig
            if not name:
                raise AmlError(f"missing -c NAME: name a run configuration ({listing}) or pick a "
                               "default with %aml_targets")
        if name not in existing:
            raise AmlError(f"unknown run configuration '{name}' in {ws.root / 'aml_config'}; "
                           f"existing: {listing}")
        return name

    def widgets_enabled(self) -> bool:
        if self.use_widgets is None:
            from aml_magic.frontends.notebook.widgets import widgets_available
            self.use_widgets = widgets_available()
        return self.use_widgets

    def show(self, run: Run) -> Any:
        """Display a live widget for the run (or a static summary without ipywidgets); both
        turn final in place when the run ends."""
        if self.widgets_enabled():
            from aml_magic.frontends.notebook.widgets.run_widget import show_run
            return show_run(run, interval=self.watch_interval)
        from aml_magic.frontends.notebook.widgets.summary_display import show_summary
        return show_summary(run, interval=self.watch_interval)

    def wait(self, run: Run, shown: Any) -> None:
        """Block for ``--wait``, then make ``shown`` (what ``show`` returned) final in place;
        Ctrl-C stops waiting, not the run."""
        try:
            if self.widgets_enabled():
                run.wait()
            else:
                for line in run.logs(follow=True):
                    print(line, end="")
            shown.settle()
        except KeyboardInterrupt:
            print(f"Stopped waiting; run {run.id} goes on (cancel it with %aml_cancel {run.id})",
                  file=sys.stderr)

    # -- project and targets ------------------------------------------------------------------
    @line_magic
    @reports_errors
    def aml_init(self, line: str) -> None:
        """%aml_init [DIR]: create aml_config/ (local and docker targets) in DIR (default: .)."""
        from aml_magic.frontends.arguments import ArgumentParser
        from aml_magic.service.project_adopt import init_or_adopt
        parser = ArgumentParser(prog="%aml_init", description="Create an aml_magic project.")
        parser.add_argument("dir", nargs="?", default=".", metavar="DIR")
        args = parse(parser, line)
        adoption = init_or_adopt(Path(args.dir).expanduser().resolve())
        self.project = adoption.root
        print(f"Project ready at {adoption.root} (aml_config/ with local and docker run "
              "configurations); later magics in this kernel use it unless given --project.")
        print(adoption.summary())

    @line_magic
    @reports_errors
    def aml_attach(self, line: str) -> Any:
        """%aml_attach TYPE --name N [--address A] [--username U] [--password | -k]: attach a
        compute target. With no arguments, shows a form."""
        if not line.split("#", 1)[0].strip():
            return self._attach_form()
        from aml_magic.frontends.arguments import attach_parser, attach_values, secret_prompts
        args = parse(attach_parser("%aml_attach"), line)
        ws = self.workspace(args.project)
        values = attach_values(args)
        try:
            for option_name, from_stdin in secret_prompts(args):
                flag = "--" + option_name.replace("_", "-")
                if from_stdin:
                    raise AmlError(f"%aml_attach: {flag}-stdin is for the aml command; use "
                                   f"{flag} to be asked with a masked prompt")
                who = f"{args.username or 'user'}@{args.address or args.name}"
                values[option_name] = getpass.getpass(f"{option_name.capitalize()} for {who}: ")
                if not values[option_name]:
                    raise AmlError(f"%aml_attach: no {option_name} entered; nothing was attached")
            compute = ws.attach(args.type, args.name, confirm_host_key=confirm_host_key,
                                on_message=print, **values)
        finally:
            values.clear()
        print(self._attached_text(compute))
        return None

    @staticmethod
    def _attached_text(compute: Any) -> str:
        return (f"Attached '{compute.name}' ({compute.type}): wrote aml_config/{compute.name}"
                f".compute and {compute.name}.runconfig; submit with -c {compute.name}")

    def _attach_form(self) -> Any:
        from IPython.display import display
        if not self.widgets_enabled():
            from aml_magic.frontends.notebook.widgets.attach_form import FORM_TEXT
            print(FORM_TEXT)
            return None
        from aml_magic.frontends.notebook.widgets.attach_form import AttachForm

        def attach(request: AttachRequest) -> str:
            ws = self.workspace()
            lines: list[str] = []
            compute = ws.attach(request.type, request.name, on_message=lines.append,
                                **request.options)
            return "\n".join(lines + [self._attached_text(compute)])

        form = AttachForm(attach)
        display(form)
        return None

    @line_magic
    @reports_errors
    def aml_targets(self, line: str) -> None:
        """%aml_targets [NAME]: list run configurations and targets; pick the default -c."""
        from IPython.display import display

        from aml_magic.frontends.arguments import ArgumentParser, add_project
        parser = ArgumentParser(prog="%aml_targets",
                                description="List run configurations; set the default -c.")
        add_project(parser)
        parser.add_argument("name", nargs="?", metavar="NAME",
                            help="make this run configuration the default -c")
        args = parse(parser, line)
        ws = self.workspace(args.project)
        if args.name:
            self.default_runconfig = self.runconfig_name(ws, args.name)
            print(f"Default run configuration: {args.name}")
            return None
        from aml_magic.frontends.notebook.widgets.targets_picker import TargetChoice, choices_text
        targets = ws.targets()
        choices = []
        for name, rc in sorted(ws.run_configurations().items()):
            compute = targets.get(rc.target)
            choices.append(TargetChoice(name, rc.target,
                                        compute.type if compute else "missing .compute",
                                        getattr(compute, "address", None)))
        if not self.widgets_enabled() or not choices:
            print(choices_text(choices, self.default_runconfig))
            return None
        from aml_magic.frontends.notebook.widgets.targets_picker import TargetsPicker

        def select(name: str) -> None:
            self.default_runconfig = name

        display(TargetsPicker(choices, default=self.default_runconfig, on_select=select))
        return None

    @line_magic
    @reports_errors
    def aml_prepare(self, line: str) -> None:
        """%aml_prepare -c NAME: build the run configuration's environment, with progress."""
        from aml_magic.frontends.arguments import prepare_parser
        args = parse(prepare_parser("%aml_prepare"), line)
        ws = self.workspace(args.project)
        name = self.runconfig_name(ws, args.run_configuration)
        print(f"Preparing the environment of '{name}'…", flush=True)
        result = ws.prepare(name, on_progress=lambda text: print(f"  {text}", flush=True),
                            strict=args.strict)
        timing = f" ({result.seconds:.1f} s)" if result.built else ""
        print(f"{result.message}{timing}")

    # -- runs ----------------------------------------------------------------------------------
    @line_cell_magic
    @reports_errors
    def aml_submit(self, line: str, cell: str | None = None) -> Run | None:
        """%%aml_submit -c NAME [--name FILE.py] [--wait] [--out VAR] [ARGS...]: export the cell
        and run it on the target. Line form: %aml_submit -c NAME script.py [ARGS...]."""
        from aml_magic.frontends.arguments import split_submit_args, submit_parser
        from aml_magic.frontends.notebook.cells import cell_script, write_cell
        is_cell = cell is not None
        prog = "%%aml_submit" if is_cell else "%aml_submit"
        args = split_submit_args(parse(submit_parser(prog, cell=is_cell), line))
        ws = self.workspace(args.project)
        name = self.runconfig_name(ws, args.run_configuration)
        shell = self.shell
        assert shell is not None, "the magics are registered on a shell"
        if is_cell:
            text = cell_script(shell.transform_cell(cell))
            script = write_cell(ws.root, text, args.name)
        else:
            script = args.script
        if args.sweep:              # the parent run: its children are started by the driver
            from aml_magic.service.sweep import submit_sweep, sweep_started_text
            run = submit_sweep(ws, name, script, list(args.args), args.sweep)
            print(sweep_started_text(run.record))
        else:
            run = ws.submit(name, script, list(args.args), background=not args.wait,
                            on_warning=lambda text: print(f"Warning: {text}", file=sys.stderr))
        shown = self.show(run)
        if args.wait:
            self.wait(run, shown)
        if is_cell and args.out:
            shell.user_ns[args.out] = run
            return None
        return run

    @line_magic
    @reports_errors
    def aml_run(self, line: str) -> Run | None:
        """%aml_run RUN_ID: show the live widget of any run (also one from before a restart)."""
        from aml_magic.frontends.arguments import run_id_parser
        args = parse(run_id_parser("%aml_run", "Show a run."), line)
        run = self.workspace(args.project).run(args.run_id)
        self.show(run)
        return run

    @line_magic
    @reports_errors
    def aml_runs(self, line: str) -> None:
        """%aml_runs [--status S] [-t TARGET] [--limit N]: a table of recent runs."""
        from IPython.display import display

        from aml_magic.frontends.arguments import runs_parser
        from aml_magic.frontends.notebook.widgets.runs_table import RunsTable
        args = parse(runs_parser("%aml_runs"), line)
        ws = self.workspace(args.project)
        ws.reconcile_active()          # statuses of runs no widget is watching are current too
        runs = ws.runs(status=args.status, target=args.target, limit=args.limit)
        filters = ", ".join(f"{k}={v}" for k, v in (("status", args.status),
                                                    ("target", args.target)) if v)
        display(RunsTable(runs, project=ws.name, filters=filters))

    @line_magic
    @reports_errors
    def aml_compare(self, line: str) -> None:
        """%aml_compare RUN_ID... | --last N | --sweep PARENT_ID: runs side by side with a chart
        of a metric against an argument, and metric series over steps."""
        from aml_magic.frontends.notebook.widgets.compare_magic import show_compare
        show_compare(self, line)

    @line_magic
    @reports_errors
    def aml_cancel(self, line: str) -> None:
        """%aml_cancel RUN_ID: stop a run on its target."""
        from aml_magic.frontends.arguments import run_id_parser
        args = parse(run_id_parser("%aml_cancel", "Cancel a run."), line)
        run = self.workspace(args.project).run(args.run_id)
        status = run.cancel()
        if status.is_terminal():
            print(f"Run {run.id}: {status.value}")
        else:
            print(f"Run {run.id}: cancel requested, still {status.value}; check with "
                  f"%aml_run {run.id}")

    @line_magic
    @reports_errors
    def azureml(self, line: str) -> None:
        """%azureml history on|off: track this notebook as a run (Workbench's magic); other
        Workbench words print the aml_magic equivalent."""
        from aml_magic.frontends.notebook.azureml_magic import NotebookHistory, azureml
        if self.notebook_history is None:
            self.notebook_history = NotebookHistory()
        azureml(self.notebook_history, self.workspace, self.shell, line)


def register(ipython: Any) -> AmlMagics:
    """Called by ``%load_ext aml_magic``."""
    from aml_magic.frontends.notebook.azureml_magic import expose_azureml_logging
    expose_azureml_logging()
    magics = AmlMagics(ipython)
    ipython.register_magics(magics)
    return magics
