"""Runs the embedded local cluster in its own process, beside the engine.

A separate process keeps the cluster's work (slot ticks, market flow, transaction processing)
off the engine's interpreter and event loop, as a separate validator would; the engine reaches
it only over loopback JSON-RPC and PubSub, like any other cluster. The child is told to stop
through a pipe and is killed if it does not exit in time; it also exits when the parent dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
from types import TracebackType
from typing import Any, Self

from solarb.config import ClusterSettings
from solarb.errors import Fatal

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def _child(options: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    """Process entry: serve the cluster until the parent says stop (or goes away)."""
    from solarb.sim.cluster import LocalCluster

    # Ctrl-C reaches the whole process group: the parent decides when the cluster stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)  # a message or EOF (parent gone) both stop us
        try:
            async with LocalCluster(**options) as cluster:
                conn.send(("ready", cluster.rpc_url, cluster.ws_url, cluster.rpc_endpoints))
                await stop.wait()
        finally:
            loop.remove_reader(conn.fileno())

    try:
        asyncio.run(serve())
    except Exception as e:  # noqa: BLE001 - any failure goes to the parent, raised there as Fatal
        try:
            conn.send(("error", f"{type(e).__name__}: {e}", ""))
        except OSError:
            pass
        os._exit(1)


class EmbeddedCluster:
    """Async context manager: start the local cluster process, expose its URLs, stop it."""

    def __init__(self, settings: ClusterSettings, host: str = "127.0.0.1") -> None:
        self._options: dict[str, Any] = {
            "host": host,
            "rpc_port": 0,
            "slot_ms": settings.slot_ms,
            "seed": settings.seed,
            "market": True,
            "n_tokens": settings.tokens,
            "n_pools": settings.pools,
            "competitors": settings.competitors,
            "noise_per_slot": settings.noise_per_slot,
            "faults": settings.faults,
        }
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self.rpc_url = ""
        self.ws_url = ""
        #: ``(name, url)`` of every JSON-RPC endpoint (primary first, then fault front ends).
        self.rpc_endpoints: list[tuple[str, str]] = []

    async def __aenter__(self) -> Self:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._conn = parent
        self._process = ctx.Process(
            target=_child, args=(self._options, child), name="solarb-cluster", daemon=True
        )
        self._process.start()
        child.close()
        ready = await asyncio.to_thread(parent.poll, START_TIMEOUT_S)
        if not ready:
            await self._shutdown()
            raise Fatal("embedded cluster did not start in time")
        try:
            kind, first, second, *rest = parent.recv()
        except EOFError:
            await self._shutdown()
            raise Fatal("embedded cluster exited during start-up") from None
        if kind != "ready":
            await self._shutdown()
            raise Fatal(f"embedded cluster failed to start: {first}")
        self.rpc_url, self.ws_url = first, second
        self.rpc_endpoints = list(rest[0]) if rest else [("primary", first)]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("stop",))
            except OSError:
                pass
        process = self._process
        if process is not None:
            await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
