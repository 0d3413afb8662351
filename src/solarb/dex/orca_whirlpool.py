"""Orca Whirlpool (``whirLbMi...``): the DEX adapter: aux accounts, exact quote, ``swap_v2``.

The quote replays the program's ``swap_v2`` (programs/whirlpool: instructions/v2/swap.rs,
manager/swap_manager.rs, manager/fee_rate_manager.rs, util/sparse_swap.rs):

* tick arrays: the program builds its sequence from the start ticks of
  :func:`~solarb.dex.orca_whirlpool_layout.swap_start_indexes` (3 per direction); an array account
  that does not exist (aux value ``b""``) counts as all-uninitialized, one not loaded (key absent)
  raises :class:`MissingAccount` when the swap reaches it; running past the last array fails with
  ``TickArraySequenceInvalidIndex`` (6038) as :class:`InsufficientLiquidity`;
* each step: :func:`solarb.dex.clmm_math.swap_step` with the total (static + adaptive) fee rate,
  protocol fee ``floor(fee * protocol_fee_rate / 1e4)``, fee growth ``(fee - protocol) << 64 / L``,
  liquidity +/- ``liquidity_net`` on each initialized tick crossed;
* adaptive fee (pools whose ``fee_tier_index != tick_spacing``): the oracle's volatility
  accumulator per tick group, bounded step targets, reference decay by elapsed time. Time comes
  from the Clock sysvar (``unix_timestamp`` at offset 32) when it is in ``aux``; without it the
  oracle's last update time is used (no decay);
* Token-2022 transfer fees: the input is reduced by the input mint's fee before the swap, the
  output by the output mint's fee after it (epoch from the Clock when loaded).

``Quote.fee`` is the total trade fee in the input token (LP + protocol).

:func:`quote` runs the static-fee swap in the C kernel ``solarb.native._whirlpool`` when it is
built: a per-state *plan* (prices, liquidity, the arrays' initialized ticks; packed by
:mod:`solarb.dex.orca_whirlpool_plan`) is kept next to the slots cache; anything the kernel does
not cover (adaptive fee, any program error) runs the Python swap
(:mod:`solarb.dex.orca_whirlpool_swap`), which stays the reference.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool_ix as _ix
from solarb.dex.base import CLOCK_LAYOUT as _CLOCK
from solarb.dex.base import (
    CLOCK_SYSVAR,
    MEMO_PROGRAM_ID,
    DecodeError,
    Quote,
    QuoteError,
    clock_fields,
    loaded,
    plain_quoter,
)
from solarb.dex.orca_whirlpool_ix import SWAP_V2_DISCRIMINATOR, swap_data
from solarb.dex.orca_whirlpool_layout import (
    PROGRAM_ID,
    TICK_ARRAY_SIZE,
    Oracle,
    Whirlpool,
    decode_oracle,
    decode_tick_array,
    decode_whirlpool,
    epoch_transfer_fee,
    oracle_address,
    swap_start_indexes,
    tick_array_address,
    transfer_fee_excluded,
    transfer_fee_included,
)
from solarb.dex.orca_whirlpool_plan import joined_plan, plan_body
from solarb.dex.orca_whirlpool_swap import (
    CODES,
    ERRORS,
    MissingArray,
    Slot,
    SwapResult,
    swap,
)
from solarb.dex.orca_whirlpool_swap import program_error as _err
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

__all__ = [
    "CLOCK_SYSVAR",
    "CODES",
    "ERRORS",
    "MEMO_PROGRAM_ID",
    "NAME",
    "PROGRAM_ID",
    "SWAP_V2_DISCRIMINATOR",
    "TOKEN_PROGRAMS_FROM_MINTS",
    "QuoteDetail",
    "Slot",
    "SwapResult",
    "aux_accounts",
    "aux_accounts_key",
    "decode_pool",
    "epoch_transfer_fee",
    "quote",
    "quote_detail",
    "quote_exact_out",
    "quoter",
    "reclock",
    "spot_rate",
    "swap",
    "swap_data",
    "swap_instruction",
    "swap_instruction_key",
    "swap_tick_arrays",
    "transfer_fee_excluded",
    "transfer_fee_included",
]

NAME = "orca_whirlpool"
TOKEN_PROGRAMS_FROM_MINTS = True
"""The pool account does not record its mints' token programs: decode with the mints' owners."""
U64_MAX = cm.U64_MAX


def decode_pool(
    address: Pubkey,
    data: bytes,
    *,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
) -> Whirlpool:
    """Decode a ``Whirlpool``; pass the mints' owners as ``token_program_*`` for Token-2022
    mints."""
    return decode_whirlpool(
        address, data, token_program_a=token_program_a, token_program_b=token_program_b
    )


def swap_tick_arrays(state: Whirlpool, a_to_b: bool) -> list[Pubkey]:
    """Tick-array addresses a swap in this direction can touch, in traversal order (<= 3)."""
    starts = swap_start_indexes(state.tick_current_index, state.tick_spacing, a_to_b)
    return [tick_array_address(state.address, s) for s in starts]


def aux_accounts(state: Whirlpool) -> list[Pubkey]:
    """Tick arrays of both directions (a->b first), for adaptive-fee pools the oracle and the
    Clock sysvar (the variable fee's references decay with its ``unix_timestamp``, as in
    ``swap_v2``), and both mints (their owners are the token programs, see
    :data:`TOKEN_PROGRAMS_FROM_MINTS`; a Token-2022 mint's data gives the transfer fee). Other
    pools use the Clock when present, never require it."""
    out = swap_tick_arrays(state, True)
    out += [k for k in swap_tick_arrays(state, False) if k not in out]
    if state.adaptive_fee:
        out += [oracle_address(state.address), CLOCK_SYSVAR]
    out += [state.mint_a, state.mint_b]
    return out


def aux_accounts_key(state: Whirlpool) -> tuple[object, ...]:
    """Everything :func:`aux_accounts` reads from ``state``: the pool (array and oracle PDAs),
    the current tick's array and whether ``tick + spacing`` lies in the next one (b->a
    "shifted"; both fix every start of :func:`swap_start_indexes` with the spacing), the
    spacing, the adaptive fee (oracle) and the mints. Equal keys: the same aux accounts."""
    spacing = state.tick_spacing
    span = TICK_ARRAY_SIZE * spacing
    tick = state.tick_current_index
    base = tick // span
    return (state.address, base, tick + spacing >= (base + 1) * span, spacing,
            state.fee_tier_index != spacing, state.mint_a, state.mint_b)  # fmt: skip


# ---------------------------------------------------------------------------- adapter surface


class _SlotsEntry:
    """Per pool and direction, for the latest state seen: the tick arrays' starts and addresses,
    the account data the slots were made from, the slots (read-only; None once a plan the kernel
    covers exists: the decoded arrays are not kept, :func:`_slots` makes them again from
    ``datas`` for the Python path) and the kernel's plan (None until first needed; ``b""`` when
    the kernel does not cover the pool), reused while the state and every array's data are the
    same objects. ``window``: the tick spacing and the
    range of current ticks with these same starts; ``body``: the plan's slots part (None until
    made; ``b""``: not covered), shared by the entries of later states over the same slots."""

    __slots__ = ("body", "datas", "keys", "plain", "plan", "slots", "starts", "state", "window")

    def __init__(self, state: Whirlpool, starts: list[int], keys: list[Pubkey],
                 datas: list[bytes | None], slots: list[Slot] | None,
                 window: tuple[int, int, int], body: bytes | None = None) -> None:  # fmt: skip
        self.state, self.starts, self.keys, self.datas = state, starts, keys, datas
        self.slots, self.window, self.body = slots, window, body
        self.plan: bytes | None = None
        self.plain = False  # neither mint is Token-2022 (set with the plan)


_SLOTS: dict[tuple[Pubkey, bool], _SlotsEntry] = {}


def _window(tick: int, spacing: int, a_to_b: bool) -> tuple[int, int, int]:
    """``(spacing, lo, hi)``: :func:`swap_start_indexes` is the same for every current tick in
    ``[lo, hi)`` at this spacing (a->b: the current tick's array; b->a: that of ``tick +
    spacing``, the "shifted" case included)."""
    span = TICK_ARRAY_SIZE * spacing
    if a_to_b:
        lo = tick // span * span
        return spacing, lo, lo + span
    lo = (tick + spacing) // span * span - spacing
    return spacing, lo, lo + span


def _entry(state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> _SlotsEntry:
    return _entry_from(_SLOTS.get((state.address, a_to_b)), state, aux, a_to_b)


def _entry_from(c: _SlotsEntry | None, state: Whirlpool, aux: Mapping[Pubkey, bytes],
                a_to_b: bool) -> _SlotsEntry:  # fmt: skip
    """The slots entry of ``state`` from ``c``, the cached one of its pool and direction (kept,
    moved to ``state`` when only the state changed within the window, or made anew)."""
    ck = (state.address, a_to_b)
    if c is not None:
        if c.state is state:
            if all(map(operator.is_, map(aux.get, c.keys), c.datas)):
                return c
        else:
            # same arrays for this tick and their data the same objects: only the state
            # moved (the slots and the plan's body stay)
            spacing, lo, hi = c.window
            if (spacing == state.tick_spacing and lo <= state.tick_current_index < hi
                    and all(map(operator.is_, map(aux.get, c.keys), c.datas))):  # fmt: skip
                c = _SLOTS[ck] = _SlotsEntry(state, c.starts, c.keys, c.datas, c.slots, c.window,
                                             c.body)  # fmt: skip
                return c
    if state.tick_spacing <= 0:  # no window: swap_start_indexes raises as before
        window = (0, 0, 0)
    else:
        window = _window(state.tick_current_index, state.tick_spacing, a_to_b)
    starts = swap_start_indexes(state.tick_current_index, state.tick_spacing, a_to_b)
    keys = [tick_array_address(state.address, start) for start in starts]
    datas = list(map(aux.get, keys))
    slots = _make_slots(state, starts, keys, datas)
    c = _SLOTS[ck] = _SlotsEntry(state, starts, keys, datas, slots, window)
    return c


def _slots(state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> list[Slot]:
    e = _entry(state, aux, a_to_b)
    if e.slots is None:  # dropped once planned: the same arrays decoded again (they passed)
        e.slots = _make_slots(state, e.starts, e.keys, e.datas)
    return e.slots


def _make_slots(
    state: Whirlpool, starts: list[int], keys: list[Pubkey], datas: list[bytes | None]
) -> list[Slot]:
    out: list[Slot] = []
    for start, key, data in zip(starts, keys, datas):
        if data is None:
            out.append(MissingArray(key))
        elif not data:
            out.append(start)
        else:
            arr = decode_tick_array(data)
            if arr.whirlpool != state.address:
                raise _err("DifferentWhirlpoolTickArrayAccount", str(key))
            if arr.start_tick_index != start:
                raise DecodeError(
                    f"orca_whirlpool: tick array {key} starts at {arr.start_tick_index}, "
                    f"not {start}"
                )
            out.append(arr)
    if not out:
        raise _err("InvalidTickArraySequence")
    return out


@dataclass(slots=True, frozen=True)
class QuoteDetail:
    """An exact-input swap as ``swap_v2`` executes it."""

    quote: Quote
    swap: SwapResult
    input_transfer_fee: int
    output_transfer_fee: int


def _context(
    state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool
) -> tuple[int, Oracle | None, tuple[int, int] | None, tuple[int, int] | None]:
    """``(timestamp, oracle, input transfer fee, output transfer fee)`` as ``swap_v2`` sees them."""
    clock = clock_fields(aux.get(CLOCK_SYSVAR))
    epoch, now = (clock[2], clock[3]) if clock is not None else (None, None)
    oracle = None
    if state.adaptive_fee:
        key = oracle_address(state.address)
        oracle = decode_oracle(loaded(aux, key, NAME, "oracle"))
        if now is None:
            v = oracle.variables
            now = max(v.last_reference_update_timestamp, v.last_major_swap_timestamp)
        elif oracle.trade_enable_timestamp > now:
            raise _err("TradeIsNotEnabled")
    if now is None:
        now = state.reward_last_updated_timestamp
    if now < 0:
        raise _err("InvalidTimestampConversion")
    in_mint, out_mint = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    progs = (state.token_program_a, state.token_program_b)
    in_prog, out_prog = progs if a_to_b else progs[::-1]
    fee_in = fee_out = None
    if in_prog == TOKEN_2022_PROGRAM_ID:
        fee_in = epoch_transfer_fee(aux.get(in_mint), epoch)
    if out_prog == TOKEN_2022_PROGRAM_ID:
        fee_out = epoch_transfer_fee(aux.get(out_mint), epoch)
    return now, oracle, fee_in, fee_out


def quote_detail(
    state: Whirlpool,
    aux: Mapping[Pubkey, bytes],
    amount_in: int,
    a_to_b: bool,
    *,
    detail: bool = False,
) -> QuoteDetail:
    """Exact-input ``swap_v2`` with transfer fees, adaptive fee and the program's errors."""
    return _exact_in(state, aux, amount_in, a_to_b, detail, True)


