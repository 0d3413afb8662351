"""Raydium CLMM tick-array navigation: which tick array a swap visits next, from the pool's
default bitmap and the bitmap extension (programs: tick_array_bit_map.rs,
tickarray_bitmap_extension.rs, pool.rs). Layouts live in :mod:`solarb.dex.raydium_clmm_layout`."""

from __future__ import annotations

from solarb.dex.raydium_clmm_layout import (
    ANCHOR_REQUIRE_GT,
    BITMAP_SIZE,
    BitmapExtension,
    ClmmPool,
    ERR_INVALID_TICK_ARRAY_BOUNDARY,
    ERR_INVALID_TICK_INDEX,
    ERR_MISSING_EXTENSION,
    ERR_NO_LIQUIDITY_DIRECTION,
    M1024,
    M512,
    MAX_TICK,
    MIN_TICK,
    TICK_ARRAY_SIZE,
)
from solarb.dex.raydium_clmm_layout import program_error as _fail

__all__ = [
    "tick_count",
    "array_start_index",
    "max_tick_in_bitmap",
    "next_tick_array_start",
    "first_tick_array_start",
    "bitmap_position",
]


def tick_count(spacing: int) -> int:
    """Ticks covered by one tick array."""
    return TICK_ARRAY_SIZE * spacing


