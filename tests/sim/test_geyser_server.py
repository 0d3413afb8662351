"""The loopback Yellowstone gRPC server over a real Bank, spoken to with the generated stub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from solarb.feeds.proto import geyser_pb2 as pb
from solarb.feeds.proto import geyser_pb2_grpc as pb_grpc
from solarb.sim.accounts import Account
from solarb.sim.bank import Bank
from solarb.sim.geyser_server import GeyserServer
from tests.feeds.sim_env import real_accounts


@pytest.fixture
async def served() -> AsyncIterator[tuple[Bank, GeyserServer]]:
    bank = Bank()
    for pk, acct in real_accounts(4):
        bank.set_account(pk, acct)
    server = GeyserServer(bank, ping_interval_s=0.2)
    await server.start()
    yield bank, server
    await server.stop()


async def test_subscribe_accounts_owner_slots_and_ping(served: tuple[Bank, GeyserServer]) -> None:
    bank, server = served
    (pk, acct), (pk2, acct2) = real_accounts(2)
    requests: asyncio.Queue[pb.SubscribeRequest] = asyncio.Queue()

    async def outgoing() -> AsyncIterator[pb.SubscribeRequest]:
        while True:
            yield await requests.get()

    await requests.put(pb.SubscribeRequest(
        accounts={"a": pb.SubscribeRequestFilterAccounts(account=[str(pk)]),
                  "o": pb.SubscribeRequestFilterAccounts(owner=[str(acct2.owner)])},
        slots={"s": pb.SubscribeRequestFilterSlots()}))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.GeyserStub(channel)
        assert (await stub.Ping(pb.PingRequest(count=7))).count == 7
        call = stub.Subscribe(outgoing())
        await asyncio.sleep(0.1)  # filters installed
        bank.set_account(pk, Account(acct.lamports + 1, acct.data[:-1] + b"\x01", acct.owner))
        bank.set_account(pk2, Account(acct2.lamports, acct2.data, acct2.owner))
        bank.advance_slot()
        await requests.put(pb.SubscribeRequest(ping=pb.SubscribeRequestPing(id=42)))
        seen: dict[str, list[pb.SubscribeUpdate]] = {}
        async with asyncio.timeout(3):
            async for upd in call:
                seen.setdefault(upd.WhichOneof("update_oneof"), []).append(upd)
                if {"account", "slot", "pong", "ping"} <= set(seen) and len(seen["account"]) >= 2:
                    break
        call.cancel()
    first = seen["account"][0]
    assert first.account.account.pubkey == bytes(pk) and list(first.filters) == ["a"]
    assert first.account.account.data == acct.data[:-1] + b"\x01"
    assert first.account.account.owner == bytes(acct.owner)
    assert first.account.account.lamports == acct.lamports + 1 and first.account.slot == bank.slot - 1
    assert "o" in seen["account"][1].filters
    assert seen["slot"][0].slot.slot == bank.slot and seen["slot"][0].slot.status == pb.SLOT_PROCESSED
    assert seen["pong"][0].pong.id == 42


async def test_drop_all_ends_streams_with_unavailable(served: tuple[Bank, GeyserServer]) -> None:
    bank, server = served

    async def outgoing() -> AsyncIterator[pb.SubscribeRequest]:
        yield pb.SubscribeRequest(slots={"s": pb.SubscribeRequestFilterSlots()})
        await asyncio.Event().wait()

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = pb_grpc.GeyserStub(channel).Subscribe(outgoing())
        await asyncio.sleep(0.1)
        assert server.drop_all() == 1
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async with asyncio.timeout(3):
                async for _ in call:
                    pass
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
