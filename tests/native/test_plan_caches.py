"""The Whirlpool and Raydium CLMM plan caches against cold rebuilds.

A new state of a pool whose tick arrays (and, for the CLMM, config, extension and mints) are the
same objects reuses the previous state's slots / navigation and ticks and rebuilds only the
plan's header (``orca_whirlpool._entry``'s window, ``raydium_clmm._moved``). Over random
sequences of states (price, liquidity and tick moving within and across arrays, fee rate, status,
fee_on, token programs, bitmap) and account changes (an array's data replaced by equal bytes, by
changed ticks, removed or non-existent; the CLMM config's fee changed), each plan must equal the
one a cold build (every cache emptied) makes, and the bound quoter must give the Python path's
quotes."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import orca_whirlpool_plan as wp
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_accounts as ra
from solarb.dex import raydium_clmm_layout as rl
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID
from solarb.market.compact import compact
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools

Aux = dict[Pubkey, bytes]
needs_kernels = pytest.mark.skipif(
    ow._NATIVE is None or rc._NATIVE is None, reason="kernels disabled (SOLARB_NATIVE=0)"
)


def _outcome(fn: Callable[[], Any]) -> object:
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 - the typed error is part of the outcome
        return (type(exc).__name__, getattr(exc, "code", None), str(exc))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


@contextmanager
def _cold(*caches: dict[Any, Any]) -> Iterator[None]:
    """Every cache empty inside, as it was after."""
    saved = [dict(c) for c in caches]
    for c in caches:
        c.clear()
    try:
        yield
    finally:
        for c, s in zip(caches, saved, strict=True):
            c.clear()
            c.update(s)


def _python(module: Any, state: Any, aux: Aux, amount: int, a_to_b: bool) -> object:
    saved = module._NATIVE
    module._NATIVE = None
    try:
        return _outcome(lambda: module.quote(state, aux, amount, a_to_b))
    finally:
        module._NATIVE = saved


def _flip_tick(data: bytes, first: int, size: int, n: int, rng: random.Random) -> bytes:
    """``data`` with one initialized tick's liquidity_net (at ``+1`` / ``+4``) nudged."""
    b = bytearray(bytes(data))
    net_at = 1 if size == wl.TICK_LEN else 4
    inited = [i for i in range(n) if any(b[first + i * size : first + (i + 1) * size])]
    if inited:
        pos = first + rng.choice(inited) * size + net_at
        b[pos] ^= 1 << rng.randrange(8)
    return bytes(b)


def _move_aux(aux: Aux, arrays: list[Pubkey], rng: random.Random, size: int) -> None:
    """One account change a market update could bring (or none)."""
    if not arrays or rng.random() < 0.55:
        return
    key = rng.choice(arrays)
    data = aux.get(key)
    r = rng.random()
    if data and r < 0.35:
        aux[key] = compact(bytes(data) + b"")  # equal bytes, a new object
    elif data and r < 0.8:
        first, n = (12, wl.TICK_ARRAY_SIZE) if size == wl.TICK_LEN else (44, rl.TICK_ARRAY_SIZE)
        aux[key] = compact(_flip_tick(data, first, size, n, rng))
    elif r < 0.9:
        aux.pop(key, None)
    else:
        aux[key] = b""