def _exact_in(state: Whirlpool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool,
              detail: bool, final_tick: bool) -> QuoteDetail:
    now, oracle, fee_in, fee_out = _context(state, aux, a_to_b)
    if amount_in < 0 or amount_in > U64_MAX:
        raise _err("NumberCastError", "amount_in outside u64")
    net_in = transfer_fee_excluded(fee_in, amount_in)
    try:
        slots = _slots(state, aux, a_to_b)
        r = swap(state, slots, net_in, a_to_b, timestamp=now, oracle=oracle, detail=detail,
                 final_tick=final_tick)  # fmt: skip
    except cm.ClmmMathError as exc:
        raise _err(exc.name, str(exc)) from exc
    swapped_in, out = (r.amount_a, r.amount_b) if a_to_b else (r.amount_b, r.amount_a)
    gross_in = amount_in if swapped_in == net_in else transfer_fee_included(fee_in, swapped_in)
    received = transfer_fee_excluded(fee_out, out)
    return QuoteDetail(Quote(gross_in, received, r.fee), r, gross_in - swapped_in, out - received)


def quote_exact_out(
    state: Whirlpool, aux: Mapping[Pubkey, bytes], amount_out: int, a_to_b: bool
) -> Quote:
    """Exact-output ``swap_v2`` (``amount_specified_is_input = false``, no price limit): what the
    user must send for ``amount_out`` to arrive. ``PartialFillError`` (6057) if it cannot fill."""
    now, oracle, fee_in, fee_out = _context(state, aux, a_to_b)
    if amount_out <= 0 or amount_out > U64_MAX:
        raise _err("ZeroTradableAmount" if amount_out == 0 else "NumberCastError")
    want = transfer_fee_included(fee_out, amount_out)
    try:
        r = swap(state, _slots(state, aux, a_to_b), want, a_to_b, is_input=False, timestamp=now,
                 oracle=oracle)  # fmt: skip
    except cm.ClmmMathError as exc:
        raise _err(exc.name, str(exc)) from exc
    swapped_in, out = (r.amount_a, r.amount_b) if a_to_b else (r.amount_b, r.amount_a)
    gross_in = transfer_fee_included(fee_in, swapped_in)
    return Quote(gross_in, transfer_fee_excluded(fee_out, out), r.fee)


