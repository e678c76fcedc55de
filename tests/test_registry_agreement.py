"""Every surface that shows or takes a compute type's options agrees with the one registry
(``aml_magic/domain/registry.py``), for every type and every option: the ``aml`` and
``%aml_attach`` parsers (every spelling, old ones included), what the CLI and the magic hand to
``Workspace.attach``, the widget form's fields, REST attach validation and real REST attaches
(a real Jupyter server; the real sshd for the SSH types), ``GET /aml/api/target-types``, the
docs table, and the ``.compute`` write/load round trip."""
from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain import registry
from aml_magic.domain.registry import Option
from tests._contract import assert_shape
from tests._options import bad, required, sample
from tests.fixtures.sshd import SshServer
from tests.server.conftest import lab_root, server  # noqa: F401  (the real Jupyter server)
from tests.server.jupyter import JupyterServer
from tests.targets.test_remotedocker_target import engine_access  # noqa: F401  (dockerd, sshd)

P = {"project": "proj"}
REPO = Path(__file__).resolve().parents[1]
#: Spellings the CLI took before the registry; each must keep working.
LEGACY = {"-a": "address", "--address": "address", "-u": "username", "--username": "username",
          "-w": "password", "--password": "password", "-k": "use_key",
          "--use-azureml-ssh-key": "use_key", "--key-file": "key_file",
          "--host-key-fingerprint": "host_key_fingerprint",
          "--trust-new-host-key": "trust_new_host_key", "--base-image": "base_image",
          "--python-location": "python_location", "--remote-base-dir": "remote_base_dir",
          "--spark-master": "spark_master", "--yarn-deploy-mode": "yarn_deploy_mode",
          "--spark-submit-location": "spark_submit_location",
          "--shared-volumes": "shared_volumes", "--nvidia-docker": "nvidia_docker",
          "--network": "network_mode", "--docker-host": "docker_host"}
TYPES = list(registry.registered())
OPTIONS = list(registry.attach_options())


def argv(o: Option, spelling: str | None = None) -> list[str]:
    flag = spelling or o.flag
    return [flag] if o.kind in ("flag", "password") else [flag, str(sample(o))]


def test_every_pattern_has_an_example_that_matches_it() -> None:
    import re
    for o in registry.OPTIONS:
        if o.pattern:
            assert o.example and re.fullmatch(o.pattern, o.example), \
                f"give Option {o.name!r} an example= that matches its pattern"


# -- parsers ----------------------------------------------------------------------------------
def _parsers() -> list[Any]:
    from aml_magic.frontends.arguments import attach_parser
    from aml_magic.frontends.cli.main import build_parser
    cli = build_parser("computetarget")
    return [lambda args: attach_parser("%aml_attach").parse_args(args),
            lambda args: cli.parse_args(["computetarget", "attach", *args])]


def test_every_spelling_of_every_option_parses_in_the_cli_and_the_magic() -> None:
    spellings = {s: o.name for o in OPTIONS for s in o.spellings}
    # Every spelling the CLI took before the registry is still one
    assert {s: spellings.get(s) for s in LEGACY} == LEGACY
    for parse in _parsers():
        for o in OPTIONS:
            for spelling in o.spellings:
                ns = parse(["local", "-n", "x", *argv(o, spelling)])
                value = getattr(ns, o.name)
                assert value == (True if o.kind == "password" else sample(o)), (o.name, spelling)
                others = [p for p in OPTIONS if p is not o]
                assert all(getattr(ns, p.name) in (None, False) for p in others), spelling
        # The types and aliases are the registry's
        for name in registry.attach_choices():
            assert parse([name, "-n", "x"]).type == name


