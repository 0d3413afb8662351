"""Polling fallback: ``getMultipleAccounts`` every ``interval_s`` through the RPC layer.

For when no stream (PubSub, Geyser) is available. Each poll reads every watched account at a
context slot no older than the last poll's (``minContextSlot``), delivers the accounts whose bytes
changed (all of them the first time), and reports the context slot as the cluster slot. Freshness:
an account read by the last successful poll is known current up to that poll's slot, as long as
that poll is younger than ``silence_timeout`` seconds; otherwise (RPC failing) nothing is fresh.

Errors: Retryable RPC errors and garbled replies are kept in ``last_error`` and counted in
``poll_errors``; the next poll follows after the interval. Anything else propagates out of
:meth:`PollingFeed.run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from solders.pubkey import Pubkey

from solarb.errors import Retryable
from solarb.feeds.base import OnSlot, OnUpdate
from solarb.feeds.delivery import Delivery, FeedStats
from solarb.feeds.resync import read_accounts
from solarb.rpc.client import RpcClient
from solarb.rpc.errors import RpcProtocolError, RpcResponseError

__all__ = ["PollingFeed"]


class PollingFeed:
    """AccountSource that polls ``rpc`` every ``interval_s`` seconds."""

    def __init__(
        self,
        rpc: RpcClient,
        *,
        interval_s: float = 0.4,
        silence_timeout: float = 2.0,
        commitment: str = "confirmed",
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.rpc = rpc
        self.interval_s = interval_s
        self.silence_timeout = silence_timeout
        self.commitment = commitment
        self.counters = FeedStats()
        self.delivery = Delivery(self.counters)
        self.last_error: BaseException | None = None
        self.last_slot = -1
        self.polls = 0
        self.poll_errors = 0
        self._watched: dict[Pubkey, None] = {}
        self._data: dict[Pubkey, bytes] = {}
        self._polled: set[Pubkey] = set()  # read by the last successful poll
        self._poll_ns = 0  # monotonic time of the last successful poll

    @property
    def cluster_slot(self) -> int:
        """Context slot of the last successful poll (-1: none yet)."""
        return self.last_slot

    @property
    def watched(self) -> list[Pubkey]:
        """Watched accounts, in the order they were added."""
        return list(self._watched)

    def watch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Watch more accounts (read from the next poll on)."""
        for pk in pubkeys:
            self._watched.setdefault(pk, None)

    def unwatch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Stop polling accounts."""
        for pk in pubkeys:
            self._watched.pop(pk, None)
            self._data.pop(pk, None)
            self._polled.discard(pk)
            self.delivery.forget(pk)

    def account_slot(self, pubkey: Pubkey) -> int:
        """The last poll's slot if it read ``pubkey`` and is recent enough, else -1."""
        if pubkey not in self._polled or self.delivery.queued(pubkey):
            return -1
        if time.monotonic_ns() - self._poll_ns > self.silence_timeout * 1e9:
            return -1
        return self.last_slot

    def stats(self) -> dict[str, Any]:
        """Counters plus ``polls``, ``poll_errors`` and ``latency_us``."""
        self.counters.stale_accounts = sum(1 for k in self._watched if self.account_slot(k) < 0)
        out: dict[str, Any] = asdict(self.counters)
        out["polls"] = self.polls
        out["poll_errors"] = self.poll_errors
        out["latency_us"] = self.delivery.latency.percentiles()
        return out

    async def run(self, on_update: OnUpdate, on_slot: OnSlot) -> None:
        """Poll until cancelled; ``on_update`` errors propagate."""
        consumer = asyncio.create_task(self.delivery.run(on_update), name="poll-delivery")
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                await self.poll_once(on_slot)
                if consumer.done():
                    consumer.result()  # re-raise an on_update failure
                    raise RuntimeError("feed delivery ended unexpectedly")
                await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

    async def poll_once(self, on_slot: OnSlot) -> bool:
        """One poll; True if it succeeded."""
        keys = list(self._watched)
        try:
            slot, updates = await read_accounts(
                self.rpc, keys, min_context_slot=self.last_slot, commitment=self.commitment
            )
        except (Retryable, RpcProtocolError, RpcResponseError) as e:
            self.last_error = e
            self.poll_errors += 1
            return False
        self.polls += 1
        self.counters.resyncs += 1
        self.counters.resynced_accounts += len(keys)
        polled = set()
        for pk, upd in zip(keys, updates, strict=True):
            if pk not in self._watched:
                continue  # unwatched while the poll was in flight
            polled.add(pk)
            if upd is None or self._data.get(pk) == upd.data:
                continue
            self._data[pk] = upd.data
            self.counters.notifications += 1
            self.delivery.resynced(upd)
        self._polled = polled
        self._poll_ns = time.monotonic_ns()
        if slot > self.last_slot:
            self.last_slot = slot
            self.counters.slots += 1
            on_slot(slot)
        return True
