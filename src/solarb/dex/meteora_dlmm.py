"""Meteora DLMM (``lb_clmm``, ``LBUZKhR...``): decode, auxiliary accounts, exact quote, swap ix.

The quote walks bins exactly as the program's exact-in swap (MeteoraAg/dlmm-sdk ``commons``
``quote_exact_in``, the published form of the program's swap loop):

* Token-2022 input transfer fee first (``calculate_epoch_fee`` of the input mint);
* ``update_references(clock.unix_timestamp)`` once, then per bin with liquidity
  ``update_volatility_accumulator`` and ``swap_exact_in_quote_at_bin`` (fee = base + variable,
  ``compute_fee_from_amount`` / ``compute_fee`` rounding up; market-maker liquidity first, then
  processed and open limit orders when the pair supports them; fee on the input, or on the
  output for ``collect_fee_mode`` OnlyY selling X);
* bin arrays are found with the pair's 1024-bit bitmap and the bitmap extension; an empty gap
  shifts the active bin to the edge of the next array;
* the output mint's transfer fee is deducted from what the user receives.

The clock is the Clock sysvar account (``unix_timestamp`` at offset 32), never the machine clock;
without it the quote raises :class:`MissingAccount`.

:func:`quote` runs the native kernel (``solarb.native._meteora_dlmm``) when it is built: a plan
per pair state (and bitmap extension) and direction, reused while those and the bin arrays it
read are the same objects (a new Clock only changes the kernel's ``now``; :func:`reclock` brings
a bound quoter to it; a new state over the same bitmap restarts the last walk, a written bin
array only replaces that array's records in it); limit-order fills, overflows and rare pairs go to the Python walk, which
stays the reference (same results, same errors). ``_NATIVE = None`` forces the Python walk.

Errors: :class:`DecodeError`; :class:`QuoteError` with the program's code (PoolDisabled 6042,
MathOverflow 6018, InvalidInput 6002); :class:`MissingAccount` (bin array, reserve mint or Clock
not loaded); :class:`InsufficientLiquidity` (PairInsufficientLiquidity 6012) when liquidity runs
out before ``amount_in`` is consumed: the program fails, it does not fill partially.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import meteora_dlmm_ix as _ix
from solarb.dex import meteora_dlmm_math as m
from solarb.dex import meteora_dlmm_walk as mw
from solarb.dex.base import (
    CLOCK_SYSVAR,
    DecodeError,
    InsufficientLiquidity,
    MissingAccount,
    Quote,
    QuoteError,
    clock_fields,
    loaded,
    plain_quoter,
)
from solarb.dex.meteora_dlmm_ix import (
    EVENT_AUTHORITY,
    SWAP2_DISCRIMINATOR,
    SWAP_DISCRIMINATOR,
    swap_data,
    swap_instruction_key,
)
from solarb.dex.meteora_dlmm_layout import (
    BIN_ARRAY_DISCRIMINATOR,
    BIN_ARRAY_LEN,
    ERRORS,
    OFF_BINS,
    LazyBins,
    LbPair,
    decode_lb_pair,
)
from solarb.dex.meteora_dlmm_math import DlmmSwap
from solarb.dex.meteora_dlmm_view import (
    PROGRAM_ID,
    SWAP_BIN_ARRAYS,
    PairView,
    bin_array_address,
    bin_arrays_for_swap,
    bitmap_extension_address,
    fee_on_input,
)
from solarb.dex.meteora_dlmm_view import pair_view as _view
from solarb.dex.meteora_dlmm_view import spared_arrays as _spared
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, transfer_fee
from solarb.native.slots import frozen_maker

__all__ = [
    "CLOCK_SYSVAR",
    "ERRORS",
    "EVENT_AUTHORITY",
    "NAME",
    "PROGRAM_ID",
    "SWAP2_DISCRIMINATOR",
    "SWAP_BIN_ARRAYS",
    "SWAP_DISCRIMINATOR",
    "DlmmSwap",
    "aux_accounts",
    "aux_accounts_key",
    "bin_array_address",
    "bin_arrays_for_swap",
    "bitmap_extension_address",
    "decode_pool",
    "quote",
    "quote_detail",
    "quoter",
    "reclock",
    "spot_rate",
    "swap_data",
    "swap_instruction",
    "swap_instruction_key",
]

NAME = "meteora_dlmm"

ERR_INVALID_INPUT = 6002
ERR_EXCEEDED_SLIPPAGE = 6003
ERR_INVALID_TOKEN_MINT = 6010
ERR_PAIR_INSUFFICIENT_LIQUIDITY = 6012
ERR_INVALID_BIN_ARRAY = 6027
ERR_POOL_DISABLED = 6042

PAIR_TYPE_PERMISSION = 1
PAIR_TYPE_CUSTOMIZABLE_PERMISSIONLESS = 2
FUNCTION_TYPE_LIQUIDITY_MINING = 1


def decode_pool(address: Pubkey, data: bytes) -> LbPair:
    """Decode a 904-byte ``LbPair``; :class:`DecodeError` on size, discriminator or flags."""
    return decode_lb_pair(address, data, NAME)


def aux_accounts(state: LbPair, extension: bytes | None = None) -> list[Pubkey]:
    """Accounts a quote reads: the Clock sysvar (the variable fee decays with its
    ``unix_timestamp``), the bin arrays a swap can cross (up to :data:`SWAP_BIN_ARRAYS` each way,
    X->Y side first, found with the internal bitmap and, when its bytes are passed, the extension),
    the bitmap extension PDA when a walk reaches the edge of the internal bitmap (or its bytes
    were passed), and each Token-2022 mint (transfer fee). The set depends on ``active_id`` and
    the bitmaps: recompute it whenever the pair (or extension) account changes."""
    out = [CLOCK_SYSVAR]
    needs_extension = extension is not None
    for swap_for_y in (True, False):
        found = bin_arrays_for_swap(state, swap_for_y, SWAP_BIN_ARRAYS, extension)
        needs_extension |= len(found) < SWAP_BIN_ARRAYS
        for idx in found:
            key = bin_array_address(state.address, idx)
            if key not in out:
                out.append(key)
    if needs_extension:
        out.append(bitmap_extension_address(state.address))
    for mint, program in ((state.mint_a, state.token_program_a), (state.mint_b, state.token_program_b)):
        if program == TOKEN_2022_PROGRAM_ID:
            out.append(mint)
    return out


def aux_accounts_key(state: LbPair) -> tuple[object, ...]:
    """Everything :func:`aux_accounts` (without extension bytes) reads from ``state``: the pair,
    the active bin's array, the internal bitmap, mints and token programs. Pair states with
    equal keys have the same aux accounts (the market then does not list them again)."""
    return (state.address, m.bin_id_to_array_index(state.active_id), state.bin_array_bitmap,
            state.mint_a, state.token_program_a, state.mint_b, state.token_program_b)  # fmt: skip


def _clock(aux: Mapping[Pubkey, bytes]) -> tuple[int, int, int]:
    c = clock_fields(loaded(aux, CLOCK_SYSVAR, NAME, "clock sysvar"))
    if c is None:
        raise MissingAccount("meteora_dlmm: clock sysvar data too short")
    return c[1], c[2], c[3]


def _check_active(s: LbPair, slot: int, ts: int) -> None:
    if s.status != 0:
        raise QuoteError("meteora_dlmm: pair disabled", ERR_POOL_DISABLED)
    if s.pair_type in (PAIR_TYPE_PERMISSION, PAIR_TYPE_CUSTOMIZABLE_PERMISSIONLESS):
        point = ts if s.activation_type == 1 else slot
        if point < s.activation_point:
            raise QuoteError("meteora_dlmm: pair not activated", ERR_POOL_DISABLED)


def _mint_fee(s: LbPair, aux: Mapping[Pubkey, bytes], x_side: bool, amount: int, epoch: int) -> int:
    program = s.token_program_a if x_side else s.token_program_b
    if program != TOKEN_2022_PROGRAM_ID:
        return 0
    mint = s.mint_a if x_side else s.mint_b
    return transfer_fee(loaded(aux, mint, NAME, "mint"), amount, epoch)


_BINS: dict[Pubkey, LazyBins] = {}  # latest version per bin array: no stale versions kept alive


def _bin_array_bins(key: Pubkey, data: bytes) -> LazyBins:
    """Checked like ``decode_bin_array`` (size, discriminator); bins decoded lazily, once per
    account version (only the latest version of each array is kept; the swap only reads it)."""
    cached = _BINS.get(key)
    if cached is not None and (cached.data is data or cached.data == data):
        return cached
    if len(data) != BIN_ARRAY_LEN:
        raise DecodeError(
            f"meteora_dlmm bin array {key}: {len(data)} bytes, expected {BIN_ARRAY_LEN}"
        )
    if data[:8] != BIN_ARRAY_DISCRIMINATOR:
        raise DecodeError(
            f"meteora_dlmm bin array {key}: discriminator {data[:8].hex()} is not BinArray"
        )
    bins = _BINS[key] = LazyBins(data)
    return bins


def quote_detail(
    state: LbPair, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool
) -> DlmmSwap:
    """The program's exact-in swap of ``amount_in`` (a_to_b = X -> Y, ``swap_for_y``), up to the
    slippage check. ``aux`` needs the Clock sysvar, every bin array the swap crosses, the bitmap
    extension when the walk leaves the internal bitmap, and Token-2022 mints."""
    return cast(DlmmSwap, _exact_in(state, aux, amount_in, a_to_b, True)[0])


def _exact_in(
    state: LbPair, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool, detail: bool
) -> tuple[DlmmSwap | None, PairView, int, int, tuple[int, ...]]:
    """``(quote_detail or None unless detail, the pair's view, amount received, Quote.fee,
    bin arrays walked)``."""
    if not 0 < amount_in <= m.U64_MAX:
        raise QuoteError(f"meteora_dlmm: amount_in {amount_in} out of range", ERR_INVALID_INPUT)
    swap_for_y = a_to_b
    slot, epoch, now = _clock(aux)
    _check_active(state, slot, now)
    on_input = fee_on_input(state, swap_for_y)
    view = _view(state, aux.get(bitmap_extension_address(state.address)))
    support_lo = view.support_lo
    p = m.FeeParams(*view.fee_args)
    active = state.active_id
    m.update_references(p, active, now)

    fee_in = _mint_fee(state, aux, swap_for_y, amount_in, epoch)
    left = amount_in - fee_in
    if left <= 0:
        raise QuoteError("meteora_dlmm: nothing left after the transfer fee", ERR_INVALID_INPUT)
    total_out = total_fee = total_protocol = total_lp = 0
    update_va, at_bin, fee_rate = (m.update_volatility_accumulator, m.swap_exact_in_at_bin,
                                   m.total_fee_rate)  # fmt: skip
    share, step = state.protocol_share, -1 if swap_for_y else 1
    arrays: list[int] = []
    bins: list[tuple[int, int, int, int, int]] = []
    while left > 0:
        idx = view.next_array(m.bin_id_to_array_index(active), swap_for_y)
        if idx is None:
            raise InsufficientLiquidity(
                "meteora_dlmm: pool out of liquidity", ERR_PAIR_INSUFFICIENT_LIQUIDITY
            )
        key, lower, upper = view.array(idx)
        array_bins = _bin_array_bins(key, loaded(aux, key, NAME, "bin array"))
        arrays.append(idx)
        if not lower <= active <= upper:  # empty gap: jump to the array's edge
            active = upper if swap_for_y else lower
        while lower <= active <= upper and left > 0:
            b = array_bins[active - lower]
            lo_open, lo_proc = 0, 0
            if support_lo and b.limit_order_ask_side != swap_for_y:
                lo_open, lo_proc = b.open_order_amount, b.processed_order_remaining_amount
            mm_max = b.amount_y if swap_for_y else b.amount_x
            if mm_max + lo_open + lo_proc > 0:
                update_va(p, active)
                price = b.price or m.price_from_id(active, state.bin_step)
                r = at_bin(
                    b.amount_x, b.amount_y, lo_open, lo_proc, price, left, swap_for_y,
                    fee_rate(p), share, on_input,
                )  # fmt: skip
                if r.amount_in > 0:
                    left -= r.amount_in
                    total_out += r.amount_out
                    total_fee += r.fee
                    total_protocol += r.protocol_fee
                    total_lp += r.lp_fee
                    if detail:
                        bins.append((active, r.mm_amount_in, r.mm_amount_out,
                                     r.filled_amount_in - r.mm_amount_in,
                                     r.gross_amount_out - r.mm_amount_out))  # fmt: skip
            if left > 0:
                active += step
                if not m.MIN_BIN_ID <= active <= m.MAX_BIN_ID:
                    raise InsufficientLiquidity(
                        "meteora_dlmm: bin id out of bounds", ERR_PAIR_INSUFFICIENT_LIQUIDITY
                    )
    if total_out > m.U64_MAX or total_fee > m.U64_MAX:
        raise m.MathOverflow("totals do not fit u64")
    fee_out = _mint_fee(state, aux, not swap_for_y, total_out, epoch)
    if not detail:
        return None, view, total_out - fee_out, total_fee if on_input else 0, tuple(arrays)
    return DlmmSwap(
        amount_in=amount_in, amount_out=total_out, amount_received=total_out - fee_out,
        fee=total_fee, protocol_fee=total_protocol, lp_fee=total_lp, fee_on_input=on_input,
        input_transfer_fee=fee_in, output_transfer_fee=fee_out, active_id=active,
        volatility_accumulator=p.volatility_accumulator,
        volatility_reference=p.volatility_reference, index_reference=p.index_reference,
        bin_arrays=tuple(arrays), bins=tuple(bins),
    ), view, total_out - fee_out, total_fee if on_input else 0, tuple(arrays)  # fmt: skip


def quote(state: LbPair, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact program result for ``amount_in`` (a_to_b = token X -> token Y).

    ``amount_out`` reaches the user (after any Token-2022 output transfer fee); ``fee`` is the
    trading fee when charged on the input token, 0 when the pair collects it from the output
    (already deducted from ``amount_out``). Runs the native kernel when it is built and covers
    the swap, else the Python walk (same result, same errors)."""
    if _NATIVE is not None:
        q = _native_quote(state, aux, amount_in, a_to_b)
        if q is not None:
            return q
    _d, view, received, fee, walked = _exact_in(state, aux, amount_in, a_to_b, False)
    return Quote(amount_in, received, fee, _spared(view, walked, a_to_b))


