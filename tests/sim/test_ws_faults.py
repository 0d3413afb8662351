"""FaultyPubSubServer (ws-drops) seen from a raw websockets client: refused subscriptions,
abrupt drops, silent sockets (no notifications, no pongs), delayed out-of-order notifications,
and the LocalCluster hook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from solarb.errors import UsageError
from solarb.sim.accounts import Account
from solarb.sim.bank import Bank
from solarb.sim.cluster import LocalCluster
from solarb.sim.ws_faults import WS_PROFILES, FaultyPubSubServer, WsFaults, ws_faults
from tests.feeds.sim_env import real_accounts


async def call(ws: ClientConnection, method: str, *params: Any, id_: int = 1) -> dict[str, Any]:
    await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}).decode())
    while True:
        msg: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 3))
        if msg.get("id") == id_:
            return msg


@pytest.fixture
async def bank_server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bank, FaultyPubSubServer]]:
    faults: WsFaults = getattr(request, "param", WsFaults(period_s=0.0))
    bank = Bank()
    for pk, acct in real_accounts(2):
        bank.set_account(pk, acct)
    server = FaultyPubSubServer(bank, faults, seed=3, port=0)
    await server.start()
    yield bank, server
    await server.stop()


async def test_refused_subscription_is_an_error_reply(bank_server: tuple[Bank, FaultyPubSubServer]) -> None:
    _, server = bank_server
    (pk, _), _ = real_accounts(2)
    server.refuse_keys.add(str(pk))
    async with connect(server.url) as ws:
        reply = await call(ws, "accountSubscribe", str(pk), {"encoding": "base64"})
        assert reply["error"]["code"] == -32603 and "refused" in reply["error"]["message"]
        ok = await call(ws, "slotSubscribe", id_=2)
        assert isinstance(ok["result"], int)
    assert server.refusals == 1


async def test_drop_aborts_without_close_frame(bank_server: tuple[Bank, FaultyPubSubServer]) -> None:
    _, server = bank_server
    async with connect(server.url) as ws:
        await call(ws, "slotSubscribe")
        assert server.drop_all() == 1
        with pytest.raises(ConnectionClosed) as err:
            await asyncio.wait_for(ws.recv(), 3)
        assert err.value.rcvd is None  # no close frame: the stream just ended


async def test_silent_socket_sends_nothing_and_answers_no_ping(bank_server: tuple[Bank, FaultyPubSubServer]) -> None:
    bank, server = bank_server
    async with connect(server.url, ping_interval=None) as ws:
        await call(ws, "slotSubscribe")
        bank.advance_slot()
        assert "params" in orjson.loads(await asyncio.wait_for(ws.recv(), 3))
        assert server.silence_all() == 1
        bank.advance_slot()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        pong = await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pong, 0.3)
        assert ws.state.name == "OPEN"


@pytest.mark.parametrize("bank_server", [WsFaults(period_s=0.0, delay_rate=0.5, delay_s=0.2)],
                         indirect=True)
async def test_delayed_notifications_arrive_out_of_slot_order(bank_server: tuple[Bank, FaultyPubSubServer]) -> None:
    bank, server = bank_server
    (pk, acct), _ = real_accounts(2)
    async with connect(server.url) as ws:
        await call(ws, "accountSubscribe", str(pk), {"encoding": "base64"})
        for i in range(20):
            bank.set_account(pk, Account(acct.lamports + i, acct.data, acct.owner))
            bank.advance_slot()
        slots: list[int] = []
        async with asyncio.timeout(3):
            while len(slots) < 20:
                msg = orjson.loads(await ws.recv())
                if msg.get("method") == "accountNotification":
                    slots.append(msg["params"]["result"]["context"]["slot"])
    assert sorted(slots) == list(range(slots and min(slots), min(slots) + 20))
    assert slots != sorted(slots) and server.delayed > 0


async def test_chaos_schedule_drops_or_silences_connections() -> None:
    bank = Bank()
    server = FaultyPubSubServer(bank, WsFaults(period_s=0.1, first_after_s=0.0, silent_share=0.5), seed=1, port=0)
    await server.start()
    try:
        conns = [await connect(server.url) for _ in range(4)]
        await asyncio.sleep(0.6)
        assert server.drops + server.silences >= 2
        for ws in conns:
            await ws.close()
    finally:
        await server.stop()


async def test_local_cluster_ws_drops_profile() -> None:
    assert ws_faults("ws-drops") is WS_PROFILES["ws-drops"]
    with pytest.raises(UsageError):
        ws_faults("nope")
    async with LocalCluster(rpc_port=0, slot_ms=0, market=False, faults="ws-drops") as cluster:
        assert isinstance(cluster.pubsub, FaultyPubSubServer)
        assert cluster.rpc_endpoints == [("primary", cluster.rpc_url)]  # no RPC front ends
