"""The contract between the cluster's transaction processor and program models.

A program model executes one instruction against an :class:`InvokeContext`: it reads and writes
accounts through the context (writes are staged and only committed if the whole transaction
succeeds) and fails by raising :class:`ProgramError` with the program's own error code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from solders.pubkey import Pubkey

from solarb.sim.accounts import Account


class ProgramError(Exception):
    """An instruction failed. ``code`` is the custom program error code (shown as ``{"Custom": code}``),
    or None with ``builtin`` naming a runtime InstructionError such as ``"MissingRequiredSignature"``,
    ``"InvalidAccountData"``, ``"IncorrectProgramId"``, ``"InvalidArgument"``, ``"InsufficientFunds"``."""

    def __init__(self, message: str, code: int | None = None, builtin: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.builtin = builtin if code is None else None
        if code is None and builtin is None:
            self.builtin = "InvalidArgument"


@dataclass(slots=True, frozen=True)
class AccountRef:
    """An account passed to an instruction, in instruction order."""

    pubkey: Pubkey
    is_signer: bool
    is_writable: bool


class InvokeContext(Protocol):
    """What a program model may do while executing an instruction."""

    def get(self, pubkey: Pubkey) -> Account | None:
        """Current (staged) state of an account in this transaction, None if it does not exist."""
        ...

    def set(self, pubkey: Pubkey, account: Account) -> None:
        """Stage a new state for a writable account of this transaction."""
        ...

    def log(self, message: str) -> None:
        """Append ``Program log: <message>`` to the transaction's logs."""
        ...

    def consume(self, units: int) -> None:
        """Charge compute units; raises ProgramError when the budget is exceeded."""
        ...

    def token_transfer(
        self, source: Pubkey, destination: Pubkey, authority: Pubkey, amount: int, *, pda_signed: bool = False
    ) -> None:
        """SPL Token (or Token-2022) transfer between two token accounts, with the token program's
        checks and errors (owner/authority, same mint, balance, frozen). ``pda_signed`` marks a
        transfer whose authority is a PDA the calling program has verified (as invoke_signed)."""
        ...


class ProgramModel(Protocol):
    """A model of one on-chain program."""

    program_id: Pubkey

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute one instruction; raise ProgramError on failure."""
        ...
