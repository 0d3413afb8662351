"""A tiny fake cluster for feed tests: a real websockets PubSub server on 127.0.0.1 plus a JSON-RPC
Transport over the same account state (for the feed's getMultipleAccounts resync).

Notification frames are built from the examples recorded from the official Solana RPC
documentation (/work/shared/data/solana_rpc), with base64 data, our slot, owner and subscription id.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from solders.pubkey import Pubkey
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from solarb.rpc.errors import RpcTimeout
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "solana_rpc"


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())  # type: ignore[no-any-return]


ACCOUNT_NOTE = _recorded("websocket_accountSubscribe")["notifications"][0]
SLOT_NOTE = _recorded("websocket_slotSubscribe")["notifications"][0]
MULTI = _recorded("http_getMultipleAccounts")["responses"][0]
OWNER = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")


@dataclass
class Acct:
    data: bytes
    lamports: int
    slot: int
    owner: Pubkey = OWNER


@dataclass
class Client:
    """One server-side connection and its subscriptions."""

    ws: ServerConnection
    accounts: dict[str, int] = field(default_factory=dict)  # pubkey -> subscription id
    slot_sub: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


class FakeCluster:
    def __init__(self) -> None:
        self.slot = 1000
        self.accounts: dict[Pubkey, Acct] = {}
        self.clients: list[Client] = []
        self.ticking = True
        self.rpc_calls: list[dict[str, Any]] = []
        self.fail_rpc = 0  # fail this many next RPC requests with RpcTimeout
        self._next_sub = 100
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.url = ""

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.wait({self._ticker})
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def live(self) -> list[Client]:
        return [c for c in self.clients if c.ws.state.name == "OPEN"]

    async def _handle(self, ws: ServerConnection) -> None:
        client = Client(ws)
        self.clients.append(client)
        async for frame in ws:
            req = orjson.loads(frame)
            client.requests.append(req)
            method = req["method"]
            if method == "accountSubscribe":
                self._next_sub += 1
                client.accounts[req["params"][0]] = self._next_sub
                result: Any = self._next_sub
            elif method == "slotSubscribe":
                self._next_sub += 1
                client.slot_sub = result = self._next_sub
            else:
                result = True
            await ws.send(orjson.dumps({"jsonrpc": "2.0", "result": result, "id": req["id"]}))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            if self.ticking:
                await self.tick()

    # ---------------------------------------------------------------- driving

    async def tick(self) -> None:
        self.slot += 1
        for c in self.live:
            if c.slot_sub is not None:
                msg = copy.deepcopy(SLOT_NOTE)
                msg["params"]["subscription"] = c.slot_sub
                msg["params"]["result"] = {
                    "parent": self.slot - 1, "root": self.slot - 32, "slot": self.slot
                }
                await _send(c.ws, orjson.dumps(msg))

    def account_frame(self, sub: int, acct: Acct, slot: int, raw_data: str | None = None) -> bytes:
        msg = copy.deepcopy(ACCOUNT_NOTE)
        msg["params"]["subscription"] = sub
        msg["params"]["result"]["context"]["slot"] = slot
        value = msg["params"]["result"]["value"]
        text = raw_data if raw_data is not None else base64.b64encode(acct.data).decode()
        value["data"] = [text, "base64"]
        value.update(lamports=acct.lamports, owner=str(acct.owner), space=len(acct.data))
        return orjson.dumps(msg)

    async def set_account(
        self,
        pk: Pubkey,
        data: bytes,
        *,
        lamports: int = 10**9,
        slot: int | None = None,
        notify: bool = True,
    ) -> Acct:
        """Change an account's state; by default notify its subscribers."""
        acct = Acct(data, lamports, self.slot if slot is None else slot)
        self.accounts[pk] = acct
        if notify:
            await self.notify(pk, acct.slot)
        return acct

    async def notify(self, pk: Pubkey, slot: int, raw_data: str | None = None) -> None:
        """Send ``pk``'s current state with context ``slot`` to every live subscriber."""
        for c in self.live:
            sub = c.accounts.get(str(pk))
            if sub is not None:
                await _send(c.ws, self.account_frame(sub, self.accounts[pk], slot, raw_data))

    async def send_raw(self, frame: bytes | str) -> None:
        for c in self.live:
            await _send(c.ws, frame)

    async def drop(self) -> None:
        """Close every live connection from the server side (the socket dies mid-stream)."""
        for c in self.live:
            await c.ws.close(code=1012, reason="restart")

    # ---------------------------------------------------------------- JSON-RPC Transport seam

    async def request(self, body: bytes) -> bytes:
        req = orjson.loads(body)
        self.rpc_calls.append(req)
        if self.fail_rpc:
            self.fail_rpc -= 1
            raise RpcTimeout("injected")
        assert req["method"] == "getMultipleAccounts", req
        assert req["params"][1]["encoding"] == "base64"
        values = []
        for key in req["params"][0]:
            acct = self.accounts.get(Pubkey.from_string(key))
            if acct is None:
                values.append(None)
                continue
            template = copy.deepcopy(MULTI["result"]["value"][0])
            template.update(data=[base64.b64encode(acct.data).decode(), "base64"],
                            lamports=acct.lamports, owner=str(acct.owner), space=len(acct.data))
            values.append(template)
        resp = copy.deepcopy(MULTI)
        resp["id"] = req["id"]
        resp["result"]["context"]["slot"] = self.slot
        resp["result"]["value"] = values
        return orjson.dumps(resp)


async def _send(ws: ServerConnection, frame: bytes | str) -> None:
    try:
        if isinstance(frame, bytes):
            await ws.send(frame, text=True)
        else:
            await ws.send(frame)
    except ConnectionClosed:
        pass  # the client went away between the state check and the send
