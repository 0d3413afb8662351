"""Execution: build, simulate, sign, send and confirm arbitrage transactions; wallet setup."""

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
