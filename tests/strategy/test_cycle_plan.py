"""The finder's flat filter plans (:mod:`solarb.strategy.cycle_plan`): each pool's rows are the
cycles through it in index order, with the slots of their legs' directions; checks list the pools
they read once, in first-use order; the rate table pads 2-hop cycles with 1.0 (cp test adapter)."""

from __future__ import annotations

import math
import random
from array import array

from solarb.market import MarketState
from solarb.strategy import CycleFinder
from solarb.strategy.cycle_plan import PAD_SLOT, build_plans, filter_rows, new_table
from tests.support import cp_adapter as cp

S, A, B = (cp.key(f"mint/{n}") for n in "SAB")
PAIRS = [(S, A), (S, A), (A, S), (S, B), (B, S), (A, B), (A, B), (B, A)]


def _market() -> MarketState:
    m = MarketState({cp.PROGRAM_ID: cp})
    for i, (a, b) in enumerate(PAIRS):
        cp.load(m, cp.spec(f"t{i}", a, b), 10**9 + i, 2 * 10**9 - i)
    return m


def test_plans_index_every_cycle_through_each_pool() -> None:
    m = _market()
    f = CycleFinder(m, start_mints=[S, A], min_profit={S: 1, A: 1},
                    max_amount_in={S: 10**8, A: 10**8})  # fmt: skip
    f.rebuild()
    cycles = f.all_cycles()
    assert any(len(c.legs) == 2 for c in cycles) and any(len(c.legs) == 3 for c in cycles)
    plans, entries, size = build_plans(cycles, m.pools)
    first_use = list(dict.fromkeys(leg.pool for c in cycles for leg in c.legs))
    slot = {p: 1 + 2 * k for k, p in enumerate(first_use)}
    assert size == 1 + 2 * len(first_use) and list(entries) == first_use
    assert all(entries[p] is m.pools[p] for p in first_use)
    assert set(plans) == set(first_use)
    pair_of = {}
    for pool, plan in plans.items():
        through = [i for i, c in enumerate(cycles) if pool in c.pools]
        assert plan.own == slot[pool] and plan.count == len(through)
        assert list(plan.rows[::4]) == through
        assert [c for c in f.cycles_through(pool)] == [cycles[i] for i in through]
        for k, index in enumerate(through):
            legs = cycles[index].legs
            want = [slot[leg.pool] + (not leg.a_to_b) for leg in legs] + [PAD_SLOT] * (
                3 - len(legs)
            )
            assert list(plan.rows[4 * k + 1 : 4 * k + 4]) == want
        read = list(dict.fromkeys(leg.pool for i in through for leg in cycles[i].legs))
        assert [(e, s) for e, s in plan.checks] == [(m.pools[p], slot[p]) for p in read]
        for pair in plan.checks:  # one (entry, slot) pair per pool, shared by the plans
            assert pair_of.setdefault(pair[1], pair) is pair


def test_table_and_reference_filter() -> None:
    table = new_table(7)
    assert table.typecode == "d" and table[PAD_SLOT] == 1.0
    assert all(math.isnan(x) for x in table[1:])
    rng = random.Random(2)
    for s in range(1, 7):
        table[s] = 1.0 + rng.uniform(-0.01, 0.01)
    table[6] = math.nan
    rows = array("i")
    for index in range(40):
        rows.extend((index, rng.randrange(1, 7), rng.randrange(1, 7), rng.choice([0, 1, 2, 6])))
    for threshold in (1.0, 1.000001, 0.99):
        want = []
        for k in range(0, len(rows), 4):
            i, a, b, c = rows[k : k + 4]
            r = table[a] * table[b] * table[c]
            if r > threshold:
                want.append((r, i))
        assert filter_rows(table, rows, threshold) == want
        assert all(6 not in rows[4 * i + 1 : 4 * i + 4] for _, i in want)  # NaN never passes
