"""The local cluster's bank: accounts, slots, blockhashes, transaction processing and listeners.

Synchronous and I/O-free; the RPC/PubSub servers call it and a ticker calls :meth:`Bank.advance_slot`.
A transaction goes through the real runtime's stages, in this order:

1. decode + sanitize (:class:`MalformedTransaction`), verify every signature (``SignatureFailure``);
2. recent blockhash known and not expired (``BlockhashNotFound``), signature not already processed
   (``AlreadyProcessed``), address lookup tables resolved (``AddressLookupTable*``);
3. compute budget parsed; fee = ``lamports_per_signature * signatures + ceil(limit * price / 1e6)``;
   the fee payer must exist (``AccountNotFound``), be a System account (``InvalidAccountForFee``) and
   keep 0 or a rent-exempt balance after the fee (``InsufficientFundsForFee``); every invoked program
   must be registered (``ProgramAccountNotFound`` / ``InvalidProgramForExecution``).
   Failures up to here raise :class:`TransactionFailed` and the transaction does not land.
4. the instructions run against staged state (:class:`~solarb.sim.invoke.TxContext`); the writes are
   committed only if all succeed and no writable account is left rent-paying
   (``InsufficientFundsForRent``). The fee is charged either way, and the transaction lands with its
   status (``{"InstructionError": [i, ...]}`` on failure).

Default compute-unit limit (no SetComputeUnitLimit), as the runtime since SIMD-0170: 200,000 per
instruction, 3,000 per builtin (System, Compute Budget) instruction, capped at 1,400,000.
Commitment: a transaction is ``processed`` in its slot, ``confirmed`` once a later slot exists and
``finalized`` when 32 slots deep (the root is ``slot - 32``). Block height equals slot (no skips).
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import SanitizeError, Transaction, VersionedTransaction

from solarb.dex.spl_token import (
    SYSTEM_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, TOKEN_PROGRAMS, WSOL_MINT, encode_mint,
)
from solarb.sim import tx_errors as E
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.invoke import TxContext
from solarb.sim.programs.associated_token import AssociatedTokenProgram
from solarb.sim.programs.base import AccountRef, ProgramError, ProgramModel
from solarb.sim.programs.compute_budget import (
    COMPUTE_BUDGET_PROGRAM_ID, MAX_COMPUTE_UNIT_LIMIT, ComputeBudgetError, ComputeBudgetProgram,
    parse_compute_budget,
)
from solarb.sim.programs.system import SystemProgram
from solarb.sim.programs.token import NATIVE_MINT_2022, TokenProgram
from solarb.sim.tx_errors import TransactionFailed, TxErr
from solarb.sim.programs.address_lookup_table import active_addresses

SLOTS_PER_EPOCH = 432_000
FINALITY_DEPTH = 32
DEFAULT_INSTRUCTION_UNITS = 200_000
DEFAULT_BUILTIN_UNITS = 3_000
MS_PER_SLOT = 400
SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
SYSVAR_CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
SYSVAR_RENT = Pubkey.from_string("SysvarRent111111111111111111111111111111111")
NATIVE_LOADER = Pubkey.from_string("NativeLoader1111111111111111111111111111111")
BPF_UPGRADEABLE_LOADER = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
ADDRESS_LOOKUP_TABLE_PROGRAM = Pubkey.from_string("AddressLookupTab1e1111111111111111111111111")
_LOOKUP_TABLE_META_LEN = 56
_CLOCK = struct.Struct("<QqQQq")


@dataclass(slots=True, frozen=True)
class TokenBalance:
    """A token account's balance in a transaction's pre/post token balances."""

    account_index: int
    mint: Pubkey
    owner: Pubkey
    amount: int
    decimals: int
    program_id: Pubkey

    def to_json(self) -> dict[str, Any]:
        """The RPC's ``preTokenBalances``/``postTokenBalances`` entry (uiAmount is display only)."""
        ui = str(self.amount).rjust(self.decimals + 1, "0")
        ui_str = (ui[:-self.decimals] + "." + ui[-self.decimals:]).rstrip("0").rstrip(".") \
            if self.decimals else ui
        return {
            "accountIndex": self.account_index, "mint": str(self.mint), "owner": str(self.owner),
            "programId": str(self.program_id),
            "uiTokenAmount": {"amount": str(self.amount), "decimals": self.decimals,
                              "uiAmount": float(ui_str) if self.amount else None,
                              "uiAmountString": ui_str},
        }


