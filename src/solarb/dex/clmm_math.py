"""Integer fixed-point math shared by the concentrated-liquidity DEXes (Orca Whirlpool and
Raydium CLMM).

Prices are ``sqrt_price_x64``: sqrt(token_b / token_a) as an unsigned Q64.64 integer (u128).
Liquidity is a u128, token amounts u64. Every function works on Python ints with the programs'
exact rounding and bounds; a value the program could not represent raises :class:`ClmmMathError`
carrying the program's error *name* (``err.name``), which each adapter maps to its own code.

Rounding rules (Whirlpool ``programs/whirlpool/src/math``; the Raydium variants say where they
differ):

* ``sqrt_price_at_tick``: per-bit constant products, truncated after every multiply;
  ``tick_at_sqrt_price`` is the programs' log2 estimate (the floor tick except at the very top).
* ``amount_delta_a = L * (upper - lower) << 64 / (upper * lower)``, one division, ceil or floor.
* ``amount_delta_b = L * (upper - lower) >> 64``, ceil or floor on the dropped 64 bits.
* ``next_sqrt_price_from_a_round_up`` always rounds the new price up, ``..._from_b_round_down``
  always rounds it down (floor of the delta when adding input, ceil when removing output).
* ``mul_div_floor`` / ``mul_div_ceil``: ``a * b / d`` with the product kept exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from solarb.dex.base import QuoteError

__all__ = [
    "FEE_RATE_MUL_VALUE",
    "MAX_SQRT_PRICE_X64",
    "MAX_TICK",
    "MIN_SQRT_PRICE_X64",
    "MIN_TICK",
    "PROTOCOL_FEE_RATE_MUL_VALUE",
    "Q64",
    "RAYDIUM_MAX_SQRT_PRICE_X64",
    "U64_MAX",
    "U128_MAX",
    "ClmmMathError",
    "SwapStep",
    "amount_delta_a",
    "amount_delta_b",
    "mul_div_ceil",
    "mul_div_floor",
    "next_sqrt_price",
    "next_sqrt_price_from_a_round_up",
    "next_sqrt_price_from_b_round_down",
    "raydium_sqrt_price_at_tick",
    "raydium_tick_at_sqrt_price",
    "sqrt_price_at_tick",
    "sqrt_price_at_tick_unchecked",
    "swap_step",
    "swap_step_amounts",
    "tick_at_sqrt_price",
]

Q64 = 1 << 64
U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1
U256_MAX = (1 << 256) - 1
MIN_TICK = -443636
MAX_TICK = 443636
MIN_SQRT_PRICE_X64 = 4295048016
MAX_SQRT_PRICE_X64 = 79226673515401279992447579055  # Whirlpool
RAYDIUM_MAX_SQRT_PRICE_X64 = 79226673521066979257578248091  # Raydium CLMM (different rounding)
FEE_RATE_MUL_VALUE = 1_000_000  # fee rates are hundredths of a basis point
PROTOCOL_FEE_RATE_MUL_VALUE = 10_000  # Whirlpool protocol fee rate is in basis points of the fee


class ClmmMathError(QuoteError):
    """A CLMM computation the program would abort; ``name`` is the program's error name
    (``TokenMaxExceeded``, ``MultiplicationOverflow``, ``DivideByZero``,
    ``SqrtPriceOutOfBounds``...)."""

    def __init__(self, name: str, message: str = "", code: int | None = None) -> None:
        super().__init__(f"{name}: {message}" if message else name, code)
        self.name = name


# Whirlpool: sqrt(1.0001)^(2^i) as Q32.96 for positive ticks, sqrt(1.0001)^-(2^i) as Q64.64
# for negative ones.
_WP_POS_ODD = 79232123823359799118286999567
_WP_POS = (
    79236085330515764027303304731, 79244008939048815603706035061, 79259858533276714757314932305,
    79291567232598584799939703904, 79355022692464371645785046466, 79482085999252804386437311141,
    79736823300114093921829183326, 80248749790819932309965073892, 81282483887344747381513967011,
    83390072131320151908154831281, 87770609709833776024991924138, 97234110755111693312479820773,
    119332217159966728226237229890, 179736315981702064433883588727, 407748233172238350107850275304,
    2098478828474011932436660412517, 55581415166113811149459800483533,
    38992368544603139932233054999993551,
)  # fmt: skip
_WP_NEG_ODD = 18445821805675392311
_WP_NEG = (
    18444899583751176498, 18443055278223354162, 18439367220385604838, 18431993317065449817,
    18417254355718160513, 18387811781193591352, 18329067761203520168, 18212142134806087854,
    17980523815641551639, 17526086738831147013, 16651378430235024244, 15030750278693429944,
    12247334978882834399, 8131365268884726200, 3584323654723342297, 696457651847595233,
    26294789957452057, 37481735321082,
)  # fmt: skip
# Raydium CLMM: 2^64 / sqrt(1.0001)^(2^i) as Q64.64 for |tick|; inverted (u128::MAX / r) for
# tick > 0.
_RAY_ODD = 0xFFFCB933BD6FB800
_RAY = (
    0xFFF97272373D4000, 0xFFF2E50F5F657000, 0xFFE5CACA7E10F000, 0xFFCB9843D60F7000,
    0xFF973B41FA98E800, 0xFF2EA16466C9B000, 0xFE5DEE046A9A3800, 0xFCBE86C7900BB000,
    0xF987A7253AC65800, 0xF3392B0822BB6000, 0xE7159475A2CAF000, 0xD097F3BDFD2F2000,
    0xA9F746462D9F8000, 0x70D869A156F31C00, 0x31BE135F97ED3200, 0x9AA508B5B85A500,
    0x5D6AF8DEDC582C, 0x2216E584F5FA,
)  # fmt: skip


@lru_cache(maxsize=1 << 16)
def sqrt_price_at_tick(tick: int) -> int:
    """Whirlpool ``sqrt_price_from_tick_index``: sqrt(1.0001^tick) as Q64.64, truncating after every
    per-bit multiply (positive ticks in Q96 then ``>> 32``). Exact for MIN_TICK..MAX_TICK;
    ``TickIndexOutOfBounds`` outside."""
    if not MIN_TICK <= tick <= MAX_TICK:
        raise ClmmMathError("TickIndexOutOfBounds", f"tick {tick}")
    return sqrt_price_at_tick_unchecked(tick)


def sqrt_price_at_tick_unchecked(tick: int) -> int:
    """:func:`sqrt_price_at_tick` without the range check, as the program computes it for any
    ``|tick| < 2^19`` (the adaptive-fee manager evaluates ticks just outside the range)."""
    if tick >= 0:
        ratio = _WP_POS_ODD if tick & 1 else 1 << 96
        bits = tick >> 1
        for c in _WP_POS:
            if not bits:
                break
            if bits & 1:
                ratio = (ratio * c) >> 96
            bits >>= 1
        return ratio >> 32
    a = -tick
    ratio = _WP_NEG_ODD if a & 1 else Q64
    bits = a >> 1
    for c in _WP_NEG:
        if not bits:
            break
        if bits & 1:
            ratio = (ratio * c) >> 64
        bits >>= 1
    return ratio


@lru_cache(maxsize=1 << 16)
def raydium_sqrt_price_at_tick(tick: int) -> int:
    """Raydium CLMM ``get_sqrt_price_at_tick``: product of Q64.64 constants for |tick| (truncated
    after each multiply), then ``(2^128 - 1) // ratio`` for positive ticks (floor)."""
    if not MIN_TICK <= tick <= MAX_TICK:
        raise ClmmMathError("TickUpperOverflow", f"tick {tick}")
    a = -tick if tick < 0 else tick
    ratio = _RAY_ODD if a & 1 else Q64
    bits = a >> 1
    for c in _RAY:
        if not bits:
            break
        if bits & 1:
            ratio = (ratio * c) >> 64
        bits >>= 1
    if tick > 0:
        ratio = U128_MAX // ratio
    return ratio


