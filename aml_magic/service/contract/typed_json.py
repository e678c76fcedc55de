"""From the ``TypedDict`` shapes of ``models`` to one JSON Schema (draft 2020-12), and the
check of a request body against its shape. Standard library only: no pydantic on the CLI's
path, and the schema is generated rarely (``python -m aml_magic.service.contract``).

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``, ``list[X]``,
``dict[str, X]``, ``Literal[...]``, unions (``X | None``) and other shapes (``$ref``). An open
shape's extra keys hold one hint, or are ``OpenKeys``: keys declared elsewhere (the registry's
attach options), each with its own hint, listed in the schema and checked like declared ones.
"""
from __future__ import annotations

import ast
import functools
import inspect
import io
import tokenize
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from aml_magic.service.contract.models import OpenKeys

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                            type(None): "null"}


def is_shape(hint: Any) -> bool:
    return isinstance(hint, type) and typing.is_typeddict(hint)


@functools.cache
def fields(shape: type) -> Mapping[str, Any]:
    """The keys of SHAPE (inherited ones first) and their type hints. Read once per shape:
    ``get_type_hints`` evaluates every annotation (~0.2 ms), and a request's body holds one
    shape per item (a snapshot of 60 files checked 60 ``UploadedFileJson``: 13 ms a submit)."""
    return types.MappingProxyType(typing.get_type_hints(shape))


def required_keys(shape: type) -> frozenset[str]:
    return frozenset(getattr(shape, "__required_keys__", frozenset()))


def _union_members(hint: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


class SchemaWriter:
    """Builds ``$defs`` for shapes and named aliases; a hint equal to an alias becomes a
    ``$ref`` to it, so one status type is declared once however many shapes use it."""

    def __init__(self, shapes: Iterable[type], *, aliases: Mapping[str, Any],
                 open_shapes: Mapping[type, Any], notes: Mapping[str, Mapping[str, str]]):
        self.shapes = list(shapes)
        self.aliases = dict(aliases)
        self.open_shapes = dict(open_shapes)
        self.notes = notes

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/$defs/{name}"}

    def hint(self, hint: Any, *, top: bool = False) -> dict[str, Any]:
        """The schema of one type hint (``top``: an alias's own definition, not a ref to it)."""
        if not top:
            for name, alias in self.aliases.items():
                if hint == alias:
                    return self.ref(name)
        if hint is Any:
            return {}
        if hint in _SCALARS:
            return {"type": _SCALARS[hint]}
        if is_shape(hint):
            if hint not in self.shapes:
                raise TypeError(f"{hint.__name__} is used by a shape but not in SHAPES")
            return self.ref(hint.__name__)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Literal:
            kinds = sorted({_SCALARS[type(a)] for a in args})
            return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(args)}
        if origin is list:
            return {"type": "array", "items": self.hint(args[0])}
        if origin is dict:
            if args[0] is not str:
                raise TypeError(f"JSON object keys are text, not {args[0]!r}")
            return {"type": "object", "additionalProperties": self.hint(args[1])}
        members = _union_members(hint)
        if members is not None:
            parts = [self.hint(m) for m in members]
            if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
                return {"type": [p["type"] for p in parts]}
            return {"anyOf": parts}
        raise TypeError(f"no JSON Schema for the type hint {hint!r}")

    def shape(self, shape: type) -> dict[str, Any]:
        extra = self.open_shapes.get(shape, False)
        keys = extra if isinstance(extra, OpenKeys) else OpenKeys(rest=extra)
        notes = {**keys.notes, **self.notes.get(shape.__name__, {})}
        properties: dict[str, Any] = {}
        for key, hint in {**fields(shape), **keys.known}.items():
            prop = self.hint(hint)
            if key in notes:
                prop = {**prop, "description": notes[key]} if "$ref" not in prop else \
                    {"allOf": [prop], "description": notes[key]}
            properties[key] = prop
        schema: dict[str, Any] = {"type": "object"}
        doc = inspect.cleandoc(shape.__doc__ or "")
        if doc and not doc.startswith(shape.__name__ + "("):   # not the default TypedDict doc
            schema["description"] = " ".join(doc.split())
        schema["properties"] = properties
        schema["required"] = [k for k in properties if k in required_keys(shape)]
        schema["additionalProperties"] = (self.hint(keys.rest) if shape in self.open_shapes
                                          else False)
        return schema

    def document(self, *, title: str, description: str) -> dict[str, Any]:
        defs: dict[str, Any] = {}
        for name, alias in self.aliases.items():
            defs[name] = self.hint(alias, top=True)
            if name in self.notes.get("", {}):      # the alias's own #: lines
                defs[name] = {"description": self.notes[""][name], **defs[name]}
        for shape in self.shapes:
            defs[shape.__name__] = self.shape(shape)
        return {"$schema": SCHEMA_DIALECT, "title": title, "description": description,
                "$defs": defs}