@dataclass(slots=True, frozen=True)
class TransactionRecord:
    """A landed transaction, with what getTransaction reports (``meta``)."""

    signature: Signature
    slot: int
    err: TxErr | None
    fee: int
    transaction: VersionedTransaction
    account_keys: list[Pubkey]  # static keys, then loaded writable, then loaded readonly
    loaded_writable: list[Pubkey]
    loaded_readonly: list[Pubkey]
    pre_balances: list[int]
    post_balances: list[int]
    pre_token_balances: list[TokenBalance]
    post_token_balances: list[TokenBalance]
    logs: list[str]
    units_consumed: int
    return_data: tuple[Pubkey, bytes] | None


@dataclass(slots=True, frozen=True)
class SignatureStatus:
    """getSignatureStatuses entry; ``confirmations`` is None once finalized."""

    slot: int
    confirmations: int | None
    err: TxErr | None
    confirmation_status: str  # "processed" | "confirmed" | "finalized"


@dataclass(slots=True, frozen=True)
class SimulationResult:
    """simulateTransaction's value. ``accounts`` is the post-state of every account of the message."""

    err: TxErr | None
    logs: list[str]
    units_consumed: int
    return_data: tuple[Pubkey, bytes] | None = None
    fee: int = 0
    accounts: dict[Pubkey, Account | None] | None = None
    replacement_blockhash: tuple[Hash, int] | None = None


class BankListener(Protocol):
    """Callbacks run synchronously after each commit. A deleted account is reported with lamports 0,
    empty data and the System program as owner. Exceptions propagate to the caller (after commit)."""

    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None: ...

    def on_slot(self, slot: int, parent: int, root: int) -> None: ...

    def on_signature(self, signature: Signature, slot: int, err: TxErr | None) -> None: ...


@dataclass(slots=True)
class _Loaded:
    message: Message | MessageV0
    keys: list[Pubkey]
    writable: set[Pubkey]
    instructions: list[tuple[Pubkey, tuple[AccountRef, ...], bytes]]
    loaded_writable: list[Pubkey]
    loaded_readonly: list[Pubkey]


@dataclass(slots=True)
class _Outcome:
    err: TxErr | None
    fee: int
    writes: dict[Pubkey, Account]
    logs: list[str]
    units: int
    return_data: tuple[Pubkey, bytes] | None


_DELETED = Account(0, b"", SYSTEM_PROGRAM_ID)


def _decode(tx: bytes | VersionedTransaction | Transaction) -> VersionedTransaction:
    try:
        if isinstance(tx, Transaction):
            vtx = VersionedTransaction.from_legacy(tx)
        elif isinstance(tx, VersionedTransaction):
            vtx = tx
        else:
            vtx = VersionedTransaction.from_bytes(bytes(tx))
        vtx.sanitize()
    except (ValueError, SanitizeError) as exc:
        raise E.MalformedTransaction(f"invalid transaction: {exc}") from exc
    return vtx


