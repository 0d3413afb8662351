"""Refuse an opportunity whose hops do not form a consistent, closed, profitable chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.events import Opportunity, Verdict

if TYPE_CHECKING:
    from solarb.risk.engine import RiskLimits

NAME = "well_formed"


def evaluate(opp: Opportunity, limits: RiskLimits, *, in_flight: int) -> Verdict | None:
    """Reject unless: at least one hop, positive amounts, ``hops[0].mint_in == start_mint ==
    hops[-1].mint_out``, each hop consumes the previous hop's mint and amount, the totals match
    the hops, and ``amount_out > amount_in``."""
    hops = opp.hops
    if not hops:
        return _no(opp, "no hops")
    if opp.amount_in <= 0:
        return _no(opp, f"amount_in {opp.amount_in} is not positive")
    if hops[0].mint_in != opp.start_mint or hops[-1].mint_out != opp.start_mint:
        return _no(opp, "cycle does not start and end in start_mint")
    if hops[0].amount_in != opp.amount_in or hops[-1].amount_out != opp.amount_out:
        return _no(opp, "totals do not match the hops")
    for i in range(1, len(hops)):
        prev, hop = hops[i - 1], hops[i]
        if hop.mint_in != prev.mint_out:
            return _no(opp, f"hop {i} takes {hop.mint_in}, previous hop gives {prev.mint_out}")
        if hop.amount_in > prev.amount_out:
            return _no(opp, f"hop {i} spends {hop.amount_in} > {prev.amount_out} received")
    if opp.amount_out <= opp.amount_in:
        return _no(opp, f"not profitable: out {opp.amount_out} <= in {opp.amount_in}")
    return None


def _no(opp: Opportunity, why: str) -> Verdict:
    return Verdict(opp.id, False, f"{NAME}: {why}")
