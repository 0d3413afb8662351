"""A quote above u64 (bad pool state or an adapter bug: no Solana amount exceeds it) faults only
its cycle, with the sizing kernel and with its Python reference alike: ``on_pool_changed`` skips
the cycle (never traded, not counted as sized, its quotes not counted), counts it in
``quote_faults`` with ``last_quote_fault``, and goes on with the changed pool's other cycles;
``size_cycle`` (the unit API) still raises ``OverflowError``."""

from __future__ import annotations

import types
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex.base import Quote
from solarb.events import Opportunity
from solarb.market import MarketState
from solarb.strategy import CycleFinder, size_cycle
from solarb.strategy import cycles as cy
from solarb.strategy.cycle_plan import cycle_rate
from tests.support import cp_adapter as cp

S, A = cp.key("mint/S"), cp.key("mint/A")
P1, P2, P3 = cp.spec("o1", S, A), cp.spec("o2", S, A), cp.spec("o3", S, A)
R = 10**9
CAP = 10**7
OVER = r"Quote.amount_out above 2\^64 - 1"


def faulty_adapter() -> tuple[Any, set[Pubkey]]:
    """The cp adapter whose quotes of the pools in the returned set add 2^64 to ``amount_out``."""
    faulty: set[Pubkey] = set()
    adapter = types.SimpleNamespace(
        **{k: getattr(cp, k) for k in dir(cp) if not k.startswith("__")}
    )

    def quote(state: Any, aux: Any, amount_in: int, a_to_b: bool) -> Quote:
        q = cp.quote(state, aux, amount_in, a_to_b)
        return replace(q, amount_out=q.amount_out + (1 << 64)) if state.address in faulty else q

    adapter.quote = quote
    return adapter, faulty


def three_pool_market() -> tuple[MarketState, set[Pubkey]]:
    """P2 sells A 2 % cheaper than P1 and P3 (1 S = 2 A): S -> A on P2, then back on P1 or on
    P3, two profitable cycles through P2 (and one through each of P1 and P3)."""
    adapter, faulty = faulty_adapter()
    m = MarketState({cp.PROGRAM_ID: adapter})
    cp.load(m, P1, R, 2 * R)
    cp.load(m, P2, R, int(2 * R * 1.02))
    cp.load(m, P3, R, 2 * R)
    return m, faulty


