"""Fault front ends on loopback, checked with a plain httpx client (no pool): each kind does what
it says, deterministically for a seed; profiles start on a LocalCluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import orjson
import pytest

from solarb.errors import UsageError
from solarb.sim.cluster import LocalCluster
from solarb.sim.faults import PROFILES, Fault, FaultServer, FrontEndSpec

GET_SLOT = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "getSlot"})
Start = Callable[[FrontEndSpec], Awaitable[FaultServer]]


@pytest.fixture
async def cluster() -> AsyncIterator[LocalCluster]:
    async with LocalCluster(rpc_port=0, slot_ms=0, market=False) as c:
        for _ in range(80):
            c.tick()
        yield c


@pytest.fixture
async def start(cluster: LocalCluster) -> AsyncIterator[Start]:
    servers: list[FaultServer] = []

    async def make(spec: FrontEndSpec, seed: int = 1) -> FaultServer:
        srv = FaultServer(spec, cluster.rpc.handler, seed=seed)
        await srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def test_down_refuses_connections(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("down", down=True))
    with pytest.raises(httpx.ConnectError):
        await http.post(srv.url, content=GET_SLOT)


async def test_healthy_front_end_answers_like_the_cluster(
    start: Start, http: httpx.AsyncClient, cluster: LocalCluster
) -> None:
    srv = await start(FrontEndSpec("ok"))
    resp = await http.post(srv.url, content=GET_SLOT)
    assert resp.status_code == 200 and resp.json()["result"] == int(cluster.bank.slot)
    assert srv.stats.requests == 1 and srv.stats.faults == {}


async def test_rate_limit_sends_429_with_retry_after(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("rl", (Fault("rate_limit", 1.0, retry_after=2),)))
    resp = await http.post(srv.url, content=GET_SLOT)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "2"


async def test_5xx(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("bad", (Fault("error5xx", 1.0),)))
    codes = {(await http.post(srv.url, content=GET_SLOT)).status_code for _ in range(20)}
    assert codes <= {500, 502, 503} and len(codes) >= 2


async def test_malformed_body_is_not_json(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("junk", (Fault("malformed", 1.0),)))
    resp = await http.post(srv.url, content=GET_SLOT)
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


async def test_reset_mid_reply(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("rst", (Fault("reset", 1.0),)))
    with pytest.raises(httpx.TransportError):
        await http.post(srv.url, content=GET_SLOT)


async def test_slow_holds_the_reply(start: Start, http: httpx.AsyncClient) -> None:
    srv = await start(FrontEndSpec("slow", (Fault("slow", 1.0, delay_s=0.2),)))
    t0 = time.monotonic()
    resp = await http.post(srv.url, content=GET_SLOT)
    assert resp.status_code == 200 and time.monotonic() - t0 >= 0.19


async def test_lag_answers_old_slot_and_min_context_slot_error(
    start: Start, http: httpx.AsyncClient, cluster: LocalCluster
) -> None:
    srv = await start(FrontEndSpec("behind", lag_slots=50))
    now = int(cluster.bank.slot)
    assert (await http.post(srv.url, content=GET_SLOT)).json()["result"] == now - 50
    body = orjson.dumps({"jsonrpc": "2.0", "id": 2, "method": "getBalance",
                         "params": ["11111111111111111111111111111111", {"minContextSlot": now}]})
    reply = (await http.post(srv.url, content=body)).json()
    assert reply["error"]["code"] == -32016


async def test_faults_are_deterministic_for_a_seed(start: Start, http: httpx.AsyncClient) -> None:
    spec = FrontEndSpec("mixed", (Fault("rate_limit", 0.3), Fault("error5xx", 0.3)))

    async def codes(seed: int) -> list[int]:
        srv = await start(spec, seed)
        return [(await http.post(srv.url, content=GET_SLOT)).status_code for _ in range(30)]

    first, again, other = await codes(5), await codes(5), await codes(6)
    assert first == again and first != other
    assert 200 in first and 429 in first


async def test_profiles_start_on_a_cluster() -> None:
    assert {"none", "flaky-rpc", "chaos"} <= set(PROFILES)
    kinds = {f.kind for spec in PROFILES["chaos"] for f in spec.faults}
    assert kinds == {"rate_limit", "slow", "error5xx", "malformed", "reset"}
    assert any(s.down for s in PROFILES["chaos"]) and any(s.lag_slots for s in PROFILES["chaos"])
    async with LocalCluster(rpc_port=0, slot_ms=0, market=False, faults="flaky-rpc") as c:
        names = [n for n, _ in c.rpc_endpoints]
        assert names == ["primary", "healthy-1", "down", "ratelimited", "lagging", "slow"]
        assert len({u for _, u in c.rpc_endpoints}) == 6
    assert c.fault_servers == []


async def test_unknown_profile_is_usage_error() -> None:
    with pytest.raises(UsageError):
        async with LocalCluster(rpc_port=0, slot_ms=0, market=False, faults="nope"):
            pass
    with pytest.raises(UsageError):
        FaultServer(FrontEndSpec("x", (Fault("explode"),)), None)  # type: ignore[arg-type]
    await asyncio.sleep(0)
