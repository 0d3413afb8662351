"""WebSocket PubSub against a real Bank, on an ephemeral loopback port, with the websockets client.

Notification shapes are checked against the recorded documentation examples
(/work/shared/data/solana_rpc/websocket_*.json).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.sim.bank import Bank
from solarb.sim.pubsub_server import PubSubServer
from tests.support.data import SHARED_DATA

DOCS = SHARED_DATA / "solana_rpc"
SOL = 1_000_000_000


def doc(method: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DOCS / f"websocket_{method}.json").read_text())
    return data


def assert_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """``actual`` has every key of ``expected`` (recursively) with a value of the same JSON kind."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r}"
    elif isinstance(expected, (bool, int, str)) or expected is None:
        assert type(actual) is type(expected) or expected is None, f"{path}: {actual!r} vs {expected!r}"


class Ws:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.next_id = 0

    async def recv(self) -> dict[str, Any]:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), 5))
        return msg

    async def call(self, method: str, *params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.conn.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                         "params": list(params)}))
        reply = await self.recv()
        assert reply["id"] == self.next_id, reply
        return reply


@pytest.fixture
def bank() -> Bank:
    return Bank()


@pytest.fixture
async def server(bank: Bank) -> AsyncIterator[PubSubServer]:
    srv = PubSubServer(bank, port=0, queue_size=8)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def ws(server: PubSubServer) -> AsyncIterator[Ws]:
    async with connect(server.url) as conn:
        yield Ws(conn)


def send_transfer(bank: Bank, payer: Keypair, to: Pubkey, lamports: int) -> VersionedTransaction:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    tx = VersionedTransaction(Message.new_with_blockhash([ix], payer.pubkey(), bank.latest_blockhash()[0]), [payer])
    bank.process_transaction(tx)
    return tx


