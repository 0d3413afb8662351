"""PubSub fault injection for the local cluster: the ``ws-drops`` profile.

:class:`FaultyPubSubServer` is the cluster's :class:`~solarb.sim.pubsub_server.PubSubServer` with
faults drawn from a seeded RNG (deterministic for a given event order):

    drop      a live connection is closed abruptly (TCP abort, no close frame)
    silent    a live connection stops sending anything (notifications, replies, pongs) and stops
              reading, without closing: only the client's liveness checks can notice
    delay     an account/program notification is held back ``delay_s`` (a random fraction of it),
              so later ones overtake it: notifications arrive late and out of slot order
    refuse    an accountSubscribe/programSubscribe is answered with an error

Drops and silences are scheduled by a chaos task every ``period_s`` seconds (jittered); delays
and refusals are per message. The server also exposes :meth:`drop_all`, :meth:`silence_all` and
counters for tests. :data:`WS_PROFILES` holds the named profiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from typing import Any

from solarb.errors import UsageError
from solarb.sim.pubsub_server import PubSubServer, _Conn

__all__ = ["WS_ONLY_PROFILES", "WS_PROFILES", "FaultyPubSubServer", "WsFaults", "pubsub_server", "ws_faults"]

_REFUSED = {"code": -32603, "message": "Internal error: subscription refused (fault injection)"}
_DELAYED_METHODS = (b'"accountNotification"', b'"programNotification"')


@dataclass(frozen=True, slots=True)
class WsFaults:
    """Fault rates of a :class:`FaultyPubSubServer` (see module doc)."""

    period_s: float = 6.0  # mean time between scheduled connection faults (0: none)
    silent_share: float = 0.4  # share of scheduled faults that are silences (others: drops)
    delay_rate: float = 0.0  # share of account/program notifications held back
    delay_s: float = 0.0  # the longest hold-back, seconds
    refuse_rate: float = 0.0  # share of account/program subscriptions refused
    first_after_s: float = 3.0  # no scheduled fault before this many seconds after start


WS_PROFILES: dict[str, WsFaults] = {
    "none": WsFaults(period_s=0.0),
    "ws-drops": WsFaults(period_s=7.0, silent_share=0.4, delay_rate=0.02, delay_s=1.0,
                         refuse_rate=0.03, first_after_s=4.0),
}


def ws_faults(profile: str) -> WsFaults:
    """The :class:`WsFaults` of a named profile; :class:`UsageError` for an unknown one."""
    faults = WS_PROFILES.get(profile)
    if faults is None:
        raise UsageError(f"unknown PubSub fault profile {profile!r} (known: {', '.join(WS_PROFILES)})")
    return faults


class FaultyPubSubServer(PubSubServer):
    """A PubSubServer that injects :class:`WsFaults` (deterministic for ``seed``)."""

    def __init__(self, bank: Any, faults: WsFaults, *, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(bank, **kwargs)
        self.faults = faults
        self._rng = random.Random(seed ^ 0x5EED)
        self._silent: set[_Conn] = set()
        self._chaos: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        #: Pubkeys (base58) whose account subscriptions are always refused (tests).
        self.refuse_keys: set[str] = set()
        #: What was injected so far.
        self.drops = 0
        self.silences = 0
        self.delayed = 0
        self.refusals = 0

    async def start(self) -> None:
        """Start serving and the chaos schedule."""
        await super().start()
        if self.faults.period_s > 0 and self._chaos is None:
            self._chaos = asyncio.create_task(self._chaos_loop(), name="ws-faults")

    async def stop(self) -> None:
        """Stop the chaos schedule, pending delayed sends, and the server."""
        if self._chaos is not None:
            self._chaos.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._chaos
            self._chaos = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for conn in list(self._silent):
            with contextlib.suppress(Exception):
                conn.ws.transport.abort()
        self._silent.clear()
        await super().stop()

    # ------------------------------------------------------------ explicit faults (tests)

    def live_connections(self) -> list[_Conn]:
        """Connections currently served and not silenced, oldest first."""
        return [c for c in self._conns if c not in self._silent and not c.dropped]

    def drop(self, conn: _Conn) -> None:
        """Abort one connection's TCP stream (no close frame)."""
        self.drops += 1
        conn.ws.transport.abort()

    def silence(self, conn: _Conn) -> None:
        """Make one connection silent: nothing is sent or read any more; it is not closed."""
        self.silences += 1
        self._silent.add(conn)
        for sub in list(conn.subs.values()):  # the bank stops feeding it, the client is not told
            self._remove(sub)
        conn.ws.transport.pause_reading()
        # the client gives up on it; free it some time later as a kernel would time it out
        handle = asyncio.get_running_loop().call_later(10.0, conn.ws.transport.abort)
        self._timers.add(handle)

    def drop_all(self) -> int:
        """Abort every live connection; returns how many."""
        conns = self.live_connections()
        for conn in conns:
            self.drop(conn)
        return len(conns)

    def silence_all(self) -> int:
        """Silence every live connection; returns how many."""
        conns = self.live_connections()
        for conn in conns:
            self.silence(conn)
        return len(conns)

    # ------------------------------------------------------------ hooks

    def _send(self, conn: _Conn, payload: bytes) -> None:
        if conn in self._silent:
            return
        f = self.faults
        if f.delay_rate > 0 and self._rng.random() < f.delay_rate and _is_delayable(payload):
            self.delayed += 1
            loop = asyncio.get_running_loop()
            delay = f.delay_s * (0.3 + 0.7 * self._rng.random())
            handle: asyncio.TimerHandle | None = None

            def later() -> None:
                self._timers.discard(handle)  # type: ignore[arg-type]
                if conn in self._conns and conn not in self._silent:
                    PubSubServer._send(self, conn, payload)

            handle = loop.call_later(delay, later)
            self._timers.add(handle)
            return
        super()._send(conn, payload)

    def _call(self, conn: _Conn, req: Any) -> tuple[dict[str, Any], list[bytes]]:
        f = self.faults
        if (
            isinstance(req, dict)
            and req.get("method") in ("accountSubscribe", "programSubscribe")
            and (
                (f.refuse_rate > 0 and self._rng.random() < f.refuse_rate)
                or (isinstance(req.get("params"), list) and req["params"]
                    and req["params"][0] in self.refuse_keys)
            )
        ):
            self.refusals += 1
            return {"jsonrpc": "2.0", "error": dict(_REFUSED), "id": req.get("id")}, []
        return super()._call(conn, req)

    async def _handle(self, ws: Any) -> None:
        try:
            await super()._handle(ws)
        finally:
            for conn in [c for c in self._silent if c.ws is ws]:
                self._silent.discard(conn)

    async def _chaos_loop(self) -> None:
        f = self.faults
        await asyncio.sleep(f.first_after_s)
        while True:
            await asyncio.sleep(f.period_s * (0.5 + self._rng.random()))
            conns = self.live_connections()
            if not conns:
                continue
            conn = conns[self._rng.randrange(len(conns))]
            if self._rng.random() < f.silent_share:
                self.silence(conn)
            else:
                self.drop(conn)


def _is_delayable(payload: bytes) -> bool:
    head = payload[:60]
    return any(m in head for m in _DELAYED_METHODS)



#: Profiles that only touch PubSub (the JSON-RPC front ends of solarb.sim.faults stay off).
WS_ONLY_PROFILES = frozenset(p for p in WS_PROFILES if p != "none")


def pubsub_server(
    bank: Any, profile: str | None, *, host: str = "127.0.0.1", port: int = 0, seed: int = 0
) -> PubSubServer:
    """The cluster's PubSub server: a :class:`FaultyPubSubServer` for a PubSub fault profile,
    else the plain :class:`PubSubServer`."""
    if profile in WS_ONLY_PROFILES:
        return FaultyPubSubServer(bank, WS_PROFILES[profile], seed=seed, host=host, port=port)
    return PubSubServer(bank, host=host, port=port)
