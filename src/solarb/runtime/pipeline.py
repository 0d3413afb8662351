"""The synchronous hot path: account update -> market -> cycles -> risk -> order.

``Pipeline.on_update`` applies one account update and decides (trade or not) without I/O; the
decisions and orders it queues are consumed by journaling and execution tasks that
:mod:`solarb.runtime.node` runs. This module imports no network stack (RPC, HTTP, WebSocket,
gRPC), so a process that only replays updates (``solarb bench``) does not load one.
"""

from __future__ import annotations

import asyncio
import time

from solarb.events import AccountUpdate, Opportunity, Order, Verdict
from solarb.market.state import MarketState
from solarb.native.slots import frozen_maker
from solarb.risk.engine import RiskEngine
from solarb.risk.rules.stale_state import PoolFreshness
from solarb.runtime.clock import Clock, SystemClock
from solarb.runtime.status import RunStats
from solarb.strategy.cycles import CycleFinder

__all__ = ["Pipeline"]

_order = frozen_maker(Order)  # Order(id, opportunity, min_out) without type.__call__


class Pipeline:
    """The synchronous hot path plus the hand-off to journaling and execution."""

    def __init__(
        self,
        market: MarketState,
        finder: CycleFinder,
        risk: RiskEngine,
        min_profit: int,
        clock: Clock,
        stats: RunStats,
        view: PoolFreshness,
    ) -> None:
        self.market = market
        self.finder = finder
        self.risk = risk
        self.min_profit = min_profit
        self.clock = clock
        self.stats = stats
        stats.finder = finder  # its fault counters, read when the status is shown
        self.view = view  # per-pool freshness from the feed (stale_state rule)
        self.in_flight = 0
        self.decisions: asyncio.Queue[tuple[Opportunity, Verdict]] = asyncio.Queue()
        self.orders: asyncio.Queue[Order] = asyncio.Queue()

    @property
    def clock(self) -> Clock:
        """The clock the latencies and detection times are read from."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        # read per update: the system clock's own function, no wrapper frame
        self._now = time.monotonic_ns if type(clock) is SystemClock else clock.monotonic_ns

    def on_slot(self, slot: int) -> None:
        """Track the cluster's slot."""
        self.stats.slot = max(self.stats.slot, slot)

    def on_update(self, update: AccountUpdate) -> None:
        """Apply one account update and decide: trade or not. No I/O here."""
        stats = self.stats
        stats.updates += 1
        changed = self.market.apply(update)
        if not changed:
            return
        stats.pool_changes += len(changed)
        finder = self.finder
        found = finder.found
        best: Opportunity | None = None
        for pool in changed:
            for opp in finder.on_pool_changed(  # only the best of each pool's is built
                pool, slot=update.slot, ts_recv_ns=update.ts_recv_ns,
                now_ns=self._now(), best_only=True,
            ):  # fmt: skip
                if best is None or opp.profit > best.profit:
                    best = opp
        stats.opportunities += finder.found - found
        if best is None:
            stats.record_latency(self._now() - update.ts_recv_ns)
            return
        verdict = self._decide(best)
        stats.record_latency(self._now() - update.ts_recv_ns)
        self.decisions.put_nowait((best, verdict))

    def settle(self) -> int:
        """Free what detection retired instead of freeing it on its path (the changed pools' old
        quoters, decoded states and probed quotes: ``CycleFinder.release``), once the update is
        decided and its order built. Optional: the finder frees them at its next change
        otherwise. The number of items freed."""
        return self.finder.release()

    def settle_soon(self) -> None:
        """:meth:`settle` from the event loop's next round (the node's ``Delivery.on_idle``): after
        the tasks the update woke have run their synchronous part (the executor's build and
        signing of the order), before the next update."""
        asyncio.get_running_loop().call_soon(self.settle)

    def _decide(self, opp: Opportunity) -> Verdict:
        # the risk engine runs the stale_state rule first on every decision with this view, so an
        # approved order never goes through a pool whose state is not known current
        verdict = self.risk.evaluate(opp, in_flight=self.in_flight, view=self.view)
        if not verdict.approved:
            self.stats.rejected += 1
            if verdict.reason.startswith("stale_state"):  # never trade on state not known current
                self.stats.skipped_not_fresh += 1
            return verdict
        self.in_flight += 1
        self.stats.orders += 1
        self.orders.put_nowait(_order(opp.id, opp, opp.amount_in + self.min_profit))
        return verdict
