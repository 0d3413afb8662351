"""The finder's flat rate table passes exactly the cycles :func:`cycle_rate` passes on the
market as it is now, ranked the same way, through a random walk of notified and silent pool
changes and shared-config writes (cp test adapter). Rates are kept by entry revision, so a pool
written without the finder being told (a silent vault move, a config shared with the changed
pool) is re-rated at once: the old "stale until told" behaviour was a missed or wasted sizing."""

from __future__ import annotations

import random

from solarb.market import MarketState
from solarb.strategy import CycleFinder, cycle_rate
from solarb.strategy.cycles import DEFAULT_EPSILON, SpotRates
from tests.support import cp_adapter as cp

S, A, B = (cp.key(f"mint/{n}") for n in "SAB")
PAIRS = [(S, A), (S, A), (A, S), (S, B), (B, S), (A, B), (A, B), (B, A)]
SHARED = cp.key("shared/config")  # the config of every even-numbered pool
SPECS = [
    cp.spec(f"t{i}", a, b, config=SHARED if i % 2 == 0 else None) for i, (a, b) in enumerate(PAIRS)
]
FEES = [(25, 10_000), (1, 10_000), (300, 10_000), (100, 10_000)]
PRICE = {S: 1.0, A: 2.0, B: 3.0}
R = 10**9


def _reserve(rng: random.Random, mint: cp.Pubkey) -> int:
    return int(R * PRICE[mint] * (1 + rng.uniform(-0.03, 0.03)))


def _market(rng: random.Random) -> MarketState:
    m = MarketState({cp.PROGRAM_ID: cp})
    for spec in SPECS:
        cp.load(m, spec, _reserve(rng, spec.mint_a), _reserve(rng, spec.mint_b))
    return m


def _reference(m: MarketState, f: CycleFinder, rates: SpotRates, pool: cp.Pubkey) -> list:  # type: ignore[type-arg]
    """The cycles through ``pool`` that pass, best rate first (stable), as ``cycle_rate`` rates
    them on the market as it is now (no cache); a ``SpotRates`` kept across updates (never
    told of a change) gives the same products."""
    passed = []
    for cycle in f.cycles_through(pool):
        rated = cycle_rate(m, cycle)
        kept = cycle_rate(m, cycle, rates)
        assert (kept and kept[0]) == (rated and rated[0])
        if rated is not None and rated[0] > 1.0 + DEFAULT_EPSILON:
            passed.append((rated[0], cycle))
    passed.sort(key=lambda item: item[0], reverse=True)
    return passed


def test_table_filter_matches_cycle_rate_through_notified_and_silent_changes() -> None:
    rng = random.Random(11)
    m = _market(rng)
    ranked = CycleFinder(m, start_mints=[S, A], min_profit={S: 1, A: 1},
                         max_amount_in={S: 10**8, A: 10**8}, max_sized=1)  # fmt: skip
    ranked.rebuild()
    rates = SpotRates()
    slot = 2
    checked = passing = shared = 0
    for step in range(300):
        spec = rng.choice(SPECS)
        action = rng.random()
        slot += 1
        if action < 0.6:  # a vault moves; the finder is told
            side = rng.random() < 0.5
            mint = spec.mint_a if side else spec.mint_b
            assert m.apply(spec.vault_update(side, _reserve(rng, mint), slot)) == (spec.pool,)
        elif action < 0.7:  # a vault moves silently: re-rated at once all the same
            side = rng.random() < 0.5
            mint = spec.mint_a if side else spec.mint_b
            m.apply(spec.vault_update(side, _reserve(rng, mint), slot))
            spec = rng.choice(SPECS)
        elif action < 0.8:  # moved and re-registered silently: a new state, so a fresh rate
            side = rng.random() < 0.5
            mint = spec.mint_a if side else spec.mint_b
            m.apply(spec.vault_update(side, _reserve(rng, mint), slot))
            m.add_pool(spec.pool_update(slot))
            spec = rng.choice(SPECS)
        elif action < 0.85:  # bad bytes quarantine a pool silently; good ones bring it back
            bad = rng.choice(SPECS)
            m.apply(bad.pool_update(slot, data=b"bad" if rng.random() < 0.5 else None))
        elif action < 0.95:  # the shared config's fee changes: the finder is told of one reader
            readers = m.apply(SPECS[0].config_update(*rng.choice(FEES), slot=slot))
            assert set(readers) <= {s.pool for s in SPECS[::2]}  # () if the fee is the same
            spec = rng.choice(SPECS[::2])
            shared += bool(readers)
        expected = _reference(m, ranked, rates, spec.pool)
        before = (ranked.passed, ranked.sized, ranked.skipped)
        opps = ranked.on_pool_changed(spec.pool, slot=slot, ts_recv_ns=0, now_ns=0)
        assert ranked.passed - before[0] == len(expected), step
        assert ranked.sized - before[1] == min(1, len(expected)), step
        assert ranked.skipped - before[2] == max(0, len(expected) - 1), step
        if opps:  # the one sized cycle is the best-rated one
            assert tuple(h.pool for h in opps[0].hops) == expected[0][1].pools, step
        checked += 1
        passing += bool(expected)
    assert passing > 50 and checked - passing > 50  # both outcomes exercised
    assert shared > 10
    assert any(e.quarantined for e in m.pools.values()) or m.decode_errors > 0
