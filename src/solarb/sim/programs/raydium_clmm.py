"""Model of the Raydium CLMM program (amm_v3) for the local cluster, plus the pool factory.

Executes ``swap_v2`` (exact input as the SDK's ``makeSwapBaseInInstructions`` and
:func:`solarb.dex.raydium_clmm.swap_instruction` build it, and exact output) with the program's
account checks, the remaining-account scan (tick arrays by size, the bitmap extension checked
against the pool, stop at the first other account), the adapter's exact math
(:func:`solarb.dex.raydium_clmm.exact_input_v2` / ``exact_output_v2``) and what the program
writes: pool price, tick, liquidity, fee growth, protocol/fund fees, dynamic-fee state, reached ticks (fee/reward growth
outside when crossed, limit-order fill state), initialized-tick counts and bitmap bits of arrays
a fill emptied, the observation ring buffer. Limit-order owners' proceeds stay in the vault (the
program pays them out on settle, which is not modelled). Other instructions fail with Anchor's
``InstructionFallbackNotFound`` (101).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from math import isqrt

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex import raydium_clmm_layout as lay
from solarb.dex.base import DecodeError, MissingAccount, QuoteError
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, TOKEN_PROGRAMS, decode_token_account
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError
from solarb.sim.programs.raydium_amm_v4 import vault_account

__all__ = ["RaydiumClmmModel", "create_pool"]

PROTOCOL_OWNER = Pubkey.from_string("projjosVCPQH49d5em7VYS7fJZzaqKixqKtus7yk416")
FUND_OWNER = Pubkey.from_string("FundHfY8oo8J9KYGyfXFFuQCHe7Z1VBNmsj84eMcdYs4")
POOL_CREATOR = Pubkey.from_string("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
A_FALLBACK_NOT_FOUND = 101
A_CONSTRAINT_ADDRESS = 2012
A_DISCRIMINATOR_MISMATCH = 3002
A_DID_NOT_DESERIALIZE = 3003
A_NOT_ENOUGH_KEYS = 3005
A_OWNED_BY_WRONG_PROGRAM = 3007
A_INVALID_PROGRAM_ID = 3008
A_NOT_SIGNER = 3010
_U64 = struct.Struct("<Q")
_U128 = struct.Struct("<QQ")
_OBS_HEAD = struct.Struct("<8s?QH32s")
_OBS = struct.Struct("<Iq")
OBS_NUM = 100
OBS_UPDATE_DURATION = 15


def _fail(code: int, what: str) -> ProgramError:
    name = lay.ERRORS.get(code, "anchor")
    return ProgramError(f"raydium_clmm: {what} ({name} {code})", code=code)


def _put128(buf: bytearray, off: int, v: int) -> None:
    _U128.pack_into(buf, off, v & 0xFFFF_FFFF_FFFF_FFFF, v >> 64)


class RaydiumClmmModel:
    """The CLMM program as the cluster runs it."""

    program_id = lay.PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Run one instruction; only ``swap_v2`` with ``is_base_input`` is modelled."""
        if len(data) != 41 or data[:8] != rc.SWAP_V2_DISCRIMINATOR:
            raise _fail(A_FALLBACK_NOT_FOUND, "only swap_v2 is modelled")
        is_base_input = bool(data[40])
        amount, threshold, lim_lo, lim_hi = struct.unpack_from("<QQQQ", data, 8)
        if len(accounts) < 13:
            raise _fail(A_NOT_ENOUGH_KEYS, "not enough accounts")
        (payer, config_ref, pool_ref, user_in, user_out, vault_in, vault_out, observation,
         tok, tok22, _memo, mint_in, mint_out) = accounts[:13]  # fmt: skip
        ctx.consume(80_000)
        if not payer.is_signer:
            raise _fail(A_NOT_SIGNER, "payer did not sign")
        pool_acc = ctx.get(pool_ref.pubkey)
        if pool_acc is None or pool_acc.owner != lay.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "pool account owner")
        try:
            pool = lay.decode_pool(pool_ref.pubkey, pool_acc.data)
        except DecodeError as exc:
            raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
        if config_ref.pubkey != pool.amm_config:
            raise _fail(A_CONSTRAINT_ADDRESS, "amm_config")
        config_acc = ctx.get(config_ref.pubkey)
        if config_acc is None or config_acc.owner != lay.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "amm_config owner")
        config = lay.decode_amm_config(config_ref.pubkey, config_acc.data)
        if observation.pubkey != pool.observation_key:
            raise _fail(A_CONSTRAINT_ADDRESS, "observation state")
        if tok.pubkey != TOKEN_PROGRAM_ID or tok22.pubkey != TOKEN_PROGRAMS[1]:
            raise _fail(A_INVALID_PROGRAM_ID, "token programs")
        vin_acc, vout_acc = ctx.get(vault_in.pubkey), ctx.get(vault_out.pubkey)
        if vin_acc is None or vout_acc is None:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "vault missing")
        try:
            vin_mint = decode_token_account(vin_acc.data).mint
            vout_mint = decode_token_account(vout_acc.data).mint
        except DecodeError as exc:
            raise _fail(A_DID_NOT_DESERIALIZE, str(exc)) from exc
        if mint_in.pubkey != vin_mint or mint_out.pubkey != vout_mint:
            raise _fail(A_CONSTRAINT_ADDRESS, "vault mint")
        mint_datas = []
        for m in (mint_in, mint_out):
            acc = ctx.get(m.pubkey)
            if acc is None:
                raise _fail(A_OWNED_BY_WRONG_PROGRAM, "mint missing")
            mint_datas.append(None if acc.owner == TOKEN_PROGRAM_ID else acc.data)
        a_to_b = vin_mint == pool.mint_a
        if (vault_in.pubkey, vault_out.pubkey) != ((pool.vault_a, pool.vault_b) if a_to_b
                                                    else (pool.vault_b, pool.vault_a)):  # fmt: skip
            raise _fail(lay.ERR_INVALID_INPUT_VAULT, "vaults do not match the pool")
        arrays, ext = [], None
        for ref in accounts[13:]:
            acc = ctx.get(ref.pubkey)
            size = len(acc.data) if acc is not None else 0
            if size == lay.TICK_ARRAY_LEN and acc is not None:
                arrays.append(lay.decode_tick_array(ref.pubkey, acc.data))
            elif size == lay.EXTENSION_LEN and acc is not None:
                ext = lay.decode_extension(ref.pubkey, acc.data)
                if ext.pool_id != pool.address:
                    raise _fail(lay.ERR_INVALID_EXTENSION, "bitmap extension of another pool")
            else:
                break
        epoch, ts = _clock(ctx)
        try:
            run = rc.exact_input_v2 if is_base_input else rc.exact_output_v2
            s = run(pool, config, arrays, ext, mint_datas[0], mint_datas[1], amount, a_to_b, epoch,
                    ts, lim_lo | (lim_hi << 64))  # fmt: skip
        except MissingAccount as exc:
            raise ProgramError(f"raydium_clmm: {exc}", builtin="NotEnoughAccountKeys") from exc
        except QuoteError as exc:
            if exc.code is None:
                raise ProgramError(f"raydium_clmm: {exc}",
                                   builtin="ProgramFailedToComplete") from exc
            raise ProgramError(f"raydium_clmm: {exc}", code=exc.code) from exc
        if is_base_input and s.amount_received < threshold:
            raise _fail(lay.ERR_TOO_LITTLE_OUTPUT,
                        f"received {s.amount_received} < minimum {threshold}")
        if not is_base_input and s.amount_in > threshold:
            raise _fail(lay.ERR_TOO_MUCH_INPUT, f"paid {s.amount_in} > maximum {threshold}")
        ctx.token_transfer(user_in.pubkey, vault_in.pubkey, payer.pubkey, s.amount_in)
        ctx.token_transfer(vault_out.pubkey, user_out.pubkey, pool.address, s.amount_out,
                           pda_signed=True)
        self._write_back(ctx, pool, s.result, epoch, ts)

    @staticmethod
    def _write_back(ctx: InvokeContext, pool: lay.ClmmPool, r: rc.SwapResult, epoch: int | None,
                    ts: int | None) -> None:
        count_off = 44 + 60 * lay.TICK_LEN
        for key in dict.fromkeys([k for k, _o, _t in r.updated_ticks] + list(r.emptied_arrays)):
            acc = ctx.get(key)
            assert acc is not None
            buf = bytearray(acc.data)
            for k, offset, tick in r.updated_ticks:
                if k == key:
                    at = 44 + offset * lay.TICK_LEN
                    buf[at : at + lay.TICK_LEN] = lay.encode_tick(tick)
            if buf[count_off] < r.emptied_arrays.get(key, 0):
                raise _fail(lay.ERR_CALCULATE_OVERFLOW, "initialized tick count below zero")
            buf[count_off] -= r.emptied_arrays.get(key, 0)
            if epoch is not None:
                _U64.pack_into(buf, count_off + 1, epoch)
            ctx.set(key, replace(acc, data=bytes(buf)))
        if r.extension is not None:
            ext_acc = ctx.get(r.extension.address)
            new_ext = lay.encode_extension(pool.address, r.extension.positive, r.extension.negative)
            if ext_acc is not None and ext_acc.data != new_ext:
                ctx.set(r.extension.address, replace(ext_acc, data=new_ext))
        if r.tick != pool.tick_current and ts is not None:
            _update_observation(ctx, pool.observation_key, ts & 0xFFFF_FFFF, pool.tick_current)
        fresh = ctx.get(pool.address)
        assert fresh is not None
        buf = bytearray(fresh.data)
        struct.pack_into("<i", buf, lay.OFF_TICK_CURRENT, r.tick)
        buf[lay.OFF_BITMAP : lay.OFF_BITMAP + 128] = r.tick_array_bitmap.to_bytes(128, "little")
        _put128(buf, lay.OFF_SQRT_PRICE, r.sqrt_price_x64)
        _put128(buf, lay.OFF_LIQUIDITY, r.liquidity)
        side = 0 if r.fee_on_token_0 else 1
        if r.lp_fee > 0:
            off = lay.OFF_FEE_GROWTH_0 if side == 0 else lay.OFF_FEE_GROWTH_1
            _put128(buf, off, r.fee_growth_global_x64)
        for base, delta in ((lay.OFF_PROTOCOL_FEES_0, r.protocol_fee),
                            (lay.OFF_FUND_FEES_0, r.fund_fee)):
            off = base + 8 * side
            total = _U64.unpack_from(buf, off)[0] + delta
            if total > cm.U64_MAX:
                raise _fail(lay.ERR_CALCULATE_OVERFLOW, "fee accrual overflow")
            _U64.pack_into(buf, off, total)
        if pool.dynamic_fee.enabled:
            off = lay.OFF_DYNAMIC_FEE
            buf[off : off + 80] = lay.encode_dynamic_fee(r.dynamic_fee)
        if epoch is not None:
            _U64.pack_into(buf, 1088, epoch)
        ctx.set(pool.address, replace(fresh, data=bytes(buf)))


