"""Every surface that shows or takes a compute type's options agrees with the one registry
(``aml_magic/domain/registry.py``), for every type and every option: the REST catalog and REST
attach validation (a real Jupyter server), ..."""
from __future__ import annotations

from typing import Any

from aml_magic.domain import registry
from tests.server.conftest import lab_root, server  # noqa: F401  (the real Jupyter server)
from tests.server.jupyter import JupyterServer

P = {"project": "proj"}


def test_the_target_types_endpoint_is_the_registry(server: JupyterServer) -> None:  # noqa: F811
    # When the Lab asks for the target types
    reply = server.api("GET", "target-types")
    # Then every type and alias is there, each with exactly the attach options it takes
    assert reply.status == 200, reply.body
    types: list[dict[str, Any]] = reply.json["types"]
    assert [t["name"] for t in types] == list(registry.registered())
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
                         "choices": list(entry.choices) if entry.choices else None}
            assert o["kind"] in registry.KINDS
    # And it needs the token like every route
    assert server.api("GET", "target-types", token=False).status == 403
