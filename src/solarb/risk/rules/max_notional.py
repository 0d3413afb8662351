"""Refuse a trade that puts more than the configured notional of its start mint at risk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.events import Opportunity, Verdict

if TYPE_CHECKING:
    from solarb.risk.engine import RiskLimits

NAME = "max_notional"


def evaluate(opp: Opportunity, limits: RiskLimits, *, in_flight: int) -> Verdict | None:
    """Reject when ``amount_in`` exceeds ``limits.max_notional[start_mint]`` (base units), or
    when no limit is configured for that mint (fail closed)."""
    cap = limits.max_notional.get(opp.start_mint)
    if cap is None:
        return Verdict(opp.id, False, f"{NAME}: no limit configured for mint {opp.start_mint}")
    if opp.amount_in > cap:
        return Verdict(opp.id, False, f"{NAME}: amount_in {opp.amount_in} > limit {cap}")
    return None