def quote(state: Whirlpool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact program output for ``amount_in`` (see :func:`quote_detail`); through the native
    kernel when it is built and covers the swap (same integers, same errors)."""
    kernel = _NATIVE
    if kernel is not None:
        e = _SLOTS.get((state.address, a_to_b))
        q = None
        clock = aux.get(CLOCK_SYSVAR)
        if e is not None and e.state is state and e.plain and not _clock_negative(clock):
            # None too when aux no longer holds e's arrays
            q = kernel.quote_exact_in(e.plan, amount_in, Quote, aux, e.keys, e.datas)
        if q is None and not state.adaptive_fee:  # stale or not handled: the general path
            q = _native_quote(state, aux, amount_in, a_to_b)
        if q is not None:
            return q  # type: ignore[no-any-return]
    return _exact_in(state, aux, amount_in, a_to_b, False, False).quote


def quoter(state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)`` for a run of amounts while ``state`` and ``aux``
    stay as they are (one sizing): the slots, plan and clock are checked once, not per amount.
    Anything the kernel does not answer goes through :func:`quote` (same result, same errors)."""

    kernel = _NATIVE
    if kernel is None or state.adaptive_fee or _clock_negative(aux.get(CLOCK_SYSVAR)):
        return plain_quoter(quote, state, aux, a_to_b)
    e = _planned_entry(state, aux, a_to_b)
    if e is None or not e.plain:  # plain: a plan the kernel covers (and no Token-2022 mint)
        return plain_quoter(quote, state, aux, a_to_b)  # each quote raises what Python raises
    # x -> kernel.quote_exact_in(e.plan, x, Quote), or quote(state, aux, x, a_to_b) where that is
    # None: a C callable
    return kernel.bind(e.plan, Quote, quote, state, aux, a_to_b)  # type: ignore[no-any-return]


def reclock(
    bound: Callable[[int], Quote], state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool
) -> Callable[[int], Quote] | None:
    """``quoter(state, aux, a_to_b)`` now, from ``bound``, what it returned for the same
    ``state`` and ``aux`` (the same dict) before writes to the Clock sysvar only; None: bind
    anew. Only adaptive-fee pools list the Clock, and their quoter is the general one, which
    reads it from ``aux`` on every call: kept as it is."""
    return bound if state.adaptive_fee else None


# ---------------------------------------------------------------------------- native kernel

_NATIVE = native.load("whirlpool")
"""``solarb.native._whirlpool`` (None: pure Python; tests set it to None to compare)."""


def _clock_negative(clock: bytes | None) -> bool:
    """The Clock's unix_timestamp (i64 LE at 32) is negative: ``_context`` raises."""
    return clock is not None and len(clock) >= _CLOCK.size and clock[39] >= 0x80


def _planned_entry(
    state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool
) -> _SlotsEntry | None:
    """:func:`_entry` with its plan (and plain flag) made; None where making the slots fails
    (the Python path raises it, after the checks it makes first)."""
    e = _SLOTS.get((state.address, a_to_b))
    if (e is not None and e.plan is not None
            and all(map(operator.is_, map(aux.get, e.keys), e.datas))):  # fmt: skip
        if e.state is state or _moved(e, state):
            return e
    try:
        e = _entry_from(e, state, aux, a_to_b)
    except (QuoteError, DecodeError, ArithmeticError, ValueError):
        return None
    if e.plan is None:
        if e.body is None:  # slots dropped only once a body exists
            e.body = plan_body(e.slots)  # type: ignore[arg-type]
        e.plan = joined_plan(state, a_to_b, len(e.starts), e.body)
        t22 = TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b)
        e.plain = bool(e.plan) and not t22
        if e.plan:  # the kernel reads the plan: the decoded arrays need not stay
            e.slots = None
    return e


