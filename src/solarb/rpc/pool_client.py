"""The engine's RPC client over an :class:`~solarb.rpc.pool.EndpointPool`: the RpcClient API,
routed per method by the pool (policies, hedging, fan-out sends, deadlines)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.rpc.client import MAX_MULTIPLE_ACCOUNTS, RpcClient, context_value, decode_account
from solarb.rpc.errors import (
    RpcError,
    RpcNodeUnhealthy,
    RpcProtocolError,
    error_from_object,
)
from solarb.rpc.pool import EndpointPool, decode_single_reply


def _msg(req_id: int, method: str, params: list[Any] | None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


class PooledRpcClient(RpcClient):
    """:class:`RpcClient` over an :class:`EndpointPool`: same API, pool routing per method.

    getMultipleAccounts over more than 100 keys goes out as one JSON-RPC batch of chunks.
    """

    def __init__(self, pool: EndpointPool, *, commitment: str = "confirmed") -> None:
        super().__init__(pool, commitment=commitment)
        self.pool = pool

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """One request under ``method``'s policy; the result, or its typed error."""
        req_id = next(self._ids)
        return await self.pool.execute(method, orjson.dumps(_msg(req_id, method, params)),
                                       lambda raw: decode_single_reply(raw, req_id, method))

    async def batch(self, calls: Sequence[tuple[str, list[Any] | None]]) -> list[Any]:
        """Like :meth:`RpcClient.batch`, routed as one call (policy of the first method, or
        "sendTransaction" when any call sends). A garbled reply is retried elsewhere."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [_msg(i, m, p) for i, (m, p) in zip(ids, calls, strict=True)]
        route = "sendTransaction" if any(m == "sendTransaction" for m, _ in calls) else calls[0][0]

        def decode(raw: bytes) -> list[Any]:
            reply = RpcClient._loads(raw, "batch")
            if not isinstance(reply, list):
                if isinstance(reply, dict) and "error" in reply:
                    raise error_from_object(reply["error"])
                raise RpcProtocolError(f"batch: reply is not an array: {reply!r:.100}")
            by_id = {it["id"]: it for it in reply
                     if isinstance(it, dict) and isinstance(it.get("id"), int)}
            out = []
            for req_id, (method, _) in zip(ids, calls, strict=True):
                if req_id not in by_id:
                    raise RpcProtocolError(f"batch: no reply for id {req_id} ({method})")
                outcome = RpcClient._outcome(by_id[req_id], req_id, method)
                if isinstance(outcome, RpcNodeUnhealthy | RpcProtocolError):
                    raise outcome  # this endpoint's fault: retry the batch elsewhere
                out.append(outcome)
            return out

        return await self.pool.execute(route, orjson.dumps(body), decode)

    async def get_multiple_accounts(
        self, pubkeys: Sequence[Pubkey], *, commitment: str | None = None
    ) -> tuple[int, list[AccountUpdate | None]]:
        """As :meth:`RpcClient.get_multiple_accounts`; several chunks travel as one batch."""
        if len(pubkeys) <= MAX_MULTIPLE_ACCOUNTS:
            return await super().get_multiple_accounts(pubkeys, commitment=commitment)
        cfg = self._cfg(commitment, encoding="base64")
        chunks = [pubkeys[i : i + MAX_MULTIPLE_ACCOUNTS]
                  for i in range(0, len(pubkeys), MAX_MULTIPLE_ACCOUNTS)]
        results = await self.batch(
            [("getMultipleAccounts", [[str(k) for k in c], cfg]) for c in chunks]
        )
        ts = time.monotonic_ns()
        slots: list[int] = []
        out: list[AccountUpdate | None] = []
        for chunk, result in zip(chunks, results, strict=True):
            if isinstance(result, RpcError):
                raise result
            slot, value = context_value(result, "getMultipleAccounts")
            if not isinstance(value, list) or len(value) != len(chunk):
                raise RpcProtocolError(f"getMultipleAccounts: bad value for {len(chunk)} keys")
            slots.append(slot)
            out.extend(decode_account(pk, v, slot, ts, "getMultipleAccounts.value[]")
                       for pk, v in zip(chunk, value, strict=True))
        return min(slots), out

    def metrics(self) -> dict[str, Any]:
        """The pool's metrics and health snapshot."""
        return self.pool.snapshot()

