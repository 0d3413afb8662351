"""Account feed over a Yellowstone gRPC (Geyser) ``Subscribe`` stream: an AccountSource.

One bidirectional stream per endpoint. The first SubscribeRequest names every watched account
(``accounts["solarb"].account``), any watched programs (``.owner``) and a slot filter; a later
``watch``/``unwatch`` sends a new full request (Yellowstone replaces the filter set). The client
pings every ``ping_interval`` seconds (a request with ``ping`` set, answered by a pong); slot,
ping and pong updates all count as liveness. No update for ``silence_timeout`` seconds, or the
stream ending with an error, tears the session down: accounts lose their freshness at once, the
stream is reopened with exponential backoff and jitter, and (once the pong to a ping sent right
after the filters proves them installed) every watched account is resynced
with ``getMultipleAccounts`` at ``minContextSlot`` = the highest slot seen before it is fresh again.

Account updates carry raw bytes (no base64): ``data`` is handed on as received. Delivery goes
through :class:`~solarb.feeds.delivery.Delivery` (dedupe, coalescing, latency), as PubSub does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import grpc
from solders.pubkey import Pubkey

from solarb.errors import Retryable
from solarb.events import AccountUpdate
from solarb.feeds.base import OnSlot, OnUpdate
from solarb.feeds.delivery import Delivery, EndpointStats, FeedStats
from solarb.feeds.proto import geyser_pb2 as pb
from solarb.feeds.proto import geyser_pb2_grpc as pb_grpc
from solarb.feeds.resync import read_accounts
from solarb.rpc.client import RpcClient
from solarb.rpc.errors import FeedDisconnected, RpcProtocolError, RpcResponseError

__all__ = ["GeyserFeed", "grpc_target"]

_FILTER = "solarb"
_SYNC_PING = -1  # ping sent right after the filters: its pong proves them installed
_COMMITMENT = {"processed": pb.PROCESSED, "confirmed": pb.CONFIRMED, "finalized": pb.FINALIZED}
_TRANSIENT = (Retryable, RpcProtocolError, RpcResponseError)


def grpc_target(url: str) -> tuple[str, bool]:
    """``http(s)://host:port`` (or bare ``host:port``) -> (``host:port``, use TLS)."""
    if "://" not in url:
        return url, False
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}", parts.scheme == "https"