def _moved(e: _SlotsEntry, state: Whirlpool) -> bool:
    """Move ``e`` (its arrays' data still in ``aux``) to ``state``, a later state of its pool
    whose plan differs only in the header's price, liquidity and tick: the current tick in
    ``e``'s window and every other field the plan, its slots or ``plain`` read as in ``e.state``
    (what :func:`_entry_from` and :func:`joined_plan` make then, the header set in one C call).
    False (``e`` untouched) when anything else differs or the kernel is not built."""
    p, kernel = e.state, _NATIVE
    spacing, lo, hi = e.window
    if (not e.plan or kernel is None or not lo <= state.tick_current_index < hi
            or state.reward_last_updated_timestamp < 0
            or (state.tick_spacing, state.fee_rate, state.fee_tier_index, state.token_program_a,
                state.token_program_b) != (spacing, p.fee_rate, p.fee_tier_index,
                                           p.token_program_a, p.token_program_b)):  # fmt: skip
        return False
    plan = kernel.with_head(e.plan, state.sqrt_price, state.liquidity, state.tick_current_index)
    if plan is None:  # a number outside its field: plan_head says b""
        return False
    e.state, e.plan = state, plan
    return True


def _native_quote(
    state: Whirlpool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool
) -> Quote | None:
    """:func:`quote` through the kernel, building the entry and plan when needed; None where
    the Python path must run (a swap the kernel does not cover, or one the program rejects:
    the Python path raises the typed error)."""
    e = _planned_entry(state, aux, a_to_b)
    kernel = _NATIVE
    if e is None or not e.plan or kernel is None:
        return None
    plan = e.plan
    if e.plain:
        if _clock_negative(aux.get(CLOCK_SYSVAR)):
            return None
        return kernel.quote_exact_in(plan, amount_in, Quote)  # type: ignore[no-any-return]
    _now, _oracle, fee_in, fee_out = _context(state, aux, a_to_b)
    if not 0 <= amount_in <= U64_MAX:
        return None
    net_in = transfer_fee_excluded(fee_in, amount_in)
    r = kernel.swap_exact_in(plan, net_in)
    if r is None:
        return None
    swapped_in, out, fee = r
    gross_in = amount_in if swapped_in == net_in else transfer_fee_included(fee_in, swapped_in)
    return Quote(gross_in, transfer_fee_excluded(fee_out, out), fee)