@pytest.fixture(params=[True, False], ids=["kernel", "python"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The sizing search in the C kernel, then in its Python reference."""
    if not request.param:
        monkeypatch.setattr(cy, "_SIZING", None)
    elif cy._SIZING is None:
        pytest.skip("sizing kernel disabled (SOLARB_NATIVE=0)")
    return bool(request.param)


def _finder(m: MarketState, keep_quoters: bool) -> CycleFinder:
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: CAP},
                    keep_quoters=keep_quoters)  # fmt: skip
    f.rebuild()
    return f


def _trades(opps: list[Opportunity]) -> list[tuple[tuple[Pubkey, ...], int, int]]:
    """What an opportunity trades: its pools and amounts (ids aside)."""
    return [(tuple(h.pool for h in o.hops), o.amount_in, o.amount_out) for o in opps]


def _through(f: CycleFinder, first: Pubkey, second: Pubkey) -> cy.Cycle:
    (cycle,) = [c for c in f.all_cycles() if c.pools == (first, second)]
    return cycle


def _counts(f: CycleFinder) -> tuple[int, int, int, int, int]:
    return f.sized, f.found, f.quotes, f.fallbacks, f.quote_faults


@pytest.mark.parametrize("keep_quoters", [True, False])
def test_a_faulty_cycle_is_skipped_and_the_pools_other_cycle_found(
    kernel: bool, keep_quoters: bool
) -> None:
    m, faulty = three_pool_market()
    f = _finder(m, keep_quoters)
    good = f.on_pool_changed(P2.pool, slot=1, ts_recv_ns=0, now_ns=0)
    assert {p for p, _, _ in _trades(good)} == {(P2.pool, P1.pool), (P2.pool, P3.pool)}
    via_p1, via_p3 = _through(f, P2.pool, P1.pool), _through(f, P2.pool, P3.pool)
    seeds = f.warm_start(via_p1), f.warm_start(via_p3)
    assert None not in seeds
    # what the healthy cycle's sizing spends, alone, from the same warm start
    rate, entries = cycle_rate(m, via_p3)  # type: ignore[misc]
    alone = size_cycle(via_p3, entries, rate, CAP, seed=seeds[1])
    assert alone is not None
    sized, found, quotes, fallbacks, faults = _counts(f)
    passed = f.passed

    faulty.add(P1.pool)  # the last hop of S -> A on P2 -> S on P1 answers above u64
    opps = f.on_pool_changed(P2.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert _trades(opps) == [t for t in _trades(good) if t[0] == (P2.pool, P3.pool)]
    assert opps[0].id == "2-3"  # the ids go on from the healthy call's two
    # the faulty cycle: not sized, nothing found, no quotes counted; its fault counted and kept
    assert _counts(f) == (sized + 1, found + 1, quotes + alone.quotes,
                          fallbacks + (alone.fallback != ""), faults + 1)  # fmt: skip
    assert f.passed - passed == 2 and f.passed == f.sized + f.skipped + f.quote_faults
    fault = f.last_quote_fault
    assert fault is not None and fault.cycle == via_p1 and fault.slot == 2
    assert fault.cycle.pools == (P2.pool, P1.pool)
    assert fault.message == "Quote.amount_out above 2^64 - 1"
    assert f.warm_start(via_p1) == seeds[0]  # the last good optimum stays its warm start

    rate, entries = cycle_rate(m, via_p1)  # type: ignore[misc]
    with pytest.raises(OverflowError, match=OVER):  # the unit API still raises
        size_cycle(via_p1, entries, rate, CAP, seed=seeds[0])

    faulty.clear()  # sane quotes again: the same opportunities as before, nothing faults
    again = f.on_pool_changed(P2.pool, slot=3, ts_recv_ns=0, now_ns=0)
    assert _trades(again) == _trades(good)
    assert f.quote_faults == faults + 1 and f.last_quote_fault is fault


@pytest.mark.parametrize("bad", [{"o1", "o3"}, {"o2"}], ids=["last-hops", "first-hop"])
def test_every_cycle_faulty_yields_nothing_and_counts_each(kernel: bool, bad: set[str]) -> None:
    m, faulty = three_pool_market()
    f = _finder(m, keep_quoters=True)
    f.on_pool_changed(P2.pool, slot=1, ts_recv_ns=0, now_ns=0)
    counts, passed = _counts(f), f.passed
    faulty.update(cp.key(f"{name}/pool") for name in bad)
    assert f.on_pool_changed(P2.pool, slot=2, ts_recv_ns=0, now_ns=0) == []
    assert f.passed - passed == 2
    assert _counts(f) == (*counts[:4], counts[4] + 2)  # two cycles faulted, nothing else moved
    assert f.last_quote_fault is not None and f.last_quote_fault.slot == 2
    assert f.on_pool_changed(P2.pool, slot=3, ts_recv_ns=0, now_ns=0, best_only=True) == []
    assert f.quote_faults == counts[4] + 4


def test_after_a_fault_the_finder_decides_as_one_that_never_saw_it(kernel: bool) -> None:
    """What a fault leaves behind (kept quoters, the warm starts, the retired list) changes no
    later decision: after the fault is gone both finders give the same opportunities."""
    m, faulty = three_pool_market()
    seen, clean = _finder(m, keep_quoters=True), _finder(m, keep_quoters=True)
    for f in (seen, clean):
        f.on_pool_changed(P2.pool, slot=1, ts_recv_ns=0, now_ns=0)
    faulty.add(P1.pool)
    seen.on_pool_changed(P2.pool, slot=2, ts_recv_ns=0, now_ns=0)
    seen.on_pool_changed(P1.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert seen.quote_faults == 2
    seen.release()
    faulty.clear()
    for pool, reserve_b, slot in ((P2.pool, 2_030_000_000, 3), (P1.pool, 1_990_000_000, 4)):
        spec = P2 if pool == P2.pool else P1
        m.apply(spec.vault_update(False, reserve_b, slot))
        a = seen.on_pool_changed(pool, slot=slot, ts_recv_ns=0, now_ns=0)
        b = clean.on_pool_changed(pool, slot=slot, ts_recv_ns=0, now_ns=0)
        assert _trades(a) == _trades(b) != []
    assert seen.quote_faults == 2 and clean.quote_faults == 0
