"""Send through a JSON-RPC node's ``sendTransaction`` (preflight skipped, no node retries:
the confirm loop rebroadcasts the same bytes itself)."""

from __future__ import annotations

from typing import Protocol

from solarb.errors import Retryable
from solarb.execution.errors import SendRejected, SendRetryable
from solarb.rpc.errors import RpcError


class SendRpc(Protocol):
    """The part of :class:`~solarb.rpc.client.RpcClient` this sender uses."""

    async def send_transaction(
        self, raw: bytes, *, skip_preflight: bool = True, max_retries: int | None = 0
    ) -> str: ...


class RpcSender:
    """:class:`~solarb.execution.senders.base.TxSender` over an RPC node."""

    def __init__(self, rpc: SendRpc, *, skip_preflight: bool = True) -> None:
        self._rpc = rpc
        self._skip_preflight = skip_preflight

    async def send(self, raw: bytes) -> str:
        """Send ``raw``; RpcError -> SendRetryable (retryable ones) or SendRejected."""
        try:
            return await self._rpc.send_transaction(
                raw, skip_preflight=self._skip_preflight, max_retries=0
            )
        except RpcError as e:
            if isinstance(e, Retryable):
                raise SendRetryable(f"sendTransaction failed: {e}", e.retry_after) from e
            raise SendRejected(f"sendTransaction refused: {e}") from e
