"""Confirm a sent transaction, rebroadcasting the same signed bytes until it lands or expires.

A signature is resolved by whichever answers first: a PubSub ``signatureSubscribe`` waiter
(optional) or ``getSignatureStatuses`` polling. While unresolved, the SAME bytes are re-sent
every ``rebroadcast_interval_s`` (never re-signed: one signature, at most one execution). Once
the block height passes ``last_valid_block_height`` and a last status check finds nothing, the
transaction can never land: EXPIRED.

:func:`tx_effects` reads a ``getTransaction`` reply: fee, error and the exact token deltas of
one owner's token accounts (post - pre by mint).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from solders.pubkey import Pubkey

from solarb.errors import Retryable
from solarb.events import TxStatus
from solarb.execution.errors import ConfirmTimeout, MalformedTransactionReply, SendError
from solarb.execution.senders.base import TxSender
from solarb.rpc.errors import RpcError
from solarb.rpc.ws import PubSubConnection, wait_for_signature

SignatureWaiter = Callable[[str, float], Awaitable[Mapping[str, Any] | None]]
"""``(signature, timeout_s) -> notification`` (has ``err``) when the signature reaches the
commitment, or None on timeout. Built from a PubSub connection by the caller."""

_RANK = {"processed": 0, "confirmed": 1, "finalized": 2}


def pubsub_waiter(conn: PubSubConnection, commitment: str = "confirmed") -> SignatureWaiter:
    """A :data:`SignatureWaiter` over an open PubSub connection (``signatureSubscribe``)."""

    async def wait(signature: str, timeout_s: float) -> Mapping[str, Any] | None:
        return await wait_for_signature(conn, signature, commitment, timeout_s)

    return wait


class StatusRpc(Protocol):
    """The RPC calls confirmation needs."""

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]: ...

    async def get_block_height(self) -> int: ...


@dataclass(slots=True, frozen=True)
class ConfirmResult:
    """Final status of a signature: CONFIRMED, FAILED (landed with an error) or EXPIRED."""

    status: TxStatus
    slot: int | None = None
    err: Any = None
    rebroadcasts: int = 0


def status_outcome(status: Mapping[str, Any] | None, commitment: str) -> ConfirmResult | None:
    """Resolve one ``getSignatureStatuses`` entry; None while not (yet) at ``commitment``.

    A landed transaction with an error is FAILED whatever its commitment: it cannot change.
    A null ``confirmationStatus`` (old nodes) means rooted, i.e. finalized.
    """
    if status is None:
        return None
    slot = status.get("slot")
    slot = slot if isinstance(slot, int) else None
    err = status.get("err")
    if err is not None:
        return ConfirmResult(TxStatus.FAILED, slot, err)
    level = status.get("confirmationStatus") or "finalized"
    if _RANK.get(level, -1) >= _RANK[commitment]:
        return ConfirmResult(TxStatus.CONFIRMED, slot, None)
    return None


def _notification_outcome(note: Mapping[str, Any]) -> ConfirmResult:
    """A signatureSubscribe notification value (``{"err": ...}``), possibly with context."""
    value = note.get("value", note)
    ctx = note.get("context")
    slot = ctx.get("slot") if isinstance(ctx, Mapping) else note.get("slot")
    err = value.get("err") if isinstance(value, Mapping) else None
    return ConfirmResult(
        TxStatus.FAILED if err is not None else TxStatus.CONFIRMED,
        slot if isinstance(slot, int) else None,
        err,
    )


async def confirm(
    rpc: StatusRpc,
    sender: TxSender,
    raw: bytes,
    signature: str,
    last_valid_block_height: int,
    *,
    waiter: SignatureWaiter | None = None,
    commitment: str = "confirmed",
    poll_interval_s: float = 0.4,
    rebroadcast_interval_s: float = 2.0,
    timeout_s: float = 120.0,
) -> ConfirmResult:
    """Wait for ``signature`` to resolve, re-sending ``raw`` while its blockhash is valid.

    Raises :class:`ConfirmTimeout` if ``timeout_s`` passes with the blockhash still valid
    (the outcome is unknown: leave it pending for reconcile). Retryable RPC/send errors
    during the loop are absorbed; other RPC errors propagate.
    """
    if commitment not in _RANK:
        raise ValueError(f"unknown commitment {commitment!r}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    next_rebroadcast = loop.time() + rebroadcast_interval_s
    rebroadcasts = 0
    ws_task: asyncio.Task[Mapping[str, Any] | None] | None = None
    if waiter is not None:
        ws_task = asyncio.ensure_future(waiter(signature, timeout_s))
    try:
        while True:
            # 1. the PubSub notification, when it has arrived
            if ws_task is not None and ws_task.done():
                note = _task_result(ws_task)
                ws_task = None
                if note is not None:
                    return _with_count(_notification_outcome(note), rebroadcasts)
            # 2. poll the status, then the block height
            try:
                result = await _poll(rpc, signature, commitment)
                if result is not None:
                    return _with_count(result, rebroadcasts)
                if await rpc.get_block_height() > last_valid_block_height:
                    # The blockhash can no longer be used; one last look closes the race.
                    result = await _poll(rpc, signature, commitment)
                    if result is not None:
                        return _with_count(result, rebroadcasts)
                    return ConfirmResult(TxStatus.EXPIRED, rebroadcasts=rebroadcasts)
            except RpcError as e:
                if not isinstance(e, Retryable):
                    raise
            now = loop.time()
            if now >= deadline:
                raise ConfirmTimeout(
                    f"{signature}: no final status after {timeout_s:.1f}s "
                    f"(valid until block height {last_valid_block_height})"
                )
            # 3. rebroadcast the same bytes
            if now >= next_rebroadcast:
                next_rebroadcast = now + rebroadcast_interval_s
                rebroadcasts += 1
                try:
                    await sender.send(raw)
                except SendError:
                    pass  # the next tick polls again; expiry bounds the loop
            # 4. sleep until the next tick, waking early on a notification
            if ws_task is not None:
                await asyncio.wait({ws_task}, timeout=poll_interval_s)
            else:
                await asyncio.sleep(poll_interval_s)
    finally:
        if ws_task is not None and not ws_task.done():
            ws_task.cancel()
            await asyncio.gather(ws_task, return_exceptions=True)


async def _poll(rpc: StatusRpc, signature: str, commitment: str) -> ConfirmResult | None:
    statuses = await rpc.get_signature_statuses([signature])
    return status_outcome(statuses[0] if statuses else None, commitment)


def _task_result(task: asyncio.Task[Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """The waiter's answer; a failed subscription just falls back to polling."""
    if task.cancelled():
        return None
    exc = task.exception()
    if exc is not None:
        if isinstance(exc, RpcError):
            return None
        raise exc
    return task.result()