# ---- the native kernel's plan: per pair (state, extension) and direction, rebuilt on change

_NATIVE = native.load("meteora_dlmm")
_BOUND: type | None = None if _NATIVE is None else _NATIVE.Bound  # the kernel's bound quoters
_QUOTE = frozen_maker(Quote)  # Quote(amount_in, amount_out, fee, arrays), without type.__call__


class _Plan:
    """What the kernel path derives from the pair state and bitmap extension; ``view`` None:
    the Python walk handles the pair (disabled, unknown fee mode, protocol share above 100%,
    undecodable extension). ``special``: permissioned activation or Token-2022 fees. ``prior``:
    the walks of the pair's previous plan when both views share their bitmap (and extension),
    which :func:`_new_walk` restarts instead of planning anew."""

    __slots__ = ("activation", "ext", "ext_key", "prior", "special", "state", "view", "walks")

    def __init__(
        self, state: LbPair, aux: Mapping[Pubkey, bytes], previous: _Plan | None = None
    ) -> None:
        self.state = state  # a previous plan is the same pair's (plans are kept by address)
        self.ext_key = (bitmap_extension_address(state.address) if previous is None
                        else previous.ext_key)  # fmt: skip
        self.ext = aux.get(self.ext_key)
        self.walks: list[mw.KernelWalk | None] = [None, None]  # by swap_for_y
        self.prior: list[mw.KernelWalk | None] | None = None
        self.view: PairView | None = None
        self.activation: tuple[bool, int] | None = None
        if state.pair_type in (PAIR_TYPE_PERMISSION, PAIR_TYPE_CUSTOMIZABLE_PERMISSIONLESS):
            self.activation = (state.activation_type == 1, state.activation_point)
        t22 = TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b)
        self.special = t22 or self.activation is not None
        share_ok = state.protocol_share <= m.BASIS_POINT_MAX  # protocol fee <= fee: no overflow
        if state.status == 0 and state.collect_fee_mode in (0, 1) and share_ok:
            try:
                self.view = view = _view(state, self.ext)
            except DecodeError:  # the Python walk raises it, after its earlier checks
                return
            prev_view = None if previous is None else previous.view
            if prev_view is not None and prev_view.walk is view.walk:  # same memo: same bits
                self.prior = previous.walks.copy()  # type: ignore[union-attr]


