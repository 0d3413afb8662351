"""The cluster's WebSocket PubSub: real Solana subscription methods and notification shapes.

``accountSubscribe``, ``programSubscribe``, ``slotSubscribe``, ``signatureSubscribe`` and their
``*Unsubscribe`` calls, driven by Bank listener callbacks (``on_account``, ``on_slot``,
``on_signature``). Callbacks are synchronous and never block the cluster: each connection has a
bounded outgoing queue drained by its own writer task; a client that falls ``queue_size`` messages
behind is disconnected (as a real node drops slow subscribers).

Commitment follows the Bank: a transaction is processed in its slot, confirmed once a later slot
exists and finalized 32 slots deep. ``signatureNotification`` is sent once the requested commitment
(default ``finalized``) is reached, then the subscription is removed. Account and program
notifications are sent when the change lands, whatever the commitment (the local cluster never
forks, so a processed state is the state that will be confirmed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from solders.pubkey import Pubkey
from solders.signature import Signature
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from solarb.sim import wire
from solarb.sim.accounts import Account
from solarb.sim.wire import RpcRequestError, config_of, invalid_params

__all__ = ["PubSubServer"]

_COMMITMENTS = frozenset({"processed", "confirmed", "finalized"})
_DEPTH = {"processed": 0, "confirmed": 1, "finalized": 32}  # slots after landing, as the Bank


@dataclass(slots=True, eq=False)
class _Sub:
    id: int
    kind: str  # "account" | "program" | "slot" | "signature"
    conn: _Conn
    key: Any = None  # Pubkey for account/program, Signature for signature
    encoding: str = "binary"
    data_slice: Mapping[str, Any] | None = None
    filters: Sequence[tuple[int, bytes] | int] = ()
    depth: int = 0  # signature: slots past landing before notifying


@dataclass(slots=True, eq=False)
class _Conn:
    ws: ServerConnection
    queue: asyncio.Queue[bytes]
    subs: dict[int, _Sub] = field(default_factory=dict)
    dropped: bool = False


class PubSubServer:
    """WebSocket PubSub over ``bank`` on ``host:port`` (0 = ephemeral), in the running loop.

    Register it with ``bank.add_listener(server)`` (done by :meth:`start`)."""

    def __init__(self, bank: Any, *, host: str = "127.0.0.1", port: int = 0, queue_size: int = 10_000) -> None:
        self.bank = bank
        self.host = host
        self._port = port
        self.queue_size = queue_size
        self._ids = itertools.count(0)
        self._server: Server | None = None
        self._conns: set[_Conn] = set()
        self._by_account: dict[Pubkey, dict[int, _Sub]] = {}
        self._by_program: dict[Pubkey, dict[int, _Sub]] = {}
        self._by_signature: dict[Signature, dict[int, _Sub]] = {}
        self._slot_subs: dict[int, _Sub] = {}
        self._landed: dict[int, tuple[_Sub, int, Any]] = {}  # signature subs waiting for commitment
        self._listening = False
        self.dropped_connections = 0

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self._port}"

    @property
    def subscription_count(self) -> int:
        """Live subscriptions over all connections."""
        return sum(len(c.subs) for c in self._conns)

    async def start(self) -> None:
        """Bind, start accepting connections and listen to the bank."""
        self._server = await serve(
            self._handle, self.host, self._port, max_size=1 << 20, compression=None,
            ping_interval=None,
        )
        self._port = int(next(iter(self._server.sockets)).getsockname()[1])
        if not self._listening:
            self.bank.add_listener(self)
            self._listening = True

    async def stop(self) -> None:
        """Close every connection and the listener, and wait until handlers have finished."""
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    # ---------------------------------------------------------------- connection handling
    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws, asyncio.Queue(self.queue_size))
        self._conns.add(conn)
        writer = asyncio.create_task(self._write_loop(conn))
        try:
            async for message in ws:
                for reply in self._on_message(conn, message):
                    self._send(conn, reply)
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            for sub in list(conn.subs.values()):
                self._remove(sub)
            writer.cancel()
            try:
                await writer
            except asyncio.CancelledError:
                pass

    @staticmethod
    async def _write_loop(conn: _Conn) -> None:
        try:
            while True:
                await conn.ws.send(await conn.queue.get())
        except ConnectionClosed:
            pass

    def _send(self, conn: _Conn, payload: bytes) -> None:
        """Queue ``payload`` (a text frame); drop the connection when it is ``queue_size`` behind."""
        if conn.dropped:
            return
        try:
            conn.queue.put_nowait(payload)
        except asyncio.QueueFull:
            conn.dropped = True
            self.dropped_connections += 1
            for sub in list(conn.subs.values()):
                self._remove(sub)
            conn.ws.transport.abort()

    # ---------------------------------------------------------------- requests
    def _on_message(self, conn: _Conn, message: str | bytes) -> list[bytes]:
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            return [orjson.dumps({"jsonrpc": "2.0", "error": {"code": wire.PARSE_ERROR,
                                  "message": "Parse error"}, "id": None})]
        requests = request if isinstance(request, list) else [request]
        replies = []
        for req in requests:
            reply, after = self._call(conn, req)
            replies.append(orjson.dumps(reply))
            replies.extend(after)
        return replies

    def _call(self, conn: _Conn, req: Any) -> tuple[dict[str, Any], list[bytes]]:
        id_ = req.get("id") if isinstance(req, dict) else None
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            err = RpcRequestError(wire.INVALID_REQUEST, "Invalid request")
            return {"jsonrpc": "2.0", "error": err.to_json(), "id": id_}, []
        params = req.get("params") or []
        method = req["method"]
        after: list[bytes] = []
        try:
            if not isinstance(params, list):
                raise invalid_params("Invalid params: invalid type: map, expected a sequence.")
            if method.endswith("Unsubscribe") and method[:-11] in ("account", "program", "slot", "signature"):
                result: Any = self._unsubscribe(conn, method[:-11], params)
            elif method == "accountSubscribe":
                result = self._subscribe_account(conn, params)
            elif method == "programSubscribe":
                result = self._subscribe_program(conn, params)
            elif method == "slotSubscribe":
                result = self._add(_Sub(next(self._ids), "slot", conn), self._slot_subs).id
            elif method == "signatureSubscribe":
                result, after = self._subscribe_signature(conn, params)
            else:
                raise RpcRequestError(wire.METHOD_NOT_FOUND, "Method not found")
        except RpcRequestError as exc:
            return {"jsonrpc": "2.0", "error": exc.to_json(), "id": id_}, []
        return {"jsonrpc": "2.0", "result": result, "id": id_}, after

    @staticmethod
    def _check_config(cfg: Mapping[str, Any]) -> str:
        commitment = cfg.get("commitment")
        if commitment is not None and commitment not in _COMMITMENTS:
            raise invalid_params(f"Invalid params: unknown variant `{commitment}`.")
        encoding = cfg.get("encoding", "binary")
        if encoding not in ("binary", "base58", "base64", "jsonParsed"):
            raise invalid_params(f"Invalid params: unsupported encoding {encoding!r}.")
        return str(encoding)

    def _add(self, sub: _Sub, index: dict[int, _Sub]) -> _Sub:
        index[sub.id] = sub
        sub.conn.subs[sub.id] = sub
        return sub

    def _subscribe_account(self, conn: _Conn, params: Sequence[Any]) -> int:
        if not params:
            raise invalid_params("Invalid params: missing pubkey.")
        key = wire.parse_pubkey(params[0])
        cfg = config_of(params, 1)
        sub = _Sub(next(self._ids), "account", conn, key, self._check_config(cfg), cfg.get("dataSlice"))
        return self._add(sub, self._by_account.setdefault(key, {})).id

    def _subscribe_program(self, conn: _Conn, params: Sequence[Any]) -> int:
        if not params:
            raise invalid_params("Invalid params: missing program id.")
        key = wire.parse_pubkey(params[0])
        cfg = config_of(params, 1)
        sub = _Sub(next(self._ids), "program", conn, key, self._check_config(cfg), cfg.get("dataSlice"),
                   wire.parse_filters(cfg.get("filters")))
        return self._add(sub, self._by_program.setdefault(key, {})).id

    def _subscribe_signature(self, conn: _Conn, params: Sequence[Any]) -> tuple[int, list[bytes]]:
        if not params:
            raise invalid_params("Invalid params: missing signature.")
        sig = wire.parse_signature(params[0])
        cfg = config_of(params, 1)
        self._check_config(cfg)
        sub = _Sub(next(self._ids), "signature", conn, sig, depth=_DEPTH[cfg.get("commitment") or "finalized"])
        status = self.bank.signature_status(sig)
        if status is None:
            self._add(sub, self._by_signature.setdefault(sig, {}))
            return sub.id, []
        slot = int(status.slot)
        if self.bank.slot - slot >= sub.depth:  # already there: notify right after the reply
            return sub.id, [self._signature_note(sub.id, slot, status.err)]
        conn.subs[sub.id] = sub
        self._landed[sub.id] = (sub, slot, status.err)
        return sub.id, []

    def _unsubscribe(self, conn: _Conn, kind: str, params: Sequence[Any]) -> bool:
        if not params or not isinstance(params[0], int):
            raise invalid_params("Invalid params: expected a subscription id.")
        sub = conn.subs.get(params[0])
        if sub is None or sub.kind != kind:
            raise invalid_params("Invalid subscription id.")
        self._remove(sub)
        return True

    def _remove(self, sub: _Sub) -> None:
        sub.conn.subs.pop(sub.id, None)
        if self._landed.pop(sub.id, None) is not None:
            return
        if sub.kind == "slot":
            self._slot_subs.pop(sub.id, None)
            return
        index = {"account": self._by_account, "program": self._by_program,
                 "signature": self._by_signature}[sub.kind]
        group = index.get(sub.key)
        if group is not None:
            group.pop(sub.id, None)
            if not group:
                del index[sub.key]

    # ---------------------------------------------------------------- bank listener
    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None:
        """Bank callback: ``pubkey`` changed to ``account`` in ``slot``."""
        subs = self._by_account.get(pubkey)
        psubs = self._by_program.get(account.owner)
        if not subs and not psubs:
            return
        cache: dict[tuple[str, Any], dict[str, Any]] = {}
        if subs:
            for sub in list(subs.values()):
                value = self._encoded(cache, account, sub)
                if value is not None:
                    self._notify(sub, "accountNotification", {"context": {"slot": slot}, "value": value})
        if psubs:
            key = str(pubkey)
            for sub in list(psubs.values()):
                if not wire.account_matches(account.data, sub.filters):
                    continue
                value = self._encoded(cache, account, sub)
                if value is not None:
                    self._notify(sub, "programNotification",
                                 {"context": {"slot": slot}, "value": {"account": value, "pubkey": key}})

    def _encoded(self, cache: dict[tuple[str, Any], dict[str, Any]], account: Account,
                 sub: _Sub) -> dict[str, Any] | None:
        ds = sub.data_slice
        ck = (sub.encoding, (ds.get("offset"), ds.get("length")) if ds else None)
        value = cache.get(ck)
        if value is None:
            try:
                value = wire.encode_account(account, sub.encoding, ds, self._decimals(account, sub))
            except RpcRequestError:
                return None  # e.g. base58 of a large account: the node skips it too
            cache[ck] = value
        return value

    def _decimals(self, account: Account, sub: _Sub) -> int | None:
        if sub.encoding != "jsonParsed":
            return None
        return wire.token_mint_decimals(self.bank.get_account, account)

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        """Bank callback: a new slot started."""
        for sub in list(self._slot_subs.values()):
            self._notify(sub, "slotNotification", {"parent": parent, "root": root, "slot": slot})
        if self._landed:
            for sub, landed, err in list(self._landed.values()):
                if slot - landed >= sub.depth:
                    self._remove(sub)
                    self._send(sub.conn, self._signature_note(sub.id, landed, err))

    def on_signature(self, signature: Signature, slot: int, err: Any) -> None:
        """Bank callback: a transaction landed in ``slot`` with ``err`` (None = success)."""
        subs = self._by_signature.pop(signature, None)
        if not subs:
            return
        for sub in subs.values():
            if sub.depth == 0:
                sub.conn.subs.pop(sub.id, None)
                self._send(sub.conn, self._signature_note(sub.id, slot, err))
            else:
                self._landed[sub.id] = (sub, slot, err)

    @staticmethod
    def _signature_note(sub_id: int, slot: int, err: Any) -> bytes:
        return orjson.dumps({"jsonrpc": "2.0", "method": "signatureNotification", "params": {
            "result": {"context": {"slot": slot}, "value": {"err": err}}, "subscription": sub_id}})

    def _notify(self, sub: _Sub, method: str, result: Any) -> None:
        self._send(sub.conn, orjson.dumps({"jsonrpc": "2.0", "method": method,
                                           "params": {"result": result, "subscription": sub.id}}))