def _clock(ctx: InvokeContext) -> tuple[int | None, int | None]:
    try:
        acc = ctx.get(rc.CLOCK_SYSVAR)
    except ProgramError:
        return None, None
    if acc is None or len(acc.data) < 40:
        return None, None
    _slot, _est, epoch, _lse, ts = struct.unpack_from("<QqQQq", acc.data, 0)
    return epoch, ts


def _update_observation(ctx: InvokeContext, key: Pubkey, now: int, tick: int) -> None:
    """``ObservationState::update(block_timestamp, previous tick)``."""
    acc = ctx.get(key)
    if acc is None or len(acc.data) != lay.OBSERVATION_LEN:
        return
    buf = bytearray(acc.data)
    _disc, initialized, _epoch, index, _pool = _OBS_HEAD.unpack_from(buf, 0)
    base = _OBS_HEAD.size
    if not initialized:
        buf[8] = 1
        _OBS.pack_into(buf, base + 44 * index, now, 0)
    else:
        last_ts, last_cum = _OBS.unpack_from(buf, base + 44 * index)
        delta = max(0, now - last_ts)
        if delta < OBS_UPDATE_DURATION:
            return
        nxt = 0 if index == OBS_NUM - 1 else index + 1
        cum = (last_cum + tick * delta + 2**63) % 2**64 - 2**63
        _OBS.pack_into(buf, base + 44 * nxt, now, cum)
        struct.pack_into("<H", buf, 17, nxt)
    ctx.set(key, replace(acc, data=bytes(buf)))


