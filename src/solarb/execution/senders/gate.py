"""A sender wrapper that refuses to send once the kill switch is engaged."""

from __future__ import annotations

from collections.abc import Callable

from solarb.execution.errors import SendRejected
from solarb.execution.senders.base import TxSender


class HaltableSender:
    """Passes sends through to ``inner`` until ``is_halted()`` is true, then refuses every send
    (first sends and rebroadcasts alike) with :class:`SendRejected`."""

    def __init__(self, inner: TxSender, is_halted: Callable[[], bool]) -> None:
        self._inner = inner
        self._is_halted = is_halted
        self.refused = 0

    async def send(self, raw: bytes) -> str:
        """Send through the inner sender unless halted."""
        if self._is_halted():
            self.refused += 1
            raise SendRejected("kill switch engaged: transaction not sent")
        return await self._inner.send(raw)
