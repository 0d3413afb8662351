"""Orca Whirlpool's swap engine in Python: ``swap_manager::swap`` over decoded tick arrays.

The reference for the adapter (:mod:`solarb.dex.orca_whirlpool`) and for the C kernel
``solarb.native._whirlpool``, which must compute the same integers; see the adapter's module
docstring for what the program does. Also the program's error table (``ERRORS``/``CODES``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex.base import InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.orca_whirlpool_fee import FeeRate
from solarb.dex.orca_whirlpool_layout import (
    TICK_ARRAY_SIZE,
    AdaptiveFeeVariables,
    Oracle,
    RewardInfo,
    Tick,
    TickArray,
    Whirlpool,
)

__all__ = ["CODES", "ERRORS", "MissingArray", "Slot", "SwapResult", "program_error", "swap"]

U64_MAX = cm.U64_MAX

ERRORS: dict[int, str] = {
    6000 + i: n
    for i, n in enumerate(
        "InvalidEnum InvalidStartTick TickArrayExistInPool TickArrayIndexOutofBounds "
        "InvalidTickSpacing "
        "ClosePositionNotEmpty DivideByZero NumberCastError NumberDownCastError TickNotFound "
        "InvalidTickIndex SqrtPriceOutOfBounds LiquidityZero LiquidityTooHigh LiquidityOverflow "
        "LiquidityUnderflow LiquidityNetError TokenMaxExceeded TokenMinSubceeded "
        "MissingOrInvalidDelegate InvalidPositionTokenAmount InvalidTimestampConversion "
        "InvalidTimestamp InvalidTickArraySequence InvalidTokenMintOrder RewardNotInitialized "
        "InvalidRewardIndex RewardVaultAmountInsufficient FeeRateMaxExceeded "
        "ProtocolFeeRateMaxExceeded MultiplicationShiftRightOverflow MulDivOverflow "
        "MulDivInvalidInput MultiplicationOverflow InvalidSqrtPriceLimitDirection "
        "ZeroTradableAmount AmountOutBelowMinimum AmountInAboveMaximum "
        "TickArraySequenceInvalidIndex AmountCalcOverflow "
        "AmountRemainingOverflow InvalidIntermediaryMint DuplicateTwoHopPool InvalidBundleIndex "
        "BundledPositionAlreadyOpened BundledPositionAlreadyClosed PositionBundleNotDeletable "
        "UnsupportedTokenMint RemainingAccountsInvalidSlice RemainingAccountsInsufficient "
        "NoExtraAccountsForTransferHook IntermediateTokenAmountMismatch "
        "TransferFeeCalculationError "
        "RemainingAccountsDuplicatedAccountsType FullRangeOnlyPool TooManySupplementalTickArrays "
        "DifferentWhirlpoolTickArrayAccount PartialFillError PositionNotLockable "
        "OperationNotAllowedOnLockedPosition SameTickRangeNotAllowed InvalidAdaptiveFeeConstants "
        "InvalidFeeTierIndex InvalidTradeEnableTimestamp TradeIsNotEnabled".split()
    )
}
CODES: dict[str, int] = {n: c for c, n in ERRORS.items()}

def program_error(name: str, what: str = "") -> QuoteError:
    """The program's error ``name`` as a :class:`QuoteError` with its code."""
    return QuoteError(f"orca_whirlpool: {name}{': ' + what if what else ''}", CODES.get(name))


@dataclass(slots=True, frozen=True)
class SwapResult:
    """What the program's ``swap`` computes (before transfer-fee adjustments).

    ``crossed`` lists ``(array_position, offset, updated_tick)`` for each initialized tick crossed
    (only with ``detail=True``); ``adaptive`` is the oracle's new variables (None: static fee)."""

    amount_a: int
    amount_b: int
    fee: int
    protocol_fee: int
    next_liquidity: int
    next_tick_index: int
    next_sqrt_price: int
    next_fee_growth_global: int
    reward_infos: tuple[RewardInfo, ...]
    crossed: tuple[tuple[int, int, Tick], ...]
    adaptive: AdaptiveFeeVariables | None


class MissingArray:
    """A tick array the swap may need whose account is not loaded."""

    __slots__ = ("address",)

    def __init__(self, address: Pubkey) -> None:
        self.address = address


