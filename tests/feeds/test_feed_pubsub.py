"""PubSubFeed against a real loopback websockets server: delivery, slot order, reconnect +
resubscribe + resync, silent socket, garbled frames, runtime watch, errors not swallowed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds import AccountSource, PubSubFeed
from solarb.rpc.client import RpcClient
from solarb.rpc.errors import RpcTimeout
from tests.feeds.feed_loopback import OWNER, FakeCluster


async def until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


class Harness:
    def __init__(self, cluster: FakeCluster, keys: list[Pubkey], **kw: Any) -> None:
        self.cluster = cluster
        self.keys = keys
        self.updates: list[AccountUpdate] = []
        self.slots: list[int] = []
        self.feed = PubSubFeed(
            cluster.url,
            RpcClient(cluster),
            silence_timeout=kw.pop("silence", 0.5),
            reconnect_backoff=(0.01, 0.05),
            rng=random.Random(7),
            **kw,
        )
        self.feed.watch(keys)
        self.task: asyncio.Task[None] | None = None

    def start(self, on_update: Callable[[AccountUpdate], None] | None = None) -> None:
        run = self.feed.run(on_update or self.updates.append, self.slots.append)
        self.task = asyncio.create_task(run)

    def of(self, pk: Pubkey) -> list[AccountUpdate]:
        return [u for u in self.updates if u.pubkey == pk]

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.task is not None:
            await asyncio.wait({self.task})


@pytest.fixture
async def env() -> AsyncIterator[Harness]:
    cluster = FakeCluster()
    await cluster.start()
    keys = [Pubkey.new_unique() for _ in range(3)]
    for i, k in enumerate(keys):
        await cluster.set_account(k, bytes([i]) * 8, lamports=1000 + i, notify=False)
    h = Harness(cluster, keys)
    yield h
    await h.stop()
    await cluster.stop()


async def test_resync_then_notifications(env: Harness) -> None:
    assert isinstance(env.feed, AccountSource)
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    await until(lambda: all(env.feed.account_slot(k) >= 0 for k in env.keys))  # applied
    # initial state came from the resync, one per watched account
    assert sorted(u.lamports for u in env.updates) == [1000, 1001, 1002]
    assert env.feed.stats()["resyncs"] == 1
    conn = env.cluster.live[0]
    assert set(conn.accounts) == {str(k) for k in env.keys} and conn.slot_sub is not None
    assert conn.requests[1]["params"][1] == {"encoding": "base64", "commitment": "confirmed"}

    k = env.keys[1]
    slot = env.cluster.slot + 5
    await env.cluster.set_account(k, b"\xaa" * 100, lamports=777, slot=slot)
    await until(lambda: len(env.of(k)) == 2)
    u = env.of(k)[-1]
    assert (u.pubkey, u.slot, u.data, u.owner, u.lamports) == (k, slot, b"\xaa" * 100, OWNER, 777)
    assert u.ts_recv_ns > 0
    await until(lambda: len(env.slots) >= 3)
    assert env.slots == sorted(set(env.slots)) and env.feed.last_slot == env.slots[-1]
    assert env.feed.stats()["notifications"] == 1 and env.feed.stats()["reconnects"] == 0
    # the live session's account subscriptions: the watched pubkey objects themselves (no
    # callback object per account), routed to the shard's one handler
    shard = env.feed.endpoints[0].shards[0]
    client = shard.conn
    assert client is not None
    notes = [cb for cb in client._subs.values() if type(cb) is Pubkey]
    assert len(notes) == len(env.keys) and set(notes) == set(env.keys)
    assert all(any(cb is k for k in env.feed._watched) for cb in notes)
    assert type(client.on_account).__name__ == "_ShardNotes" and client.on_account.shard is shard


async def test_out_of_order_slots_are_dropped(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    k = env.keys[0]
    base = env.cluster.slot + 100
    await env.cluster.set_account(k, b"new", slot=base)
    await env.cluster.set_account(k, b"old", slot=base - 3)  # arrives late
    await env.cluster.set_account(k, b"same", slot=base)  # same slot is delivered
    await env.cluster.set_account(k, b"newer", slot=base + 1)
    await until(lambda: env.feed.counters.notifications == 4)
    await until(lambda: env.of(k)[-1].data == b"newer")
    got = [u.data for u in env.of(k)][1:]
    # delivered in order; what the consumer had not taken yet was coalesced (latest wins)
    assert got in ([b"new", b"same", b"newer"], [b"new", b"newer"], [b"same", b"newer"], [b"newer"])
    assert b"old" not in got
    assert len(got) + env.feed.stats()["coalesced"] == 3
    assert env.feed.stats()["dropped_stale"] == 1


async def test_server_closes_socket_reconnect_resubscribe_resync(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    k = env.keys[2]
    await env.cluster.drop()
    # state changes while the feed is disconnected: only the resync can bring it
    await env.cluster.set_account(k, b"changed while away", lamports=5, notify=False)
    env.cluster.slot += 10
    await until(lambda: env.feed.counters.resyncs == 2)
    await until(lambda: env.of(k)[-1].data == b"changed while away")  # the resync, applied
    assert env.feed.is_fresh
    assert env.feed.counters.reconnects == 1
    assert len(env.cluster.clients) == 2
    second = env.cluster.live[0]
    assert set(second.accounts) == {str(x) for x in env.keys} and second.slot_sub is not None
    assert env.of(k)[-1].data == b"changed while away"
    # notifications flow on the new connection
    await env.cluster.set_account(k, b"after", slot=env.cluster.slot + 1)
    await until(lambda: env.of(k)[-1].data == b"after")
    assert isinstance(env.feed.last_error, Exception)


async def test_fresh_cleared_while_disconnected(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    env.cluster.fail_rpc = 2  # resync fails twice: the feed must stay not-fresh and retry
    await env.cluster.drop()
    await until(lambda: not env.feed.is_fresh)
    await until(lambda: env.feed.counters.resyncs == 2)
    assert env.feed.counters.reconnects == 3
    assert len(env.cluster.clients) == 4


async def test_silent_socket_is_detected(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    env.cluster.ticking = False  # socket stays open but says nothing
    await until(lambda: env.feed.counters.reconnects >= 1, timeout=3)
    assert env.feed.counters.silent >= 1
    env.cluster.ticking = True
    await until(lambda: env.feed.is_fresh and len(env.cluster.live) == 1)
    assert len(env.cluster.clients) >= 2


async def test_garbled_frames_are_skipped(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    k = env.keys[0]
    await env.cluster.send_raw(b"{garbage")
    await env.cluster.notify(k, env.cluster.slot + 1, raw_data="@@not base64@@")
    sub = env.cluster.live[0].accounts[str(k)]
    no_context = {"jsonrpc": "2.0", "method": "accountNotification",
                  "params": {"result": {"value": {"lamports": 1}}, "subscription": sub}}
    await env.cluster.send_raw(orjson.dumps(no_context))
    await env.cluster.set_account(k, b"fine", slot=env.cluster.slot + 2)
    await until(lambda: env.of(k)[-1].data == b"fine")
    assert env.feed.stats()["garbled"] == 3
    assert env.feed.counters.reconnects == 0 and env.feed.counters.notifications == 1


async def test_watch_at_runtime_subscribes_on_live_connection(env: Harness) -> None:
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    new = Pubkey.new_unique()
    await env.cluster.set_account(new, b"fresh key", lamports=42, notify=False)
    env.feed.watch([new, env.keys[0]])  # an already-watched key is not subscribed twice
    await until(lambda: len(env.of(new)) == 1)
    conn = env.cluster.live[0]
    assert len(env.cluster.clients) == 1 and str(new) in conn.accounts
    assert [r["params"][0] for r in conn.requests if r["method"] == "accountSubscribe"].count(
        str(env.keys[0])) == 1
    await env.cluster.set_account(new, b"moved", slot=env.cluster.slot + 1)
    await until(lambda: env.of(new)[-1].data == b"moved")
    assert env.feed.watched[-1] == new


async def test_on_update_errors_propagate(env: Harness) -> None:
    def broken(update: AccountUpdate) -> None:
        raise LookupError("market bug")

    env.start(broken)
    assert env.task is not None
    with pytest.raises(LookupError):
        await asyncio.wait_for(env.task, 3)


async def test_rpc_timeout_during_first_resync_retries(env: Harness) -> None:
    env.cluster.fail_rpc = 1
    env.start()
    await asyncio.wait_for(env.feed.fresh.wait(), 3)
    assert isinstance(env.feed.last_error, RpcTimeout)
    assert env.feed.counters.reconnects == 1 and len(env.updates) == 3
