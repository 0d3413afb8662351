"""A fast constructor for frozen slots dataclasses built once per update on the hot path
(account updates, decoded pools)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TypeVar

__all__ = ["frozen_maker"]

_T = TypeVar("_T")


def frozen_maker(cls: type[_T]) -> Callable[..., _T]:
    """``cls(*values)`` (every field, in declaration order) for a frozen slots dataclass, filled
    through its slot setters: its ``__init__`` goes through ``object.__setattr__`` per field,
    about twice slower (pool decoders run on every update)."""
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__

    def make(*values: object) -> _T:
        obj: _T = new(cls)
        for set_field, value in zip(setters, values, strict=True):
            set_field(obj, value)
        return obj

    return make