class GeyserFeed:
    """AccountSource over the Yellowstone ``Subscribe`` stream at ``url``; resyncs through ``rpc``."""

    def __init__(
        self,
        url: str,
        rpc: RpcClient,
        *,
        commitment: str = "confirmed",
        x_token: str | None = None,
        reconnect_backoff: tuple[float, float] = (0.1, 5.0),
        silence_timeout: float = 2.0,
        ping_interval: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.rpc = rpc
        self.commitment = commitment
        self.x_token = x_token
        self.reconnect_backoff = reconnect_backoff
        self.silence_timeout = silence_timeout
        self.ping_interval = ping_interval
        self.counters = FeedStats()
        self.delivery = Delivery(self.counters)
        self.endpoint = EndpointStats(url)
        self.fresh = asyncio.Event()
        self.last_error: BaseException | None = None
        self.last_slot = -1
        self.pongs = 0
        self._rng = rng or random.Random()
        self._watched: dict[Pubkey, None] = {}
        self._programs: dict[Pubkey, None] = {}
        self._fresh: set[Pubkey] = set()  # resynced on the live stream
        self._pending: dict[Pubkey, None] = {}  # watched, not yet resynced on the live stream
        self._requests: asyncio.Queue[pb.SubscribeRequest | None] | None = None
        self._live = False
        self._stream_slot = -1
        self._last_msg_ns = 0
        self._wake = asyncio.Event()
        self._synced = asyncio.Event()
        self._owners: dict[bytes, Pubkey] = {}
        self._keys: dict[bytes, Pubkey] = {}

    # ------------------------------------------------------------ public surface

    @property
    def cluster_slot(self) -> int:
        """The highest slot seen on the stream (-1: none yet)."""
        return self.last_slot

    @property
    def is_fresh(self) -> bool:
        """True while every watched account is resynced on the live stream."""
        return self.fresh.is_set()

    def watch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Watch more accounts; while running, a new filter set is sent and they are resynced."""
        for pk in pubkeys:
            if pk not in self._watched:
                self._watched[pk] = None
                self._keys[bytes(pk)] = pk
                self._pending[pk] = None
        self._refilter()

    def watch_programs(self, program_ids: Iterable[Pubkey]) -> None:
        """Also stream every account owned by these programs (owner filter). Their accounts are
        delivered but count as fresh only if watched by pubkey too."""
        for pid in program_ids:
            self._programs[pid] = None
        self._refilter()

    def unwatch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Stop watching accounts (a new filter set is sent)."""
        for pk in pubkeys:
            if pk in self._watched:
                del self._watched[pk]
                self._keys.pop(bytes(pk), None)
                self._pending.pop(pk, None)
                self._fresh.discard(pk)
                self.delivery.forget(pk)
        self._refilter()

    def account_slot(self, pubkey: Pubkey) -> int:
        """Slot up to which ``pubkey`` is known current on the live stream; -1 if not fresh."""
        if not self._live or pubkey not in self._fresh or self.delivery.queued(pubkey):
            return -1
        return max(self._stream_slot, self.delivery.last_slot(pubkey))

    def stats(self) -> dict[str, Any]:
        """Counters, ``pongs``, ``latency_us`` and the endpoint's arrival statistics."""
        c = self.counters
        c.connections = 1 if self._live else 0
        c.subscriptions = len(self._watched) if self._live else 0
        c.stale_accounts = sum(1 for k in self._watched if self.account_slot(k) < 0)
        out: dict[str, Any] = asdict(c)
        out["pongs"] = self.pongs
        out["latency_us"] = self.delivery.latency.percentiles()
        out["endpoints"] = {self.url: self.endpoint.snapshot()}
        return out

    # ------------------------------------------------------------ main loop

    async def run(self, on_update: OnUpdate, on_slot: OnSlot) -> None:
        """Deliver updates and slots until cancelled, reopening the stream on transient errors."""
        consumer = asyncio.create_task(self.delivery.run(on_update), name="geyser-delivery")
        target, tls = grpc_target(self.url)
        creds = grpc.ssl_channel_credentials() if tls else None
        failures = 0
        initial, cap = self.reconnect_backoff
        try:
            while True:
                channel = (grpc.aio.secure_channel(target, creds) if creds is not None
                           else grpc.aio.insecure_channel(target))
                session = asyncio.create_task(self._session(channel, on_slot))
                try:
                    done, _ = await asyncio.wait({session, consumer}, return_when=asyncio.FIRST_COMPLETED)
                    if consumer in done:
                        consumer.result()
                        raise RuntimeError("feed delivery ended unexpectedly")
                    session.result()
                except _TRANSIENT as e:
                    self.last_error = e
                finally:
                    became_live = self._live
                    self._down()
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *_TRANSIENT):
                        await session
                    await channel.close(grace=None)
                failures = 0 if became_live else failures + 1
                self.counters.reconnects += 1
                self.endpoint.reconnects += 1
                delay = min(cap, initial * 2 ** max(0, failures - 1)) if failures else initial
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

    def _down(self) -> None:
        self._live = False
        self._fresh.clear()
        self._pending = dict(self._watched)
        self._requests = None
        self.fresh.clear()

    def _request(self) -> pb.SubscribeRequest:
        flt = pb.SubscribeRequestFilterAccounts(
            account=[str(k) for k in self._watched], owner=[str(p) for p in self._programs])
        return pb.SubscribeRequest(
            accounts={_FILTER: flt}, slots={_FILTER: pb.SubscribeRequestFilterSlots()},
            commitment=_COMMITMENT.get(self.commitment, pb.CONFIRMED))

    def _refilter(self) -> None:
        if self._requests is not None:
            self._requests.put_nowait(self._request())
        self._wake.set()
        if self._pending:
            self.fresh.clear()

    async def _session(self, channel: grpc.aio.Channel, on_slot: OnSlot) -> None:
        stub = pb_grpc.GeyserStub(channel)
        requests: asyncio.Queue[pb.SubscribeRequest | None] = asyncio.Queue()
        requests.put_nowait(self._request())
        requests.put_nowait(pb.SubscribeRequest(ping=pb.SubscribeRequestPing(id=_SYNC_PING)))
        self._requests = requests
        self._synced = asyncio.Event()
        self._pending = dict(self._watched)

        async def outgoing() -> AsyncIterator[pb.SubscribeRequest]:
            while True:
                req = await requests.get()
                if req is None:
                    return
                yield req

        metadata = (("x-token", self.x_token),) if self.x_token else None
        call = stub.Subscribe(outgoing(), metadata=metadata)
        self._last_msg_ns = time.monotonic_ns()
        reader = asyncio.create_task(self._read(call, on_slot))
        pinger = asyncio.create_task(self._ping(requests))
        try:
            # requests are handled in order: once the sync pong is back, the filters are active,
            # so a resync from now on cannot miss a change
            waiter = asyncio.ensure_future(self._synced.wait())
            try:
                await asyncio.wait({reader, waiter}, timeout=self.silence_timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if not self._synced.is_set():
                if reader.done():
                    reader.result()
                raise FeedDisconnected("geyser stream: no pong to the subscription ping")
            self._live = True
            while True:
                if reader.done():
                    reader.result()
                    raise FeedDisconnected("geyser stream ended")
                if self._pending:
                    keys = list(self._pending)
                    self._pending.clear()
                    await self._resync(keys)
                idle = (time.monotonic_ns() - self._last_msg_ns) / 1e9
                if idle >= self.silence_timeout:
                    self.counters.silent += 1
                    self._down()  # nothing it streamed is known current any more
                    raise FeedDisconnected(f"geyser stream silent for {self.silence_timeout}s")
                self._wake.clear()
                if self._pending:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.silence_timeout - idle, 0.25)):
                        await asyncio.wait({reader, asyncio.ensure_future(self._wake.wait())},
                                           return_when=asyncio.FIRST_COMPLETED)
        finally:
            pinger.cancel()
            reader.cancel()
            call.cancel()
            await asyncio.gather(pinger, reader, return_exceptions=True)

    async def _resync(self, keys: list[Pubkey]) -> None:
        _, updates = await read_accounts(
            self.rpc, keys, min_context_slot=self.last_slot, commitment=self.commitment)
        self.counters.resyncs += 1
        self.counters.resynced_accounts += len(keys)
        for upd in updates:
            if upd is not None:
                self.delivery.resynced(upd)
        for pk in keys:
            if pk in self._watched:
                self._fresh.add(pk)
        if self._live and len(self._fresh) == len(self._watched):
            self.fresh.set()

    async def _ping(self, requests: asyncio.Queue[pb.SubscribeRequest | None]) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.ping_interval)
            n += 1
            requests.put_nowait(pb.SubscribeRequest(ping=pb.SubscribeRequestPing(id=n)))

    async def _read(self, call: Any, on_slot: OnSlot) -> None:
        stats = self.counters
        try:
            async for update in call:
                now = time.monotonic_ns()
                self._last_msg_ns = now
                kind = update.WhichOneof("update_oneof")
                if kind == "account":
                    self._on_account(update.account, now)
                elif kind == "slot":
                    stats.slots += 1
                    slot = update.slot.slot
                    if slot > self._stream_slot:
                        self._stream_slot = slot
                    if slot > self.last_slot:
                        self.last_slot = slot
                        on_slot(slot)
                elif kind == "pong":
                    self.pongs += 1
                    if update.pong.id == _SYNC_PING:
                        self._synced.set()
        except grpc.aio.AioRpcError as e:
            raise FeedDisconnected(f"geyser stream failed: {e.code().name}: {e.details()}") from e

    def _on_account(self, acc: Any, now: int) -> None:
        info = acc.account
        key = info.pubkey
        pk = self._keys.get(key)
        if pk is None:
            if len(key) != 32:
                self.counters.garbled += 1
                return
            pk = Pubkey.from_bytes(key)  # from an owner (program) filter
        owner_raw = info.owner
        owner = self._owners.get(owner_raw)
        if owner is None:
            if len(owner_raw) != 32:
                self.counters.garbled += 1
                return
            owner = self._owners.setdefault(owner_raw, Pubkey.from_bytes(owner_raw))
        self.counters.notifications += 1
        self.delivery.offer(
            AccountUpdate(pubkey=pk, slot=acc.slot, data=info.data, owner=owner,
                          lamports=info.lamports, ts_recv_ns=now),
            self.endpoint,
        )