_PLANS: dict[Pubkey, _Plan] = {}
_RECORDS: dict[Pubkey, tuple[bytes, bytes | None]] = {}  # latest array version per key


def _records(key: Pubkey, data: bytes) -> bytes | None:
    """The kernel's records of every bin of a bin array version (shared by both directions'
    walks); None: not a BinArray (the Python walk raises). The market's compact arrays
    (``market.compact.SparseBytes``) are read from their runs (``SparseBytes.runs()``) by the
    kernel: no ``bytes()`` of the whole array (~36 us for a layout's first reads)."""
    cached = _RECORDS.get(key)
    if cached is not None and cached[0] is data:
        return cached[1]
    rec = None
    if len(data) == BIN_ARRAY_LEN:
        if type(data) is bytes:
            if data[:8] == BIN_ARRAY_DISCRIMINATOR:
                rec = _NATIVE.extract_bins(data, OFF_BINS, 0, m.MAX_BIN_PER_ARRAY)  # type: ignore[union-attr]
        else:
            rec = _records_of_runs(data)
    _RECORDS[key] = (data, rec)
    return rec


def _records_of_runs(data: bytes) -> bytes | None:
    """``_records`` of a bin-array-long ``data`` that is not ``bytes``: read from its runs when
    it stores them (the kernel checks the discriminator), else from ``bytes(data)``."""
    runs = getattr(data, "runs", None)
    chunks, index = runs() if runs is not None else (None, None)
    if type(chunks) is bytes and index is not None:
        try:
            return _NATIVE.extract_runs(  # type: ignore[union-attr,no-any-return]
                chunks, index, BIN_ARRAY_DISCRIMINATOR, OFF_BINS, 0, m.MAX_BIN_PER_ARRAY
            )
        except (TypeError, ValueError, BufferError):  # not the runs described above
            pass
    raw = bytes(data)
    if raw[:8] != BIN_ARRAY_DISCRIMINATOR:
        return None
    return _NATIVE.extract_bins(raw, OFF_BINS, 0, m.MAX_BIN_PER_ARRAY)  # type: ignore[union-attr,no-any-return]


