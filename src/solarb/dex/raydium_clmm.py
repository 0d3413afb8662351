"""Raydium CLMM (amm_v3, ``CAMMCzo5...``): the adapter — exact ``swap_v2`` quote, tick-array
selection, swap instruction.

Layouts live in :mod:`solarb.dex.raydium_clmm_layout`, tick-array navigation in
:mod:`solarb.dex.raydium_clmm_bitmap`, the kernel's plans in :mod:`solarb.dex.raydium_clmm_plan`,
the program's swap
loop (step math, fee split, tick crossing, limit orders, dynamic fee) in
:mod:`solarb.dex.raydium_clmm_swap`. This module adds what ``swap_v2`` does around it
(raydium-io/raydium-clmm ``instructions/swap_v2.rs``, 2026 head):

* the Token-2022 transfer fee of the input mint comes off ``amount`` before the swap, the output
  mint's off what the user receives (``calculate_epoch_fee``; the inverse fee on a partial fill);
* without a price limit a partial fill fails (``RequireEqViolated``); zero in or out fails
  (``TooSmallInputOrOutputAmount``); the Clock, when loaded, gates ``open_time`` and drives the
  dynamic fee and transfer-fee epoch;
* the tick arrays a swap may touch are the first :data:`MAX_SWAP_TICK_ARRAYS` initialized arrays
  in its direction, found as the program finds them (:func:`swap_tick_arrays`); the instruction
  passes exactly those after the bitmap extension, as the SDK's builder does.

Reward growth is taken as stored (not advanced to the Clock): it only affects crossed ticks'
``reward_growths_outside`` in the cluster model, never an amount.

:func:`quote` runs ``swap_internal`` in the C kernel ``solarb.native._raydium_clmm`` when it is
built: a plan per pool state and direction (price, liquidity, fee, the initialized ticks of the
arrays in traversal order) is packed once and reused for every amount; a swap the kernel does not
cover (dynamic fee, a tick with limit orders reached, any program error) runs the Python path,
which stays the reference (differential tests hold both bit-identical).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex.base import (
    CLOCK_SYSVAR,
    MEMO_PROGRAM_ID,
    InsufficientLiquidity,
    MissingAccount,
    Quote,
    QuoteError,
    clock_fields,
    loaded,
    plain_quoter,
)
from solarb.dex.raydium_clmm_accounts import (
    MAX_SWAP_TICK_ARRAYS,
    cached_config,
    mint_datas,
    navigation,
    pool_extension,
    swap_arrays,
    swap_tick_arrays,
)
from solarb.dex.raydium_clmm_accounts import program_error as _err
from solarb.dex.raydium_clmm_bitmap import (
    array_start_index,
    tick_count,
)
from solarb.dex.raydium_clmm_layout import (
    ANCHOR_REQUIRE_EQ,
    ANCHOR_REQUIRE_GT,
    ERR_CALCULATE_OVERFLOW,
    ERR_LIQUIDITY_INSUFFICIENT,
    ERR_MISSING_EXTENSION,
    ERR_TOO_SMALL,
    ERR_ZERO_AMOUNT,
    ERRORS,
    MAX_TICK,
    MIN_TICK,
    NAME,
    PROGRAM_ID,
    AmmConfig,
    BitmapExtension,
    ClmmPool,
    TickArray,
    bitmap_extension_address,
    decode_pool,
    tick_array_address,
)  # fmt: skip
from solarb.dex.raydium_clmm_plan import (  # noqa: F401 (tests read _PLANS, _SEGS, _moved)
    _PLANS,
    _SEGS,
    _moved,
    current_plan,
)
from solarb.dex.raydium_clmm_swap import (
    FEE_DEN,
    MAX_SQRT_PRICE_X64,
    MIN_SQRT_PRICE_X64,
    SWAP_STATUS_BIT,  # noqa: F401 (re-exported)
    U64_MAX,
    SwapResult,
    compute_swap,
    swap_internal,
)  # fmt: skip
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    epoch_transfer_fee,
    transfer_fee,
)
from solarb.native.slots import frozen_maker

__all__ = [
    "ERRORS", "MAX_SQRT_PRICE_X64", "MAX_SWAP_TICK_ARRAYS", "MIN_SQRT_PRICE_X64", "NAME",
    "PROGRAM_ID", "TOKEN_PROGRAMS_FROM_MINTS", "ClmmSwap", "SwapResult", "aux_accounts",
    "aux_accounts_key", "compute_swap", "decode_pool", "exact_input_v2", "exact_output_v2",
    "quote", "quote_detail", "quote_exact_out", "quoter", "resolve_token_programs", "spot_rate",
    "swap_data", "swap_instruction", "swap_instruction_key", "swap_internal", "swap_tick_arrays",
    "transfer_fee",
]

TOKEN_PROGRAMS_FROM_MINTS = True
"""The pool account does not record its mints' token programs: decode with the mints' owners."""
SWAP_V2_DISCRIMINATOR = bytes.fromhex("2b04ed0b1ac91e62")  # sha256("global:swap_v2")[:8]
_SWAP_V2 = struct.Struct("<8sQQQQ?")



# --- Token-2022 transfer fees (util/token.rs: get_transfer_fee / get_transfer_inverse_fee) ---


def _fee_params(mint_data: bytes | None, epoch: int | None) -> tuple[int, int] | None:
    """``(maximum_fee, basis_points)`` of a Token-2022 TransferFeeConfig for ``epoch``."""
    fee = epoch_transfer_fee(mint_data, epoch)
    return None if fee is None else (fee.maximum_fee, fee.basis_points)


def _inverse_fee(mint_data: bytes | None, post: int, epoch: int | None) -> int:
    """Raydium's ``get_transfer_inverse_fee``: Token-2022 ``calculate_inverse_epoch_fee`` (the fee
    on ``calculate_pre_fee_amount(post)``), checked against the fee on ``post + fee``."""
    p = _fee_params(mint_data, epoch)
    if p is None:
        return 0
    max_fee, bps = p
    if bps == 10_000:
        return max_fee
    if bps == 0 or post == 0:
        return 0
    raw = -(-post * 10_000 // (10_000 - bps))
    pre = post + max_fee if raw - post >= max_fee else raw
    fee = min(-(-pre * bps // 10_000), max_fee)
    if transfer_fee(mint_data, post + fee, epoch) != fee:
        raise _err(6039, "inverse transfer fee (TransferFeeCalculateNotMatch)")
    return fee


# --- the adapter ---


def resolve_token_programs(state: ClmmPool, aux: Mapping[Pubkey, bytes]) -> ClmmPool:
    """``state`` with each side's token program inferred from its mint (a mint with extension
    data is Token-2022). Pass the programs to :func:`decode_pool` when the owners are known."""
    from dataclasses import replace

    def prog(mint: Pubkey, current: Pubkey) -> Pubkey:
        data = aux.get(mint)
        return TOKEN_2022_PROGRAM_ID if data is not None and len(data) > 82 else current

    return replace(state, token_program_a=prog(state.mint_a, state.token_program_a),
                   token_program_b=prog(state.mint_b, state.token_program_b))  # fmt: skip


def aux_accounts(state: ClmmPool, aux: Mapping[Pubkey, bytes] | None = None) -> list[Pubkey]:
    """``[amm_config, bitmap_extension, mint_0, mint_1, tick arrays a->b..., b->a...]``: the up to
    :data:`MAX_SWAP_TICK_ARRAYS` arrays per direction a swap can touch (deduplicated), found
    through the pool's bitmap and, when ``aux`` already holds it, the extension's. The Clock
    sysvar is used when present (open time, dynamic fee, transfer-fee epoch)."""
    ext = pool_extension(state, aux)
    out = [state.amm_config, bitmap_extension_address(state.address), state.mint_a, state.mint_b]
    seen = set(out)
    for a_to_b in (True, False):
        for start in swap_tick_arrays(state, a_to_b, ext):
            key = tick_array_address(state.address, start)
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


def aux_accounts_key(state: ClmmPool) -> tuple[object, ...]:
    """Everything :func:`aux_accounts` (without ``aux``: no extension) reads from ``state``: the
    pool (extension and array PDAs), the current tick's array (which also fixes whether it
    overflows the default bitmap), whether the tick is in range, the spacing, the default
    bitmap, the amm config and the mints. Equal keys: the same aux accounts."""
    tick, spacing = state.tick_current, state.tick_spacing
    return (state.address, tick // tick_count(spacing), MIN_TICK <= tick <= MAX_TICK, spacing,
            state.tick_array_bitmap, state.amm_config, state.mint_a, state.mint_b)  # fmt: skip


@dataclass(slots=True, frozen=True)
class ClmmSwap:
    """Everything ``swap_v2`` (exact input, no price limit) computes before the slippage check."""

    amount_in: int  # leaves the user, transfer fee included
    amount_out: int  # leaves the output vault
    amount_received: int  # reaches the user (after the output transfer fee)
    trade_fee: int  # lp + protocol + fund, in token_0 if result.fee_on_token_0 else token_1
    fee_on_input: bool
    input_transfer_fee: int
    output_transfer_fee: int
    result: SwapResult


def _clock(aux: Mapping[Pubkey, bytes]) -> tuple[int | None, int | None]:
    c = clock_fields(aux.get(CLOCK_SYSVAR))
    return (None, None) if c is None else (c[2], c[3])


def exact_input_v2(state: ClmmPool, config: AmmConfig, arrays: Sequence[TickArray],
                   ext: BitmapExtension | None, mint_in: bytes | None, mint_out: bytes | None,
                   amount_in: int, a_to_b: bool, epoch: int | None, ts: int | None,
                   sqrt_price_limit_x64: int = 0, *,
                   first: tuple[bool, int] | None = None) -> ClmmSwap:
    """``exact_internal_v2`` for an exact input: transfer fee off the input, ``swap_internal``,
    transfer fee off the output. ``mint_*`` are the mints' data (None for SPL Token mints),
    ``ts`` the Clock's unix timestamp (None: open time unchecked, no dynamic fee possible);
    ``first``: ``first_tick_array_start`` of (state, ext) when already known."""
    fee_in = transfer_fee(mint_in, amount_in, epoch)
    specified = amount_in - fee_in
    if ts is not None and not ts > state.open_time:
        raise _err(ANCHOR_REQUIRE_GT, "pool not open yet")
    if state.dynamic_fee.enabled and ts is None:
        raise MissingAccount(f"{NAME}: dynamic-fee pool needs the Clock sysvar")
    limit = sqrt_price_limit_x64 or (MIN_SQRT_PRICE_X64 + 1 if a_to_b else MAX_SQRT_PRICE_X64 - 1)
    r = swap_internal(state, config, arrays, ext, specified, limit, a_to_b, True,
                      (ts or 0) & 0xFFFF_FFFF, first=first)  # fmt: skip
    if r.amount_0 == 0 or r.amount_1 == 0:
        raise _err(ERR_TOO_SMALL, "zero input or output")
    taken, out = (r.amount_0, r.amount_1) if a_to_b else (r.amount_1, r.amount_0)
    fee_taken = fee_in if taken == specified else _inverse_fee(mint_in, taken, epoch)
    if sqrt_price_limit_x64 == 0 and taken + fee_taken != amount_in:
        raise _err(ANCHOR_REQUIRE_EQ, f"partial fill: {taken} of {specified}")
    fee_out = transfer_fee(mint_out, out, epoch)
    fee_on_input = state.fee_on not in (1, 2) or (state.fee_on == 1) == a_to_b
    return ClmmSwap(taken + fee_taken, out, out - fee_out, r.trade_fee, fee_on_input, fee_taken,
                    fee_out, r)  # fmt: skip


def exact_output_v2(state: ClmmPool, config: AmmConfig, arrays: Sequence[TickArray],
                    ext: BitmapExtension | None, mint_in: bytes | None, mint_out: bytes | None,
                    amount_out: int, a_to_b: bool, epoch: int | None, ts: int | None,
                    sqrt_price_limit_x64: int = 0, *,
                    first: tuple[bool, int] | None = None) -> ClmmSwap:
    """``exact_internal_v2`` for an exact output: the vault pays ``amount_out`` plus the output
    mint's inverse transfer fee; the user pays the input plus its inverse transfer fee
    (``ClmmSwap.amount_in``, to compare with ``other_amount_threshold``)."""
    fee_out = _inverse_fee(mint_out, amount_out, epoch)
    specified = amount_out + fee_out
    if specified > U64_MAX:
        raise _err(ERR_CALCULATE_OVERFLOW, "output plus transfer fee above u64")
    if ts is not None and not ts > state.open_time:
        raise _err(ANCHOR_REQUIRE_GT, "pool not open yet")
    if state.dynamic_fee.enabled and ts is None:
        raise MissingAccount(f"{NAME}: dynamic-fee pool needs the Clock sysvar")
    limit = sqrt_price_limit_x64 or (MIN_SQRT_PRICE_X64 + 1 if a_to_b else MAX_SQRT_PRICE_X64 - 1)
    r = swap_internal(state, config, arrays, ext, specified, limit, a_to_b, False,
                      (ts or 0) & 0xFFFF_FFFF, first=first)  # fmt: skip
    if r.amount_0 == 0 or r.amount_1 == 0:
        raise _err(ERR_TOO_SMALL, "zero input or output")
    taken, out = (r.amount_0, r.amount_1) if a_to_b else (r.amount_1, r.amount_0)
    fee_in = _inverse_fee(mint_in, taken, epoch)
    if sqrt_price_limit_x64 == 0 and out != specified:
        raise _err(ANCHOR_REQUIRE_EQ, f"partial fill: {out} of {specified}")
    fee_vault_out = transfer_fee(mint_out, out, epoch)
    fee_on_input = state.fee_on not in (1, 2) or (state.fee_on == 1) == a_to_b
    return ClmmSwap(taken + fee_in, out, out - fee_vault_out, r.trade_fee, fee_on_input, fee_in,
                    fee_vault_out, r)  # fmt: skip


def quote_exact_out(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_out: int,
                    a_to_b: bool, tick_arrays: Sequence[int] | None = None) -> ClmmSwap:
    """``swap_v2(amount_out, max_in, 0, is_base_input = false)``: what the user pays for
    ``amount_out`` (``ClmmSwap.amount_in``); same accounts and errors as :func:`quote_detail`."""
    if not 0 < amount_out <= U64_MAX:
        raise _err(ERR_ZERO_AMOUNT, f"amount_out {amount_out} out of range")
    return _run(state, aux, amount_out, a_to_b, tick_arrays, exact_output_v2)


def quote_detail(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool,
                 tick_arrays: Sequence[int] | None = None) -> ClmmSwap:
    """``swap_v2(amount_in, 0, sqrt_price_limit 0, is_base_input)`` as the program runs it with
    the tick arrays of :func:`swap_tick_arrays` (or the ``tick_arrays`` start indices given);
    an array's account is needed only if the swap reaches it."""
    if not 0 < amount_in <= U64_MAX:
        raise _err(ERR_ZERO_AMOUNT, f"amount_in {amount_in} out of range")
    return _run(state, aux, amount_in, a_to_b, tick_arrays, exact_input_v2)


