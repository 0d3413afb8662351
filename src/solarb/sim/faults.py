"""Fault-injecting HTTP front ends in front of the cluster's JSON-RPC handler.

Each front end is its own loopback port serving the same :class:`~solarb.sim.rpc_server.RpcHandler`
(same bank), with faults drawn per request from a seeded RNG (deterministic for a given request
order). Fault kinds:

    down        nothing listens on the port (connection refused)
    rate_limit  HTTP 429 with ``Retry-After``
    slow        the reply is held back ``delay_s``
    lag         answers from a view ``lag_slots`` behind (old context slot, -32016 for a
                ``minContextSlot`` beyond it)
    error5xx    HTTP 500/502/503 with a text body
    malformed   HTTP 200 with a truncated, unparseable JSON body
    reset       headers and half the body, then the connection is reset

Profiles (:data:`PROFILES`): ``none`` (one extra healthy front end), ``flaky-rpc`` (one healthy,
one down, one 429 half the time, one 50 slots behind, one slow) and ``chaos`` (every kind).
"""

from __future__ import annotations

import asyncio
import random
import socket
import zlib
from dataclasses import dataclass, field
from typing import Any

from solarb.errors import UsageError
from solarb.sim.http import REASONS, HttpConnection
from solarb.sim.rpc_server import RpcHandler

__all__ = ["PROFILES", "Fault", "FaultServer", "FrontEndSpec", "LaggedBank", "start_front_ends"]



@dataclass(frozen=True, slots=True)
class Fault:
    """One fault kind applied to a fraction ``rate`` of requests (see module doc for kinds)."""

    kind: str
    rate: float = 1.0
    delay_s: float = 0.0
    retry_after: float = 1.0


@dataclass(frozen=True, slots=True)
class FrontEndSpec:
    """A front end: its name, per-request faults, a constant slot lag, or ``down``."""

    name: str
    faults: tuple[Fault, ...] = ()
    lag_slots: int = 0
    down: bool = False


_KINDS = frozenset({"rate_limit", "slow", "error5xx", "malformed", "reset"})

PROFILES: dict[str, tuple[FrontEndSpec, ...]] = {
    "none": (FrontEndSpec("healthy-1"),),
    "flaky-rpc": (
        FrontEndSpec("healthy-1"),
        FrontEndSpec("down", down=True),
        FrontEndSpec("ratelimited", (Fault("rate_limit", 0.5, retry_after=1),)),
        FrontEndSpec("lagging", lag_slots=50),
        FrontEndSpec("slow", (Fault("slow", 1.0, delay_s=0.25),)),
    ),
    "chaos": (
        FrontEndSpec("down", down=True),
        FrontEndSpec("mixed-a", (Fault("rate_limit", 0.1, retry_after=1), Fault("error5xx", 0.1),
                                 Fault("malformed", 0.1), Fault("reset", 0.1))),
        FrontEndSpec("mixed-b", (Fault("slow", 0.2, delay_s=0.3), Fault("reset", 0.1),
                                 Fault("malformed", 0.1))),
        FrontEndSpec("lagging", (Fault("error5xx", 0.1),), lag_slots=50),
    ),
}


class LaggedBank:
    """A read-through view of a bank whose ``slot`` is ``lag`` slots behind the real one."""

    def __init__(self, bank: Any, lag: int) -> None:
        self._bank = bank
        self._lag = lag

    @property
    def slot(self) -> int:
        """The real slot minus the lag (never below 0)."""
        return max(0, int(self._bank.slot) - self._lag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bank, name)


@dataclass
class FrontEndStats:
    """What a front end did: requests seen and faults injected by kind."""

    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)


class _Conn(HttpConnection):
    """One HTTP/1.1 connection of a :class:`FaultServer`."""

    def __init__(self, server: FaultServer) -> None:
        super().__init__(server._conns)
        self._server = server

    def on_request(self, method: bytes, path: bytes, body: bytes, keep_alive: bool) -> None:
        if method != b"POST" or path not in (b"/", b""):
            self.reply(404, b"Not Found", keep_alive=keep_alive)
            return
        self._server._serve(self, body, keep_alive)


class FaultServer:
    """One fault-injecting front end on ``host`` (ephemeral port) over ``handler``."""

    def __init__(self, spec: FrontEndSpec, handler: RpcHandler, *, host: str = "127.0.0.1",
                 seed: int = 0) -> None:
        for f in spec.faults:
            if f.kind not in _KINDS:
                raise UsageError(f"unknown fault kind {f.kind!r}")
        self.spec = spec
        self.name = spec.name
        self.host = host
        self.handler = (RpcHandler(LaggedBank(handler.bank, spec.lag_slots),
                                   genesis_hash=handler.genesis_hash)
                        if spec.lag_slots else handler)
        self.stats = FrontEndStats()
        self._rng = random.Random(seed ^ zlib.crc32(spec.name.encode()))
        self._server: asyncio.Server | None = None
        self._conns: set[HttpConnection] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """``http://host:port`` (a closed port when the spec is ``down``)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen (or, for ``down``, reserve a port number nobody listens on)."""
        if self.spec.down:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self.host, 0))
                self.port = int(s.getsockname()[1])
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Conn(self), self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener, every connection and any held-back reply."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._server is None:
            return
        self._server.close()
        for conn in list(self._conns):
            conn.close()
        await self._server.wait_closed()
        self._server = None

    def _draw(self) -> Fault | None:
        """At most one fault for this request (each with its own probability, in order)."""
        for f in self.spec.faults:
            if self._rng.random() < f.rate:
                return f
        return None

    def _serve(self, conn: _Conn, body: bytes, keep_alive: bool) -> None:
        self.stats.requests += 1
        fault = self._draw()
        if fault is not None:
            self.stats.faults[fault.kind] = self.stats.faults.get(fault.kind, 0) + 1
        kind = fault.kind if fault is not None else ""
        if kind == "rate_limit":
            assert fault is not None
            conn.reply(429, b"Too Many Requests", keep_alive=keep_alive,
                       headers={"retry-after": f"{fault.retry_after:g}"})
            return
        if kind == "error5xx":
            status = self._rng.choice((500, 502, 503))
            conn.reply(status, REASONS[status], keep_alive=keep_alive)
            return
        reply = self.handler.handle(body) or b""
        if kind == "malformed":
            conn.reply(200, reply[: max(1, len(reply) // 3)] + b"\x00garbled", keep_alive=keep_alive)
        elif kind == "reset":
            conn.reply(200, reply, keep_alive=keep_alive, cut=True)
        elif kind == "slow":
            assert fault is not None
            loop = asyncio.get_running_loop()
            holder: list[asyncio.TimerHandle] = []

            def later() -> None:
                self._timers.discard(holder[0])
                conn.reply(200, reply, keep_alive=keep_alive)

            holder.append(loop.call_later(fault.delay_s, later))
            self._timers.add(holder[0])
        else:
            conn.reply(200, reply, keep_alive=keep_alive)


async def start_front_ends(handler: RpcHandler, profile: str, *, host: str = "127.0.0.1",
                           seed: int = 0) -> list[FaultServer]:
    """Start the front ends of ``profile`` over ``handler``; raise UsageError for an unknown one."""
    specs = PROFILES.get(profile)
    if specs is None:
        raise UsageError(f"unknown fault profile {profile!r} (known: {', '.join(PROFILES)})")
    servers: list[FaultServer] = []
    try:
        for spec in specs:
            server = FaultServer(spec, handler, host=host, seed=seed)
            await server.start()
            servers.append(server)
    except BaseException:
        for server in servers:
            await server.stop()
        raise
    return servers
