"""Refuse a new trade while ``max_in_flight`` orders are already unresolved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.events import Opportunity, Verdict

if TYPE_CHECKING:
    from solarb.risk.engine import RiskLimits

NAME = "max_in_flight"


def evaluate(opp: Opportunity, limits: RiskLimits, *, in_flight: int) -> Verdict | None:
    """Reject when ``in_flight >= limits.max_in_flight``."""
    if in_flight >= limits.max_in_flight:
        return Verdict(
            opp.id, False, f"{NAME}: {in_flight} in flight, limit {limits.max_in_flight}"
        )
    return None