_LOG_B_2_X32 = 59543866431248
_ERR_LOWER_X64 = 184467440737095516  # 0.01
_ERR_UPPER_X64 = 15793534762490258745  # 2^-14 / log2(sqrt(1.0001)) + 0.01


def _tick_estimate(sqrt_price_x64: int, precision: int, at_tick: Callable[[int], int]) -> int:
    """The programs' log2 approximation: integer part from the msb, ``precision`` squaring steps for
    the fraction, change of base, then a low/high estimate checked against ``at_tick(high)``.
    Not always the exact floor (near MAX it can answer MAX_TICK for MAX_SQRT_PRICE - 1)."""
    msb = sqrt_price_x64.bit_length() - 1
    log2_int_x32 = (msb - 64) << 32
    r = sqrt_price_x64 >> (msb - 63) if msb >= 64 else sqrt_price_x64 << (63 - msb)
    frac_x64 = 0
    bit = 1 << 63
    for _ in range(precision):
        r *= r
        more = r >> 127
        r >>= 63 + more
        if more:
            frac_x64 |= bit
        bit >>= 1
    logbp_x64 = (log2_int_x32 + (frac_x64 >> 32)) * _LOG_B_2_X32
    low = (logbp_x64 - _ERR_LOWER_X64) >> 64
    high = (logbp_x64 + _ERR_UPPER_X64) >> 64
    if low == high:
        return low
    return high if at_tick(high) <= sqrt_price_x64 else low


