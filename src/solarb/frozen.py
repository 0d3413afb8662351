"""Fast construction of the frozen slots dataclasses built on the hot path (account updates,
decoded pools, quotes, hops).

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__(self, name, value)``: a global lookup, an attribute lookup and a generic
call per field. Here the stores go straight to each slot's descriptor setter, in code generated
once per class: 1.7-2x faster construction, same fields, defaults, equality, hash and
immutability (the class's ``__setattr__`` still refuses assignment).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fast_init", "frozen_maker"]

_T = TypeVar("_T")


def _plain_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a frozen slots dataclass whose ``__init__`` can be generated here."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __post_init__")
    fields = dataclasses.fields(cls)
    for f in fields:
        if not f.init or f.default_factory is not dataclasses.MISSING or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain positional fields are supported")
    return fields


def _setters(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> dict[str, Any]:
    return {f"_set{i}": getattr(cls, f.name).__set__ for i, f in enumerate(fields)}


def fast_init(cls: type[_T]) -> type[_T]:
    """Class decorator (below ``@dataclass(slots=True, frozen=True)``): replace the generated
    ``__init__`` by one that fills the slots through their setters. Same signature and defaults;
    classes with ``__post_init__``, ``default_factory``, ``init=False`` or keyword-only fields
    are refused (TypeError)."""
    fields = _plain_fields(cls)
    ns = _setters(cls, fields)
    params = []
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            ns[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
    body = "\n".join(f"    _set{i}(self, {f.name})" for i, f in enumerate(fields)) or "    pass"
    exec(f"def __init__(self, {', '.join(params)}):\n{body}\n", ns)  # noqa: S102 (generated once per class)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls


def frozen_maker(cls: type[_T]) -> Callable[..., _T]:
    """``make(*values)`` (every field, in declaration order, positional) for a frozen slots
    dataclass: no ``type.__call__`` either. The pure-Python reference: callers take
    :func:`solarb.native.slots.frozen_maker`, which returns the C maker when it is built and
    this one otherwise."""
    fields = _plain_fields(cls)
    ns: dict[str, Any] = _setters(cls, fields)
    ns.update(_new=object.__new__, _cls=cls)
    args = ", ".join(f"v{i}" for i in range(len(fields)))
    body = "\n".join(f"    _set{i}(obj, v{i})" for i in range(len(fields)))
    exec(f"def make({args}):\n    obj = _new(_cls)\n{body}\n    return obj\n", ns)  # noqa: S102
    make: Callable[..., _T] = ns["make"]
    return make