def _run(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount: int, a_to_b: bool,
         tick_arrays: Sequence[int] | None, how: Callable[..., ClmmSwap]) -> ClmmSwap:
    return _run_keys(state, aux, amount, a_to_b, tick_arrays, how)[0]


def _run_keys(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount: int, a_to_b: bool,
              tick_arrays: Sequence[int] | None,
              how: Callable[..., ClmmSwap]) -> tuple[ClmmSwap, list[int], list[Pubkey]]:
    """The swap, the tick-array start indices passed and their addresses."""
    epoch, ts = _clock(aux)
    config = cached_config(state.amm_config, loaded(aux, state.amm_config, NAME, "amm config"))
    ext = pool_extension(state, aux)
    data_in, data_out = mint_datas(state, aux, a_to_b)
    first = None
    if tick_arrays is None:
        nav = navigation(state, ext, a_to_b)
        starts, keys, first = nav.starts, nav.keys, nav.first
    else:
        starts = list(tick_arrays)
        keys = [tick_array_address(state.address, s) for s in starts]
    arrays = swap_arrays(state.address, starts, keys, aux)
    try:
        return (how(state, config, arrays, ext, data_in, data_out, amount, a_to_b, epoch, ts,
                    first=first), starts, keys)  # fmt: skip
    except QuoteError as exc:
        if ext is None and exc.code == ERR_MISSING_EXTENSION:  # the instruction always passes it
            key = bitmap_extension_address(state.address)
            raise MissingAccount(f"{NAME}: bitmap extension {key} not loaded") from exc
        raise


