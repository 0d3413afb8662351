"""Benchmark of the account feed alone (not a test): PubSub notifications parsed and applied.

A local cluster PubSub + JSON-RPC server runs in its own process over a Bank holding N accounts,
each a copy of a real Raydium AMM v4 pool account (shared/data/accounts/raydium_amm_v4). The
engine side is :class:`solarb.feeds.PubSubFeed` (orjson parse, one base64 decode, dedupe,
coalescing) feeding :meth:`solarb.market.state.MarketState.apply` (every account is a registered
pool, so each changed frame is re-decoded by the DEX adapter). For N = 100, 1,000 and 10,000
subscribed accounts (1,000 subscriptions per WebSocket):

* firehose: the server changes accounts round-robin as fast as it can (a slot every 400 ms);
  reported: frames parsed per second, updates applied per second, coalesced;
* paced: ``--rate`` changes per second; reported: p50/p99 latency from frame received (reader
  task) to state updated (``MarketState.apply`` returned).

``--gc-freeze`` moves everything alive once subscribed (market, subscriptions) out of the cyclic
GC's generations (``gc.freeze()``); without it, full collections over 10,000 pools dominate the
latency at that size.

    .venv/bin/python bench/feeds.py [--sizes 100,1000,10000] [--updates 40000] [--rate 2000] [--gc-freeze] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import sys
import time
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solarb.dex.registry import ADAPTERS  # noqa: E402
from solarb.events import AccountUpdate  # noqa: E402
from solarb.feeds import PubSubFeed  # noqa: E402
from solarb.market.state import MarketState  # noqa: E402
from solarb.rpc.client import RpcClient  # noqa: E402
from tests.support.data import SHARED_DATA  # noqa: E402

POOL_DUMP = SHARED_DATA / "accounts/raydium_amm_v4/sol_usdc_58oQChx4/58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json"


def real_pool() -> tuple[bytes, Pubkey, int]:
    doc = json.loads(POOL_DUMP.read_text())
    return base64.b64decode(doc["data"]), Pubkey.from_string(doc["owner"]), int(doc["lamports"])


def keys(n: int) -> list[Pubkey]:
    return [Pubkey.from_bytes(hashlib.sha256(b"solarb-bench-%d" % i).digest()) for i in range(n)]


# ---------------------------------------------------------------- server process


def _server(n: int, conn: multiprocessing.connection.Connection) -> None:
    from solarb.sim.accounts import Account
    from solarb.sim.bank import Bank
    from solarb.sim.pubsub_server import PubSubServer
    from solarb.sim.rpc_server import RpcServer

    async def serve() -> None:
        data, owner, lamports = real_pool()
        bank = Bank()
        ks = keys(n)
        for pk in ks:
            bank.set_account(pk, Account(lamports, data, owner))
        rpc = RpcServer(bank, port=0)
        ws = PubSubServer(bank, port=0, queue_size=1_000_000)
        await rpc.start()
        await ws.start()
        gc.collect()
        gc.freeze()  # harness: keep the server's pacing free of full GC passes over 10k accounts
        conn.send((rpc.url, ws.url))
        loop = asyncio.get_running_loop()

        async def slots() -> None:  # a slot every 400 ms, as on mainnet: the feed's heartbeat
            while True:
                await asyncio.sleep(0.4)
                bank.advance_slot()

        ticker = asyncio.create_task(slots())
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd[0] == "stop":
                break
            _, count, rate = cmd
            started = time.perf_counter()
            for i in range(count):
                pk = ks[i % n]
                tag = (i // n + 1) % 251
                bank.set_account(pk, Account(lamports, data[:-8] + bytes([tag]) * 8, owner))
                if rate:
                    delay = started + (i + 1) / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif i % 64 == 63:
                    await asyncio.sleep(0)  # let the writer tasks flush
            bank.advance_slot()
            while any(not c.queue.empty() for c in ws._conns):
                await asyncio.sleep(0.01)
            conn.send(("done", time.perf_counter() - started))
        ticker.cancel()
        await ws.stop()
        await rpc.stop()

    asyncio.run(serve())


# ---------------------------------------------------------------- engine side


async def run_size(n: int, updates: int, rate: int, gc_freeze: bool) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server, args=(n, child), daemon=True)
    proc.start()
    rpc_url, ws_url = await asyncio.to_thread(parent.recv)
    rpc = RpcClient(rpc_url)
    data, owner, lamports = real_pool()
    market = MarketState(ADAPTERS)
    ks = keys(n)
    for pk in ks:
        market.add_pool(AccountUpdate(pk, 0, data, owner, lamports))
    feed = PubSubFeed(ws_url, rpc, subscriptions_per_connection=1000, max_connections_per_endpoint=16)
    feed.watch(ks)
    applied = 0

    def on_update(upd: AccountUpdate) -> None:
        nonlocal applied
        market.apply(upd)
        applied += 1

    task = asyncio.create_task(feed.run(on_update, lambda slot: None))
    t0 = time.perf_counter()
    async with asyncio.timeout(300):
        await feed.fresh.wait()
    subscribe_s = time.perf_counter() - t0
    if gc_freeze:  # the market and the subscriptions are long-lived: keep them out of GC passes
        gc.collect()
        gc.freeze()
    out: dict[str, Any] = {"accounts": n, "gc_freeze": gc_freeze, "connections": feed.connections(),
                           "subscribe_resync_s": round(subscribe_s, 2)}
    for phase, count, phase_rate in (("firehose", updates, 0), ("paced", max(rate * 3, 1), rate)):
        notes0, applied0, coal0 = feed.counters.notifications, applied, feed.counters.coalesced
        feed.delivery.latency.reset()  # samples of this phase only
        t1 = time.perf_counter()
        parent.send(("push", count, phase_rate))
        kind, server_s = await asyncio.to_thread(parent.recv)
        # wait until the engine has taken everything the server sent
        last, idle = -1, 0.0
        while feed.counters.notifications - notes0 < count and idle < 5.0:
            await asyncio.sleep(0.005)
            progress = feed.counters.notifications
            idle = idle + 0.005 if progress == last else 0.0
            last = progress
        while feed.delivery._pending or feed.delivery._batch:
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - t1
        notes = feed.counters.notifications - notes0
        lat = feed.delivery.latency.percentiles()
        out[phase] = {
            "frames": notes,
            "frames_per_s": round(notes / elapsed),
            "applied": applied - applied0,
            "applied_per_s": round((applied - applied0) / elapsed),
            "coalesced": feed.counters.coalesced - coal0,
            "server_s": round(server_s, 2),
            "reconnects": feed.counters.reconnects,
            "p50_us": lat["p50"],
            "p99_us": lat["p99"],
        }
    out["last_error"] = repr(feed.last_error)[:200]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await rpc.aclose()
    parent.send(("stop",))
    await asyncio.to_thread(proc.join, 10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--updates", type=int, default=40_000, help="firehose changes per size")
    ap.add_argument("--rate", type=int, default=2000, help="paced changes per second")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after setup")
    args = ap.parse_args()
    rows = [asyncio.run(run_size(int(s), args.updates, args.rate, args.gc_freeze))
            for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"gc.freeze() after subscribing: {args.gc_freeze}")
    print("| accounts | conns | firehose frames/s | applied/s | coalesced | paced p50 us | paced p99 us | firehose p50 us | firehose p99 us |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f, p = r["firehose"], r["paced"]
        print(f"| {r['accounts']} | {r['connections']} | {f['frames_per_s']} | {f['applied_per_s']} | "
              f"{f['coalesced']} | {p['p50_us']} | {p['p99_us']} | {f['p50_us']} | {f['p99_us']} |")


if __name__ == "__main__":
    main()
