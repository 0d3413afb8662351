"""The C sizing search (``solarb.native._sizing``) against its Python reference
(:func:`solarb.strategy.sizing.maximize_chain_model`): the same probes in the same order, the
same best size, output, quote count, fallback reason and Quote objects, on synthetic chains
(constant-product hops, DLMM-like kinks, coarse output steps, infeasible regions, raising steps,
u64 edges) and on the bench workload's cycles."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from solarb import native
from solarb.dex.base import DexError, InsufficientLiquidity, Quote, QuoteError
from solarb.market.state import MarketState
from solarb.runtime.bench_workload import Workload
from solarb.strategy import cycles as cy
from solarb.strategy.bound_quoters import bound_quote
from solarb.strategy.cycles import REFINE_MIN_WIDTH, SIZING_WIDTH_PPM, enumerate_cycles
from solarb.strategy.sizing import maximize_chain_model
from tests.support.workload_pools import workload_market

KERNEL = cy._SIZING
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="sizing kernel disabled (SOLARB_NATIVE=0)")
U64 = (1 << 64) - 1
Step = Callable[[int], Quote]


def test_kernel_is_loaded() -> None:
    """CI builds the extension: a missing .so fails here unless SOLARB_NATIVE=0 asks for Python."""
    if not native.enabled():
        pytest.skip("SOLARB_NATIVE=0")
    assert native.load("sizing") is not None, (
        "build it: SOLARB_NATIVE_ONLY=sizing python setup.py build_ext --inplace"
    )
    assert KERNEL is not None


class _Logged:
    """A step that logs every size it is asked and every Quote it returns."""

    def __init__(self, fn: Callable[[int], Quote], log: list[int], made: list[Quote]) -> None:
        self.fn, self.log, self.made = fn, log, made

    def __call__(self, x: int) -> Quote:
        self.log.append(x)
        q = self.fn(x)
        self.made.append(q)
        return q


def _run(kernel: bool, fns: list[Step], args: dict[str, Any]) -> tuple[Any, list[int], list[Quote]]:
    """One search (C or Python) over fresh logged steps: (result or exception type, probes, quotes)."""
    log: list[int] = []
    made: list[Quote] = []
    steps = [_Logged(f, log, made) for f in fns]
    try:
        if kernel:
            assert KERNEL is not None
            res: Any = KERNEL.search(
                tuple(steps), args["lo"], args["hi"], args["rate"], args["seed"],
                args["tol_ppm"], args["width_ppm"], args["max_steps"], args["refine"],
                args["min_width"], DexError,
            )  # fmt: skip
        else:
            ref = maximize_chain_model(steps, **{k: v for k, v in args.items() if k != "hi"},
                                       hi=args["hi"])  # fmt: skip
            res = None if ref is None else (
                ref[0].amount_in, ref[0].amount_out, ref[0].quotes, ref[0].fallback, ref[1]
            )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 (the same exception must come out of both)
        res = (type(exc), str(exc))
    return res, log, made


def _same(fns: list[Step], **args: Any) -> Any:
    """Run both searches and assert they agree exactly; the Python result."""
    base = {"lo": 1, "seed": None, "tol_ppm": SIZING_WIDTH_PPM, "width_ppm": SIZING_WIDTH_PPM,
            "max_steps": 8, "refine": None, "min_width": REFINE_MIN_WIDTH}  # fmt: skip
    base.update(args)
    py, py_log, _ = _run(False, fns, base)
    c, c_log, c_made = _run(True, fns, base)
    assert c_log == py_log, base
    if isinstance(py, tuple) and len(py) == 5:
        assert isinstance(c, tuple) and c[:4] == py[:4], (c, py, base)
        if py[4] is None:
            assert c[4] is None
        else:  # the kernel hands back the very Quote objects the steps made, equal to Python's
            assert c[4] == py[4]
            assert all(any(q is m for m in c_made) for q in c[4])
    else:
        assert c == py, base
    return py


# ------------------------------------------------------------------------ synthetic hops


def cp_hop(r_in: int, r_out: int, fee_bps: int, max_in: int | None = None) -> Step:
    """Constant product with a fee; InsufficientLiquidity above ``max_in``."""

    def q(x: int) -> Quote:
        if max_in is not None and x > max_in:
            raise InsufficientLiquidity("too large")
        fee = x * fee_bps // 10_000
        net = x - fee
        return Quote(x, r_out * net // (r_in + net), fee)

    return q


def dlmm_hop(bins: list[tuple[int, int]], fee_ppm: int) -> Step:
    """Piecewise linear: bins of (capacity in, price in ppm); infeasible past the last bin."""

    def q(x: int) -> Quote:
        fee = x * fee_ppm // 1_000_000
        left, out = x - fee, 0
        for cap, price in bins:
            take = min(left, cap)
            out += take * price // 1_000_000
            left -= take
            if not left:
                return Quote(x, out, fee)
        raise InsufficientLiquidity("past the bins")

    return q


def coarse_hop(unit: int, inner: Step) -> Step:
    """``inner`` with its output rounded down to ``unit`` (wide output steps)."""

    def q(x: int) -> Quote:
        r = inner(x)
        return Quote(x, r.amount_out // unit * unit, r.fee)

    return q


def scale_hop(num: int, den: int) -> Step:
    """A linear hop ``x * num // den`` (a coarse or a fine intermediate token)."""
    return lambda x: Quote(x, x * num // den, 0)


def floor_hop(min_in: int, inner: Step) -> Step:
    """``inner``, infeasible below ``min_in`` (a program that rejects dust)."""

    def q(x: int) -> Quote:
        if x < min_in:
            raise QuoteError("dust", code=6000)
        return inner(x)

    return q


def holes_hop(seed: int, per_mille: int, inner: Step) -> Step:
    """``inner``, raising QuoteError at a pseudo-random ``per_mille`` of the sizes."""

    def q(x: int) -> Quote:
        if (x * 2654435761 + seed) % 1000 < per_mille:
            raise QuoteError("hole")
        return inner(x)

    return q


def u64_hop(inner: Step) -> Step:
    """``inner``, raising QuoteError when its output leaves u64 (as the programs do)."""

    def q(x: int) -> Quote:
        r = inner(x)
        if r.amount_out > U64:
            raise QuoteError("overflow")
        return r

    return q


def _random_chain(rng: random.Random) -> tuple[list[Step], float, int]:
    """A random 1-3 hop chain, a rate near its spot product and a cap."""
    n = rng.choice([1, 2, 2, 3, 3, 3])
    depth = 10 ** rng.randint(4, 13)
    edge = 1 + rng.uniform(-0.02, 0.05)
    hops: list[Step] = []
    rate = 1.0
    for i in range(n):
        kind = rng.random()
        r_in = depth * rng.randint(1, 9)
        mult = 10 ** rng.randint(-3, 3) if i < n - 1 else 1
        r_out_f = r_in * mult * (edge if i == 0 else 1.0)
        r_out = max(1, int(r_out_f))
        fee = rng.choice([0, 5, 25, 30, 100])
        if kind < 0.45:
            hop = cp_hop(r_in, r_out, fee, rng.choice([None, None, r_in * rng.randint(1, 3)]))
            rate *= r_out / r_in * (1 - fee / 10_000)
        elif kind < 0.75:
            price = int(1_000_000 * r_out / r_in) or 1
            bins = [(rng.randint(depth // 50 + 1, depth), max(1, price - k * rng.randint(0, price // 200 + 1)))
                    for k in range(rng.randint(1, 12))]  # fmt: skip
            hop = dlmm_hop(bins, fee * 100)
            rate *= price / 1_000_000 * (1 - fee / 10_000)
        elif kind < 0.9:
            hop = coarse_hop(rng.choice([1, 7, 1000, 10**5]), cp_hop(r_in, r_out, fee))
            rate *= r_out / r_in * (1 - fee / 10_000)
        else:
            num, den = rng.randint(1, 1000), rng.choice([1, 1000, 10**6])
            hop = scale_hop(num, den)
            rate *= num / den
        if rng.random() < 0.1:
            hop = floor_hop(rng.randint(1, depth // 100 + 2), hop)
        if rng.random() < 0.05:
            hop = holes_hop(rng.randint(0, 999), rng.randint(1, 300), hop)
        hops.append(u64_hop(hop))
    cap = rng.choice([depth, depth * 10, rng.randint(1, depth * 3), 10**6])
    return hops, rate, cap


@needs_kernel
def test_random_synthetic_chains() -> None:
    rng = random.Random(20261126)
    outcomes: dict[str, int] = {}
    for _ in range(3000):
        hops, rate, cap = _random_chain(rng)
        lo = rng.choice([1, 1, 1, 0, rng.randint(1, max(1, cap // 2))])
        seed = rng.choice([None, None, rng.randint(0, cap * 2), cap, lo, cap + 10**20, -5])
        rate_v = rng.choice([rate, rate, rate, 1.0, 0.5, rate * 1.3, float("nan"), float("inf")])
        refine = rng.choice([None, None, True, False])
        res = _same(hops, lo=lo, hi=cap, rate=rate_v, seed=seed, refine=refine,
                    max_steps=rng.choice([8, 8, 3, 0]))  # fmt: skip
        key = "none" if res is None else res[3] if len(res) == 5 else "raised"
        outcomes[key] = outcomes.get(key, 0) + 1
    # the cases reach every path: the model, each fallback, nothing feasible
    for reason in ("", "not_improving", "rate", "none"):
        assert outcomes.get(reason, 0) > 10, outcomes
    assert sum(outcomes.get(r, 0) for r in ("polish", "infeasible", "steps", "model")) > 10


@needs_kernel
def test_edges() -> None:
    hop = cp_hop(10**12, 10**12 + 10**10, 25)
    for lo, hi in [(1, 1), (5, 5), (7, 3), (0, 0), (1, 2), (1, 9), (U64 - 3, U64), (1, U64)]:
        for seed in (None, 0, lo, hi, U64):
            for refine in (None, True, False):
                _same([hop, scale_hop(1, 1)], lo=lo, hi=hi, rate=1.01, seed=seed, refine=refine)
    # amounts up to u64: a chain that stays exact across the whole range
    big = [u64_hop(scale_hop(3, 2)), cp_hop(U64, U64 // 2, 30)]
    for seed in (None, 1, 10**18, U64):
        _same(big, hi=U64, rate=1.2, seed=seed)
        _same(big, hi=U64 // 7, rate=3.0, seed=seed, refine=True)
    # nothing feasible; the output rounds to zero everywhere; infeasible at the bottom and top
    _same([floor_hop(U64, hop)], hi=10**9, rate=1.01)
    _same([scale_hop(1, 10**30)], hi=10**9, rate=1.5)
    _same([floor_hop(10**6, cp_hop(10**9, 2 * 10**9, 30, max_in=10**8))], hi=10**9, rate=1.9)


@needs_kernel
def test_other_exceptions_propagate() -> None:
    hop = cp_hop(10**12, 10**12 + 10**10, 25)

    def boom(x: int) -> Quote:
        if x % 3 == 0:  # a DexError elsewhere is infeasible; this one is a bug: it propagates
            raise ValueError(f"boom at {x}")
        if x % 3 == 1:
            raise QuoteError("infeasible")
        return hop(x)

    for seed in range(10**7, 10**7 + 6):
        res = _same([boom], hi=10**9, rate=1.01, seed=seed)
        assert res[0] is ValueError, res
    assert _same([hop, lambda x: 1 // 0], hi=10**9, rate=1.01)[0] is ZeroDivisionError  # type: ignore[index]
    # an amount beyond u64 is not silently truncated
    with pytest.raises(OverflowError):
        assert KERNEL is not None
        KERNEL.search((scale_hop(1 << 70, 1),), 1, 10, 1.1, None, 1000, 1000, 8, None, 64, DexError)


# ------------------------------------------------------------------------ bench workload


def _load(wl: Workload) -> MarketState:
    """The workload's pools and their aux accounts in a MarketState."""
    return workload_market(wl)


@needs_kernel
def test_bench_workload_cycles() -> None:
    """Real cycles of the bench workload (every adapter kind, warm and cold starts)."""
    wl = Workload(150, 7, 4, 16)
    market = _load(wl)
    cycles = enumerate_cycles(market, [wl.sol], 3)
    rng = random.Random(5)
    kinds: set[str] = set()
    checked = 0
    for cycle in cycles:
        filtered = cy.cycle_rate(market, cycle, {})
        if filtered is None:
            continue
        rate, entries = filtered
        steps = [bound_quote(e, leg.a_to_b) for e, leg in zip(entries, cycle.legs)]
        kinds.update(e.adapter.NAME for e in entries)
        for cap in (10**9, 10**11, 10**13):
            for seed in (None, rng.randint(1, cap)):
                for r in (rate, rate * 1.01):
                    _same(steps, hi=cap, rate=r, seed=seed)
        checked += 1
        if checked >= 150:
            break
    assert checked >= 100 and len(kinds) >= 4, (checked, kinds)


@needs_kernel
def test_size_cycle_same_with_and_without_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    wl = Workload(120, 7, 4, 16)
    market = _load(wl)
    found = 0
    for cycle in enumerate_cycles(market, [wl.sol], 3)[:120]:
        filtered = cy.cycle_rate(market, cycle, {})
        if filtered is None:
            continue
        rate, entries = filtered
        for refine in (None, True, False):
            c = cy.size_cycle(cycle, entries, rate * 1.001, 10**12, refine=refine)
            monkeypatch.setattr(cy, "_SIZING", None)
            py = cy.size_cycle(cycle, entries, rate * 1.001, 10**12, refine=refine)
            monkeypatch.setattr(cy, "_SIZING", KERNEL)
            assert c == py
            assert c is None or c.arrays == py.arrays  # type: ignore[union-attr]
            found += c is not None
    assert found > 50


@needs_kernel
def test_size_cycle_caps_outside_u64(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cap below 1 sizes nothing; one above u64 runs the Python search (the kernel takes u64)."""
    wl = Workload(60, 7, 4, 16)
    market = _load(wl)
    cycle = enumerate_cycles(market, [wl.sol], 3)[0]
    filtered = cy.cycle_rate(market, cycle, {})
    assert filtered is not None
    rate, entries = filtered
    for cap in (0, -5):
        assert cy.size_cycle(cycle, entries, rate * 1.01, cap) is None
    big = cy.size_cycle(cycle, entries, rate * 1.01, U64 + 1)
    monkeypatch.setattr(cy, "_SIZING", None)
    assert big == cy.size_cycle(cycle, entries, rate * 1.01, U64 + 1)


# ------------------------------------------------------------------------ amount_out reads

_OVER = (OverflowError, "Quote.amount_out above 2^64 - 1")


def _c_only(fns: list[Step], **args: Any) -> tuple[Any, list[int]]:
    """The kernel's result (or (exception type, message)) and the sizes the steps were asked."""
    base = {"lo": 1, "seed": None, "tol_ppm": SIZING_WIDTH_PPM, "width_ppm": SIZING_WIDTH_PPM,
            "max_steps": 8, "refine": None, "min_width": REFINE_MIN_WIDTH}  # fmt: skip
    base.update(args)
    res, log, _made = _run(True, fns, base)
    return res, log


@needs_kernel
def test_amount_out_above_u64_is_an_overflow_error() -> None:
    """A positive amount_out above u64 (no swap of a u64 amount answers one) from the first,
    a middle or the last hop raises OverflowError right after that hop's quote (no later hop is
    asked); u64::MAX itself is an amount like any other; 0 and negatives stay "nothing out"."""
    hop = cp_hop(10**12, 10**12 + 10**10, 25)
    over = scale_hop(1 << 64, 1)  # x * 2^64: above u64 from x = 1
    for fns, asked in (([over], 1), ([over, hop], 1), ([hop, over], 2), ([hop, over, hop], 2),
                       ([hop, hop, over], 3)):  # fmt: skip
        res, log = _c_only(fns, hi=10**9, rate=1.01)
        assert res == _OVER, (res, asked)
        assert len(log) == asked, log
    # exactly u64::MAX out: a valid (if absurd) output, then the next hop's answer
    top = lambda x: Quote(x, U64, 0)
    res, log = _c_only([top], hi=10**9, rate=1.5)
    assert res[0] == 1 and res[1] == U64, res  # the same output at every size: the smallest
    res, _log = _c_only([top, scale_hop(1, 1 << 40)], hi=10**9, rate=1.5)
    assert res[1] == U64 >> 40, res
    # above u64 at one size only: raised when the search asks for that size
    spike = lambda x: Quote(x, (1 << 64) + x if x == 10**9 else x * 2, 0)
    assert _c_only([spike], hi=10**9, rate=2.0)[0] == _OVER
    res, log = _c_only([spike], hi=10**9 - 1, rate=2.0)
    assert res[1] == 2 * res[0] and 10**9 not in log, res


@needs_kernel
def test_amount_out_above_u64_same_as_python() -> None:
    """The kernel and its Python reference agree on an amount_out above u64 (the same error,
    after the same probes: ``_same`` compares the logs)."""
    hop = cp_hop(10**12, 10**12 + 10**10, 25)
    over = scale_hop(1 << 64, 1)
    for fns in ([over], [hop, over], [over, hop]):
        assert _same(fns, hi=10**9, rate=1.01) == _OVER
    spike = lambda x: Quote(x, (1 << 64) + x if x == 10**9 else x * 2, 0)
    assert _same([spike], hi=10**9, rate=2.0) == _OVER
    top = lambda x: Quote(x, U64, 0)  # u64::MAX itself is an amount
    assert _same([top, scale_hop(1, 1 << 40)], hi=10**9, rate=1.5)[1] == U64 >> 40


class _SubQuote(Quote):
    """A Quote subclass whose amount_out is a property: read through getattr, not the slot."""

    __slots__ = ()

    @property  # type: ignore[misc]
    def amount_out(self) -> int:  # type: ignore[override]
        return 7


@dataclass(frozen=True)
class _Like:
    """Not a Quote at all: an object with an amount_out attribute."""

    amount_out: int


@needs_kernel
def test_amount_out_of_other_objects_goes_through_getattr() -> None:
    """Only an exact Quote is read through its slot; a subclass overriding amount_out, any object
    with the attribute, and one without it (AttributeError) behave as the Python reference."""
    hop = cp_hop(10**12, 10**12 + 10**10, 25)
    sub = lambda x: _SubQuote(x, x * 3, 0)  # its amount_out is 7 whatever the slot
    like = lambda x: _Like(hop(x).amount_out)
    bare = lambda x: object()
    for fns in ([sub], [hop, sub], [like], [like, hop], [bare], [hop, bare]):
        _same(fns, hi=10**9, rate=1.01)  # type: ignore[arg-type]
    assert _c_only([sub], hi=10**9, rate=1.01)[0][1] == 7
    assert _c_only([bare], hi=10**9, rate=1.01)[0][0] is AttributeError
