"""Model of the SPL Token program, for both ``Tokenkeg…`` and ``Tokenz…`` (Token-2022).

Implemented (tag): InitializeMint (0), InitializeAccount (1), Transfer (3), Approve (4), Revoke (5),
MintTo (7), Burn (8), CloseAccount (9), TransferChecked (12), MintToChecked (14), BurnChecked (15),
InitializeAccount2 (16), SyncNative (17), InitializeAccount3 (18), InitializeMint2 (20),
GetAccountDataSize (21), InitializeImmutableOwner (22). Multisig authorities are not supported.

Token-2022 is modelled on the base layout only: accounts/mints longer than 165/82 bytes keep their
extension bytes untouched, the account-type byte (offset 165) is written on initialization, and
**transfer fees and other extensions are ignored** (a TransferFeeConfig mint transfers the full amount).

Errors are the program's ``TokenError`` codes (:data:`ERRORS`) or the runtime builtins the real
program returns. Compute units are approximations of the classic SPL Token program on mainnet
(:data:`COMPUTE_UNITS`); LiteSVM ships p-token, which is cheaper.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from solders.pubkey import Pubkey

from solarb.dex.spl_token import (
    MINT_LEN, SYSTEM_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM_ID, WSOL_MINT,
)
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

NATIVE_MINT_2022 = Pubkey.from_string("9pan9bMn5HatX4EJdBwg9VgCa7Uz5HL8N1m5D3NdXejP")

NOT_RENT_EXEMPT, INSUFFICIENT_FUNDS, INVALID_MINT, MINT_MISMATCH, OWNER_MISMATCH = 0, 1, 2, 3, 4
FIXED_SUPPLY, ALREADY_IN_USE, UNINITIALIZED_STATE, NATIVE_NOT_SUPPORTED = 5, 6, 9, 10
NON_NATIVE_HAS_BALANCE, INVALID_INSTRUCTION, INVALID_STATE, OVERFLOW = 11, 12, 13, 14
ACCOUNT_FROZEN, MINT_DECIMALS_MISMATCH, NON_NATIVE_NOT_SUPPORTED = 17, 18, 19

ERRORS: dict[int, str] = {
    0: "Lamport balance below rent-exempt threshold",
    1: "insufficient funds",
    2: "Invalid Mint",
    3: "Account not associated with this Mint",
    4: "owner does not match",
    5: "the total supply of this token is fixed",
    6: "account or token already in use",
    9: "State is unititialized",
    10: "Instruction does not support native tokens",
    11: "Non-native account can only be closed if its balance is zero",
    12: "Invalid instruction",
    13: "State is invalid for requested operation",
    14: "Operation overflowed",
    17: "Account is frozen",
    18: "The provided decimals value different from the Mint decimals",
    19: "Instruction does not support non-native tokens",
}

_NAMES = {0: "InitializeMint", 1: "InitializeAccount", 3: "Transfer", 4: "Approve", 5: "Revoke",
          7: "MintTo", 8: "Burn", 9: "CloseAccount", 12: "TransferChecked", 14: "MintToChecked",
          15: "BurnChecked", 16: "InitializeAccount2", 17: "SyncNative", 18: "InitializeAccount3",
          20: "InitializeMint2", 21: "GetAccountDataSize", 22: "InitializeImmutableOwner"}
COMPUTE_UNITS: dict[int, int] = {0: 2967, 1: 4527, 3: 4645, 4: 2904, 5: 2677, 7: 4538, 8: 4753,
                                 9: 2916, 12: 6200, 14: 4600, 15: 4800, 16: 4388, 17: 3045, 18: 4241,
                                 20: 2828, 21: 1600, 22: 1405}

_ACC = struct.Struct("<32s32sQI32sBIQQI32s")
_MINT = struct.Struct("<I32sQBBI32s")
_U64 = struct.Struct("<Q")
_ZERO32 = bytes(32)
_MAX_U64 = (1 << 64) - 1
_IMMUTABLE_OWNER_EXT = 7
_ACCOUNT_TYPE_MINT, _ACCOUNT_TYPE_ACCOUNT = 1, 2


def _err(code: int) -> ProgramError:
    return ProgramError(ERRORS.get(code, "token error"), code=code)


class _Tok:
    """A decoded, mutable token account (raw 32-byte keys to avoid Pubkey churn)."""

    __slots__ = ("f", "acc")

    def __init__(self, acc: Account) -> None:
        self.acc = acc
        self.f = list(_ACC.unpack_from(acc.data, 0))

    mint = property(lambda s: s.f[0])
    owner = property(lambda s: s.f[1])
    amount = property(lambda s: s.f[2])
    delegate = property(lambda s: s.f[4] if s.f[3] == 1 else None)
    frozen = property(lambda s: s.f[5] == 2)
    native = property(lambda s: s.f[7] if s.f[6] == 1 else None)

    def encode(self, lamports: int | None = None) -> Account:
        acc = self.acc
        data = _ACC.pack(*self.f) + acc.data[TOKEN_ACCOUNT_LEN:]
        return Account(acc.lamports if lamports is None else lamports, data, acc.owner,
                       acc.executable, acc.rent_epoch)


class TokenProgram:
    """SPL Token program model for one program id (see module docstring)."""

    builtin = False

    def __init__(self, program_id: Pubkey = TOKEN_PROGRAM_ID) -> None:
        self.program_id = program_id
        self._is_2022 = program_id == TOKEN_2022_PROGRAM_ID
        self._native_mint = bytes(NATIVE_MINT_2022 if self._is_2022 else WSOL_MINT)
        self._handlers: dict[int, Callable[[InvokeContext, Sequence[AccountRef], bytes], None]] = {
            0: self._init_mint, 20: self._init_mint, 1: self._init_account, 16: self._init_account,
            18: self._init_account, 3: self._transfer, 12: self._transfer, 7: self._mint_to,
            14: self._mint_to, 8: self._burn, 15: self._burn, 9: self._close, 17: self._sync_native,
            4: self._approve, 5: self._revoke, 21: self._data_size, 22: self._immutable_owner,
        }

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute one token instruction."""
        handler = self._handlers.get(data[0]) if data else None
        if handler is None:
            ctx.consume(1000)
            raise ProgramError("invalid instruction", builtin="InvalidInstructionData")
        tag = data[0]
        ctx.consume(COMPUTE_UNITS[tag])
        ctx.log(f"Instruction: {_NAMES[tag]}")
        try:
            handler(ctx, accounts, data)
        except ProgramError as exc:
            if exc.code is not None:
                ctx.log(f"Error: {ERRORS.get(exc.code, 'token error')}")
            raise
        except (struct.error, IndexError, ValueError) as exc:
            raise ProgramError("malformed token instruction", builtin="InvalidInstructionData") from exc

    # ---- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _ref(accounts: Sequence[AccountRef], i: int) -> AccountRef:
        if i >= len(accounts):
            raise ProgramError("not enough account keys", builtin="NotEnoughAccountKeys")
        return accounts[i]

    def _owned(self, ctx: InvokeContext, pubkey: Pubkey) -> Account:
        acc = ctx.get(pubkey)
        if acc is None:
            raise ProgramError(f"{pubkey} does not exist", builtin="UninitializedAccount")
        if acc.owner != self.program_id:
            raise ProgramError(f"{pubkey} not owned by token program", builtin="IncorrectProgramId")
        return acc

    def _len_ok(self, data: bytes, base: int) -> bool:
        return len(data) == base or (self._is_2022 and len(data) > TOKEN_ACCOUNT_LEN)

    def _account(self, ctx: InvokeContext, pubkey: Pubkey) -> _Tok:
        acc = self._owned(ctx, pubkey)
        if not self._len_ok(acc.data, TOKEN_ACCOUNT_LEN):
            raise ProgramError("bad token account size", builtin="InvalidAccountData")
        tok = _Tok(acc)
        if tok.f[5] == 0:
            raise ProgramError(f"{pubkey} uninitialized", builtin="UninitializedAccount")
        return tok

    def _mint(self, ctx: InvokeContext, pubkey: Pubkey) -> tuple[Account, list]:  # type: ignore[type-arg]
        acc = self._owned(ctx, pubkey)
        if not self._len_ok(acc.data, MINT_LEN):
            raise ProgramError("bad mint size", builtin="InvalidAccountData")
        f = list(_MINT.unpack_from(acc.data, 0))
        if not f[4]:
            raise ProgramError(f"{pubkey} uninitialized", builtin="UninitializedAccount")
        return acc, f

    @staticmethod
    def _validate_owner(ctx: InvokeContext, expected: bytes, authority: AccountRef) -> None:
        if bytes(authority.pubkey) != expected:
            raise _err(OWNER_MISMATCH)
        if not authority.is_signer:
            raise ProgramError("authority must sign", builtin="MissingRequiredSignature")

    def _authorize(self, ctx: InvokeContext, tok: _Tok, authority: AccountRef, amount: int) -> None:
        """Owner, or delegate within its allowance (which is then decremented)."""
        key = bytes(authority.pubkey)
        if tok.delegate == key and tok.owner != key:
            self._validate_owner(ctx, key, authority)
            if tok.f[8] < amount:
                raise _err(INSUFFICIENT_FUNDS)
            tok.f[8] -= amount
            if tok.f[8] == 0:
                tok.f[3], tok.f[4] = 0, _ZERO32
        else:
            self._validate_owner(ctx, tok.owner, authority)

    # ---- instructions ---------------------------------------------------------------------------

    def _init_mint(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        ref = self._ref(accounts, 0)
        acc = self._owned(ctx, ref.pubkey)
        if not self._len_ok(acc.data, MINT_LEN):
            raise ProgramError("bad mint size", builtin="InvalidAccountData")
        if acc.data[45]:
            raise _err(ALREADY_IN_USE)
        if acc.lamports < rent_exempt_minimum(len(acc.data)):
            raise _err(NOT_RENT_EXEMPT)
        decimals, authority = data[1], data[2:34]
        if len(authority) != 32:
            raise ProgramError("short data", builtin="InvalidInstructionData")
        freeze = data[35:67] if len(data) >= 67 and data[34] == 1 else None
        head = _MINT.pack(1, authority, 0, decimals, 1, 1 if freeze else 0, freeze or _ZERO32)
        tail = bytearray(acc.data[MINT_LEN:])
        if len(tail) > TOKEN_ACCOUNT_LEN - MINT_LEN:
            tail[TOKEN_ACCOUNT_LEN - MINT_LEN] = _ACCOUNT_TYPE_MINT
        ctx.set(ref.pubkey, Account(acc.lamports, head + bytes(tail), acc.owner, acc.executable, acc.rent_epoch))

    def _init_account(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        ref, mint_ref = self._ref(accounts, 0), self._ref(accounts, 1)
        if data[0] == 1:
            owner = bytes(self._ref(accounts, 2).pubkey)
        else:
            owner = data[1:33]
            if len(owner) != 32:
                raise ProgramError("short data", builtin="InvalidInstructionData")
        acc = self._owned(ctx, ref.pubkey)
        if not self._len_ok(acc.data, TOKEN_ACCOUNT_LEN):
            raise ProgramError("bad token account size", builtin="InvalidAccountData")
        if acc.data[108]:
            raise _err(ALREADY_IN_USE)
        reserve = rent_exempt_minimum(len(acc.data))
        if acc.lamports < reserve:
            raise _err(NOT_RENT_EXEMPT)
        mint = bytes(mint_ref.pubkey)
        is_native = mint == self._native_mint
        if not is_native:
            macc = ctx.get(mint_ref.pubkey)
            if macc is None or macc.owner != self.program_id:
                raise ProgramError("mint not owned by token program", builtin="IncorrectProgramId")
            if len(macc.data) < MINT_LEN or not macc.data[45]:
                raise _err(INVALID_MINT)
        amount = acc.lamports - reserve if is_native else 0
        head = _ACC.pack(mint, owner, amount, 0, _ZERO32, 1, 1 if is_native else 0,
                         reserve if is_native else 0, 0, 0, _ZERO32)
        tail = bytearray(acc.data[TOKEN_ACCOUNT_LEN:])
        if tail:
            tail[0] = _ACCOUNT_TYPE_ACCOUNT
        ctx.set(ref.pubkey, Account(acc.lamports, head + bytes(tail), acc.owner, acc.executable, acc.rent_epoch))

    def _transfer(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        checked = data[0] == 12
        (amount,) = _U64.unpack_from(data, 1)
        src_ref = self._ref(accounts, 0)
        dst_ref = self._ref(accounts, 2 if checked else 1)
        auth = self._ref(accounts, 3 if checked else 2)
        src = self._account(ctx, src_ref.pubkey)
        dst = src if dst_ref.pubkey == src_ref.pubkey else self._account(ctx, dst_ref.pubkey)
        if src.frozen or dst.frozen:
            raise _err(ACCOUNT_FROZEN)
        if src.amount < amount:
            raise _err(INSUFFICIENT_FUNDS)
        if src.mint != dst.mint:
            raise _err(MINT_MISMATCH)
        if checked:
            mint_ref = self._ref(accounts, 1)
            if bytes(mint_ref.pubkey) != src.mint:
                raise _err(MINT_MISMATCH)
            _, mint = self._mint(ctx, mint_ref.pubkey)
            if data[9] != mint[3]:
                raise _err(MINT_DECIMALS_MISMATCH)
        self._authorize(ctx, src, auth, amount)
        if dst is src:
            ctx.set(src_ref.pubkey, src.encode())
            return
        if dst.amount + amount > _MAX_U64:
            raise _err(OVERFLOW)
        src.f[2] -= amount
        dst.f[2] += amount
        if src.native is not None:
            ctx.set(src_ref.pubkey, src.encode(src.acc.lamports - amount))
            ctx.set(dst_ref.pubkey, dst.encode(dst.acc.lamports + amount))
        else:
            ctx.set(src_ref.pubkey, src.encode())
            ctx.set(dst_ref.pubkey, dst.encode())

    def _mint_to(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        (amount,) = _U64.unpack_from(data, 1)
        mint_ref, dst_ref, auth = (self._ref(accounts, i) for i in range(3))
        dst = self._account(ctx, dst_ref.pubkey)
        if dst.native is not None:
            raise _err(NATIVE_NOT_SUPPORTED)
        if dst.frozen:
            raise _err(ACCOUNT_FROZEN)
        if bytes(mint_ref.pubkey) != dst.mint:
            raise _err(MINT_MISMATCH)
        macc, mint = self._mint(ctx, mint_ref.pubkey)
        if data[0] == 14 and data[9] != mint[3]:
            raise _err(MINT_DECIMALS_MISMATCH)
        if mint[0] != 1:
            raise _err(FIXED_SUPPLY)
        self._validate_owner(ctx, mint[1], auth)
        if mint[2] + amount > _MAX_U64 or dst.amount + amount > _MAX_U64:
            raise _err(OVERFLOW)
        mint[2] += amount
        dst.f[2] += amount
        ctx.set(dst_ref.pubkey, dst.encode())
        ctx.set(mint_ref.pubkey, Account(macc.lamports, _MINT.pack(*mint) + macc.data[MINT_LEN:],
                                         macc.owner, macc.executable, macc.rent_epoch))

    def _burn(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        (amount,) = _U64.unpack_from(data, 1)
        src_ref, mint_ref, auth = (self._ref(accounts, i) for i in range(3))
        src = self._account(ctx, src_ref.pubkey)
        if src.frozen:
            raise _err(ACCOUNT_FROZEN)
        if src.native is not None:
            raise _err(NATIVE_NOT_SUPPORTED)
        if src.amount < amount:
            raise _err(INSUFFICIENT_FUNDS)
        if bytes(mint_ref.pubkey) != src.mint:
            raise _err(MINT_MISMATCH)
        macc, mint = self._mint(ctx, mint_ref.pubkey)
        if data[0] == 15 and data[9] != mint[3]:
            raise _err(MINT_DECIMALS_MISMATCH)
        self._authorize(ctx, src, auth, amount)
        src.f[2] -= amount
        mint[2] -= amount
        ctx.set(src_ref.pubkey, src.encode())
        ctx.set(mint_ref.pubkey, Account(macc.lamports, _MINT.pack(*mint) + macc.data[MINT_LEN:],
                                         macc.owner, macc.executable, macc.rent_epoch))

    def _close(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        src_ref, dst_ref, auth = (self._ref(accounts, i) for i in range(3))
        if src_ref.pubkey == dst_ref.pubkey:
            raise ProgramError("close into itself", builtin="InvalidAccountData")
        src = self._account(ctx, src_ref.pubkey)
        if src.native is None and src.amount != 0:
            raise _err(NON_NATIVE_HAS_BALANCE)
        self._validate_owner(ctx, src.f[10] if src.f[9] == 1 else src.owner, auth)
        dst = ctx.get(dst_ref.pubkey) or Account(0, b"", SYSTEM_PROGRAM_ID)
        lamports = src.acc.lamports
        ctx.set(src_ref.pubkey, Account(0, b"", SYSTEM_PROGRAM_ID))
        ctx.set(dst_ref.pubkey, Account(dst.lamports + lamports, dst.data, dst.owner,
                                        dst.executable, dst.rent_epoch))

    def _sync_native(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        ref = self._ref(accounts, 0)
        tok = self._account(ctx, ref.pubkey)
        reserve = tok.native
        if reserve is None:
            raise _err(NON_NATIVE_NOT_SUPPORTED)
        new_amount = tok.acc.lamports - reserve
        if new_amount < 0:
            raise _err(OVERFLOW)
        if new_amount < tok.amount:
            raise _err(INVALID_STATE)
        tok.f[2] = new_amount
        ctx.set(ref.pubkey, tok.encode())

    def _approve(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        (amount,) = _U64.unpack_from(data, 1)
        src_ref, delegate, owner = (self._ref(accounts, i) for i in range(3))
        src = self._account(ctx, src_ref.pubkey)
        if src.frozen:
            raise _err(ACCOUNT_FROZEN)
        self._validate_owner(ctx, src.owner, owner)
        src.f[3], src.f[4], src.f[8] = 1, bytes(delegate.pubkey), amount
        ctx.set(src_ref.pubkey, src.encode())

    def _revoke(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        src_ref, owner = self._ref(accounts, 0), self._ref(accounts, 1)
        src = self._account(ctx, src_ref.pubkey)
        if src.frozen:
            raise _err(ACCOUNT_FROZEN)
        self._validate_owner(ctx, src.owner, owner)
        src.f[3], src.f[4], src.f[8] = 0, _ZERO32, 0
        ctx.set(src_ref.pubkey, src.encode())

    def _data_size(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Return data: the account size for this mint (165; +5 with ImmutableOwner on Token-2022)."""
        _, _mint = self._mint(ctx, self._ref(accounts, 0).pubkey)
        size = TOKEN_ACCOUNT_LEN
        if self._is_2022:
            exts = [int.from_bytes(data[i:i + 2], "little") for i in range(1, len(data) - 1, 2)]
            size += 1 + 4 * len(set(exts)) if exts else 0
        set_return = getattr(ctx, "set_return_data", None)
        if set_return is not None:
            set_return(size.to_bytes(8, "little"))

    def _immutable_owner(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        ref = self._ref(accounts, 0)
        acc = self._owned(ctx, ref.pubkey)
        if not self._is_2022:
            ctx.log("Please upgrade to SPL Token 2022 for immutable owner support")
            return
        if len(acc.data) < TOKEN_ACCOUNT_LEN + 5 or acc.data[108]:
            raise ProgramError("cannot add ImmutableOwner", builtin="InvalidAccountData")
        buf = bytearray(acc.data)
        buf[TOKEN_ACCOUNT_LEN + 1:TOKEN_ACCOUNT_LEN + 5] = bytes([_IMMUTABLE_OWNER_EXT, 0, 0, 0])
        ctx.set(ref.pubkey, Account(acc.lamports, bytes(buf), acc.owner, acc.executable, acc.rent_epoch))
