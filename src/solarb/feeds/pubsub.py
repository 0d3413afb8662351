"""Account feed over Solana PubSub (WebSocket): multiplexed, redundant, self-healing.

Layout. Each endpoint (``ws_url`` plus any ``extra_ws_urls``) carries every watched account. Its
accounts are spread over shards of at most ``subscriptions_per_connection`` accounts; a shard is
one :class:`~solarb.rpc.ws.PubSubConnection` (one reader task dispatching notifications by
subscription id) kept alive by its own supervisor task. At most ``max_connections_per_endpoint``
shards exist per endpoint; beyond that, shards grow past the soft limit. ``watch``/``unwatch``
take effect on live connections (accountSubscribe / accountUnsubscribe).

Session of a shard: connect, ``slotSubscribe`` (liveness), ``accountSubscribe`` (base64) for its
accounts, then resync them with ``getMultipleAccounts`` at ``minContextSlot`` = the highest slot
seen (:mod:`solarb.feeds.resync`); only then do they count as fresh on that shard. An account is
fresh while at least one shard (of any endpoint) has it subscribed and resynced:
:meth:`PubSubFeed.account_slot` gives the slot up to which its state is known current (-1 when
not fresh); :meth:`PubSubFeed.group_slot` gives the minimum over a pool's accounts from caches
kept exact by the subscription changes, the shards' slots and the delivery stage (the groups and
their recomputation: :mod:`solarb.feeds.pubsub_groups`). A shard whose socket closes, or that
delivers no frame at all (slot notifications are the steady heartbeat) for ``silence_timeout``
seconds, is torn down (its accounts lose that shard's freshness at once) and reconnected with
exponential backoff and jitter. WebSocket pings every ``ping_interval`` keep the socket and any
proxy alive; a silent peer answers none and is caught by the frame deadline, while a pong that
queues behind a burst of unread frames is not taken for a dead socket (no reconnect storms under
load). A refused subscription is retried on the live connection after ``refuse_retry`` seconds;
until then the account is not fresh on that shard.

Delivery goes through :class:`~solarb.feeds.delivery.Delivery` (dedupe across endpoints, bounded
coalescing, latency ring). ``fresh`` is set while every watched account is fresh.

Hot path (one notification): the connection parses the frame (orjson), finds the account's
pubkey in its subscription table (the key itself, no callback object per account, as tens of
thousands are held) and calls its ``on_account``, the shard's ``_ShardNotes``, with the pubkey
and the account object, which :func:`~solarb.rpc.client.decode_account` turns into an
``AccountUpdate`` (one pass when well formed; the exact protocol error otherwise). The shards,
endpoints and notes live in :mod:`solarb.feeds.pubsub_shards`.

Errors: transient ones (FeedDisconnected, Retryable RPC errors, protocol and response errors during
resync) lead to a reconnect and are kept in ``last_error``; anything else (an exception from
``on_update``/``on_slot``, a Fatal RPC error) propagates out of :meth:`PubSubFeed.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from solarb.errors import Retryable
from solarb.feeds.base import OnSlot, OnUpdate
from solarb.feeds.delivery import Delivery, FeedStats
from solarb.feeds.pubsub_groups import (
    _TOPOLOGIES,
    AccountGroup,
    SharedAccount,
    group_answer,
    release_group,
    touch_groups,
)
from solarb.feeds.pubsub_shards import _Endpoint, _Shard, _ShardNotes
from solarb.feeds.resync import read_accounts
from solarb.rpc.client import decode_account
from solarb.rpc.errors import (
    FeedDisconnected,
    FeedProtocolError,
    RpcError,
    RpcProtocolError,
    RpcResponseError,
)
from solarb.rpc.ws import PubSubConnection

if TYPE_CHECKING:
    from solarb.rpc.client import RpcClient

__all__ = ["AccountGroup", "FeedStats", "PubSubFeed"]

_SUBSCRIBE_CONCURRENCY = 256  # subscribe requests in flight at once per connection
_TRANSIENT = (Retryable, RpcProtocolError, RpcResponseError, FeedProtocolError)
# past the connection cap, a group's or batch's shard is kept while it holds at most this many
# accounts more than the least loaded one
_NEAR_SLACK = 64


def _noop_slot(slot: int) -> None:
    return None


class PubSubFeed:
    """AccountSource over PubSub at ``ws_url`` (+ ``extra_ws_urls``), resyncing through ``rpc``.

    ``reconnect_backoff=(initial, cap)`` seconds; each wait is ``min(cap, initial * 2**n)`` times a
    jitter factor in [0.5, 1.0], with ``n`` reset once a session became live.
    """

    #: :meth:`watch` takes groups of accounts (a pool and its auxiliary accounts) and keeps
    #: each on one connection (:func:`~solarb.feeds.freshness.watch_market`)
    watches_groups = True

    def __init__(
        self,
        ws_url: str,
        rpc: RpcClient,
        *,
        extra_ws_urls: Iterable[str] = (),
        commitment: str = "confirmed",
        subscriptions_per_connection: int = 1000,
        max_connections_per_endpoint: int = 16,
        reconnect_backoff: tuple[float, float] = (0.1, 5.0),
        silence_timeout: float = 2.0,
        refuse_retry: float = 0.25,
        rng: random.Random | None = None,
        ping_interval: float | None = 1.0,
    ) -> None:
        if subscriptions_per_connection < 1 or max_connections_per_endpoint < 1:
            raise ValueError("subscriptions_per_connection and max_connections_per_endpoint >= 1")
        self.rpc = rpc
        self.commitment = commitment
        self.per_connection = subscriptions_per_connection
        self.max_connections = max_connections_per_endpoint
        self.reconnect_backoff = reconnect_backoff
        self.silence_timeout = silence_timeout
        self.refuse_retry = refuse_retry
        self.ping_interval = ping_interval
        self.endpoints = [_Endpoint(u) for u in dict.fromkeys([ws_url, *extra_ws_urls])]
        #: Live counters; :meth:`stats` returns a snapshot as a dict.
        self.counters = FeedStats()
        self.delivery = Delivery(self.counters)
        #: Set while every watched account is fresh; cleared when any is not.
        self.fresh = asyncio.Event()
        self.last_error: BaseException | None = None
        self.last_slot = -1  # highest slot delivered to on_slot (-1: none yet)
        self._rng = rng or random.Random()
        # account -> its shard on each endpoint: the shard itself when there is one endpoint
        # (the usual case; no tuple per account), else a tuple
        self._watched: dict[Pubkey, _Shard | tuple[_Shard, ...]] = {}
        # watched accounts subscribed on no shard (freshness is read from the shards' subs;
        # exact while changes go through the feed, recounted by _update_fresh_flag)
        self._unfresh = 0
        # _topology: renewed by _update_fresh_flag (subscriptions set from outside: every
        # group lays out again); the feed's own changes touch only the groups of the accounts
        # concerned (touch_groups). _stamp: renewed on every change of subscriptions, liveness
        # or a shard's slot (a group's cached answer is for one _stamp)
        self._topology = self._stamp = next(_TOPOLOGIES)
        # each distinct tuple of shards holding a group part, shared by every group
        self._shard_sets: dict[tuple[_Shard, ...], tuple[_Shard, ...]] = {}
        # accounts many groups read, each in a part of its own (the Clock sysvar, mints): one
        # delivery watcher for all of those groups (see pubsub_groups.SharedAccount)
        self._shared: dict[Pubkey, SharedAccount] = {}
        self._wake: dict[_Shard, asyncio.Event] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._program_keys: dict[str, Pubkey] = {}
        self._on_slot: OnSlot = _noop_slot
        self._running = False

    # ------------------------------------------------------------ public surface

    def stats(self) -> dict[str, Any]:
        """Counters (see :class:`FeedStats`), ``latency_us`` (frame received -> on_update
        returned) and ``endpoints`` (per-endpoint arrival statistics)."""
        c = self.counters
        c.connections = sum(1 for ep in self.endpoints for s in ep.shards if s.live)
        c.subscriptions = sum(len(s.subs) for ep in self.endpoints for s in ep.shards)
        c.stale_accounts = sum(1 for k in self._watched if not self._held(k))
        out: dict[str, Any] = asdict(c)
        out["latency_us"] = self.delivery.latency.percentiles()
        out["endpoints"] = {ep.url: ep.stats.snapshot() for ep in self.endpoints}
        return out

    @property
    def is_fresh(self) -> bool:
        """True while every watched account is subscribed and resynced on some connection."""
        return self.fresh.is_set()

    @property
    def cluster_slot(self) -> int:
        """The highest slot seen on any connection (-1: none yet)."""
        return self.last_slot

    @property
    def watched(self) -> list[Pubkey]:
        """Watched accounts, in the order they were added."""
        return list(self._watched)

    def account_slot(self, pubkey: Pubkey) -> int:
        """Slot up to which ``pubkey``'s delivered state is known current; -1 if not fresh."""
        return self.min_account_slot((pubkey,))

    def min_account_slot(self, keys: Iterable[Pubkey]) -> int:
        """``min(account_slot(k) for k in keys)`` in one pass (-1 at the first account that is
        not fresh, and for no keys): the freshness of a pool and its auxiliary accounts."""
        watched, current = self._watched, self.delivery.current_slot
        low = -1
        for pk in keys:
            homes = watched.get(pk)
            if homes is None:
                return -1
            best = current(pk)
            if best is None:  # a newer update is in hand, not yet applied
                return -1
            held = False  # subscribed on some shard (live or not)
            for shard in (homes,) if type(homes) is _Shard else homes:
                if pk in shard.subs:
                    held = True
                    if shard.live and shard.last_slot > best:
                        best = shard.last_slot
            if not held or best < 0:
                return -1
            if low < 0 or best < low:
                low = best
        return low

    def group(self, keys: Iterable[Pubkey]) -> AccountGroup:
        """``keys`` as an :class:`AccountGroup` for :meth:`group_slot`; :meth:`release` it when
        done (the delivery stage marks it on every change of its accounts until then)."""
        return AccountGroup(keys)

    def release(self, group: AccountGroup) -> None:
        """Stop tracking ``group`` (made by :meth:`group`)."""
        release_group(self, group)

    def group_slot(self, group: AccountGroup) -> int:
        """``min_account_slot(group.keys)`` in every state, without a loop per account in the
        usual case: only whether an account is queued is asked each time (a set operation, free
        while nothing is); the rest is cached in ``group`` (see :class:`AccountGroup`). State
        changes go through the feed's methods (a harness that sets subscriptions itself calls
        ``_update_fresh_flag`` after, as a session does)."""
        if group.stamp == self._stamp and not group.dirty:
            answer = group.answer
        else:
            answer = group_answer(self, group)  # solarb.feeds.pubsub_groups
        if answer >= 0:
            delivery = self.delivery  # any_queued, asked only when something is queued at all
            if (delivery._pending or delivery._batch) and delivery.any_queued(group.keys):
                return -1
        return answer

    def group_slot_at_least(self, group: AccountGroup, need: int) -> int:
        """:meth:`group_slot` when it is below ``need``; else a slot >= ``need`` (and >= 0), at
        most :meth:`group_slot`: what the stale-state rule asks per hop. A group's cached answer
        is a lower bound of its exact one while its layout stands: slots and delivered slots only
        grow, and every change that can lower an answer (a shard down, an account unwatched or
        forgotten, subscriptions set from outside) lays the groups concerned out again
        (``touch``, or a new ``_topology``). So a cached answer at least ``need`` answers however
        far the shards' slots moved since (each renews ``_stamp``), unless an account is queued."""
        answer = group.answer
        if answer < need or answer < 0 or group.version != self._topology:
            if group.stamp != self._stamp or group.dirty:  # group_slot, inline: exact
                answer = group_answer(self, group)
            if answer < 0:
                return answer
        delivery = self.delivery
        if (delivery._pending or delivery._batch) and delivery.any_queued(group.keys):
            return -1
        return answer

    def _held(self, pubkey: Pubkey) -> bool:
        """True if ``pubkey`` is subscribed (and resynced) on some shard."""
        homes = self._watched.get(pubkey)
        if homes is None:
            return False
        if type(homes) is _Shard:
            return pubkey in homes.subs
        return any(pubkey in shard.subs for shard in homes)

    def _homes(self, pubkey: Pubkey) -> tuple[_Shard, ...]:
        """The shards (one per endpoint) holding ``pubkey``; empty if not watched."""
        homes = self._watched.get(pubkey)
        if homes is None:
            return ()
        return (homes,) if isinstance(homes, _Shard) else homes

    def connections(self, url: str | None = None) -> int:
        """Number of shards (connections) per endpoint ``url`` (default: the first)."""
        ep = self.endpoints[0] if url is None else next(e for e in self.endpoints if e.url == url)
        return len(ep.shards)

    def watch(self, pubkeys: Iterable[Pubkey | Iterable[Pubkey]]) -> None:
        """Watch more accounts; while running they are subscribed and resynced on live sockets.

        An item is an account or a group of accounts (a pool and its auxiliary accounts, as
        :func:`~solarb.feeds.freshness.pool_accounts` gives them). A group's new accounts go to
        one shard per endpoint, a shard holding one of its accounts already when that one has
        room, and consecutive items to the shard of the one before while it has room: a pool's
        freshness group then spans one shard, not one per account (see :meth:`_shard_for`)."""
        last: list[_Shard | None] = [None] * len(self.endpoints)  # per endpoint: previous item's
        watched = self._watched
        for item in pubkeys:
            keys = (item,) if isinstance(item, Pubkey) else tuple(dict.fromkeys(item))
            new = tuple(pk for pk in keys if pk not in watched)
            if not new:
                continue
            if len(new) > self.per_connection:  # more than a shard holds: one at a time
                for pk in new:
                    self._place((pk,), keys, last)
            else:
                self._place(new, keys, last)

    def _place(self, new: tuple[Pubkey, ...], group: tuple[Pubkey, ...],
               last: list[_Shard | None]) -> None:
        """Watch the unwatched accounts ``new`` (of ``group``) on one shard per endpoint."""
        watched = self._watched
        for i, ep in enumerate(self.endpoints):
            near = last[i]
            for pk in group:  # a shard holding the group's accounts already comes first
                homes = watched.get(pk)
                if homes is not None:
                    near = homes if type(homes) is _Shard else homes[i]
                    break
            shard = last[i] = self._shard_for(ep, len(new), near)
            keys, pending = shard.keys, shard.pending_add
            for pk in new:
                keys[pk] = None
                pending[pk] = None
            self._poke(shard)
        homes = last[0] if len(last) == 1 else tuple(last)
        for pk in new:
            watched[pk] = homes  # type: ignore[assignment]
        self._unfresh += len(new)
        # no group answer changes until they are subscribed (_subscribed touches their groups)
        self.fresh.clear()

    def watch_programs(self, program_ids: Iterable[Pubkey]) -> None:
        """Also stream every account owned by these programs (``programSubscribe``, base64) on
        the first connection of each endpoint. Those accounts are delivered (deduped like the
        rest) but count as fresh only if also watched by pubkey."""
        for pid in program_ids:
            for ep in self.endpoints:
                shard = ep.shards[0] if ep.shards else self._shard_for(ep)
                if pid not in shard.programs:
                    shard.programs[pid] = None
                    shard.pending_programs[pid] = None
                    self._poke(shard)

    def unwatch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Stop watching accounts: unsubscribed on live connections, state forgotten."""
        for pk in pubkeys:
            if pk not in self._watched:
                continue
            homes = self._homes(pk)
            if not self._held(pk):
                self._unfresh -= 1
            del self._watched[pk]
            for shard in homes:
                shard.keys.pop(pk, None)
                shard.pending_add.pop(pk, None)
                sub_id = shard.subs.pop(pk, None)
                if sub_id is not None:
                    shard.pending_remove[pk] = sub_id
                    self._poke(shard)
            self.delivery.forget(pk)  # its groups are touched: they lay out again
        self._fresh_changed()

    # ------------------------------------------------------------ main loop

    async def run(self, on_update: OnUpdate, on_slot: OnSlot) -> None:
        """Deliver account updates and slots until cancelled, reconnecting on transient errors."""
        if self._running:
            raise RuntimeError("PubSubFeed.run() is already running")
        self._running = True
        self._on_slot = on_slot
        consumer = asyncio.create_task(self.delivery.run(on_update), name="feed-delivery")
        try:
            for ep in self.endpoints:
                if not ep.shards:
                    self._shard_for(ep)
                for shard in ep.shards:
                    self._start_shard(shard)
            while True:
                tasks: set[asyncio.Future[Any]] = {consumer}
                tasks.update(s.task for ep in self.endpoints for s in ep.shards if s.task)
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
                for task in done:
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is not None:
                        raise exc
                    if task is consumer:
                        raise RuntimeError("feed delivery ended unexpectedly")
        finally:
            self._running = False
            consumer.cancel()
            shards = [s for ep in self.endpoints for s in ep.shards]
            for shard in shards:
                if shard.task is not None:
                    shard.task.cancel()
            await asyncio.gather(consumer, *(s.task for s in shards if s.task),
                                 return_exceptions=True)
            for shard in shards:
                if shard.conn is not None:
                    await shard.conn.close()
            if self._closing:
                await asyncio.gather(*self._closing, return_exceptions=True)
            for shard in shards:
                shard.task = None
                self._shard_down(shard)

    # ------------------------------------------------------------ shards

    def _shard_for(self, ep: _Endpoint, n: int = 1, near: _Shard | None = None) -> _Shard:
        """The shard of ``ep`` for ``n`` new accounts: ``near`` (a shard of ``ep`` holding
        accounts of the same pool or batch) if it has room for them, else the first with room,
        a new one while under the cap, else the least loaded. Past the cap no shard has room;
        ``near`` is kept while it holds at most :data:`_NEAR_SLACK` accounts more than the
        least loaded (the shards stay balanced to within that and a group)."""
        per = self.per_connection
        if near is not None and near.endpoint is ep and len(near.keys) + n <= per:
            return near
        for shard in ep.shards:
            if len(shard.keys) + n <= per:
                return shard
        if len(ep.shards) < self.max_connections:
            shard = _Shard(ep, len(ep.shards))
            ep.shards.append(shard)
            if self._running:
                self._start_shard(shard)
            return shard
        least = min(ep.shards, key=lambda s: len(s.keys))
        if near is not None and near.endpoint is ep and (
            len(near.keys) <= len(least.keys) + _NEAR_SLACK
        ):
            return near
        return least

    def _start_shard(self, shard: _Shard) -> None:
        if shard.task is None:
            self._wake[shard] = asyncio.Event()
            shard.task = asyncio.create_task(
                self._shard_loop(shard), name=f"feed {shard.endpoint.url} #{shard.index}"
            )

    def _poke(self, shard: _Shard) -> None:
        wake = self._wake.get(shard)
        if wake is not None:
            wake.set()

    async def _shard_loop(self, shard: _Shard) -> None:
        failures = 0
        initial, cap = self.reconnect_backoff
        while True:
            conn = PubSubConnection(
                # pings keep the socket and any proxy alive; liveness is judged on frames (a pong
                # queues behind unread frames when the reader is busy: no reconnect storms)
                shard.endpoint.url, ping_interval=self.ping_interval, ping_timeout=None,
                on_garbled=self._count_garbled, on_account=_ShardNotes(self, shard),
            )
            shard.conn = conn
            became_live = False
            try:
                await self._session(shard, conn)
            except _TRANSIENT as e:
                self.last_error = e
            finally:
                became_live = shard.live
                self._shard_down(shard)
                # a dead peer never answers the close handshake: do not wait for it to reconnect
                closing = asyncio.create_task(conn.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            failures = 0 if became_live else failures + 1
            self.counters.reconnects += 1
            shard.endpoint.stats.reconnects += 1
            delay = min(cap, initial * 2 ** max(0, failures - 1)) if failures else initial
            await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))

    def _shard_down(self, shard: _Shard) -> None:
        """The shard's connection is gone: its accounts lose this shard's freshness at once."""
        shard.live = False
        shard.conn = None
        watched = self._watched
        for pk in shard.subs:  # held on no other shard: not fresh any more
            homes = watched.get(pk)
            if type(homes) is _Shard or (
                homes is not None and not any(pk in s.subs for s in homes if s is not shard)
            ):
                self._unfresh += 1
        touch_groups(self, shard.subs)
        shard.subs.clear()
        shard.pending_remove.clear()
        shard.pending_add = dict(shard.keys)
        shard.pending_programs = dict(shard.programs)
        self._fresh_changed()

    def _shard_up(self, shard: _Shard) -> None:
        """The shard's session is live (subscribed and resynced): its accounts are fresh on it."""
        shard.live = True
        touch_groups(self, shard.subs)
        self._fresh_changed()

    def _subscribed(self, shard: _Shard, keys: Iterable[tuple[Pubkey, int]]) -> None:
        """``(account, sub id)`` pairs accepted and resynced on ``shard``: subscribed there
        (those unwatched or already subscribed meanwhile are skipped)."""
        added = []
        for pk, sub_id in keys:
            if pk in shard.keys and pk not in shard.subs:
                if not self._held(pk):
                    self._unfresh -= 1
                shard.subs[pk] = sub_id
                added.append(pk)
        touch_groups(self, added)
        self._fresh_changed()

    def _update_fresh_flag(self) -> None:
        """For a harness that set subscriptions or liveness itself (as a session does): every
        group lays out again, and the fresh flag follows."""
        self._topology = next(_TOPOLOGIES)
        self._unfresh = sum(1 for pk in self._watched if not self._held(pk))
        self._fresh_changed()

    def _fresh_changed(self) -> None:
        """Called after every change of subscriptions, liveness or the watch set (the groups
        concerned touched already)."""
        self._stamp = next(_TOPOLOGIES)
        if self._watched and not self._unfresh:
            self.fresh.set()
        else:
            self.fresh.clear()

    async def _session(self, shard: _Shard, conn: PubSubConnection) -> None:
        """One connection's life: subscribe, resync, then serve until closed or silent."""
        await conn.connect()
        shard.last_frame_ns = time.monotonic_ns()
        await conn.subscribe("slotSubscribe", None, functools.partial(self._on_slot_note, shard))
        await self._add_pending(shard, conn)
        await self._add_programs(shard, conn)
        self._shard_up(shard)
        silence_ns = int(self.silence_timeout * 1e9)
        wake = self._wake[shard]
        loop = asyncio.get_running_loop()
        while True:
            if shard.pending_remove:
                await self._remove_pending(shard, conn)
            if shard.pending_add and loop.time() >= shard.retry_at:
                await self._add_pending(shard, conn)
            if shard.pending_programs and loop.time() >= shard.retry_at:
                await self._add_programs(shard, conn)
            self._raise_if_closed(conn)
            # any frame proves the socket alive (slot notes may queue behind a burst of others)
            idle_ns = time.monotonic_ns() - max(shard.last_frame_ns, conn.frame_recv_ns)
            if idle_ns >= silence_ns:
                self.counters.silent += 1
                raise FeedDisconnected(f"no frame for {self.silence_timeout}s")
            wake.clear()
            retry_due = loop.time() >= shard.retry_at
            if shard.pending_remove or ((shard.pending_add or shard.pending_programs) and retry_due):
                continue
            timeout = (silence_ns - idle_ns) / 1e9
            if shard.pending_add or shard.pending_programs:
                timeout = min(timeout, max(0.0, shard.retry_at - loop.time()))
            waiters = {asyncio.ensure_future(conn.closed.wait()), asyncio.ensure_future(wake.wait())}
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    @staticmethod
    def _raise_if_closed(conn: PubSubConnection) -> None:
        if not conn.closed.is_set():
            return
        reason = conn.close_reason
        if isinstance(reason, FeedDisconnected) or reason is None:
            raise reason or FeedDisconnected("connection closed")
        raise reason  # a callback (on_slot) failed: not ours to swallow

    async def _add_pending(self, shard: _Shard, conn: PubSubConnection) -> None:
        """Subscribe the shard's pending accounts, then resync those that were accepted."""
        keys = list(shard.pending_add)
        shard.pending_add.clear()
        if not keys:
            return
        cfg = {"encoding": "base64", "commitment": self.commitment}
        accepted: list[tuple[Pubkey, int]] = []
        refused: list[Pubkey] = []

        async def one(pk: Pubkey) -> None:
            try:  # the pubkey itself: routed to the connection's on_account (_ShardNotes)
                sub_id = await conn.subscribe("accountSubscribe", [str(pk), cfg], pk)
            except FeedDisconnected:
                raise
            except RpcError:
                refused.append(pk)
                return
            accepted.append((pk, sub_id))

        try:
            for i in range(0, len(keys), _SUBSCRIBE_CONCURRENCY):
                await asyncio.gather(*(one(pk) for pk in keys[i : i + _SUBSCRIBE_CONCURRENCY]))
        finally:  # what failed or was not tried yet stays pending for the next session
            done = {pk for pk, _ in accepted}
            for pk in keys:
                if pk not in done and pk in shard.keys:
                    shard.pending_add[pk] = None
        if refused:
            self.counters.refused += len(refused)
            shard.retry_at = asyncio.get_running_loop().time() + self.refuse_retry
        accepted = [(pk, sid) for pk, sid in accepted if pk in shard.keys]  # unwatched meanwhile
        if not accepted:
            return
        wanted = [pk for pk, _ in accepted]
        _, updates = await read_accounts(
            self.rpc, wanted, min_context_slot=max(self.last_slot, shard.last_slot),
            commitment=self.commitment,
        )
        self.counters.resyncs += 1
        self.counters.resynced_accounts += len(wanted)
        for upd in updates:
            if upd is not None:
                self.delivery.resynced(upd)
        self._subscribed(shard, accepted)

    async def _add_programs(self, shard: _Shard, conn: PubSubConnection) -> None:
        cfg = {"encoding": "base64", "commitment": self.commitment}
        for pid in list(shard.pending_programs):
            cb = functools.partial(self._on_program_note, shard)
            try:
                await conn.subscribe("programSubscribe", [str(pid), cfg], cb)
            except FeedDisconnected:
                raise
            except RpcError:
                self.counters.refused += 1
                shard.retry_at = asyncio.get_running_loop().time() + self.refuse_retry
                continue
            shard.pending_programs.pop(pid, None)

    async def _remove_pending(self, shard: _Shard, conn: PubSubConnection) -> None:
        items = list(shard.pending_remove.items())
        shard.pending_remove.clear()
        for _, sub_id in items:
            with contextlib.suppress(RpcResponseError, RpcProtocolError):
                await conn.unsubscribe("accountUnsubscribe", sub_id)

    # ------------------------------------------------------------ callbacks (reader task)

    def _on_program_note(self, shard: _Shard, value: Any, slot: int) -> None:
        conn = shard.conn
        try:
            if slot < 0 or conn is None or not isinstance(value, dict):
                raise RpcProtocolError(f"program notification without slot or value: {value!r:.80}")
            text = value.get("pubkey")
            pk = self._program_keys.get(text) if isinstance(text, str) else None
            if pk is None:
                pk = Pubkey.from_string(text) if isinstance(text, str) else None
                if pk is None:
                    raise RpcProtocolError("program notification without pubkey")
                if len(self._program_keys) < 100_000:
                    self._program_keys[text] = pk
            account = value.get("account")
            upd = decode_account(pk, account, slot, conn.frame_recv_ns, "programNotification")
        except (RpcProtocolError, ValueError) as e:
            self._count_garbled(FeedProtocolError(str(e)))
            return
        if upd is None:
            return
        self.counters.notifications += 1
        self.delivery.offer(upd, shard.endpoint.stats)

    def _on_slot_note(self, shard: _Shard, value: Any, slot: int) -> None:
        if slot < 0:
            self._count_garbled(FeedProtocolError(f"slot notification without slot: {value!r:.80}"))
            return
        conn = shard.conn
        shard.last_frame_ns = conn.frame_recv_ns if conn is not None else time.monotonic_ns()
        self.counters.slots += 1
        if slot > shard.last_slot:
            shard.last_slot = slot
            self._stamp = next(_TOPOLOGIES)
        if slot > self.last_slot:
            self.last_slot = slot
            self._on_slot(slot)

    def _count_garbled(self, err: FeedProtocolError) -> None:
        self.counters.garbled += 1
        self.last_error = err