def _walked(state: ClmmPool, tick: int, a_to_b: bool, starts: Sequence[int]) -> int:
    """How many of ``starts`` the instruction passes for a swap ending at ``tick``: those walked
    plus one spare (all when the end lies beyond them)."""
    end = array_start_index(tick, state.tick_spacing)
    for i, start in enumerate(starts):
        if (start <= end) if a_to_b else (start >= end):
            return i + 2
    return len(starts)


# --- the native kernel (solarb.native._raydium_clmm): plans and the lean quote path ---

_NATIVE = native.load("raydium_clmm")
"""The compiled swap kernel; None runs the pure-Python path (tests set it to None)."""
_new_quote = frozen_maker(Quote)
def _native_quote(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int,
                  a_to_b: bool) -> Quote | None:
    """:func:`quote` (``exact_input_v2`` around the kernel's ``swap_internal``) for an amount in
    u64; None where the kernel does not apply (the Python path then runs)."""
    c = current_plan(state, aux, a_to_b)
    plan = c.plan
    if plan is None:
        return None
    epoch, ts = _clock(aux)
    if ts is not None and not ts > state.open_time:
        return None
    fee_in, fee_out = c.fees
    if fee_in:
        amount = amount_in - transfer_fee(c.datas[2], amount_in, epoch)
        r = _NATIVE.swap_exact_in(plan, amount)  # type: ignore[union-attr]
    else:
        r = _NATIVE.swap_exact_in(plan, amount_in)  # type: ignore[union-attr]
    if r is None:
        return None
    if r is False:
        code = ERR_LIQUIDITY_INSUFFICIENT
        raise InsufficientLiquidity(f"{NAME}: liquidity runs out (LiquidityInsufficient {code})",
                                    code)  # fmt: skip
    _used, out, fee, walked = r
    if not out:
        return None  # TooSmallInputOrOutputAmount
    if fee_out:
        out -= transfer_fee(c.datas[3], out, epoch)
    return _new_quote(amount_in, out, fee, c.nav.prefixes[walked])  # type: ignore[union-attr]