Slot = TickArray | int | MissingArray  # decoded array, start of an all-uninitialized array, not loaded


def _next_init(slots: Sequence[Slot], tick: int, ts: int, a_to_b: bool, i: int) -> tuple[int, int]:
    """``SwapTickSequence::get_next_initialized_tick_index``."""
    span = TICK_ARRAY_SIZE * ts
    while True:
        if i >= len(slots):
            raise InsufficientLiquidity(
                "orca_whirlpool: swap runs past the loaded tick arrays",
                CODES["TickArraySequenceInvalidIndex"],
            )
        arr = slots[i]
        if isinstance(arr, MissingArray):
            raise MissingAccount(f"orca_whirlpool: tick array {arr.address} not loaded")
        start = arr if isinstance(arr, int) else arr.start_tick_index
        shift = 0 if a_to_b else ts
        if not start - shift <= tick < start + span - shift:
            raise program_error("InvalidTickArraySequence")
        off = (tick - start) // ts
        if not isinstance(arr, int) and arr.offsets:
            offs = arr.offsets
            if a_to_b:
                k = bisect.bisect_right(offs, off) - 1
                if k >= 0:
                    return i, start + offs[k] * ts
            else:
                k = bisect.bisect_right(offs, off)
                if k < len(offs):
                    return i, start + offs[k] * ts
        if a_to_b and start <= cm.MIN_TICK:
            return i, cm.MIN_TICK
        if not a_to_b and start + span > cm.MAX_TICK:
            return i, cm.MAX_TICK
        if i + 1 == len(slots):
            return i, (start if a_to_b else start + span - 1)
        tick = start - 1 if a_to_b else start + span - 1
        i += 1


def _rewards(pool: Whirlpool, ts: int) -> tuple[RewardInfo, ...]:
    if ts < pool.reward_last_updated_timestamp:
        raise program_error("InvalidTimestamp", "clock is behind the pool's reward timestamp")
    if pool.liquidity == 0 or ts == pool.reward_last_updated_timestamp:
        return pool.reward_infos
    dt = ts - pool.reward_last_updated_timestamp
    out = []
    for r in pool.reward_infos:
        if r.initialized:
            delta = dt * r.emissions_per_second_x64 // pool.liquidity
            if delta > cm.U128_MAX:
                delta = 0  # checked_mul_div(...).unwrap_or(0)
            r = replace(r, growth_global_x64=(r.growth_global_x64 + delta) & cm.U128_MAX)
        out.append(r)
    return tuple(out)