def _current_plan(state: LbPair, aux: Mapping[Pubkey, bytes]) -> _Plan:
    """The cached plan of ``state``, made anew when the state or the extension's data object
    changed."""
    plan = _PLANS.get(state.address)
    if plan is None or plan.state is not state or aux.get(plan.ext_key) is not plan.ext:
        plan = _PLANS[state.address] = _Plan(state, aux, plan)
    return plan


def _new_walk(plan: _Plan, aux: Mapping[Pubkey, bytes], swap_for_y: bool) -> mw.KernelWalk:
    """The plan's walk in this direction planned from ``aux``: its last walk (or, once per plan,
    the previous plan's restarted: :meth:`~solarb.dex.meteora_dlmm_walk.KernelWalk.restarted`)
    with the records of the bin arrays written since it was planned
    (:meth:`~solarb.dex.meteora_dlmm_walk.KernelWalk.refreshed`), else a new walk's first
    stretch."""
    view: PairView = plan.view  # type: ignore[assignment]
    s = plan.state
    fee, fee_in = view.fee_args, fee_on_input(s, swap_for_y)
    prior, last = plan.prior, plan.walks[swap_for_y]
    walk: mw.KernelWalk | None = None
    if last is None and prior is not None and prior[swap_for_y] is not None:
        walk = prior[swap_for_y].restarted(  # type: ignore[union-attr]
            fee, s.active_id, fee_in, view.support_lo, view.next_array, view.array_key, aux,
            _records,
        )
        prior[swap_for_y] = None
    elif last is not None:  # the callers found it not planned from aux
        walk = last.refreshed(aux, _records)
    if walk is not None:
        plan.walks[swap_for_y] = walk
        return walk
    walk = plan.walks[swap_for_y] = mw.KernelWalk(
        fee, s.active_id, swap_for_y, fee_in, view.support_lo, view.next_array, view.array_key
    )
    walk.extend(aux, _records)
    return walk


