"""EndpointPool fault tests: real loopback servers (the sim cluster's RPC handler behind fault
front ends), one fault kind each; every call must fail over and finish within its deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from solarb.rpc.errors import RpcError, RpcProtocolError, RpcTimeout
from solarb.rpc.policy import CallKind, MethodPolicy, PolicyTable
from solarb.rpc.pool import EndpointConfig, EndpointPool
from solarb.rpc.pool_client import PooledRpcClient
from solarb.sim.cluster import LocalCluster
from solarb.sim.faults import Fault, FaultServer, FrontEndSpec

KEY = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
SLACK = 0.15  # scheduling slack over a deadline on a loaded machine

Make = Callable[..., Awaitable[tuple[PooledRpcClient, dict[str, FaultServer]]]]


@pytest.fixture
async def cluster() -> AsyncIterator[LocalCluster]:
    """A bank with no market and no ticker (tests tick by hand); only its handler is served."""
    async with LocalCluster(rpc_port=0, slot_ms=0, market=False) as c:
        for _ in range(3):
            c.tick()
        yield c


@pytest.fixture
async def make(cluster: LocalCluster) -> AsyncIterator[Make]:
    """``client, servers = await make(spec, ..., **pool_options)``: front ends + a pooled client."""
    servers: list[FaultServer] = []
    clients: list[PooledRpcClient] = []

    async def build(*specs: FrontEndSpec, weights: dict[str, float] | None = None,
                    **options: Any) -> tuple[PooledRpcClient, dict[str, FaultServer]]:
        made = {}
        for spec in specs:
            srv = FaultServer(spec, cluster.rpc.handler, seed=7)
            await srv.start()
            servers.append(srv)
            made[spec.name] = srv
        options.setdefault("probe_interval", 0)
        options.setdefault("failure_threshold", 2)
        pool = EndpointPool(
            [EndpointConfig(s.url, name=n, weight=(weights or {}).get(n, 1.0))
             for n, s in made.items()],
            **options,
        )
        client = PooledRpcClient(pool)
        clients.append(client)
        return client, made

    yield build
    for client in clients:
        await client.aclose()
    for srv in servers:
        await srv.stop()


def healthy(name: str = "ok") -> FrontEndSpec:
    return FrontEndSpec(name)


async def timed(coro: Awaitable[Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    result = await coro
    return result, time.monotonic() - t0


def ep(client: PooledRpcClient, name: str) -> dict[str, Any]:
    return client.metrics()["endpoints"][name]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- one fault kind each


async def test_down_endpoint_fails_over_and_breaker_opens(make: Make) -> None:
    client, _ = await make(FrontEndSpec("dead", down=True), healthy(), weights={"dead": 100.0})
    for _ in range(20):
        acc, dt = await timed(client.get_account(KEY))
        assert acc is not None and dt < 3.0 + SLACK
    dead, ok = ep(client, "dead"), ep(client, "ok")
    assert dead["ok"] == 0 and dead["errors"].get("transport", 0) >= 2
    assert dead["breaker"] == "open" and dead["breaker_opened"] >= 1
    assert dead["requests"] <= 3  # the breaker keeps further calls away
    assert ok["ok"] == 20


async def test_all_endpoints_down_raise_typed_error_within_deadline(make: Make) -> None:
    client, _ = await make(FrontEndSpec("d1", down=True), FrontEndSpec("d2", down=True))
    with client.pool.deadline(0.5):
        with pytest.raises(RpcError):
            _, dt = await timed(client.get_balance(KEY))
    t0 = time.monotonic()
    with client.pool.deadline(0.5), pytest.raises(RpcError):
        await client.get_balance(KEY)
    assert time.monotonic() - t0 < 0.5 + SLACK


async def test_429_cools_endpoint_down_for_retry_after(make: Make) -> None:
    client, srv = await make(
        FrontEndSpec("limited", (Fault("rate_limit", 1.0, retry_after=5),)), healthy(),
        weights={"limited": 100.0},
    )
    for _ in range(15):
        await client.get_balance(KEY)
    limited = ep(client, "limited")
    assert limited["errors"] == {"rate_limited": 1} and limited["ok"] == 0
    assert srv["limited"].stats.requests == 1  # not asked again within Retry-After
    assert ep(client, "ok")["ok"] == 15


async def test_429_retry_after_respected_and_deadline_kept(make: Make) -> None:
    slow_retry = PolicyTable({"getBalance": MethodPolicy(CallKind.READ, max_attempts=50,
                                                         deadline_s=1.0, attempt_timeout_s=0.5)})
    client, srv = await make(
        FrontEndSpec("limited", (Fault("rate_limit", 1.0, retry_after=0.3),)), policies=slow_retry
    )
    t0 = time.monotonic()
    with pytest.raises(RpcTimeout):
        await client.get_balance(KEY)
    assert time.monotonic() - t0 < 1.0 + SLACK
    # one request per Retry-After window (t = 0, .3, .6, .9), not one per 20 ms backoff
    assert 2 <= srv["limited"].stats.requests <= 4


async def test_5xx_fails_over(make: Make) -> None:
    client, srv = await make(FrontEndSpec("bad", (Fault("error5xx", 1.0),)), healthy(),
                             weights={"bad": 100.0})
    for _ in range(10):
        _, dt = await timed(client.get_balance(KEY))
        assert dt < 5.0 + SLACK
    bad = ep(client, "bad")
    assert bad["ok"] == 0 and sum(bad["errors"].values()) == srv["bad"].stats.requests >= 2
    assert set(bad["errors"]) <= {"transport", "unhealthy"}
    assert bad["breaker"] == "open"


async def test_timeout_fails_over_within_attempt_timeout(make: Make) -> None:
    quick = PolicyTable({"getBalance": MethodPolicy(CallKind.READ, deadline_s=1.0,
                                                    attempt_timeout_s=0.2)})
    client, _ = await make(FrontEndSpec("hang", (Fault("slow", 1.0, delay_s=30.0),)), healthy(),
                           weights={"hang": 100.0}, policies=quick)
    for _ in range(5):
        bal, dt = await timed(client.get_balance(KEY))
        assert isinstance(bal, int) and dt < 0.2 + SLACK
    assert ep(client, "hang")["errors"].get("timeout", 0) >= 1
    assert ep(client, "hang")["ok"] == 0


async def test_slow_endpoint_is_hedged(make: Make) -> None:
    client, _ = await make(FrontEndSpec("slow", (Fault("slow", 1.0, delay_s=0.3),)), healthy(),
                           weights={"slow": 1000.0})
    for _ in range(8):
        acc, dt = await timed(client.get_account(KEY))
        assert acc is not None and dt < 0.3  # the hedge answered before the slow one did
    assert ep(client, "slow")["hedges"] >= 1
    assert ep(client, "ok")["ok"] >= 1


async def test_connection_reset_mid_reply_fails_over(make: Make) -> None:
    client, srv = await make(FrontEndSpec("rst", (Fault("reset", 1.0),)), healthy(),
                             weights={"rst": 100.0})
    for _ in range(10):
        assert (await client.get_account(KEY)) is not None
    rst = ep(client, "rst")
    assert rst["ok"] == 0 and rst["errors"].get("transport", 0) == srv["rst"].stats.requests >= 1


async def test_malformed_json_is_protocol_error_and_fails_over(make: Make) -> None:
    client, srv = await make(FrontEndSpec("junk", (Fault("malformed", 1.0),)), healthy(),
                             weights={"junk": 100.0})
    for _ in range(10):
        assert (await client.get_account(KEY)) is not None
    junk = ep(client, "junk")
    assert junk["ok"] == 0 and junk["errors"] == {"protocol": srv["junk"].stats.requests}


async def test_malformed_only_endpoint_raises_protocol_error_not_keyerror(make: Make) -> None:
    client, _ = await make(FrontEndSpec("junk", (Fault("malformed", 1.0),)))
    with client.pool.deadline(0.3), pytest.raises(RpcError) as info:
        await client.get_account(KEY)
    err = info.value
    assert isinstance(err, RpcProtocolError) or isinstance(err.__cause__, RpcProtocolError)


async def test_lagging_endpoint_degraded_and_min_context_slot(
    make: Make, cluster: LocalCluster
) -> None:
    for _ in range(60):
        cluster.tick()
    client, _ = await make(FrontEndSpec("behind", lag_slots=30), healthy(),
                           weights={"behind": 100.0}, lag_threshold=10, probe_interval=0.05)
    await client.get_slot()  # starts the probes: one round tells the pool who is behind
    await asyncio.sleep(0.1)
    now = int(cluster.bank.slot)
    for _ in range(10):
        upd = await client.get_account(KEY)
        assert upd is not None and upd.slot >= now - 10  # never the stale view
    behind = ep(client, "behind")
    assert behind["degraded"] is True and behind["lag"] >= 25
    # a minContextSlot the lagging view has not reached: -32016 there, answered elsewhere
    result = await client.call("getBalance", [str(KEY), {"minContextSlot": now}])
    assert result["context"]["slot"] >= now


# ---------------------------------------------------------------- sends, batches, deadlines


def _transfer(cluster: LocalCluster) -> Transaction:
    payer = Keypair()
    cluster.bank.airdrop(payer.pubkey(), 1_000_000_000)
    cluster.tick()
    blockhash, _ = cluster.bank.latest_blockhash()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Pubkey.new_unique(),
                                 lamports=10_000_000))
    return Transaction([payer], Message([ix], payer.pubkey()), blockhash)


async def test_send_fans_out_to_every_send_endpoint_same_bytes(
    make: Make, cluster: LocalCluster
) -> None:
    client, srv = await make(healthy("a"), healthy("b"), FrontEndSpec("dead", down=True),
                             FrontEndSpec("limited", (Fault("rate_limit", 1.0),)))
    tx = _transfer(cluster)
    sig = await client.send_transaction(bytes(tx))
    assert sig == str(tx.signatures[0])  # never re-signed
    await asyncio.sleep(0.05)  # let the other copies land
    assert srv["a"].stats.requests == 1 and srv["b"].stats.requests == 1
    assert srv["limited"].stats.requests == 1
    status = cluster.bank.signature_status(tx.signatures[0])
    assert status is not None and status.err is None


async def test_send_rebroadcasts_until_deadline_when_all_fail(
    make: Make, cluster: LocalCluster
) -> None:
    client, srv = await make(FrontEndSpec("bad", (Fault("error5xx", 1.0),)),
                             failure_threshold=100)
    tx = _transfer(cluster)
    t0 = time.monotonic()
    with pytest.raises(RpcError):
        await client.send_transaction(bytes(tx))
    assert time.monotonic() - t0 < 2.0 + SLACK
    assert srv["bad"].stats.requests == 3  # max_attempts rebroadcasts of the same bytes
    assert cluster.bank.signature_status(tx.signatures[0]) is None


async def test_get_multiple_accounts_over_100_is_one_batch(make: Make) -> None:
    client, srv = await make(healthy())
    keys = [Pubkey.new_unique() for _ in range(250)] + [KEY]
    slot, accounts = await client.get_multiple_accounts(keys)
    assert len(accounts) == 251 and accounts[-1] is not None and accounts[0] is None
    assert slot >= 0 and srv["ok"].stats.requests == 1


async def test_deadline_context_bounds_a_hanging_call(make: Make) -> None:
    client, _ = await make(FrontEndSpec("hang", (Fault("slow", 1.0, delay_s=30.0),)))
    t0 = time.monotonic()
    with client.pool.deadline(0.15), pytest.raises(RpcTimeout):
        await client.get_account(KEY)
    assert time.monotonic() - t0 < 0.15 + SLACK
    assert client.metrics()["deadline_exceeded"] + client.metrics()["call_errors"]["timeout"] >= 1


async def test_probes_track_slots_and_metrics_snapshot(make: Make, cluster: LocalCluster) -> None:
    client, _ = await make(healthy(), FrontEndSpec("behind", lag_slots=40),
                           probe_interval=0.05, lag_threshold=5)
    for _ in range(50):
        cluster.tick()
    await client.get_slot()
    await asyncio.sleep(0.2)
    snap = client.metrics()
    assert snap["cluster_slot"] == int(cluster.bank.slot)
    assert snap["endpoints"]["behind"]["degraded"] and not snap["endpoints"]["ok"]["degraded"]
    probe = snap["endpoints"]["ok"]["methods"]["probe"]
    assert probe["ok"] >= 2 and sum(probe["latency_hist_ms"].values()) == probe["ok"]
    assert snap["calls"] == 1 and snap["call_errors"] == {}


async def test_cancelled_call_does_not_strand_a_half_open_endpoint(make: Make) -> None:
    client, srv = await make(FrontEndSpec("hang", (Fault("slow", 1.0, delay_s=30.0),)),
                             failure_threshold=1, reset_timeout=0.05)
    with client.pool.deadline(0.1), pytest.raises(RpcTimeout):
        await client.get_balance(KEY)  # opens the breaker
    await asyncio.sleep(0.06)  # half-open now: the next request is the probe
    task = asyncio.create_task(client.get_balance(KEY))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pool.endpoints[0].health.usable()  # the probe slot was given back


async def test_write_retries_only_when_surely_not_delivered(make: Make) -> None:
    write = PolicyTable({"getBalance": MethodPolicy(CallKind.WRITE, deadline_s=2.0,
                                                    attempt_timeout_s=1.0)})
    refused, _ = await make(FrontEndSpec("dead", down=True), healthy("ok1"),
                            weights={"dead": 1000.0}, policies=write)
    assert isinstance(await refused.get_balance(KEY), int)  # connection refused: safe to retry
    assert ep(refused, "dead")["errors"] == {"transport": 1}
    ambiguous, srv = await make(FrontEndSpec("bad", (Fault("error5xx", 1.0),)), healthy("ok2"),
                                weights={"bad": 1000.0}, policies=write)
    with pytest.raises(RpcError):
        await ambiguous.get_balance(KEY)  # a 5xx may have been processed: not repeated
    assert srv["bad"].stats.requests == 1 and srv["ok2"].stats.requests == 0
