"""The C float filter (``solarb.native._cycle_filter``) against its Python reference
(:func:`solarb.strategy.cycle_plan.filter_rows`): the same rows pass, in the same order, with
bit-identical products, over random tables (NaN, +-inf, 0, subnormals, 2-hop pads) and the bench
workload's plans; and a CycleFinder decides the same with and without the kernel."""

from __future__ import annotations

import math
import random
import struct
from array import array

import pytest

from solarb import native
from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.runtime.bench_workload import Workload
from solarb.strategy import cycles as cy
from solarb.strategy.cycle_plan import PAD_SLOT, build_plans, filter_rows, new_table
from solarb.strategy.cycles import DEFAULT_EPSILON, CycleFinder, SpotRates, cycle_rate
from tests.support.workload_pools import workload_market

KERNEL = cy._FILTER
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="filter kernel disabled (SOLARB_NATIVE=0)")
THRESHOLD = 1.0 + DEFAULT_EPSILON
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.0, THRESHOLD, 1e308]


def _bits(items: list[tuple[float, int]]) -> list[tuple[bytes, int]]:
    """Each product's exact bits (so -0.0 / 0.0 and NaN payloads would differ) with its index."""
    return [(struct.pack("<d", r), i) for r, i in items]


def _same(table: array[float], rows: array[int], threshold: float) -> list[tuple[float, int]]:
    assert KERNEL is not None
    c = KERNEL.filter(table, rows, threshold)
    py = filter_rows(table, rows, threshold)
    assert _bits(c) == _bits(py)
    assert all(type(r) is float and type(i) is int for r, i in c)
    return c


def test_kernel_is_loaded() -> None:
    """CI builds the extension: a missing .so fails here unless SOLARB_NATIVE=0 asks for Python."""
    if not native.enabled():
        pytest.skip("SOLARB_NATIVE=0")
    assert native.load("cycle_filter") is not None, (
        "build it: SOLARB_NATIVE_ONLY=cycle_filter python setup.py build_ext --inplace"
    )
    assert KERNEL is not None


@needs_kernel
def test_random_tables() -> None:
    rng = random.Random(3)
    passing = failing = 0
    for _ in range(400):
        size = 1 + 2 * rng.randint(1, 30)
        table = new_table(size)
        for s in range(1, size):
            x = rng.random()
            if x < 0.15:
                table[s] = rng.choice(SPECIAL)
            elif x < 0.9:
                table[s] = math.exp(rng.gauss(0.0, 0.002)) * (1.0 if rng.random() < 0.5 else 2.0)
            # else: stays NaN (no rate yet)
        rows = array("i")
        for index in range(rng.randint(0, 60)):
            c = PAD_SLOT if rng.random() < 0.3 else rng.randrange(1, size)
            rows.extend((index * 7, rng.randrange(1, size), rng.randrange(1, size), c))
        for threshold in (THRESHOLD, 1.0, 0.0, -math.inf, math.inf, math.nan):
            got = _same(table, rows, threshold)
            passing += len(got)
            failing += len(rows) // 4 - len(got)
    assert passing > 1000 and failing > 1000


@needs_kernel
def test_products_in_python_order() -> None:
    """``(a * b) * c``, not ``a * (b * c)``: the two round differently here."""
    table = array("d", [1.0, 0.1, 0.2, 0.3])
    rows = array("i", [0, 1, 2, 3])
    (r, _), = _same(table, rows, -math.inf)  # fmt: skip
    assert r == (0.1 * 0.2) * 0.3 and r != 0.1 * (0.2 * 0.3)


@needs_kernel
def test_bad_arguments() -> None:
    assert KERNEL is not None
    table = new_table(5)
    assert KERNEL.filter(table, array("i"), THRESHOLD) == []
    with pytest.raises(IndexError):
        KERNEL.filter(table, array("i", [0, 1, 2, 5]), THRESHOLD)
    with pytest.raises(IndexError):
        KERNEL.filter(table, array("i", [0, 1, -1, 2]), THRESHOLD)
    with pytest.raises(ValueError):
        KERNEL.filter(table, array("i", [0, 1, 2]), THRESHOLD)
    with pytest.raises(ValueError):
        KERNEL.filter(array("f", [1.0, 1.0]), array("i", [0, 1, 1, 0]), THRESHOLD)
    with pytest.raises(ValueError):
        KERNEL.filter(table, array("q", [0, 1, 2, 3]), THRESHOLD)
    with pytest.raises(TypeError):
        KERNEL.filter(table, [0, 1, 2, 3], THRESHOLD)
    with pytest.raises(TypeError):
        KERNEL.filter(table, array("i"), "1.0")


