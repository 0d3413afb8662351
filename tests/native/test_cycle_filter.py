"""The C float filter (``solarb.native._cycle_filter``) against its Python reference
(:func:`solarb.strategy.cycle_plan.filter_rows`): the same rows pass, in the same order, with
bit-identical products, over random tables (NaN, +-inf, 0, subnormals, 2-hop pads) and the bench
workload's plans; the rate-table refresh against ``cycles._refresh_rates`` (the same spot_rate
calls, rates and revisions); and a CycleFinder decides the same with and without the kernel."""

from __future__ import annotations

import math
import random
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

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


# ------------------------------------------------------------------------ rate-table refresh


@dataclass(slots=True, eq=False)
class _Entry:
    """What the refresh reads of a pool entry, in plain slots (as PoolEntry keeps them)."""

    ready: object
    quarantined: object
    rate_revision: object
    state: object


class _DictEntry:
    """The same fields in an instance dict: read through getattr."""

    def __init__(self, ready: object, quarantined: object, rate_revision: object, state: object):
        self.ready, self.quarantined = ready, quarantined
        self.rate_revision, self.state = rate_revision, state


def _spot(log: list[tuple[int, object, bool]], fail_at: int = -1) -> Callable[..., float]:
    """A spot_rate that logs its calls and answers a rate made of them (NaN for some)."""

    def spot_rate(entry: object, state: object, a_to_b: bool) -> float:
        log.append((id(entry), state, a_to_b))
        if len(log) == fail_at:
            raise KeyError("spot_rate failed")
        h = hash((id(entry), a_to_b, len(log))) % 1000
        return math.nan if h < 100 else 1.0 + h / 1e4

    return spot_rate


def _run_both(
    table: array[float],
    revs: list[object],
    checks: tuple[tuple[object, int], ...],
    fail_at: int = -1,
) -> tuple[object, object]:
    """Refresh copies with the kernel and with cycles._refresh_rates (each given a logging
    spot_rate): the same table bits, revs (by identity), spot_rate calls and result or
    exception."""
    assert KERNEL is not None
    out = []
    for native_run in (True, False):
        t, r, log = array("d", table), list(revs), []  # type: ignore[var-annotated]
        spot = _spot(log, fail_at)
        saved = cy._spot_rate
        try:
            if native_run:
                res: object = KERNEL.refresh(t, r, checks, spot)
            else:
                cy._spot_rate = spot  # what the Python loop calls
                res = cy._refresh_rates(t, r, checks)  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 (compared below)
            res = type(e)
        finally:
            cy._spot_rate = saved
        out.append((t.tobytes(), r, log, res))
    (tc, rc, lc, resc), (tp, rp, lp, resp) = out
    assert tc == tp and lc == lp and resc == resp
    assert len(rc) == len(rp) and all(a is b for a, b in zip(rc, rp))
    return resc, rc


@needs_kernel
def test_refresh_matches_reference() -> None:
    """Random entries (plain slots, instance dicts), truthiness of every kind, revisions equal by
    identity, by value only or not: the kernel computes the same rates, in the same calls, and
    leaves the same revs as the Python loop."""
    rng = random.Random(5)
    computed = skipped = 0
    for _ in range(300):
        n_pools = rng.randint(1, 12)
        size = 1 + 2 * n_pools
        table = new_table(size)
        revs: list[object] = [-1] * size
        checks = []
        for k in range(n_pools):
            kind = _Entry if rng.random() < 0.7 else _DictEntry
            ready = rng.choice([True, True, True, False, 1, 0, "", "x"])
            quarantined = rng.choice([False, False, False, True, 0, [], [1]])
            rev = rng.choice([5, 300, 10**20, rng.randrange(1000)])
            s = 1 + 2 * k
            entry = kind(ready, quarantined, rev, object())
            x = rng.random()
            if x < 0.3:
                revs[s] = rev  # the same object: nothing to compute
            elif x < 0.5:
                revs[s] = int(str(rev))  # equal, another object (above 256: not cached)
            elif x < 0.6:
                revs[s] = rev + 1
            checks.append((entry, s))
        rng.shuffle(checks)
        res, after = _run_both(table, revs, tuple(checks))
        assert isinstance(res, int)
        computed += res
        skipped += sum(1 for e, s in checks if after[s] == -1)
    assert computed > 300 and skipped > 100


@needs_kernel
def test_refresh_on_pool_entries_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real PoolEntry objects of the workload (their slots read directly), a class changed after
    the kernel learnt it, failing spot rates, bad slots and pairs."""
    assert KERNEL is not None
    wl = Workload(60, 7, 4, 16)
    market = _load(wl)
    entries = list(market.pools.values())
    size = 1 + 2 * len(entries)
    checks = tuple((e, 1 + 2 * k) for k, e in enumerate(entries))
    table, revs = new_table(size), [-1] * size
    res, revs2 = _run_both(table, revs, checks)
    assert res == len(entries)
    res, _ = _run_both(table, revs2, checks)  # nothing moved: nothing computed
    assert res == 0
    entries[3].quarantined = True
    res, _ = _run_both(table, revs, checks)
    assert res == len(entries) - 1
    entries[3].quarantined = False
    for fail_at in (1, 2, 7):  # a spot_rate exception propagates after the same partial updates
        assert _run_both(table, revs, checks, fail_at)[0] is KeyError
    # a slots class modified after the kernel learnt it: read through the new descriptor
    entry = _Entry(True, False, 7, "s")
    assert _run_both(new_table(3), [-1] * 3, ((entry, 1),))[0] == 1
    monkey = _Entry.ready
    try:
        _Entry.ready = property(lambda self: False)  # type: ignore[assignment,method-assign]
        assert _run_both(new_table(3), [-1] * 3, ((entry, 1),))[0] == 0
    finally:
        _Entry.ready = monkey  # type: ignore[method-assign]
    assert _run_both(new_table(3), [-1] * 3, ((entry, 1),))[0] == 1
    del entry.state  # an empty slot: AttributeError, as getattr
    assert _run_both(new_table(3), [-1] * 3, ((entry, 1),))[0] is AttributeError
    ok = _Entry(True, False, 7, "s")
    assert _run_both(new_table(3), [-1] * 3, ((ok, 0), (ok, 1)))[0] == 2
    # a slot outside: IndexError (Python's after its first rate, the kernel's before any call)
    monkeypatch.setattr(cy, "_spot_rate", _spot([]))
    with pytest.raises(IndexError):
        cy._refresh_rates(new_table(3), [-1] * 3, ((ok, 2),))  # type: ignore[arg-type]
    for s in (2, -1, sys.maxsize):
        with pytest.raises(IndexError):
            KERNEL.refresh(new_table(3), [-1] * 3, ((ok, s),), _spot([]))
    with pytest.raises(OverflowError):
        KERNEL.refresh(new_table(3), [-1] * 3, ((ok, 2**70),), _spot([]))
    with pytest.raises(IndexError):
        KERNEL.refresh(new_table(5), [-1] * 3, ((ok, 3),), _spot([]))  # outside revs
    with pytest.raises(TypeError):
        KERNEL.refresh(new_table(3), [-1] * 3, ((ok, 1, 2),), _spot([]))
    with pytest.raises(TypeError):
        KERNEL.refresh(new_table(3), (-1, -1, -1), ((ok, 1),), _spot([]))
    with pytest.raises(TypeError):
        KERNEL.refresh(new_table(3), [-1] * 3, [(ok, 1)], _spot([]))
    with pytest.raises(ValueError):
        KERNEL.refresh(array("f", [1.0] * 3), [-1] * 3, ((ok, 1),), _spot([]))
