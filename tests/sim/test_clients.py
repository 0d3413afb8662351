"""Unmodified third-party clients against the local cluster: solana-py's AsyncClient over HTTP and
the websockets client over PubSub, with the slot ticker and the market running."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import connect

from solarb.errors import UsageError
from solarb.sim.cluster import LocalCluster, serve_forever
from solarb.sim.market import DEX_MODULES

SOL = 1_000_000_000


async def test_solana_py_async_client_round_trip() -> None:
    async with LocalCluster(rpc_port=0, slot_ms=20, seed=1) as cluster:
        assert cluster.rpc_url.startswith("http://127.0.0.1:") and cluster.ws_url.startswith("ws://127.0.0.1:")
        async with AsyncClient(cluster.rpc_url, commitment=Confirmed) as client:
            assert await client.is_connected()
            payer = Keypair()
            airdrop = await client.request_airdrop(payer.pubkey(), 2 * SOL)
            await client.confirm_transaction(airdrop.value, Confirmed, sleep_seconds=0.02)
            assert (await client.get_balance(payer.pubkey())).value == 2 * SOL

            dest = Keypair().pubkey()
            blockhash = (await client.get_latest_blockhash()).value
            ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=dest, lamports=SOL // 4))
            tx = VersionedTransaction(Message.new_with_blockhash([ix], payer.pubkey(), blockhash.blockhash), [payer])
            sent = await client.send_transaction(tx, opts=TxOpts(preflight_commitment=Confirmed))
            assert sent.value == tx.signatures[0]
            confirmed = await client.confirm_transaction(
                sent.value, Confirmed, sleep_seconds=0.02,
                last_valid_block_height=blockhash.last_valid_block_height,
            )
            assert confirmed.value[0] is not None and confirmed.value[0].err is None
            assert (await client.get_balance(dest)).value == SOL // 4
            assert (await client.get_balance(payer.pubkey())).value == 2 * SOL - SOL // 4 - 5000
            got = await client.get_transaction(sent.value, max_supported_transaction_version=0)
            assert got.value is not None and got.value.transaction.meta.fee == 5000
            assert cluster.market is not None and cluster.market.stats["noise_ok"] > 0


async def test_ws_client_sees_ticking_slots_and_pool_updates() -> None:
    async with LocalCluster(rpc_port=0, slot_ms=10, seed=2) as cluster, connect(cluster.ws_url) as ws:
        assert cluster.market is not None
        vaults = set()
        for pool in cluster.market.pools:
            module = DEX_MODULES[pool.dex]
            state = module.decode_pool(pool.address, cluster.bank.get_account(pool.address).data)
            vaults |= {str(state.vault_a), str(state.vault_b)}
        requests = [{"jsonrpc": "2.0", "id": 0, "method": "slotSubscribe"}] + [
            {"jsonrpc": "2.0", "id": i + 1, "method": "accountSubscribe",
             "params": [v, {"encoding": "base64", "commitment": "processed"}]}
            for i, v in enumerate(sorted(vaults))
        ]
        await ws.send(json.dumps(requests))  # one batch
        counts: dict[str, int] = {}
        for _ in range(2000):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            kind = msg.get("method", "reply")
            counts[kind] = counts.get(kind, 0) + 1
            if counts.get("slotNotification", 0) >= 3 and counts.get("accountNotification", 0) >= 3:
                break
        assert counts["reply"] == len(requests)
        assert counts["slotNotification"] >= 3 and counts["accountNotification"] >= 3


async def test_serve_forever_stops_cleanly() -> None:
    stop = asyncio.Event()
    ready: list[LocalCluster] = []

    def on_ready(cluster: LocalCluster) -> None:
        ready.append(cluster)
        stop.set()

    await asyncio.wait_for(serve_forever(on_ready=on_ready, stop=stop, rpc_port=0, slot_ms=10, market=False), 5)
    assert ready and ready[0].rpc.port > 0


async def test_cluster_ports_manual_ticks_and_bind_errors() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    async with LocalCluster(rpc_port=port, slot_ms=0, market=False) as cluster:
        assert cluster.rpc_url == f"http://127.0.0.1:{port}"
        assert cluster.ws_url == f"ws://127.0.0.1:{port + 1}"
        start = cluster.bank.slot
        assert cluster.tick() == start + 1  # no ticker with slot_ms=0: slots move only on tick()
        await asyncio.sleep(0.05)
        assert cluster.bank.slot == start + 1
        with pytest.raises(UsageError):
            await LocalCluster(rpc_port=port, slot_ms=0, market=False).start()
        # curl-style "Expect: 100-continue" gets its interim reply before the body is sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"jsonrpc":"2.0","id":1,"method":"getSlot"}'
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body))
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()
