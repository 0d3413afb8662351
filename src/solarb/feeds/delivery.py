"""The delivery stage shared by every feed: dedupe across endpoints, coalescing, latency.

Readers (one per connection or stream) call :meth:`Delivery.offer` synchronously for each decoded
notification; a single consumer task (:meth:`Delivery.run`; ``drain_now`` in tests and benchmarks,
both through :meth:`Delivery.deliver`) hands the pending updates to ``on_update``. Between the two
sits a dict keyed by account, so memory is bounded by the number of watched accounts whatever the
consumer's speed: a newer update of an account still waiting replaces the older one (latest slot
wins) and is counted in ``coalesced``.

Dedupe rule (redundant endpoints): an endpoint's k-th notification of account A at slot S is the
same event as any other endpoint's k-th notification of (A, S). The first arrival wins and is
delivered; later copies are counted as ``duplicates`` and credit the winner with their lead time.
Anything older than what was already delivered for A is ``dropped_stale``. Counting k (not only
S) keeps several changes of one account within one slot, as the local cluster sends them.

Resync results (RPC reads at a context slot) go through :meth:`Delivery.resynced`: delivered
when at least as new as the last delivered slot of the account. An account with an update in hand
but not yet applied is :meth:`Delivery.queued`: the consumer's view of it is not current, so the
feeds report it as not fresh until the update is applied (a resync counts only once applied). An
update ``on_update`` raised on stays queued with the rest of its batch (:meth:`Delivery.deliver`).
Caches of a minimum over accounts' last slots (the pool freshness groups of
:meth:`~solarb.feeds.pubsub.PubSubFeed.group_slot`) register with :meth:`Delivery.watch_changes`
and are told when an account at their floor moves.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import Any, Protocol

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.base import OnUpdate
from solarb.native.slots import frozen_maker

__all__ = ["Delivery", "EndpointStats", "FeedStats", "LatencyRing", "new_update"]

_LATENCY_SAMPLES = 8192
_NEVER = (-1,)  # the slot of an account never delivered, as a ``_delivered`` entry reads it

new_update = frozen_maker(AccountUpdate)
"""``new_update(pubkey, slot, data, owner, lamports, ts_recv_ns)``: the ``AccountUpdate`` built
through its slots, without ``__init__`` (the maker ``decode_account`` builds every feed's with)."""


@dataclass(slots=True)
class FeedStats:
    """Counters of a feed (monotonic over its lifetime, except the gauges marked so)."""

    notifications: int = 0  # account notifications received and decoded (all endpoints)
    slots: int = 0  # slot notifications received
    reconnects: int = 0  # connection sessions ended and restarted
    resyncs: int = 0  # getMultipleAccounts resyncs after (re)connect or (re)subscribe
    resynced_accounts: int = 0  # accounts read by those resyncs
    dropped_stale: int = 0  # updates older than the last delivered for their account
    duplicates: int = 0  # copies of an (account, slot, k) already delivered by another endpoint
    coalesced: int = 0  # updates replaced by a newer one before the consumer took them
    delivered: int = 0  # updates handed to on_update
    garbled: int = 0  # garbled frames + notifications with a bad payload
    silent: int = 0  # reconnects caused by no slot notification within silence_timeout
    refused: int = 0  # subscriptions the node refused (retried later)
    connections: int = 0  # gauge: open connections / streams now
    subscriptions: int = 0  # gauge: live account subscriptions over all connections
    stale_accounts: int = 0  # gauge: watched accounts not known to be fresh now


@dataclass(slots=True)
class EndpointStats:
    """Per endpoint: what it delivered first, what it delivered late, and by how much."""

    url: str
    notifications: int = 0
    wins: int = 0  # first arrivals (delivered from this endpoint)
    duplicates: int = 0  # arrivals after another endpoint's copy
    lead_ns: int = 0  # sum over this endpoint's wins of how long the later copies trailed
    led: int = 0  # number of later copies behind this endpoint's wins
    reconnects: int = 0
    # per account: [slot, k] of this endpoint's last notification (the k-th at that slot)
    seen: dict[Pubkey, list[int]] = field(default_factory=dict, repr=False)

    def snapshot(self) -> dict[str, Any]:
        """Counters plus ``mean_lead_us`` (how far ahead this endpoint's first arrivals were)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("seen", "url")}
        out["mean_lead_us"] = round(self.lead_ns / self.led / 1000, 1) if self.led else 0.0
        return out


class ChangeWatcher(Protocol):
    """What :meth:`Delivery.watch_changes` calls: ``floor`` bounds from above the lowest
    :meth:`~Delivery.last_slot` its caches depend on (a move from above it is not reported)."""

    floor: int

    def moved(self, pubkey: Pubkey, old: int, new: int) -> None:
        """``pubkey``, at ``old`` <= ``floor``, accepted an update or resync at slot ``new``
        (>= ``old``)."""
        ...

    def touch(self) -> None:
        """One of the accounts was forgotten: ``floor`` may be anything now."""
        ...


class LatencyRing:
    """The last ``size`` latency samples (ns) in a fixed array: bounded memory, O(1) record."""

    __slots__ = ("_buf", "_n", "_size")

    def __init__(self, size: int = _LATENCY_SAMPLES) -> None:
        self._size = size
        self._buf = array("q", bytes(8 * size))
        self._n = 0

    def record(self, ns: int) -> None:
        """Add one sample."""
        self._buf[self._n % self._size] = ns
        self._n += 1

    def reset(self) -> None:
        """Forget every sample."""
        self._n = 0

    def percentiles(self) -> dict[str, float]:
        """``p50``, ``p99``, ``max`` in microseconds over the kept samples, and ``samples``."""
        data = sorted(self._buf[: min(self._n, self._size)])
        if not data:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}

        def pick(q: float) -> float:
            return round(data[min(len(data) - 1, int(q * len(data)))] / 1000, 1)

        return {"p50": pick(0.5), "p99": pick(0.99), "max": round(data[-1] / 1000, 1),
                "samples": self._n}


class Delivery:
    """Dedupe + coalescing buffer + the consumer loop calling ``on_update`` (see module doc)."""

    def __init__(self, stats: FeedStats) -> None:
        self.stats = stats
        self.latency = LatencyRing()
        self._on_update: OnUpdate | None = None
        self._pending: dict[Pubkey, AccountUpdate] = {}
        self._batch: dict[Pubkey, AccountUpdate] = {}  # taken by the consumer, not yet applied
        self._spare: dict[Pubkey, AccountUpdate] = {}  # deliver swaps it with _pending
        # the consumer's wake-up while it waits for an update (run), None otherwise
        self._waiter: asyncio.Future[None] | None = None
        self.on_idle: Callable[[], object] | None = None
        """Called by :meth:`run` each time it has delivered every pending update, before it waits
        for the next (the node's ``Pipeline.settle_soon``: what detection retired is freed)."""
        # per account: [slot, k, winner, arrival ns] of the last delivery (winner None: resync)
        self._delivered: dict[Pubkey, list[Any]] = {}
        # per account: who caches something derived from its last_slot (see watch_changes):
        # most accounts have one, stored as is (no container per account); several: an ordered
        # set (a dict; a watcher is never a dict itself)
        self._watchers: dict[Pubkey, ChangeWatcher | dict[ChangeWatcher, None]] = {}

    def last_slot(self, pubkey: Pubkey) -> int:
        """Slot of the last update accepted for ``pubkey`` (-1: none)."""
        entry = self._delivered.get(pubkey)
        return entry[0] if entry is not None else -1

    def current_slot(self, pubkey: Pubkey) -> int | None:
        """:meth:`last_slot`, or None while :meth:`queued` (one call for freshness views)."""
        if pubkey in self._pending or pubkey in self._batch:
            return None
        entry = self._delivered.get(pubkey)
        return entry[0] if entry is not None else -1

    def records(self, keys: Iterable[Pubkey]) -> list[Sequence[int]]:
        """Per key, its delivery record, whose item 0 is :meth:`last_slot` (``(-1,)`` for an
        account never delivered): a cache may keep them and read the slots later without a
        look-up per key. A record is updated in place until :meth:`forget` (its watchers are
        touched) and made on an account's first delivery (its watchers see ``moved`` from -1):
        the list is the caller's, to put those in."""
        return list(map(self._delivered.get, keys, repeat(_NEVER)))

    def record(self, pubkey: Pubkey) -> Sequence[int]:
        """:meth:`records` of one account."""
        return self._delivered.get(pubkey, _NEVER)

    def any_queued(self, keys: Iterable[Pubkey]) -> bool:
        """``any(queued(k) for k in keys)``, free while nothing is queued (the usual case while
        the consumer applies updates)."""
        pending, batch = self._pending, self._batch
        if pending and not pending.keys().isdisjoint(keys):
            return True
        return bool(batch) and not batch.keys().isdisjoint(keys)

    def has_pending(self) -> bool:
        """True while updates are offered that the consumer has not taken into a batch yet."""
        return bool(self._pending)

    def queued(self, pubkey: Pubkey) -> bool:
        """True while a newer update of ``pubkey`` is in hand but not yet applied: the consumer's
        state of that account is then not current (feeds report it as not fresh)."""
        return pubkey in self._pending or pubkey in self._batch

    def watch_changes(self, keys: Iterable[Pubkey], watcher: ChangeWatcher) -> None:
        """Tell ``watcher`` whenever ``min(last_slot(k) for k in keys)`` may have moved from
        ``watcher.floor``, until :meth:`unwatch_changes`: ``moved(pubkey, old, new)`` when an
        account at or below the floor accepted an update or a resync (slots only grow),
        ``touch()`` when one was forgotten. Accounts above the floor move silently. ``keys``
        without repeats; ``watcher`` is not a dict."""
        watchers = self._watchers
        for pk in keys:
            mine = watchers.get(pk)
            if mine is None:
                watchers[pk] = watcher
            elif type(mine) is dict:
                mine[watcher] = None
            elif mine is not watcher:
                watchers[pk] = {mine: None, watcher: None}

    def unwatch_changes(self, keys: Iterable[Pubkey], watcher: ChangeWatcher) -> None:
        """Undo :meth:`watch_changes` (same keys)."""
        watchers = self._watchers
        for pk in keys:
            mine = watchers.get(pk)
            if type(mine) is dict:
                mine.pop(watcher, None)
                if len(mine) == 1:  # back to one: stored as is
                    watchers[pk] = next(iter(mine))
                elif not mine:
                    del watchers[pk]
            elif mine is watcher:
                del watchers[pk]

    def watchers_of(self, pubkey: Pubkey) -> tuple[ChangeWatcher, ...]:
        """The watchers of ``pubkey`` (:meth:`watch_changes`), in registration order."""
        mine = self._watchers.get(pubkey)
        if mine is None:
            return ()
        return tuple(mine) if type(mine) is dict else (mine,)

    def _moved(self, pubkey: Pubkey, old: int, new: int) -> None:
        """``pubkey``'s last slot went from ``old`` (-1: none) to ``new``: tell the watchers at
        or above ``old``."""
        mine = self._watchers.get(pubkey)
        if mine is not None:
            if type(mine) is dict:
                for w in mine:
                    if old <= w.floor:
                        w.moved(pubkey, old, new)
            elif old <= mine.floor:
                mine.moved(pubkey, old, new)

    def forget(self, pubkey: Pubkey) -> None:
        """Drop everything known about an account no longer watched."""
        self._delivered.pop(pubkey, None)
        self._pending.pop(pubkey, None)
        self._batch.pop(pubkey, None)
        if self._watchers:
            for w in self.watchers_of(pubkey):
                w.touch()

    # ------------------------------------------------------------ producers (sync)

    def offer(self, upd: AccountUpdate, ep: EndpointStats) -> None:
        """A streamed notification from endpoint ``ep``: deliver it unless late or a duplicate."""
        pk = upd.pubkey
        slot = upd.slot
        ep.notifications += 1
        # the per-account records are lists updated in place: one dict look-up each (a Pubkey
        # hash is not cached), no tuple per notification
        seen = ep.seen.get(pk)
        if seen is None:
            k = 1
            ep.seen[pk] = [slot, 1]
        elif slot > seen[0]:
            k = seen[1] = 1
            seen[0] = slot
        elif slot == seen[0]:
            k = seen[1] = seen[1] + 1
        else:  # this endpoint itself went back in slots: out of order
            self.stats.dropped_stale += 1
            return
        last = self._delivered.get(pk)
        if last is None:
            old = -1
            self._delivered[pk] = [slot, k, ep, upd.ts_recv_ns]
        else:
            old = last[0]
            if slot < old:
                self.stats.dropped_stale += 1
                return
            if slot == old and k <= last[1]:
                self.stats.duplicates += 1
                ep.duplicates += 1
                winner = last[2]
                if winner is not None and winner is not ep and k == last[1]:
                    winner.lead_ns += upd.ts_recv_ns - last[3]
                    winner.led += 1
                return
            last[0] = slot
            last[1] = k
            last[2] = ep
            last[3] = upd.ts_recv_ns
        if self._watchers:  # _moved inline: this is the per-notification path
            mine = self._watchers.get(pk)
            if mine is not None:
                if type(mine) is dict:
                    for w in mine:
                        if old <= w.floor:
                            w.moved(pk, old, slot)
                elif old <= mine.floor:
                    mine.moved(pk, old, slot)
        ep.wins += 1
        pending = self._pending
        n = len(pending)
        pending[pk] = upd
        if len(pending) == n:  # replaced one still pending (no second look-up of pk)
            self.stats.coalesced += 1
        if self._waiter is not None:
            self._wake()

    def resynced(self, upd: AccountUpdate) -> None:
        """An RPC read at ``upd.slot``: deliver it if not older than what was delivered."""
        pk = upd.pubkey
        slot = upd.slot
        last = self._delivered.get(pk)
        if last is None:
            old = -1
            self._delivered[pk] = [slot, 0, None, upd.ts_recv_ns]
        else:
            old = last[0]
            if slot < old:
                self.stats.dropped_stale += 1
                return
            if slot != old:
                last[1] = 0  # else the count within the slot is kept
            last[0] = slot
            last[2] = None
            last[3] = upd.ts_recv_ns
        if self._watchers:
            self._moved(pk, old, slot)
        self._enqueue(upd)

    def _enqueue(self, upd: AccountUpdate) -> None:
        pending = self._pending
        if upd.pubkey in pending:
            self.stats.coalesced += 1
        pending[upd.pubkey] = upd
        if self._waiter is not None:
            self._wake()

    def _wake(self) -> None:
        """Wake the consumer waiting in :meth:`run` (an update is pending now)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------ consumer

    async def run(self, on_update: OnUpdate) -> None:
        """Hand pending updates to ``on_update`` until cancelled, calling :attr:`on_idle` after
        each run of deliveries; their exceptions propagate (what ``on_update`` did not apply stays
        queued: see :meth:`deliver`)."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                waiter = self._waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
            self.deliver(on_update)
            on_idle = self.on_idle
            if on_idle is not None:
                on_idle()

    def deliver(self, on_update: OnUpdate) -> int:
        """Hand every pending update to ``on_update`` in arrival order, batch after batch, until
        none is pending; returns how many it applied. An update is popped from the batch just
        before its call, so the later ones of the batch read as :meth:`queued` meanwhile.

        If ``on_update`` raises, the update it raised on (applied or not, nobody knows) and the
        rest of the batch go back in front of what is pending (a newer pending update of the same
        account replaces its batch copy): they stay queued, so their accounts do not read as
        fresh, and the next call (a restarted consumer) applies them. The exception propagates."""
        stats = self.stats
        record = self.latency.record
        now = time.monotonic_ns
        n = 0
        try:
            while self._pending:
                batch = self._batch = self._pending
                self._pending = self._spare  # empty: no new dict per batch
                upd = None
                try:
                    if len(batch) == 1:  # the usual case: one update per wake-up
                        upd = batch.popitem()[1]
                        on_update(upd)
                        n += 1
                        record(now() - upd.ts_recv_ns)
                    else:
                        for pk in list(batch):
                            upd = batch.pop(pk, None)
                            if upd is None:  # forgotten by an earlier on_update
                                continue
                            on_update(upd)
                            n += 1
                            record(now() - upd.ts_recv_ns)
                except BaseException:
                    self._requeue(upd, batch)
                    raise
                self._spare = batch  # empty again (self._batch too)
        finally:
            stats.delivered += n
        return n

    drain_now = deliver
    """Deliver what is pending synchronously (tests and benchmarks): :meth:`deliver` itself, the
    path :meth:`run` takes, with no wrapper call per drain."""

    def _requeue(self, failed: AccountUpdate | None, batch: dict[Pubkey, AccountUpdate]) -> None:
        """``failed`` and what is left of ``batch`` were not (fully) applied: queue them again,
        ahead of what is pending (see :meth:`deliver`)."""
        again: dict[Pubkey, AccountUpdate] = {}
        if failed is not None:
            again[failed.pubkey] = failed
        again.update(batch)
        pending = self._pending
        self.stats.coalesced += len(pending.keys() & again.keys())
        again.update(pending)  # newer arrivals win, in the batch's order
        self._pending = again
        self._batch = {}
        self._spare = {}
