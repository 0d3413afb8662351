"""Raydium CLMM kernel plans: what ``solarb.native._raydium_clmm`` swaps over, per pool state and
direction (layout in ``native/raydium_clmm.c``): price, liquidity, fee, the tick arrays passed and
their initialized ticks in traversal order. Built from the accounts a quote reads
(:mod:`solarb.dex.raydium_clmm_accounts`) and cached: the ticks part per array account data (no
decoded array is kept), the plan per pool and direction while its state and accounts are the
same, only the header when just the price, liquidity or tick moved. The adapter
(:mod:`solarb.dex.raydium_clmm`) runs the kernel.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import clmm_math as cm
from solarb.dex.base import DexError, QuoteError, loaded
from solarb.dex.raydium_clmm_accounts import (
    Nav,
    cached_config,
    checked_array,
    mint_datas,
    navigation,
    pool_extension,
)
from solarb.dex.raydium_clmm_bitmap import next_tick_array_start
from solarb.dex.raydium_clmm_layout import (
    MAX_TICK,
    MIN_TICK,
    NAME,
    TICK_ARRAY_SIZE,
    AmmConfig,
    BitmapExtension,
    ClmmPool,
    bitmap_extension_address,
)
from solarb.dex.raydium_clmm_swap import FEE_DEN, SWAP_STATUS_BIT
from solarb.dex.spl_token import epoch_transfer_fee

__all__ = ["Plan", "current_plan", "plan_entry"]

_PLAN_HEAD = struct.Struct("<QQQQiiIBBBBI5i")  # see raydium_clmm.c for the layout
_PLAN_TICK = struct.Struct("<QQQqiI")
_M64 = (1 << 64) - 1
_SEGS: dict[Pubkey, tuple[bytes, int, bytes | None, bytes | None]] = {}
"""Per tick array: its initialized ticks packed in traversal order, b->a (ascending) then a->b
(None: a tick off its slot), for the account data (the same object or equal bytes) and the
tick spacing. No decoded array is kept for the plans: a warmed pool holds only these bytes."""


class Plan:
    """The kernel's plan of one pool state and direction (None: the Python path), with what it
    was made from: the accounts a quote reads (config, extension, mints, tick arrays) and their
    data, the navigation, the ticks part (reused by the next state while the arrays and the
    navigation are the same) and whether the input / output mint has a transfer fee. ``seen``:
    the keys then the values of an ``aux`` (:func:`_seen`) in which ``read`` held ``datas``."""

    __slots__ = ("datas", "fees", "nav", "plan", "read", "seen", "state", "ticks")

    def __init__(self, state: ClmmPool, read: tuple[Pubkey, ...], datas: tuple[bytes | None, ...],
                 seen: tuple[object, ...], nav: Nav | None = None,
                 ticks: tuple[bytes, bool] | None = None, fees: tuple[bool, bool] = (False, False),
                 plan: bytes | None = None) -> None:  # fmt: skip
        self.state, self.read, self.datas, self.nav, self.ticks = state, read, datas, nav, ticks
        self.seen, self.fees, self.plan = seen, fees, plan


def _seen(aux: Mapping[Pubkey, bytes]) -> tuple[object, ...]:
    """``aux``'s keys then its values, in order: an ``aux`` whose ``_seen`` equals this one maps
    every key to equal data (the keys and values compare by identity first, so a market's dict
    whose accounts were not written compares without hashing a key)."""
    return (*aux, *aux.values())


_PLANS: tuple[dict[Pubkey, Plan], dict[Pubkey, Plan]] = ({}, {})
"""By direction (b->a, a->b) and pool: the plan of the latest state seen, used while the state
is the same object and each account it read has the same (or equal) data."""


def _segment(key: Pubkey, pool: Pubkey, start: int, data: bytes, spacing: int,
             zero_for_one: bool) -> bytes | None:
    """The packed ticks of tick array ``key`` (account ``data``, checked against its address as
    :func:`checked_array` does), cached per account data; the decoded array is not kept (the
    plan needs only these bytes; the Python path decodes and caches its own). One decode packs
    both directions (the same records, in reverse order)."""
    c = _SEGS.get(key)
    if c is not None and c[1] == spacing and (c[0] is data or c[0] == data):
        return c[3] if zero_for_one else c[2]
    arr = checked_array(key, pool, start, data, keep=False)
    parts: list[bytes] | None = []
    for off in sorted(arr.ticks):
        t = arr.ticks[off]
        if not t.initialized:
            continue
        if t.tick != arr.start_tick_index + off * spacing or not MIN_TICK <= t.tick <= MAX_TICK:
            parts = None  # the swap navigates by slot: leave an odd array to the Python path
            break
        p, net = cm.raydium_sqrt_price_at_tick(t.tick), t.liquidity_net
        parts.append(_PLAN_TICK.pack(p & _M64, p >> 64, net & _M64, net >> 64, t.tick,
                                     t.has_limit_orders))  # fmt: skip
    up = down = None
    if parts is not None:
        up, down = b"".join(parts), b"".join(reversed(parts))
    _SEGS[key] = (data, spacing, up, down)
    return down if zero_for_one else up


def _segments(state: ClmmPool, nav: Nav, aux: Mapping[Pubkey, bytes],
              a_to_b: bool) -> list[bytes | None]:
    """Per tick array of ``nav``: its packed ticks (None: not loaded, or a tick off its slot),
    every loaded one checked against its address first (the errors :func:`swap_arrays` raises)."""
    pool, spacing = state.address, state.tick_spacing
    return [None if (data := aux.get(key)) is None
            else _segment(key, pool, start, data, spacing, a_to_b)
            for start, key in zip(nav.starts, nav.keys)]  # fmt: skip


def _plan_ticks(state: ClmmPool, ext: BitmapExtension | None, nav: Nav,
                segments: Sequence[bytes | None], a_to_b: bool) -> tuple[bytes, bool]:
    """The initialized ticks of the arrays (``segments``: :func:`_segments`) in traversal order,
    up to an array the swap cannot use here (not loaded, a tick off its slot, empty where the
    program wants its first tick), and whether they are all of them; sets ``nav.terminal``
    (past the last array the swap runs out of liquidity) once."""
    segs: list[bytes] = []
    for j, seg in enumerate(segments):
        if seg is None or (not seg and (j or nav.first is None or not nav.first[0])):
            return b"".join(segs), False  # the Python path raises what the program does
        segs.append(seg)
    if nav.terminal is None:
        try:
            nav.terminal = bool(nav.starts) and next_tick_array_start(
                state, ext, nav.starts[-1], a_to_b) is None  # fmt: skip
        except QuoteError:
            nav.terminal = False
    return b"".join(segs), True


def _plan(state: ClmmPool, config: AmmConfig, nav: Nav, ticks: tuple[bytes, bool],
          a_to_b: bool) -> bytes | None:
    """Header + ticks for the kernel, or None where it never applies (swaps disabled, dynamic
    fee, odd fee rates, no first array)."""
    rate, spacing = config.trade_fee_rate, state.tick_spacing
    if (state.status & SWAP_STATUS_BIT or state.dynamic_fee.enabled or nav.first is None
            or not nav.starts or spacing <= 0 or not 0 <= rate < FEE_DEN
            or config.protocol_fee_rate + config.fund_fee_rate > FEE_DEN):  # fmt: skip
        return None
    body, complete = ticks
    starts = nav.starts
    fee_on_input = state.fee_on not in (1, 2) or (state.fee_on == 1) == a_to_b
    p, liq = state.sqrt_price_x64, state.liquidity
    return _PLAN_HEAD.pack(p & _M64, p >> 64, liq & _M64, liq >> 64, state.tick_current, spacing,
                           rate, a_to_b, fee_on_input, complete and bool(nav.terminal),
                           len(starts), len(body) // _PLAN_TICK.size, *starts,
                           *[0] * (5 - len(starts))) + body  # fmt: skip


def plan_entry(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool,
                prev: Plan | None) -> Plan:
    """Build (and cache) the plan of ``state`` in this direction from ``aux``, reusing the
    ticks of ``prev`` when only the state moved; any error on the way leaves the plan None (the
    Python path raises it)."""
    mints = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    read: tuple[Pubkey, ...] = (state.amm_config, bitmap_extension_address(state.address), *mints)
    try:
        config = cached_config(state.amm_config, loaded(aux, state.amm_config, NAME, "amm config"))
        ext = pool_extension(state, aux)
        data = mint_datas(state, aux, a_to_b)
        nav = navigation(state, ext, a_to_b)
        read += tuple(nav.keys)
        datas = tuple(map(aux.get, read))
        if (prev is not None and prev.nav is nav and prev.ticks is not None and prev.read == read
                and prev.datas == datas):  # fmt: skip
            ticks, fees = prev.ticks, prev.fees  # same arrays and mints: only the state moved
        else:
            segments = _segments(state, nav, aux, a_to_b)
            fees = (epoch_transfer_fee(data[0], 0) is not None,
                    epoch_transfer_fee(data[1], 0) is not None)  # fmt: skip
            ticks = _plan_ticks(state, ext, nav, segments, a_to_b)
        c = Plan(state, read, datas, _seen_shared(state, aux, a_to_b), nav, ticks, fees,
                 _plan(state, config, nav, ticks, a_to_b))  # fmt: skip
    except DexError:
        c = Plan(state, read, tuple(map(aux.get, read)), _seen_shared(state, aux, a_to_b))
    _PLANS[a_to_b][state.address] = c
    return c


def _seen_shared(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> tuple[object, ...]:
    """:func:`_seen` of ``aux``, the other direction's object when equal (one per pool)."""
    seen = _seen(aux)
    other = _PLANS[not a_to_b].get(state.address)
    return other.seen if other is not None and other.seen == seen else seen


