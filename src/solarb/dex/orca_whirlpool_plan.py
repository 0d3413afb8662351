"""Orca Whirlpool kernel plans: what ``solarb.native._whirlpool`` swaps over, per pool state and
direction (layout in ``native/whirlpool.c``): a header (price, liquidity, tick, spacing, static
fee rate, direction) and per tick-array slot its kind and, for a decoded array, its initialized
ticks in ascending offsets. ``b""`` wherever the kernel does not cover the swap (adaptive fee, a
field out of range, more than 8 slots): the Python swap runs. The adapter
(:mod:`solarb.dex.orca_whirlpool`) caches the plans and runs the kernel.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from solarb.dex import clmm_math as cm
from solarb.dex.orca_whirlpool_layout import TICK_ARRAY_SIZE, TickArray, Whirlpool
from solarb.dex.orca_whirlpool_swap import MissingArray, Slot

__all__ = ["PLAN_HEAD", "build_plan", "joined_plan", "plan_body", "plan_head"]

U64_MAX = cm.U64_MAX

# Plan: header (sqrt_price, liquidity as u64 lo/hi, tick, spacing, fee rate, a_to_b, slots),
# per slot (kind, start, n ticks), per initialized tick (offset, liquidity_net lo u64, hi i64).
PLAN_HEAD = struct.Struct("<4QiiIII12x")
_PLAN_SLOT = struct.Struct("<iii4x")
_PLAN_TICK = struct.Struct("<qQq")
_BLOBS: dict[int, tuple[TickArray, bytes]] = {}  # id(array) -> (array, its plan slot)


def build_plan(state: Whirlpool, slots: Sequence[Slot], a_to_b: bool) -> bytes:
    """The kernel's input for this state and direction (layout in ``native/whirlpool.c``);
    ``b""`` for what it does not cover: adaptive fee, out-of-range fields."""
    return joined_plan(state, a_to_b, len(slots), plan_body(slots))


def joined_plan(state: Whirlpool, a_to_b: bool, n_slots: int, body: bytes) -> bytes:
    """:func:`build_plan` with its slots part ``body`` (:func:`plan_body` of the ``n_slots``
    slots) made."""
    if not body and n_slots:
        return b""
    head = plan_head(state, a_to_b, n_slots)
    return head + body if head else b""


def plan_head(state: Whirlpool, a_to_b: bool, n_slots: int) -> bytes:
    """The plan's header for this state (``b""``: the kernel does not cover the state)."""
    if state.adaptive_fee or not 0 <= state.fee_rate < cm.FEE_RATE_MUL_VALUE:
        return b""
    if state.reward_last_updated_timestamp < 0:  # _context's fallback time: it raises
        return b""
    price, liq = state.sqrt_price, state.liquidity
    if state.tick_spacing <= 0 or not (0 <= price <= cm.U128_MAX and 0 <= liq <= cm.U128_MAX):
        return b""
    m = U64_MAX
    try:
        return PLAN_HEAD.pack(price & m, price >> 64, liq & m, liq >> 64,
                               state.tick_current_index, state.tick_spacing, state.fee_rate,
                               a_to_b, n_slots)  # fmt: skip
    except struct.error:
        return b""


def plan_body(slots: Sequence[Slot]) -> bytes:
    """The plan's slots part (``b""``: more than 8 slots, or an array the kernel cannot take)."""
    if len(slots) > 8:
        return b""
    parts = []
    try:
        for s in slots:
            if isinstance(s, int):
                parts.append(_PLAN_SLOT.pack(0, s, 0))
            elif isinstance(s, MissingArray):
                parts.append(_PLAN_SLOT.pack(2, 0, 0))
            else:
                blob = _array_blob(s)
                if not blob:
                    return b""
                parts.append(blob)
    except struct.error:
        return b""
    return b"".join(parts)


def _array_blob(arr: TickArray) -> bytes:
    """A decoded array's plan slot (cached per array object); ``b""`` when its ticks are not a
    consistent ascending set of offsets 0..87. ``struct.error``: a liquidity_net beyond i128."""
    c = _BLOBS.get(id(arr))
    if c is not None and c[0] is arr:
        return c[1]
    ticks, last, blob = arr.ticks, -1, b""
    parts = [b""]
    if len(arr.offsets) == len(ticks):
        for o in arr.offsets:
            t = ticks.get(o)
            if t is None or not last < o < TICK_ARRAY_SIZE:
                break
            n = t.liquidity_net
            parts.append(_PLAN_TICK.pack(o, n & U64_MAX, n >> 64))
            last = o
        else:
            parts[0] = _PLAN_SLOT.pack(1, arr.start_tick_index, len(parts) - 1)
            blob = b"".join(parts)
    if len(_BLOBS) >= 4096:
        _BLOBS.clear()
    _BLOBS[id(arr)] = (arr, blob)
    return blob
