"""The kill-switch gate in front of a sender."""

import pytest

from solarb.execution.errors import SendRejected
from solarb.execution.senders.gate import HaltableSender


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, raw: bytes) -> str:
        self.sent.append(raw)
        return "sig"


async def test_gate_passes_until_halted_then_refuses() -> None:
    inner = RecordingSender()
    halted = False
    gate = HaltableSender(inner, lambda: halted)
    assert await gate.send(b"a") == "sig"
    halted = True
    with pytest.raises(SendRejected, match="kill switch"):
        await gate.send(b"b")
    assert inner.sent == [b"a"]
    assert gate.refused == 1
