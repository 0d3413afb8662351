"""Execute an order: journal, build, simulate, sign, send, confirm, read the exact outcome.

Sequence (each journal write commits before the next step)::

    record_order -> getLatestBlockhash -> build+sign -> simulate? -> record_sent(sig, bytes)
    -> send -> confirm (rebroadcast same bytes) -> getTransaction -> record_outcome(deltas, fee)

A failing simulation ends the order as SIMULATION_FAILED without sending. A crash after
``record_sent`` leaves the signature pending in the journal; :meth:`Journal.reconcile` resolves
it on restart and the order is never sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from solders.hash import Hash

from solarb.events import Order, TxOutcome, TxStatus
from solarb.execution.builder import TxBuilder, raw_signature
from solarb.execution.confirm import (
    ConfirmResult,
    SignatureWaiter,
    StatusRpc,
    confirm,
    err_text,
    pubsub_waiter,
    tx_effects,
)
from solarb.execution.errors import BuildError, SendRejected, SendRetryable
from solarb.execution.senders.base import TxSender
from solarb.rpc.errors import FeedDisconnected
from solarb.rpc.ws import PubSubConnection

if TYPE_CHECKING:  # the journal imports execution.confirm; avoid the import cycle at runtime
    from solarb.monitor.journal import Journal

MAX_TX_SIZE = 1232
"""Largest serialized transaction the cluster accepts (bytes)."""


class SimulationLike(Protocol):
    """What executor reads from a simulation (``RpcClient.SimulationResult``)."""

    @property
    def err(self) -> Any: ...
    @property
    def logs(self) -> tuple[str, ...]: ...


class ExecutionRpc(StatusRpc, Protocol):
    """Every RPC call the executor makes (a subset of :class:`~solarb.rpc.client.RpcClient`)."""

    async def get_latest_blockhash(self) -> tuple[Hash, int]: ...

    async def simulate_transaction(self, raw: bytes, *, sig_verify: bool = False) -> Any: ...

    async def get_transaction(self, signature: str) -> dict[str, Any] | None: ...

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]: ...


def _sim_error(err: Any, logs: Sequence[str]) -> str:
    text = err_text(err) or "simulation failed"
    tail = [line for line in logs[-3:] if line]
    return f"{text}; " + " | ".join(tail) if tail else text


class Executor:
    """Runs orders to a final :class:`TxOutcome`; one instance per payer.

    Confirmation listens on PubSub ``signatureSubscribe`` when it can: an injected ``waiter``,
    or one over a connection to ``ws_url`` opened lazily (and reopened after a drop); it always
    polls ``getSignatureStatuses`` as well, so a dead socket only costs latency. Call
    :meth:`aclose` to close that connection.
    """

    def __init__(
        self,
        rpc: ExecutionRpc,
        sender: TxSender,
        builder: TxBuilder,
        journal: Journal,
        *,
        ws_url: str | None = None,
        waiter: SignatureWaiter | None = None,
        simulate: bool = True,
        confirm_timeout_s: float = 120.0,
        poll_interval_s: float = 0.4,
        rebroadcast_interval_s: float = 2.0,
        commitment: str = "confirmed",
        fetch_attempts: int = 5,
    ) -> None:
        self.rpc = rpc
        self.sender = sender
        self.builder = builder
        self.journal = journal
        self.ws_url = ws_url
        self.waiter = waiter
        self.simulate = simulate
        self.confirm_timeout_s = confirm_timeout_s
        self.poll_interval_s = poll_interval_s
        self.rebroadcast_interval_s = rebroadcast_interval_s
        self.commitment = commitment
        self.fetch_attempts = fetch_attempts
        self.last_confirm: ConfirmResult | None = None
        self._conn: PubSubConnection | None = None

    async def _signature_waiter(self) -> SignatureWaiter | None:
        if self.waiter is not None or self.ws_url is None:
            return self.waiter
        if self._conn is None or not self._conn.is_open:
            conn = PubSubConnection(self.ws_url)
            try:
                await conn.connect()
            except FeedDisconnected:
                return None  # poll only this time; try the socket again next order
            self._conn = conn
        return pubsub_waiter(self._conn, self.commitment)

    async def aclose(self) -> None:
        """Close the PubSub connection opened for ``ws_url`` (if any)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _finish(
        self, outcome: TxOutcome, deltas: dict[str, int] | None = None, fee: int | None = None
    ) -> TxOutcome:
        self.journal.record_outcome(outcome, deltas or {}, fee)
        return outcome

    async def execute(self, order: Order) -> TxOutcome:
        """Run ``order`` to a final outcome, journaled.

        Returns FAILED (signature None) for an order that cannot be built, SIMULATION_FAILED
        when the simulation fails (nothing sent), else CONFIRMED / FAILED / EXPIRED. Raises
        RPC errors met before sending (nothing was sent) and
        :class:`~solarb.execution.errors.ConfirmTimeout` (the signature stays pending).
        """
        self.journal.record_order(order)
        blockhash, last_valid = await self.rpc.get_latest_blockhash()
        try:
            raw = self.builder.build_raw(order, blockhash)
            if len(raw) > MAX_TX_SIZE:
                raise BuildError(f"order {order.id}: transaction is {len(raw)} bytes > 1232")
        except BuildError as e:
            return self._finish(TxOutcome(order.id, None, TxStatus.FAILED, error=str(e)))
        signature = str(raw_signature(raw))

        if self.simulate:
            sim = await self.rpc.simulate_transaction(raw, sig_verify=False)
            if sim.err is not None:
                error = _sim_error(sim.err, tuple(sim.logs))
                return self._finish(
                    TxOutcome(order.id, signature, TxStatus.SIMULATION_FAILED, error=error)
                )

        waiter = await self._signature_waiter()  # connect (if needed) before the clock starts
        self.journal.record_sent(order.id, signature, raw, last_valid)
        try:
            await self.sender.send(raw)
        except SendRejected as e:
            return self._finish(TxOutcome(order.id, signature, TxStatus.FAILED, error=str(e)))
        except SendRetryable:
            pass  # it may have left anyway; the confirm loop rebroadcasts the same bytes

        result = await confirm(
            self.rpc,
            self.sender,
            raw,
            signature,
            last_valid,
            waiter=waiter,
            commitment=self.commitment,
            poll_interval_s=self.poll_interval_s,
            rebroadcast_interval_s=self.rebroadcast_interval_s,
            timeout_s=self.confirm_timeout_s,
        )
        self.last_confirm = result
        if result.status is TxStatus.EXPIRED:
            return self._finish(TxOutcome(order.id, signature, TxStatus.EXPIRED))
        if result.status is TxStatus.CONFIRMED:
            self.builder.mark_known(a.address for a in self.builder.route_accounts(order))
        return await self._settle(order, signature, result)

    async def _settle(self, order: Order, signature: str, result: ConfirmResult) -> TxOutcome:
        """Read the landed transaction and journal its exact deltas and fee.

        If ``getTransaction`` cannot see it yet, the status is returned but the journal keeps
        the signature pending so :meth:`Journal.reconcile` records the exact deltas later.
        """
        tx = None
        for attempt in range(self.fetch_attempts):
            tx = await self.rpc.get_transaction(signature)
            if tx is not None:
                break
            if attempt + 1 < self.fetch_attempts:
                await asyncio.sleep(self.poll_interval_s)
        if tx is None:
            return TxOutcome(order.id, signature, result.status, result.slot, err_text(result.err))
        fx = tx_effects(tx, self.builder.payer_pubkey)
        status = TxStatus.CONFIRMED if fx.err is None else TxStatus.FAILED
        slot = fx.slot if fx.slot is not None else result.slot
        outcome = TxOutcome(order.id, signature, status, slot, err_text(fx.err))
        return self._finish(outcome, fx.deltas, fx.fee)


__all__ = ["MAX_TX_SIZE", "ExecutionRpc", "Executor", "SimulationLike"]