def _native_quote(
    state: LbPair, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool
) -> Quote | None:
    """The kernel's :func:`quote`, or None where the Python walk must run (its errors included)."""
    if not 0 < amount_in <= m.U64_MAX:
        return None
    c = clock_fields(aux.get(CLOCK_SYSVAR))
    if c is None:
        return None
    plan = _current_plan(state, aux)
    if plan.view is None:
        return None
    left = amount_in
    if plan.special:
        act = plan.activation
        if act is not None and (c[3] if act[0] else c[1]) < act[1]:
            return None  # not activated yet: the Python walk raises
        left -= _mint_fee(state, aux, a_to_b, amount_in, c[2])
        if left <= 0:
            return None
    walk = plan.walks[a_to_b] or _new_walk(plan, aux, a_to_b)
    for _run in range(2 * mw.KernelWalk.MAX_STRETCHES + 4):  # each run plans a stretch (or anew)
        r = _NATIVE.swap_exact_in(walk.header, walk.records, left, c[3])  # type: ignore[union-attr]
        if r is None:
            return None
        code, out, fee, n = r
        if walk.stale(aux, n, code):  # an account the run read changed since it was planned
            walk = _new_walk(plan, aux, a_to_b)
        elif code == mw.KERNEL_EXTEND:
            walk.extend(aux, _records)
        else:
            break
    else:
        return None
    if code:
        if code == mw.KERNEL_NOT_LOADED:
            raise MissingAccount(f"meteora_dlmm: bin array {walk.missing} not loaded")
        what = "bin id out of bounds" if code == mw.KERNEL_OUT_OF_BOUNDS else "pool out of liquidity"
        raise InsufficientLiquidity(f"meteora_dlmm: {what}", ERR_PAIR_INSUFFICIENT_LIQUIDITY)
    if plan.special:
        out -= _mint_fee(state, aux, not a_to_b, out, c[2])
    return _QUOTE(amount_in, out, fee, _spare(walk, cast(PairView, plan.view), a_to_b, n))