# ------------------------------------------------------------------------ bench workload


def _load(wl: Workload) -> MarketState:
    """The workload's pools and their aux accounts in a MarketState."""
    return workload_market(wl)


@needs_kernel
def test_bench_plans_match_reference_and_cycle_rate() -> None:
    """Every plan of the bench workload: kernel == Python, and each product is bit-identical to
    :func:`cycle_rate`'s (which multiplies the legs in order from 1.0); then with holes."""
    wl = Workload(150, 7, 4, 16)
    market = _load(wl)
    finder = CycleFinder(market, start_mints=[wl.sol], min_profit={wl.sol: 1},
                         max_amount_in={wl.sol: 10**12})  # fmt: skip
    finder.rebuild()
    plans, entries, size = build_plans(finder.all_cycles(), market.pools)
    table = new_table(size)
    for plan in plans.values():
        for entry, s in plan.checks:
            table[s] = cy._spot_rate(entry, entry.state, True)
            table[s + 1] = cy._spot_rate(entry, entry.state, False)
    cycles = finder.all_cycles()
    rates = SpotRates()
    n = 0
    for plan in plans.values():
        every = _same(table, plan.rows, -math.inf)
        for r, index in every:
            expected = cycle_rate(market, cycles[index], rates)
            assert expected is not None and struct.pack("<d", expected[0]) == struct.pack("<d", r)
        assert [i for _, i in _same(table, plan.rows, THRESHOLD)] == [
            i for r, i in every if r > THRESHOLD
        ]
        n += plan.count
    assert 2 * len(cycles) <= n <= 3 * len(cycles) and len(cycles) > 300
    assert len(entries) == len(plans)
    rng = random.Random(9)
    for _ in range(30):
        for s in rng.sample(range(1, size), 8):
            table[s] = rng.choice(SPECIAL)
        for plan in plans.values():
            _same(table, plan.rows, THRESHOLD)


def test_finder_same_with_and_without_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two finders on one market through workload swaps: the same opportunities and counters,
    one with the loaded filter (the kernel unless SOLARB_NATIVE=0), one with the Python loop."""
    wl = Workload(120, 7, 4, 16)
    market = _load(wl)
    native_f, python_f = (
        CycleFinder(
            market, start_mints=[wl.sol], min_profit={wl.sol: 1}, max_amount_in={wl.sol: 10**12}
        )
        for _ in range(2)
    )
    watched = list(market.watched_accounts())
    seen = {k: acc.data for k in watched if (acc := wl.bank.get_account(k)) is not None}
    found = 0
    for step in range(60):
        wl._swap()
        changed: set[object] = set()
        for k in watched:
            acc = wl.bank.get_account(k)
            if acc is not None and acc.data != seen.get(k):
                seen[k] = acc.data
                upd = AccountUpdate(k, wl.bank.slot, acc.data, acc.owner, acc.lamports)
                changed.update(market.apply(upd))
        for pool in sorted(changed, key=bytes):  # type: ignore[arg-type]
            a = native_f.on_pool_changed(pool, slot=step, ts_recv_ns=0, now_ns=0)  # type: ignore[arg-type]
            monkeypatch.setattr(cy, "_FILTER", None)
            b = python_f.on_pool_changed(pool, slot=step, ts_recv_ns=0, now_ns=0)  # type: ignore[arg-type]
            monkeypatch.setattr(cy, "_FILTER", KERNEL)
            assert a == b, step
            found += len(a)
    for name in ("evaluations", "passed", "sized", "skipped", "quotes", "fallbacks", "found"):
        assert getattr(native_f, name) == getattr(python_f, name), name
    assert found > 5 and native_f.evaluations > 500
