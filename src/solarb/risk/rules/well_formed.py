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
    # mints compare by identity first: a Pubkey equality is a call (~0.15-0.3 us), and the
    # finder often hands the same object along the chain
    hops = opp.hops
    if not hops:
        return _no(opp, "no hops")
    amount_in = opp.amount_in
    if amount_in <= 0:
        return _no(opp, f"amount_in {amount_in} is not positive")
    start, first, last = opp.start_mint, hops[0], hops[-1]
    m_in, m_out = first.mint_in, last.mint_out
    if (m_in is not start and m_in != start) or (m_out is not start and m_out != start):
        return _no(opp, "cycle does not start and end in start_mint")
    if first.amount_in != amount_in or last.amount_out != opp.amount_out:
        return _no(opp, "totals do not match the hops")
    prev = first
    for i in range(1, len(hops)):
        hop = hops[i]
        m_in, m_out = hop.mint_in, prev.mint_out
        if m_in is not m_out and m_in != m_out:
            return _no(opp, f"hop {i} takes {m_in}, previous hop gives {m_out}")
        if hop.amount_in > prev.amount_out:
            return _no(opp, f"hop {i} spends {hop.amount_in} > {prev.amount_out} received")
        prev = hop
    if opp.amount_out <= amount_in:
        return _no(opp, f"not profitable: out {opp.amount_out} <= in {amount_in}")
    return None


def _no(opp: Opportunity, why: str) -> Verdict:
    return Verdict(opp.id, False, f"{NAME}: {why}")