def tick_at_sqrt_price(sqrt_price_x64: int) -> int:
    """Whirlpool ``tick_index_from_sqrt_price`` (14-bit precision): the tick whose range holds
    the price, i.e. the floor tick everywhere except right at the top of the range."""
    if not MIN_SQRT_PRICE_X64 <= sqrt_price_x64 <= MAX_SQRT_PRICE_X64:
        raise ClmmMathError("SqrtPriceOutOfBounds", f"sqrt price {sqrt_price_x64}")
    return _tick_estimate(sqrt_price_x64, 14, _wp_at_tick)


def _wp_at_tick(tick: int) -> int:
    """:func:`sqrt_price_at_tick_unchecked` through the cache of :func:`sqrt_price_at_tick`."""
    if MIN_TICK <= tick <= MAX_TICK:
        return sqrt_price_at_tick(tick)
    return sqrt_price_at_tick_unchecked(tick)


def raydium_tick_at_sqrt_price(sqrt_price_x64: int) -> int:
    """Raydium CLMM ``get_tick_at_sqrt_price`` (16-bit precision) under
    :func:`raydium_sqrt_price_at_tick`; requires
    ``MIN_SQRT_PRICE_X64 <= p < RAYDIUM_MAX_SQRT_PRICE_X64`` (error name ``SqrtPriceX64``)."""
    if not MIN_SQRT_PRICE_X64 <= sqrt_price_x64 < RAYDIUM_MAX_SQRT_PRICE_X64:
        raise ClmmMathError("SqrtPriceX64", f"sqrt price {sqrt_price_x64}")
    return _tick_estimate(sqrt_price_x64, 16, raydium_sqrt_price_at_tick)


def mul_div_floor(a: int, b: int, d: int) -> int:
    """``floor(a * b / d)`` with the exact product; ``DivideByZero`` when ``d == 0``."""
    if d == 0:
        raise ClmmMathError("DivideByZero")
    return a * b // d