def err_text(err: Any) -> str | None:
    """A TransactionError (str or JSON object) as compact text for journals and outcomes."""
    if err is None:
        return None
    return err if isinstance(err, str) else json.dumps(err, separators=(",", ":"), default=str)


def _with_count(result: ConfirmResult, rebroadcasts: int) -> ConfirmResult:
    return ConfirmResult(result.status, result.slot, result.err, rebroadcasts)


# ------------------------------------------------------------------ reading the outcome


@dataclass(slots=True, frozen=True)
class TxEffects:
    """What a landed transaction did: ``deltas`` maps mint (base58) -> post - pre base units
    summed over ``owner``'s token accounts (non-zero entries only); ``fee`` in lamports."""

    slot: int | None
    err: Any
    fee: int
    deltas: dict[str, int]


def _amount(entry: Any) -> tuple[str, str, int] | None:
    if not isinstance(entry, Mapping):
        return None
    ui = entry.get("uiTokenAmount")
    mint, owner = entry.get("mint"), entry.get("owner")
    raw = ui.get("amount") if isinstance(ui, Mapping) else None
    if not (isinstance(mint, str) and isinstance(raw, str) and raw.isdigit()):
        raise MalformedTransactionReply(f"token balance entry without mint/amount: {entry!r:.200}")
    return mint, owner if isinstance(owner, str) else "", int(raw)


def tx_effects(tx: Mapping[str, Any], owner: Pubkey | str) -> TxEffects:
    """Fee, error, slot and exact token deltas of ``owner`` from a ``getTransaction`` reply.

    Raises :class:`MalformedTransactionReply` when ``meta`` or its balance lists are missing.
    """
    meta = tx.get("meta")
    if not isinstance(meta, Mapping):
        raise MalformedTransactionReply("getTransaction reply has no meta")
    fee = meta.get("fee")
    pre, post = meta.get("preTokenBalances"), meta.get("postTokenBalances")
    if not isinstance(fee, int) or not isinstance(pre, list) or not isinstance(post, list):
        raise MalformedTransactionReply("getTransaction meta lacks fee or token balances")
    who = str(owner)
    deltas: dict[str, int] = {}
    for sign, entries in ((-1, pre), (1, post)):
        for entry in entries:
            parsed = _amount(entry)
            if parsed is not None and parsed[1] == who:
                deltas[parsed[0]] = deltas.get(parsed[0], 0) + sign * parsed[2]
    slot = tx.get("slot")
    return TxEffects(
        slot=slot if isinstance(slot, int) else None,
        err=meta.get("err"),
        fee=fee,
        deltas={m: d for m, d in deltas.items() if d != 0},
    )
