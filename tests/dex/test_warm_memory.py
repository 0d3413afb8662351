"""Memory shape of the warmed adapters: a bound (kernel) quoter and the plan caches behind it
keep the plan's packed bytes, not the decoded tick arrays they were made from.

At 10,000 bench pools the warm-up binds every (pool, direction); decoded Whirlpool and Raydium
CLMM tick arrays (a dict of tick objects each) kept next to the plans were ~17 MB (tracemalloc).
The Python path, which walks decoded arrays, decodes them again when asked (and caches its own);
its quotes stay those of the kernel path."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import orca_whirlpool_plan as wp
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_accounts as ra
from solarb.dex import raydium_clmm_layout as rl
from solarb.market.compact import compact
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools

needs_kernels = pytest.mark.skipif(
    ow._NATIVE is None or rc._NATIVE is None, reason="kernels disabled (SOLARB_NATIVE=0)"
)
_AMOUNTS = (1_000, 10**6, 10**9)


def _reachable(roots: Iterable[object], depth: int) -> set[type]:
    """Types of the objects reachable from ``roots`` in ``depth`` referent steps (not through
    classes, modules or functions)."""
    seen: set[int] = set()
    found: set[type] = set()
    level = list(roots)
    for _ in range(depth):
        nxt: list[object] = []
        for obj in level:
            if id(obj) in seen or isinstance(obj, (type, type(gc), type(_reachable))):
                continue
            seen.add(id(obj))
            found.add(type(obj))
            nxt.extend(gc.get_referents(obj))
        level = nxt
    return found


def _outcome(fn: Any) -> object:
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 - the typed error is part of the outcome
        return (type(exc).__name__, getattr(exc, "code", None))
    return (q.amount_in, q.amount_out, q.fee)


def _pools(module: Any) -> list[tuple[Any, dict[Pubkey, bytes]]]:
    out = []
    for _m, state, aux in workload_pools(Workload(60, 7, 4, 0), (module,)):
        out.append((state, {k: compact(v) if len(v) >= 2048 else v for k, v in aux.items()}))
    return out


@needs_kernels
def test_whirlpool_planned_entry_keeps_no_decoded_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ow, "_SLOTS", {})
    monkeypatch.setattr(wp, "_BLOBS", {})
    wl.decode_tick_array.cache_clear()
    planned = 0
    for state, aux in _pools(ow):
        for a_to_b in (True, False):
            bound = ow.quoter(state, aux, a_to_b)
            e = ow._SLOTS.get((state.address, a_to_b))
            if e is None or not e.plan:
                continue
            planned += 1
            assert e.slots is None  # dropped once the plan exists
            assert wl.TickArray not in _reachable([e, bound], 4)
            got = [_outcome(lambda x=x: bound(x)) for x in _AMOUNTS]  # noqa: B023 - called at once
            # the Python path decodes the arrays again, from the entry's data, and agrees
            py = [_outcome(lambda x=x, s=state, a=aux, d=a_to_b: ow.quote_detail(s, a, x, d).quote)
                  for x in _AMOUNTS]  # fmt: skip
            assert got == py
            assert e.slots is not None and ow._SLOTS[(state.address, a_to_b)] is e
            assert all(isinstance(s, (int, wl.TickArray, ow.MissingArray)) for s in e.slots)
    assert planned >= 12
    info = wl.decode_tick_array.cache_info()
    assert info.maxsize == 4096 and info.currsize <= 4096


@needs_kernels
def test_clmm_plans_keep_packed_ticks_not_decoded_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    # the caches are module dicts other modules hold: emptied here, restored after
    saved = [(c, dict(c)) for c in (rc._PLANS[0], rc._PLANS[1], rc._SEGS, ra._ARRAYS, ra._NAV)]
    for c, _s in saved:
        c.clear()
    try:
        planned = 0
        pools = _pools(rc)
        for state, aux in pools:
            for a_to_b in (True, False):
                bound = rc.quoter(state, aux, a_to_b)
                plan = rc._PLANS[a_to_b][state.address]
                if plan.plan is None:
                    continue
                planned += 1
                assert rl.TickArray not in _reachable([plan, bound], 5)
        assert planned >= 12
        assert not ra._ARRAYS  # planning decoded the arrays without keeping them
        assert rl.TickArray not in _reachable(rc._SEGS.values(), 3)
        # the Python path decodes (and caches) its own, with the kernel's quotes
        state, aux = pools[0]
        kernel = _outcome(lambda: rc.quoter(state, aux, True)(10**6))
        with monkeypatch.context() as m:
            m.setattr(rc, "_NATIVE", None)
            assert _outcome(lambda: rc.quote(state, aux, 10**6, True)) == kernel
        assert ra._ARRAYS
    finally:
        for c, s in saved:
            c.clear()
            c.update(s)
