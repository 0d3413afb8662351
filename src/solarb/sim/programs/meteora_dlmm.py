"""Model of the Meteora DLMM (``lb_clmm``) program for the local cluster, plus the pool factory.

Executes ``swap`` and ``swap2`` (exact in) with the Anchor account constraints, the adapter's exact
math (:func:`solarb.dex.meteora_dlmm.quote_detail` over the bin arrays passed as remaining
accounts, the bitmap extension when passed, the Clock sysvar), the token moves (user -> input
reserve; output reserve -> user signed by the pair PDA) and the state the program writes: each
crossed bin's amounts (and its stored price), ``active_id``, the volatility state
(accumulator, reference, index reference, ``last_update_timestamp`` = clock time) and the
protocol fee accrual, and the oracle sample (``DynamicOracle::update`` with the pre-swap
active id, as published in the program's state code). Not modelled: per-token LP fee
accumulators, host fees, and limit-order fills (a swap that would fill limit-order liquidity
fails with ``NotSupportAtTheMoment``). A bin array the swap needs but that was not passed fails
with ``InsufficientRemainingAccounts`` (6076). Other instructions: Anchor
``InstructionFallbackNotFound`` (101).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex import meteora_dlmm_math as mth
from solarb.dex.base import DecodeError, MissingAccount, QuoteError
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, TOKEN_PROGRAMS, decode_token_account
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError
from solarb.sim.programs.raydium_amm_v4 import vault_account

__all__ = ["MeteoraDlmmModel", "create_pool", "pair_address"]

A_FALLBACK_NOT_FOUND = 101
A_CONSTRAINT_HAS_ONE = 2001
A_CONSTRAINT_SEEDS = 2006
A_DISCRIMINATOR_MISMATCH = 3002
A_NOT_ENOUGH_KEYS = 3005
A_OWNED_BY_WRONG_PROGRAM = 3007
A_INVALID_PROGRAM_ID = 3008
A_NOT_SIGNER = 3010
ERR_INSUFFICIENT_REMAINING_ACCOUNTS = 6076
ERR_NOT_SUPPORT_AT_THE_MOMENT = 6083
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")


def _fail(code: int, what: str) -> ProgramError:
    return ProgramError(f"meteora_dlmm: {what} ({dl.ERRORS.get(code, 'anchor')} {code})", code=code)


def pair_address(mint_x: Pubkey, mint_y: Pubkey, bin_step: int, base_factor: int) -> Pubkey:
    """``LbPair`` PDA of ``initialize_lb_pair2``: sorted mints, bin step and base factor (u16 LE)."""
    lo, hi = sorted((mint_x, mint_y), key=bytes)
    seeds = [bytes(lo), bytes(hi), bin_step.to_bytes(2, "little"), base_factor.to_bytes(2, "little")]
    return Pubkey.find_program_address(seeds, dl.PROGRAM_ID)[0]


class MeteoraDlmmModel:
    """The DLMM program as the cluster runs it."""

    program_id = dl.PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Run one instruction; only ``swap`` and ``swap2`` are modelled."""
        if len(data) >= 24 and data[:8] == dl.SWAP_DISCRIMINATOR:
            fixed = 15
        elif len(data) >= 28 and data[:8] == dl.SWAP2_DISCRIMINATOR:
            if data[24:28] != bytes(4):
                raise _fail(ERR_NOT_SUPPORT_AT_THE_MOMENT, "transfer-hook slices are not modelled")
            fixed = 16
        else:
            raise _fail(A_FALLBACK_NOT_FOUND, "only swap / swap2 are modelled")
        amount_in, min_out = struct.unpack_from("<QQ", data, 8)
        if len(accounts) < fixed:
            raise _fail(A_NOT_ENOUGH_KEYS, "not enough accounts")
        (pair_ref, ext_ref, res_x, res_y, user_in, user_out, mint_x, mint_y, oracle, _host, user,
         prog_x, prog_y) = accounts[:13]  # fmt: skip
        remaining = accounts[fixed:]
        ctx.consume(60_000 + 10_000 * len(remaining))
        if not user.is_signer:
            raise _fail(A_NOT_SIGNER, "user did not sign")
        pair_acc = ctx.get(pair_ref.pubkey)
        if pair_acc is None or pair_acc.owner != dl.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "lb_pair owner")
        try:
            pair = dl.decode_pool(pair_ref.pubkey, pair_acc.data)
        except DecodeError as exc:
            raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
        for ref, want, what in ((res_x, pair.vault_a, "reserve_x"), (res_y, pair.vault_b, "reserve_y"),
                                (mint_x, pair.mint_a, "token_x_mint"), (mint_y, pair.mint_b, "token_y_mint"),
                                (oracle, pair.oracle, "oracle")):  # fmt: skip
            if ref.pubkey != want:
                raise _fail(A_CONSTRAINT_HAS_ONE, what)
        if (prog_x.pubkey, prog_y.pubkey) != (pair.token_program_a, pair.token_program_b):
            raise _fail(A_INVALID_PROGRAM_ID, "token program does not match the pair's flags")
        if fixed == 15 and (prog_x.pubkey != TOKEN_PROGRAM_ID or prog_y.pubkey != TOKEN_PROGRAM_ID):
            raise _fail(A_INVALID_PROGRAM_ID, "swap accepts SPL Token only (use swap2)")
        ext_key = dl.bitmap_extension_address(pair.address)
        if ext_ref.pubkey not in (dl.PROGRAM_ID, ext_key):
            raise _fail(A_CONSTRAINT_SEEDS, "bitmap extension")
        in_acc, out_acc = ctx.get(user_in.pubkey), ctx.get(user_out.pubkey)
        if in_acc is None or out_acc is None:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "user token account missing")
        try:
            in_mint = decode_token_account(in_acc.data).mint
            out_mint = decode_token_account(out_acc.data).mint
        except DecodeError as exc:
            raise _fail(dl.ERR_INVALID_TOKEN_MINT, str(exc)) from exc
        mints = (pair.mint_a, pair.mint_b)
        if in_mint == out_mint or in_mint not in mints or out_mint not in mints:
            raise _fail(dl.ERR_INVALID_TOKEN_MINT, "user token accounts do not match the pair")
        swap_for_y = in_mint == pair.mint_a

        aux: dict[Pubkey, bytes] = {}
        for key in (pair.mint_a, pair.mint_b, dl.CLOCK_SYSVAR):
            acc = ctx.get(key)
            if acc is not None:
                aux[key] = acc.data
        if ext_ref.pubkey == ext_key:
            ext_acc = ctx.get(ext_key)
            if ext_acc is None or ext_acc.owner != dl.PROGRAM_ID:
                raise _fail(A_OWNED_BY_WRONG_PROGRAM, "bitmap extension")
            aux[ext_key] = ext_acc.data
        for ref in remaining:
            acc = ctx.get(ref.pubkey)
            if acc is not None and acc.owner == dl.PROGRAM_ID and len(acc.data) == lay.BIN_ARRAY_LEN:
                aux[ref.pubkey] = acc.data
        try:
            s = dl.quote_detail(pair, aux, amount_in, swap_for_y)
        except MissingAccount as exc:
            raise _fail(ERR_INSUFFICIENT_REMAINING_ACCOUNTS, str(exc)) from exc
        except QuoteError as exc:
            if exc.code is None:
                raise ProgramError(f"meteora_dlmm: {exc}", builtin="ProgramFailedToComplete") from exc
            raise ProgramError(f"meteora_dlmm: {exc}", code=exc.code) from exc
        if s.amount_received < min_out:
            raise _fail(dl.ERR_EXCEEDED_SLIPPAGE, f"received {s.amount_received} < minimum {min_out}")
        if any(lo_in or lo_out for _b, _mi, _mo, lo_in, lo_out in s.bins):
            raise _fail(ERR_NOT_SUPPORT_AT_THE_MOMENT, "limit-order fills are not modelled")

        res_in, res_out = (res_x, res_y) if swap_for_y else (res_y, res_x)
        ctx.token_transfer(user_in.pubkey, res_in.pubkey, user.pubkey, amount_in)
        ctx.token_transfer(res_out.pubkey, user_out.pubkey, pair.address, s.amount_out, pda_signed=True)
        clock = aux[dl.CLOCK_SYSVAR]
        oracle_acc = ctx.get(pair.oracle)
        if oracle_acc is None or oracle_acc.owner != dl.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "oracle")
        now = struct.unpack_from("<q", clock, 32)[0]
        try:  # sampled with the active id that held until now
            oracle_data = lay.update_oracle(oracle_acc.data, pair.active_id, now)
        except DecodeError as exc:
            raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
        ctx.set(pair.oracle, replace(oracle_acc, data=oracle_data))
        self._write_bins(ctx, pair, s, swap_for_y)
        self._write_pair(ctx, pair, s, swap_for_y, clock)

    @staticmethod
    def _write_bins(ctx: InvokeContext, pair: lay.LbPair, s: dl.DlmmSwap, swap_for_y: bool) -> None:
        touched: dict[Pubkey, bytearray] = {}
        for bin_id, mm_in, mm_out, _li, _lo in s.bins:
            idx = mth.bin_id_to_array_index(bin_id)
            key = dl.bin_array_address(pair.address, idx)
            if key not in touched:
                acc = ctx.get(key)
                assert acc is not None
                touched[key] = bytearray(acc.data)
            buf = touched[key]
            off = lay.OFF_BINS + (bin_id - idx * mth.MAX_BIN_PER_ARRAY) * lay.BIN_LEN
            ax, ay = struct.unpack_from("<QQ", buf, off)
            ax, ay = (ax + mm_in, ay - mm_out) if swap_for_y else (ax - mm_out, ay + mm_in)
            struct.pack_into("<QQ", buf, off, ax, ay)
            if buf[off + 16 : off + 32] == bytes(16):
                buf[off + 16 : off + 32] = mth.price_from_id(bin_id, pair.bin_step).to_bytes(16, "little")
        for key, buf in touched.items():
            acc = ctx.get(key)
            assert acc is not None
            ctx.set(key, replace(acc, data=bytes(buf)))

    @staticmethod
    def _write_pair(ctx: InvokeContext, pair: lay.LbPair, s: dl.DlmmSwap, swap_for_y: bool,
                    clock: bytes) -> None:  # fmt: skip
        acc = ctx.get(pair.address)
        assert acc is not None
        buf = bytearray(acc.data)
        now = struct.unpack_from("<q", clock, 32)[0]
        buf[lay.OFF_V_PARAMETERS : lay.OFF_V_PARAMETERS + 32] = lay.pack_v_parameters(
            s.volatility_accumulator, s.volatility_reference, s.index_reference, now
        )
        _I32.pack_into(buf, lay.OFF_ACTIVE_ID, s.active_id)
        fee_in_x = swap_for_y if s.fee_on_input else False  # OnlyY: the fee is in Y
        off = lay.OFF_PROTOCOL_FEE_X + (0 if fee_in_x else 8)
        _U64.pack_into(buf, off, _U64.unpack_from(buf, off)[0] + s.protocol_fee)
        ctx.set(pair.address, replace(acc, data=bytes(buf)))


