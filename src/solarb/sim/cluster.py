"""The embedded local cluster: Bank + JSON-RPC + PubSub + market, ticking slots in the current loop.

``LocalCluster`` is what ``solarb run`` (in-process, same event loop as the engine) and
``solarb sim`` (:func:`serve_forever`) start. Slots advance every ``slot_ms`` on the loop's
monotonic clock; each tick runs one market step (noise and competitor transactions land in the
current slot) and then ``bank.advance_slot()``, which notifies slot subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any

from solarb.errors import SolarbError, UsageError
from solarb.sim.bank import Bank
from solarb.sim.faults import FaultServer, start_front_ends
from solarb.sim.market import MarketGenerator
from solarb.sim.programs.address_lookup_table import AddressLookupTableModel
from solarb.sim.programs.meteora_dlmm import MeteoraDlmmModel
from solarb.sim.programs.orca_whirlpool import OrcaWhirlpoolModel
from solarb.sim.programs.raydium_amm_v4 import RaydiumAmmV4Model
from solarb.sim.programs.raydium_clmm import RaydiumClmmModel
from solarb.sim.programs.raydium_cpmm import RaydiumCpmmModel
from solarb.sim.pubsub_server import PubSubServer
from solarb.sim.ws_faults import WS_ONLY_PROFILES, pubsub_server
from solarb.sim.rpc_server import RpcServer

__all__ = ["LocalCluster", "serve_forever"]


class LocalCluster:
    """A loopback Solana stand-in. Use ``async with LocalCluster(...) as cluster`` or
    ``await start()`` / ``await stop()``; both servers run in the current event loop.

    ``rpc_port`` 0 picks an ephemeral port; ``ws_port`` None means ``rpc_port + 1`` (ephemeral
    when ``rpc_port`` is 0). ``slot_ms`` 0 disables the automatic slot ticker (tests drive
    :meth:`tick` themselves). ``faults`` names a :data:`solarb.sim.faults.PROFILES` profile: extra
    fault-injecting JSON-RPC front ends over the same bank (see :attr:`rpc_endpoints`); ``ws-drops``
    (:mod:`solarb.sim.ws_faults`) injects PubSub faults instead.
    ``market_options`` go to :class:`MarketGenerator`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        rpc_port: int = 8899,
        ws_port: int | None = None,
        slot_ms: int = 400,
        seed: int = 0,
        market: bool = True,
        faults: str | None = None,
        **market_options: Any,
    ) -> None:
        if slot_ms < 0:
            raise UsageError(f"slot_ms must be >= 0, got {slot_ms}")
        self.host = host
        self.slot_ms = slot_ms
        self.seed = seed
        self.bank = Bank(
            programs=(
                RaydiumAmmV4Model(), RaydiumCpmmModel(), RaydiumClmmModel(), OrcaWhirlpoolModel(),
                MeteoraDlmmModel(), AddressLookupTableModel(),
            )
        )
        self.market: MarketGenerator | None = (
            MarketGenerator(self.bank, seed=seed, **market_options) if market else None
        )
        if ws_port is None:
            ws_port = rpc_port + 1 if rpc_port else 0
        self.rpc = RpcServer(self.bank, host=host, port=rpc_port)
        self.pubsub: PubSubServer = pubsub_server(self.bank, faults, host=host, port=ws_port, seed=seed)
        self._ticker: asyncio.Task[None] | None = None
        self.tick_errors = 0
        self.faults = faults
        self.fault_servers: list[FaultServer] = []

    @property
    def rpc_url(self) -> str:
        """``http://host:port`` of the JSON-RPC server (after start)."""
        return self.rpc.url

    @property
    def rpc_endpoints(self) -> list[tuple[str, str]]:
        """``(name, url)`` of every JSON-RPC endpoint: ``primary`` first, then fault front ends."""
        return [("primary", self.rpc.url)] + [(f.name, f.url) for f in self.fault_servers]

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` of the PubSub server (after start)."""
        return self.pubsub.url

    async def start(self) -> None:
        """Bind both servers and start the slot ticker. Raises :class:`UsageError` when a port is
        taken."""
        try:
            await self.rpc.start()
            await self.pubsub.start()
            if self.faults is not None and self.faults not in WS_ONLY_PROFILES:
                self.fault_servers = await start_front_ends(
                    self.rpc.handler, self.faults, host=self.host, seed=self.seed
                )
        except OSError as exc:
            await self.stop()
            raise UsageError(f"local cluster cannot bind {self.host}: {exc}") from exc
        except UsageError:  # an unknown fault profile
            await self.stop()
            raise
        if self.slot_ms > 0:
            self._ticker = asyncio.create_task(self._tick_loop(), name="solarb-sim-slots")

    async def stop(self) -> None:
        """Stop the ticker and both servers; idempotent."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for server in self.fault_servers:
            await server.stop()
        self.fault_servers = []
        await self.pubsub.stop()
        await self.rpc.stop()

    async def __aenter__(self) -> LocalCluster:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def tick(self) -> int:
        """One slot: a market step in the current slot, then advance the bank. Returns the new slot."""
        if self.market is not None:
            self.market.step()
        return int(self.bank.advance_slot())

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.slot_ms / 1000.0
        deadline = loop.time()
        while True:
            deadline += period
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            try:
                self.tick()
            except SolarbError:  # a market step the models refused: count it, keep the slots going
                self.tick_errors += 1
            if loop.time() - deadline > 10 * period:  # fell far behind (suspended): do not burst
                deadline = loop.time()


def _print_urls(cluster: LocalCluster) -> None:
    print(f"JSON RPC URL: {cluster.rpc_url}\nWebSocket URL: {cluster.ws_url}", flush=True)


async def serve_forever(
    *,
    on_ready: Callable[[LocalCluster], None] | None = None,
    stop: asyncio.Event | None = None,
    **options: Any,
) -> None:
    """Run a :class:`LocalCluster` (``options`` as its constructor) until ``stop`` is set or the
    task is cancelled. ``on_ready(cluster)`` is called once both servers listen (the CLI prints
    ``cluster.rpc_url`` / ``cluster.ws_url`` there; by default both URLs are printed)."""
    async with LocalCluster(**options) as cluster:
        (on_ready or _print_urls)(cluster)
        await (stop or asyncio.Event()).wait()
