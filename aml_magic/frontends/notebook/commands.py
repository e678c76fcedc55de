"""The bodies of the ``%aml_*`` magics: parse the line (the same argument specs as the ``aml``
command), call the workspace, display widgets. ``magics.py`` registers the magics and calls
these with its ``AmlMagics`` (the kernel's state); this module is imported by the first magic
run, so ``%load_ext aml_magic`` stays light."""
from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError
from IPython.display import display

from aml_magic.domain.config import find_project
from aml_magic.errors import AmlError, ProjectNotFound
from aml_magic.frontends.arguments import (
    ArgumentParser,
    max_concurrent_of,
    add_project,
    attach_parser,
    attach_values,
    parse_line,
    prepare_parser,
    run_id_parser,
    runs_parser,
    secret_prompts,
    split_submit_args,
    submit_parser,
)
from aml_magic.frontends.notebook.azureml_magic import NotebookHistory, azureml
from aml_magic.frontends.notebook import team_commands
from aml_magic.frontends.notebook.cells import cell_script, write_cell
from aml_magic.frontends.notebook.widgets import widgets_available
from aml_magic.frontends.notebook.widgets.compare_magic import show_compare
from aml_magic.frontends.notebook.widgets.runs_table import RunsTable
from aml_magic.frontends.notebook.widgets.summary_display import show_summary
from aml_magic.service.project_adopt import init_or_adopt
from aml_magic.service.run import Run
from aml_magic.service.submit_options import line_overrides
from aml_magic.service.sweep import submit_sweep, sweep_started_text
from aml_magic.service.workspace import Workspace

if TYPE_CHECKING:
    from aml_magic.frontends.notebook.magics import AmlMagics
    from aml_magic.frontends.notebook.widgets.attach_form import AttachRequest

NO_PROJECT = ("no aml_config/ folder at or above {start}: create a project with `%aml_init DIR` "
              "(or `aml init DIR` in a terminal), or pass --project DIR")


def confirm_host_key(host: str, fingerprint: str) -> bool:
    """Ask in the front end before pinning a host key seen for the first time."""
    print(f"The SSH host key of {host} is {fingerprint}.")
    try:
        answer = input("Pin it and continue? [y/N] ")
    except (EOFError, StdinNotImplementedError):
        print("No way to ask here: pass --host-key-fingerprint or --trust-new-host-key.")
        return False
    return answer.strip().lower() in ("y", "yes")


# -- shared helpers (``AmlMagics`` methods of the same names call these) -----------------------
def workspace(magics: AmlMagics, project: str | None = None) -> Workspace:
    """``--project`` wins, then the project made by ``%aml_init``, then the nearest folder
    at or above the working directory holding ``aml_config/``."""
    start = Path(project).expanduser() if project else (magics.project or Path.cwd())
    try:
        root = find_project(start.resolve())
    except ProjectNotFound:
        raise ProjectNotFound(NO_PROJECT.format(start=start)) from None
    if root not in magics.workspaces:
        magics.workspaces[root] = Workspace(root)
    return magics.workspaces[root]


def runconfig_name(magics: AmlMagics, ws: Workspace, name: str | None) -> str:
    """The run configuration to use, checked against the project's ``aml_config/``."""
    existing = sorted(ws.run_configurations())
    listing = ", ".join(existing) if existing else "none: attach a target with %aml_attach"
    if not name:
        name = magics.default_runconfig
        if not name:
            raise AmlError(f"missing -c NAME: name a run configuration ({listing}) or pick a "
                           "default with %aml_targets")
    if name not in existing:
        raise AmlError(f"unknown run configuration '{name}' in {ws.root / 'aml_config'}; "
                       f"existing: {listing}")
    return name


def widgets_enabled(magics: AmlMagics) -> bool:
    if magics.use_widgets is None:
        magics.use_widgets = widgets_available()
    return magics.use_widgets


