"""Meteora DLMM integer math: bin prices, fees, volatility, per-bin fills, bitmap navigation,
and the native kernel's plan (:func:`kernel_header`, :class:`KernelWalk`; see ``meteora_dlmm.c``).

Follows the program's own arithmetic as published in MeteoraAg/dlmm-sdk (``commons`` crate:
``math/u64x64_math.rs``, ``math/price_math.rs``, ``extensions/{lb_pair,bin,bin_array_bitmap}.rs``,
``quote.rs``); prices are Q64.64 (``SCALE_OFFSET`` 64), fee rates have ``FEE_PRECISION`` 1e9.
Everything is exact Python ``int``; every value the program casts to ``u64`` is range-checked and
raises :class:`MathOverflow` (program error ``MathOverflow`` 6018) when it would not fit.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from solarb import native
from solarb.dex.base import QuoteError

__all__ = [
    "BASIS_POINT_MAX",
    "BIN_ARRAY_BITMAP_SIZE",
    "FEE_PRECISION",
    "MAX_BIN_ID",
    "MAX_BIN_PER_ARRAY",
    "MAX_FEE_RATE",
    "MIN_BIN_ID",
    "BinFill",
    "DlmmSwap",
    "FeeParams",
    "KernelWalk",
    "MathOverflow",
    "bin_array_bounds",
    "bin_id_to_array_index",
    "compute_fee",
    "compute_fee_from_amount",
    "fee_rate_of",
    "get_amount_in",
    "get_amount_out",
    "kernel_header",
    "next_array_index",
    "pow_q64",
    "price_float",
    "price_from_id",
    "restart_head",
    "swap_exact_in_at_bin",
    "total_fee_rate",
    "update_references",
    "update_volatility_accumulator",
]

SCALE_OFFSET = 64
ONE = 1 << SCALE_OFFSET
U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1
BASIS_POINT_MAX = 10_000
FEE_PRECISION = 1_000_000_000
MAX_FEE_RATE = 100_000_000
MAX_BIN_PER_ARRAY = 70
MIN_BIN_ID = -443_636
MAX_BIN_ID = 443_636
BIN_ARRAY_BITMAP_SIZE = 512
EXTENSION_BITMAP_WORDS = 12
LIMIT_ORDER_FEE_SHARE = 5_000
_MAX_EXPONENT = 0x80000
ERR_MATH_OVERFLOW = 6018


class MathOverflow(QuoteError):
    """A checked operation of the program would overflow (``MathOverflow`` 6018)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"meteora_dlmm: {message}", ERR_MATH_OVERFLOW)


def _u64(x: int, what: str) -> int:
    if not 0 <= x <= U64_MAX:
        raise MathOverflow(f"{what} does not fit u64")
    return x


def pow_q64(base: int, exp: int) -> int:
    """``u64x64_math::pow``: ``base ** exp`` in Q64.64 by square-and-multiply over 19 bits,
    inverting through ``u128::MAX / x`` like the program; :class:`MathOverflow` where it returns None."""
    if exp == 0:
        return ONE
    invert = exp < 0
    e = -exp if invert else exp
    if e >= _MAX_EXPONENT:
        raise MathOverflow("pow exponent out of range")
    sq = base
    if sq >= ONE:
        if sq == 0:
            raise MathOverflow("pow of zero")
        sq = U128_MAX // sq
        invert = not invert
    result = ONE
    for bit in range(19):
        if bit:
            sq = sq * sq
            if sq > U128_MAX:
                raise MathOverflow("pow overflow")
            sq >>= SCALE_OFFSET
        if e & (1 << bit):
            result = result * sq
            if result > U128_MAX:
                raise MathOverflow("pow overflow")
            result >>= SCALE_OFFSET
    if result == 0:
        raise MathOverflow("pow underflow")
    return U128_MAX // result if invert else result


