"""Cycle enumeration and incremental re-evaluation (pure, synchronous).

:class:`CycleFinder` enumerates every 2-hop cycle (one pair, two different pools) and 3-hop cycle
(a triangle of three different pools) that starts and ends in a start mint, and indexes them by
pool, flat (:mod:`solarb.strategy.routes`: no object per cycle). When a pool changes, only the
cycles through it are re-evaluated:

1. cheap filter: all pools tradable (loaded, not quarantined) and the product of the adapters'
   float ``spot_rate`` along the cycle above ``1 + epsilon`` (floats rank, they never size).
   The finder keeps one flat table of rates by direction ``(pool, a_to_b)``, valid while the
   market has not written the pool's entry (``PoolEntry.rate_revision``: state and aux accounts
   shared with other pools; not the Clock, which no ``spot_rate`` reads); per update it checks
   each pool its cycles use once, then reads each cycle's product off precomputed slot indices
   (:mod:`solarb.strategy.cycle_plan`; both loops in the C kernel ``solarb.native._cycle_filter``
   when built: the same rates are computed, and the same cycles pass with the same float
   products, as :func:`cycle_rate` with a :class:`SpotRates`);
2. ranking (``max_sized``): the cycles that passed are sized in descending order of that
   product, at most ``max_sized`` of them, stopping once ``(rate - 1) * max_amount_in`` (an upper
   bound of a cycle's profit) cannot beat the best profit found;
3. exact integer sizing (:func:`solarb.strategy.sizing.maximize_profit_model`, warm-started from
   the cycle's last optimum; its search runs in the C kernel ``solarb.native._sizing`` when built)
   on the chained exact adapter quotes, over ``[1, max_amount_in[start]]``; each (pool,
   direction)'s bound quoter is kept across changes while the market has not written that
   pool's entry (:mod:`solarb.strategy.bound_quoters`); a cycle whose sizing meets a quote above
   u64 (bad pool state or an adapter bug: no program outputs that much) is skipped and counted
   (:class:`QuoteFault`), and the other cycles are sized on;
4. an :class:`~solarb.events.Opportunity` when ``profit >= max(min_profit[start], 1)``; each
   hop carries the tick/bin ``arrays`` of its exact quote at the chosen size (the builder's
   instruction then needs no second quote).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Literal

from solders.pubkey import Pubkey

from solarb import native
from solarb.dex.base import DexError, Quote
from solarb.errors import ConfigError
from solarb.events import Hop, Opportunity
from solarb.frozen import fast_init
from solarb.market.state import MarketState, PoolEntry
from solarb.native.slots import frozen_maker
from solarb.strategy.bound_quoters import Kept as _Kept
from solarb.strategy.bound_quoters import KeptSlots as _KeptSlots
from solarb.strategy.bound_quoters import Legs as _Legs
from solarb.strategy.bound_quoters import SlotLegs as _SlotLegs
from solarb.strategy.bound_quoters import bind as _bind
from solarb.strategy.bound_quoters import bind_slots as _bind_slots
from solarb.strategy.cycle_plan import NAN as _NAN
from solarb.strategy.cycle_plan import ROW_WIDTH, SpotRates, cycle_rate, filter_rows, new_table
from solarb.strategy.cycle_plan import Plan as _Plan
from solarb.strategy.routes import Cycle, CycleIndex, Leg, build_index, enumerate_cycles
from solarb.strategy.sizing import U64_MAX, chain_quotes, maximize_chain_model, maximize_profit

__all__ = [
    "DEFAULT_MAX_SIZED",
    "Cycle",
    "CycleFinder",
    "Evaluation",
    "Leg",
    "QuoteFault",
    "SpotRates",
    "cycle_rate",
    "enumerate_cycles",
    "evaluate_cycle",
    "size_cycle",
]

DEFAULT_EPSILON = 1e-6
Sizer = Literal["model", "golden"]
SIZING_WIDTH_PPM = 1_000
"""The golden searches (``sizer="golden"``, the model's fallback) stop once their bracket is 0.1 %
of the size wide, and the model once its step is: the profit is flat to second order there.
Golden, measured on the bench workload (32 sized cycles): 84 -> 29 quotes per sizing, 13 base
units of 291M total profit given up. The model search: 31.3 -> 4.45 quotes per sizing on 4,121
bench sizings, 300k of 25.9G base units short of the golden search (0.0012 %)."""
REFINE_MIN_WIDTH = 64
"""The model search moves to the start of its output step only when that step may be at least
this many base units wide (it saves at most the width). Measured by ``bench/sizing_quality.py``
(3,000 updates, 4,121 sizings): always -> 7.25 quotes per sizing, 288k base units short of the
golden search in total; from 64 -> 4.45 quotes, 300k short; never -> 3.62 quotes, 1,008k short
(of 25.9G)."""
DEFAULT_MAX_SIZED = 6
"""Cycles sized per changed pool at most (highest spot-rate product first). Measured by
``bench/sizing_quality.py`` (3,000 updates; the best opportunity of each update, as the Pipeline
trades it, vs sizing every cycle): 6 sizes 2,935 cycles instead of 4,121 and finds all but 566k
of 13.44G base units (0.004 %); 4: 2,838, 0.17 % short; 2: 2,222, 0.6 %; 1: 1,492, 4.7 %. The
profit bound alone (no count limit) sizes 3,565 and loses nothing."""
_BOUND_SLACK = 1e-6  # float spot rates are trusted to 1e-6 (relative) in the profit bound
_SIZING = native.load("sizing")
"""``solarb.native._sizing``: the model search in C (None: the Python reference,
:func:`~solarb.strategy.sizing.maximize_chain_model`; tests set it to None to compare)."""
_FILTER = native.load("cycle_filter")
"""``solarb.native._cycle_filter``: the rate table's refresh and the float filter in C (None: the
Python references, :func:`_refresh_rates` and :func:`~solarb.strategy.cycle_plan.filter_rows`;
tests set it to None to compare)."""


@fast_init
@dataclass(slots=True, frozen=True)
class Evaluation:
    """An exactly sized cycle: ``hops[i] = (amount_in, amount_out)`` of each leg; ``rate`` the
    float spot-rate product, ``quotes`` the chained exact quotes the sizing used, ``fallback``
    why the model search fell back (``""``: it did not; see ``Sized.fallback``); ``arrays[i]``
    the :attr:`~solarb.dex.base.Quote.arrays` of leg ``i``'s quote at exactly ``hops[i][0]``
    (``()`` when the adapter reports none)."""

    cycle: Cycle
    amount_in: int
    amount_out: int
    hops: tuple[tuple[int, int], ...]
    rate: float
    quotes: int
    fallback: str = ""
    arrays: tuple[tuple[Pubkey, ...], ...] = field(default=(), compare=False)

    @property
    def profit(self) -> int:
        """``amount_out - amount_in`` in base units of the start mint."""
        return self.amount_out - self.amount_in


@dataclass(slots=True, frozen=True)
class QuoteFault:
    """A cycle :meth:`CycleFinder.on_pool_changed` skipped because its sizing raised
    ``OverflowError`` (a quote's ``amount_out`` above 2^64 - 1): ``slot`` that of the update,
    ``message`` the error's."""

    cycle: Cycle
    slot: int
    message: str


# positional makers (no type.__call__, no keywords): every field, in declaration order
_make_evaluation = frozen_maker(Evaluation)
_make_hop = frozen_maker(Hop)
_make_opportunity = frozen_maker(Opportunity)
_first = itemgetter(0)  # sort key: stable, ties keep their order


def evaluate_cycle(
    market: MarketState,
    cycle: Cycle,
    max_amount_in: int,
    *,
    epsilon: float = DEFAULT_EPSILON,
    rates: dict[tuple[Pubkey, bool], float] | SpotRates | None = None,
    seed: int | None = None,
    sizer: Sizer = "model",
    refine: bool | None = None,
) -> Evaluation | None:
    """Filter then size one cycle; ``None`` if a pool is not tradable, the spot-rate product is
    ``<= 1 + epsilon``, a spot rate cannot be computed, or no size is feasible.

    The returned evaluation may still have ``profit <= 0`` (rounding, fees); callers apply their
    thresholds. ``rates`` is an optional per-batch cache of spot rates keyed ``(pool, a_to_b)``,
    or a :class:`SpotRates` kept across batches. ``seed`` (a warm start: the last optimum of
    this cycle), ``sizer`` and ``refine``: see :func:`size_cycle`.
    """
    filtered = cycle_rate(market, cycle, rates)
    if filtered is None or filtered[0] <= 1.0 + epsilon:
        return None
    rate, entries = filtered
    return size_cycle(cycle, entries, rate, max_amount_in, seed=seed, sizer=sizer, refine=refine)


def size_cycle(
    cycle: Cycle,
    entries: Sequence[PoolEntry],
    rate: float,
    max_amount_in: int,
    *,
    seed: int | None = None,
    sizer: Sizer = "model",
    refine: bool | None = None,
    bound: dict[tuple[Pubkey, bool], Callable[[int], Quote]] | None = None,
) -> Evaluation | None:
    """Size ``cycle`` exactly over ``[1, max_amount_in]`` on its pools' chained exact quotes.

    ``sizer="model"`` (default): :func:`~solarb.strategy.sizing.maximize_chain_model` seeded
    with ``rate`` and ``seed``, in the C kernel ``solarb.native._sizing`` when it is loaded (the
    same result); ``"golden"``: the plain golden search (0.1 % bracket, then the
    step start). ``refine`` (model only): ``None`` moves to the start of the output step only
    when that step may be wider than ``REFINE_MIN_WIDTH`` base units of the start mint (its width
    is about ``x / m`` for the smallest intermediate amount ``m``), ``True``/``False`` always /
    never. ``None`` if no size is feasible. Amounts are exact: each hop is the exact quote of the
    previous hop's output. ``bound``: the bound quoters of this market state by (pool,
    direction), shared by the cycles sized for one pool change (the market does not change
    meanwhile; each pool's quoter is bound once). Raises ``OverflowError`` when a quote's
    ``amount_out`` is above 2^64 - 1 (bad state or an adapter bug; the finder counts and skips
    such a cycle instead, see :class:`QuoteFault`).
    """
    if bound is None:
        bound = {}
    legs = _legs(cycle, entries)
    found = _search(_bind(legs, bound), rate, max_amount_in, seed, sizer, refine)
    if found is None:
        return None
    amount_in, n_quotes, fallback, chain = found
    return _make_evaluation(
        cycle, chain[0].amount_in, chain[-1].amount_out,
        tuple((q.amount_in, q.amount_out) for q in chain), rate, n_quotes, fallback,
        _hop_arrays(amount_in, chain),
    )  # fmt: skip


def _legs(cycle: Cycle, entries: Iterable[PoolEntry]) -> _Legs:
    """``cycle``'s legs with the entry of each leg's pool (``entries`` in leg order)."""
    return tuple(((leg.pool, leg.a_to_b), e) for leg, e in zip(cycle.legs, entries))


def _search(
    steps: tuple[Callable[[int], Quote], ...],
    rate: float,
    max_amount_in: int,
    seed: int | None,
    sizer: Sizer = "model",
    refine: bool | None = None,
    retired: list[object] | None = None,
) -> tuple[int, int, str, Sequence[Quote]] | None:
    """:func:`size_cycle`'s search on bound quoters: ``(amount_in, quotes, fallback, chain)``
    (``chain``: the exact quotes at ``amount_in``, never empty), or ``None``. ``retired`` (C
    kernel only): a list the search's probed Quotes are appended to (one tuple) instead of
    being freed on return (:meth:`CycleFinder.release`)."""
    if sizer == "model":
        if _SIZING is not None and 0 <= max_amount_in <= U64_MAX:  # 8: the model's max_steps
            found = _SIZING.search(
                steps, 1, max_amount_in, rate, seed, SIZING_WIDTH_PPM, SIZING_WIDTH_PPM,
                8, refine, REFINE_MIN_WIDTH, DexError, retired,
            )  # fmt: skip
            if found is None:
                return None
            amount_in, _out, n_quotes, fallback, chain = found
        else:
            res = maximize_chain_model(
                steps, max_amount_in, rate=rate, seed=seed, width_ppm=SIZING_WIDTH_PPM,
                tol_ppm=SIZING_WIDTH_PPM, refine=refine, min_width=REFINE_MIN_WIDTH,
            )  # fmt: skip
            if res is None:
                return None
            sized, chain = res
            amount_in, n_quotes, fallback = sized.amount_in, sized.quotes, sized.fallback
    elif sizer == "golden":
        out, _width, quotes_at = chain_quotes(steps)
        golden = maximize_profit(out, max_amount_in, width_ppm=SIZING_WIDTH_PPM, climb_rounds=0)
        if golden is None:
            return None
        amount_in, n_quotes, fallback = golden.amount_in, golden.quotes, golden.fallback
        found_chain = quotes_at.get(amount_in)
        chain = None if found_chain is None else tuple(found_chain)
    else:
        raise ConfigError(f"unknown sizer {sizer!r}")
    if chain is None:  # out() was 0 at the best size: no quotes recorded
        return None
    return amount_in, n_quotes, fallback, chain


def _hop_arrays(amount_in: int, chain: Sequence[Quote]) -> tuple[tuple[Pubkey, ...], ...]:
    """Each quote's arrays belong to the amount it was asked for (``amount_in``, then each
    output): carried only when the quote spends exactly that amount, as the builder checks."""
    asked = amount_in
    arrays = []
    for q in chain:
        arrays.append(q.arrays if q.amount_in == asked else ())
        asked = q.amount_out
    return tuple(arrays)


def _spot_rate(entry: PoolEntry, state: object, a_to_b: bool) -> float:
    """The adapter's spot rate; NaN if it raised :class:`DexError` or gave none."""
    try:
        r: float | None = entry.adapter.spot_rate(state, entry.aux, a_to_b)  # type: ignore[arg-type]
    except DexError:
        return _NAN
    return _NAN if r is None else r


def _refresh_rates(
    table: array[float], revs: list[int], checks: Iterable[tuple[PoolEntry, int]]
) -> int:
    """Bring the rate table up to date for ``checks`` (``(entry, a_to_b slot)``, each pool
    once): both rates of a tradable pool recomputed unless ``revs[slot]`` is its entry's
    ``rate_revision`` (every write but the Clock's), NaN for a pool not tradable. The number of
    pools whose rates were computed."""
    n = 0
    for entry, s in checks:
        if entry.ready and not entry.quarantined:
            revision = entry.rate_revision
            if revs[s] != revision:
                state = entry.state
                table[s] = _spot_rate(entry, state, True)
                table[s + 1] = _spot_rate(entry, state, False)
                revs[s] = revision
                n += 1
        else:
            table[s] = table[s + 1] = _NAN
            revs[s] = -1
    return n


class CycleFinder:
    """Finds profitable cycles through a changed pool.

    ``min_profit`` and ``max_amount_in`` need an entry for every start mint (base units).
    ``max_sized``: how many cycles one :meth:`on_pool_changed` sizes at most. The cycles that
    pass the float filter are sized in descending order of their spot-rate product, and sizing
    stops early once no remaining cycle can beat the best profit found (or ``min_profit``): a
    cycle's profit is at most ``(rate - 1) * max_amount_in`` since a chain of AMM curves is
    concave through the origin. ``None`` sizes every cycle that passes the filter, in index
    order (full lists, for callers that want every opportunity). The default,
    ``DEFAULT_MAX_SIZED``, was measured on the bench workload (``bench/sizing_quality.py``).
    Each cycle's last optimal input seeds its next sizing (warm start; forgotten on rebuild).
    ``keep_quoters`` (default): each (pool, direction)'s bound quoter is kept across pool
    changes while the market has not written that pool's entry (``PoolEntry.revision``; one
    slot per pool and direction, emptied on rebuild, the changed pool's dropped on its change and
    freed by :meth:`release` or the next change);
    False binds anew on every change (the reference the tests compare with).

    Counters for metrics: ``evaluations`` (cycles looked at), ``passed`` (cycles that passed
    the float filter), ``sized`` (cycles sized exactly), ``skipped`` (passed but not sized:
    ranked out or bounded), ``quotes`` (exact chained quotes spent sizing), ``fallbacks`` (model
    searches that fell back to the parabolic/golden search), ``found`` (opportunities emitted),
    ``quote_faults`` (cycles whose sizing raised ``OverflowError``: not sized, nothing found,
    their quotes not counted; ``passed == sized + skipped + quote_faults``), the last of them in
    ``last_quote_fault``. A faulty cycle keeps its rank among the ``max_sized`` (it was searched).
    """

    def __init__(
        self,
        market: MarketState,
        *,
        start_mints: Sequence[Pubkey],
        max_hops: int = 3,
        min_profit: Mapping[Pubkey, int],
        max_amount_in: Mapping[Pubkey, int],
        epsilon: float = DEFAULT_EPSILON,
        max_sized: int | None = DEFAULT_MAX_SIZED,
        keep_quoters: bool = True,
    ) -> None:
        if max_hops not in (2, 3):
            raise ConfigError(f"max_hops must be 2 or 3, got {max_hops}")
        if max_sized is not None and max_sized < 1:
            raise ConfigError(f"max_sized must be >= 1 or None, got {max_sized}")
        for mint in start_mints:
            if mint not in min_profit or mint not in max_amount_in:
                raise ConfigError(f"start mint {mint} needs min_profit and max_amount_in")
            if max_amount_in[mint] < 1:
                raise ConfigError(f"max_amount_in for {mint} must be >= 1")
        self.market = market
        self.start_mints = tuple(dict.fromkeys(start_mints))
        self.max_hops = max_hops
        self.min_profit = dict(min_profit)
        self.max_amount_in = dict(max_amount_in)
        self.epsilon = epsilon
        self.max_sized = max_sized
        self.keep_quoters = keep_quoters
        # bound quoters kept across changes by (pool, direction) rate-table slot (see
        # bound_quoters.bind_slots)
        self._kept: _KeptSlots = [None]
        # the changed pool's replaced quoters (with their old states) and the sizing searches'
        # Quotes, freed by release()
        self._retired: list[object] = []
        # the cycles, flat (no object per cycle: one is made for an opportunity or on request)
        self._index: CycleIndex = build_index(market, (), max_hops)
        self._last_in: dict[int, int] = {}  # cycle index -> last optimal input (warm start)
        # cycle index -> ((pool, a_to_b), entry, slot) per leg (shared by direction), made when
        # it is first sized
        self._legs: dict[int, _SlotLegs] = {}
        self._version = -1
        self._counter = 0
        self._plans: dict[Pubkey, _Plan] = {}  # pool -> what its change re-evaluates
        self._table = new_table(1)  # rate table slot -> spot rate of one (pool, a_to_b)
        # a_to_b slot -> the entry rate_revision its two rates came from (-1: none; no stamp is < 0)
        self._revs: list[int] = [-1]
        self.evaluations = 0
        self.passed = 0
        self.sized = 0
        self.skipped = 0
        self.quotes = 0
        self.fallbacks = 0
        self.found = 0
        self.quote_faults = 0
        self.last_quote_fault: QuoteFault | None = None

    @property
    def _quoters(self) -> _Kept:
        """The kept bound quoters by (pool, a_to_b), a dict made now (for inspection)."""
        pools = self._index.pools
        return {
            (pools[(s - 1) >> 1], bool(s & 1)): k for s, k in enumerate(self._kept) if k is not None
        }

    @property
    def cycles(self) -> int:
        """Number of enumerated cycles."""
        return len(self._index)

    def all_cycles(self) -> list[Cycle]:
        """The enumerated cycles, as objects made now (in index order)."""
        index = self._index
        return [index.cycle(i) for i in range(len(index))]

    def cycles_through(self, pool: Pubkey) -> list[Cycle]:
        """Cycles that use ``pool`` (in index order, objects made now)."""
        plan = self._plans.get(pool)
        cycle = self._index.cycle
        return [cycle(i) for i in plan.rows[::ROW_WIDTH]] if plan is not None else []

    def warm_start(self, cycle: Cycle) -> int | None:
        """The last optimal input of ``cycle`` (``None`` if never sized since the last rebuild);
        for inspection (a search of the cycles through its first pool)."""
        index = self._index.find(cycle)
        return None if index is None else self._last_in.get(index)

    def rebuild(self) -> None:
        """Re-enumerate cycles from the market's token graph, re-index them by pool and build
        each pool's filter plan (the rate table's slots its cycles read)."""
        # entry objects live until the pool is removed (a new version)
        self._index = index = build_index(self.market, self.start_mints, self.max_hops)
        self._plans, size = index.plans, index.size
        # both directions of a pool valid while _revs[a_to_b slot] is its entry's rate_revision (a
        # slot belongs to one entry object until the next rebuild: plan.checks pairs them)
        self._table = new_table(size)
        self._revs = [-1] * size
        self._last_in.clear()
        self._legs.clear()
        self._kept = [None] * size
        self._retired.clear()
        self._version = self.market.version

    def warm(self, pools: Iterable[Pubkey] | None = None) -> tuple[int, int]:
        """Pay now what the first change of a pool would pay on the hot path: bind (and keep,
        with ``keep_quoters``) the quoter of every (pool, direction) a cycle through ``pools``
        uses (every cycle when ``None``), so the adapters decode the tick/bin arrays and build
        the plans they cache, and compute the spot rates of every pool those cycles read. Call
        once loaded, before streaming (and with pools added later). Decisions are unchanged: a
        kept quoter is used only while its entry's ``revision`` is the one it was bound at, a
        rate while its ``rate_revision`` is. ``(quoters bound, pools whose rates were set)``."""
        if self._version != self.market.version:
            self.rebuild()
        plans, index = self._plans, self._index
        chosen = plans.values() if pools is None else [plans[p] for p in pools if p in plans]
        checks: dict[int, PoolEntry] = {}  # a_to_b slot -> entry, each pool once
        slots: dict[int, tuple[tuple[Pubkey, bool], PoolEntry, int]] = {}  # each direction once
        for plan in chosen:
            checks.update((s, entry) for entry, s in plan.checks)
            for i in plan.rows[::ROW_WIDTH]:
                slots.update((leg[2], leg) for leg in index.slot_legs(i))
        n_rates = _refresh_rates(self._table, self._revs, ((e, s) for s, e in checks.items()))
        # not kept: bound into a list dropped on return (the adapters' caches only)
        kept = self._kept if self.keep_quoters else [None] * len(self._kept)
        legs = tuple(leg for leg in slots.values() if leg[1].tradable)
        before = [kept[s] for _, _, s in legs]
        _bind_slots(legs, kept)  # each slot bound anew unless still valid, as sizing would
        return sum(kept[s] is not k for (_, _, s), k in zip(legs, before)), n_rates

    def release(self) -> int:
        """Free what the last :meth:`on_pool_changed` call retired instead of freeing it on
        the detection path: the changed pool's old quoters (with the old decoded state and
        tick/bin data they hold) and the Quotes its sizing searches probed (a tuple per search,
        C kernel only). Call it once the update is decided. Optional: each call frees the
        previous call's first, so at most one call's are held. The number of items released."""
        retired = self._retired
        n = len(retired)
        retired.clear()
        return n

    def on_pool_changed(
        self, pool: Pubkey, *, slot: int, ts_recv_ns: int, now_ns: int, best_only: bool = False
    ) -> list[Opportunity]:
        """Re-evaluate the cycles through ``pool``; opportunities sorted by profit, best first.

        Rebuilds the cycle index first if pools were added or removed since the last build.
        ``slot``/``ts_recv_ns`` are those of the triggering update; ``now_ns`` is the detection
        time. With ``max_sized`` set, only the best-ranked cycles are sized (class docstring).
        ``best_only``: build only the first of those opportunities (a list of at most one, for a
        caller that trades only the best); ids and the ``found`` counter are as if all were.
        """
        if self._version != self.market.version:
            self.rebuild()
        plan = self._plans.get(pool)
        if plan is None:
            return []
        # the float filter (as cycle_rate with a SpotRates): every pool these cycles use is
        # checked once (tradable and its entry's rate_revision unchanged, else both its rates
        # recomputed: a write to an account shared with the changed pool, e.g. an AMM config,
        # moves the revision of every pool reading it although the finder is told of one), then
        # each cycle's product is read off the table (NaN fails the comparison like a missing
        # rate). The changed pool needs no forgetting: the write that changed it moved its
        # revision.
        table, revs = self._table, self._revs
        kept, retired = self._kept, self._retired
        if retired:  # the last change's, if nobody called release() since
            retired.clear()
        # and its kept quoters (else they would hold its old state until rebound), freed by
        # release() (after the decision) rather than here: a_to_b's slot, then the other's
        own = plan.own
        k = kept[own]
        if k is not None:
            retired.append(k)
            kept[own] = None
        k = kept[own + 1]
        if k is not None:
            retired.append(k)
            kept[own + 1] = None
        threshold = 1.0 + self.epsilon
        if _FILTER is not None:  # the same loops in C
            _FILTER.refresh(table, revs, plan.checks, _spot_rate)
            passed: list[tuple[float, int]] = _FILTER.filter(table, plan.rows, threshold)
        else:
            _refresh_rates(table, revs, plan.checks)
            passed = filter_rows(table, plan.rows, threshold)
        self.evaluations += plan.count
        self.passed += len(passed)
        if not passed:
            return []
        ix = self._index
        cycle_rows, starts, legs_of = ix.rows, ix.starts, self._legs
        max_amount_in, min_profit = self.max_amount_in, self.min_profit
        max_sized = self.max_sized
        if max_sized is not None:
            passed.sort(key=_first, reverse=True)
        # (profit, index, search amount_in, chain): no Evaluation, and only the opportunities
        # returned are built
        found: list[tuple[int, int, int, Sequence[Quote]]] = []
        last_in = self._last_in
        best = 0
        if not self.keep_quoters:
            kept = [None] * len(kept)  # bound anew on every change
        start_no = -1  # the start mint (number) whose cap and floor are at hand
        cap = floor = 0
        for n, (rate, index) in enumerate(passed):
            if cycle_rows[ROW_WIDTH * index] != start_no:
                start_no = cycle_rows[ROW_WIDTH * index]
                start = starts[start_no]
                cap = max_amount_in[start]
                floor = max(min_profit[start], 1)
            bar = best if best > floor else floor  # noqa: FURB136 (no max() call: hot)
            if max_sized is not None and (
                n >= max_sized or (rate - 1.0 + _BOUND_SLACK) * cap < bar
            ):
                self.skipped += len(passed) - n  # ranked out, or bounded below what we have
                break
            legs = legs_of.get(index)
            if legs is None:
                legs = legs_of[index] = ix.slot_legs(index)
            try:  # its probes' Quotes are retired (see release()); a try costs nothing unless raised
                res = _search(
                    _bind_slots(legs, kept), rate, cap, last_in.get(index), "model", None, retired
                )
            except OverflowError as e:
                # a quote above u64: not sized. Its warm start stays the last good optimum, its
                # kept quoters those of the entries as they are (replaced on their next write),
                # and a failed search retires nothing (the kernel frees its Quotes)
                self.quote_faults += 1
                self.last_quote_fault = QuoteFault(ix.cycle(index), slot, str(e))
                continue
            self.sized += 1
            if res is None:
                continue
            amount_in, n_quotes, fallback, chain = res
            self.quotes += n_quotes
            self.fallbacks += fallback != ""
            first_in = last_in[index] = chain[0].amount_in
            profit = chain[-1].amount_out - first_in
            if profit >= floor:
                found.append((profit, index, amount_in, chain))
                if profit > best:  # noqa: PLR1730 (no call: hot)
                    best = profit
        if not found:
            return []
        self.found += len(found)
        if best_only:  # the first of the best, as the stable sort below would put first
            self._counter += 1
            opportunity = self._opportunity(max(found, key=_first), slot, ts_recv_ns, now_ns)
            self._counter += len(found) - 1
            return [opportunity]
        found.sort(key=_first, reverse=True)
        opportunities = []
        for item in found:
            self._counter += 1
            opportunities.append(self._opportunity(item, slot, ts_recv_ns, now_ns))
        return opportunities

    def _opportunity(
        self, item: tuple[int, int, int, Sequence[Quote]], slot: int, ts_recv_ns: int, now_ns: int
    ) -> Opportunity:
        """The opportunity of one ``found`` item of :meth:`on_pool_changed`, as an
        :class:`Evaluation` of it would give it (hops, amounts, arrays)."""
        _profit, index, amount_in, chain = item
        ix = self._index
        mints, mint_keys = ix.mints, ix.mint_keys
        start = mint_in = ix.starts[ix.rows[ROW_WIDTH * index]]
        asked = amount_in  # as _hop_arrays: a quote's arrays when it spends what it was asked
        hops = []
        # the legs with their slots (sized in this call: in _legs, their entries those of the
        # market's pools); chain has one quote per leg
        for ((pool, a_to_b), entry, s), q in zip(self._legs[index], chain):
            mint_out = mint_keys[mints[s]]
            q_in, q_out = q.amount_in, q.amount_out
            hop = _make_hop(
                pool, entry.adapter.NAME, a_to_b, mint_in, mint_out, q_in, q_out,
                q.arrays if q_in == asked else (),
            )  # fmt: skip
            hops.append(hop)
            mint_in, asked = mint_out, q_out
        return _make_opportunity(
            f"{slot}-{self._counter}", start, tuple(hops), chain[0].amount_in,
            chain[-1].amount_out, slot, ts_recv_ns, now_ns,
        )  # fmt: skip
