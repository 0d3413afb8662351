"""Runs the embedded local cluster on its own thread and event loop, beside the engine.

Its own loop keeps the cluster's work (slot ticks, market flow, transaction processing) from
sitting on the engine's loop, as a separate validator would; the engine reaches it only over
loopback JSON-RPC and PubSub like any other cluster.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from solarb.config import ClusterSettings
from solarb.errors import Fatal
from solarb.sim.cluster import LocalCluster

START_TIMEOUT_S = 60.0


class EmbeddedCluster:
    """Async context manager: start the local cluster on a thread, expose its URLs, stop it."""

    def __init__(self, settings: ClusterSettings, host: str = "127.0.0.1") -> None:
        self._settings = settings
        self._host = host
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.rpc_url = ""
        self.ws_url = ""

    async def __aenter__(self) -> EmbeddedCluster:
        self._thread = threading.Thread(target=self._main, name="solarb-cluster", daemon=True)
        self._thread.start()
        ready = await asyncio.to_thread(self._ready.wait, START_TIMEOUT_S)
        if self._error is not None:
            raise Fatal(f"embedded cluster failed to start: {self._error}") from self._error
        if not ready:
            raise Fatal("embedded cluster did not start in time")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30.0)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # reported to the engine thread, which raises it as Fatal
            self._error = e
            self._ready.set()

    async def _serve(self) -> None:
        s = self._settings
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        cluster = LocalCluster(
            host=self._host,
            rpc_port=0,
            slot_ms=s.slot_ms,
            seed=s.seed,
            market=True,
            n_tokens=s.tokens,
            n_pools=s.pools,
            competitors=s.competitors,
            noise_per_slot=s.noise_per_slot,
        )
        async with cluster:
            self.rpc_url, self.ws_url = cluster.rpc_url, cluster.ws_url
            self._ready.set()
            await self._stop.wait()