def quote(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact ``swap_v2`` exact-input quote (a_to_b = token_0 -> token_1).

    ``amount_out`` is what reaches the user; ``fee`` is the trade fee (lp + protocol + fund),
    charged in the input token unless the pool's ``fee_on`` puts it on the output token;
    ``arrays`` the tick arrays :func:`swap_instruction` passes for this amount."""
    if not 0 < amount_in <= U64_MAX:
        raise _err(ERR_ZERO_AMOUNT, f"amount_in {amount_in} out of range")
    if _NATIVE is not None:
        q = _native_quote(state, aux, amount_in, a_to_b)
        if q is not None:
            return q
    s, starts, keys = _run_keys(state, aux, amount_in, a_to_b, None, exact_input_v2)
    arrays = tuple(keys[: _walked(state, s.result.tick, a_to_b, starts)])
    return Quote(amount_in, s.amount_received, s.trade_fee, arrays)


def quoter(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)`` for a run of amounts while ``state`` and ``aux``
    stay as they are (one sizing): the plan, accounts and clock are checked once, not per
    amount. Anything the kernel does not answer goes through :func:`quote` (same result, same
    errors)."""
    kernel = _NATIVE
    if kernel is None:
        return plain_quoter(quote, state, aux, a_to_b)
    c = current_plan(state, aux, a_to_b)
    clock = clock_fields(aux.get(CLOCK_SYSVAR))
    if (c.plan is None or c.fees != (False, False)
            or (clock is not None and not clock[3] > state.open_time)):  # fmt: skip
        return plain_quoter(quote, state, aux, a_to_b)
    # x -> kernel.quote_exact_in(plan, x, Quote, prefixes), or quote(state, aux, x, a_to_b)
    # where that is None (not handled, out of liquidity, nothing out, x outside u64): a C callable
    return kernel.bind(c.plan, Quote, c.nav.prefixes, quote, state, aux,  # type: ignore[no-any-return]
                       a_to_b)


_LAST_SPOT: tuple[object, object, float, float] = (object(), None, 0.0, 0.0)
"""The latest :func:`spot_rate`'s state, config data, price and fee factor (an update asks both
directions of one state in a row); no state is the first item's object."""


def spot_rate(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input unit at the current price after the trade fee (float)."""
    global _LAST_SPOT
    data = aux.get(state.amm_config)
    c = _LAST_SPOT
    if c[0] is state and c[1] is data:
        price, keep = c[2], c[3]
    else:
        config = cached_config(state.amm_config, loaded(aux, state.amm_config, NAME, "amm config"))
        price = (state.sqrt_price_x64 / 2**64) ** 2
        keep = 1.0 - config.trade_fee_rate / FEE_DEN
        _LAST_SPOT = (state, data, price, keep)
    rate = price if a_to_b else (1.0 / price if price else 0.0)
    return rate * keep


_METAS: dict[tuple[Pubkey, Pubkey, bool], tuple[tuple[Pubkey, ...], list[AccountMeta]]] = {}
"""Per (pool, user, direction): the instruction's metas before the tick arrays, with the state
keys they were made from (config, mints, vaults, programs, observation)."""


def swap_instruction(state: ClmmPool, user: Pubkey, amount_in: int, min_out: int, a_to_b: bool,
                     *, aux: Mapping[Pubkey, bytes] | None = None,
                     tick_arrays: Sequence[int] | None = None, arrays: Sequence[Pubkey] = (),
                     sqrt_price_limit_x64: int = 0, exact_out: bool = False) -> Instruction:
    """``swap_v2(amount_in, min_out, sqrt_price_limit_x64, is_base_input=true)`` with the account
    list of the SDK's ``makeSwapBaseInInstructions``: payer, config, pool, user ATAs, vaults,
    observation, both token programs, memo, mints, then the bitmap extension and the tick arrays
    (``tick_arrays`` start indices, default :func:`swap_tick_arrays`) as remaining accounts.
    With ``aux`` (the pool's loaded accounts) and no ``tick_arrays``: the extension's bitmap is
    used and, as the SDK passes its quote's arrays, the arrays are those the exact quote of
    ``amount_in`` walks plus the next one (a spare for a price that moved), found with
    :func:`quote_detail`; all :func:`swap_tick_arrays` if the quote fails. ``arrays`` (the
    :attr:`Quote.arrays` of :func:`quote` for this ``amount_in``): those addresses, no quote.
    ``exact_out``: ``amount_in`` is then the exact output and ``min_out`` the maximum input
    (``is_base_input=false``, ``makeSwapBaseOutInstructions``)."""
    if a_to_b:
        mint_in, mint_out, vin, vout = state.mint_a, state.mint_b, state.vault_a, state.vault_b
        pin, pout = state.token_program_a, state.token_program_b
    else:
        mint_in, mint_out, vin, vout = state.mint_b, state.mint_a, state.vault_b, state.vault_a
        pin, pout = state.token_program_b, state.token_program_a
    keys: Sequence[Pubkey] | None = None
    if tick_arrays is not None:
        starts = list(tick_arrays)
    elif arrays:
        keys = arrays
    else:
        starts = swap_tick_arrays(state, a_to_b, pool_extension(state, aux))
        if aux is not None and not exact_out:
            starts = _quoted_arrays(state, aux, amount_in, a_to_b, starts)
    static = (state.amm_config, mint_in, mint_out, vin, vout, pin, pout, state.observation_key)
    ck = (state.address, user, a_to_b)
    cached = _METAS.get(ck)
    if cached is not None and cached[0] == static:
        head = cached[1]
    else:
        head = [
            AccountMeta(user, True, False),
            AccountMeta(state.amm_config, False, False),
            AccountMeta(state.address, False, True),
            AccountMeta(associated_token_address(user, mint_in, pin), False, True),
            AccountMeta(associated_token_address(user, mint_out, pout), False, True),
            AccountMeta(vin, False, True),
            AccountMeta(vout, False, True),
            AccountMeta(state.observation_key, False, True),
            AccountMeta(TOKEN_PROGRAM_ID, False, False),
            AccountMeta(TOKEN_2022_PROGRAM_ID, False, False),
            AccountMeta(MEMO_PROGRAM_ID, False, False),
            AccountMeta(mint_in, False, False),
            AccountMeta(mint_out, False, False),
            AccountMeta(bitmap_extension_address(state.address), False, True),
        ]
        _METAS[ck] = (static, head)
    metas = list(head)
    if keys is None:
        keys = [tick_array_address(state.address, s) for s in starts]
    metas += [AccountMeta(k, False, True) for k in keys]
    data = swap_data(state, amount_in, min_out, a_to_b, sqrt_price_limit_x64, exact_out)
    return Instruction(PROGRAM_ID, data, metas)


def swap_data(state: ClmmPool, amount_in: int, min_out: int, a_to_b: bool,
              sqrt_price_limit_x64: int = 0, exact_out: bool = False) -> bytes:
    """The data of :func:`swap_instruction` (``struct.error`` for an amount outside u64)."""
    lim = sqrt_price_limit_x64
    return _SWAP_V2.pack(SWAP_V2_DISCRIMINATOR, amount_in, min_out, lim & U64_MAX, lim >> 64,
                         not exact_out)  # fmt: skip


def swap_instruction_key(state: ClmmPool, a_to_b: bool, aux: Mapping[Pubkey, bytes] | None,
                         arrays: Sequence[Pubkey]) -> tuple[object, ...] | None:
    """Everything :func:`swap_instruction` (no ``tick_arrays``, default limit, exact in) reads
    besides ``user`` and the amounts: for one user, equal keys give instructions equal but for
    their :func:`swap_data`. ``None`` (not keyable) without ``arrays``: the arrays then come from
    a quote of ``amount_in``."""
    if not arrays:
        return None
    return (state.address, a_to_b, state.amm_config, state.mint_a, state.mint_b, state.vault_a,
            state.vault_b, state.token_program_a, state.token_program_b, state.observation_key,
            tuple(arrays))  # fmt: skip


def _quoted_arrays(state: ClmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool,
                   starts: list[int]) -> list[int]:
    """The prefix of ``starts`` the exact swap of ``amount_in`` walks, plus one spare array."""
    try:
        tick = quote_detail(state, aux, amount_in, a_to_b).result.tick
    except QuoteError:
        return starts
    return starts[: _walked(state, tick, a_to_b, starts)]