class Bank:
    """The cluster state machine (see module docstring). Not thread-safe: call from one thread."""

    def __init__(
        self,
        *,
        programs: Iterable[ProgramModel] = (),
        lamports_per_signature: int = 5000,
        blockhash_valid_slots: int = 150,
        seed: bytes = b"solarb-sim",
        genesis_unix_timestamp: int = 1_700_000_000,
        faucet_lamports: int = 500_000_000 * 10**9,
        max_history: int = 200_000,
    ) -> None:
        self.lamports_per_signature = lamports_per_signature
        self.blockhash_valid_slots = blockhash_valid_slots
        self.slot = 0
        self.block_height = 0
        self.unix_timestamp = genesis_unix_timestamp
        self._genesis_ts = genesis_unix_timestamp
        self._accounts: dict[Pubkey, Account] = {}
        self._by_owner: dict[Pubkey, dict[Pubkey, None]] = {}
        self._programs: dict[Pubkey, ProgramModel] = {}
        self._builtins: set[Pubkey] = set()
        self._listeners: list[BankListener] = []
        self._records: dict[Signature, TransactionRecord] = {}
        self._history: deque[Signature] = deque()
        self._max_history = max_history
        self._hash = Hash(hashlib.sha256(seed).digest())
        self._blockhashes: dict[Hash, int] = {self._hash: blockhash_valid_slots}
        self._hash_order: deque[Hash] = deque([self._hash])
        self._sysvars = {SYSVAR_CLOCK, SYSVAR_RENT}
        self._airdrops = 0
        self.faucet = Keypair.from_seed(hashlib.sha256(seed + b"/faucet").digest())
        for model in (SystemProgram(), ComputeBudgetProgram(), TokenProgram(TOKEN_PROGRAM_ID),
                      TokenProgram(TOKEN_2022_PROGRAM_ID), AssociatedTokenProgram(), *programs):
            self.add_program(model)
        mint = encode_mint(9)
        self._store(WSOL_MINT, Account(rent_exempt_minimum(len(mint)), mint, TOKEN_PROGRAM_ID))
        self._store(NATIVE_MINT_2022, Account(rent_exempt_minimum(len(mint)), mint, TOKEN_2022_PROGRAM_ID))
        rent = struct.pack("<QdB", 3480, 2.0, 50)
        self._store(SYSVAR_RENT, Account(rent_exempt_minimum(len(rent)), rent, SYSVAR_OWNER))
        self._store(SYSVAR_CLOCK, self._clock_account())
        self._store(self.faucet.pubkey(), Account(faucet_lamports, b"", SYSTEM_PROGRAM_ID))

    # ---- programs and accounts ----------------------------------------------------------------

    def add_program(self, model: ProgramModel) -> None:
        """Register a program model and give it an executable program account."""
        pid = model.program_id
        self._programs[pid] = model
        if getattr(model, "builtin", False):
            self._builtins.add(pid)
            data, loader = type(model).__name__.encode(), NATIVE_LOADER
        else:
            pdata = Pubkey.find_program_address([bytes(pid)], BPF_UPGRADEABLE_LOADER)[0]
            data, loader = struct.pack("<I32s", 2, bytes(pdata)), BPF_UPGRADEABLE_LOADER
        self._store(pid, Account(rent_exempt_minimum(len(data)), data, loader, executable=True))

    @property
    def epoch(self) -> int:
        """Current epoch (432,000 slots each)."""
        return self.slot // SLOTS_PER_EPOCH

    @property
    def root(self) -> int:
        """The highest finalized slot."""
        return max(0, self.slot - FINALITY_DEPTH)

    def get_account(self, pubkey: Pubkey) -> Account | None:
        """The committed account, None if it does not exist."""
        return self._accounts.get(pubkey)

    def set_account(self, pubkey: Pubkey, account: Account) -> None:
        """Overwrite an account outside of any transaction (genesis, tooling); notifies listeners.
        An account with 0 lamports is deleted."""
        self._store(pubkey, account)
        for listener in self._listeners:
            listener.on_account(pubkey, account if account.lamports else _DELETED, self.slot)

    def get_program_accounts(self, owner: Pubkey) -> list[tuple[Pubkey, Account]]:
        """Every account owned by ``owner`` (from an owner index)."""
        accounts = self._accounts
        return [(k, accounts[k]) for k in self._by_owner.get(owner, ())]

    def get_balance(self, pubkey: Pubkey) -> int:
        """Lamports of an account, 0 if it does not exist."""
        acc = self._accounts.get(pubkey)
        return acc.lamports if acc else 0

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        """Lamports needed for an account of ``data_len`` bytes to be rent exempt."""
        return rent_exempt_minimum(data_len)

    def _store(self, pubkey: Pubkey, account: Account) -> None:
        old = self._accounts.get(pubkey)
        if old is not None and (account.lamports == 0 or old.owner != account.owner):
            bucket = self._by_owner.get(old.owner)
            if bucket is not None:
                bucket.pop(pubkey, None)
        if account.lamports == 0:
            self._accounts.pop(pubkey, None)
            return
        self._accounts[pubkey] = account
        if old is None or old.owner != account.owner:
            self._by_owner.setdefault(account.owner, {})[pubkey] = None

    # ---- slots and blockhashes ----------------------------------------------------------------

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The newest blockhash and its last valid block height."""
        return self._hash, self._blockhashes[self._hash]

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        """Whether a transaction using ``blockhash`` would still be accepted."""
        last = self._blockhashes.get(blockhash)
        return last is not None and self.block_height <= last

    def advance_slot(self, *, unix_timestamp: int | None = None) -> int:
        """Close the current slot and open the next: new blockhash, block height + 1, Clock sysvar
        (``unix_timestamp`` defaults to genesis + 400 ms per slot). Notifies listeners; returns the slot."""
        parent = self.slot
        self.slot += 1
        self.block_height += 1
        self.unix_timestamp = (unix_timestamp if unix_timestamp is not None
                               else self._genesis_ts + self.slot * MS_PER_SLOT // 1000)
        self._hash = Hash(hashlib.sha256(bytes(self._hash) + self.slot.to_bytes(8, "little")).digest())
        self._blockhashes[self._hash] = self.block_height + self.blockhash_valid_slots
        self._hash_order.append(self._hash)
        while self._blockhashes[self._hash_order[0]] < self.block_height:
            del self._blockhashes[self._hash_order.popleft()]
        clock = self._clock_account()
        self._store(SYSVAR_CLOCK, clock)
        for listener in self._listeners:
            listener.on_account(SYSVAR_CLOCK, clock, self.slot)
            listener.on_slot(self.slot, parent, self.root)
        return self.slot

    def _clock_account(self) -> Account:
        epoch = self.epoch
        epoch_start_ts = self._genesis_ts + epoch * SLOTS_PER_EPOCH * MS_PER_SLOT // 1000
        data = _CLOCK.pack(self.slot, epoch_start_ts, epoch, epoch + 1, self.unix_timestamp)
        return Account(rent_exempt_minimum(len(data)), data, SYSVAR_OWNER)

    # ---- listeners and history ----------------------------------------------------------------

    def add_listener(self, listener: BankListener) -> None:
        """Register callbacks (see :class:`BankListener`)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: BankListener) -> None:
        """Unregister callbacks added with :meth:`add_listener`."""
        self._listeners.remove(listener)

    def signature_status(self, signature: Signature) -> SignatureStatus | None:
        """Status of a landed transaction (commitment computed from the current slot), or None."""
        rec = self._records.get(signature)
        if rec is None:
            return None
        depth = self.slot - rec.slot
        if rec.slot <= self.root and depth >= FINALITY_DEPTH:
            return SignatureStatus(rec.slot, None, rec.err, "finalized")
        return SignatureStatus(rec.slot, depth, rec.err, "confirmed" if depth > 0 else "processed")

    def transaction(self, signature: Signature) -> TransactionRecord | None:
        """The landed transaction with its metadata (getTransaction), or None."""
        return self._records.get(signature)

    # ---- fees ---------------------------------------------------------------------------------

    def fee_for_message(self, message: Message | MessageV0 | bytes) -> int:
        """Fee in lamports: signatures x lamports_per_signature + prioritization fee.
        Raises TransactionFailed for invalid compute budget instructions."""
        if isinstance(message, bytes | bytearray):
            try:
                message = (MessageV0.from_bytes(bytes(message)[1:]) if message[0] & 0x80
                           else Message.from_bytes(bytes(message)))
            except ValueError as exc:
                raise E.MalformedTransaction(f"invalid message: {exc}") from exc
        keys = message.account_keys
        pairs = [(pid_idx, ix.data) for pid_idx, ix in enumerate(message.instructions)]
        programs = [keys[ix.program_id_index] if ix.program_id_index < len(keys) else None
                    for ix in message.instructions]
        return self._fee(message.header.num_required_signatures, programs, pairs)[0]

    def _fee(self, num_signatures: int, programs: Sequence[Pubkey | None],
             pairs: Sequence[tuple[int, bytes]]) -> tuple[int, int]:
        """(fee, compute unit limit)."""
        try:
            budget = parse_compute_budget(
                (i, data) for (i, data), pid in zip(pairs, programs) if pid == COMPUTE_BUDGET_PROGRAM_ID)
        except ComputeBudgetError as exc:
            raise TransactionFailed(exc.err) from exc  # type: ignore[arg-type]
        limit = budget.unit_limit
        if limit is None:
            builtins = self._builtins
            limit = min(MAX_COMPUTE_UNIT_LIMIT, sum(
                DEFAULT_BUILTIN_UNITS if p in builtins else DEFAULT_INSTRUCTION_UNITS for p in programs))
        fee = self.lamports_per_signature * num_signatures + (limit * budget.unit_price + 999_999) // 1_000_000
        return fee, limit

    # ---- transactions -------------------------------------------------------------------------

    def process_transaction(self, tx: bytes | VersionedTransaction | Transaction) -> Signature:
        """Verify, execute and commit a transaction; return its signature.

        A transaction whose instruction fails still lands (fee charged, status err recorded).
        Raises TransactionFailed (``.err``, ``.logs``) when it cannot land, MalformedTransaction
        when it does not decode.
        """
        vtx = _decode(tx)
        if not all(vtx.verify_with_results()):
            raise TransactionFailed(E.SIGNATURE_FAILURE)
        message = vtx.message
        if not self.is_blockhash_valid(message.recent_blockhash):
            raise TransactionFailed(E.BLOCKHASH_NOT_FOUND)
        signature = vtx.signatures[0]
        if signature in self._records:
            raise TransactionFailed(E.ALREADY_PROCESSED)
        loaded = self._load(message)
        pre = self._accounts
        pre_accounts = [pre.get(k) for k in loaded.keys]
        out = self._execute(loaded)
        for key, acc in out.writes.items():
            self._store(key, acc)
        post_accounts = [pre.get(k) for k in loaded.keys]
        rec = TransactionRecord(
            signature, self.slot, out.err, out.fee, vtx, loaded.keys, loaded.loaded_writable,
            loaded.loaded_readonly,
            [a.lamports if a else 0 for a in pre_accounts], [a.lamports if a else 0 for a in post_accounts],
            self._token_balances(pre_accounts), self._token_balances(post_accounts),
            out.logs, out.units, out.return_data,
        )
        self._records[signature] = rec
        self._history.append(signature)
        if len(self._history) > self._max_history:
            self._records.pop(self._history.popleft(), None)
        for listener in self._listeners:
            for key, acc in out.writes.items():
                listener.on_account(key, acc if acc.lamports else _DELETED, self.slot)
            listener.on_signature(signature, self.slot, out.err)
        return signature

    def simulate_transaction(
        self, tx: bytes | VersionedTransaction | Transaction, *, sig_verify: bool = False,
        replace_recent_blockhash: bool = False,
    ) -> SimulationResult:
        """Execute without committing. Pre-execution failures are reported in ``err``, not raised
        (only undecodable input raises MalformedTransaction)."""
        vtx = _decode(tx)
        message = vtx.message
        replaced = None
        if replace_recent_blockhash:
            replaced = self.latest_blockhash()
            if isinstance(message, MessageV0):
                message = MessageV0(message.header, message.account_keys, replaced[0],
                                    message.instructions, message.address_table_lookups)
            else:
                message = Message.new_with_compiled_instructions(
                    message.header.num_required_signatures, message.header.num_readonly_signed_accounts,
                    message.header.num_readonly_unsigned_accounts, message.account_keys, replaced[0],
                    message.instructions)
        try:
            if sig_verify and not all(vtx.verify_with_results()):
                raise TransactionFailed(E.SIGNATURE_FAILURE)
            if not self.is_blockhash_valid(message.recent_blockhash):
                raise TransactionFailed(E.BLOCKHASH_NOT_FOUND)
            loaded = self._load(message)
            out = self._execute(loaded)
        except TransactionFailed as exc:
            return SimulationResult(exc.err, exc.logs, 0, replacement_blockhash=replaced)
        accounts = {k: out.writes.get(k, self._accounts.get(k)) for k in loaded.keys}
        return SimulationResult(
            out.err, out.logs, out.units, out.return_data, out.fee,
            {k: (a if a is not None and a.lamports else None) for k, a in accounts.items()}, replaced,
        )

    def airdrop(self, pubkey: Pubkey, lamports: int) -> Signature:
        """Send ``lamports`` from the faucet with a real, signed System transfer; return its signature.

        Each airdrop carries a distinct SetComputeUnitLimit so repeated identical airdrops within a
        blockhash's lifetime are distinct transactions. Raises TransactionFailed like any transaction.
        """
        from solders.compute_budget import set_compute_unit_limit
        from solders.system_program import TransferParams, transfer

        self._airdrops += 1
        faucet = self.faucet.pubkey()
        ixs = [set_compute_unit_limit(10_000 + self._airdrops % 1_000_000),
               transfer(TransferParams(from_pubkey=faucet, to_pubkey=pubkey, lamports=lamports))]
        msg = Message.new_with_blockhash(ixs, faucet, self._hash)
        return self.process_transaction(VersionedTransaction(msg, [self.faucet]))

    def _load(self, message: Message | MessageV0) -> _Loaded:
        header = message.header
        static = message.account_keys
        loaded_w: list[Pubkey] = []
        loaded_r: list[Pubkey] = []
        if isinstance(message, MessageV0) and message.address_table_lookups:
            for lookup in message.address_table_lookups:
                table = self._lookup_table(lookup.account_key)
                for indexes, out in ((lookup.writable_indexes, loaded_w), (lookup.readonly_indexes, loaded_r)):
                    for i in indexes:
                        if i >= len(table):
                            raise TransactionFailed(E.INVALID_ADDRESS_LOOKUP_TABLE_INDEX)
                        out.append(table[i])
        keys = list(static) + loaded_w + loaded_r
        if len(set(keys)) != len(keys):
            raise TransactionFailed(E.ACCOUNT_LOADED_TWICE)
        nsig = header.num_required_signatures
        w_signed = nsig - header.num_readonly_signed_accounts
        w_unsigned = len(static) - header.num_readonly_unsigned_accounts
        reserved = self._programs
        writable = {k for i, k in enumerate(static)
                    if (i < w_signed or nsig <= i < w_unsigned) and k not in reserved and k not in self._sysvars}
        writable.update(k for k in loaded_w if k not in reserved)
        refs_cache: dict[int, AccountRef] = {}
        instructions = []
        for ix in message.instructions:
            refs = []
            for j in ix.accounts:
                ref = refs_cache.get(j)
                if ref is None:
                    k = keys[j]
                    ref = refs_cache[j] = AccountRef(k, j < nsig, k in writable)
                refs.append(ref)
            instructions.append((keys[ix.program_id_index], tuple(refs), ix.data))
        return _Loaded(message, keys, writable, instructions, loaded_w, loaded_r)

    def _lookup_table(self, address: Pubkey) -> list[Pubkey]:
        acc = self._accounts.get(address)
        if acc is None:
            raise TransactionFailed(E.ADDRESS_LOOKUP_TABLE_NOT_FOUND)
        if acc.owner != ADDRESS_LOOKUP_TABLE_PROGRAM:
            raise TransactionFailed(E.INVALID_ADDRESS_LOOKUP_TABLE_OWNER)
        if len(acc.data) < _LOOKUP_TABLE_META_LEN or (len(acc.data) - _LOOKUP_TABLE_META_LEN) % 32:
            raise TransactionFailed(E.INVALID_ADDRESS_LOOKUP_TABLE_DATA)
        try:  # the runtime's rules: same-slot extensions not usable yet, deactivated tables gone
            addresses = active_addresses(acc.data, self.slot)
        except ValueError:
            raise TransactionFailed(E.INVALID_ADDRESS_LOOKUP_TABLE_DATA) from None
        if addresses is None:
            raise TransactionFailed(E.ADDRESS_LOOKUP_TABLE_NOT_FOUND)
        return addresses

    def _execute(self, loaded: _Loaded) -> _Outcome:
        """Fee, program checks, instruction execution and rent-state check (see module docstring)."""
        instructions = loaded.instructions
        programs = [pid for pid, _, _ in instructions]
        fee, limit = self._fee(loaded.message.header.num_required_signatures, programs,
                               [(i, data) for i, (_, _, data) in enumerate(instructions)])
        payer_key = loaded.keys[0]
        payer = self._accounts.get(payer_key)
        if payer is None:
            raise TransactionFailed(E.ACCOUNT_NOT_FOUND)
        if payer.owner != SYSTEM_PROGRAM_ID or payer_key not in loaded.writable:
            raise TransactionFailed(E.INVALID_ACCOUNT_FOR_FEE)
        left = payer.lamports - fee
        if left < 0 or 0 < left < rent_exempt_minimum(len(payer.data)):
            raise TransactionFailed(E.INSUFFICIENT_FUNDS_FOR_FEE)
        for pid in programs:
            if pid not in self._programs:
                acc = self._accounts.get(pid)
                raise TransactionFailed(E.INVALID_PROGRAM_FOR_EXECUTION if acc and acc.executable
                                        else E.PROGRAM_ACCOUNT_NOT_FOUND)
        paid = Account(left, payer.data, payer.owner, payer.executable, payer.rent_epoch)
        visible = set(loaded.keys)
        visible.update(self._sysvars)
        ctx = TxContext(self._accounts, self._programs, visible, loaded.writable, limit)
        ctx.staged[payer_key] = paid
        err: TxErr | None = None
        for index, (pid, refs, data) in enumerate(instructions):
            try:
                ctx.run(pid, refs, data)
            except ProgramError as exc:
                err = E.instruction_error(index, exc)
                break
        if err is None:
            err = self._rent_state_error(ctx.staged, loaded.keys)
        units = limit - ctx.units_left
        if err is not None:
            return _Outcome(err, fee, {payer_key: paid}, ctx.logs, units, None)
        return _Outcome(None, fee, ctx.staged, ctx.logs, units, ctx.return_data)

    def _rent_state_error(self, staged: dict[Pubkey, Account], keys: list[Pubkey]) -> TxErr | None:
        for key, acc in staged.items():
            if acc.lamports == 0:
                continue
            minimum = rent_exempt_minimum(len(acc.data))
            if acc.lamports >= minimum:
                continue
            pre = self._accounts.get(key)
            if pre is not None and pre.lamports < rent_exempt_minimum(len(pre.data)) \
                    and len(pre.data) == len(acc.data) and acc.lamports <= pre.lamports:
                continue  # an already rent-paying account may stay so
            return E.insufficient_funds_for_rent(keys.index(key))
        return None

    def _token_balances(self, accounts: list[Account | None]) -> list[TokenBalance]:
        out = []
        for i, acc in enumerate(accounts):
            if acc is None or acc.owner not in TOKEN_PROGRAMS or len(acc.data) < 165 or acc.data[108] == 0:
                continue
            mint = Pubkey.from_bytes(acc.data[0:32])
            macc = self._accounts.get(mint)
            decimals = macc.data[44] if macc is not None and len(macc.data) >= 82 else 0
            out.append(TokenBalance(i, mint, Pubkey.from_bytes(acc.data[32:64]),
                                    int.from_bytes(acc.data[64:72], "little"), decimals, acc.owner))
        return out
