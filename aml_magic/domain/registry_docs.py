"""The ``.compute`` keys table of ``docs/formats.md``, generated from the registry.

``python -m aml_magic.domain.registry_docs`` rewrites the table between its marker comments;
``--check`` exits 1 when the file is stale (a test does the same). Nothing else writes it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aml_magic.domain.registry import (
    ANY, OPTIONS, TYPES, Option, attach_options, compute_options, registered, types_of,
)

BEGIN = ("<!-- BEGIN compute-keys: generated from aml_magic/domain/registry.py by "
         "`python -m aml_magic.domain.registry_docs`; do not edit by hand -->")
END = "<!-- END compute-keys -->"
FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


def _types(o: Option) -> str:
    names = types_of(o)
    return "all" if ANY in o.types or len(names) == len(registered()) else ", ".join(names)


def _value(o: Option) -> str:
    if o.kind == "flag":
        return "`true`/`false`" + (f" (default `{str(o.default).lower()}`)"
                                   if o.default is not None else "")
    if o.kind == "integer":
        return f"whole number {o.low}..{o.high}"
    if o.kind == "choice":
        return " or ".join(f"`{c}`" for c in o.choices)
    if o.secret or o.kind == "password":
        return "secret store reference (`aml-secret:...`)"
    return "text"


def _defaults(o: Option) -> str:
    given = [(t.name, t.defaults[o.attr]) for t in TYPES if o.attr in t.defaults]
    if not given:
        return ""
    shown = "; ".join(f"{n}: `{str(v).lower() if isinstance(v, bool) else v}`" for n, v in given)
    return f" Written at attach: {shown}."


def _attach(o: Option) -> str:
    if not o.attach:
        return "(edit the file)"
    short = [f for f in o.spellings if not f.startswith("--")]
    flags = ", ".join(f"`{f}`" for f in (*short, o.flag))
    return flags + (f", `{o.dashed}-stdin`" if o.kind == "password" else "")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def compute_keys_table() -> str:
    """The markdown between the markers: one row per key, then the attach-only options."""
    names = ", ".join(f"`{t.name}`" + "".join(f" (`{a}`)" for a in t.aliases) for t in TYPES)
    rows = ["| key | types | value | attach option (REST body key) | what |",
            "|---|---|---|---|---|",
            f"| `type` | all | {names} | TYPE | Kind of target. Workbench key. |"]
    for o in compute_options():
        what = _cell(o.comment) + _defaults(o) + (" Workbench key." if o.workbench else "")
        if o.isolation:         # the user allows it, never the project (domain/isolation.py)
            what += (f" Can weaken the container's isolation: honoured only if the user allows "
                     f"`{o.isolation}` (README, Container isolation).")
        rest = f" (`{o.name}`)" if o.attach else ""
        rows.append(f"| `{o.key}` | {_types(o)} | {_value(o)} | {_attach(o)}{rest} | {what} |")
    rows += ["", "Attach options that are not keys (they decide how attach logs in and pins the "
             "host key):", "", "| attach option (REST body key) | types | what |", "|---|---|---|"]
    for o in attach_options():
        if o.key is None:
            rows.append(f"| {_attach(o)} (`{o.name}`) | {_types(o)} | {_cell(o.help)} |")
    return "\n".join(rows)


def render(text: str) -> str:
    """TEXT with the table between the markers replaced by the current one."""
    head, found, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the markers {BEGIN!r} ... {END!r} are missing")
    return f"{head}{BEGIN}\n{compute_keys_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aml_magic.domain.registry_docs",
                                     description="Regenerate the .compute keys table.")
    parser.add_argument("path", nargs="?", type=Path, default=FORMATS)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        if fresh != text:
            print(f"{args.path}: the .compute keys table is stale; run "
                  "`python -m aml_magic.domain.registry_docs`", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        args.path.write_text(fresh, encoding="utf-8")
        print(f"{args.path}: .compute keys table regenerated ({len(OPTIONS)} options)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
