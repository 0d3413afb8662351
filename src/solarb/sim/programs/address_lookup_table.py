"""Model of the Address Lookup Table program (``AddressLookupTab1e1111111111111111111111111``).

Instructions (bincode: u32 LE tag, then fields), accounts as the real program:

- CreateLookupTable (0) ``recent_slot: u64, bump_seed: u8`` - [table (w), authority, payer (s, w),
  system program]. The table is the PDA ``[authority, recent_slot LE]``; ``recent_slot`` must be
  in SlotHashes (one of the 512 slots before the current one), else ``InvalidInstructionData``.
  The payer funds rent for 56 bytes through System ``Transfer``; ``Allocate``/``Assign`` follow.
- FreezeLookupTable (1) - [table (w), authority (s)]: authority removed, table immutable.
- ExtendLookupTable (2) ``new_addresses: Vec<Pubkey>`` - [table (w), authority (s), payer (s, w),
  system program]; the payer funds the growth. A first extension in a slot records
  ``last_extended_slot`` and ``last_extended_slot_start_index`` (addresses from that index on are
  usable from the next slot only, see :func:`active_addresses`).
- DeactivateLookupTable (3) - [table (w), authority (s)]: ``deactivation_slot`` = current slot.
- CloseLookupTable (4) - [table (w), authority (s), recipient (w)]: once fully deactivated.

Account layout (the runtime's ``ProgramState::LookupTable``): u32 tag 1, u64 deactivation_slot
(``u64::MAX`` while active), u64 last_extended_slot, u8 last_extended_slot_start_index,
``Option<Pubkey>`` authority (1 + 32 bytes), u16 padding = 56 bytes, then 32-byte addresses.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

__all__ = [
    "ADDRESS_LOOKUP_TABLE_PROGRAM_ID",
    "LOOKUP_TABLE_MAX_ADDRESSES",
    "LOOKUP_TABLE_META_SIZE",
    "MAX_SLOT_HASHES",
    "AddressLookupTableModel",
    "LookupTableMeta",
    "active_addresses",
    "decode_meta",
    "encode_table",
]

ADDRESS_LOOKUP_TABLE_PROGRAM_ID = Pubkey.from_string("AddressLookupTab1e1111111111111111111111111")
LOOKUP_TABLE_META_SIZE = 56
LOOKUP_TABLE_MAX_ADDRESSES = 256
MAX_SLOT_HASHES = 512  # SlotHashes sysvar entries
U64_MAX = (1 << 64) - 1
COMPUTE_UNITS = 750

_SYSVAR_CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
_META = struct.Struct("<IQQB")  # tag, deactivation_slot, last_extended_slot, start_index
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(slots=True, frozen=True)
class LookupTableMeta:
    """The 56-byte header of a lookup table account."""

    deactivation_slot: int
    last_extended_slot: int
    last_extended_slot_start_index: int
    authority: Pubkey | None


def encode_table(meta: LookupTableMeta, addresses: Sequence[Pubkey]) -> bytes:
    """Account data of a lookup table: meta (56 bytes) then the addresses."""
    head = _META.pack(1, meta.deactivation_slot, meta.last_extended_slot,
                      meta.last_extended_slot_start_index)
    auth = b"\x01" + bytes(meta.authority) if meta.authority is not None else b"\x00" * 33
    return head + auth + b"\x00\x00" + b"".join(bytes(a) for a in addresses)


def decode_meta(data: bytes) -> LookupTableMeta:
    """Decode the meta of a lookup table account; ``ValueError`` when it is not one."""
    if len(data) < LOOKUP_TABLE_META_SIZE or (len(data) - LOOKUP_TABLE_META_SIZE) % 32:
        raise ValueError("not a lookup table account (size)")
    tag, deactivation, last_slot, start = _META.unpack_from(data)
    if tag != 1:
        raise ValueError(f"not a lookup table account (state {tag})")
    opt = data[_META.size]
    if opt > 1:
        raise ValueError("bad authority option tag")
    authority = Pubkey.from_bytes(data[_META.size + 1:_META.size + 33]) if opt else None
    return LookupTableMeta(deactivation, last_slot, start, authority)


def active_addresses(data: bytes, current_slot: int) -> list[Pubkey] | None:
    """Addresses a transaction in ``current_slot`` may load from this table, as the runtime:
    addresses appended in ``current_slot`` are not usable yet; None for a deactivated table
    (deactivation slot older than SlotHashes: ``AddressLookupTableNotFound``).
    Raises ``ValueError`` for data that is not a lookup table."""
    meta = decode_meta(data)
    if meta.deactivation_slot != U64_MAX and current_slot - meta.deactivation_slot > MAX_SLOT_HASHES:
        return None
    body = data[LOOKUP_TABLE_META_SIZE:]
    n = len(body) // 32
    if meta.last_extended_slot >= current_slot:
        n = min(n, meta.last_extended_slot_start_index)
    return [Pubkey.from_bytes(body[i:i + 32]) for i in range(0, n * 32, 32)]


def _bad_data(msg: str = "invalid instruction data") -> ProgramError:
    return ProgramError(msg, builtin="InvalidInstructionData")


def _key(accounts: Sequence[AccountRef], i: int) -> AccountRef:
    if i >= len(accounts):
        raise ProgramError("not enough account keys", builtin="NotEnoughAccountKeys")
    return accounts[i]


def _system(ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes, signer: Pubkey | None = None) -> None:
    """CPI into the System program (``invoke``/``invoke_signed`` with the table PDA)."""
    invoke = getattr(ctx, "invoke", None)
    if invoke is None:
        raise ProgramError("context cannot invoke", builtin="UnsupportedProgramId")
    invoke(SYSTEM_PROGRAM_ID, accounts, data, signers=(signer,) if signer else ())


class AddressLookupTableModel:
    """The Address Lookup Table program model (see module docstring)."""

    program_id = ADDRESS_LOOKUP_TABLE_PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute one instruction; raises ProgramError as the real program would."""
        ctx.consume(COMPUTE_UNITS)
        if len(data) < 4:
            raise _bad_data()
        tag = _U32.unpack_from(data)[0]
        clock = ctx.get(_SYSVAR_CLOCK)
        slot = _U64.unpack_from(clock.data)[0] if clock is not None else 0
        try:
            if tag == 0:
                if len(data) < 13:
                    raise _bad_data()
                (recent,) = _U64.unpack_from(data, 4)
                self._create(ctx, accounts, recent, data[12], slot)
            elif tag == 2:
                (count,) = _U64.unpack_from(data, 4)
                if len(data) != 12 + 32 * count:
                    raise _bad_data()
                new = [Pubkey.from_bytes(data[12 + 32 * i:44 + 32 * i]) for i in range(count)]
                self._extend(ctx, accounts, new, slot)
            elif tag in (1, 3, 4):
                self._lifecycle(ctx, accounts, tag, slot)
            else:
                raise _bad_data()
        except struct.error as exc:
            raise _bad_data() from exc

    def _create(self, ctx: InvokeContext, accounts: Sequence[AccountRef], recent: int, bump: int,
                slot: int) -> None:
        table, authority, payer = _key(accounts, 0), _key(accounts, 1), _key(accounts, 2)
        existing = ctx.get(table.pubkey)
        if existing is not None and existing.owner == self.program_id:
            ctx.log("Table account must not be allocated")
            raise ProgramError("table exists", builtin="AccountAlreadyInitialized")
        if not payer.is_signer:
            raise ProgramError("payer must sign", builtin="MissingRequiredSignature")
        if not (recent < slot and slot - recent <= MAX_SLOT_HASHES):
            ctx.log(f"{recent} is not a recent slot")
            raise _bad_data()
        seeds = [bytes(authority.pubkey), recent.to_bytes(8, "little")]
        try:
            derived = Pubkey.create_program_address([*seeds, bytes([bump])], self.program_id)
        except Exception as exc:  # solders' PubkeyError (not importable): an on-curve bump
            raise ProgramError("invalid bump", builtin="InvalidArgument") from exc
        if derived != table.pubkey:
            ctx.log(f"Table address must match derived address: {derived}")
            raise ProgramError("table address mismatch", builtin="InvalidArgument")
        need = max(1, rent_exempt_minimum(LOOKUP_TABLE_META_SIZE))
        have = existing.lamports if existing is not None else 0
        if need > have:
            _system(ctx, [AccountRef(payer.pubkey, True, True), AccountRef(table.pubkey, False, True)],
                    _U32.pack(2) + _U64.pack(need - have))
        tbl = AccountRef(table.pubkey, True, True)
        _system(ctx, [tbl], _U32.pack(8) + _U64.pack(LOOKUP_TABLE_META_SIZE), table.pubkey)
        _system(ctx, [tbl], _U32.pack(1) + bytes(self.program_id), table.pubkey)
        acc = ctx.get(table.pubkey)
        assert acc is not None
        meta = LookupTableMeta(U64_MAX, 0, 0, authority.pubkey)
        ctx.set(table.pubkey, Account(acc.lamports, encode_table(meta, []), self.program_id))

    def _load(self, ctx: InvokeContext, accounts: Sequence[AccountRef]) -> tuple[Account, LookupTableMeta]:
        table, authority = _key(accounts, 0), _key(accounts, 1)
        acc = ctx.get(table.pubkey)
        if acc is None or acc.owner != self.program_id:
            raise ProgramError("not a lookup table", builtin="InvalidAccountOwner")
        try:
            meta = decode_meta(acc.data)
        except ValueError as exc:
            raise ProgramError(str(exc), builtin="InvalidAccountData") from exc
        if meta.authority is None:
            ctx.log("Lookup table is frozen")
            raise ProgramError("frozen", builtin="Immutable")
        if meta.authority != authority.pubkey:
            raise ProgramError("wrong authority", builtin="IncorrectAuthority")
        if not authority.is_signer:
            ctx.log("Authority account must be a signer")
            raise ProgramError("authority must sign", builtin="MissingRequiredSignature")
        return acc, meta

    def _extend(self, ctx: InvokeContext, accounts: Sequence[AccountRef], new: list[Pubkey],
                slot: int) -> None:
        acc, meta = self._load(ctx, accounts)
        if meta.deactivation_slot != U64_MAX:
            ctx.log("Deactivated tables cannot be extended")
            raise ProgramError("deactivated", builtin="InvalidArgument")
        old = (len(acc.data) - LOOKUP_TABLE_META_SIZE) // 32
        if not new:
            ctx.log("Must extend with at least one address")
            raise _bad_data()
        if old + len(new) > LOOKUP_TABLE_MAX_ADDRESSES:
            ctx.log("Extended lookup table length would exceed max capacity")
            raise _bad_data()
        if meta.last_extended_slot != slot:
            meta = LookupTableMeta(meta.deactivation_slot, slot, old, meta.authority)
        data = encode_table(meta, []) + acc.data[LOOKUP_TABLE_META_SIZE:] + b"".join(bytes(a) for a in new)
        table = _key(accounts, 0).pubkey
        ctx.set(table, Account(acc.lamports, data, self.program_id))
        need = max(1, rent_exempt_minimum(len(data))) - acc.lamports
        if need > 0:
            payer = _key(accounts, 2)
            if not payer.is_signer:
                raise ProgramError("payer must sign", builtin="MissingRequiredSignature")
            _system(ctx, [AccountRef(payer.pubkey, True, True), AccountRef(table, False, True)],
                    _U32.pack(2) + _U64.pack(need))

    def _lifecycle(self, ctx: InvokeContext, accounts: Sequence[AccountRef], tag: int, slot: int) -> None:
        acc, meta = self._load(ctx, accounts)
        table = _key(accounts, 0).pubkey
        body = acc.data[LOOKUP_TABLE_META_SIZE:]
        if tag == 1:  # freeze
            if meta.deactivation_slot != U64_MAX:
                raise ProgramError("deactivated", builtin="InvalidArgument")
            if not body:
                ctx.log("Empty lookup tables cannot be frozen")
                raise _bad_data()
            frozen = LookupTableMeta(meta.deactivation_slot, meta.last_extended_slot,
                                     meta.last_extended_slot_start_index, None)
            ctx.set(table, Account(acc.lamports, encode_table(frozen, []) + body, self.program_id))
        elif tag == 3:  # deactivate
            if meta.deactivation_slot != U64_MAX:
                ctx.log("Lookup table is already deactivated")
                raise ProgramError("deactivated", builtin="InvalidArgument")
            off = LookupTableMeta(slot, meta.last_extended_slot, meta.last_extended_slot_start_index,
                                  meta.authority)
            ctx.set(table, Account(acc.lamports, encode_table(off, []) + body, self.program_id))
        else:  # close
            recipient = _key(accounts, 2).pubkey
            if recipient == table:
                raise ProgramError("recipient is the table", builtin="InvalidArgument")
            if meta.deactivation_slot == U64_MAX:
                ctx.log("Lookup table is not deactivated")
                raise ProgramError("active", builtin="InvalidArgument")
            if slot - meta.deactivation_slot <= MAX_SLOT_HASHES:
                ctx.log("Table cannot be closed until it's fully deactivated")
                raise ProgramError("deactivating", builtin="InvalidArgument")
            dest = ctx.get(recipient)
            dest = dest if dest is not None else Account(0, b"", SYSTEM_PROGRAM_ID)
            ctx.set(table, Account(0, b"", self.program_id))
            ctx.set(recipient, Account(dest.lamports + acc.lamports, dest.data, dest.owner, dest.executable))