def swap(
    pool: Whirlpool,
    slots: Sequence[Slot],
    amount: int,
    a_to_b: bool,
    *,
    is_input: bool = True,
    sqrt_price_limit: int = 0,
    timestamp: int = 0,
    oracle: Oracle | None = None,
    detail: bool = False,
    final_tick: bool = True,
) -> SwapResult:
    """The program's ``swap_manager::swap`` over the tick-array ``slots`` (traversal order).
    Raises :class:`QuoteError` (program code) where the program fails. ``final_tick=False``
    (amounts only): a swap that stops between two ticks does not estimate the tick of its final
    price (``next_tick_index`` is then the tick before the last step; no amount depends on it)."""
    limit = sqrt_price_limit or (cm.MIN_SQRT_PRICE_X64 if a_to_b else cm.MAX_SQRT_PRICE_X64)
    if not cm.MIN_SQRT_PRICE_X64 <= limit <= cm.MAX_SQRT_PRICE_X64:
        raise program_error("SqrtPriceOutOfBounds", "price limit")
    if (a_to_b and limit >= pool.sqrt_price) or (not a_to_b and limit <= pool.sqrt_price):
        raise program_error("InvalidSqrtPriceLimitDirection")
    if amount == 0:
        raise program_error("ZeroTradableAmount")
    ts_, pfr = pool.tick_spacing, pool.protocol_fee_rate
    rewards = _rewards(pool, timestamp) if detail else pool.reward_infos
    remaining, calculated, fee_sum, protocol = amount, 0, 0, 0
    price, tick, liq = pool.sqrt_price, pool.tick_current_index, pool.liquidity
    growth = pool.fee_growth_global_a if a_to_b else pool.fee_growth_global_b
    arr_i = 0
    fees = FeeRate(a_to_b, tick, timestamp, pool.fee_rate, oracle)
    adaptive = oracle is not None
    crossed: list[tuple[int, int, Tick]] = []
    step = cm.swap_step_amounts
    u128_max, pfr_mul = cm.U128_MAX, cm.PROTOCOL_FEE_RATE_MUL_VALUE
    static_rate = pool.fee_rate
    while remaining > 0 and price != limit:
        next_i, next_tick = _next_init(slots, tick, ts_, a_to_b, arr_i)
        next_price = cm.sqrt_price_at_tick(next_tick)
        target = max(next_price, limit) if a_to_b else min(next_price, limit)
        while True:
            if adaptive:
                fees.update_va()
                bounded, skipped = fees.bounded(target, liq)
                rate = fees.total()
            else:
                bounded, skipped, rate = target, False, static_rate
            s_in, s_out, s_price, fee = step(remaining, rate, liq, price, bounded, is_input, a_to_b)
            if is_input:
                remaining -= s_in + fee
                calculated += s_out
            else:
                remaining -= s_out
                calculated += s_in + fee
            if remaining < 0:
                raise program_error("AmountRemainingOverflow")
            if calculated > U64_MAX:
                raise program_error("AmountCalcOverflow")
            fee_sum += fee
            if pfr:
                delta = fee * pfr // pfr_mul
                fee -= delta
                protocol += delta
            if liq:
                growth = (growth + (fee << 64) // liq) & u128_max
            if s_price == next_price:
                arr = slots[next_i]
                start = arr if isinstance(arr, int) else arr.start_tick_index  # type: ignore
                off = (next_tick - start) // ts_
                t = None
                if isinstance(arr, TickArray) and (next_tick - start) % ts_ == 0:
                    t = arr.ticks.get(off)
                if t is not None:
                    liq += -t.liquidity_net if a_to_b else t.liquidity_net
                    if liq < 0:
                        raise program_error("LiquidityUnderflow")
                    if liq > cm.U128_MAX:
                        raise program_error("LiquidityOverflow")
                    if detail:
                        ga, gb = (growth, pool.fee_growth_global_b)
                        if not a_to_b:
                            ga, gb = pool.fee_growth_global_a, growth
                        rg = tuple(
                            (r.growth_global_x64 - o) & cm.U128_MAX if r.initialized else o
                            for r, o in zip(rewards, t.reward_growths_outside, strict=True)
                        )
                        upd = replace(
                            t,
                            fee_growth_outside_a=(ga - t.fee_growth_outside_a) & cm.U128_MAX,
                            fee_growth_outside_b=(gb - t.fee_growth_outside_b) & cm.U128_MAX,
                            reward_growths_outside=rg,  # type: ignore[arg-type]
                        )
                        crossed.append((next_i, off, upd))
                at_edge = off == 0 if a_to_b else off == TICK_ARRAY_SIZE - 1
                arr_i = next_i + 1 if at_edge else next_i
                tick = next_tick - 1 if a_to_b else next_tick
            elif s_price != price:
                if final_tick:
                    tick = cm.tick_at_sqrt_price(s_price)
                elif not cm.MIN_SQRT_PRICE_X64 <= s_price <= cm.MAX_SQRT_PRICE_X64:
                    raise cm.ClmmMathError("SqrtPriceOutOfBounds", f"sqrt price {s_price}")
            price = s_price
            if not adaptive:
                pass
            elif not skipped:
                fees.advance()
            else:
                fees.advance_after_skip(price, next_price, next_tick)
            if remaining == 0 or price == target:
                break
    if remaining > 0 and not is_input and sqrt_price_limit == 0:
        raise program_error("PartialFillError")
    done = amount - remaining
    amount_a, amount_b = (done, calculated) if a_to_b == is_input else (calculated, done)
    adaptive = fees.finish(timestamp, pool.sqrt_price, price)
    return SwapResult(
        amount_a, amount_b, fee_sum, protocol, liq, tick, price, growth, rewards, tuple(crossed),
        adaptive,
    )
