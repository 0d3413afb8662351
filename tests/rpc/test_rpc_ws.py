"""PubSubConnection against a real loopback websockets server, replaying recorded notifications."""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from tests.rpc.rpc_loopback import recorded
from websockets.asyncio.server import ServerConnection, serve

from solarb.rpc.errors import FeedDisconnected, FeedProtocolError, RpcResponseError
from solarb.rpc.ws import PubSubConnection, wait_for_signature

Script = Callable[[ServerConnection, dict[str, Any]], Awaitable[None]]


class WsServer:
    """A loopback PubSub server: every request goes to ``script(ws, request)``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.clients: list[ServerConnection] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.clients.append(ws)
        async for frame in ws:
            req = orjson.loads(frame)
            self.requests.append(req)
            await self.script(ws, req)


@pytest.fixture
async def ws_server() -> AsyncIterator[MakeWsServer]:
    stack: list[Any] = []

    async def make(script: Script) -> WsServer:
        srv = WsServer(script)
        server = await serve(srv.handler, "127.0.0.1", 0)
        stack.append(server)
        srv.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return srv

    yield make
    for server in stack:
        server.close()
        await server.wait_closed()


MakeWsServer = Callable[[Script], Awaitable[WsServer]]


def reply(req: dict[str, Any], result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": req["id"]})


ACCOUNT_NOTE = recorded("websocket_accountSubscribe")["notifications"][0]
SLOT_NOTE = recorded("websocket_slotSubscribe")["notifications"][0]
SIG = recorded("websocket_signatureSubscribe")


def note(template: dict[str, Any], sub: int, slot: int | None = None) -> bytes:
    msg = copy.deepcopy(template)
    msg["params"]["subscription"] = sub
    if slot is not None:
        msg["params"]["result"]["context"]["slot"] = slot
    return orjson.dumps(msg)


async def until(pred: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


async def test_subscribe_and_dispatch_by_subscription_id(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        if req["method"] == "accountSubscribe":
            sub = 23784 if req["params"][0] == "CM78CPUeXjn8o3yroDHxUtKsZZgoy4GPkPPXfouKNH12" else 7
            await ws.send(reply(req, sub))
            # notifications right behind the reply must not be lost
            await ws.send(note(ACCOUNT_NOTE, sub, slot=5199307 + sub))
        elif req["method"] == "slotSubscribe":
            await ws.send(reply(req, 0))
            await ws.send(orjson.dumps(SLOT_NOTE))

    srv = await ws_server(script)
    got: list[tuple[str, Any, int]] = []
    async with PubSubConnection(srv.url) as conn:
        key = "CM78CPUeXjn8o3yroDHxUtKsZZgoy4GPkPPXfouKNH12"
        a = await conn.subscribe("accountSubscribe", [key, {"encoding": "base64"}],
                                 lambda v, s: got.append(("a", v, s)))
        b = await conn.subscribe("accountSubscribe", ["11111111111111111111111111111111"],
                                 lambda v, s: got.append(("b", v, s)))
        s = await conn.subscribe("slotSubscribe", None, lambda v, s: got.append(("slot", v, s)))
        assert (a, b, s) == (23784, 7, 0)
        await until(lambda: len(got) == 3)
        assert conn.frame_recv_ns > 0 and conn.garbled == 0
    by = {k: (v, slot) for k, v, slot in got}
    assert by["a"][1] == 5199307 + 23784 and by["a"][0]["lamports"] == 33594  # value, context slot
    assert by["b"][1] == 5199307 + 7
    assert by["slot"] == ({"parent": 75, "root": 44, "slot": 76}, 76)
    assert srv.requests[2] == {"jsonrpc": "2.0", "id": 3, "method": "slotSubscribe"}


async def test_garbled_frames_are_counted_and_skipped(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.send(reply(req, 5))
        for junk in (b"{not json", b"[1,2,3]", b'{"jsonrpc":"2.0","method":"x","params":7}',
                     b'{"jsonrpc":"2.0","id":777,"result":1}', "\u00e9t\u00e9 \x00"):
            await ws.send(junk)
        await ws.send(note(ACCOUNT_NOTE, 5, slot=10))

    srv = await ws_server(script)
    got: list[int] = []
    errors: list[FeedProtocolError] = []
    async with PubSubConnection(srv.url, on_garbled=errors.append) as conn:
        await conn.subscribe("accountSubscribe", ["x"], lambda v, s: got.append(s))
        await until(lambda: got == [10])
        assert conn.garbled == 5 and len(errors) == 5
        assert not conn.closed.is_set()


async def test_error_reply_is_typed(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": req["id"],
                                    "error": {"code": -32602, "message": "Invalid Request"}}))

    srv = await ws_server(script)
    async with PubSubConnection(srv.url) as conn:
        with pytest.raises(RpcResponseError) as ei:
            await conn.subscribe("accountSubscribe", ["bad"], lambda v, s: None)
        assert ei.value.code == -32602


async def test_server_close_fails_pending_and_signals_closed(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.close(code=1011, reason="going away")

    srv = await ws_server(script)
    conn = PubSubConnection(srv.url)
    await conn.connect()
    with pytest.raises(FeedDisconnected):
        await conn.subscribe("slotSubscribe", None, lambda v, s: None)
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert isinstance(conn.close_reason, FeedDisconnected) and not conn.is_open
    with pytest.raises(FeedDisconnected):
        await conn.request("getVersion")
    await conn.close()


async def test_callback_exception_closes_connection(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.send(reply(req, 1))
        params = {**SLOT_NOTE["params"], "subscription": 1}
        await ws.send(orjson.dumps({**SLOT_NOTE, "params": params}))

    def boom(value: Any, slot: int) -> None:
        raise ZeroDivisionError("subscriber bug")

    srv = await ws_server(script)
    async with PubSubConnection(srv.url) as conn:
        await conn.subscribe("slotSubscribe", None, boom)
        await asyncio.wait_for(conn.closed.wait(), 2)
        assert isinstance(conn.close_reason, ZeroDivisionError)


async def test_connect_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = PubSubConnection(f"ws://127.0.0.1:{port}", open_timeout=1.0)
    with pytest.raises(FeedDisconnected):
        await conn.connect()
    assert conn.closed.is_set()


async def test_wait_for_signature(ws_server: MakeWsServer) -> None:
    sig = SIG["requests"][0]["params"][0]

    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        if req["method"] == "signatureSubscribe":
            sub = 24006 if req["params"][0] == sig else 99
            await ws.send(reply(req, sub))
            if sub == 24006:  # recorded frames: "receivedSignature" (skipped), then the result
                await ws.send(orjson.dumps(SIG["notifications"][1]))
                await ws.send(orjson.dumps(SIG["notifications"][0]))
        else:
            await ws.send(reply(req, True))

    srv = await ws_server(script)
    async with PubSubConnection(srv.url) as conn:
        out = await wait_for_signature(conn, sig, "confirmed", timeout=2.0)
        assert out == {"err": None, "slot": 5207624}
        assert srv.requests[0]["params"][1]["commitment"] == "confirmed"
        # never notified: None after the timeout, and the subscription is cancelled
        assert await wait_for_signature(conn, "other", timeout=0.1) is None
        assert srv.requests[-1] == {"jsonrpc": "2.0", "id": 3, "method": "signatureUnsubscribe",
                                    "params": [99]}


async def test_wait_for_signature_raises_when_socket_drops(ws_server: MakeWsServer) -> None:
    async def script(ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.send(reply(req, 1))
        await ws.close()

    srv = await ws_server(script)
    async with PubSubConnection(srv.url) as conn:
        with pytest.raises(FeedDisconnected):
            await wait_for_signature(conn, "sig", timeout=2.0)