# -- what the CLI and the magic hand to attach ---------------------------------------------------
@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Workspace.attach checks as the real one does (``check_attach``) and records the call
    instead of writing files or logging in."""
    from aml_magic.service.workspace import Workspace
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def attach(self: Any, type_name: str, name: str, **options: Any) -> Any:
        for hook in ("confirm_host_key", "on_message"):
            options.pop(hook, None)
        registry.check_attach(type_name, options)
        calls.append((type_name, name, options))
        from aml_magic.domain.config import ComputeTarget
        return ComputeTarget(name=name, type=registry.lookup(type_name).name)  # type: ignore[union-attr]
    monkeypatch.setattr(Workspace, "attach", attach)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "pw-sample")
    return calls


def _run_cli(project: Path, words: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    from aml_magic.frontends.cli.main import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["computetarget", "attach", "--project", str(project), *words])
    return code, err.getvalue()


def _run_magic(project: Path, words: list[str]) -> tuple[int, str]:
    import shlex

    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output
    shell = get_ipython()
    shell.run_line_magic("load_ext", "aml_magic")
    with capture_output() as cap:
        shell.run_line_magic("aml_attach", shlex.join(["--project", str(project), *words]))
    return (2 if cap.stderr else 0), cap.stderr


@pytest.mark.parametrize("front_end", ["cli", "magic"])
def test_the_cli_and_the_magic_pass_every_option_of_every_type(
        front_end: str, project: Path, recorded: list[Any]) -> None:
    run = _run_cli if front_end == "cli" else _run_magic
    for type_name in TYPES:
        base = required(type_name)
        base_argv = [w for o in OPTIONS if o.name in base for w in argv(o)]
        taken = registry.options_for(type_name)
        for o in OPTIONS:
            # When one option is given (with what the type requires)
            del recorded[:]
            code, err = run(project, [type_name, "-n", "t1", *base_argv, *argv(o)])
            if o in taken:
                # Then a type that takes it gets it, with its value, and nothing else
                assert code == 0, (type_name, o.name, err)
                assert recorded == [(type_name, "t1", {**base, o.name: sample(o)})], o.name
            else:
                # Else one line says it does not apply, and attach never ran
                assert code == 2 and recorded == [], (type_name, o.name)
                assert "not apply" in err and o.dashed in err, err
                assert len(err.strip().splitlines()) == 1, err


# -- the widget form -----------------------------------------------------------------------------
def test_the_widget_form_has_one_field_per_option_shown_for_the_types_that_take_it() -> None:
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    from aml_magic.frontends.notebook.widgets.attach_form import FORM_TEXT, AttachForm
    seen: list[Any] = []
    form = AttachForm(lambda request: seen.append(request) or "attached")
    widget_of = {"flag": w.Checkbox, "password": w.Password, "choice": w.Dropdown,
                 "text": w.Text, "path": w.Text, "integer": w.Text}
    assert list(form.fields) == [o.name for o in OPTIONS]
    for o in OPTIONS:
        assert isinstance(form.fields[o.name], widget_of[o.kind]), o.name
        # labelled as the registry labels it (as the Lab form is), its example the hint
        assert form.fields[o.name].description == o.field_label, o.name
        if o.example and isinstance(form.fields[o.name], w.Text):
            assert o.example in form.fields[o.name].placeholder, o.name
        if o.kind == "choice":
            assert [v for _, v in form.fields[o.name].options][1:] == list(o.choices)
    assert set(form.type.options) == set(TYPES)
    for type_name in TYPES:
        taken = registry.options_for(type_name)
        for field in form.fields.values():
            field.value = False if isinstance(field, w.Checkbox) else ""
        form.type.value = type_name
        # Then exactly the type's options are shown
        shown = [n for n, f in form.fields.items() if f.layout.display != "none"]
        assert shown == [o.name for o in taken], type_name
        # And filled in (one way to log in), they reach attach as the registry names them
        expected: dict[str, Any] = {}
        groups: set[str] = set()
        for o in taken:
            if o.group and (o.group in groups or o.kind == "flag"):
                continue
            groups |= {o.group} if o.group else set()
            form.fields[o.name].value = str(sample(o)) if o.kind == "integer" else sample(o)
            expected[o.name] = sample(o)
        form.name.value = "f1"
        form.button.click()
        assert seen[-1].type == type_name and seen[-1].name == "f1"
        assert {**seen[-1].options, **({"password": "pw-sample"} if "password" in expected
                                       else {})} == expected
        registry.check_attach(type_name, expected)
        assert all(f.value == "" for n, f in form.fields.items()
                   if registry.option(n).kind == "password"), "the password box is cleared"
        # And ticking a flag of a group hides the other ways (a generated key: no password)
        for o in taken:
            if o.group and o.kind == "flag":
                form.fields[o.name].value = True
                hidden = {n for n, f in form.fields.items() if f.layout.display == "none"}
                assert {p.name for p in taken if p.group == o.group and p is not o} <= hidden
                form.fields[o.name].value = False
        assert f"%aml_attach {type_name} --name NAME" in FORM_TEXT


# -- REST ---------------------------------------------------------------------------------------
def test_the_target_types_endpoint_is_the_registry(server: JupyterServer) -> None:  # noqa: F811
    # When the Lab asks for the target types
    reply = server.api("GET", "target-types")
    # Then every type and alias is there, each with exactly the attach options it takes
    assert reply.status == 200, reply.body
    assert_shape("TargetTypesJson", reply.json)
    assert reply.json == registry.catalog()
    types: list[dict[str, Any]] = reply.json["types"]
    assert [t["name"] for t in types] == TYPES
    for shown in types:
        spec = registry.registered()[shown["name"]]
        assert set(shown) == {"name", "aliases", "summary", "placement", "launch", "options"}
        assert (shown["aliases"], shown["summary"], shown["placement"], shown["launch"]) == \
            (list(spec.aliases), spec.summary, spec.placement, spec.launch)
        assert [o["name"] for o in shown["options"]] == list(spec.attach_options)
        for o in shown["options"]:
            entry = registry.option(o["name"])
            assert o == {"name": entry.name, "key": entry.key, "flag": entry.flag,
                         "kind": entry.kind, "default": registry.default_for(entry, spec),
                         "help": entry.help, "secret": entry.secret,
                         "required": entry.required,
                         "choices": list(entry.choices) if entry.choices else None,
                         "label": entry.label or entry.name.replace("_", " "),
                         "example": entry.example or None, "group": entry.group}
            assert o["kind"] in registry.KINDS
    # And it needs the token like every route
    assert server.api("GET", "target-types", token=False).status == 403


def test_the_contract_s_attach_request_is_the_registry_s_options() -> None:
    from aml_magic.service.contract import models
    from aml_magic.service.contract.schema_file import build_schema
    from aml_magic.service.contract.typed_json import shape_problem
    # The committed schema's attach request lists every attach option, with its kind's type
    shape = build_schema()["$defs"]["AttachRequest"]
    json_type = {str: "string", bool: "boolean", int: "integer"}
    assert list(shape["properties"]) == ["type", "name", *(o.name for o in OPTIONS)]
    for o in OPTIONS:
        declared = shape["properties"][o.name]
        assert declared["type"] == json_type[registry.VALUE_TYPES[o.kind]], o.name
        assert declared.get("enum") == (list(o.choices) or None), o.name
        assert o.help in declared["description"], o.name
        for type_name in registry.types_of(o):
            assert type_name in declared["description"], o.name
    # And a body's option values are checked against those types, before check_attach
    for o in OPTIONS:
        body = {"type": "local", "name": "n", o.name: sample(o)}
        assert shape_problem(models.AttachRequest, body, open_shapes=models.OPEN) is None
        wrong = {"type": "local", "name": "n", o.name: [sample(o)]}
        assert o.name in str(shape_problem(models.AttachRequest, wrong,
                                           open_shapes=models.OPEN)), o.name


def _refused(jupyter: JupyterServer, body: dict[str, Any], *words: str) -> None:
    reply = jupyter.api("POST", "targets", params=P, body=body)
    assert reply.status == 400, (body, reply.status, reply.body)
    message = reply.json["message"]
    assert "\n" not in message and all(w in message for w in words), (body, message)


def test_rest_attach_refuses_every_wrong_option_with_one_line(
        server: JupyterServer) -> None:  # noqa: F811
    for type_name in TYPES:
        base = {"type": type_name, "name": "bad", **required(type_name)}
        taken = registry.options_for(type_name)
        for o in OPTIONS:
            if o not in taken:
                # An option the type does not take: 400 naming it
                _refused(server, {**base, o.name: sample(o)}, o.name, "not apply")
            elif not (o.kind == "text" and not o.pattern) and o.kind not in ("path", "password"):
                # A value of the wrong kind: 400 naming it
                _refused(server, {**base, o.name: bad(o)}, o.name)
            else:
                _refused(server, {**base, o.name: 42}, o.name, "must be text")
        # A missing required option, an unknown one, two ways to log in: 400 naming them
        for o in taken:
            if o.required:
                _refused(server, {k: v for k, v in base.items() if k != o.name}, o.name, "needs")
        _refused(server, {**base, "colour": "red"}, "colour", "unknown attach option")
        group = [o for o in taken if o.group]
        if len(group) > 1:
            _refused(server, {**base, **{o.name: sample(o) for o in group[:2]}},
                     group[0].name, group[1].name)
    _refused(server, {"type": "martian", "name": "x"}, "martian", "unknown compute type")
    _refused(server, {"name": "x"}, "'type'")
    names = {t["name"] for t in server.api("GET", "targets", params=P).json["targets"]}
    assert "bad" not in names


def _real_values(o: Option, sshd: SshServer, engine: str | None = None) -> Any:
    return {"address": f"{sshd.host}:{sshd.port}", "username": sshd.username,
            "password": sshd.password, "host_key_fingerprint": sshd.host_key_fingerprint,
            "key_file": str(sshd.client_key_path), "docker_host": engine or sample(o),
            "network_mode": "host"}.get(o.name, sample(o))


def _remote_engine(type_name: str) -> bool:
    spec = registry.registered()[type_name]
    return spec.uses_ssh and spec.launch == "container"


def _attach_with_every_option(jupyter: JupyterServer, root: Path, sshd: SshServer,
                              type_name: str, engine: str | None = None) -> None:
    from aml_magic.domain.config import load_compute
    # Given every option the type takes, with one way to log in per attach
    taken = registry.options_for(type_name)
    logins = [o for o in taken if o.group and o.kind != "flag"] or [None]
    for n, login in enumerate(logins):
        name = f"all{type_name}{n}"
        body: dict[str, Any] = {"type": type_name, "name": name}
        body |= {o.name: _real_values(o, sshd, engine) for o in taken
                 if not o.group or o is login}
        # When it is attached through REST
        reply = jupyter.api("POST", "targets", params=P, body=body)
        # Then it is attached, and every option that is a key is in its .compute
        assert reply.status == 201, (body, reply.body)
        compute = load_compute(root / "proj" / "aml_config" / f"{name}.compute")
        for o in taken:
            if o.key is None or o.name not in body:
                continue
            value = compute.value(o.attr)
            if o.kind == "password":
                assert value.startswith("aml-secret:") and sshd.password not in reply.body.decode()
            elif o.name == "address":
                assert (value, compute.port) == (sshd.host, sshd.port)
            else:
                assert value == body[o.name], o.name
        assert jupyter.api("DELETE", f"targets/{name}", params=P).status == 204


@pytest.mark.parametrize("type_name", [t for t in TYPES if not _remote_engine(t)
                                       and t != "slurm"])
def test_rest_attaches_every_type_with_every_option_the_cli_takes(
        server: JupyterServer, lab_root: Path, sshd: SshServer,  # noqa: F811
        type_name: str) -> None:
    _attach_with_every_option(server, lab_root, sshd, type_name)


def test_rest_attaches_the_remote_engine_types_with_every_option(
        server: JupyterServer, lab_root: Path, sshd: SshServer,  # noqa: F811
        engine_access: str) -> None:  # noqa: F811
    # (attach asks the machine's Docker engine, here the suite's dockerd given to the SSH user)
    for type_name in filter(_remote_engine, TYPES):
        _attach_with_every_option(server, lab_root, sshd, type_name, engine_access)


def test_rest_attaches_the_slurm_type_with_every_option(
        server: JupyterServer, lab_root: Path, sshd: SshServer,  # noqa: F811
        slurm_cluster: Any) -> None:
    # (attach asks the login node for sbatch and the partition: the suite's Slurm cluster)
    _attach_with_every_option(server, lab_root, sshd, "slurm")


# -- docs and the .compute round trip ----------------------------------------------------------
def test_the_docs_table_is_the_registry() -> None:
    from aml_magic.domain.registry_docs import FORMATS, compute_keys_table, render
    text = FORMATS.read_text(encoding="utf-8")
    assert render(text) == text, ("docs/formats.md is stale: run "
                                  "`python -m aml_magic.domain.registry_docs`")
    table = compute_keys_table()
    for o in registry.compute_options():
        row = next(r for r in table.splitlines() if r.startswith(f"| `{o.key}` |"))
        assert ", ".join(registry.types_of(o)) in row or "| all |" in row
        assert (o.flag in row) == o.attach, o.name
    for o in OPTIONS:
        assert o.flag in table


def test_the_docs_generator_rewrites_a_stale_table(tmp_path: Path) -> None:
    from aml_magic.domain.registry_docs import BEGIN, END, FORMATS, main
    stale = tmp_path / "formats.md"
    stale.write_text(FORMATS.read_text().replace(BEGIN, BEGIN + "\n| `old` | row |"))
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0 and main([str(stale), "--check"]) == 0
    assert stale.read_text() == FORMATS.read_text() and END in stale.read_text()


def test_every_key_round_trips_through_a_compute_file(tmp_path: Path) -> None:
    from dataclasses import fields

    from aml_magic.domain.config import ComputeTarget, load_compute, write_compute
    bookkeeping = {"name", "type", "options", "extra", "path", "warnings", "key_order"}
    attrs = {o.attr for o in registry.compute_options()}
    # Every typed attribute of the model is a registry key (no key is written down twice)
    assert {f.name for f in fields(ComputeTarget)} - bookkeeping <= attrs
    for o in registry.compute_options():
        type_name = registry.types_of(o)[0]
        target = ComputeTarget(name="rt", type=type_name)
        # a secret key holds a reference (a written-out value warns: issue 23)
        value = sample(o) if not o.secret else "aml-secret:password/rt"
        target.set_value(o.attr, value)
        path = write_compute(target, tmp_path / "rt.compute")
        text = path.read_text()
        comment = "\n".join(f"# {line}" for line in o.comment.splitlines())
        assert f"{comment}\n{o.key}:" in text, (o.key, text)
        loaded = load_compute(path)
        assert loaded.value(o.attr) == value and loaded.warnings == [], o.key
    # And a type's default is what attach writes
    for spec in registry.registered().values():
        for attr in spec.defaults:
            assert attr in attrs