def show(magics: AmlMagics, run: Run) -> Any:
    """Display a live widget for the run (or a static summary without ipywidgets); both
    turn final in place when the run ends."""
    if magics.widgets_enabled():
        # ipywidgets (heavy, third-party) comes with the live widget: only when it is shown
        from aml_magic.frontends.notebook.widgets.run_widget import show_run
        return show_run(run, interval=magics.watch_interval)
    return show_summary(run, interval=magics.watch_interval)


def wait(magics: AmlMagics, run: Run, shown: Any) -> None:
    """Block for ``--wait``, then make ``shown`` (what ``show`` returned) final in place;
    Ctrl-C stops waiting, not the run."""
    try:
        if magics.widgets_enabled():
            run.wait()
        else:
            for line in run.logs(follow=True):
                print(line, end="")
        shown.settle()
    except KeyboardInterrupt:
        print(f"Stopped waiting; run {run.id} goes on (cancel it with %aml_cancel {run.id})",
              file=sys.stderr)


# -- project and targets ----------------------------------------------------------------------
def aml_init(magics: AmlMagics, line: str) -> None:
    parser = ArgumentParser(prog="%aml_init", description="Create an aml_magic project.")
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR")
    args = parse_line(parser, line)
    adoption = init_or_adopt(Path(args.dir).expanduser().resolve())
    magics.project = adoption.root
    print(f"Project ready at {adoption.root} (aml_config/ with local and docker run "
          "configurations); later magics in this kernel use it unless given --project.")
    print(adoption.summary())


def aml_attach(magics: AmlMagics, line: str) -> Any:
    if not line.split("#", 1)[0].strip():
        return attach_form(magics)
    args = parse_line(attach_parser("%aml_attach"), line)
    ws = magics.workspace(args.project)
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
    print(attached_text(compute))
    return None


def attached_text(compute: Any) -> str:
    return (f"Attached '{compute.name}' ({compute.type}): wrote aml_config/{compute.name}"
            f".compute and {compute.name}.runconfig; submit with -c {compute.name}")


def attach_form(magics: AmlMagics) -> Any:
    # the form is an ipywidgets one (heavy, third-party): loaded only by %aml_attach alone
    from aml_magic.frontends.notebook.widgets import attach_form as form_module
    if not magics.widgets_enabled():
        print(form_module.FORM_TEXT)
        return None

    def attach(request: AttachRequest) -> str:
        ws = magics.workspace()
        lines: list[str] = []
        compute = ws.attach(request.type, request.name, on_message=lines.append,
                            **request.options)
        return "\n".join(lines + [attached_text(compute)])

    form = form_module.AttachForm(attach)
    display(form)
    return None


def aml_targets(magics: AmlMagics, line: str) -> None:
    parser = ArgumentParser(prog="%aml_targets",
                            description="List run configurations; set the default -c.")
    add_project(parser)
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="make this run configuration the default -c")
    args = parse_line(parser, line)
    ws = magics.workspace(args.project)
    if args.name:
        magics.default_runconfig = magics.runconfig_name(ws, args.name)
        print(f"Default run configuration: {args.name}")
        return None
    # the picker is an ipywidgets one (heavy, third-party): loaded only by %aml_targets
    from aml_magic.frontends.notebook.widgets import targets_picker as picker
    targets = ws.targets()
    choices = []
    for name, rc in sorted(ws.run_configurations().items()):
        compute = targets.get(rc.target)
        choices.append(picker.TargetChoice(name, rc.target,
                                           compute.type if compute else "missing .compute",
                                           getattr(compute, "address", None)))
    if not magics.widgets_enabled() or not choices:
        print(picker.choices_text(choices, magics.default_runconfig))
        return None

    def select(name: str) -> None:
        magics.default_runconfig = name

    display(picker.TargetsPicker(choices, default=magics.default_runconfig, on_select=select))
    return None


def aml_prepare(magics: AmlMagics, line: str) -> None:
    args = parse_line(prepare_parser("%aml_prepare"), line)
    ws = magics.workspace(args.project)
    name = magics.runconfig_name(ws, args.run_configuration)
    print(f"Preparing the environment of '{name}'…", flush=True)
    result = ws.prepare(name, on_progress=lambda text: print(f"  {text}", flush=True),
                        strict=args.strict, managed=args.managed,
                        allow_unsafe_container=args.allow_unsafe_container)
    timing = f" ({result.seconds:.1f} s)" if result.built else ""
    print(f"{result.message}{timing}")