def price_from_id(bin_id: int, bin_step: int) -> int:
    """``get_price_from_id``: ``(1 + bin_step / 10_000) ** bin_id`` as Q64.64."""
    return pow_q64(ONE + (bin_step << SCALE_OFFSET) // BASIS_POINT_MAX, bin_id)


@lru_cache(maxsize=4096)  # active bins of the watched pairs: a spot rate per pool change
def price_float(bin_id: int, bin_step: int) -> float:
    """:func:`price_from_id` as a float (ranking and filtering only, never an amount)."""
    return price_from_id(bin_id, bin_step) / float(ONE)


def _mul_div(x: int, y: int, den: int, up: bool, what: str) -> int:
    if den == 0:
        raise MathOverflow(f"{what}: division by zero")
    q, r = divmod(x * y, den)
    if up and r:
        q += 1
    if q > U128_MAX:
        raise MathOverflow(what)
    return _u64(q, what)


def get_amount_out(amount_in: int, price: int, swap_for_y: bool) -> int:
    """Bin output for ``amount_in`` (fee excluded), rounded down."""
    if swap_for_y:
        return _mul_div(price, amount_in, ONE, False, "amount out")
    return _mul_div(amount_in, ONE, price, False, "amount out")


def get_amount_in(amount_out: int, price: int, swap_for_y: bool) -> int:
    """Input (fee excluded) needed for ``amount_out`` from a bin, rounded up."""
    if swap_for_y:
        return _mul_div(amount_out, ONE, price, True, "amount in")
    return _mul_div(amount_out, price, ONE, True, "amount in")


@dataclass(slots=True)
class FeeParams:
    """The fee-relevant part of ``LbPair`` that a swap mutates (volatility) or reads."""

    bin_step: int
    base_factor: int
    base_fee_power_factor: int
    variable_fee_control: int
    max_volatility_accumulator: int
    filter_period: int
    decay_period: int
    reduction_factor: int
    protocol_share: int
    volatility_accumulator: int
    volatility_reference: int
    index_reference: int
    last_update_timestamp: int


def total_fee_rate(p: FeeParams) -> int:
    """Base fee ``base_factor * bin_step * 10 * 10**power`` plus the variable fee
    ``ceil(vfc * (va * bin_step)**2 / 1e11)``, capped at ``MAX_FEE_RATE`` (units of 1e-9)."""
    return fee_rate_of(p.bin_step, p.base_factor, p.base_fee_power_factor,
                       p.variable_fee_control, p.volatility_accumulator)  # fmt: skip


def fee_rate_of(bin_step: int, base_factor: int, power: int, vfc: int, va: int) -> int:
    """:func:`total_fee_rate` from the five fields it reads (no :class:`FeeParams`)."""
    base = base_factor * bin_step * 10 * 10**power
    var = 0
    if vfc > 0:
        var = -(-vfc * (va * bin_step) ** 2 // 100_000_000_000)
    return min(base + var, MAX_FEE_RATE)


def compute_fee_from_amount(amount_with_fees: int, rate: int) -> int:
    """Fee contained in a fee-inclusive amount: ``ceil(amount * rate / 1e9)``."""
    return _u64(-(-amount_with_fees * rate // FEE_PRECISION), "fee")


def compute_fee(amount: int, rate: int) -> int:
    """Fee to add on top of a fee-exclusive amount: ``ceil(amount * rate / (1e9 - rate))``."""
    return _u64(-(-amount * rate // (FEE_PRECISION - rate)), "fee")


def update_references(p: FeeParams, active_id: int, now: int) -> None:
    """``update_references``: after ``filter_period`` seconds the index reference moves to the
    active bin and the volatility reference decays (``va * reduction / 10_000``), or resets to 0
    after ``decay_period``."""
    elapsed = now - p.last_update_timestamp
    if elapsed >= p.filter_period:
        p.index_reference = active_id
        if elapsed < p.decay_period:
            p.volatility_reference = p.volatility_accumulator * p.reduction_factor // BASIS_POINT_MAX
        else:
            p.volatility_reference = 0


def update_volatility_accumulator(p: FeeParams, active_id: int) -> None:
    """``va = min(vr + |index_reference - active_id| * 10_000, max_volatility_accumulator)``."""
    va = p.volatility_reference + abs(p.index_reference - active_id) * BASIS_POINT_MAX
    p.volatility_accumulator = min(va, p.max_volatility_accumulator)


@dataclass(slots=True, frozen=True)
class DlmmSwap:
    """Everything the exact-in swap computes. ``bins`` holds, per crossed bin id, the
    fee-exclusive input added to the bin and the gross output taken from it (market-maker part
    and limit-order part). ``fee`` is in the input token when ``fee_on_input`` else the output."""

    amount_in: int
    amount_out: int
    amount_received: int
    fee: int
    protocol_fee: int
    lp_fee: int
    fee_on_input: bool
    input_transfer_fee: int
    output_transfer_fee: int
    active_id: int
    volatility_accumulator: int
    volatility_reference: int
    index_reference: int
    bin_arrays: tuple[int, ...]
    bins: tuple[tuple[int, int, int, int, int], ...]  # (bin_id, mm_in, mm_out, lo_in, lo_out)


@dataclass(slots=True, frozen=True)
class BinFill:
    """One bin's part of a swap: gross input, net output, trading fee, its protocol and LP
    shares (``split_fee``: both 0 when nothing was filled) and the split between market-maker
    liquidity and limit orders (fee-exclusive input amounts)."""

    amount_in: int
    amount_out: int
    fee: int
    protocol_fee: int
    lp_fee: int
    mm_amount_in: int
    mm_amount_out: int
    filled_amount_in: int
    gross_amount_out: int


def _fill(amount: int, max_out: int, price: int, swap_for_y: bool) -> tuple[int, int, int]:
    """``calculate_exact_in_fill_amount`` -> (amount_in, amount_left, out)."""
    if max_out == 0:
        return 0, amount, 0
    max_in = get_amount_in(max_out, price, swap_for_y)
    if amount >= max_in:
        return max_in, amount - max_in, max_out
    return amount, 0, get_amount_out(amount, price, swap_for_y)


def _split_protocol_fee(fee: int, share: int, mm_in: int, total_in: int) -> int:
    if total_in == 0 or fee == 0:
        return 0
    mm_fee = -(-fee * mm_in // total_in)
    lo_total = fee - mm_fee
    lo_fee = lo_total * LIMIT_ORDER_FEE_SHARE // BASIS_POINT_MAX
    return _u64((lo_total - lo_fee) + mm_fee * share // BASIS_POINT_MAX, "protocol fee")


def swap_exact_in_at_bin(
    amount_x: int,
    amount_y: int,
    lo_open: int,
    lo_processed: int,
    price: int,
    amount_in: int,
    swap_for_y: bool,
    rate: int,
    protocol_share: int,
    fee_on_input: bool,
) -> BinFill:
    """``swap_exact_in_quote_at_bin``: fill market-maker liquidity, then processed and open limit
    orders of the matching side (``lo_*`` already filtered by direction; 0 when unsupported)."""
    fee = 0
    net_in = amount_in
    if fee_on_input:
        fee = compute_fee_from_amount(amount_in, rate)
        net_in = amount_in - fee
    mm_in, left, mm_out = _fill(net_in, amount_y if swap_for_y else amount_x, price, swap_for_y)
    filled_in, out = mm_in, mm_out
    if left > 0 and (lo_open or lo_processed):
        p_in, left2, p_out = _fill(left, lo_processed, price, swap_for_y)
        filled_in, out = filled_in + p_in, out + p_out
        if left2 > 0:
            o_in, _l, o_out = _fill(left2, lo_open, price, swap_for_y)
            filled_in, out = filled_in + o_in, out + o_out
    left = net_in - filled_in
    gross_in = amount_in
    if left > 0:
        net_in -= left
        if fee_on_input:
            fee = compute_fee(net_in, rate)
            gross_in = _u64(net_in + fee, "amount in")
        else:
            gross_in = net_in
    net_out = out
    if not fee_on_input:
        fee = compute_fee_from_amount(out, rate)
        net_out = out - fee
    protocol = _split_protocol_fee(fee, protocol_share, mm_in, filled_in)
    lp = 0 if filled_in == 0 or fee == 0 else fee - protocol
    return BinFill(gross_in, net_out, fee, protocol, lp, mm_in, mm_out, filled_in, out)


def bin_id_to_array_index(bin_id: int) -> int:
    """Index of the bin array holding ``bin_id`` (floor division by 70)."""
    return bin_id // MAX_BIN_PER_ARRAY


def bin_array_bounds(index: int) -> tuple[int, int]:
    """``(lower, upper)`` bin ids of bin array ``index``."""
    lower = index * MAX_BIN_PER_ARRAY
    return lower, lower + MAX_BIN_PER_ARRAY - 1


_EXT_SPAN = BIN_ARRAY_BITMAP_SIZE * (EXTENSION_BITMAP_WORDS + 1)  # 6656: extension covers [-6656, 6655]


def combined_bitmap(internal: int, positive: list[int] | None, negative: list[int] | None) -> int:
    """One integer whose bit ``i + 6656`` says bin array ``i`` has liquidity: the pair's 1024-bit
    internal bitmap (arrays -512..511) plus, when given, the extension's 12 + 12 512-bit words."""
    bits = internal << (_EXT_SPAN - BIN_ARRAY_BITMAP_SIZE)
    if positive is not None and negative is not None:
        for k, word in enumerate(positive):
            bits |= word << (_EXT_SPAN + (k + 1) * BIN_ARRAY_BITMAP_SIZE)
        for k, word in enumerate(negative):
            for b in _set_bits(word):  # index -((k + 1) * 512 + b) - 1
                bits |= 1 << (_EXT_SPAN - ((k + 1) * BIN_ARRAY_BITMAP_SIZE + b) - 1)
    return bits


def _set_bits(word: int) -> list[int]:
    out = []
    while word:
        low = word & -word
        out.append(low.bit_length() - 1)
        word ^= low
    return out


def next_array_index(bits: int, start: int, swap_for_y: bool, has_extension: bool) -> int | None:
    """Next bin array index with liquidity from ``start`` (inclusive), downwards when
    ``swap_for_y``, as ``get_bin_array_pubkeys_for_swap`` walks the internal bitmap and the
    extension; None when the walk ends (no liquidity, or the extension is needed but absent)."""
    span = _EXT_SPAN if has_extension else BIN_ARRAY_BITMAP_SIZE
    lo, hi = -span, span - 1
    if not lo <= start <= hi:
        return None
    pos = start + _EXT_SPAN
    low_bound = lo + _EXT_SPAN
    if swap_for_y:
        masked = bits & ((1 << (pos + 1)) - 1)
        masked >>= low_bound
        return None if masked == 0 else masked.bit_length() - 1 + low_bound - _EXT_SPAN
    masked = bits >> pos
    masked &= (1 << (hi + _EXT_SPAN - pos + 1)) - 1
    if masked == 0:
        return None
    return (masked & -masked).bit_length() - 1 + pos - _EXT_SPAN


# ---- plan of the native exact-in kernel (solarb.native._meteora_dlmm; layout in meteora_dlmm.c)

# kernel result / walk terminal codes (KERNEL_FALLBACK: the Python walk decides)
KERNEL_FILLED, KERNEL_NO_LIQUIDITY, KERNEL_OUT_OF_BOUNDS, KERNEL_NOT_LOADED = 0, 1, 2, 3
KERNEL_FALLBACK, KERNEL_EXTEND = 4, 5  # the Python walk decides / plan one more bin array
_KERNEL_HEADER = struct.Struct("<BBBBHHIiiIIIIHHHHqQ")
_KERNEL_ARRAY = struct.Struct("<iii")
_KERNEL_COUNT = struct.Struct("<I")  # the header's stretch count, at offset 8
_KERNEL_DYNAMIC = struct.Struct("<iiII")  # active_id, index_reference, va, vr at offset 12
_KERNEL_TS = struct.Struct("<q")  # last_update_timestamp at offset 44
_KERNEL_ENTRY = struct.Struct("<i")  # a stretch's entry position, at offset 4 of its triple
_KERNEL_HEAD_LEN = 60  # the header's fixed part; the first stretch's entry is at 64


def kernel_header(
    p: FeeParams, active_id: int, swap_for_y: bool, fee_on_input: bool, support_lo: bool,
    terminal: int, ranges: list[tuple[int, int, int]],
) -> bytes:
    """The kernel's per-direction header: fee parameters (base fee capped at
    :data:`MAX_FEE_RATE`, which leaves every ``min(base + var, MAX_FEE_RATE)`` unchanged), the
    walk's bin arrays as ``(lower bin id, first, last bin position)`` and how the walk ends."""
    fee = (p.bin_step, p.base_factor, p.base_fee_power_factor, p.variable_fee_control,
           p.max_volatility_accumulator, p.filter_period, p.decay_period, p.reduction_factor,
           p.protocol_share, p.volatility_accumulator, p.volatility_reference, p.index_reference,
           p.last_update_timestamp)  # fmt: skip
    head = _kernel_head(fee, active_id, swap_for_y, fee_on_input, support_lo, terminal, len(ranges))
    return head + b"".join([_KERNEL_ARRAY.pack(*r) for r in ranges])


def _kernel_head(
    fee: tuple[int, ...], active_id: int, swap_for_y: bool, fee_on_input: bool,
    support_lo: bool, terminal: int, count: int,
) -> bytes:  # fmt: skip
    """:func:`kernel_header`'s fixed part; ``fee``: the fields of :class:`FeeParams` in order
    (as ``meteora_dlmm_view.fee_args`` gives them), ``count``: the stretches that follow."""
    bin_step, base_factor, power, vfc, max_va, filt, decay, red, _share, va, vr, iref, ts = fee
    base = min(base_factor * bin_step * 10 * 10**power, MAX_FEE_RATE)
    return _KERNEL_HEADER.pack(
        swap_for_y, fee_on_input, support_lo, terminal, bin_step, 0, count, active_id, iref, va,
        vr, max_va, vfc, filt, decay, red, 0, ts, base,
    )  # fmt: skip


def restart_head(
    header: bytes, old_fee: tuple[int, ...], fee: tuple[int, ...], active_id: int, entry: int,
    fee_on_input: bool, support_lo: bool,
) -> bytes | None:  # fmt: skip
    """The header of :meth:`KernelWalk.restarted` when only the pair's dynamic fields moved:
    ``header`` with the active bin, index reference, volatility accumulator and reference and
    timestamp (``fee[11], fee[9], fee[10], fee[12]``) written over and, when ``entry >= 0``, the
    first stretch's entry. None (pack the head anew) when ``fee``'s first nine fields are not
    ``old_fee``'s, the header's fee side or limit-order flag differ, a value does not fit its
    field or there is no first stretch for the entry. The kernel's ``restart_head`` is the same
    function in C (tests compare them)."""
    if len(header) < _KERNEL_HEAD_LEN or header[1] != bool(fee_on_input) or (
        header[2] != bool(support_lo)
    ):
        return None
    if fee is not old_fee and fee[:9] != old_fee[:9]:
        return None
    if not -1 <= entry < MAX_BIN_PER_ARRAY or (
        entry >= 0 and len(header) < _KERNEL_HEAD_LEN + _KERNEL_ARRAY.size
    ):
        return None
    buf = bytearray(header)
    try:
        _KERNEL_DYNAMIC.pack_into(buf, 12, active_id, fee[11], fee[9], fee[10])
        _KERNEL_TS.pack_into(buf, 44, fee[12])
        if entry >= 0:
            _KERNEL_ENTRY.pack_into(buf, _KERNEL_HEAD_LEN + 4, entry)
    except struct.error:
        return None
    return bytes(buf)


_NATIVE = native.load("meteora_dlmm")
_restart_head: Callable[..., bytes | None] = (
    restart_head if _NATIVE is None else _NATIVE.restart_head
)


class KernelWalk:
    """One direction of a swap for the native kernel, planned a stretch at a time (a stretch is
    the rest of a bin array in the walk's direction; the kernel asks for the next with
    ``KERNEL_EXTEND``): the kernel header, each stretch's non-empty bins (records), the accounts
    they came from (those a run walked must still be the same objects: :meth:`stale`), the key
    whose absence ends the walk, the array index per stretch and ``spared``, a slot per number
    of stretches walked for the caller (``Quote.arrays``)."""

    MAX_STRETCHES = 32  # a longer walk ends in KERNEL_FALLBACK: the Python walk runs it

    __slots__ = ("active", "array_key", "datas", "fee", "head", "header", "indices", "keys",
                 "missing", "next_array", "origin", "ranges", "records", "spared", "swap_for_y",
                 "terminal")  # fmt: skip

    def __init__(
        self, fee: tuple[int, ...], active_id: int, swap_for_y: bool, fee_on_input: bool,
        support_lo: bool, next_array: Callable[[int, bool], int | None],
        array_key: Callable[[int], Hashable],
    ) -> None:  # fmt: skip
        """``fee``: the :class:`FeeParams` fields in order (``meteora_dlmm_view.fee_args``)."""
        self.swap_for_y, self.next_array, self.array_key = swap_for_y, next_array, array_key
        self.origin = self.active = active_id  # the start bin; the next stretch's start bin
        self.fee = fee  # what the head was packed from
        # the header without stretches; extend() sets its terminal and count and appends them
        # (None with ranges: both are the sealed header's parts, split off when extend needs them)
        self.head: bytearray | None = bytearray(
            _kernel_head(fee, active_id, swap_for_y, fee_on_input, support_lo, KERNEL_EXTEND, 0)
        )
        self.ranges: bytes | None = b""  # the stretches as the header lists them
        self.records: tuple[bytes, ...] = ()
        self.keys: list[Hashable] = []
        self.datas: list[Any] = []
        self.indices: list[int] = []  # bin array index per stretch
        self.spared: list[Any] = [None]
        self.missing: Hashable | None = None
        self.terminal = KERNEL_EXTEND
        self.header = b""

    def extend(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> None:
        """Plan the next stretch (or how the walk ends) from the accounts ``aux``;
        ``records(key, data)`` gives an array's kernel records (of every bin), None when the
        data is no bin array."""
        self.terminal = self._step(aux, records)
        self._seal()

    def _parts(self) -> tuple[bytearray, bytes]:
        """``head`` and ``ranges``, split off the sealed header when a restart left them None."""
        head, ranges = self.head, self.ranges
        if head is None or ranges is None:
            header = self.header
            head = self.head = bytearray(header[:_KERNEL_HEAD_LEN])
            ranges = self.ranges = header[_KERNEL_HEAD_LEN:]
        return head, ranges

    def _seal(self) -> None:
        """``header``: the head with the terminal and stretch count, then the stretches."""
        head, ranges = self._parts()
        head[3] = self.terminal
        _KERNEL_COUNT.pack_into(head, 8, len(self.indices))
        self.header = bytes(head) + ranges

    def _copy(self) -> KernelWalk:
        """A walk with this one's fields and header (its lists copied; when this one is sealed,
        head and ranges left None: split off the header when the copy is sealed or extends)."""
        w = KernelWalk.__new__(KernelWalk)
        w.swap_for_y, w.next_array, w.array_key = self.swap_for_y, self.next_array, self.array_key
        w.origin, w.active, w.fee, w.header = self.origin, self.active, self.fee, self.header
        if self.header:  # sealed (extend seals each stretch): the header holds head and ranges
            w.head = w.ranges = None
        else:
            head, w.ranges = self._parts()
            w.head = head.copy()
        w.records, w.keys, w.datas = self.records, self.keys.copy(), self.datas.copy()
        w.indices, w.spared = self.indices.copy(), self.spared.copy()
        w.missing, w.terminal = self.missing, self.terminal
        return w

    def restarted(
        self, fee: tuple[int, ...], active_id: int, fee_on_input: bool, support_lo: bool,
        next_array: Callable[[int, bool], int | None], array_key: Callable[[int], Hashable],
        aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None],
    ) -> KernelWalk | None:  # fmt: skip
        """This walk for a later state of the pair (the caller checks: the same bitmap and
        extension, so the same arrays in the same order) that starts from ``active_id`` in the
        same bin array: its stretches, accounts and spared slots with a new head and the first
        stretch entered at ``active_id``, as a new walk planned that far would have them; None
        when the start is in another array or the walk has no stretch (plan it anew).

        Also :meth:`refreshed` from ``aux`` when it is not :meth:`planned_from` it (one copy for
        both; None where :meth:`refreshed` gives None).
        When only the pair's dynamic fields moved (``fee``'s first nine fields, the fee side and
        limit-order support as in this walk's head), the header is this one's with the active
        bin, volatility, timestamp and first entry written over, not packed anew (the same
        bytes); the new walk's ``head`` and ``ranges`` are split off it when it extends."""
        indices = self.indices
        if not indices or active_id // MAX_BIN_PER_ARRAY != self.origin // MAX_BIN_PER_ARRAY:
            return None
        lower = indices[0] * MAX_BIN_PER_ARRAY  # _step's first stretch, from active_id
        entry = -1  # an empty gap before the first stretch: entered at its edge, as before
        if lower <= active_id < lower + MAX_BIN_PER_ARRAY:
            if not MIN_BIN_ID <= active_id <= MAX_BIN_ID:
                return None
            entry = active_id - lower
        # the same first array: the same stop (and every later stretch); a new entry
        header = self.header
        buf: bytes | bytearray | None = _restart_head(
            header, self.fee, fee, active_id, entry, fee_on_input, support_lo
        )
        if buf is None:  # a static fee field or the fee side moved: the head packed anew
            buf = bytearray(_kernel_head(fee, active_id, self.swap_for_y, fee_on_input,
                                         support_lo, self.terminal, len(indices)))  # fmt: skip
            buf += header[_KERNEL_HEAD_LEN:]
            if entry >= 0:
                _KERNEL_ENTRY.pack_into(buf, _KERNEL_HEAD_LEN + 4, entry)
        w = KernelWalk.__new__(KernelWalk)
        w.swap_for_y, w.next_array, w.array_key = self.swap_for_y, next_array, array_key
        w.origin, w.active, w.head, w.ranges, w.fee = active_id, self.active, None, None, fee
        w.records, w.keys, w.datas = self.records, self.keys.copy(), self.datas.copy()
        w.indices, w.spared = indices.copy(), self.spared.copy()
        w.missing, w.terminal = self.missing, self.terminal
        if not w._refresh(aux, records):
            return None
        if w.terminal != self.terminal:
            buf = bytearray(buf)
            buf[3] = w.terminal
        w.header = bytes(buf)  # the same object when it is bytes
        return w

    def refreshed(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> KernelWalk | None:
        """This walk after writes to the bin arrays it read, for the same pair state: the
        stretches depend only on the state and bitmap, so a walk planned from ``aux`` as far has
        the same ones, each with the records of its array's current version (``records`` of the
        arrays that changed). A terminal an array may have decided (not loaded, now loaded; the
        Python walk's) is planned again on the next extend. None when an array of a stretch is
        gone or no bin array now (plan anew)."""
        w = self._copy()
        if not w._refresh(aux, records):
            return None
        if w.terminal == self.terminal:
            w.header = self.header  # the same head, count and stretches: the same bytes
        else:
            w._seal()
        return w

    def _refresh(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> bool:
        """:meth:`refreshed` in place on a copy (not sealed) when it is not :meth:`planned_from`
        ``aux`` (else left as it is); False where :meth:`refreshed` gives None."""
        datas = self.datas
        recs: list[bytes] | None = None
        for i, key in enumerate(self.keys):
            data = aux.get(key)
            if data is datas[i]:
                continue
            rec = None if data is None else records(key, data)
            if rec is None:
                return False
            if recs is None:
                recs = list(self.records)
            recs[i], datas[i] = rec, data
        terminal = self.terminal
        if recs is not None:
            self.records = tuple(recs)
        elif terminal != KERNEL_NOT_LOADED or aux.get(self.missing) is None:
            return True  # planned from aux: as it is
        if terminal == KERNEL_FALLBACK or (
            terminal == KERNEL_NOT_LOADED and aux.get(self.missing) is not None
        ):
            self.terminal, self.missing = KERNEL_EXTEND, None
        return True

    def _step(self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]) -> int:
        """Append the next stretch from bin ``active``, moving as the Python walk does (an
        empty gap jumps to the next array's edge; a step past ``MIN_BIN_ID``/``MAX_BIN_ID``
        fails); the walk's terminal code after it."""
        if len(self.indices) >= self.MAX_STRETCHES:
            return KERNEL_FALLBACK
        active, swap_for_y = self.active, self.swap_for_y
        idx = self.next_array(active // MAX_BIN_PER_ARRAY, swap_for_y)
        if idx is None:
            return KERNEL_NO_LIQUIDITY
        lower = idx * MAX_BIN_PER_ARRAY
        upper = lower + MAX_BIN_PER_ARRAY - 1
        entry = active if lower <= active <= upper else (upper if swap_for_y else lower)
        if not MIN_BIN_ID <= entry <= MAX_BIN_ID:
            return KERNEL_FALLBACK
        ranges = self._parts()[1]
        far, step = (lower, -1) if swap_for_y else (upper, 1)
        stop = min(max(far, MIN_BIN_ID), MAX_BIN_ID)
        key = self.array_key(idx)
        data = aux.get(key)
        if data is None:
            self.missing = key
            return KERNEL_NOT_LOADED
        rec = records(key, data)
        if rec is None:
            return KERNEL_FALLBACK
        self.ranges = ranges + _KERNEL_ARRAY.pack(lower, entry - lower, stop - lower)
        self.indices.append(idx), self.spared.append(None)
        self.records += (rec,)
        self.keys.append(key), self.datas.append(data)
        if not MIN_BIN_ID <= stop + step <= MAX_BIN_ID:
            return KERNEL_OUT_OF_BOUNDS
        self.active = far + step
        return KERNEL_EXTEND

    def stale(self, aux: Mapping[Any, Any], walked: int, code: int) -> bool:
        """Whether ``aux`` differs from what a kernel run over ``walked`` stretches read."""
        keys, datas = self.keys, self.datas
        for i in range(walked):
            if aux.get(keys[i]) is not datas[i]:
                return True
        return code == KERNEL_NOT_LOADED and aux.get(self.missing) is not None

    def planned_from(self, aux: Mapping[Any, Any]) -> bool:
        """Whether every account the plan read (and the missing one, still absent) is the same
        in ``aux``: then each run over it is what a run planned from ``aux`` would be."""
        return not self.stale(aux, len(self.keys), self.terminal)
