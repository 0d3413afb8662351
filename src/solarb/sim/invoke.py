"""The cluster's :class:`~solarb.sim.programs.base.InvokeContext`: staged account writes, the runtime's
ownership/writability rules, compute metering, logs and cross-program invocation.

One :class:`TxContext` lives for one transaction. Writes go to an overlay dict over the bank's
accounts (no copy of the account map); the bank commits the overlay only when every instruction
succeeded. Rules enforced on every :meth:`TxContext.set`, as the real runtime does at instruction end:

- the account must be passed to the current instruction (``MissingAccount``) and be writable both in
  the message and in the instruction (``ReadonlyLamportChange`` / ``ReadonlyDataModified``);
- only the owning program may change data (``ExternalAccountDataModified``) or debit lamports
  (``ExternalAccountLamportSpend``), or reassign the owner of a zeroed account (``ModifiedProgramId``);
- nobody changes ``executable`` (``ExecutableModified``);
- at the end of each invocation the lamports of the touched accounts must sum to what they summed to
  before (``UnbalancedInstruction``).
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, TOKEN_PROGRAMS
from solarb.sim.accounts import Account
from solarb.sim.programs.base import AccountRef, ProgramError, ProgramModel
from solarb.sim.tx_errors import failure_log_text

MAX_INVOKE_DEPTH = 5  # top-level instruction is depth 1; CPI may nest up to depth 5
_EMPTY = Account(0, b"", SYSTEM_PROGRAM_ID)
_TRANSFER_TAG = b"\x03"


@dataclass(slots=True)
class _Frame:
    program_id: Pubkey
    accounts: dict[Pubkey, AccountRef]
    pda_signers: Collection[Pubkey]
    pre_lamports: dict[Pubkey, int] = field(default_factory=dict)


class TxContext:
    """InvokeContext of one transaction (see module docstring). Not thread-safe; one per transaction."""

    __slots__ = (
        "_base", "_programs", "_visible", "_writable", "staged", "logs", "units_left",
        "units_limit", "_frames", "return_data",
    )

    def __init__(
        self,
        base: Mapping[Pubkey, Account],
        programs: Mapping[Pubkey, ProgramModel],
        visible: Collection[Pubkey],
        writable: Collection[Pubkey],
        units_limit: int,
    ) -> None:
        self._base = base
        self._programs = programs
        self._visible = visible
        self._writable = writable
        self.staged: dict[Pubkey, Account] = {}
        self.logs: list[str] = []
        self.units_limit = units_limit
        self.units_left = units_limit
        self._frames: list[_Frame] = []
        self.return_data: tuple[Pubkey, bytes] | None = None

    # ---- InvokeContext -------------------------------------------------------------------------

    def get(self, pubkey: Pubkey) -> Account | None:
        """Current staged state of an account of this transaction (or a sysvar); None if absent.

        Raises ProgramError("MissingAccount") for an account the transaction does not reference.
        """
        if pubkey not in self._visible:
            raise ProgramError(f"account {pubkey} is not in the transaction", builtin="MissingAccount")
        acc = self.staged.get(pubkey)
        if acc is None:
            acc = self._base.get(pubkey)
        if acc is None or (acc.lamports == 0 and not acc.data and acc.owner == SYSTEM_PROGRAM_ID):
            return None  # a zero-lamport default account does not exist
        return acc

    def set(self, pubkey: Pubkey, account: Account) -> None:
        """Stage ``account`` for ``pubkey``, enforcing the runtime's write rules (module docstring)."""
        frame = self._frames[-1]
        ref = frame.accounts.get(pubkey)
        if ref is None:
            raise ProgramError(f"account {pubkey} not passed to instruction", builtin="MissingAccount")
        old = self.staged.get(pubkey) or self._base.get(pubkey) or _EMPTY
        if old is account:
            return
        program = frame.program_id
        if not (ref.is_writable and pubkey in self._writable):
            if old.lamports != account.lamports:
                raise ProgramError(f"{pubkey} is read-only", builtin="ReadonlyLamportChange")
            if old.data != account.data or old.owner != account.owner:
                raise ProgramError(f"{pubkey} is read-only", builtin="ReadonlyDataModified")
        if old.executable != account.executable:
            raise ProgramError(f"{pubkey} executable flag changed", builtin="ExecutableModified")
        owned = old.owner == program
        if old.owner != account.owner and (not owned or any(account.data)):
            raise ProgramError(f"{pubkey} owner change refused", builtin="ModifiedProgramId")
        if not owned:
            if len(old.data) != len(account.data):
                raise ProgramError(f"{pubkey} resized by non-owner", builtin="AccountDataSizeChanged")
            if old.data != account.data:
                raise ProgramError(f"{pubkey} not owned by {program}", builtin="ExternalAccountDataModified")
            if account.lamports < old.lamports:
                raise ProgramError(f"{pubkey} not owned by {program}", builtin="ExternalAccountLamportSpend")
        if account.lamports < 0 or account.lamports >= 1 << 64:
            raise ProgramError("lamports out of range", builtin="ArithmeticOverflow")
        for f in self._frames:
            if pubkey not in f.pre_lamports:
                f.pre_lamports[pubkey] = old.lamports
        self.staged[pubkey] = account

    def log(self, message: str) -> None:
        """Append ``Program log: <message>``."""
        self.logs.append("Program log: " + message)

    def consume(self, units: int) -> None:
        """Charge compute units; raise ProgramError("ComputationalBudgetExceeded") past the limit."""
        self.units_left -= units
        if self.units_left < 0:
            self.units_left = 0
            raise ProgramError("compute budget exceeded", builtin="ComputationalBudgetExceeded")

    def token_transfer(
        self, source: Pubkey, destination: Pubkey, authority: Pubkey, amount: int, *, pda_signed: bool = False
    ) -> None:
        """SPL Token ``Transfer`` by CPI into the token program owning ``source`` (see base protocol)."""
        src = self.get(source)
        if src is None or src.owner not in TOKEN_PROGRAMS:
            raise ProgramError(f"{source} is not a token account", builtin="IncorrectProgramId")
        refs = (AccountRef(source, False, True), AccountRef(destination, False, True),
                AccountRef(authority, True, False))
        self.invoke(src.owner, refs, _TRANSFER_TAG + amount.to_bytes(8, "little"),
                    signers=(authority,) if pda_signed else ())

    # ---- beyond the protocol: CPI, return data, introspection ----------------------------------

    @property
    def program_id(self) -> Pubkey:
        """The program currently executing."""
        return self._frames[-1].program_id

    @property
    def depth(self) -> int:
        """Current invocation depth (1 for a top-level instruction)."""
        return len(self._frames)

    def is_signer(self, pubkey: Pubkey) -> bool:
        """Whether ``pubkey`` signs the current instruction (a transaction signer or a PDA signer)."""
        frame = self._frames[-1]
        ref = frame.accounts.get(pubkey)
        return (ref is not None and ref.is_signer) or pubkey in frame.pda_signers

    def set_return_data(self, data: bytes) -> None:
        """Set the transaction's return data (logged as ``Program return: <id> <base64>``)."""
        self.return_data = (self.program_id, data)
        self.logs.append(f"Program return: {self.program_id} {base64.b64encode(data).decode()}")

    def invoke(
        self, program_id: Pubkey, accounts: Sequence[AccountRef], data: bytes,
        *, signers: Collection[Pubkey] = (),
    ) -> None:
        """Cross-program invocation (``invoke_signed``): ``signers`` are PDAs the caller signs for.

        Signer and writable privileges must be held by the caller (``PrivilegeEscalation``).
        """
        caller = self._frames[-1]
        if len(self._frames) >= MAX_INVOKE_DEPTH:
            raise ProgramError("call depth", builtin="CallDepth")
        for ref in accounts:
            held = caller.accounts.get(ref.pubkey)
            if held is None:
                raise ProgramError(f"account {ref.pubkey} not passed to caller", builtin="MissingAccount")
            if (ref.is_signer and not held.is_signer and ref.pubkey not in signers
                    and ref.pubkey not in caller.pda_signers) or (ref.is_writable and not held.is_writable):
                raise ProgramError(f"{ref.pubkey} privilege escalated", builtin="PrivilegeEscalation")
        if signers:
            accounts = [AccountRef(r.pubkey, r.is_signer or r.pubkey in signers, r.is_writable)
                        for r in accounts]
        self.run(program_id, accounts, data)

    def run(self, program_id: Pubkey, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute one invocation at the next depth, with the runtime's logs; raises ProgramError."""
        model = self._programs.get(program_id)
        if model is None:
            raise ProgramError(f"program {program_id} is not executable", builtin="InvalidAccountData")
        depth = len(self._frames) + 1
        refs: dict[Pubkey, AccountRef] = {}
        for r in accounts:  # a key listed twice keeps the union of its privileges
            prev = refs.get(r.pubkey)
            refs[r.pubkey] = r if prev is None else AccountRef(
                r.pubkey, r.is_signer or prev.is_signer, r.is_writable or prev.is_writable)
        frame = _Frame(program_id, refs, ())
        logs = self.logs
        logs.append(f"Program {program_id} invoke [{depth}]")
        start = self.units_left
        builtin = getattr(model, "builtin", False)
        self._frames.append(frame)
        try:
            model.execute(self, accounts, data)
            self._check_balanced(frame)
        except ProgramError as exc:
            if not builtin:
                logs.append(f"Program {program_id} consumed {start - self.units_left} of {start} compute units")
            logs.append(f"Program {program_id} failed: {failure_log_text(exc)}")
            raise
        finally:
            self._frames.pop()
        if not builtin:
            logs.append(f"Program {program_id} consumed {start - self.units_left} of {start} compute units")
        logs.append(f"Program {program_id} success")

    def _check_balanced(self, frame: _Frame) -> None:
        before = sum(frame.pre_lamports.values())
        after = 0
        for key in frame.pre_lamports:
            acc = self.staged.get(key) or self._base.get(key)
            after += acc.lamports if acc is not None else 0
        if before != after:
            raise ProgramError("unbalanced instruction", builtin="UnbalancedInstruction")
