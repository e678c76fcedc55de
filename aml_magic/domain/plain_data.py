"""``@plain_data``: the part of ``@dataclass`` the models on the CLI's submit path use, without
importing ``dataclasses`` (it imports ``inspect``, ``ast``, ``dis`` and ``tokenize``, ~10 % of
``aml experiment submit``) and without ``exec`` per class (~1 % each).

Same behaviour for what is supported: fields from the class's annotations in order, defaults,
``field(default=, default_factory=, init=, repr=, compare=)``, ``frozen``, ``__post_init__``,
the generated ``__init__``/``__repr__``/``__eq__``/``__hash__``/``__match_args__`` (a method
written in the class body wins, as with ``dataclass``). ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work on these classes: the first of them to look builds the real
``__dataclass_fields__`` then (a shadow ``@dataclass`` of the same fields). Type checkers see the
real ``dataclass`` and ``field``, so every use is checked as a dataclass.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass as plain_data, field, replace
    from typing import Any, Callable, TypeVar
    _T = TypeVar("_T")

_MISSING: Any = object()
_CLASSVAR_PREFIXES = ("ClassVar", "typing.ClassVar", "t.ClassVar")


class _Field:
    """One field: its name and what ``field()`` said about it."""

    __slots__ = ("name", "annotation", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any = _MISSING, default_factory: Any = _MISSING,
                 init: bool = True, repr: bool = True, compare: bool = True) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.annotation: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is _MISSING


if not TYPE_CHECKING:
    def field(*, default=_MISSING, default_factory=_MISSING, init=True, repr=True,
              compare=True):
        """Like ``dataclasses.field`` (the options this package uses)."""
        return _Field(default, default_factory, init, repr, compare)

    def plain_data(cls=None, /, *, frozen=False):
        """Like ``dataclasses.dataclass`` (with ``frozen``), built without ``dataclasses``."""
        def wrap(cls):
            return _build(cls, frozen)
        return wrap if cls is None else wrap(cls)

    def replace(obj, /, **changes):
        """Like ``dataclasses.replace``: a new instance with ``changes`` applied."""
        for f in obj.__plain_fields__:
            if not f.init:
                if f.name in changes:
                    raise ValueError(f"field {f.name} is declared with init=False, it cannot "
                                     "be specified with replace()")
            elif f.name not in changes:
                changes[f.name] = getattr(obj, f.name)
        return obj.__class__(**changes)


def field_names(cls: type) -> tuple[str, ...]:
    """The names of a ``@plain_data`` class's fields, in order (``dataclasses.fields`` names)."""
    plain: Any = cls
    return tuple(f.name for f in plain.__plain_fields__)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(_CLASSVAR_PREFIXES)
    typing = sys.modules.get("typing")
    return typing is not None and (annotation is typing.ClassVar
                                   or getattr(annotation, "__origin__", None) is typing.ClassVar)


def _build(cls: Any, frozen: bool) -> type:
    fields: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__plain_fields__", ()):
            fields[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, _Field) else _Field(default=value)
        f.name, f.annotation = name, annotation
        if isinstance(value, _Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not "
                             "allowed: use default_factory")
        fields[name] = f
    all_fields = tuple(fields.values())
    init_fields = tuple(f for f in all_fields if f.init)
    seen_default = False
    for f in init_fields:
        if not f.required:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
    cls.__plain_fields__ = all_fields
    cls.__dataclass_fields__ = _DataclassFields(cls, frozen)
    _set(cls, "__init__", _make_init(cls, init_fields, all_fields, frozen))
    _set(cls, "__repr__", _make_repr(tuple(f.name for f in all_fields if f.repr)))
    compared = tuple(f.name for f in all_fields if f.compare)
    _set(cls, "__eq__", _make_eq(compared))
    _set(cls, "__match_args__", tuple(f.name for f in init_fields))
    if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
        cls.__hash__ = _make_hash(compared) if frozen else None
    if frozen:
        _set_frozen(cls, frozenset(fields))
    return cls


def _set(cls: type, name: str, value: Any) -> None:
    if name not in cls.__dict__:
        setattr(cls, name, value)


def _make_init(cls: type, init_fields: tuple[_Field, ...], all_fields: tuple[_Field, ...],
               frozen: bool) -> Callable[..., None]:
    set_value = object.__setattr__ if frozen else setattr
    others = tuple(f for f in all_fields if not f.init)
    qualname = cls.__qualname__
    post_init = hasattr(cls, "__post_init__")
    required = sum(1 for f in init_fields if f.required)
    takes = (f"{len(init_fields) + 1}" if required == len(init_fields)
             else f"from {required + 1} to {len(init_fields) + 1}")   # as CPython words it

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(init_fields):
            raise TypeError(f"{qualname}.__init__() takes {takes} positional arguments but "
                            f"{len(args) + 1} were given")
        for index, f in enumerate(init_fields):
            name = f.name
            if index < len(args):
                if name in kwargs:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument "
                                    f"{name!r}")
                value = args[index]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif f.default is not _MISSING:
                value = f.default
            elif f.default_factory is not _MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{qualname}.__init__() missing 1 required positional "
                                f"argument: {name!r}")
            set_value(self, name, value)
        if kwargs:
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}")
        for f in others:
            if f.default_factory is not _MISSING:
                set_value(self, f.name, f.default_factory())
            elif f.default is not _MISSING:
                set_value(self, f.name, f.default)
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _make_repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({inner})"
    return __repr__


def _make_eq(names: tuple[str, ...]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return (tuple(getattr(self, name) for name in names)
                    == tuple(getattr(other, name) for name in names))
        return NotImplemented
    return __eq__


def _make_hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, name) for name in names))
    return __hash__


def _set_frozen(cls: Any, names: frozenset[str]) -> None:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise _frozen_error(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    cls.__setattr__ = __setattr__
    cls.__delattr__ = __delattr__


def _frozen_error(message: str) -> Exception:
    # only on the error path: the same exception type a dataclass raises
    import dataclasses
    return dataclasses.FrozenInstanceError(message)


class _DataclassFields:
    """``__dataclass_fields__`` on first look: the real ``dataclasses.Field`` objects, taken
    from a shadow ``@dataclass`` with the same fields (for ``dataclasses.fields``/``replace``/
    ``asdict``, used by tests and rare branches)."""

    def __init__(self, cls: type, frozen: bool) -> None:
        self.cls = cls
        self.frozen = frozen

    def __get__(self, obj: object, owner: type | None = None) -> dict[str, Any]:
        # only when something asks for dataclass fields: the module costs ~10 % of a CLI start
        import dataclasses
        namespace: dict[str, Any] = {"__annotations__": {}, "__module__": self.cls.__module__,
                                     "__qualname__": self.cls.__qualname__}
        for f in self.cls.__dict__["__plain_fields__"]:
            namespace["__annotations__"][f.name] = f.annotation
            namespace[f.name] = dataclasses.field(
                default=dataclasses.MISSING if f.default is _MISSING else f.default,
                default_factory=(dataclasses.MISSING if f.default_factory is _MISSING
                                 else f.default_factory),
                init=f.init, repr=f.repr, compare=f.compare)
        shadow: Any = dataclasses.dataclass(frozen=self.frozen)(
            type(self.cls.__name__, (), namespace))
        result: dict[str, Any] = shadow.__dataclass_fields__
        owner_class: Any = self.cls
        owner_class.__dataclass_fields__ = result
        return result
