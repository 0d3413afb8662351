"""Risk rules: one module per rule, each exposing ``NAME`` and
``evaluate(opp, limits, *, in_flight) -> Verdict | None`` (``None`` = no objection).

Rules are pure: no I/O, no clock. :data:`RULES` is the order the engine applies them in.
"""

from __future__ import annotations

from types import ModuleType

from solarb.risk.rules import in_flight, max_notional, min_profit, well_formed

RULES: tuple[ModuleType, ...] = (well_formed, in_flight, max_notional, min_profit)

__all__ = ["RULES", "in_flight", "max_notional", "min_profit", "well_formed"]
