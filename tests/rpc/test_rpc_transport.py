"""HttpTransport against a real loopback HTTP server: statuses, timeouts, resets -> typed errors."""

from __future__ import annotations

import asyncio
import socket
import time
from email.utils import formatdate

import httpx
import pytest
from tests.rpc.rpc_loopback import Handler, MakeHttpServer, Reply

from solarb.errors import Fatal, Retryable
from solarb.rpc.errors import (
    RpcAuthError,
    RpcNodeUnhealthy,
    RpcProtocolError,
    RpcRateLimited,
    RpcTimeout,
    RpcTransportError,
)
from solarb.rpc.transport import HttpTransport, Transport, parse_retry_after

BODY = b'{"jsonrpc":"2.0","id":1,"method":"getSlot"}'


def const(reply: Reply) -> Handler:
    async def handler(body: bytes) -> Reply:
        return reply

    return handler


async def test_ok_and_keepalive(http_server: MakeHttpServer) -> None:
    srv = await http_server(const(Reply(b'{"jsonrpc":"2.0","result":5,"id":1}')))
    t = HttpTransport(srv.url)
    assert isinstance(t, Transport)
    for _ in range(5):
        assert await t.request(BODY) == b'{"jsonrpc":"2.0","result":5,"id":1}'
    await t.aclose()
    assert srv.requests == [BODY] * 5
    assert srv.connections == 1  # one persistent connection reused


async def test_429_with_retry_after_seconds(http_server: MakeHttpServer) -> None:
    srv = await http_server(const(Reply(b"slow down", status=429, headers={"Retry-After": "3"})))
    t = HttpTransport(srv.url)
    with pytest.raises(RpcRateLimited) as ei:
        await t.request(BODY)
    assert isinstance(ei.value, Retryable)
    assert ei.value.retry_after == 3.0
    await t.aclose()


async def test_429_with_retry_after_date_and_without(http_server: MakeHttpServer) -> None:
    date = formatdate(time.time() + 30, usegmt=True)
    srv = await http_server(const(Reply(status=429, headers={"Retry-After": date})))
    t = HttpTransport(srv.url)
    with pytest.raises(RpcRateLimited) as ei:
        await t.request(BODY)
    assert ei.value.retry_after is not None and 25 <= ei.value.retry_after <= 31
    srv.handler = const(Reply(status=429))
    with pytest.raises(RpcRateLimited) as ei:
        await t.request(BODY)
    assert ei.value.retry_after is None
    await t.aclose()


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (500, RpcTransportError),
        (502, RpcNodeUnhealthy),
        (503, RpcNodeUnhealthy),
        (401, RpcAuthError),
        (403, RpcAuthError),
        (404, RpcProtocolError),
    ],
)
async def test_status_mapping(
    http_server: MakeHttpServer, status: int, exc: type[Exception]
) -> None:
    srv = await http_server(const(Reply(b"oops", status=status)))
    t = HttpTransport(srv.url)
    with pytest.raises(exc) as ei:
        await t.request(BODY)
    assert str(status) in str(ei.value)
    if status >= 500:
        assert isinstance(ei.value, RpcTransportError | RpcNodeUnhealthy)
        assert ei.value.status == status
    if status in (401, 403):
        assert isinstance(ei.value, Fatal)
    await t.aclose()


async def test_read_timeout(http_server: MakeHttpServer) -> None:
    srv = await http_server(const(Reply(hang=True)))
    t = HttpTransport(srv.url, timeout=httpx.Timeout(1.0, read=0.2))
    start = time.monotonic()
    with pytest.raises(RpcTimeout) as ei:
        await t.request(BODY)
    assert time.monotonic() - start < 2.0
    assert isinstance(ei.value.__cause__, httpx.ReadTimeout)
    await t.aclose()


async def test_connection_reset_mid_request(http_server: MakeHttpServer) -> None:
    srv = await http_server(const(Reply(drop=True)))
    t = HttpTransport(srv.url)
    with pytest.raises(RpcTransportError) as ei:
        await t.request(BODY)
    assert isinstance(ei.value.__cause__, httpx.TransportError)
    await t.aclose()


async def test_connection_refused() -> None:
    with socket.socket() as s:  # grab a free port, then close it: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = HttpTransport(f"http://127.0.0.1:{port}/")
    with pytest.raises(RpcTransportError) as ei:
        await t.request(BODY)
    assert isinstance(ei.value.__cause__, httpx.ConnectError)
    await t.aclose()


async def test_bounded_pool_times_out_waiting(http_server: MakeHttpServer) -> None:
    srv = await http_server(const(Reply(hang=True)))
    t = HttpTransport(srv.url, max_connections=1, timeout=httpx.Timeout(5.0, pool=0.1, read=1.0))
    first = asyncio.create_task(t.request(BODY))
    await asyncio.sleep(0.05)
    with pytest.raises(RpcTimeout) as ei:
        await t.request(BODY)
    assert isinstance(ei.value.__cause__, httpx.PoolTimeout)
    with pytest.raises(RpcTimeout):
        await first
    await t.aclose()


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
