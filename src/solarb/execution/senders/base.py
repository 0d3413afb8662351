"""The one-method seam between execution and whatever carries a signed transaction out."""

from __future__ import annotations

from typing import Protocol


class TxSender(Protocol):
    """Hands signed, serialized transaction bytes to the cluster.

    ``send`` returns the transaction signature (base58) reported by the endpoint. It raises
    :class:`~solarb.execution.errors.SendRetryable` on transport trouble (the same bytes may be
    sent again) and :class:`~solarb.execution.errors.SendRejected` when they are refused for good.
    Sending the same bytes twice is always safe: the cluster executes a signature at most once.
    """

    async def send(self, raw: bytes) -> str:
        """Send ``raw`` (a serialized, signed transaction); return its signature."""
        ...
