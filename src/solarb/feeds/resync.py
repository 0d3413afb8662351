"""Resync reads: ``getMultipleAccounts`` at a context slot no older than one already seen.

After a (re)connect or (re)subscribe the feed reads the affected accounts through the RPC layer
with ``minContextSlot`` set to the highest slot it has seen, so the state that makes them fresh
again cannot be older than what was already observed. A node that answers -32016 (min context
slot not reached, :class:`~solarb.rpc.errors.RpcNodeUnhealthy`) or an older context slot than
asked is retried a bounded number of times, then the error is raised (Retryable).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.rpc.client import MAX_MULTIPLE_ACCOUNTS, context_value, decode_account
from solarb.rpc.errors import RpcNodeUnhealthy, RpcProtocolError

if TYPE_CHECKING:
    from solarb.rpc.client import RpcClient

__all__ = ["read_accounts"]

_CONCURRENCY = 8  # chunk requests in flight at once
_ATTEMPTS = 20
_RETRY_S = 0.05


async def _chunk(
    rpc: RpcClient, keys: Sequence[Pubkey], commitment: str, min_slot: int, now_ns: int | None
) -> tuple[int, list[AccountUpdate | None]]:
    cfg: dict[str, object] = {"encoding": "base64", "commitment": commitment}
    if min_slot >= 0:
        cfg["minContextSlot"] = min_slot
    params = [[str(k) for k in keys], cfg]
    for attempt in range(_ATTEMPTS):
        try:
            result = await rpc.call("getMultipleAccounts", params)
        except RpcNodeUnhealthy:
            if attempt == _ATTEMPTS - 1:
                raise
            await asyncio.sleep(_RETRY_S)
            continue
        slot, value = context_value(result, "getMultipleAccounts")
        if slot < min_slot:  # a node that ignores minContextSlot: not fresh enough, ask again
            if attempt == _ATTEMPTS - 1:
                raise RpcNodeUnhealthy(f"getMultipleAccounts: context slot {slot} < {min_slot}")
            await asyncio.sleep(_RETRY_S)
            continue
        if not isinstance(value, list) or len(value) != len(keys):
            raise RpcProtocolError(f"getMultipleAccounts: bad value for {len(keys)} keys")
        ts = now_ns if now_ns is not None else time.monotonic_ns()
        return slot, [decode_account(k, v, slot, ts, "getMultipleAccounts.value[]")
                      for k, v in zip(keys, value, strict=True)]
    raise AssertionError("unreachable")


async def read_accounts(
    rpc: RpcClient,
    keys: Sequence[Pubkey],
    *,
    min_context_slot: int = -1,
    commitment: str = "confirmed",
    now_ns: int | None = None,
) -> tuple[int, list[AccountUpdate | None]]:
    """Read ``keys`` (chunks of 100, a few in flight) at context slot >= ``min_context_slot``.

    Returns ``(lowest context slot, updates in key order)``; None for missing accounts. Raises
    the RPC layer's typed errors (Retryable ones after the bounded retries above).
    """
    if not keys:
        return max(min_context_slot, 0), []
    chunks = [keys[i : i + MAX_MULTIPLE_ACCOUNTS] for i in range(0, len(keys), MAX_MULTIPLE_ACCOUNTS)]
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def one(chunk: Sequence[Pubkey]) -> tuple[int, list[AccountUpdate | None]]:
        async with sem:
            return await _chunk(rpc, chunk, commitment, min_context_slot, now_ns)

    results = await asyncio.gather(*(one(c) for c in chunks))
    out: list[AccountUpdate | None] = []
    for _, ups in results:
        out.extend(ups)
    return min(s for s, _ in results), out
