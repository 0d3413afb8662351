"""PubSubFeed against the local cluster's PubSub with injected faults (sim/ws_faults.py):
abrupt drops, silent sockets, delayed / out-of-order notifications, refused subscriptions,
redundant endpoints. Each shows resubscription, resync at minContextSlot, and that the
stale_state rule refuses trades through the affected pool until its accounts are fresh again."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.events import Hop, Opportunity
from solarb.feeds import PubSubFeed
from solarb.risk import RiskEngine, RiskLimits
from solarb.rpc.client import RpcClient
from solarb.rpc.transport import HttpTransport
from solarb.sim.ws_faults import WsFaults
from tests.feeds.sim_env import SimEnv, Sink, until

NO_CHAOS = WsFaults(period_s=0.0)
MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")
OTHER = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


class GatedTransport:
    """HttpTransport that records request bodies and can hold requests back (``gate``)."""

    def __init__(self, url: str) -> None:
        self.inner = HttpTransport(url)
        self.gate = asyncio.Event()
        self.gate.set()
        self.bodies: list[dict[str, Any]] = []

    async def request(self, body: bytes) -> bytes:
        await self.gate.wait()
        self.bodies.append(orjson.loads(body))
        return await self.inner.request(body)

    async def aclose(self) -> None:
        await self.inner.aclose()


class PoolView:
    """Freshness view of two pools over the feed: pool A reads keys[:3], pool B keys[3:]."""

    def __init__(self, feed: PubSubFeed, keys: list[Pubkey]) -> None:
        self.feed = feed
        self.pools = {keys[0]: keys[:3], keys[3]: keys[3:]}

    @property
    def cluster_slot(self) -> int:
        return self.feed.cluster_slot

    def pool_slot(self, pool: Pubkey) -> int:
        return min(self.feed.account_slot(k) for k in self.pools[pool])


def opp_through(pool: Pubkey) -> Opportunity:
    hops = (Hop(pool, "t", True, MINT, OTHER, 1000, 5000), Hop(pool, "t", False, OTHER, MINT, 5000, 1100))
    return Opportunity("o", MINT, hops, 1000, 1100, slot=1, ts_recv_ns=1, ts_detect_ns=2)


RISK = RiskEngine(RiskLimits(max_notional={MINT: 10**9}, min_profit={MINT: 1}, max_in_flight=5,
                             max_slot_lag=8))


def tradable(view: PoolView, pool: Pubkey) -> bool:
    verdict = RISK.evaluate(opp_through(pool), in_flight=0, view=view)
    assert verdict.approved or verdict.reason.startswith("stale_state"), verdict
    return verdict.approved


class Run:
    def __init__(self, env: SimEnv, urls: list[str] | None = None, **kw: Any) -> None:
        self.transport = GatedTransport(env.rpc.url)
        opts: dict[str, Any] = {"silence_timeout": 0.5, "reconnect_backoff": (0.01, 0.05),
                                "rng": random.Random(3), "refuse_retry": 0.05}
        opts.update(kw)
        urls = urls or [env.ws[0].url]
        self.feed = PubSubFeed(urls[0], RpcClient(self.transport), extra_ws_urls=urls[1:], **opts)
        self.feed.watch(env.keys)
        self.sink = Sink()
        self.view = PoolView(self.feed, env.keys)
        self.task = asyncio.create_task(self.feed.run(self.sink.on_update, self.sink.on_slot))

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.transport.aclose()


@pytest.fixture
async def env() -> AsyncIterator[SimEnv]:
    async with SimEnv(NO_CHAOS) as e:
        yield e


async def test_abrupt_drop_resubscribes_then_resyncs_before_trading(env: SimEnv) -> None:
    run = Run(env)
    try:
        await until(lambda: run.feed.is_fresh and run.feed.last_slot >= 3)
        pool = env.keys[0]
        await until(lambda: tradable(run.view, pool))  # resync applied
        seen_before = run.feed.last_slot
        run.transport.gate.clear()  # hold the resync back to look at the gap
        assert env.faulty.drop_all() == 1
        await until(lambda: run.feed.counters.reconnects == 1)
        await until(lambda: env.ws[0].subscription_count == len(env.keys) + 1)  # resubscribed
        changed = env.mutate(env.keys[1], 0xA5)  # a change the old socket never saw
        await asyncio.sleep(0.05)
        assert not run.feed.is_fresh and all(run.feed.account_slot(k) == -1 for k in env.keys)
        assert not tradable(run.view, pool) and not tradable(run.view, env.keys[3])
        run.transport.gate.set()
        await until(lambda: run.feed.is_fresh)
        await until(lambda: tradable(run.view, pool))
        last = run.sink.last(env.keys[1])
        assert last is not None and last.data == changed
        resync = run.transport.bodies[-1]
        assert resync["method"] == "getMultipleAccounts"
        assert resync["params"][1]["minContextSlot"] >= seen_before
        assert run.feed.counters.resyncs == 2
    finally:
        await run.stop()


async def test_silent_socket_detected_within_two_seconds(env: SimEnv) -> None:
    run = Run(env, silence_timeout=2.0)
    try:
        await until(lambda: run.feed.is_fresh)
        t0 = time.monotonic()
        assert env.faulty.silence_all() == 1  # open, but nothing more: no notes, no pongs
        await until(lambda: run.feed.counters.reconnects >= 1, timeout=4.0)
        assert time.monotonic() - t0 <= 2.3  # detected, torn down and reconnecting
        assert run.feed.counters.silent + run.feed.counters.reconnects >= 1
        await until(lambda: run.feed.is_fresh)
        changed = env.mutate(env.keys[2], 0x5A)
        await until(lambda: (u := run.sink.last(env.keys[2])) is not None and u.data == changed)
        await until(lambda: tradable(run.view, env.keys[0]))
    finally:
        await run.stop()


async def test_delayed_out_of_order_notifications_never_regress() -> None:
    async with SimEnv(WsFaults(period_s=0.0, delay_rate=0.5, delay_s=0.2), slot_s=0.01) as env:
        run = Run(env)
        try:
            await until(lambda: run.feed.is_fresh)
            key = env.keys[4]
            final = b""
            for i in range(30):
                final = env.mutate(key, i)
                await asyncio.sleep(0.012)  # about one slot apart
            await until(lambda: (u := run.sink.last(key)) is not None and u.data == final)
            await asyncio.sleep(0.25)  # every held-back notification has arrived by now
            slots = [u.slot for u in run.sink.updates if u.pubkey == key]
            assert slots == sorted(slots)  # delivered in slot order, late ones dropped
            assert run.sink.last(key).data == final  # type: ignore[union-attr]
            assert env.faulty.delayed > 0 and run.feed.counters.dropped_stale > 0
        finally:
            await run.stop()


async def test_refused_subscription_keeps_only_that_pool_untradable(env: SimEnv) -> None:
    refused = env.keys[4]  # read by pool B only
    env.faulty.refuse_keys.add(str(refused))
    run = Run(env)
    try:
        await until(lambda: all(run.feed.account_slot(k) >= 0 for k in env.keys if k != refused))
        await until(lambda: run.feed.counters.refused >= 3)  # retried on the live socket
        assert run.feed.account_slot(refused) == -1 and not run.feed.is_fresh
        assert tradable(run.view, env.keys[0]) and not tradable(run.view, env.keys[3])
        env.faulty.refuse_keys.clear()
        await until(lambda: tradable(run.view, env.keys[3]))
        assert run.feed.is_fresh
        assert run.feed.counters.reconnects == 0
    finally:
        await run.stop()


async def test_redundant_endpoints_dedupe_and_survive_one_drop() -> None:
    async with SimEnv(NO_CHAOS, n_ws=2) as env:
        run = Run(env, urls=[env.ws[0].url, env.ws[1].url])
        try:
            await until(lambda: run.feed.is_fresh)
            await asyncio.sleep(0.05)
            start, coalesced0 = len(run.sink.updates), run.feed.counters.coalesced
            for i in range(10):
                env.mutate(env.keys[i % len(env.keys)], 100 + i)
                await asyncio.sleep(0.005)
            await until(lambda: run.feed.counters.duplicates >= 10)
            await asyncio.sleep(0.05)
            got = len(run.sink.updates) - start
            assert got + run.feed.counters.coalesced - coalesced0 == 10  # each change once, not twice
            eps = run.feed.stats()["endpoints"]
            assert sum(e["wins"] for e in eps.values()) >= 10 and len(eps) == 2
            assert sum(e["led"] for e in eps.values()) >= 1
            # one endpoint dies: the other still holds every account, nothing goes stale
            run.transport.gate.clear()
            assert isinstance(env.ws[1], type(env.faulty)) and env.ws[1].drop_all() == 1  # type: ignore[attr-defined]
            for _ in range(20):
                assert all(run.feed.account_slot(k) >= 0 for k in env.keys)
                await asyncio.sleep(0.005)
            assert tradable(run.view, env.keys[0])
            run.transport.gate.set()
            await until(lambda: run.feed.counters.resyncs >= 3)
        finally:
            await run.stop()