def create_pool(
    *,
    mint_x: Pubkey,
    mint_y: Pubkey,
    bin_step: int,
    base_factor: int,
    active_id: int,
    bins: dict[int, tuple[int, int]],
    token_program_x: Pubkey = TOKEN_PROGRAM_ID,
    token_program_y: Pubkey = TOKEN_PROGRAM_ID,
    decimals_x: int = 9,
    decimals_y: int = 6,
    filter_period: int = 30,
    decay_period: int = 600,
    reduction_factor: int = 5_000,
    variable_fee_control: int = 40_000,
    max_volatility_accumulator: int = 350_000,
    protocol_share: int = 500,
    base_fee_power_factor: int = 0,
    function_type: int = 0,
    collect_fee_mode: int = 0,
    volatility_accumulator: int = 0,
    volatility_reference: int = 0,
    index_reference: int | None = None,
    last_update_timestamp: int = 0,
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A DLMM pair at its ``initialize_lb_pair2`` PDA with its oracle, reserves (token accounts
    owned by the pair), bin arrays for every array holding a bin of ``bins`` (bin id ->
    ``(amount_x, amount_y)``, prices stored, liquidity supply = the bin's value in Y as Q64.64),
    the internal bitmap set and, when an array lies beyond arrays -512..511, the bitmap extension.
    ``decimals_*`` are accepted for symmetry with other factories (the pair does not store them).
    Returns ``(pair, {address: Account})``. Raises :class:`UsageError` on invalid parameters."""
    del decimals_x, decimals_y
    if mint_x == mint_y or token_program_x not in TOKEN_PROGRAMS or token_program_y not in TOKEN_PROGRAMS:
        raise UsageError("meteora_dlmm pool needs two different mints and SPL token programs")
    if not (1 <= bin_step <= 400 and 0 < base_factor <= 0xFFFF and protocol_share <= 2_500
            and collect_fee_mode in (0, 1) and function_type in (0, 1, 2)):  # fmt: skip
        raise UsageError("meteora_dlmm parameters out of the program's bounds")
    if any(not mth.MIN_BIN_ID <= b <= mth.MAX_BIN_ID for b in [active_id, *bins]):
        raise UsageError("meteora_dlmm bin id out of range")
    pid = dl.PROGRAM_ID
    pair = pair_address(mint_x, mint_y, bin_step, base_factor)
    reserve_x = Pubkey.find_program_address([bytes(pair), bytes(mint_x)], pid)[0]
    reserve_y = Pubkey.find_program_address([bytes(pair), bytes(mint_y)], pid)[0]
    oracle = Pubkey.find_program_address([b"oracle", bytes(pair)], pid)[0]
    bump = Pubkey.find_program_address(
        [*sorted((bytes(mint_x), bytes(mint_y))), bin_step.to_bytes(2, "little"),
         base_factor.to_bytes(2, "little")], pid)[1]  # fmt: skip

    def acc(data: bytes) -> Account:
        return Account(rent_exempt_minimum(len(data)), data, pid)

    out: dict[Pubkey, Account] = {}
    internal, positive, negative = 0, [0] * 12, [0] * 12
    by_array: dict[int, dict[int, tuple[int, int]]] = {}
    for bin_id, amounts in bins.items():
        by_array.setdefault(mth.bin_id_to_array_index(bin_id), {})[bin_id] = amounts
    for idx, members in by_array.items():
        rows: list[tuple[int, ...]] = []
        for i in range(mth.MAX_BIN_PER_ARRAY):
            bin_id = idx * mth.MAX_BIN_PER_ARRAY + i
            ax, ay = members.get(bin_id, (0, 0))
            price = mth.price_from_id(bin_id, bin_step) if bin_id in members else 0
            liq = min(price * ax + (ay << 64), 2**128 - 1)
            rows.append((ax, ay, price, liq))
        out[dl.bin_array_address(pair, idx)] = acc(lay.encode_bin_array(idx, pair, rows))
        if -512 <= idx <= 511:
            internal |= 1 << (idx + 512)
        elif idx > 0:
            positive[idx // 512 - 1] |= 1 << (idx % 512)
        else:
            k, b = divmod(-idx - 1, 512)
            negative[k - 1] |= 1 << b
    if any(positive) or any(negative):
        ext = dl.bitmap_extension_address(pair)
        out[ext] = acc(lay.encode_bitmap_extension(pair, positive, negative))
    state = lay.LbPair(
        address=pair, dex=dl.NAME, mint_a=mint_x, mint_b=mint_y, vault_a=reserve_x,
        vault_b=reserve_y, token_program_a=token_program_x, token_program_b=token_program_y,
        base_factor=base_factor, filter_period=filter_period, decay_period=decay_period,
        reduction_factor=reduction_factor, variable_fee_control=variable_fee_control,
        max_volatility_accumulator=max_volatility_accumulator, min_bin_id=mth.MIN_BIN_ID,
        max_bin_id=mth.MAX_BIN_ID, protocol_share=protocol_share,
        base_fee_power_factor=base_fee_power_factor, function_type=function_type,
        collect_fee_mode=collect_fee_mode, volatility_accumulator=volatility_accumulator,
        volatility_reference=volatility_reference,
        index_reference=active_id if index_reference is None else index_reference,
        last_update_timestamp=last_update_timestamp, bump_seed=bump,
        bin_step_seed=bin_step.to_bytes(2, "little"), pair_type=3, active_id=active_id,
        bin_step=bin_step, status=0, require_base_factor_seed=1,
        base_factor_seed=base_factor.to_bytes(2, "little"), activation_type=0,
        creator_pool_on_off_control=0, protocol_fee_x=0, protocol_fee_y=0,
        reward_infos=bytes(288), oracle=oracle, bin_array_bitmap=internal, last_updated_at=0,
        pre_activation_swap_address=Pubkey.default(), base_key=Pubkey.default(),
        activation_point=0, pre_activation_duration=0, creator=Pubkey.default(),
        token_mint_x_program_flag=TOKEN_PROGRAMS.index(token_program_x),
        token_mint_y_program_flag=TOKEN_PROGRAMS.index(token_program_y), version=1,
    )  # fmt: skip
    out[pair] = acc(lay.encode_lb_pair(state))
    out[oracle] = acc(lay.encode_oracle())
    total_x = sum(a for a, _ in bins.values())
    total_y = sum(b for _, b in bins.values())
    out[reserve_x] = vault_account(mint_x, pair, total_x, token_program_x)
    out[reserve_y] = vault_account(mint_y, pair, total_y, token_program_y)
    return pair, out