def quoter(state: LbPair, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)`` for a run of amounts while ``state`` and ``aux``
    stay as they are (one sizing): clock, plan and the walk's accounts are checked once, here
    (the walk is planned now if it is not, or anew if an account it read changed); a run that
    walks past the planned stretches plans the next one here. Errors, limit orders and anything
    else the kernel does not answer go through :func:`quote` (same results, same errors)."""

    kernel = _NATIVE
    c = clock_fields(aux.get(CLOCK_SYSVAR))
    if kernel is None or c is None:
        return plain_quoter(quote, state, aux, a_to_b)
    plan = _current_plan(state, aux)
    if plan.view is None or plan.special:
        return plain_quoter(quote, state, aux, a_to_b)
    walk = plan.walks[a_to_b]
    if walk is None or not walk.planned_from(aux):
        walk = _new_walk(plan, aux, a_to_b)
    # in C: run the kernel, walk.extend(aux, _records) on KERNEL_EXTEND, Quote(x, out, fee,
    # _spare(walk, view, a_to_b, n)) on a fill; quote(state, aux, x, a_to_b) where the kernel
    # does not answer, on an error code or x outside 1..u64 (no callables made per binding)
    return kernel.bind(  # type: ignore[no-any-return]
        walk, c[3], Quote, quote, state, aux, a_to_b, _records, _spare, plan.view
    )


def reclock(
    bound: Callable[[int], Quote], state: LbPair, aux: Mapping[Pubkey, bytes], a_to_b: bool
) -> Callable[[int], Quote] | None:
    """``quoter(state, aux, a_to_b)`` now, from ``bound``, what it returned for the same
    ``state`` and ``aux`` (the same dict) before writes to the Clock sysvar only; None: bind anew.

    The kernel's quoter reads the Clock only as ``now`` (its walk and header come from the pair
    state and the bin arrays; the variable fee's references are updated from ``now`` on every
    run), and ``general`` reads ``aux`` live: the same walk bound at the new ``now``
    (``Bound.at``). A general quoter (the Python walk: a special plan, no view) reads the Clock
    from ``aux`` on every call: kept as it is. Anything else (the kernel off, the Clock missing
    or short, a general quoter where the kernel would now bind) -> None."""
    c = clock_fields(aux.get(CLOCK_SYSVAR))
    if _NATIVE is None or c is None:
        return None
    if type(bound) is _BOUND:
        return bound.at(c[3])  # type: ignore[attr-defined,no-any-return]
    plan = _PLANS.get(state.address)
    if (plan is not None and plan.state is state and aux.get(plan.ext_key) is plan.ext
            and (plan.view is None or plan.special)):  # fmt: skip
        return bound  # quoter() gives the general quoter too: same calls
    return None


def _spare(walk: mw.KernelWalk, view: PairView, a_to_b: bool, n: int) -> tuple[Pubkey, ...]:
    """``walk.spared[n]`` (``Quote.arrays`` of a run over ``n`` stretches), made once."""
    spared = walk.spared[n]
    if spared is None:
        spared = walk.spared[n] = _spared(view, tuple(walk.indices[:n]), a_to_b)
    return spared  # type: ignore[no-any-return]


def spot_rate(state: LbPair, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Active-bin price (Y per X, or X per Y) after the current total fee rate (float)."""
    price = m.price_float(state.active_id, state.bin_step)
    rate = m.fee_rate_of(state.bin_step, state.base_factor, state.base_fee_power_factor,
                         state.variable_fee_control, state.volatility_accumulator) / m.FEE_PRECISION
    return (price if a_to_b else 1.0 / price) * (1.0 - rate)