def _moved_whirlpool(s: wl.Whirlpool, rng: random.Random) -> wl.Whirlpool:
    r = rng.random()
    span = wl.TICK_ARRAY_SIZE * s.tick_spacing
    if r < 0.6:
        tick = s.tick_current_index + rng.randint(-span // 3, span // 3)  # mostly the same array
    elif r < 0.85:
        tick = s.tick_current_index + rng.choice((-1, 1)) * rng.randint(span // 2, 3 * span)
    else:
        tick = s.tick_current_index + rng.choice((-1, 1)) * rng.randint(0, 2 * s.tick_spacing)
    tick = max(cm.MIN_TICK, min(cm.MAX_TICK - 1, tick))
    price = cm.sqrt_price_at_tick(tick) + rng.randint(0, 1000)
    kw: dict[str, Any] = {}
    if rng.random() < 0.1:
        kw["fee_rate"] = rng.choice((0, 100, 3000, 10_000))
    if rng.random() < 0.05:
        kw["token_program_b"] = TOKEN_2022_PROGRAM_ID
    liq = max(0, s.liquidity + rng.randint(-s.liquidity // 4, s.liquidity // 4))
    return replace(s, sqrt_price=price, tick_current_index=tick, liquidity=liq, **kw)


@needs_kernels
def test_whirlpool_entries_and_plans_equal_a_cold_build() -> None:
    rng = random.Random(6)
    w = Workload(40, 7, 4, 0)
    pools = list(workload_pools(w, (ow,)))
    reused = rebuilt = handled = 0
    for _module, base, aux0 in pools:
        aux = {k: compact(v) for k, v in aux0.items()}
        state = base
        for _ in range(60):
            state = _moved_whirlpool(base if rng.random() < 0.2 else state, rng)
            _move_aux(aux, ow.aux_accounts(state)[:-2], rng, wl.TICK_LEN)
            for a_to_b in (True, False):
                before = ow._SLOTS.get((state.address, a_to_b))
                e = ow._planned_entry(state, aux, a_to_b)
                with _cold(ow._SLOTS, wp._BLOBS):
                    cold = ow._planned_entry(state, aux, a_to_b)
                assert (e is None) == (cold is None)
                if e is None or cold is None:
                    continue
                assert (e.starts, e.keys, e.plan, e.plain) == (
                    cold.starts, cold.keys, cold.plan, cold.plain)  # fmt: skip
                assert all(map(lambda x, y: x is y, e.datas, cold.datas))
                if before is not None and e.datas is before.datas:  # slots reused (maybe dropped)
                    reused += 1
                else:
                    rebuilt += 1
                bound = ow.quoter(state, aux, a_to_b)
                for amount in (rng.randint(1, 10**6), int(2 ** rng.uniform(10, 50))):
                    got = _outcome(lambda: bound(amount))  # noqa: B023 - called at once
                    assert got == _python(ow, state, aux, amount, a_to_b), amount
                    handled += 1
    assert reused > 250 and rebuilt > 250 and handled > 1500, (reused, rebuilt, handled)


def _moved_clmm(s: rl.ClmmPool, rng: random.Random) -> rl.ClmmPool:
    r = rng.random()
    span = rl.TICK_ARRAY_SIZE * s.tick_spacing
    if r < 0.6:
        tick = s.tick_current + rng.randint(-span // 3, span // 3)
    else:
        tick = s.tick_current + rng.choice((-1, 1)) * rng.randint(span // 2, 3 * span)
    tick = max(rl.MIN_TICK, min(rl.MAX_TICK - 1, tick))
    price = cm.raydium_sqrt_price_at_tick(tick) + rng.randint(0, 1000)
    kw: dict[str, Any] = {}
    r = rng.random()
    if r < 0.05:
        kw["status"] = s.status ^ rc.SWAP_STATUS_BIT
    elif r < 0.1:
        kw["fee_on"] = rng.choice((0, 1, 2))
    elif r < 0.13:
        kw["dynamic_fee"] = rl.DynamicFeeInfo(filter_period=10, decay_period=60)
    elif r < 0.16:
        kw["tick_array_bitmap"] = s.tick_array_bitmap ^ (1 << rng.randrange(1024))
    elif r < 0.18:
        kw["token_program_a"] = TOKEN_2022_PROGRAM_ID
    liq = max(0, s.liquidity + rng.randint(-s.liquidity // 4, s.liquidity // 4))
    return replace(s, sqrt_price_x64=price, tick_current=tick, liquidity=liq, **kw)


def _clmm_caches() -> tuple[dict[Any, Any], ...]:
    return (rc._PLANS[0], rc._PLANS[1], rc._SEGS, ra._NAV, ra._ARRAYS, ra._CONFIGS)


@needs_kernels
def test_clmm_plans_equal_a_cold_build() -> None:
    rng = random.Random(8)
    w = Workload(40, 7, 4, 0)
    pools = list(workload_pools(w, (rc,)))
    moved = rebuilt = handled = 0
    for _module, base, aux0 in pools:
        aux = {k: compact(v) if len(v) >= 2048 else v for k, v in aux0.items()}
        arrays = [k for k, v in aux0.items() if len(v) == rl.TICK_ARRAY_LEN]
        state = base
        for _ in range(60):
            state = _moved_clmm(base if rng.random() < 0.2 else state, rng)
            _move_aux(aux, arrays, rng, rl.TICK_LEN)
            if rng.random() < 0.04:  # another trade fee: the config's data changes
                cfg = rl.decode_amm_config(state.amm_config, aux[state.amm_config])
                aux[state.amm_config] = rl.encode_amm_config(
                    replace(cfg, trade_fee_rate=rng.choice((100, 2500, 10_000))))  # fmt: skip
            for a_to_b in (True, False):
                before = rc._PLANS[a_to_b].get(state.address)
                c = rc.current_plan(state, aux, a_to_b)
                with _cold(*_clmm_caches()):
                    cold = rc.current_plan(state, aux, a_to_b)
                assert (c.plan, c.fees, c.read, c.datas) == (cold.plan, cold.fees, cold.read,
                                                            cold.datas)  # fmt: skip
                assert (c.nav is None) == (cold.nav is None)
                if c.nav is not None and cold.nav is not None:
                    assert (c.nav.starts, c.nav.prefixes) == (cold.nav.starts, cold.nav.prefixes)
                if before is not None and before.state is not state and c.ticks is before.ticks:
                    moved += 1
                else:
                    rebuilt += 1
                bound = rc.quoter(state, aux, a_to_b)
                for amount in (rng.randint(1, 10**6), int(2 ** rng.uniform(10, 50))):
                    got = _outcome(lambda: bound(amount))  # noqa: B023 - called at once
                    assert got == _python(rc, state, aux, amount, a_to_b), amount
                    handled += 1
    assert moved > 250 and rebuilt > 250 and handled > 1500, (moved, rebuilt, handled)


@needs_kernels
def test_an_array_change_under_a_moved_state_reaches_the_plan() -> None:
    """A moved state with one array's ticks changed: not the previous plan's body."""
    w = Workload(10, 7, 4, 0)
    for module, state, aux0 in workload_pools(w, (ow, rc)):
        aux = dict(aux0)
        size = wl.TICK_LEN if module is ow else rl.TICK_LEN
        first, n = (12, wl.TICK_ARRAY_SIZE) if module is ow else (44, rl.TICK_ARRAY_SIZE)
        for a_to_b in (True, False):
            if module is ow:
                plan = ow._planned_entry(state, aux, a_to_b).plan  # type: ignore[union-attr]
                key = ow._SLOTS[(state.address, a_to_b)].keys[0]
            else:
                plan = rc.current_plan(state, aux, a_to_b).plan
                key = rc._PLANS[a_to_b][state.address].nav.keys[0]  # type: ignore[union-attr]
            if not plan or not aux.get(key):
                continue
            aux[key] = _flip_tick(aux[key], first, size, n, random.Random(1))
            moved = replace(state)
            if module is ow:
                after = ow._planned_entry(moved, aux, a_to_b).plan  # type: ignore[union-attr]
                with _cold(ow._SLOTS, wp._BLOBS):
                    cold = ow._planned_entry(moved, aux, a_to_b).plan  # type: ignore[union-attr]
            else:
                after = rc.current_plan(moved, aux, a_to_b).plan
                with _cold(*_clmm_caches()):
                    cold = rc.current_plan(moved, aux, a_to_b).plan
            assert after == cold and after != plan
            aux = dict(aux0)
