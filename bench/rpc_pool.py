"""Benchmark (not a test): getAccountInfo through solarb's pooled client vs. a plain httpx client
opening a fresh connection per request vs. solana-py's AsyncClient, at 1, 10 and 100 concurrent
callers, against one local JSON-RPC server (the sim cluster, in its own process), in one run.

    .venv/bin/python bench/rpc_pool.py [--seconds 3] [--json]

Each (client, concurrency) cell runs for ``--seconds`` after a short warm-up; it reports
requests/s and p50/p99 latency, then the ratios pool/httpx-fresh and pool/solana-py.

``solarb_pool`` is the engine's pool on its default transport (httpx 0.28, the project's HTTP
dependency). solana-py 0.41 sends through httpx2, a faster HTTP stack, so a fourth row,
``solarb_pool_httpx2``, runs the same pool over httpx2 (adapter below, bench only) to separate
the pool's own cost from the HTTP library's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from solders.pubkey import Pubkey

from solarb.rpc.errors import RpcTimeout, RpcTransportError
from solarb.rpc.pool import EndpointConfig, EndpointPool
from solarb.rpc.pool_client import PooledRpcClient

KEY = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
LEVELS = (1, 10, 100)


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """Child process: a market-less sim cluster until the parent says stop."""
    from solarb.sim.cluster import LocalCluster

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)
        async with LocalCluster(rpc_port=0, market=False) as cluster:
            conn.send(cluster.rpc_url)
            await stop.wait()

    asyncio.run(main())


Call = Callable[[], Awaitable[Any]]


class Httpx2Transport:
    """Bench-only Transport over httpx2 (keep-alive, bounded pool); errors mapped to RpcError."""

    def __init__(self, url: str, max_connections: int = 128) -> None:
        import httpx2

        self.url = url
        self._httpx2 = httpx2
        self._client = httpx2.AsyncClient(
            timeout=10.0,
            limits=httpx2.Limits(max_connections=max_connections,
                                 max_keepalive_connections=max_connections),
            headers={"content-type": "application/json"},
        )

    async def request(self, body: bytes) -> bytes:
        try:
            resp = await self._client.post(self.url, content=body)
        except self._httpx2.TimeoutException as e:
            raise RpcTimeout(str(e)) from e
        except self._httpx2.TransportError as e:
            raise RpcTransportError(str(e)) from e
        if resp.status_code != 200:
            raise RpcTransportError(f"HTTP {resp.status_code}", status=resp.status_code)
        return resp.content

    async def aclose(self) -> None:
        await self._client.aclose()


async def _cell(call: Call, callers: int, seconds: float) -> dict[str, float]:
    """Run ``callers`` loops of ``call`` for ``seconds``; rps and latency percentiles (ms)."""
    for _ in range(min(callers, 20)):  # warm-up (connections, caches)
        await call()
    lat: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal errors
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            try:
                await call()
            except Exception:  # a bench counts failures, it does not stop on them
                errors += 1
                continue
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(callers)))
    elapsed = time.perf_counter() - t0
    qs = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {"rps": len(lat) / elapsed, "p50_ms": qs[49] * 1e3, "p99_ms": qs[98] * 1e3,
            "n": len(lat), "errors": errors}


async def _bench(url: str, seconds: float) -> dict[str, dict[int, dict[str, float]]]:
    results: dict[str, dict[int, dict[str, float]]] = {}

    # 1. solarb pool: keep-alive, bounded pool, typed decode into AccountUpdate
    pool = EndpointPool([EndpointConfig(url, name="local")], probe_interval=0)
    pooled = PooledRpcClient(pool)

    async def pool_call() -> Any:
        return await pooled.get_account(KEY)

    pool2 = EndpointPool([EndpointConfig(url, name="local")], probe_interval=0,
                         transport_factory=lambda c: Httpx2Transport(c.url))
    pooled2 = PooledRpcClient(pool2)

    async def pool2_call() -> Any:
        return await pooled2.get_account(KEY)

    # 2. plain httpx, a fresh TCP connection per request (no keep-alive)
    fresh = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0, max_connections=200),
                              timeout=10.0)
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
                         "params": [str(KEY), {"encoding": "base64", "commitment": "confirmed"}]})

    async def fresh_call() -> Any:
        resp = await fresh.post(url, content=body, headers={"content-type": "application/json"})
        return orjson.loads(resp.content)["result"]

    # 3. solana-py AsyncClient (httpx underneath, solders-typed responses)
    from solana.rpc.async_api import AsyncClient

    spy = AsyncClient(url, commitment="confirmed")  # type: ignore[arg-type]

    async def spy_call() -> Any:
        return (await spy.get_account_info(KEY)).value

    clients: dict[str, Call] = {"solarb_pool": pool_call, "solarb_pool_httpx2": pool2_call,
                                "httpx_fresh_conn": fresh_call, "solana_py": spy_call}
    try:
        for level in LEVELS:
            for name, call in clients.items():
                results.setdefault(name, {})[level] = await _cell(call, level, seconds)
    finally:
        await pooled.aclose()
        await pooled2.aclose()
        await fresh.aclose()
        await spy.close()
    return results


def main() -> None:
    """Start the server process, run every cell, print the table and ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise SystemExit("server did not start")
        url = parent.recv()
        results = asyncio.run(_bench(url, args.seconds))
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    if args.json:
        print(orjson.dumps(results, option=orjson.OPT_NON_STR_KEYS).decode())
        return
    print(f"{'client':<18}{'callers':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, per in results.items():
        for level, r in per.items():
            print(f"{name:<18}{level:>8}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                  f"{r['errors']:>8}")
    print("\nratios (pool / other): req/s, p50, p99")
    for mine, other in (("solarb_pool", "httpx_fresh_conn"), ("solarb_pool", "solana_py"),
                        ("solarb_pool_httpx2", "solana_py")):
        for level in LEVELS:
            p, o = results[mine][level], results[other][level]
            print(f"  {mine:<18} vs {other:<17} callers={level:<4} "
                  f"rps x{p['rps'] / o['rps']:.2f}  p50 x{p['p50_ms'] / o['p50_ms']:.2f}  "
                  f"p99 x{p['p99_ms'] / o['p99_ms']:.2f}")


if __name__ == "__main__":
    main()
