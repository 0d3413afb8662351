"""GeyserFeed against the loopback Yellowstone server over a real Bank: resync, streaming raw
account bytes, runtime watch, stream drop -> reopen + resync, silent stream detection."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest

from solarb.feeds import AccountSource
from solarb.feeds.geyser import GeyserFeed, grpc_target
from solarb.rpc.client import RpcClient
from solarb.sim.geyser_server import GeyserServer
from tests.feeds.sim_env import SimEnv, Sink, until


class GeyserEnv:
    def __init__(self, env: SimEnv, server: GeyserServer, **kw: float) -> None:
        self.env, self.server = env, server
        self.rpc = RpcClient(env.rpc.url)
        self.feed = GeyserFeed(server.url, self.rpc, reconnect_backoff=(0.01, 0.05),
                               rng=random.Random(5), **kw)  # type: ignore[arg-type]
        self.sink = Sink()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.feed.run(self.sink.on_update, self.sink.on_slot))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.rpc.aclose()


@pytest.fixture
async def genv() -> AsyncIterator[GeyserEnv]:
    async with SimEnv(n_accounts=8) as env:
        server = GeyserServer(env.bank, ping_interval_s=0.1)
        await server.start()
        g = GeyserEnv(env, server, silence_timeout=0.5, ping_interval=0.1)
        g.feed.watch(env.keys[:6])
        yield g
        await g.stop()
        await server.stop()


def test_grpc_target() -> None:
    assert grpc_target("http://127.0.0.1:10000") == ("127.0.0.1:10000", False)
    assert grpc_target("https://geyser.example:443") == ("geyser.example:443", True)


async def test_resync_then_stream_raw_bytes(genv: GeyserEnv) -> None:
    assert isinstance(genv.feed, AccountSource)
    genv.start()
    await until(lambda: genv.feed.is_fresh)
    keys = genv.env.keys
    await until(lambda: all(genv.feed.account_slot(k) >= 0 for k in keys[:6]))  # applied
    assert {u.pubkey for u in genv.sink.updates} == set(keys[:6])  # from the resync
    assert all(genv.feed.account_slot(k) >= 0 for k in keys[:6])
    data = genv.env.mutate(keys[1], 0x42)
    await until(lambda: (u := genv.sink.last(keys[1])) is not None and u.data == data)
    await until(lambda: genv.feed.pongs >= 1 and len(genv.sink.slots) >= 2)
    assert genv.feed.counters.notifications >= 1 and genv.feed.counters.reconnects == 0
    # runtime watch: a new filter set, then a resync of the new key before it is fresh
    genv.feed.watch([keys[7]])
    await until(lambda: genv.feed.is_fresh and genv.feed.account_slot(keys[7]) >= 0)
    data7 = genv.env.mutate(keys[7], 0x17)
    await until(lambda: (u := genv.sink.last(keys[7])) is not None and u.data == data7)
    genv.feed.unwatch([keys[7]])
    assert genv.feed.account_slot(keys[7]) == -1


async def test_stream_drop_reopens_and_resyncs(genv: GeyserEnv) -> None:
    genv.start()
    await until(lambda: genv.feed.is_fresh and genv.feed.last_slot >= 2)
    k = genv.env.keys[2]
    assert genv.server.drop_all() == 1
    await until(lambda: genv.feed.counters.reconnects == 1)
    await until(lambda: genv.feed.is_fresh)
    assert genv.feed.counters.resyncs >= 2
    data = genv.env.mutate(k, 0x99)
    await until(lambda: (u := genv.sink.last(k)) is not None and u.data == data)


async def test_silent_stream_is_detected(genv: GeyserEnv) -> None:
    genv.start()
    await until(lambda: genv.feed.is_fresh)
    t0 = time.monotonic()
    assert genv.server.silence_all() == 1
    await until(lambda: genv.feed.counters.silent >= 1, timeout=3)
    assert time.monotonic() - t0 < 2.0  # silence_timeout 0.5 s (slack for a loaded host)
    assert not genv.feed.is_fresh or genv.feed.counters.reconnects >= 1
    await until(lambda: genv.feed.is_fresh)
