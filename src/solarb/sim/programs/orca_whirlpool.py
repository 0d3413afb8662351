"""Model of the Orca Whirlpool program for the local cluster (``swap_v2``), plus the pool factory.

``swap_v2`` runs as the program does: Anchor account constraints, the sparse tick-array sequence
(the three start ticks of the direction, found among the passed arrays and supplemental ones; a
passed PDA without an account is an all-uninitialized array), the oracle, the Clock, Token-2022
transfer fees on both sides, then the swap math of :func:`solarb.dex.orca_whirlpool.swap` (shared
with the quote). It writes what the program writes: sqrt_price, tick_current_index, liquidity, fee
growth, protocol fees owed, reward growth and timestamp, each crossed tick's fee / reward growth
outside, the oracle's adaptive-fee variables, and moves the tokens (user -> vault, then vault ->
user signed by the pool PDA). Errors carry the program's codes (AmountOutBelowMinimum 6036, ...).
Other instructions fail with Anchor's ``InstructionFallbackNotFound`` (101).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from hashlib import sha256
from math import isqrt

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex.base import DecodeError, QuoteError
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    TOKEN_PROGRAMS,
    decode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError
from solarb.sim.programs.raydium_amm_v4 import vault_account

__all__ = ["CONFIG_ADDRESS", "OrcaWhirlpoolModel", "create_pool", "position_amounts"]

# the mainnet WhirlpoolsConfig
CONFIG_ADDRESS = Pubkey.from_string("2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ")
FEE_AUTHORITY = Pubkey.from_string("3Pi4tc4SxZyKZivKxWGqnwPDsDyoWFsrCqLuTs4V5Jyx")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
_ARGS = struct.Struct("<QQQQ??")

# Anchor framework error codes.
A_FALLBACK_NOT_FOUND = 101
A_CONSTRAINT_MUT = 2000
A_CONSTRAINT_RAW = 2003
A_CONSTRAINT_SEEDS = 2006
A_CONSTRAINT_ADDRESS = 2012
A_DISCRIMINATOR_NOT_FOUND = 3001
A_DISCRIMINATOR_MISMATCH = 3002
A_DID_NOT_DESERIALIZE = 3003
A_NOT_ENOUGH_KEYS = 3005
A_NOT_MUTABLE = 3006
A_OWNED_BY_WRONG_PROGRAM = 3007
A_INVALID_PROGRAM_ID = 3008
A_NOT_SIGNER = 3010
A_ACCOUNT_NOT_INITIALIZED = 3012


def _fail(code: int, what: str) -> ProgramError:
    name = ow.ERRORS.get(code, "anchor")
    return ProgramError(f"orca_whirlpool: {what} ({name} {code})", code=code)


def _program_error(exc: QuoteError) -> ProgramError:
    if exc.code is None:
        msg = f"orca_whirlpool: program panicked: {exc}"
        return ProgramError(msg, builtin="ProgramFailedToComplete")
    return ProgramError(f"orca_whirlpool: {exc}", code=exc.code)


class OrcaWhirlpoolModel:
    """The Whirlpool program as the cluster runs it (``swap_v2`` only)."""

    program_id = wl.PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Run one instruction."""
        if data[:8] != ow.SWAP_V2_DISCRIMINATOR or len(data) < 43:
            raise _fail(A_FALLBACK_NOT_FOUND, "only swap_v2 is modelled")
        amount, threshold, limit_lo, limit_hi, is_input, a_to_b = _ARGS.unpack_from(data, 8)
        limit = limit_lo | limit_hi << 64
        supplemental = self._remaining(data[42:], accounts)
        if len(accounts) < 15:
            raise _fail(A_NOT_ENOUGH_KEYS, "not enough accounts")
        (prog_a, prog_b, memo, authority, pool_ref, mint_a, mint_b, user_a, vault_a, user_b,
         vault_b, ta0, ta1, ta2, oracle_ref) = accounts[:15]  # fmt: skip
        ctx.consume(60_000)
        pool = self._load_pool(ctx, pool_ref)
        self._check_accounts(ctx, pool, prog_a, prog_b, memo, authority, mint_a, mint_b, user_a,
                             user_b, vault_a, vault_b)  # fmt: skip
        if oracle_ref.pubkey != wl.oracle_address(pool.address):
            raise _fail(A_CONSTRAINT_SEEDS, "oracle is not the pool's PDA")
        pool = replace(pool, token_program_a=prog_a.pubkey, token_program_b=prog_b.pubkey)
        slots = self._tick_sequence(ctx, pool, [ta0, ta1, ta2, *supplemental], a_to_b)
        clock = ctx.get(ow.CLOCK_SYSVAR) if self._has_clock(ctx) else None
        epoch, now = (None, 0)
        if clock is not None and len(clock.data) >= 40:
            epoch = int.from_bytes(clock.data[16:24], "little")
            now = int.from_bytes(clock.data[32:40], "little", signed=True)
        if now < 0:
            raise _fail(ow.CODES["InvalidTimestampConversion"], "negative unix timestamp")
        oracle = None
        oracle_acc = ctx.get(oracle_ref.pubkey)
        if oracle_acc is not None and (oracle_acc.owner != SYSTEM_PROGRAM_ID or oracle_acc.data):
            if not oracle_ref.is_writable:
                raise _fail(A_CONSTRAINT_MUT, "oracle not writable")
            try:
                oracle = wl.decode_oracle(oracle_acc.data)
            except DecodeError as exc:
                raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
            if oracle.trade_enable_timestamp > now:
                raise _fail(ow.CODES["TradeIsNotEnabled"], "trading not enabled yet")
        fees = []
        for mint, prog in ((mint_a.pubkey, prog_a.pubkey), (mint_b.pubkey, prog_b.pubkey)):
            acc = ctx.get(mint)
            try:
                data = acc.data if acc else None
                t22 = prog == TOKEN_2022_PROGRAM_ID
                fees.append(ow.epoch_transfer_fee(data, epoch) if t22 else None)
            except QuoteError as exc:
                raise _program_error(exc) from exc
        fee_in, fee_out = (fees[0], fees[1]) if a_to_b else (fees[1], fees[0])
        try:
            if is_input:
                net = ow.transfer_fee_excluded(fee_in, amount)
                r = ow.swap(pool, slots, net, a_to_b, is_input=True, sqrt_price_limit=limit,
                            timestamp=now, oracle=oracle, detail=True)  # fmt: skip
                swapped_in, out = (r.amount_a, r.amount_b) if a_to_b else (r.amount_b, r.amount_a)
                gross_in = amount
                if swapped_in != net:
                    gross_in = ow.transfer_fee_included(fee_in, swapped_in)
                if ow.transfer_fee_excluded(fee_out, out) < threshold:
                    raise _fail(ow.CODES["AmountOutBelowMinimum"], f"output below {threshold}")
            else:
                want = ow.transfer_fee_included(fee_out, amount)
                r = ow.swap(pool, slots, want, a_to_b, is_input=False, sqrt_price_limit=limit,
                            timestamp=now, oracle=oracle, detail=True)  # fmt: skip
                swapped_in, out = (r.amount_a, r.amount_b) if a_to_b else (r.amount_b, r.amount_a)
                gross_in = ow.transfer_fee_included(fee_in, swapped_in)
                if gross_in > threshold:
                    raise _fail(ow.CODES["AmountInAboveMaximum"], f"input above {threshold}")
        except cm.ClmmMathError as exc:
            raise _program_error(QuoteError(str(exc), ow.CODES.get(exc.name))) from exc
        except QuoteError as exc:
            raise _program_error(exc) from exc

        if oracle is not None and r.adaptive is not None:
            buf = bytearray(oracle_acc.data)  # type: ignore[union-attr]
            at = wl.OFF_ORACLE_VARIABLES
            buf[at : at + 44] = wl.encode_oracle_variables(r.adaptive)
            ctx.set(oracle_ref.pubkey, replace(oracle_acc, data=bytes(buf)))  # type: ignore
        self._write_ticks(ctx, pool, slots, r.crossed)
        fee_in_a = a_to_b
        updated = replace(
            pool,
            liquidity=r.next_liquidity,
            tick_current_index=r.next_tick_index,
            sqrt_price=r.next_sqrt_price,
            reward_infos=r.reward_infos,  # type: ignore[arg-type]
            reward_last_updated_timestamp=now,
            fee_growth_global_a=r.next_fee_growth_global if fee_in_a else pool.fee_growth_global_a,
            fee_growth_global_b=pool.fee_growth_global_b if fee_in_a else r.next_fee_growth_global,
            protocol_fee_owed_a=pool.protocol_fee_owed_a + (r.protocol_fee if fee_in_a else 0),
            protocol_fee_owed_b=pool.protocol_fee_owed_b + (0 if fee_in_a else r.protocol_fee),
        )
        if max(updated.protocol_fee_owed_a, updated.protocol_fee_owed_b) > cm.U64_MAX:
            msg = "orca_whirlpool: protocol fee overflow"
            raise ProgramError(msg, builtin="ProgramFailedToComplete")
        acc = ctx.get(pool_ref.pubkey)
        assert acc is not None
        ctx.set(pool_ref.pubkey, replace(acc, data=wl.encode_whirlpool(updated)))
        if a_to_b:
            ctx.token_transfer(user_a.pubkey, vault_a.pubkey, authority.pubkey, gross_in)
            ctx.token_transfer(vault_b.pubkey, user_b.pubkey, pool.address, out, pda_signed=True)
        else:
            ctx.token_transfer(user_b.pubkey, vault_b.pubkey, authority.pubkey, gross_in)
            ctx.token_transfer(vault_a.pubkey, user_a.pubkey, pool.address, out, pda_signed=True)

    @staticmethod
    def _has_clock(ctx: InvokeContext) -> bool:
        try:
            return ctx.get(ow.CLOCK_SYSVAR) is not None
        except ProgramError:
            return False

    @staticmethod
    def _remaining(tail: bytes, accounts: Sequence[AccountRef]) -> list[AccountRef]:
        """``Option<RemainingAccountsInfo>``: supplemental tick arrays are supported (type 6)."""
        if not tail or tail[0] == 0:
            return []
        if len(tail) < 5:
            raise _fail(A_DID_NOT_DESERIALIZE, "remaining_accounts_info")
        n = int.from_bytes(tail[1:5], "little")
        out: list[AccountRef] = []
        pos = 15
        for i in range(n):
            kind, length = tail[5 + 2 * i], tail[6 + 2 * i]
            if kind != 6:
                raise _fail(ow.CODES["RemainingAccountsInvalidSlice"], f"accounts type {kind}")
            if length > 3:
                raise _fail(ow.CODES["TooManySupplementalTickArrays"], "more than 3 arrays")
            if pos + length > len(accounts):
                raise _fail(ow.CODES["RemainingAccountsInsufficient"], "remaining accounts")
            out += accounts[pos : pos + length]
            pos += length
        return out

    @staticmethod
    def _load_pool(ctx: InvokeContext, ref: AccountRef) -> wl.Whirlpool:
        acc = ctx.get(ref.pubkey)
        if acc is None or acc.owner != wl.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "whirlpool owner")
        if not ref.is_writable:
            raise _fail(A_CONSTRAINT_MUT, "whirlpool not writable")
        try:
            return wl.decode_whirlpool(ref.pubkey, acc.data)
        except DecodeError as exc:
            raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc

    @staticmethod
    def _check_accounts(ctx: InvokeContext, pool: wl.Whirlpool, *refs: AccountRef) -> None:
        prog_a, prog_b, memo, authority, mint_a, mint_b, user_a, user_b, vault_a, vault_b = refs
        if memo.pubkey != ow.MEMO_PROGRAM_ID:
            raise _fail(A_INVALID_PROGRAM_ID, "memo program")
        if not authority.is_signer:
            raise _fail(A_NOT_SIGNER, "token authority did not sign")
        for prog, mint, want in ((prog_a, mint_a, pool.mint_a), (prog_b, mint_b, pool.mint_b)):
            if prog.pubkey not in TOKEN_PROGRAMS:
                raise _fail(A_INVALID_PROGRAM_ID, f"{prog.pubkey} is not a token program")
            if mint.pubkey != want:
                raise _fail(A_CONSTRAINT_ADDRESS, "token mint")
            mint_acc = ctx.get(mint.pubkey)
            if mint_acc is not None and mint_acc.owner != prog.pubkey:
                raise _fail(A_CONSTRAINT_ADDRESS, "token program is not the mint's owner")
        for vault, want in ((vault_a, pool.vault_a), (vault_b, pool.vault_b)):
            if vault.pubkey != want:
                raise _fail(A_CONSTRAINT_ADDRESS, "token vault")
        for user, mint in ((user_a, pool.mint_a), (user_b, pool.mint_b)):
            acc = ctx.get(user.pubkey)
            if acc is None:
                raise _fail(A_ACCOUNT_NOT_INITIALIZED, "token owner account missing")
            try:
                if decode_token_account(acc.data).mint != mint:
                    raise _fail(A_CONSTRAINT_RAW, "token owner account mint")
            except DecodeError as exc:
                raise _fail(A_DID_NOT_DESERIALIZE, str(exc)) from exc
        for ref in (user_a, user_b, vault_a, vault_b):
            if not ref.is_writable:
                raise _fail(A_CONSTRAINT_MUT, f"{ref.pubkey} not writable")

    @staticmethod
    def _tick_sequence(
        ctx: InvokeContext, pool: wl.Whirlpool, refs: list[AccountRef], a_to_b: bool
    ) -> list[ow.Slot]:
        """``SparseSwapTickSequenceBuilder::try_build``."""
        loaded: dict[int, wl.TickArray] = {}
        passed = set()
        for ref in sorted({r.pubkey: r for r in refs}.values(), key=lambda r: bytes(r.pubkey)):
            passed.add(ref.pubkey)
            acc = ctx.get(ref.pubkey)
            if acc is None or (acc.owner == SYSTEM_PROGRAM_ID and not acc.data):
                continue
            if not ref.is_writable:
                raise _fail(A_NOT_MUTABLE, "tick array not writable")
            if acc.owner != wl.PROGRAM_ID:
                raise _fail(A_OWNED_BY_WRONG_PROGRAM, "tick array owner")
            if len(acc.data) < 8:
                raise _fail(A_DISCRIMINATOR_NOT_FOUND, "tick array")
            try:
                arr = wl.decode_tick_array(acc.data)
            except DecodeError as exc:
                raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
            if arr.whirlpool != pool.address:
                raise _fail(ow.CODES["DifferentWhirlpoolTickArrayAccount"], "another pool's array")
            loaded.setdefault(arr.start_tick_index, arr)
        slots: list[ow.Slot] = []
        for start in wl.swap_start_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b):
            if start in loaded:
                slots.append(loaded[start])
            elif wl.tick_array_address(pool.address, start) in passed:
                slots.append(start)
            else:
                break
        if not slots:
            raise _fail(ow.CODES["InvalidTickArraySequence"], "no usable tick array")
        return slots

    @staticmethod
    def _write_ticks(
        ctx: InvokeContext,
        pool: wl.Whirlpool,
        slots: list[ow.Slot],
        crossed: Sequence[tuple[int, int, wl.Tick]],
    ) -> None:
        for pos, offset, tick in crossed:
            arr = slots[pos]
            assert isinstance(arr, wl.TickArray)
            key = wl.tick_array_address(pool.address, arr.start_tick_index)
            acc = ctx.get(key)
            assert acc is not None
            buf = bytearray(acc.data)
            at = wl.tick_data_offset(acc.data, offset) + 32  # skip liquidity_net, liquidity_gross
            values = (tick.fee_growth_outside_a, tick.fee_growth_outside_b)
            for value in (*values, *tick.reward_growths_outside):
                buf[at : at + 16] = value.to_bytes(16, "little")
                at += 16
            ctx.set(key, replace(acc, data=bytes(buf)))