async def test_account_subscribe_notifies_and_unsubscribes(bank: Bank, ws: Ws) -> None:
    payer = Keypair()
    bank.airdrop(payer.pubkey(), 5 * SOL)
    dest = Keypair().pubkey()
    reply = await ws.call("accountSubscribe", str(dest), {"encoding": "base64", "commitment": "confirmed"})
    assert_shape(reply, doc("accountSubscribe")["responses"][0])
    sub = reply["result"]

    send_transfer(bank, payer, dest, SOL)
    note = await ws.recv()
    assert_shape(note, doc("accountSubscribe")["notifications"][0])
    assert note["method"] == "accountNotification" and note["params"]["subscription"] == sub
    value = note["params"]["result"]["value"]
    assert value["lamports"] == SOL and value["data"] == ["", "base64"] and value["space"] == 0
    assert note["params"]["result"]["context"]["slot"] == bank.slot

    assert (await ws.call("accountUnsubscribe", sub))["result"] is True
    assert (await ws.call("accountUnsubscribe", sub))["error"]["code"] == -32602
    slot_sub = (await ws.call("slotSubscribe"))["result"]
    send_transfer(bank, payer, dest, SOL // 2)
    bank.advance_slot()
    after = await ws.recv()  # the account is no longer watched: the next message is the slot
    assert after["method"] == "slotNotification" and after["params"]["subscription"] == slot_sub


async def test_program_subscribe_with_filters(bank: Bank, ws: Ws) -> None:
    payer = Keypair()
    bank.airdrop(payer.pubkey(), 5 * SOL)
    dest = Keypair().pubkey()
    reply = await ws.call("programSubscribe", str(SYSTEM_PROGRAM_ID),
                          {"encoding": "base64", "filters": [{"dataSize": 0}]})
    sub = reply["result"]
    never = (await ws.call("programSubscribe", str(SYSTEM_PROGRAM_ID),
                           {"encoding": "base64", "filters": [{"dataSize": 80}]}))["result"]
    send_transfer(bank, payer, dest, SOL)
    seen = {}
    for _ in range(2):
        note = await ws.recv()
        assert_shape(note, doc("programSubscribe")["notifications"][0])
        assert note["params"]["subscription"] == sub != never
        seen[note["params"]["result"]["value"]["pubkey"]] = note["params"]["result"]["value"]["account"]
    assert seen[str(dest)]["lamports"] == SOL
    assert seen[str(payer.pubkey())]["lamports"] == 4 * SOL - 5000
    assert (await ws.call("programUnsubscribe", sub))["result"] is True


async def test_slot_and_signature_subscriptions(bank: Bank, ws: Ws) -> None:
    slot_sub = (await ws.call("slotSubscribe"))["result"]
    new_slot = bank.advance_slot()
    note = await ws.recv()
    assert_shape(note, doc("slotSubscribe")["notifications"][0])
    assert note["params"]["result"]["slot"] == new_slot
    assert note["params"]["result"]["parent"] == new_slot - 1
    assert (await ws.call("slotUnsubscribe", slot_sub))["result"] is True

    payer = Keypair()
    bank.airdrop(payer.pubkey(), 5 * SOL)
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=SOL))
    tx = VersionedTransaction(Message.new_with_blockhash([ix], payer.pubkey(), bank.latest_blockhash()[0]), [payer])
    sub = (await ws.call("signatureSubscribe", str(tx.signatures[0]), {"commitment": "confirmed"}))["result"]
    processed = (await ws.call("signatureSubscribe", str(tx.signatures[0]), {"commitment": "processed"}))["result"]
    final = (await ws.call("signatureSubscribe", str(tx.signatures[0])))["result"]  # default: finalized
    bank.process_transaction(tx)
    landed = bank.slot
    note = await ws.recv()
    assert_shape(note, doc("signatureSubscribe")["notifications"][0])
    assert note["params"] == {"result": {"context": {"slot": landed}, "value": {"err": None}},
                              "subscription": processed}
    bank.advance_slot()  # confirmed once a later slot exists
    note = await ws.recv()
    assert note["params"]["subscription"] == sub and note["params"]["result"]["context"]["slot"] == landed
    # auto-removed after the notification
    assert (await ws.call("signatureUnsubscribe", sub))["error"]["code"] == -32602

    # subscribing to an already confirmed signature notifies at once
    reply = await ws.call("signatureSubscribe", str(tx.signatures[0]), {"commitment": "confirmed"})
    late = await ws.recv()
    assert late["params"]["subscription"] == reply["result"]
    assert late["params"]["result"]["value"] == {"err": None}

    for _ in range(30):  # 31 slots deep
        bank.advance_slot()
    assert (await ws.call("getHealthNope"))["error"]["code"] == -32601  # nothing queued before it
    bank.advance_slot()  # 32 deep: finalized
    note = await ws.recv()
    assert note["params"]["subscription"] == final and note["method"] == "signatureNotification"


async def test_bad_requests(ws: Ws) -> None:
    assert (await ws.call("accountSubscribe", "nope"))["error"]["code"] == -32602
    assert (await ws.call("blockSubscribe", "all"))["error"]["code"] == -32601
    await ws.conn.send("{oops")
    assert (await ws.recv())["error"]["code"] == -32700


async def test_slow_client_is_dropped_without_blocking_the_bank(bank: Bank, server: PubSubServer) -> None:
    async with connect(server.url) as slow_conn, connect(server.url) as fine_conn:
        slow, fine = Ws(slow_conn), Ws(fine_conn)
        await slow.call("slotSubscribe")
        fine_sub = (await fine.call("accountSubscribe", str(Keypair().pubkey())))["result"]
        assert server.subscription_count == 2
        for _ in range(50):  # synchronous burst: the writer task cannot drain in between
            bank.advance_slot()
        assert server.dropped_connections == 1
        with pytest.raises(ConnectionClosed):
            for _ in range(60):
                await slow.recv()
        assert server.subscription_count == 1
        assert (await fine.call("accountUnsubscribe", fine_sub))["result"] is True
    payer = Keypair()
    bank.airdrop(payer.pubkey(), SOL)  # the bank still works with nobody listening
    assert bank.get_account(payer.pubkey()) is not None
