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
    profit = opp.amount_out - opp.amount_in  # opp.profit, without the property call
    if profit < floor:
        return Verdict(opp.id, False, f"{NAME}: profit {profit} < minimum {floor}")
    return None
