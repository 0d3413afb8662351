"""One Solana PubSub WebSocket connection: requests, subscriptions, one reader task.

:class:`PubSubConnection` sends JSON-RPC requests (``accountSubscribe``, ``slotSubscribe``,
``signatureSubscribe``...) and matches each reply to its request id. A single reader task parses
every frame with orjson and dispatches notifications, by subscription id, synchronously to the
subscriber's ``callback(value, slot)``. The callback is registered when the subscribe reply is
read, so no notification that follows the reply can be missed.

Account notifications of subscriptions registered with a pubkey (the feeds' accounts) take a
shorter road when the ``_notes`` kernel is built: it reads the subscription id, slot, owner,
lamports and base64 data of a frame of the usual shape in one pass and decodes the data straight
into bytes, and ``on_account`` gets the :class:`~solarb.events.AccountUpdate`
:func:`~solarb.rpc.client.decode_account` would make (which returns it as it is), with no JSON
object built. Any other frame (another shape, an unknown owner, anything malformed) goes through
orjson as below, so results, counters and errors are the same either way.

Failure model: a garbled frame (bad JSON, wrong shape) is counted (``garbled``), reported to
``on_garbled`` as a FeedProtocolError, and skipped; it never stops the reader. When the socket
closes or errors (including websockets' ping/keepalive timeout), pending requests fail with
FeedDisconnected, ``close_reason`` is set and the ``closed`` event fires. An exception raised by a
subscriber callback also closes the connection and becomes ``close_reason`` (errors are not
swallowed). Reconnecting is the caller's job (see :mod:`solarb.feeds.pubsub`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from pybase64 import b64decode
from solders.pubkey import Pubkey

if TYPE_CHECKING:  # websockets is imported on first connect: the hot path never loads it
    from websockets.asyncio.client import ClientConnection

from solarb.native import load
from solarb.rpc.client import _OWNERS, _new_update
from solarb.rpc.errors import FeedDisconnected, FeedProtocolError, RpcError, error_from_object

#: ``callback(value, slot)``: ``value`` is ``result["value"]`` for context-wrapped notifications
#: (account, program, signature), else the whole ``result`` (slot); ``slot`` is the context slot
#: (or ``result["slot"]``, or -1 when the notification carries none).
NotificationCallback = Callable[[Any, int], None]
#: ``on_account(pubkey, value, slot)``: the connection's handler of the subscriptions registered
#: with a :class:`~solders.pubkey.Pubkey` in place of a callback (no object per account);
#: ``value`` is the account object, or the AccountUpdate already decoded from it (stamped with
#: ``frame_recv_ns``) when the fast reader took the frame: pass it to ``decode_account``
AccountHandler = Callable[[Pubkey, Any, int], None]

_notes = load("notes")
#: ``account_note(frame, b64decode)`` of the ``_notes`` kernel (None: not built or disabled)
_account_note = None if _notes is None else _notes.account_note


class PubSubConnection:
    """A Solana PubSub connection to ``url``. Use ``await connect()``, then ``subscribe``."""

    def __init__(
        self,
        url: str,
        *,
        open_timeout: float = 5.0,
        request_timeout: float = 10.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float | None = 10.0,
        max_size: int = 64 * 2**20,
        on_garbled: Callable[[FeedProtocolError], None] | None = None,
        on_account: AccountHandler | None = None,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_size = max_size
        self.on_garbled = on_garbled
        #: Gets the notifications of subscriptions made with a pubkey as their callback.
        self.on_account: AccountHandler = on_account or self._unrouted
        #: Set once the connection is closed for any reason; see ``close_reason``.
        self.closed = asyncio.Event()
        self.close_reason: BaseException | None = None
        #: Frames received / frames skipped as garbled / notifications for unknown subscriptions.
        self.frames = 0
        self.garbled = 0
        self.unknown_notifications = 0
        #: ``time.monotonic_ns()`` when the frame being dispatched was received.
        self.frame_recv_ns = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[
            int, tuple[asyncio.Future[Any], NotificationCallback | Pubkey | None]
        ] = {}
        self._subs: dict[int, NotificationCallback | Pubkey] = {}

    @property
    def is_open(self) -> bool:
        """True between a successful ``connect()`` and the close."""
        return self._ws is not None and not self.closed.is_set()

    async def connect(self) -> None:
        """Open the socket and start the reader; raise FeedDisconnected if it cannot be opened."""
        if self._ws is not None:
            raise RuntimeError("PubSubConnection.connect() called twice; make a new connection")
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        try:
            self._ws = await connect(
                self.url,
                open_timeout=self.open_timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_size=self.max_size,
                compression=None,
                close_timeout=1.0,
            )
        except (OSError, TimeoutError, WebSocketException) as e:
            err = FeedDisconnected(f"cannot connect to {self.url}: {type(e).__name__}: {e}")
            self._mark_closed(err)
            raise err from e
        self._reader = asyncio.create_task(
            self._read_loop(self._ws), name=f"pubsub-reader {self.url}"
        )

    async def close(self) -> None:
        """Close the socket and stop the reader (idempotent)."""
        self._mark_closed(FeedDisconnected("closed by client"))
        if self._ws is not None:
            await self._ws.close()
        reader = self._reader
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            reader.cancel()
            await asyncio.wait({reader})

    async def __aenter__(self) -> PubSubConnection:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        params: list[Any] | None = None,
        *,
        _callback: NotificationCallback | Pubkey | None = None,
    ) -> Any:
        """Send one JSON-RPC request and return its result (typed RpcError on error reply)."""
        if self._ws is None or self.closed.is_set():
            raise FeedDisconnected(f"{method}: connection is not open ({self.close_reason})")
        req_id = next(self._ids)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        from websockets.exceptions import ConnectionClosed

        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (fut, _callback)
        try:
            try:
                await self._ws.send(orjson.dumps(msg), text=True)
            except (ConnectionClosed, OSError) as e:
                raise FeedDisconnected(f"{method}: send failed: {e}") from e
            try:
                async with asyncio.timeout(self.request_timeout):
                    return await fut
            except TimeoutError as e:
                raise FeedDisconnected(f"{method}: no reply within {self.request_timeout}s") from e
        finally:
            self._pending.pop(req_id, None)

    async def subscribe(
        self, method: str, params: list[Any] | None, callback: NotificationCallback | Pubkey
    ) -> int:
        """Subscribe and return the subscription id; ``callback`` gets every notification
        (``callback(value, slot)``; a :class:`Pubkey` in its place: ``on_account(pubkey, value,
        slot)``, the subscription table holding the key itself)."""
        sub_id = await self.request(method, params, _callback=callback)
        if not isinstance(sub_id, int) or isinstance(sub_id, bool):
            raise FeedProtocolError(f"{method}: subscription id is not an integer: {sub_id!r:.60}")
        return sub_id

    async def unsubscribe(self, method: str, sub_id: int) -> bool:
        """Cancel a subscription (e.g. ``accountUnsubscribe``); True if the node agreed."""
        self._subs.pop(sub_id, None)
        return bool(await self.request(method, [sub_id]))

    def drop_subscription(self, sub_id: int) -> None:
        """Forget a subscription locally (one the node ends itself, like signatureSubscribe)."""
        self._subs.pop(sub_id, None)

    # ------------------------------------------------------------ reader

    async def _read_loop(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        reason: BaseException
        try:
            while True:
                frame = await ws.recv(decode=False)
                self.frame_recv_ns = time.monotonic_ns()
                self.frames += 1
                self._dispatch(frame)
        except ConnectionClosed as e:
            reason = FeedDisconnected(f"socket closed: code={e.rcvd.code if e.rcvd else None} {e}")
            reason.__cause__ = e
        except OSError as e:
            reason = FeedDisconnected(f"socket error: {e}")
            reason.__cause__ = e
        except Exception as e:  # a subscriber callback raised: close and surface it, not swallow
            reason = e
        self._mark_closed(reason)
        await ws.close()

    def _garbled(self, why: str, frame: bytes) -> None:
        self.garbled += 1
        if self.on_garbled is not None:
            self.on_garbled(FeedProtocolError(f"{why}: {frame[:120]!r}"))

    def _dispatch(self, frame: bytes) -> None:
        if _account_note is not None:  # a pubkey's account notification: no JSON objects
            note = _account_note(frame, b64decode)
            if note is not None:
                sub_id, slot, data, owner_text, lamports = note
                pubkey = self._subs.get(sub_id)
                owner = _OWNERS.get(owner_text)  # else parsed (and kept) by decode_account
                if type(pubkey) is Pubkey and owner is not None:
                    self.on_account(pubkey, _new_update(
                        pubkey, slot, data, owner, lamports, self.frame_recv_ns), slot)
                    return
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self._garbled("not JSON", frame)
            return
        if not isinstance(msg, dict):
            self._garbled("not an object", frame)
            return
        params = msg.get("params")
        if params is not None:  # a notification
            if not isinstance(params, dict):
                self._garbled("params is not an object", frame)
                return
            sub_id = params.get("subscription")
            result = params.get("result")
            callback = self._subs.get(sub_id) if isinstance(sub_id, int) else None
            if callback is None:
                if isinstance(sub_id, int) and "result" in params:
                    self.unknown_notifications += 1
                else:
                    self._garbled("notification without subscription/result", frame)
                return
            slot = -1
            value = result
            if isinstance(result, dict):
                ctx = result.get("context")
                if isinstance(ctx, dict) and "value" in result:
                    s = ctx.get("slot")
                    slot = s if isinstance(s, int) else -1
                    value = result["value"]
                elif isinstance(result.get("slot"), int):
                    slot = result["slot"]
            # an exception here ends the reader (see _read_loop)
            if type(callback) is Pubkey:
                self.on_account(callback, value, slot)
            else:
                callback(value, slot)  # type: ignore[operator]
            return
        req_id = msg.get("id")
        entry = self._pending.get(req_id) if isinstance(req_id, int) else None
        if entry is None:
            self._garbled("reply to an unknown request id", frame)
            return
        fut, callback = entry
        if fut.done():
            return
        if "error" in msg and msg["error"] is not None:
            fut.set_exception(error_from_object(msg["error"]))
        elif "result" in msg:
            result = msg["result"]
            if callback is not None and isinstance(result, int) and not isinstance(result, bool):
                self._subs[result] = callback  # before any notification that follows the reply
            fut.set_result(result)
        else:
            self._garbled("reply without result or error", frame)
            fut.set_exception(FeedProtocolError(f"reply to {req_id} has neither result nor error"))

    def _unrouted(self, pubkey: Pubkey, value: Any, slot: int) -> None:
        """``on_account`` of a connection given none: the notification is not for anyone."""
        self.unknown_notifications += 1

    def _mark_closed(self, reason: BaseException) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(
                    reason if isinstance(reason, FeedDisconnected)
                    else FeedDisconnected(f"connection closed: {reason!r}")
                )
        self._subs.clear()
        self.closed.set()


async def wait_for_signature(
    conn: PubSubConnection,
    signature: str,
    commitment: str = "confirmed",
    timeout: float = 30.0,
) -> dict[str, Any] | None:
    """Wait for ``signature`` to reach ``commitment`` via signatureSubscribe.

    Returns ``{"err": <TransactionError or None>, "slot": <context slot>}`` or None on timeout.
    Raises FeedDisconnected if the connection drops first, RpcError if the node refuses.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[dict[str, Any]] = loop.create_future()

    def on_note(value: Any, slot: int) -> None:
        if isinstance(value, dict) and not done.done():  # skip "receivedSignature"
            done.set_result({"err": value.get("err"), "slot": slot})

    sub_id = await conn.subscribe(
        "signatureSubscribe",
        [signature, {"commitment": commitment, "enableReceivedNotification": False}],
        on_note,
    )
    closed = asyncio.ensure_future(conn.closed.wait())
    try:
        finished, _ = await asyncio.wait(
            {done, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if done in finished:
            conn.drop_subscription(sub_id)  # the node ends signature subscriptions itself
            return done.result()
        if closed in finished:
            raise FeedDisconnected(
                f"connection closed while waiting for {signature}: {conn.close_reason}"
            )
        try:
            await conn.unsubscribe("signatureUnsubscribe", sub_id)
        except RpcError:
            pass  # best effort: the subscription dies with the connection anyway
        return None
    finally:
        closed.cancel()


__all__ = ["NotificationCallback", "PubSubConnection", "wait_for_signature"]