def position_amounts(
    sqrt_price: int, tick_lower: int, tick_upper: int, liquidity: int
) -> tuple[int, int]:
    """Token A and B a position of ``liquidity`` holds at ``sqrt_price`` (rounded up, as
    deposits)."""
    lo, hi = cm.sqrt_price_at_tick(tick_lower), cm.sqrt_price_at_tick(tick_upper)
    if sqrt_price < lo:
        return cm.amount_delta_a(lo, hi, liquidity, True), 0
    if sqrt_price >= hi:
        return 0, cm.amount_delta_b(lo, hi, liquidity, True)
    a = cm.amount_delta_a(sqrt_price, hi, liquidity, True)
    return a, cm.amount_delta_b(lo, sqrt_price, liquidity, True)


def create_pool(
    *,
    mint_a: Pubkey,
    mint_b: Pubkey,
    tick_spacing: int,
    fee_rate: int,
    positions: Sequence[tuple[int, int, int]],
    sqrt_price_x64: int | None = None,
    price: float | Fraction | None = None,
    protocol_fee_rate: int = 1300,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
    decimals_a: int = 9,
    decimals_b: int = 6,
    dynamic_tick_arrays: bool = False,
    adaptive_fee: wl.AdaptiveFeeConstants | None = None,
    fee_tier_index: int | None = None,
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A Whirlpool at its PDA under the mainnet ``WhirlpoolsConfig``, with the config, every tick
    array holding a position tick plus those a swap from the start price touches (fixed layout, or
    dynamic), the oracle for adaptive-fee pools, and vaults holding what the positions deposited.

    ``positions`` are ``(tick_lower, tick_upper, liquidity)`` on the spacing grid. The price is
    ``sqrt_price_x64`` or ``price`` (token B per token A in UI units, scaled by the decimals). If
    ``mint_a`` sorts after ``mint_b`` the sides are swapped (price inverted, ticks negated) so the
    pool's ``mint_a`` is the smaller key, as the program requires. Vaults are keypair accounts on
    chain; here their addresses are derived from the pool. :class:`UsageError` on bad input."""
    if mint_a == mint_b:
        raise UsageError("orca_whirlpool pool needs two different mints")
    if token_program_a not in TOKEN_PROGRAMS or token_program_b not in TOKEN_PROGRAMS:
        raise UsageError("orca_whirlpool token programs must be SPL Token or Token-2022")
    if not (0 < tick_spacing < 65536 and 0 <= fee_rate <= 60_000
            and 0 <= protocol_fee_rate <= 2_500):  # fmt: skip
        raise UsageError("orca_whirlpool tick spacing or fee rates out of the program's bounds")
    if (sqrt_price_x64 is None) == (price is None):
        raise UsageError("orca_whirlpool create_pool needs exactly one of sqrt_price_x64 and price")
    if sqrt_price_x64 is None:
        raw = Fraction(price) * 10**decimals_b / 10**decimals_a  # type: ignore[arg-type]
        if raw <= 0:
            raise UsageError("orca_whirlpool price must be positive")
        sqrt_price_x64 = isqrt((raw.numerator << 128) // raw.denominator)
    pos = list(positions)
    if bytes(mint_a) > bytes(mint_b):
        mint_a, mint_b = mint_b, mint_a
        token_program_a, token_program_b = token_program_b, token_program_a
        sqrt_price_x64 = (1 << 128) // sqrt_price_x64
        pos = [(-hi, -lo, liq) for lo, hi, liq in pos]
    if not cm.MIN_SQRT_PRICE_X64 <= sqrt_price_x64 < cm.MAX_SQRT_PRICE_X64:
        raise UsageError("orca_whirlpool start price outside the program's range")
    for lo, hi, liq in pos:
        if not (lo < hi and lo % tick_spacing == 0 and hi % tick_spacing == 0 and liq > 0
                and cm.MIN_TICK <= lo and hi <= cm.MAX_TICK):  # fmt: skip
            raise UsageError(f"orca_whirlpool position ({lo}, {hi}, {liq}) is not on the tick grid")
    tick = cm.tick_at_sqrt_price(sqrt_price_x64)
    fee_tier = tick_spacing if adaptive_fee is None else 1024 + tick_spacing
    if fee_tier_index is not None:
        fee_tier = fee_tier_index
    address, bump = wl.whirlpool_address(CONFIG_ADDRESS, mint_a, mint_b, fee_tier)
    vault_a = Pubkey(sha256(b"orca_whirlpool vault a" + bytes(address)).digest())
    vault_b = Pubkey(sha256(b"orca_whirlpool vault b" + bytes(address)).digest())
    net: dict[int, int] = {}
    gross: dict[int, int] = {}
    amount_a = amount_b = 0
    for lo, hi, liq in pos:
        for t, d in ((lo, liq), (hi, -liq)):
            net[t] = net.get(t, 0) + d
            gross[t] = gross.get(t, 0) + liq
        a, b = position_amounts(sqrt_price_x64, lo, hi, liq)
        amount_a, amount_b = amount_a + a, amount_b + b
    if amount_a > cm.U64_MAX or amount_b > cm.U64_MAX:
        raise UsageError("orca_whirlpool positions need more than u64 tokens")
    liquidity = sum(liq for lo, hi, liq in pos if lo <= tick < hi)
    zero = wl.RewardInfo(Pubkey.default(), Pubkey.default(), bytes(32), 0, 0)
    state = wl.Whirlpool(
        address, ow.NAME, CONFIG_ADDRESS, bump, tick_spacing, fee_tier, fee_rate, protocol_fee_rate,
        liquidity, sqrt_price_x64, tick, 0, 0, mint_a, vault_a, 0, mint_b, vault_b, 0, 0,
        (replace(zero, extension=bytes(FEE_AUTHORITY)), zero, zero), token_program_a,
        token_program_b,
    )  # fmt: skip
    span = wl.TICK_ARRAY_SIZE * tick_spacing
    starts = {t // span * span for t in net}
    starts.update(wl.swap_start_indexes(tick, tick_spacing, True))
    starts.update(wl.swap_start_indexes(tick, tick_spacing, False))
    encode = wl.encode_dynamic_tick_array if dynamic_tick_arrays else wl.encode_fixed_tick_array

    def acc(data: bytes) -> Account:
        return Account(rent_exempt_minimum(len(data)), data, wl.PROGRAM_ID)

    config = wl.WhirlpoolsConfig(
        CONFIG_ADDRESS, FEE_AUTHORITY, FEE_AUTHORITY, FEE_AUTHORITY, protocol_fee_rate, 0
    )
    out = {
        address: acc(wl.encode_whirlpool(state)),
        CONFIG_ADDRESS: acc(wl.encode_config(config)),
        vault_a: vault_account(mint_a, address, amount_a, token_program_a),
        vault_b: vault_account(mint_b, address, amount_b, token_program_b),
    }
    for start in sorted(starts):
        ticks = {
            (t - start) // tick_spacing: wl.Tick(net[t], gross[t])
            for t in net
            if start <= t < start + span
        }
        out[wl.tick_array_address(address, start)] = acc(encode(start, address, ticks))
    if adaptive_fee is not None:
        variables = wl.AdaptiveFeeVariables(0, 0, 0, tick // adaptive_fee.tick_group_size, 0)
        oracle = wl.Oracle(address, 0, adaptive_fee, variables)
        out[wl.oracle_address(address)] = acc(wl.encode_oracle(oracle))
    return address, out