# -- runs ---------------------------------------------------------------------------------------
def aml_submit(magics: AmlMagics, line: str, cell: str | None = None) -> Run | None:
    is_cell = cell is not None
    prog = "%%aml_submit" if is_cell else "%aml_submit"
    args = split_submit_args(parse_line(submit_parser(prog, cell=is_cell), line))
    if (linked := team_commands.linked(magics, args.project)) is not None:   # the workspace's
        return team_commands.submit(magics, linked, args, cell)
    ws = magics.workspace(args.project)
    name = magics.runconfig_name(ws, args.run_configuration)
    shell = magics.shell
    assert shell is not None, "the magics are registered on a shell"
    if is_cell:
        text = cell_script(shell.transform_cell(cell))
        script = write_cell(ws.root, text, args.name, force=args.force)
    else:
        script = args.script
    overrides = line_overrides(ws.root, args)     # %aml_submit -t/-d/-s: this run only
    if args.sweep:              # the parent run: its children are started by the driver
        run = submit_sweep(ws, name, script, list(args.args), args.sweep, overrides=overrides,
                           allow_unsafe_container=args.allow_unsafe_container,
                           max_concurrent=max_concurrent_of(args))
        if not (args.wait and not magics.widgets_enabled()):   # else the log's first line says it
            print(sweep_started_text(run.record))
    else:
        run = ws.submit(name, script, list(args.args), background=not args.wait,
                        on_warning=lambda text: print(f"Warning: {text}", file=sys.stderr),
                        overrides=overrides or None,
                        allow_unsafe_container=args.allow_unsafe_container)
        python = run.record.target_state.python if run.starting is None else \
            ws.planned_python(name)            # the interpreter, as history info shows it
        if python:
            print(f"python: {python}")
    shown = magics.show(run)
    if args.wait:
        magics.wait(run, shown)
    if is_cell and args.out:
        shell.user_ns[args.out] = run
        return None
    return run


def aml_run(magics: AmlMagics, line: str) -> Run | None:
    args = parse_line(run_id_parser("%aml_run", "Show a run."), line)
    if (linked := team_commands.linked(magics, args.project)) is not None:
        return team_commands.show_run(magics, linked, args.run_id)
    run = magics.workspace(args.project).run(args.run_id)
    magics.show(run)
    return run


def aml_runs(magics: AmlMagics, line: str) -> None:
    args = parse_line(runs_parser("%aml_runs"), line)
    if (linked := team_commands.linked(magics, args.project)) is not None:
        team_commands.show_runs(linked, args)
        return
    ws = magics.workspace(args.project)
    ws.reconcile_active()          # statuses of runs no widget is watching are current too
    runs = ws.runs(status=args.status, target=args.target, limit=args.limit)
    filters = ", ".join(f"{k}={v}" for k, v in (("status", args.status),
                                                ("target", args.target)) if v)
    display(RunsTable(runs, project=ws.name, filters=filters))


def aml_compare(magics: AmlMagics, line: str) -> None:
    show_compare(magics, line)


def aml_cancel(magics: AmlMagics, line: str) -> None:
    args = parse_line(run_id_parser("%aml_cancel", "Cancel a run."), line)
    if (linked := team_commands.linked(magics, args.project)) is not None:
        team_commands.cancel(linked, args.run_id)
        return
    run = magics.workspace(args.project).run(args.run_id)
    status = run.cancel()
    if status.is_terminal():
        print(f"Run {run.id}: {status.value}")
    else:
        print(f"Run {run.id}: cancel requested, still {status.value}; check with "
              f"%aml_run {run.id}")


def azureml_words(magics: AmlMagics, line: str) -> None:
    if magics.notebook_history is None:
        magics.notebook_history = NotebookHistory()
    azureml(magics.notebook_history, magics.workspace, magics.shell, line)
