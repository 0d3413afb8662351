"""Makers of frozen slots dataclasses in C (``_slots``, built from ``slots.c``).

:func:`frozen_maker` is :func:`solarb.frozen.frozen_maker` (the pure-Python reference, used when
the kernel is not built or ``SOLARB_NATIVE=0``) with the per-call work in C: the object is
allocated as ``object.__new__(cls)`` allocates it and each value goes straight into its slot,
instead of one descriptor ``__set__`` call per field from a generated Python function. Same
fields, order, objects stored, equality and hash (the differential tests build both); the hot
path builds an ``AccountUpdate`` per notification and a decoded pool state per pool update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from solarb import frozen
from solarb.native import load

__all__ = ["frozen_maker", "kernel"]

_T = TypeVar("_T")


def kernel() -> ModuleType | None:
    """The compiled ``_slots`` module, or None when disabled (``SOLARB_NATIVE=0``) or not built."""
    return load("slots")


def frozen_maker(cls: type[_T]) -> Callable[..., _T]:
    """``make(*values)`` (every field, in declaration order, positional) for a frozen slots
    dataclass: the C maker when the kernel is available, else the reference's. Refuses what the
    reference refuses (TypeError), with the reference's own check."""
    reference = frozen.frozen_maker(cls)  # validates cls (TypeError as the reference raises)
    native = kernel()
    if native is None:
        return reference
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    make: Callable[..., _T] = native.maker(cls, names)
    return make
