"""Refuse a trade whose gross profit is below the configured minimum for its start mint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.events import Opportunity, Verdict

if TYPE_CHECKING:
    from solarb.risk.engine import RiskLimits

NAME = "min_profit"


def evaluate(opp: Opportunity, limits: RiskLimits, *, in_flight: int) -> Verdict | None:
    """Reject when ``profit < limits.min_profit[start_mint]`` (base units), or when no minimum
    is configured for that mint (fail closed)."""
    floor = limits.min_profit.get(opp.start_mint)
    if floor is None:
        return Verdict(opp.id, False, f"{NAME}: no minimum configured for mint {opp.start_mint}")
    if opp.profit < floor:
        return Verdict(opp.id, False, f"{NAME}: profit {opp.profit} < minimum {floor}")
    return None
