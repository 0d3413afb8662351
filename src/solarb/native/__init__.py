"""Optional C kernels for the hot path: the exact concentrated-liquidity swap math, the cycle
float filter, the sizing search, the constant-product bound quoters and the frozen-dataclass
makers.

Each kernel (``_whirlpool``, ``_raydium_clmm``, ``_meteora_dlmm``, ``_cycle_filter``,
``_sizing``, ``_constant_product``, ``_slots``, ``_notes``: the account-notification reader of
:mod:`solarb.rpc.ws`) is a CPython extension built from ``<name>.c`` by
``setup.py`` (``make`` does it).
Each computes exactly what its pure-Python reference computes: the swap loops in
:mod:`solarb.dex`, :func:`solarb.strategy.cycle_plan.filter_rows` and the model search of
:mod:`solarb.strategy.sizing` (differential tests hold them bit-identical). The caller uses a
kernel when :func:`load` returns it and the Python path otherwise. Set ``SOLARB_NATIVE=0`` to
force the Python path (tests compare both).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

KERNELS = (
    "whirlpool",
    "raydium_clmm",
    "meteora_dlmm",
    "sizing",
    "cycle_filter",
    "constant_product",
    "slots",
    "notes",
)


def enabled() -> bool:
    """False when ``SOLARB_NATIVE=0`` asks for the pure-Python path."""
    return os.environ.get("SOLARB_NATIVE", "1") != "0"


def load(name: str) -> ModuleType | None:
    """The compiled kernel ``name`` (one of :data:`KERNELS`), or None when it is disabled or was
    not built (no C compiler at install time)."""
    if name not in KERNELS:
        raise ValueError(f"unknown native kernel {name!r}")
    if not enabled():
        return None
    try:
        return importlib.import_module(f"solarb.native._{name}")
    except ImportError:
        return None


def status() -> dict[str, bool]:
    """Which kernels are in use (for ``solarb bench`` and diagnostics)."""
    return {name: load(name) is not None for name in KERNELS}
