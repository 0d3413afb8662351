"""Account feed over Solana PubSub (WebSocket) with RPC resync: the live AccountSource.

:class:`PubSubFeed` keeps one :class:`~solarb.rpc.ws.PubSubConnection` alive. On every
(re)connect it subscribes ``slotSubscribe`` and ``accountSubscribe`` (base64) for each watched
account, then resyncs every watched account with ``getMultipleAccounts`` so that nothing missed
while disconnected stays stale; only then is ``fresh`` set (the engine must not trade before).

Delivery rule: per account, an update is handed to ``on_update`` only if its slot is >= the slot
last delivered for that account; older ones are counted in ``counters.dropped_stale``. This makes
the notification/resync race harmless. A socket that sends no slot notification for
``silence_timeout`` seconds is treated as dead and replaced. Reconnects back off exponentially
with jitter. ``fresh`` is cleared while disconnected.

Errors: transient ones (FeedDisconnected, Retryable RPC errors, protocol and response errors
during resync) lead to a reconnect and are kept in ``last_error``; anything else (an exception
from ``on_update``/``on_slot``, a Fatal RPC error) propagates out of :meth:`PubSubFeed.run`.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from solders.pubkey import Pubkey

from solarb.errors import Retryable
from solarb.events import AccountUpdate
from solarb.feeds.base import OnSlot, OnUpdate
from solarb.rpc.client import RpcClient, decode_account
from solarb.rpc.errors import (
    FeedDisconnected,
    FeedProtocolError,
    RpcProtocolError,
    RpcResponseError,
)
from solarb.rpc.ws import PubSubConnection

_SUBSCRIBE_CONCURRENCY = 256  # subscribe requests in flight at once


@dataclass(slots=True)
class FeedStats:
    """Counters of a feed (monotonic over its lifetime)."""

    notifications: int = 0  # account notifications received and decoded
    slots: int = 0  # slot notifications received
    reconnects: int = 0  # sessions ended and restarted
    resyncs: int = 0  # full getMultipleAccounts resyncs after (re)connect
    dropped_stale: int = 0  # updates older than the last delivered for their account
    garbled: int = 0  # garbled frames + notifications with a bad payload
    silent: int = 0  # reconnects caused by no slot notification within silence_timeout


def _noop_slot(slot: int) -> None:
    return None


def _noop_update(update: AccountUpdate) -> None:
    return None


class PubSubFeed:
    """AccountSource over PubSub at ``ws_url``, resyncing through ``rpc`` on every (re)connect.

    ``reconnect_backoff=(initial, cap)`` seconds; each wait is ``min(cap, initial * 2**n)`` times a
    jitter factor in [0.5, 1.0], with ``n`` reset once a session became fresh.
    """

    def __init__(
        self,
        ws_url: str,
        rpc: RpcClient,
        *,
        commitment: str = "confirmed",
        reconnect_backoff: tuple[float, float] = (0.1, 5.0),
        silence_timeout: float = 2.0,
        rng: random.Random | None = None,
        ping_interval: float | None = 10.0,
    ) -> None:
        self.ws_url = ws_url
        self.rpc = rpc
        self.commitment = commitment
        self.reconnect_backoff = reconnect_backoff
        self.silence_timeout = silence_timeout
        self.ping_interval = ping_interval
        #: Live counters; :meth:`stats` returns a snapshot as a dict.
        self.counters = FeedStats()
        #: Set once the current connection is subscribed and resynced; cleared while disconnected.
        self.fresh = asyncio.Event()
        self.last_error: BaseException | None = None
        self.last_slot = -1  # highest slot delivered to on_slot (-1: none yet)
        self._rng = rng or random.Random()
        self._watched: dict[Pubkey, None] = {}  # insertion-ordered set
        self._pending: dict[Pubkey, None] = {}  # watched but not yet subscribed on the live conn
        self._wake = asyncio.Event()
        self._last_delivered: dict[Pubkey, int] = {}
        self._last_slot_ns = 0
        self._on_update: OnUpdate = _noop_update
        self._on_slot: OnSlot = _noop_slot
        self._running = False

    def stats(self) -> dict[str, int]:
        """Snapshot of the counters: notifications, slots, reconnects, resyncs, dropped_stale,
        garbled, silent."""
        return asdict(self.counters)

    @property
    def is_fresh(self) -> bool:
        """True while connected, subscribed and resynced."""
        return self.fresh.is_set()

    @property
    def watched(self) -> list[Pubkey]:
        """Watched accounts, in the order they were added."""
        return list(self._watched)

    def watch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Watch more accounts; while running they are subscribed and fetched on the live socket."""
        for pk in pubkeys:
            if pk not in self._watched:
                self._watched[pk] = None
                self._pending[pk] = None
        if self._pending:
            self._wake.set()

    # ------------------------------------------------------------ main loop

    async def run(self, on_update: OnUpdate, on_slot: OnSlot) -> None:
        """Deliver account updates and slots until cancelled, reconnecting on transient errors."""
        if self._running:
            raise RuntimeError("PubSubFeed.run() is already running")
        self._running = True
        self._on_update, self._on_slot = on_update, on_slot
        failures = 0
        try:
            while True:
                conn = PubSubConnection(
                    self.ws_url, ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
                    on_garbled=self._count_garbled,
                )
                try:
                    await self._session(conn)
                except (Retryable, RpcProtocolError, RpcResponseError, FeedProtocolError) as e:
                    self.last_error = e
                finally:
                    became_fresh = self.fresh.is_set()
                    self.fresh.clear()
                    await conn.close()
                failures = 0 if became_fresh else failures + 1
                self.counters.reconnects += 1
                initial, cap = self.reconnect_backoff
                delay = min(cap, initial * 2 ** max(0, failures - 1)) if failures else initial
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
        finally:
            self._running = False

    async def _session(self, conn: PubSubConnection) -> None:
        """One connection's life: subscribe, resync, then serve until closed or silent."""
        await conn.connect()
        self._last_slot_ns = time.monotonic_ns()
        await conn.subscribe("slotSubscribe", None, functools.partial(self._on_slot_note, conn))
        self._pending.clear()
        keys = list(self._watched)
        await self._subscribe_accounts(conn, keys)
        await self._fetch(keys)
        self.counters.resyncs += 1
        self.fresh.set()
        silence_ns = int(self.silence_timeout * 1e9)
        while True:
            if self._pending:
                new = list(self._pending)
                self._pending.clear()
                await self._subscribe_accounts(conn, new)
                await self._fetch(new)
            self._raise_if_closed(conn)
            idle_ns = time.monotonic_ns() - self._last_slot_ns
            if idle_ns >= silence_ns:
                self.counters.silent += 1
                raise FeedDisconnected(f"no slot notification for {self.silence_timeout}s")
            self._wake.clear()
            if self._pending:
                continue
            waiters = {
                asyncio.ensure_future(conn.closed.wait()),
                asyncio.ensure_future(self._wake.wait()),
            }
            try:
                await asyncio.wait(
                    waiters,
                    timeout=(silence_ns - idle_ns) / 1e9,
                    return_when=asyncio.FIRST_COMPLETED,
                )
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
        raise reason  # a callback (on_update/on_slot) failed: not ours to swallow

    async def _subscribe_accounts(self, conn: PubSubConnection, keys: list[Pubkey]) -> None:
        cfg = {"encoding": "base64", "commitment": self.commitment}
        for i in range(0, len(keys), _SUBSCRIBE_CONCURRENCY):
            await asyncio.gather(
                *(
                    conn.subscribe(
                        "accountSubscribe", [str(pk), cfg],
                        functools.partial(self._on_account_note, conn, pk),
                    )
                    for pk in keys[i : i + _SUBSCRIBE_CONCURRENCY]
                )
            )

    async def _fetch(self, keys: list[Pubkey]) -> None:
        """Deliver the RPC state of ``keys`` (missing accounts are skipped), slot rule applied."""
        if not keys:
            return
        _, updates = await self.rpc.get_multiple_accounts(keys, commitment=self.commitment)
        for upd in updates:
            if upd is not None:
                self._deliver(upd)

    # ------------------------------------------------------------ callbacks (reader task)

    def _deliver(self, upd: AccountUpdate) -> None:
        if upd.slot < self._last_delivered.get(upd.pubkey, -1):
            self.counters.dropped_stale += 1
            return
        self._last_delivered[upd.pubkey] = upd.slot
        self._on_update(upd)

    def _on_account_note(
        self, conn: PubSubConnection, pubkey: Pubkey, value: Any, slot: int
    ) -> None:
        if slot < 0:
            self._count_garbled(FeedProtocolError(f"account notification without slot: {pubkey}"))
            return
        try:
            upd = decode_account(pubkey, value, slot, conn.frame_recv_ns, "accountNotification")
        except RpcProtocolError as e:
            self._count_garbled(FeedProtocolError(str(e)))
            return
        if upd is None:
            return
        self.counters.notifications += 1
        self._deliver(upd)

    def _on_slot_note(self, conn: PubSubConnection, value: Any, slot: int) -> None:
        if slot < 0:
            self._count_garbled(FeedProtocolError(f"slot notification without slot: {value!r:.80}"))
            return
        self._last_slot_ns = conn.frame_recv_ns
        self.counters.slots += 1
        if slot > self.last_slot:
            self.last_slot = slot
            self._on_slot(slot)

    def _count_garbled(self, err: FeedProtocolError) -> None:
        self.counters.garbled += 1
        self.last_error = err


__all__ = ["FeedStats", "PubSubFeed"]