def array_start_index(tick: int, spacing: int) -> int:
    """Start index of the tick array holding ``tick`` (rounds toward negative infinity)."""
    n = tick_count(spacing)
    return (tick // n) * n


def _valid_start(start: int, spacing: int) -> bool:
    if start < MIN_TICK or start > MAX_TICK:
        if start > MAX_TICK:
            return False
        return start == array_start_index(MIN_TICK, spacing)
    return start % tick_count(spacing) == 0


def max_tick_in_bitmap(spacing: int) -> int:
    """Ticks one 512-array bitmap covers on one side of zero."""
    return spacing * TICK_ARRAY_SIZE * BITMAP_SIZE


def _default_next(bitmap: int, last: int, spacing: int, zero_for_one: bool) -> tuple[bool, int]:
    """``tick_array_bit_map::next_initialized_tick_array_start_index``."""
    if not _valid_start(last, spacing):
        raise _fail(ERR_INVALID_TICK_ARRAY_BOUNDARY, f"tick array start {last}")
    boundary = max_tick_in_bitmap(spacing)
    mult = tick_count(spacing)
    nxt = last - mult if zero_for_one else last + mult
    if nxt < -boundary or nxt >= boundary:
        return False, last
    bit_pos = abs(nxt // mult + 512)
    if zero_for_one:
        shifted = (bitmap << (1024 - bit_pos - 1)) & M1024
        if shifted == 0:
            return False, -boundary
        return True, (bit_pos - (1024 - shifted.bit_length()) - 512) * mult
    shifted = bitmap >> bit_pos
    if shifted == 0:
        return False, boundary - mult
    return True, (bit_pos + (shifted & -shifted).bit_length() - 1 - 512) * mult


def _ext_bitmap(ext: BitmapExtension, start: int, spacing: int) -> int:
    if not _valid_start(start, spacing):
        raise _fail(ERR_INVALID_TICK_INDEX, f"tick array start {start}")
    boundary = max_tick_in_bitmap(spacing)
    if not (MAX_TICK > boundary and -boundary > MIN_TICK):
        raise _fail(ANCHOR_REQUIRE_GT, "extension boundary")
    if -boundary <= start < boundary:
        raise _fail(ERR_INVALID_TICK_ARRAY_BOUNDARY, f"start {start} inside the default bitmap")
    offset = abs(start) // boundary - 1
    if start < 0 and abs(start) % boundary == 0:
        offset -= 1
    return ext.negative[offset] if start < 0 else ext.positive[offset]


def _ext_offset_in_bitmap(start: int, spacing: int) -> int:
    m = abs(start) % max_tick_in_bitmap(spacing)
    off = m // tick_count(spacing)
    if start < 0 and m != 0:
        off = BITMAP_SIZE - off
    return off


def _bitmap_boundary(start: int, spacing: int) -> tuple[int, int]:
    per = max_tick_in_bitmap(spacing)
    m = abs(start) // per
    if start < 0 and abs(start) % per != 0:
        m += 1
    lo = per * m
    return (-lo, -lo + per) if start < 0 else (lo, lo + per)


def _ext_next(ext: BitmapExtension, last: int, spacing: int,
              zero_for_one: bool) -> tuple[bool, int]:
    """``TickArrayBitmapExtension::next_initialized_tick_array_from_one_bitmap``."""
    mult = tick_count(spacing)
    nxt = last - mult if zero_for_one else last + mult
    if nxt < array_start_index(MIN_TICK, spacing) or nxt > array_start_index(MAX_TICK, spacing):
        return False, nxt
    bitmap = _ext_bitmap(ext, nxt, spacing)
    lo, hi = _bitmap_boundary(nxt, spacing)
    off = _ext_offset_in_bitmap(nxt, spacing)
    if zero_for_one:
        shifted = (bitmap << (BITMAP_SIZE - 1 - off)) & M512
        if shifted == 0:
            return False, lo
        return True, nxt - (BITMAP_SIZE - shifted.bit_length()) * mult
    shifted = bitmap >> off
    if shifted == 0:
        return False, hi - mult
    return True, nxt + ((shifted & -shifted).bit_length() - 1) * mult


def _overflows_default(tick: int, spacing: int) -> bool:
    boundary = max_tick_in_bitmap(spacing)
    hi, lo = boundary, -boundary
    if hi > MAX_TICK:
        hi = array_start_index(MAX_TICK, spacing) + tick_count(spacing)
    if lo < MIN_TICK:
        lo = array_start_index(MIN_TICK, spacing)
    start = array_start_index(tick, spacing)
    return start >= hi or start < lo


def next_tick_array_start(pool: ClmmPool, ext: BitmapExtension | None, last: int,
                          zero_for_one: bool) -> int | None:
    """The next initialized tick array after ``last`` in the swap direction (``PoolState::
    next_tick_array_index_with_extension_info``); None when the direction is exhausted.
    Raises MissingTickArrayBitmapExtensionAccount when the extension is needed but absent."""
    spacing = pool.tick_spacing
    last = array_start_index(last, spacing)
    while True:
        found, start = _default_next(pool.tick_array_bitmap, last, spacing, zero_for_one)
        if found:
            return start
        if spacing >= 15:
            return None
        last = start
        if ext is None:
            raise _fail(ERR_MISSING_EXTENSION, "the bitmap extension is needed")
        found, start = _ext_next(ext, last, spacing, zero_for_one)
        if found:
            return start
        last = start
        if last < MIN_TICK or last > MAX_TICK:
            return None


def first_tick_array_start(pool: ClmmPool, ext: BitmapExtension | None,
                           zero_for_one: bool) -> tuple[bool, int]:
    """``(array holds the pool's tick, start index)`` of the first tick array a swap uses
    (``PoolState::first_tick_array_index_with_extension_info``)."""
    spacing = pool.tick_spacing
    tick = pool.tick_current
    start = array_start_index(tick, spacing)
    if _overflows_default(tick, spacing):
        if ext is None:
            raise _fail(ERR_MISSING_EXTENSION, "the bitmap extension is needed")
        bitmap = _ext_bitmap(ext, start, spacing)
        initialized = bool((bitmap >> _ext_offset_in_bitmap(start, spacing)) & 1)
    else:
        if tick < MIN_TICK or tick > MAX_TICK:
            raise _fail(ERR_INVALID_TICK_INDEX, f"tick {tick}")
        compressed = tick // tick_count(spacing) + 512
        initialized = bool((pool.tick_array_bitmap >> abs(compressed)) & 1)
        start = (compressed - 512) * tick_count(spacing)
    if initialized:
        return True, start
    nxt = next_tick_array_start(pool, ext, start, zero_for_one)
    if nxt is None:
        raise _fail(ERR_NO_LIQUIDITY_DIRECTION, "no initialized tick array in this direction")
    return False, nxt


def bitmap_position(start: int, spacing: int) -> tuple[str, int, int]:
    """Where the program records tick array ``start``: ``("default", 0, bit)`` in the pool's
    bitmap, or ``("positive"|"negative", index, bit)`` in the extension
    (``flip_tick_array_bit``)."""
    if not _valid_start(start, spacing):
        raise _fail(ERR_INVALID_TICK_INDEX, f"tick array start {start}")
    if _overflows_default(start, spacing):
        boundary = max_tick_in_bitmap(spacing)
        offset = abs(start) // boundary - 1
        if start < 0 and abs(start) % boundary == 0:
            offset -= 1
        side = "negative" if start < 0 else "positive"
        return side, offset, _ext_offset_in_bitmap(start, spacing)
    return "default", 0, start // tick_count(spacing) + BITMAP_SIZE