def spot_rate(state: Whirlpool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input at the current price after the static fee (ranking only)."""
    price = (state.sqrt_price / cm.Q64) ** 2
    keep = 1 - state.fee_rate / cm.FEE_RATE_MUL_VALUE
    if a_to_b:
        return price * keep
    return keep / price if price > 0 else 0.0


def swap_instruction(
    state: Whirlpool,
    user: Pubkey,
    amount_in: int,
    min_out: int,
    a_to_b: bool,
    *,
    aux: Mapping[Pubkey, bytes] | None = None,
) -> Instruction:
    """``swap_v2`` exact-in, no price limit, the direction's tick arrays (last one repeated when
    fewer than 3 exist), the oracle PDA, no remaining accounts: as ``getSwapV2Instruction``
    builds it (:mod:`solarb.dex.orca_whirlpool_ix`). ``aux`` is accepted for the adapter
    protocol and not needed: the three arrays of the direction are every array the program (and
    :func:`quote`) can reach."""
    return _ix.instruction(state, user, amount_in, min_out, a_to_b, _swap_arrays(state, a_to_b))


def _swap_arrays(state: Whirlpool, a_to_b: bool) -> list[Pubkey]:
    """The three tick arrays of :func:`swap_instruction` (the last repeated when fewer)."""
    c = _SLOTS.get((state.address, a_to_b))
    arrays = list(c.keys) if c is not None and c.state is state else swap_tick_arrays(state, a_to_b)
    arrays += [arrays[-1]] * (3 - len(arrays))
    return arrays


def swap_instruction_key(
    state: Whirlpool, a_to_b: bool, aux: Mapping[Pubkey, bytes] | None, arrays: Sequence[Pubkey]
) -> tuple[object, ...] | None:
    """Everything :func:`swap_instruction` reads besides ``user`` and the amounts: for one user,
    equal keys give instructions equal but for their :func:`swap_data`. ``None`` (not keyable)
    when ``arrays`` is given (this adapter takes none)."""
    if arrays:
        return None
    return _ix.instruction_key(state, a_to_b, _swap_arrays(state, a_to_b))