def current_plan(state: ClmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Plan:
    """The cached plan of ``state`` in this direction, rebuilt when the state or the data of an
    account it read changed (only its header when just the price, liquidity or tick moved)."""
    c = _PLANS[a_to_b].get(state.address)
    if c is None:
        return plan_entry(state, aux, a_to_b, None)
    seen = _seen(aux)
    # every account it read holds equal data: every account of aux does (no key hashed), or
    # each it read, looked up
    if seen == c.seen:
        seen = c.seen
    elif tuple(map(aux.get, c.read)) != c.datas:
        return plan_entry(state, aux, a_to_b, c)
    if c.state is state:
        c.seen = seen
        return c
    if c.plan is not None:
        moved = _moved(c, state, seen)
        if moved is not None:
            _PLANS[a_to_b][state.address] = moved
            return moved
    return plan_entry(state, aux, a_to_b, c)


_PLAN_MOVE = struct.Struct("<QQQQi")  # the head of _PLAN_HEAD a new price / liquidity / tick sets
_KERNEL = native.load("raydium_clmm")  # its with_head sets those in one call (None: packed here)


def _moved(c: Plan, state: ClmmPool, seen: tuple[object, ...]) -> Plan | None:
    """``c``'s plan for ``state``, a later state of its pool that differs from ``c.state`` only
    where the plan's header reads it (price, liquidity, tick within the same tick array and the
    same side of the tick bounds), the caller having checked that every account ``c`` read
    still holds equal data (in an aux of :func:`_seen` ``seen``): what :func:`plan_entry` builds
    then (same navigation, ticks, fees and header but for those three). None when anything else
    differs (the caller rebuilds)."""
    p = c.state
    # one tuple comparison: equal fields are mostly the same objects (shared decoded keys)
    if (state.tick_spacing, state.tick_array_bitmap, state.status, state.fee_on, state.amm_config,
            state.mint_a, state.mint_b, state.token_program_a, state.token_program_b,
            state.dynamic_fee) != (p.tick_spacing, p.tick_array_bitmap, p.status, p.fee_on,
            p.amm_config, p.mint_a, p.mint_b, p.token_program_a, p.token_program_b,
            p.dynamic_fee):  # fmt: skip
        return None
    tick, old, span = state.tick_current, p.tick_current, TICK_ARRAY_SIZE * state.tick_spacing
    if tick // span != old // span or (MIN_TICK <= tick <= MAX_TICK) != (
            MIN_TICK <= old <= MAX_TICK):  # fmt: skip
        return None  # another current array: the navigation may differ
    price, liq = state.sqrt_price_x64, state.liquidity
    plan = None if _KERNEL is None else _KERNEL.with_head(c.plan, price, liq, tick)
    if plan is None:
        head = _PLAN_MOVE.pack(price & _M64, price >> 64, liq & _M64, liq >> 64, tick)
        plan = head + c.plan[_PLAN_MOVE.size :]  # type: ignore[index]
    return Plan(state, c.read, c.datas, seen, c.nav, c.ticks, c.fees, plan)
