"""Builds the pipeline from settings and runs it: the only place that knows endpoints.

    feed --AccountUpdate--> market --changed pools--> strategy --Opportunity--> risk --Order--> executor

Live and embedded runs build the same graph; they differ only in the endpoints (and, for the
embedded cluster, a fresh key funded by airdrop). The hot path (``Pipeline.on_update``) is
synchronous and free of I/O; journaling and execution run in their own tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from solarb.config import Settings
from solarb.dex.base import DecodeError
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, associated_token_address, decode_mint
from solarb.errors import Fatal, UsageError
from solarb.events import AccountUpdate, Order, TxOutcome, TxStatus
from solarb.execution.alt import prepare_lookup_tables
from solarb.execution.builder import TxBuilder
from solarb.execution.executor import Executor
from solarb.execution.senders.gate import HaltableSender
from solarb.execution.senders.rpc import RpcSender
from solarb.execution.setup import prepare_wallet
from solarb.feeds.base import AccountSource
from solarb.feeds.freshness import MarketFreshness, build_source, watch_market
from solarb.market.state import MarketState
from solarb.monitor.journal import Journal
from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.rpc.client import RpcClient
from solarb.rpc.errors import RpcError, RpcProtocolError
from solarb.rpc.pool import EndpointConfig, EndpointPool
from solarb.rpc.pool_client import PooledRpcClient
from solarb.runtime.clock import Clock, SystemClock
from solarb.runtime.embedded import EmbeddedCluster
from solarb.runtime.gc_policy import GcPolicy, GcSettings, updates_pending
from solarb.runtime.killswitch import clear_stop, watch_stop
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats, StatusLine
from solarb.runtime.tokens import symbols_for
from solarb.runtime.warm import WarmUp, warm_up
from solarb.runtime.warm import mint_programs as _mint_programs
from solarb.strategy.cycles import CycleFinder
from solarb.wallet.keystore import generate_keypair_file, load_keypair

AIRDROP_LAMPORTS = 100_000_000_000
STATUS_INTERVAL_S = 1.0
RELAY_SLICE = 50  # freshness groups laid out per slice (~2-5 ms)


def sim_keypair(path: Path) -> Keypair:
    """The embedded cluster's engine keypair: the one in ``path`` from an earlier run (the chain is
    new each run and the key is funded by airdrop, so it can be reused), or a new one written there."""
    if path.exists():
        return load_keypair(path)
    return generate_keypair_file(path)


class Node:
    """One engine run: wiring, tasks, shutdown and the summary."""

    def __init__(self, settings: Settings, clock: Clock | None = None,
                 gc_settings: GcSettings | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.stats = RunStats()
        self.gc = GcPolicy(gc_settings)  # started once the market is loaded (see gc_policy)
        self.stop_reason = ""
        self._stopping = asyncio.Event()
        self._risk: RiskEngine | None = None
        self.warmed: WarmUp | None = None  # set once loaded (runtime.warm)
        self.relaid_s: float | None = None  # groups laid out again once the feed was fresh

    def request_stop(self, reason: str) -> None:
        """Stop taking new orders and end the run (kill switch, duration, signal)."""
        if not self._stopping.is_set():
            self.stop_reason = reason
            self._stopping.set()

    async def run(self, duration_s: float | None, status: bool) -> dict[str, Any]:
        """Run until ``duration_s`` passes or a stop is requested; return the summary."""
        s = self.settings
        data_dir = s.data_path
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create data directory {data_dir}: {e.strerror}") from None
        clear_stop(data_dir)
        async with AsyncExitStack() as stack:
            if s.endpoints.embedded:
                cluster = await stack.enter_async_context(EmbeddedCluster(s.cluster))
                ws_url = cluster.ws_url
                endpoints = [EndpointConfig(url, name=name) for name, url in cluster.rpc_endpoints]
            else:
                ws_url = s.endpoints.websocket_url()
                endpoints = [
                    EndpointConfig(e.url, weight=e.weight, rps=e.rps, burst=e.burst, role=e.role)
                    for e in s.endpoints.pool()
                ]
            pool = EndpointPool(endpoints, lag_threshold=s.endpoints.lag_slots, seed=s.cluster.seed)
            rpc = PooledRpcClient(pool)
            stack.push_async_callback(rpc.aclose)
            payer = await self._wallet(rpc, data_dir)
            journal = self._journal(data_dir, self.clock)
            stack.callback(journal.close)
            await journal.reconcile(rpc, payer.pubkey())

            market = await self._load_market(rpc)
            start_mints = [Pubkey.from_string(m) for m in s.trading.start_mints]
            finder = CycleFinder(
                market,
                start_mints=start_mints,
                max_hops=s.trading.max_hops,
                min_profit={m: s.risk.min_profit for m in start_mints},
                max_amount_in={m: s.risk.max_notional for m in start_mints},
            )
            finder.rebuild()
            risk = RiskEngine(
                RiskLimits(
                    max_notional={m: s.risk.max_notional for m in start_mints},
                    min_profit={m: s.risk.min_profit for m in start_mints},
                    max_in_flight=s.risk.max_in_flight,
                    max_slot_lag=s.feeds.max_slot_lag,
                )
            )
            self._risk = risk
            mint_programs = _mint_programs(market)
            symbols = symbols_for(await _mint_decimals(rpc, mint_programs))
            await prepare_wallet(
                rpc, payer, list(mint_programs), s.trading.wrap_lamports, token_programs=mint_programs
            )
            lookup_tables = await prepare_lookup_tables(
                rpc, payer, [(e.adapter, e.state, e.aux) for e in market.pools.values()],
                enabled=s.execution.use_lookup_tables, existing=s.execution.lookup_tables,
            )
            start_balances = await _balances(rpc, payer.pubkey(), mint_programs)
            sol_start = await rpc.get_balance(payer.pubkey())

            feed = build_source(s.feeds, ws_url, rpc)
            watch_market(feed, market)  # per pool: a pool's accounts on one connection
            market.on_new_accounts = feed.watch  # a CL pool's price reached other tick/bin arrays
            freshness = MarketFreshness(market, feed)
            pipeline = Pipeline(
                market, finder, risk, s.risk.min_profit, self.clock, self.stats, freshness
            )
            builder = TxBuilder(
                payer,
                lambda pool: (market.pool(pool).adapter, market.pool(pool).state, market.aux(pool)),
                compute_unit_limit=s.execution.compute_unit_limit,
                priority_fee_micro_lamports=s.execution.priority_fee_micro_lamports,
                min_profit=s.risk.min_profit,
                lookup_tables=lookup_tables,
            )
            # prepare_wallet made the payer's token accounts: derived once, here, and known
            builder.mark_known(builder.warm_atas(mint_programs.items()))
            executor = Executor(
                rpc,
                HaltableSender(RpcSender(rpc), lambda: risk.halted),
                builder,
                journal,
                ws_url=ws_url,
                simulate=s.execution.simulate,
                confirm_timeout_s=s.execution.confirm_timeout_s,
            )
            stack.push_async_callback(executor.aclose)

            started = self.clock.monotonic_ns()
            self._install_signal_handlers(stack)
            # what each pool's first update would pay (quoters, plans, rates, freshness groups),
            # paid before streaming and before the freeze, so the warmed objects are frozen too
            warmed = self.warmed = warm_up(finder, freshness, builder=builder) if s.trading.warm_up else None
            delivery = getattr(feed, "delivery", None)
            if delivery is not None:  # what detection retired is freed after the order's build
                delivery.on_idle = pipeline.settle_soon
            self.gc.start()  # loaded: freeze the heap; collections at idle moments from now on
            stack.callback(self.gc.stop, False)
            tasks = [
                asyncio.create_task(feed.run(pipeline.on_update, pipeline.on_slot), name="feed"),
                asyncio.create_task(self._journal_decisions(pipeline, journal), name="journal"),
                asyncio.create_task(self._execute(pipeline, executor), name="executor"),
                asyncio.create_task(watch_stop(data_dir, self._kill), name="killswitch"),
                asyncio.create_task(self.gc.run(updates_pending(feed)), name="gc"),
            ]
            if warmed is not None:
                tasks.append(asyncio.create_task(self._warm_when_fresh(feed, freshness), name="warm"))
            printer = StatusLine(sys.stderr, symbols) if status else None
            if printer:
                tasks.append(asyncio.create_task(self._status(printer, journal, started)))
            try:
                await self._wait(duration_s, tasks)
            finally:
                risk.halt(self.stop_reason or "run ended")
                for task in tasks:
                    if task.get_name() != "executor":
                        task.cancel()
                await self._drain(pipeline, tasks, journal)
                if printer:
                    printer.close()
            end_balances = await _balances(rpc, payer.pubkey(), mint_programs)
            sol_end = await rpc.get_balance(payer.pubkey())
            summary = self._summary(
                market, finder, feed, journal, started, start_balances, end_balances, sol_start, sol_end
            )
            summary["tokens"] = symbols
            summary["feeds"]["skipped_stale"] = self.stats.skipped_not_fresh
            summary["rpc"] = rpc.metrics()
            summary["lookup_table_addresses"] = sum(len(t.addresses) for t in lookup_tables)
            summary["gc"] = self._gc_summary()
            summary["warm"] = None if warmed is None else warmed.figures() | {"relaid_s": self.relaid_s}
            return summary

    async def _warm_when_fresh(self, feed: AccountSource, freshness: MarketFreshness) -> None:
        """Once every watched account is subscribed (``feed.fresh`` set), lay the freshness groups
        out again for the feed's settled subscriptions: the warm-up laid them out before any
        subscription existed, and a group laid out for an older topology is laid out on its
        next question, on the hot path. In slices of :data:`RELAY_SLICE` pools, yielding to
        the loop between them (an update waits at most one slice)."""
        fresh = getattr(feed, "fresh", None)  # the feed's asyncio.Event behind is_fresh
        if fresh is not None:
            await fresh.wait()
        pools = list(freshness.market.pools)
        t0 = self.clock.monotonic_ns()
        for i in range(0, len(pools), RELAY_SLICE):
            freshness.warm(pools[i : i + RELAY_SLICE])
            await asyncio.sleep(0)
        self.relaid_s = round((self.clock.monotonic_ns() - t0) / 1e9, 3)

    def _gc_summary(self) -> dict[str, Any]:
        """The GC policy's counters, then one deep collection (run ended: its pause costs no
        update) whose finds, ``frozen_garbage``, are cycles that died after being frozen."""
        out = self.gc.snapshot()
        before = self.gc.stats.collected
        self.gc.collect("deep")
        out["frozen_garbage"] = self.gc.stats.collected - before
        return out

    def _install_signal_handlers(self, stack: AsyncExitStack) -> None:
        """SIGINT/SIGTERM stop the run cleanly (like the kill switch); a second one is not caught."""
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            for s in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(s)
            self._kill(f"signal {sig.name}")

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                return
            stack.callback(loop.remove_signal_handler, sig)

    def _kill(self, reason: str) -> None:
        if self._risk is not None:  # refuse new orders and sends at once
            self._risk.halt(f"kill switch: {reason}")
        self.request_stop(f"kill switch: {reason}")

    async def _wait(self, duration_s: float | None, tasks: Sequence[asyncio.Task[Any]]) -> None:
        stopper = asyncio.create_task(self._stopping.wait())
        watched = [t for t in tasks if t.get_name() in ("feed", "executor", "journal")]
        try:
            done, _ = await asyncio.wait(
                [stopper, *watched], timeout=duration_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()
        for task in watched:
            if task in done and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if not self._stopping.is_set():
            self.request_stop("duration reached")

    async def _drain(self, pipeline: Pipeline, tasks: Sequence[asyncio.Task[Any]], journal: Journal) -> None:
        """Let in-flight orders finish (bounded by the confirm timeout), journal what is left."""
        executor_task = next(t for t in tasks if t.get_name() == "executor")
        while not pipeline.orders.empty():  # orders never sent: dropped, not lost
            order = pipeline.orders.get_nowait()
            pipeline.in_flight -= 1
            journal.record_order(order)
            journal.record_outcome(
                TxOutcome(order.id, None, TxStatus.FAILED, error="not sent: engine stopping"), {}, 0
            )
        deadline = self.settings.execution.confirm_timeout_s + 5
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(deadline):
                while pipeline.in_flight > 0:
                    await asyncio.sleep(0.05)
        executor_task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not pipeline.decisions.empty():
            opp, verdict = pipeline.decisions.get_nowait()
            journal.record_opportunity(opp)
            journal.record_verdict(verdict)

    async def _journal_decisions(self, pipeline: Pipeline, journal: Journal) -> None:
        while True:
            opp, verdict = await pipeline.decisions.get()
            journal.record_opportunity(opp)
            journal.record_verdict(verdict)

    async def _execute(self, pipeline: Pipeline, executor: Executor) -> None:
        while True:
            order = await pipeline.orders.get()
            try:
                if self._stopping.is_set():
                    continue
                try:
                    outcome = await executor.execute(order)
                except RpcError as e:  # a read before sending failed: nothing was sent
                    outcome = TxOutcome(order.id, None, TxStatus.FAILED, error=f"not sent: {e}")
                    executor.journal.record_outcome(outcome, {}, 0)
                self._count(outcome, order)
            finally:
                pipeline.in_flight -= 1

    def _count(self, outcome: TxOutcome, order: Order) -> None:
        st = self.stats
        if outcome.status is TxStatus.CONFIRMED:
            st.confirmed += 1
            opp = order.opportunity
            st.trades.append(
                {
                    "signature": outcome.signature,
                    "dexes": [h.dex for h in opp.hops],
                    "pools": [str(h.pool) for h in opp.hops],
                    "amount_in": opp.amount_in,
                    "expected_profit": opp.profit,
                }
            )
        elif outcome.status is TxStatus.EXPIRED:
            st.expired += 1
        elif outcome.status is TxStatus.SIMULATION_FAILED:
            st.simulation_failed += 1
        else:
            st.failed += 1

    async def _status(self, printer: StatusLine, journal: Journal, started: int) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S)
            elapsed = (self.clock.monotonic_ns() - started) / 1e9
            printer.show(self.stats, elapsed, STATUS_INTERVAL_S, journal.pnl(),
                         self.gc.stats.max_pause_ns / 1e6)

    async def _wallet(self, rpc: RpcClient, data_dir: Path) -> Keypair:
        s = self.settings
        if s.wallet.keypair_path:
            payer = load_keypair(Path(s.wallet.keypair_path))
        elif s.endpoints.embedded:
            payer = sim_keypair(data_dir / "sim" / "engine-keypair.json")
        else:  # validated in config; kept as a guard
            raise Fatal("wallet.keypair_path is required")
        if s.endpoints.embedded:
            signature = await rpc.request_airdrop(payer.pubkey(), AIRDROP_LAMPORTS)
            await _wait_landed(rpc, signature)
        return payer

    def _journal(self, data_dir: Path, clock: Clock) -> Journal:
        if self.settings.endpoints.embedded:
            # A fresh embedded chain cannot reconcile an old sim journal: start a new one.
            path = data_dir / "sim" / "journal.sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        else:
            path = data_dir / "journal.sqlite"
        return Journal(path, clock)

    async def _load_market(self, rpc: RpcClient) -> MarketState:
        market = MarketState(ADAPTERS)
        if self.settings.trading.pools:
            addresses = [Pubkey.from_string(p) for p in self.settings.trading.pools]
        else:
            addresses = []
            for program_id in ADAPTERS:
                addresses.extend(await _program_account_keys(rpc, program_id))
        _, accounts = await rpc.get_multiple_accounts(addresses)
        for address, update in zip(addresses, accounts, strict=True):
            if update is None:
                raise UsageError(f"pool {address} does not exist on the cluster")
            if update.owner in ADAPTERS:
                with contextlib.suppress(DecodeError):  # configs, observations: not pools
                    market.add_pool(update)
        if not market.pools:
            raise Fatal("no tradable pools found")
        aux = [k for k in market.watched_accounts() if k not in market.pools]
        slot, aux_accounts = await rpc.get_multiple_accounts(aux)
        for key, update in zip(aux, aux_accounts, strict=True):
            if update is None:  # e.g. a tick array nobody created: the programs read it as empty
                update = AccountUpdate(key, slot, b"", SYSTEM_PROGRAM_ID, 0)
            market.apply(update)
        return market

    def _summary(
        self,
        market: MarketState,
        finder: CycleFinder,
        feed: AccountSource,
        journal: Journal,
        started: int,
        start: dict[str, int],
        end: dict[str, int],
        sol_start: int,
        sol_end: int,
    ) -> dict[str, Any]:
        st = self.stats
        pnl = journal.pnl()
        counts = journal.counts()
        return {
            "duration_s": round((self.clock.monotonic_ns() - started) / 1e9, 3),
            "stop_reason": self.stop_reason,
            "pools": len(market.pools),
            "cycles": finder.cycles,
            "updates": st.updates,
            "pool_changes": st.pool_changes,
            "opportunities": st.opportunities,
            "rejected": st.rejected,
            "orders": st.orders,
            "confirmed": st.confirmed,
            "failed": st.failed,
            "expired": st.expired,
            "simulation_failed": st.simulation_failed,
            "detect_latency_us": st.latency_us(),
            "pnl": {m: pnl.get(m, 0) for m in start},
            "start_balances": start,
            "end_balances": end,
            "reconciled": all(pnl.get(m, 0) == end[m] - start[m] for m in start),
            "fees_lamports": journal.fees_paid(),
            "journal_counts": counts,
            "sol_start": sol_start,
            "sol_end": sol_end,
            "trades": st.trades,
            "trades_by_dex": _by_dex(st.trades),
            "feeds": dict(feed.stats()),
            "journal": journal.path,
        } | st.faults()


def _by_dex(trades: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for trade in trades:
        for dex in set(trade["dexes"]):
            out[dex] = out.get(dex, 0) + 1
    return out


async def _mint_decimals(rpc: RpcClient, mints: dict[Pubkey, Pubkey]) -> dict[Pubkey, int]:
    keys = list(mints)
    _, accounts = await rpc.get_multiple_accounts(keys)
    out: dict[Pubkey, int] = {}
    for mint, update in zip(keys, accounts, strict=True):
        if update is None:
            raise Fatal(f"mint {mint} of a traded pool does not exist")
        out[mint] = decode_mint(update.data).decimals
    return out


async def _program_account_keys(rpc: RpcClient, program_id: Pubkey) -> list[Pubkey]:
    """Addresses of every account a program owns (dataSlice 0: no data over the wire)."""
    result = await rpc.call(
        "getProgramAccounts",
        [str(program_id), {"encoding": "base64", "dataSlice": {"offset": 0, "length": 0}}],
    )
    if not isinstance(result, list):
        raise RpcProtocolError("getProgramAccounts: expected a list")
    try:
        return [Pubkey.from_string(item["pubkey"]) for item in result]
    except (KeyError, TypeError, ValueError) as e:
        raise RpcProtocolError(f"getProgramAccounts: bad item ({e})") from None


async def _balances(rpc: RpcClient, owner: Pubkey, mints: dict[Pubkey, Pubkey]) -> dict[str, int]:
    out: dict[str, int] = {}
    for mint, program in sorted(mints.items(), key=lambda kv: str(kv[0])):
        amount = await rpc.get_token_account_balance(associated_token_address(owner, mint, program))
        out[str(mint)] = amount or 0
    return out


async def _wait_landed(rpc: RpcClient, signature: str, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            (status,) = await rpc.get_signature_statuses([signature])
            if status is not None and status.get("confirmationStatus") in ("confirmed", "finalized"):
                if status.get("err") is not None:
                    raise Fatal(f"airdrop failed: {status['err']}")
                return
            await asyncio.sleep(0.1)


async def run_node(settings: Settings, *, duration_s: float | None, status: bool) -> dict[str, Any]:
    """Build the pipeline from ``settings`` and run it; return the run summary."""
    return await Node(settings).run(duration_s, status)
