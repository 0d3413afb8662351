"""A Yellowstone gRPC (Geyser) ``Subscribe`` server over the local cluster's Bank, on loopback.

Speaks the ``geyser.Geyser`` service of :mod:`solarb.feeds.proto` with grpcio's asyncio server.
Each ``Subscribe`` stream keeps the filters of the last SubscribeRequest that carried filters (as
Yellowstone does, a request replaces the whole set; a request with ``ping`` set is answered with a
pong and changes nothing). Driven by Bank listener callbacks: ``on_account`` sends an account
update to every stream whose account filter names the pubkey or whose owner filter names its
owner; ``on_slot`` sends a processed slot update to streams with a slot filter. The server also
sends a keepalive ``ping`` update every ``ping_interval_s``.

Callbacks never block the cluster: each stream has a bounded queue; a stream that falls
``queue_size`` updates behind is ended (as a real endpoint drops slow subscribers). For fault
tests, :meth:`GeyserServer.drop_all` ends every stream with UNAVAILABLE and
:meth:`GeyserServer.silence_all` keeps streams open but sends nothing more on them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from solders.pubkey import Pubkey
from solders.signature import Signature

from solarb.feeds.proto import geyser_pb2 as pb
from solarb.feeds.proto import geyser_pb2_grpc as pb_grpc
from solarb.sim.accounts import Account

__all__ = ["GeyserServer"]

_END = object()  # queue sentinel: end the stream


@dataclass(slots=True, eq=False)
class _Stream:
    queue: asyncio.Queue[Any]
    accounts: dict[bytes, list[str]] = field(default_factory=dict)  # pubkey bytes -> filter names
    owners: dict[bytes, list[str]] = field(default_factory=dict)  # owner bytes -> filter names
    slot_filters: list[str] = field(default_factory=list)
    silent: bool = False
    ended: bool = False


class _Servicer(pb_grpc.GeyserServicer):
    def __init__(self, server: GeyserServer) -> None:
        self.server = server

    async def Subscribe(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[pb.SubscribeRequest], context: Any
    ) -> AsyncIterator[pb.SubscribeUpdate]:
        stream = _Stream(asyncio.Queue(self.server.queue_size))
        self.server.streams.add(stream)
        reader = asyncio.create_task(self._read(stream, request_iterator))
        try:
            while True:
                item = await stream.queue.get()
                if item is _END:
                    if stream.silent:  # silenced: hold the stream open, say nothing
                        await asyncio.Event().wait()
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "stream dropped")
                yield item
        finally:
            stream.ended = True
            self.server.streams.discard(stream)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                await reader

    async def _read(self, stream: _Stream, requests: AsyncIterator[pb.SubscribeRequest]) -> None:
        async for req in requests:
            if req.HasField("ping"):
                self.server._put(stream, pb.SubscribeUpdate(pong=pb.SubscribeUpdatePong(id=req.ping.id)))
                continue
            accounts: dict[bytes, list[str]] = {}
            owners: dict[bytes, list[str]] = {}
            for name, flt in req.accounts.items():
                for text in flt.account:
                    accounts.setdefault(bytes(Pubkey.from_string(text)), []).append(name)
                for text in flt.owner:
                    owners.setdefault(bytes(Pubkey.from_string(text)), []).append(name)
            stream.accounts, stream.owners = accounts, owners
            stream.slot_filters = list(req.slots)

    async def Ping(self, request: pb.PingRequest, context: Any) -> pb.PongResponse:  # noqa: N802
        return pb.PongResponse(count=request.count)


class GeyserServer:
    """Yellowstone-style gRPC server over ``bank`` on ``host:port`` (0 = ephemeral)."""

    def __init__(self, bank: Any, *, host: str = "127.0.0.1", port: int = 0,
                 queue_size: int = 10_000, ping_interval_s: float = 1.0) -> None:
        self.bank = bank
        self.host = host
        self._port = port
        self.queue_size = queue_size
        self.ping_interval_s = ping_interval_s
        self.streams: set[_Stream] = set()
        self.dropped_streams = 0
        self._server: grpc.aio.Server | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._listening = False

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (plaintext gRPC)."""
        return f"http://{self.host}:{self._port}"

    async def start(self) -> None:
        """Bind, serve, listen to the bank."""
        server = grpc.aio.server()
        pb_grpc.add_GeyserServicer_to_server(_Servicer(self), server)
        self._port = server.add_insecure_port(f"{self.host}:{self._port}")
        await server.start()
        self._server = server
        if not self._listening:
            self.bank.add_listener(self)
            self._listening = True
        self._pinger = asyncio.create_task(self._ping_loop(), name="geyser-ping")

    async def stop(self) -> None:
        """End every stream and stop the server."""
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
            self._pinger = None
        if self._listening:
            self.bank.remove_listener(self)
            self._listening = False
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None

    # ------------------------------------------------------------ faults (tests)

    def drop_all(self) -> int:
        """End every live stream with UNAVAILABLE; returns how many."""
        live = [s for s in self.streams if not s.silent and not s.ended]
        for stream in live:
            self._end(stream)
        return len(live)

    def silence_all(self) -> int:
        """Keep every live stream open but send nothing more on it; returns how many."""
        live = [s for s in self.streams if not s.silent and not s.ended]
        for stream in live:
            stream.silent = True
            self._end(stream)
        return len(live)

    # ------------------------------------------------------------ bank listener

    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None:
        """Bank callback: ``pubkey`` changed to ``account`` in ``slot``."""
        if not self.streams:
            return
        key = bytes(pubkey)
        owner = bytes(account.owner)
        info: pb.SubscribeUpdateAccountInfo | None = None
        for stream in list(self.streams):
            names = stream.accounts.get(key, []) + stream.owners.get(owner, [])
            if not names or stream.silent:
                continue
            if info is None:
                info = pb.SubscribeUpdateAccountInfo(
                    pubkey=key, lamports=account.lamports, owner=owner,
                    executable=account.executable, rent_epoch=account.rent_epoch % 2**64,
                    data=account.data,
                )
            update = pb.SubscribeUpdate(filters=names, account=pb.SubscribeUpdateAccount(
                account=info, slot=slot, is_startup=False))
            self._put(stream, update)

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        """Bank callback: a new slot started (sent as processed)."""
        for stream in list(self.streams):
            if stream.slot_filters and not stream.silent:
                self._put(stream, pb.SubscribeUpdate(filters=stream.slot_filters, slot=pb.SubscribeUpdateSlot(
                    slot=slot, parent=parent, status=pb.SLOT_PROCESSED)))

    def on_signature(self, signature: Signature, slot: int, err: Any) -> None:
        """Bank callback: transactions are not streamed by this server."""
        return None

    # ------------------------------------------------------------ internals

    def _put(self, stream: _Stream, update: Any) -> None:
        if stream.ended or stream.silent:
            return
        try:
            stream.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.dropped_streams += 1
            self._end(stream)

    @staticmethod
    def _end(stream: _Stream) -> None:
        while True:  # make room for the sentinel: nothing queued matters any more
            try:
                stream.queue.put_nowait(_END)
                return
            except asyncio.QueueFull:
                stream.queue.get_nowait()

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            for stream in list(self.streams):
                self._put(stream, pb.SubscribeUpdate(filters=[], ping=pb.SubscribeUpdatePing()))
