"""Multiplexing (shards per endpoint, runtime subscribe/unsubscribe), the bounded coalescing
delivery stage, and the polling fallback, on the local cluster's real servers."""

from __future__ import annotations

import asyncio
import random

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds import AccountSource, Delivery, EndpointStats, FeedStats, PubSubFeed
from solarb.feeds.polling import PollingFeed
from solarb.rpc.client import RpcClient
from tests.feeds.sim_env import SimEnv, Sink, until


async def test_accounts_spread_over_bounded_connections_and_unsubscribe_at_runtime() -> None:
    async with SimEnv(n_accounts=60) as env:
        rpc = RpcClient(env.rpc.url)
        feed = PubSubFeed(env.ws[0].url, rpc, subscriptions_per_connection=16,
                          max_connections_per_endpoint=3, rng=random.Random(1))
        feed.watch(env.keys[:40])
        sink = Sink()
        task = asyncio.create_task(feed.run(sink.on_update, sink.on_slot))
        try:
            await until(lambda: feed.is_fresh)
            assert feed.connections() == 3  # 16 + 16 + 8
            server = env.ws[0]
            assert server.subscription_count == 40 + 3  # one slotSubscribe per connection
            feed.watch(env.keys[40:60])  # over the cap: the least loaded connections grow
            await until(lambda: feed.is_fresh and server.subscription_count == 60 + 3)
            assert feed.connections() == 3
            feed.unwatch(env.keys[:30])  # pools dropped: accountUnsubscribe on the live sockets
            await until(lambda: server.subscription_count == 30 + 3)
            assert all(feed.account_slot(k) == -1 for k in env.keys[:30])
            # the one-pass pool freshness equals the min over the accounts, -1 at any stale one
            live = env.keys[30:60]
            assert feed.min_account_slot(live) == min(feed.account_slot(k) for k in live) >= 0
            assert feed.min_account_slot([*live, env.keys[0]]) == -1
            assert feed.min_account_slot([]) == -1
            feed.delivery.offer(_upd(live[3], feed.cluster_slot + 1), feed.endpoints[0].stats)
            assert feed.account_slot(live[3]) == -1 and feed.min_account_slot(live) == -1
            assert feed.stats()["subscriptions"] == 30 and feed.is_fresh
            gone = env.mutate(env.keys[0], 1)
            kept = env.mutate(env.keys[45], 2)
            await until(lambda: (u := sink.last(env.keys[45])) is not None and u.data == kept)
            assert all(u.data != gone for u in sink.updates if u.pubkey == env.keys[0])
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rpc.aclose()


def _upd(pk: Pubkey, slot: int, ts: int = 1) -> AccountUpdate:
    return AccountUpdate(pk, slot, bytes([slot % 256]) * 8, pk, 1, ts)


def test_slow_consumer_memory_is_bounded_latest_slot_wins() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    ep = EndpointStats("ws://a")
    keys = [Pubkey.new_unique() for _ in range(10)]
    for slot in range(1, 2001):  # nobody consumes meanwhile
        for pk in keys:
            delivery.offer(_upd(pk, slot), ep)
    assert len(delivery._pending) == 10  # bounded by accounts, not by updates
    assert stats.coalesced == 10 * 2000 - 10
    got: list[AccountUpdate] = []
    assert delivery.drain_now(got.append) == 10
    assert {u.slot for u in got} == {2000}


def test_first_arrival_wins_and_counts_lead() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    a, b = EndpointStats("ws://a"), EndpointStats("ws://b")
    pk = Pubkey.new_unique()
    delivery.offer(_upd(pk, 5, ts=1_000), a)
    delivery.offer(_upd(pk, 5, ts=1_700), b)  # same (account, slot, 1st): duplicate, 700 ns late
    delivery.offer(_upd(pk, 6, ts=2_000), b)
    delivery.offer(_upd(pk, 6, ts=2_100), a)
    delivery.offer(_upd(pk, 4, ts=2_200), a)  # went back in slots: stale
    assert (a.wins, b.wins, a.duplicates, b.duplicates) == (1, 1, 1, 1)
    assert a.lead_ns == 700 and b.lead_ns == 100 and stats.dropped_stale == 1
    got: list[AccountUpdate] = []
    delivery.drain_now(got.append)
    assert [u.slot for u in got] == [6]
    assert a.snapshot()["mean_lead_us"] == 0.7


async def test_polling_fallback_delivers_changes_and_goes_stale_without_rpc() -> None:
    async with SimEnv(n_accounts=5) as env:
        rpc = RpcClient(env.rpc.url)
        feed = PollingFeed(rpc, interval_s=0.03, silence_timeout=0.3)
        assert isinstance(feed, AccountSource)
        feed.watch(env.keys)
        sink = Sink()
        task = asyncio.create_task(feed.run(sink.on_update, sink.on_slot))
        try:
            await until(lambda: all(feed.account_slot(k) >= 0 for k in env.keys))
            assert len(sink.updates) == 5  # fresh only once the polled state is applied
            data = env.mutate(env.keys[3], 0x33)
            await until(lambda: (u := sink.last(env.keys[3])) is not None and u.data == data)
            await asyncio.sleep(0.1)
            assert len([u for u in sink.updates if u.pubkey == env.keys[0]]) == 1  # unchanged
            assert feed.cluster_slot > 0 and sink.slots == sorted(sink.slots)
            await env.rpc.stop()  # the RPC goes away: after silence_timeout nothing is fresh
            await until(lambda: all(feed.account_slot(k) == -1 for k in env.keys), timeout=3)
            assert feed.poll_errors >= 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rpc.aclose()


async def test_program_subscription_streams_accounts_of_a_program() -> None:
    async with SimEnv(n_accounts=12) as env:
        rpc = RpcClient(env.rpc.url)
        owner_of = {pk: acct.owner for pk, acct in env.accounts}
        target = env.keys[5]
        feed = PubSubFeed(env.ws[0].url, rpc, rng=random.Random(2))
        feed.watch(env.keys[:2])
        feed.watch_programs([owner_of[target]])
        sink = Sink()
        task = asyncio.create_task(feed.run(sink.on_update, sink.on_slot))
        try:
            await until(lambda: feed.is_fresh and env.ws[0].subscription_count == 2 + 1 + 1)
            data = env.mutate(target, 0x77)  # not watched by pubkey: comes via programSubscribe
            await until(lambda: (u := sink.last(target)) is not None and u.data == data)
            assert sink.last(target).owner == owner_of[target]  # type: ignore[union-attr]
            assert feed.account_slot(target) == -1  # streamed, but freshness needs a watch
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rpc.aclose()