def field_notes(module: types.ModuleType) -> dict[str, dict[str, str]]:
    """``{class: {field: text}}`` from the ``#`` comment ending a field's line or the ``#:``
    lines just above it; under ``""``, the ``#:`` notes of module-level names (aliases)."""
    source = inspect.getsource(module)
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string

    def note(line: int) -> str | None:
        if line in comments:                      # a comment ending the field's own line
            return comments[line].lstrip("#:").strip() or None
        above: list[str] = []
        previous = line - 1
        while previous in comments and comments[previous].startswith("#:"):
            above.insert(0, comments[previous][2:].strip())
            previous -= 1
        return " ".join(above) or None

    found: dict[str, dict[str, str]] = {"": {}}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            per_field: dict[str, str] = {}
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    text = note(item.lineno)
                    if text:
                        per_field[item.target.id] = text
            found[node.name] = per_field
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name):
                text = note(node.lineno)
                if text:
                    found[""][target.id] = text
    return found


def inherited_notes(module: types.ModuleType) -> dict[str, dict[str, str]]:
    """``field_notes`` with each class's notes completed by its bases' (by name, in the
    module), since a ``TypedDict`` does not remember its bases at run time."""
    own = field_notes(module)
    tree = ast.parse(inspect.getsource(module))
    bases = {node.name: [b.id for b in node.bases if isinstance(b, ast.Name)]
             for node in tree.body if isinstance(node, ast.ClassDef)}

    def collect(name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for base in bases.get(name, []):
            merged.update(collect(base))
        merged.update(own.get(name, {}))
        return merged
    return {"": own[""], **{name: collect(name) for name in bases}}


# -- checking values against shapes -----------------------------------------------------------
def problem(hint: Any, value: Any, where: str, *, open_shapes: Mapping[type, Any]) -> str | None:
    """Why VALUE does not fit HINT (one line naming ``where``), or None when it does."""
    if hint is Any:
        return None
    if hint in _SCALARS:
        if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if hint is int and isinstance(value, bool):
            return f"{where} must be an integer, not {json_type(value)}"
        if hint is type(None) and value is None or hint is not type(None) and \
                isinstance(value, hint):
            return None
        return f"{where} must be {_article(_SCALARS[hint])}, not {json_type(value)}"
    if is_shape(hint):
        return shape_problem(hint, value, where, open_shapes=open_shapes)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return None if value in args and type(value) in {type(a) for a in args} else \
            f"{where} must be one of {', '.join(map(repr, args))}, not {value!r}"
    if origin is list:
        if not isinstance(value, list):
            return f"{where} must be an array, not {json_type(value)}"
        for i, item in enumerate(value):
            found = problem(args[0], item, f"{where}[{i}]", open_shapes=open_shapes)
            if found:
                return found
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where} must be an object, not {json_type(value)}"
        for key, item in value.items():
            found = problem(args[1], item, f"{where}.{key}", open_shapes=open_shapes)
            if found:
                return found
        return None
    members = _union_members(hint)
    if members is not None:
        if any(problem(m, value, where, open_shapes=open_shapes) is None for m in members):
            return None
        names = " or ".join(_hint_name(m) for m in members)
        return f"{where} must be {names}, not {json_type(value)}"
    raise TypeError(f"cannot check the type hint {hint!r}")


def shape_problem(shape: type, value: Any, where: str = "the body", *,
                  open_shapes: Mapping[type, Any]) -> str | None:
    """Why VALUE is not a SHAPE: not an object, a missing or unknown key, a wrong type."""
    if not isinstance(value, dict):
        return f"{where} must be a JSON object, not {json_type(value)}"
    extra = open_shapes.get(shape)
    keys = extra if isinstance(extra, OpenKeys) else OpenKeys(rest=extra)
    hints = fields(shape)
    missing = [k for k in hints if k in required_keys(shape) and k not in value]
    if missing:
        return f"{where} needs {', '.join(repr(k) for k in missing)}"
    hints = {**hints, **keys.known}
    for key, item in value.items():
        inner = f"'{key}'" if where == "the body" else f"{where}.{key}"
        if key in hints:
            found = problem(hints[key], item, inner, open_shapes=open_shapes)
        elif shape in open_shapes:
            found = problem(keys.rest, item, inner, open_shapes=open_shapes)
        else:
            found = (f"unknown key '{key}' in {where}; known: "
                     f"{', '.join(hints) or 'none'}")
        if found:
            return found
    return None


def json_type(value: Any) -> str:
    """The JSON name of VALUE's type, as a message shows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _article(kind: str) -> str:
    return {"string": "text", "integer": "an integer", "number": "a number",
            "boolean": "a boolean", "null": "null"}.get(kind, kind)


def _hint_name(hint: Any) -> str:
    if hint in _SCALARS:
        return _article(_SCALARS[hint])
    origin = typing.get_origin(hint)
    if origin is list:
        return "an array"
    if origin is dict or is_shape(hint):
        return "an object"
    return str(hint)
