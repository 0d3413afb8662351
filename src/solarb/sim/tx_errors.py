"""Transaction errors of the local cluster, in the exact JSON shape the Solana RPC returns.

    SolarbError
     └── SimError
          └── TransactionFailed (Rejected)   a transaction that did not land (``.err``, ``.logs``)
               └── MalformedTransaction       bytes that do not decode / sanitize (RPC: -32602)

A transaction error is kept as its RPC JSON value (:data:`TxErr`): a string such as
``"BlockhashNotFound"`` or a dict such as ``{"InstructionError": [2, {"Custom": 30}]}``.
"""

from __future__ import annotations

from typing import Any

from solarb.errors import Rejected, SolarbError
from solarb.sim.programs.base import ProgramError

TxErr = str | dict[str, Any]

BLOCKHASH_NOT_FOUND = "BlockhashNotFound"
ALREADY_PROCESSED = "AlreadyProcessed"
INSUFFICIENT_FUNDS_FOR_FEE = "InsufficientFundsForFee"
ACCOUNT_NOT_FOUND = "AccountNotFound"
SIGNATURE_FAILURE = "SignatureFailure"
SANITIZE_FAILURE = "SanitizeFailure"
ACCOUNT_LOADED_TWICE = "AccountLoadedTwice"
INVALID_ACCOUNT_FOR_FEE = "InvalidAccountForFee"
PROGRAM_ACCOUNT_NOT_FOUND = "ProgramAccountNotFound"
INVALID_PROGRAM_FOR_EXECUTION = "InvalidProgramForExecution"
ADDRESS_LOOKUP_TABLE_NOT_FOUND = "AddressLookupTableNotFound"
INVALID_ADDRESS_LOOKUP_TABLE_OWNER = "InvalidAddressLookupTableOwner"
INVALID_ADDRESS_LOOKUP_TABLE_DATA = "InvalidAddressLookupTableData"
INVALID_ADDRESS_LOOKUP_TABLE_INDEX = "InvalidAddressLookupTableIndex"

# Display strings of builtin InstructionErrors, as the runtime logs them after "Program X failed: ".
_BUILTIN_TEXT = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "UnbalancedInstruction": "sum of account balances before and after instruction do not match",
    "ModifiedProgramId": "instruction illegally modified the program id of an account",
    "ExternalAccountLamportSpend": "instruction spent from the balance of an account it does not own",
    "ExternalAccountDataModified": "instruction modified data of an account it does not own",
    "ReadonlyLamportChange": "instruction changed the balance of a read-only account",
    "ReadonlyDataModified": "instruction modified data of a read-only account",
    "ExecutableModified": "instruction changed executable bit of an account",
    "AccountDataSizeChanged": "instruction changed the size of the account data",
    "NotEnoughAccountKeys": "insufficient account keys for instruction",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "PrivilegeEscalation": "Cross-program invocation with unauthorized signer or writable account",
    "MissingAccount": "An account required by the instruction is missing",
    "InvalidSeeds": "Provided seeds do not result in a valid address",
    "IllegalOwner": "Provided owner is not allowed",
    "InvalidAccountOwner": "Invalid account owner",
    "ArithmeticOverflow": "Program arithmetic overflowed",
    "CallDepth": "Cross-program invocation call depth too deep",
    "InvalidRealloc": "Failed to reallocate account data",
}


class SimError(SolarbError):
    """Root of the local cluster's errors."""


class TransactionFailed(SimError, Rejected):
    """A transaction was refused before it could land (signature, blockhash, fee payer, loading).

    ``err`` is the RPC JSON error value; ``logs`` the log lines produced so far (often empty).
    """

    def __init__(self, err: TxErr, logs: list[str] | None = None, message: str | None = None) -> None:
        super().__init__(message or f"transaction failed: {err}")
        self.err: TxErr = err
        self.logs: list[str] = logs or []


class MalformedTransaction(TransactionFailed):
    """The transaction bytes could not be decoded or sanitized (the RPC answers -32602)."""

    def __init__(self, message: str) -> None:
        super().__init__(SANITIZE_FAILURE, [], message)


def instruction_error(index: int, error: ProgramError) -> dict[str, Any]:
    """``{"InstructionError": [index, {"Custom": n}]}`` or ``{"InstructionError": [index, "Name"]}``."""
    inner: Any = {"Custom": error.code} if error.code is not None else error.builtin
    return {"InstructionError": [index, inner]}


def failure_log_text(error: ProgramError) -> str:
    """What the runtime logs after ``Program <id> failed: `` for this error."""
    if error.code is not None:
        return f"custom program error: {error.code:#x}"
    builtin = error.builtin or "InvalidArgument"
    return _BUILTIN_TEXT.get(builtin, builtin)


def insufficient_funds_for_rent(account_index: int) -> dict[str, Any]:
    """The error when a transaction leaves a writable account neither empty nor rent exempt."""
    return {"InsufficientFundsForRent": {"account_index": account_index}}