def mul_div_ceil(a: int, b: int, d: int) -> int:
    """``ceil(a * b / d)`` with the exact product; ``DivideByZero`` when ``d == 0``."""
    if d == 0:
        raise ClmmMathError("DivideByZero")
    return -(-(a * b) // d)


def amount_delta_a(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    """Token A between two sqrt prices: ``L * (hi - lo) * 2^64 / (hi * lo)`` in one division,
    ceil if ``round_up`` else floor. The result is unbounded: the caller decides whether a value
    above ``U64_MAX`` is an error (Whirlpool: ``TokenMaxExceeded``) or "more than the step
    needs"."""
    lo, hi = (p0, p1) if p0 < p1 else (p1, p0)
    num = liquidity * (hi - lo) << 64
    den = hi * lo
    if round_up:
        return -(-num // den)
    return num // den


def amount_delta_b(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    """Token B between two sqrt prices: ``L * (hi - lo) >> 64``, ceil on the dropped bits if
    ``round_up``. Unbounded like :func:`amount_delta_a` (Whirlpool treats a product above u128, or
    a result above ``U64_MAX``, as exceeding u64)."""
    lo, hi = (p0, p1) if p0 < p1 else (p1, p0)
    p = liquidity * (hi - lo)
    if round_up:
        return (p + U64_MAX) >> 64
    return p >> 64


def next_sqrt_price_from_a_round_up(sqrt_price: int, liquidity: int, amount: int, add: bool) -> int:
    """New price after adding (``add``, input) or removing (output) ``amount`` of token A:
    ``ceil(L * p * 2^64 / (L * 2^64 +- p * amount))``. Errors as Whirlpool:
    ``MultiplicationOverflow`` (numerator above u256), ``DivideByZero`` (removal >= reserve),
    ``NumberDownCastError`` (above u128),
    ``TokenMinSubceeded`` / ``TokenMaxExceeded`` (outside MIN/MAX_SQRT_PRICE_X64)."""
    if amount == 0:
        return sqrt_price
    product = sqrt_price * amount
    num = (liquidity * sqrt_price) << 64
    if num > U256_MAX:
        raise ClmmMathError("MultiplicationOverflow")
    lsl = liquidity << 64
    if add:
        den = lsl + product
    else:
        if lsl <= product:
            raise ClmmMathError("DivideByZero")
        den = lsl - product
    price = -(-num // den)
    if price > U128_MAX:
        raise ClmmMathError("NumberDownCastError")
    if price < MIN_SQRT_PRICE_X64:
        raise ClmmMathError("TokenMinSubceeded")
    if price > MAX_SQRT_PRICE_X64:
        raise ClmmMathError("TokenMaxExceeded")
    return price


def next_sqrt_price_from_b_round_down(
    sqrt_price: int, liquidity: int, amount: int, add: bool
) -> int:
    """New price after adding (``add``: ``p + floor(amount * 2^64 / L)``) or removing
    (``p - ceil(amount * 2^64 / L)``) token B; ``DivideByZero`` when ``L == 0``,
    ``SqrtPriceOutOfBounds`` when the result leaves u128."""
    if liquidity == 0:
        raise ClmmMathError("DivideByZero")
    x = amount << 64
    if add:
        res = sqrt_price + x // liquidity
        if res > U128_MAX:
            raise ClmmMathError("SqrtPriceOutOfBounds")
        return res
    res = sqrt_price - (-(-x // liquidity))
    if res < 0:
        raise ClmmMathError("SqrtPriceOutOfBounds")
    return res


def next_sqrt_price(
    sqrt_price: int, liquidity: int, amount: int, is_input: bool, a_to_b: bool
) -> int:
    """Price after a fixed ``amount``: token A is fixed when ``is_input == a_to_b`` (price
    rounded up), otherwise token B (price rounded down)."""
    if is_input == a_to_b:
        return next_sqrt_price_from_a_round_up(sqrt_price, liquidity, amount, is_input)
    return next_sqrt_price_from_b_round_down(sqrt_price, liquidity, amount, is_input)


@dataclass(slots=True, frozen=True)
class SwapStep:
    """One step inside a price range: ``amount_in`` excludes ``fee_amount``."""

    amount_in: int
    amount_out: int
    next_sqrt_price: int
    fee_amount: int


def _wp_delta(cur: int, tgt: int, liq: int, use_a: bool, round_up: bool) -> int | None:
    """Whirlpool's ``try_get_amount_delta_{a,b}``: the delta, or None when it exceeds u64.
    Token A: a numerator ``L * diff << 64`` above u256 is a hard ``MultiplicationOverflow``."""
    lo, hi = (cur, tgt) if cur < tgt else (tgt, cur)
    p = liq * (hi - lo)
    if use_a:
        if p.bit_length() > 192:
            raise ClmmMathError("MultiplicationOverflow", "amount delta a numerator")
        den = hi * lo
        v = -(-(p << 64) // den) if round_up else (p << 64) // den
        return v if v <= U64_MAX else None
    if p > U128_MAX:
        return None
    v = (p + U64_MAX) >> 64 if round_up else p >> 64
    return v if v <= U64_MAX else None


def _wp_delta_checked(cur: int, tgt: int, liq: int, use_a: bool, round_up: bool) -> int:
    v = _wp_delta(cur, tgt, liq, use_a, round_up)
    if v is None:
        lo, hi = (cur, tgt) if cur < tgt else (tgt, cur)
        if use_a:
            name = "TokenMaxExceeded"
        elif liq * (hi - lo) > U128_MAX:
            name = "MultiplicationShiftRightOverflow"
        else:
            name = "MultiplicationOverflow"
        raise ClmmMathError(name, "amount delta above u64")
    return v


def swap_step(
    amount_remaining: int,
    fee_rate: int,
    liquidity: int,
    sqrt_price_current: int,
    sqrt_price_target: int,
    is_input: bool,
    a_to_b: bool,
) -> SwapStep:
    """Whirlpool ``compute_swap``: one step from ``sqrt_price_current`` toward
    ``sqrt_price_target``.

    Input side: usable amount ``floor(remaining * (1e6 - fee_rate) / 1e6)``; if the whole range
    costs no more, the step reaches the target and
    ``fee = ceil(amount_in * fee_rate / (1e6 - fee_rate))``;
    otherwise the price moves by the usable amount and the fee is the rest of ``remaining``.
    Output side: reaching the target or not, ``amount_out`` is capped at ``remaining``.
    Fixed-side deltas round up on input, down on output; the other side the opposite way.
    """
    return SwapStep(*swap_step_amounts(amount_remaining, fee_rate, liquidity, sqrt_price_current,
                                       sqrt_price_target, is_input, a_to_b))  # fmt: skip


def swap_step_amounts(
    amount_remaining: int,
    fee_rate: int,
    liquidity: int,
    sqrt_price_current: int,
    sqrt_price_target: int,
    is_input: bool,
    a_to_b: bool,
) -> tuple[int, int, int, int]:
    """:func:`swap_step` as ``(amount_in, amount_out, next_sqrt_price, fee_amount)`` (no object
    per step: the swap loops' form)."""
    fixed_is_a = a_to_b == is_input
    cur, tgt = sqrt_price_current, sqrt_price_target
    fixed_full = _wp_delta(cur, tgt, liquidity, fixed_is_a, is_input)  # None: above u64
    calc = amount_remaining
    if is_input:
        calc = amount_remaining * (FEE_RATE_MUL_VALUE - fee_rate) // FEE_RATE_MUL_VALUE
    if fixed_full is not None and calc >= fixed_full:
        nxt = tgt
    else:
        nxt = next_sqrt_price(cur, liquidity, calc, is_input, a_to_b)
    is_max = nxt == tgt
    unfixed = _wp_delta_checked(cur, nxt, liquidity, not fixed_is_a, not is_input)
    if is_max and fixed_full is not None:
        fixed = fixed_full
    else:
        fixed = _wp_delta_checked(cur, nxt, liquidity, fixed_is_a, is_input)
    if is_input:
        amount_in, amount_out = fixed, unfixed
    else:
        amount_in, amount_out = unfixed, min(fixed, amount_remaining)
    if is_input and not is_max:
        fee = amount_remaining - amount_in
    else:
        fee = -(-amount_in * fee_rate // (FEE_RATE_MUL_VALUE - fee_rate))
        if fee > U64_MAX:
            raise ClmmMathError("NumberDownCastError", "fee above u64")
    return amount_in, amount_out, nxt, fee