def swap_instruction(
    state: LbPair,
    user: Pubkey,
    amount_in: int,
    min_out: int,
    a_to_b: bool,
    *,
    bin_arrays: Sequence[Pubkey] | None = None,
    bitmap_extension: Pubkey | None = None,
    aux: Mapping[Pubkey, bytes] | None = None,
    arrays: Sequence[Pubkey] = (),
) -> Instruction:
    """``swap(amount_in, min_amount_out)`` (``swap2`` with no transfer-hook slices when a side is
    Token-2022, as ``swap`` only accepts SPL Token) with the IDL account order: absent optional
    accounts (bitmap extension, host fee) are the program id; then the bin arrays as writable
    remaining accounts: ``bin_arrays`` (e.g. from :attr:`DlmmSwap.bin_arrays`) or the next
    :data:`SWAP_BIN_ARRAYS` arrays of the internal bitmap. User accounts are ATAs.

    With ``aux`` (the pair's loaded accounts) and no explicit ``bin_arrays``, the arrays are those
    the exact quote of ``amount_in`` crosses plus the next one of the direction (a spare for a
    price that moved; bitmap extension included), in traversal order, and the extension is passed
    when it exists; the default arrays if the quote fails. ``arrays`` (the :attr:`Quote.arrays`
    of :func:`quote` for this ``amount_in``) are those bin arrays, without quoting again."""
    if arrays and bin_arrays is None:
        bin_arrays = arrays
        if aux is not None and bitmap_extension is None:
            ext_key = _ix.extension_address(state.address)
            if aux.get(ext_key):
                bitmap_extension = ext_key
    elif aux is not None and bin_arrays is None:
        bin_arrays, bitmap_extension = _arrays_for(state, aux, amount_in, a_to_b, bitmap_extension)
    if bin_arrays is None:
        bin_arrays = [bin_array_address(state.address, i) for i in bin_arrays_for_swap(state, a_to_b)]
    return _ix.instruction(state, user, amount_in, min_out, a_to_b, bin_arrays, bitmap_extension)


def _arrays_for(
    state: LbPair, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool,
    bitmap_extension: Pubkey | None,
) -> tuple[list[Pubkey], Pubkey | None]:
    """Bin arrays (and the extension, when it exists) a swap of ``amount_in`` may touch."""
    ext_key = bitmap_extension_address(state.address)
    ext = aux.get(ext_key)
    if ext and bitmap_extension is None:
        bitmap_extension = ext_key
    try:
        walked, view = quote_detail(state, aux, amount_in, a_to_b).bin_arrays, _view(state, ext)
    except QuoteError:  # the program will fail this swap too; the default arrays will do
        idx = set(bin_arrays_for_swap(state, a_to_b, SWAP_BIN_ARRAYS, ext or None))
        order = sorted(idx, reverse=a_to_b)
        return [bin_array_address(state.address, i) for i in order], bitmap_extension
    return list(_spared(view, walked, a_to_b)), bitmap_extension
