"""RpcSender: skip-preflight sends, RPC errors translated to SendRetryable / SendRejected."""

from __future__ import annotations

import pytest
from tests.support.exec_fixtures import FakeRpc

from solarb.errors import Rejected, Retryable
from solarb.execution.errors import SendRejected, SendRetryable
from solarb.execution.senders.rpc import RpcSender
from solarb.rpc.errors import RpcError, RpcRateLimited, TransactionRejected


class Refusing(FakeRpc):
    error: RpcError | None = None
    flags: list[tuple[bool, int | None]] = []

    async def send_transaction(
        self, raw: bytes, *, skip_preflight: bool = True, max_retries: int | None = 0
    ) -> str:
        self.flags.append((skip_preflight, max_retries))
        if self.error is not None:
            raise self.error
        return "sig"


async def test_sends_with_skip_preflight_and_no_node_retries() -> None:
    rpc = Refusing()
    rpc.flags = []
    assert await RpcSender(rpc).send(b"raw") == "sig"
    assert rpc.flags == [(True, 0)]


async def test_retryable_and_rejected_errors_are_translated() -> None:
    rpc = Refusing()
    rpc.error = RpcRateLimited("429", retry_after=1.5)
    with pytest.raises(SendRetryable) as info:
        await RpcSender(rpc).send(b"raw")
    assert isinstance(info.value, Retryable) and info.value.retry_after == 1.5
    assert isinstance(info.value.__cause__, RpcRateLimited)
    rpc.error = TransactionRejected(-32003, "sig verify")
    with pytest.raises(SendRejected) as info2:
        await RpcSender(rpc).send(b"raw")
    assert isinstance(info2.value, Rejected)
