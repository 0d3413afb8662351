"""confirm(): status resolution, PubSub wake-up over a real loopback WebSocket, tx_effects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.exec_fixtures import DATA, FakeRpc
from websockets.asyncio.server import ServerConnection, serve

from solarb.events import TxStatus
from solarb.execution.confirm import confirm, pubsub_waiter, status_outcome, tx_effects
from solarb.execution.errors import MalformedTransactionReply
from solarb.execution.senders.rpc import RpcSender
from solarb.rpc.ws import PubSubConnection


def test_status_outcome() -> None:
    assert status_outcome(None, "confirmed") is None
    assert status_outcome({"slot": 1, "err": None, "confirmationStatus": "processed"},
                          "confirmed") is None
    ok = status_outcome({"slot": 1, "err": None, "confirmationStatus": "confirmed"}, "confirmed")
    assert ok is not None and ok.status is TxStatus.CONFIRMED and ok.slot == 1
    assert status_outcome({"slot": 1, "err": None, "confirmationStatus": "confirmed"},
                          "finalized") is None
    rooted = status_outcome({"slot": 2, "err": None, "confirmationStatus": None}, "finalized")
    assert rooted is not None and rooted.status is TxStatus.CONFIRMED
    bad = status_outcome({"slot": 3, "err": {"InstructionError": [0, "Custom"]},
                          "confirmationStatus": "processed"}, "confirmed")
    assert bad is not None and bad.status is TxStatus.FAILED


def test_status_outcome_on_documented_reply() -> None:
    doc = json.loads((DATA / "solana_rpc/http_getSignatureStatuses.json").read_text())
    first, second = doc["responses"][0]["result"]["value"]
    res = status_outcome(first, "confirmed")
    assert res is not None and res.status is TxStatus.CONFIRMED and res.slot == 48
    assert status_outcome(second, "confirmed") is None


def test_tx_effects_on_documented_reply_and_malformed() -> None:
    doc = json.loads((DATA / "solana_rpc/http_getTransaction.json").read_text())
    result = doc["responses"][0]["result"]
    fx = tx_effects(result, "3UVYmECPPMZSCqWKfENfuoTv51fTDTWicX9xmBD2euKe")
    assert (fx.slot, fx.fee, fx.err, fx.deltas) == (430, 5000, None, {})
    with pytest.raises(MalformedTransactionReply):
        tx_effects({"slot": 1}, "x")
    with pytest.raises(MalformedTransactionReply):
        tx_effects({"meta": {"fee": 1, "preTokenBalances": [{"mint": "m"}],
                             "postTokenBalances": []}}, "x")


async def test_invalid_commitment() -> None:
    with pytest.raises(ValueError):
        await confirm(FakeRpc(), RpcSender(FakeRpc()), b"", "s", 1, commitment="max")


async def _pubsub_server(notify_err: Any) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            req = json.loads(frame)
            if req["method"] == "signatureSubscribe":
                await ws.send(json.dumps({"jsonrpc": "2.0", "result": 7, "id": req["id"]}))
                await asyncio.sleep(0.01)
                await ws.send(json.dumps({
                    "jsonrpc": "2.0", "method": "signatureNotification",
                    "params": {"result": {"context": {"slot": 4242}, "value": {"err": notify_err}},
                               "subscription": 7}}))
            else:
                await ws.send(json.dumps({"jsonrpc": "2.0", "result": True, "id": req["id"]}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


@pytest.mark.parametrize("notify_err, status", [(None, TxStatus.CONFIRMED),
                                                ({"InstructionError": [2, {"Custom": 1}]},
                                                 TxStatus.FAILED)])
async def test_pubsub_notification_resolves_before_polling_would(
    notify_err: Any, status: TxStatus
) -> None:
    rpc = FakeRpc()  # polling never sees the signature
    async for url in _pubsub_server(notify_err):
        async with PubSubConnection(url) as conn:
            result = await asyncio.wait_for(
                confirm(rpc, RpcSender(rpc), b"raw", "sigX", 10_000, waiter=pubsub_waiter(conn),
                        poll_interval_s=0.002, rebroadcast_interval_s=60.0, timeout_s=5.0),
                timeout=5.0,
            )
        assert result.status is status and result.slot == 4242
        assert rpc.polls >= 1  # it polled alongside


async def test_dead_waiter_falls_back_to_polling() -> None:
    from solarb.rpc.errors import FeedDisconnected

    async def broken(signature: str, timeout_s: float) -> None:
        raise FeedDisconnected("gone")

    rpc = FakeRpc(land_status={"slot": 3, "err": None, "confirmationStatus": "confirmed"},
                  land_after_polls=4)
    rpc.sent.append(b"raw")
    result = await confirm(rpc, RpcSender(rpc), b"raw", "s", 10_000, waiter=broken,
                           poll_interval_s=0.001, rebroadcast_interval_s=0.0, timeout_s=5.0)
    assert result.status is TxStatus.CONFIRMED and result.slot == 3
    assert result.rebroadcasts == 3