def _sqrt_price_from(price: Fraction | float) -> int:
    p = Fraction(price)
    return isqrt(p.numerator * 2**128 // p.denominator)


def create_pool(
    *,
    mint_a: Pubkey,
    mint_b: Pubkey,
    tick_spacing: int,
    trade_fee_rate: int,
    positions: list[tuple[int, int, int]],
    sqrt_price_x64: int | None = None,
    price: Fraction | float | None = None,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
    decimals_a: int = 9,
    decimals_b: int = 6,
    protocol_fee_rate: int = 120_000,
    fund_fee_rate: int = 40_000,
    config_index: int | None = None,
    fee_on: int = 0,
    dynamic_fee: lay.DynamicFeeInfo | None = None,
    open_time: int = 0,
    status: int = 0,
    limit_orders: Sequence[tuple[int, int, int]] = (),
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A CLMM pool with ``positions`` ``(tick_lower, tick_upper, liquidity)`` already added: its
    ``PoolState``, ``AmmConfig`` (PDA of ``config_index``, default derived from spacing and fee),
    tick arrays, ``TickArrayBitmapExtension``, ``ObservationState`` and vaults (owned by the pool,
    holding what the positions deposited, rounded up as the program does) at the program's PDAs.

    ``price`` is token_1 per token_0 in base units (``sqrt_price_x64`` wins if both given). The
    program orders mints (token_0 < token_1 by bytes); if ``mint_a`` sorts after ``mint_b`` the
    sides are swapped, the price inverted and positions mirrored (``[l, u] -> [-u, -l]``).
    ``limit_orders`` ``(tick, orders_amount, part_filled_orders_remaining)`` put open orders on
    ticks (in the token a swap reaching the tick receives: token_1 at or below the price, token_0
    above; the vault holds them). Raises :class:`UsageError` for inconsistent arguments."""
    if mint_a == mint_b or tick_spacing <= 0 or not 0 <= trade_fee_rate < rc.FEE_DEN:
        raise UsageError("raydium_clmm pool: distinct mints, positive spacing, fee rate < 1e6")
    if token_program_a not in TOKEN_PROGRAMS or token_program_b not in TOKEN_PROGRAMS:
        raise UsageError("raydium_clmm token programs must be SPL Token or Token-2022")
    if sqrt_price_x64 is None:
        if price is None or price <= 0:
            raise UsageError("raydium_clmm pool needs sqrt_price_x64 or a positive price")
        sqrt_price_x64 = _sqrt_price_from(price)
    if bytes(mint_a) > bytes(mint_b):
        mint_a, mint_b = mint_b, mint_a
        token_program_a, token_program_b = token_program_b, token_program_a
        decimals_a, decimals_b = decimals_b, decimals_a
        sqrt_price_x64 = (1 << 128) // sqrt_price_x64
        positions = [(-u, -lo, liq) for lo, u, liq in positions]
        limit_orders = [(-t, o, p) for t, o, p in limit_orders]
        fee_on = {1: 2, 2: 1}.get(fee_on, fee_on)
    if not cm.MIN_SQRT_PRICE_X64 <= sqrt_price_x64 < rc.MAX_SQRT_PRICE_X64:
        raise UsageError(f"raydium_clmm sqrt price {sqrt_price_x64} out of range")
    pid = lay.PROGRAM_ID
    index = config_index
    if index is None:  # one config per (spacing, fee) pair
        index = (tick_spacing * 7919 + trade_fee_rate) % 65536
    config = lay.amm_config_address(index)
    cfg_bump = Pubkey.find_program_address([b"amm_config", index.to_bytes(2, "big")], pid)[1]
    pool, bump = lay.pool_address(config, mint_a, mint_b)
    vault_a, vault_b = lay.vault_address(pool, mint_a), lay.vault_address(pool, mint_b)
    observation = lay.observation_address(pool)
    extension = lay.bitmap_extension_address(pool)
    tick_current = cm.raydium_tick_at_sqrt_price(sqrt_price_x64)

    ticks: dict[int, list[int]] = {}  # tick -> [net, gross]
    liquidity = amount_a = amount_b = 0
    for lo, up, liq in positions:
        if not (lay.MIN_TICK <= lo < up <= lay.MAX_TICK and lo % tick_spacing == 0
                and up % tick_spacing == 0 and 0 < liq < 2**127):  # fmt: skip
            raise UsageError(
                f"raydium_clmm position {(lo, up, liq)} invalid for spacing {tick_spacing}")
        for t, sign in ((lo, 1), (up, -1)):
            e = ticks.setdefault(t, [0, 0])
            e[0] += sign * liq
            e[1] += liq
        pl, pu = cm.raydium_sqrt_price_at_tick(lo), cm.raydium_sqrt_price_at_tick(up)
        if tick_current < lo:
            amount_a += cm.amount_delta_a(pl, pu, liq, True)
        elif tick_current < up:
            liquidity += liq
            amount_a += cm.amount_delta_a(sqrt_price_x64, pu, liq, True)
            amount_b += cm.amount_delta_b(pl, sqrt_price_x64, liq, True)
        else:
            amount_b += cm.amount_delta_b(pl, pu, liq, True)
    orders: dict[int, tuple[int, int]] = {}
    for t, amount, part in limit_orders:
        if t % tick_spacing or not lay.MIN_TICK <= t <= lay.MAX_TICK or amount < 0 or part < 0:
            raise UsageError(f"raydium_clmm limit order {(t, amount, part)} invalid")
        orders[t] = (amount, part)
        ticks.setdefault(t, [0, 0])
        if t <= tick_current:
            amount_b += amount + part
        else:
            amount_a += amount + part
    if amount_a > cm.U64_MAX or amount_b > cm.U64_MAX:
        raise UsageError("raydium_clmm positions deposit more than u64")

    by_array: dict[int, dict[int, lay.TickState]] = {}
    for t, (net, gross) in ticks.items():
        start = nav.array_start_index(t, tick_spacing)
        amount, part = orders.get(t, (0, 0))
        tick = lay.TickState(t, net, gross, orders_amount=amount, part_filled_orders_remaining=part,
                             order_phase=1 if part else 0,
                             unfilled_ratio_x64=(1 << 63) if part else 0)
        if tick.initialized:
            by_array.setdefault(start, {})[(t - start) // tick_spacing] = tick
    bitmap, pos, neg = 0, [0] * lay.EXT_BITMAPS, [0] * lay.EXT_BITMAPS
    for start in by_array:
        where, idx, bit = nav.bitmap_position(start, tick_spacing)
        if where == "default":
            bitmap |= 1 << bit
        elif where == "positive":
            pos[idx] |= 1 << bit
        else:
            neg[idx] |= 1 << bit

    state = lay.ClmmPool(
        address=pool, dex=lay.NAME, mint_a=mint_a, mint_b=mint_b, vault_a=vault_a, vault_b=vault_b,
        token_program_a=token_program_a, token_program_b=token_program_b, bump=bump,
        amm_config=config, owner=POOL_CREATOR, observation_key=observation,
        mint_decimals_a=decimals_a, mint_decimals_b=decimals_b, tick_spacing=tick_spacing,
        liquidity=liquidity, sqrt_price_x64=sqrt_price_x64, tick_current=tick_current,
        fee_growth_global_0_x64=0, fee_growth_global_1_x64=0, protocol_fees_token_0=0,
        protocol_fees_token_1=0, status=status, fee_on=fee_on,
        reward_infos=bytes(3 * lay.REWARD_LEN),
        tick_array_bitmap=bitmap, fund_fees_token_0=0, fund_fees_token_1=0, open_time=open_time,
        recent_epoch=0, dynamic_fee=dynamic_fee or lay.DynamicFeeInfo(),
    )  # fmt: skip
    cfg = lay.AmmConfig(config, cfg_bump, index, PROTOCOL_OWNER, protocol_fee_rate, trade_fee_rate,
                        tick_spacing, fund_fee_rate, FUND_OWNER)  # fmt: skip
    obs = bytearray(lay.OBSERVATION_LEN)
    _OBS_HEAD.pack_into(obs, 0, lay.OBSERVATION_DISCRIMINATOR, False, 0, 0, bytes(pool))

    def acc(data: bytes, owner: Pubkey = pid) -> Account:
        return Account(rent_exempt_minimum(len(data)), data, owner)

    out = {
        pool: acc(lay.encode_pool(state)),
        config: acc(lay.encode_amm_config(cfg)),
        extension: acc(lay.encode_extension(pool, tuple(pos), tuple(neg))),
        observation: acc(bytes(obs)),
        vault_a: vault_account(mint_a, pool, amount_a, token_program_a),
        vault_b: vault_account(mint_b, pool, amount_b, token_program_b),
    }
    for start, tks in by_array.items():
        out[lay.tick_array_address(pool, start)] = acc(lay.encode_tick_array(pool, start, tks))
    return pool, out
