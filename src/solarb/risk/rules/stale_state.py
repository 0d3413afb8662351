"""Refuse a trade through a pool whose state is not known fresh, or too many slots old.

The view (:class:`PoolFreshness`) says, per pool, up to which slot every account the quote read
(the pool and its auxiliary accounts) is known current: -1 while any of them awaits a resync after
a reconnect (per-account freshness, not a global flag). A pool more than ``limits.max_slot_lag``
slots behind the cluster's slot is refused too. Pure: the view is read, nothing else.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Protocol

from solders.pubkey import Pubkey

from solarb.events import Opportunity, Verdict

if TYPE_CHECKING:
    from solarb.risk.engine import RiskLimits

NAME = "stale_state"
_POOL = attrgetter("pool")


class PoolFreshness(Protocol):
    """Read-only freshness of pools, as the feed knows it."""

    @property
    def cluster_slot(self) -> int:
        """The highest slot the feeds have seen."""
        ...

    def pool_slot(self, pool: Pubkey) -> int:
        """Slot up to which every account of ``pool`` is known current; -1 if any is not fresh."""
        ...


def stale_reason(opp: Opportunity, max_slot_lag: int, view: PoolFreshness) -> str | None:
    """Why ``opp`` goes through stale state (None: every hop's pool is fresh enough). A view
    with ``stale_pool(pools, need)`` (:class:`~solarb.feeds.freshness.MarketFreshness`) is asked
    once for the first hop below the slot the lag allows; the same answer as one ``pool_slot``
    per hop."""
    cluster = view.cluster_slot
    first = getattr(view, "stale_pool", None)
    if first is not None:
        hit = first(map(_POOL, opp.hops), cluster - max_slot_lag)
        if hit is None:
            return None
        pool, slot = hit
        if slot < 0:
            return f"pool {pool} awaits resync"
        return f"pool {pool} state at slot {slot}, {cluster - slot} slots behind {cluster}"
    for hop in opp.hops:
        slot = view.pool_slot(hop.pool)
        if slot < 0:
            return f"pool {hop.pool} awaits resync"
        if cluster - slot > max_slot_lag:
            return f"pool {hop.pool} state at slot {slot}, {cluster - slot} slots behind {cluster}"
    return None


def evaluate(
    opp: Opportunity, limits: RiskLimits, *, in_flight: int, view: PoolFreshness | None = None
) -> Verdict | None:
    """Reject when a hop's pool is not fresh or lags more than ``limits.max_slot_lag`` slots.
    Without a view (unit tests, replays without a feed) there is nothing to judge: no objection."""
    if view is None:
        return None
    why = stale_reason(opp, limits.max_slot_lag, view)
    if why is not None:
        return Verdict(opp.id, False, f"{NAME}: {why}")
    return None


__all__ = ["NAME", "PoolFreshness", "evaluate", "stale_reason"]
