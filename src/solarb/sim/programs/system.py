"""Model of the System program (``11111111111111111111111111111111``).

Instructions (bincode: u32 LE tag, then fields): CreateAccount (0), Assign (1), Transfer (2),
CreateAccountWithSeed (3), Allocate (8). Others fail with ``InvalidInstructionData``.
Errors are the program's ``SystemError`` codes; each instruction costs 150 compute units (the
builtin's fixed cost) and, as a builtin, logs no "consumed" line.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from solders.pubkey import Pubkey

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.sim.accounts import Account
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

COMPUTE_UNITS = 150
MAX_PERMITTED_DATA_LENGTH = 10 * 1024 * 1024
MAX_SEED_LEN = 32

# SystemError codes
ACCOUNT_ALREADY_IN_USE = 0
RESULT_WITH_NEGATIVE_LAMPORTS = 1
INVALID_ACCOUNT_DATA_LENGTH = 3
MAX_SEED_LENGTH_EXCEEDED = 4
ADDRESS_WITH_SEED_MISMATCH = 5

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_CREATE = struct.Struct("<QQ32s")
_EMPTY = Account(0, b"", SYSTEM_PROGRAM_ID)


def _bad_data() -> ProgramError:
    return ProgramError("invalid system instruction data", builtin="InvalidInstructionData")


def _key(accounts: Sequence[AccountRef], i: int) -> AccountRef:
    if i >= len(accounts):
        raise ProgramError("not enough account keys", builtin="NotEnoughAccountKeys")
    return accounts[i]


class SystemProgram:
    """The System program model (see module docstring)."""

    program_id = SYSTEM_PROGRAM_ID
    builtin = True

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute one System instruction."""
        ctx.consume(COMPUTE_UNITS)
        if len(data) < 4:
            raise _bad_data()
        tag = _U32.unpack_from(data)[0]
        try:
            if tag == 2:
                (lamports,) = _U64.unpack_from(data, 4)
                self._transfer(ctx, _key(accounts, 0), _key(accounts, 1).pubkey, lamports)
            elif tag == 0:
                lamports, space, owner = _CREATE.unpack_from(data, 4)
                frm, to = _key(accounts, 0), _key(accounts, 1)
                self._create(ctx, frm, to.pubkey, to.is_signer, lamports, space, Pubkey.from_bytes(owner))
            elif tag == 1:
                if len(data) < 36:
                    raise _bad_data()
                owner = Pubkey.from_bytes(data[4:36])
                self._assign(ctx, _key(accounts, 0), owner)
            elif tag == 8:
                (space,) = _U64.unpack_from(data, 4)
                self._allocate(ctx, _key(accounts, 0).pubkey, _key(accounts, 0).is_signer, space)
            elif tag == 3:
                self._create_with_seed(ctx, accounts, data)
            else:
                raise _bad_data()
        except (struct.error, ValueError) as exc:
            raise _bad_data() from exc

    @staticmethod
    def _transfer(ctx: InvokeContext, frm: AccountRef, to: Pubkey, lamports: int) -> None:
        if not frm.is_signer:
            ctx.log(f"Transfer: `from` account {frm.pubkey} must sign")
            raise ProgramError("from must sign", builtin="MissingRequiredSignature")
        src = ctx.get(frm.pubkey) or _EMPTY
        if src.data:
            ctx.log("Transfer: `from` must not carry data")
            raise ProgramError("from carries data", builtin="InvalidArgument")
        if lamports > src.lamports:
            ctx.log(f"Transfer: insufficient lamports {src.lamports}, need {lamports}")
            raise ProgramError("insufficient lamports", code=RESULT_WITH_NEGATIVE_LAMPORTS)
        ctx.set(frm.pubkey, Account(src.lamports - lamports, src.data, src.owner, src.executable, src.rent_epoch))
        dst = ctx.get(to) or _EMPTY
        ctx.set(to, Account(dst.lamports + lamports, dst.data, dst.owner, dst.executable, dst.rent_epoch))

    def _create(
        self, ctx: InvokeContext, frm: AccountRef, to: Pubkey, to_signed: bool,
        lamports: int, space: int, owner: Pubkey,
    ) -> None:
        existing = ctx.get(to)
        if existing is not None and existing.lamports > 0:
            ctx.log(f"Create Account: account Address {{ address: {to}, base: None }} already in use")
            raise ProgramError("account already in use", code=ACCOUNT_ALREADY_IN_USE)
        self._allocate(ctx, to, to_signed, space)
        acc = ctx.get(to) or _EMPTY
        ctx.set(to, Account(acc.lamports, acc.data, owner))
        self._transfer(ctx, frm, to, lamports)

    @staticmethod
    def _allocate(ctx: InvokeContext, address: Pubkey, signed: bool, space: int) -> None:
        if not signed:
            ctx.log(f"Allocate: 'to' account Address {{ address: {address}, base: None }} must sign")
            raise ProgramError("to must sign", builtin="MissingRequiredSignature")
        acc = ctx.get(address) or _EMPTY
        if acc.data or acc.owner != SYSTEM_PROGRAM_ID:
            ctx.log(f"Allocate: account Address {{ address: {address}, base: None }} already in use")
            raise ProgramError("account already in use", code=ACCOUNT_ALREADY_IN_USE)
        if space > MAX_PERMITTED_DATA_LENGTH:
            ctx.log(f"Allocate: requested {space}, max allowed {MAX_PERMITTED_DATA_LENGTH}")
            raise ProgramError("invalid data length", code=INVALID_ACCOUNT_DATA_LENGTH)
        if space:
            ctx.set(address, Account(acc.lamports, bytes(space), acc.owner))

    @staticmethod
    def _assign(ctx: InvokeContext, ref: AccountRef, owner: Pubkey) -> None:
        acc = ctx.get(ref.pubkey) or _EMPTY
        if acc.owner == owner:
            return
        if not ref.is_signer:
            ctx.log(f"Assign: account Address {{ address: {ref.pubkey}, base: None }} must sign")
            raise ProgramError("account must sign", builtin="MissingRequiredSignature")
        ctx.set(ref.pubkey, Account(acc.lamports, acc.data, owner, acc.executable, acc.rent_epoch))

    def _create_with_seed(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        base = Pubkey.from_bytes(data[4:36])
        (seed_len,) = _U64.unpack_from(data, 36)
        seed_end = 44 + seed_len
        if seed_end > len(data):
            raise _bad_data()
        seed = data[44:seed_end].decode()
        lamports, space, owner_raw = _CREATE.unpack_from(data, seed_end)
        owner = Pubkey.from_bytes(owner_raw)
        frm, to = _key(accounts, 0), _key(accounts, 1)
        if len(seed) > MAX_SEED_LEN:
            raise ProgramError("seed too long", code=MAX_SEED_LENGTH_EXCEEDED)
        derived = Pubkey.create_with_seed(base, seed, owner)
        if derived != to.pubkey:
            ctx.log(f"Create: address {to.pubkey} does not match derived address {derived}")
            raise ProgramError("address with seed mismatch", code=ADDRESS_WITH_SEED_MISMATCH)
        base_signed = any(a.pubkey == base and a.is_signer for a in accounts)
        self._create(ctx, frm, to.pubkey, base_signed, lamports, space, owner)
