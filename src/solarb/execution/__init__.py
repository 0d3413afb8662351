"""Execution: build, simulate, sign, send and confirm arbitrage transactions; wallet setup.

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.lazy import lazy_exports

if TYPE_CHECKING:
    from solarb.execution.builder import RouteAccount, TxBuilder, create_ata_idempotent, sync_native
    from solarb.execution.confirm import ConfirmResult, TxEffects, confirm, tx_effects
    from solarb.execution.errors import (
        BuildError,
        ConfirmTimeout,
        ExecutionError,
        MalformedTransactionReply,
        ProfitGuardError,
        SendError,
        SendRejected,
        SendRetryable,
        SetupError,
    )
    from solarb.execution.executor import ExecutionRpc, Executor
    from solarb.execution.fees import estimate_fee, fee_for_transaction, priority_fee
    from solarb.execution.setup import build_setup_transactions, prepare_wallet, setup_instructions

__all__ = [
    "BuildError",
    "ConfirmResult",
    "ConfirmTimeout",
    "ExecutionError",
    "ExecutionRpc",
    "Executor",
    "MalformedTransactionReply",
    "ProfitGuardError",
    "RouteAccount",
    "SendError",
    "SendRejected",
    "SendRetryable",
    "SetupError",
    "TxBuilder",
    "TxEffects",
    "build_setup_transactions",
    "confirm",
    "create_ata_idempotent",
    "estimate_fee",
    "fee_for_transaction",
    "prepare_wallet",
    "priority_fee",
    "setup_instructions",
    "sync_native",
    "tx_effects",
]

_EXPORTS: dict[str, str] = {
    "BuildError": "solarb.execution.errors",
    "ConfirmResult": "solarb.execution.confirm",
    "ConfirmTimeout": "solarb.execution.errors",
    "ExecutionError": "solarb.execution.errors",
    "ExecutionRpc": "solarb.execution.executor",
    "Executor": "solarb.execution.executor",
    "MalformedTransactionReply": "solarb.execution.errors",
    "ProfitGuardError": "solarb.execution.errors",
    "RouteAccount": "solarb.execution.builder",
    "SendError": "solarb.execution.errors",
    "SendRejected": "solarb.execution.errors",
    "SendRetryable": "solarb.execution.errors",
    "SetupError": "solarb.execution.errors",
    "TxBuilder": "solarb.execution.builder",
    "TxEffects": "solarb.execution.confirm",
    "build_setup_transactions": "solarb.execution.setup",
    "confirm": "solarb.execution.confirm",
    "create_ata_idempotent": "solarb.execution.builder",
    "estimate_fee": "solarb.execution.fees",
    "fee_for_transaction": "solarb.execution.fees",
    "prepare_wallet": "solarb.execution.setup",
    "priority_fee": "solarb.execution.fees",
    "setup_instructions": "solarb.execution.setup",
    "sync_native": "solarb.execution.builder",
    "tx_effects": "solarb.execution.confirm",
}


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
