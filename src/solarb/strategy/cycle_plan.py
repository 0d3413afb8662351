"""The :class:`~solarb.strategy.cycles.CycleFinder`'s filter plans and flat rate table (pure).

The finder keeps one rate table, an ``array('d')``: slot 0 holds 1.0 (it pads 2-hop cycles), and
each pool of the cycles has two slots, ``s`` for ``a_to_b`` and ``s + 1`` for the other direction
(NaN: not tradable, or no rate). A pool's :class:`Plan` lists the pools its cycles read (checked
once per change) and one row per cycle through it, flat in an ``array('i')``: ``index, a, b, c``
(the cycle's index and the slot of each leg's direction; ``c = 0`` for 2 hops). 16 bytes a row
instead of a tuple of four ints (72 bytes plus the ints above 256, three rows per triangle); each
pool's ``(entry, slot)`` check is one tuple shared by every plan that reads it.
:func:`plan_routes` builds them from routes (the graph's edges: no cycle object) with every array
exact-size, and the same row, with the start mint's number for the index, per cycle (the finder's
:class:`~solarb.strategy.routes.CycleIndex`). The finder at 10,000 bench pools (46,664 cycles)
holds 6.7 MB after a rebuild (traced): 13.9 MB with a ``Cycle`` object per cycle and appended
arrays, 34.4 MB with tuple rows.

:func:`filter_rows` is the float filter: each row's product ``(table[a] * table[b]) * table[c]``
in that order, kept when ``> threshold``. The C kernel ``solarb.native._cycle_filter`` computes
the same doubles in the same order and returns the same list (differential tests); the finder uses
it when :func:`solarb.native.load` returns it.

:class:`SpotRates` and :func:`cycle_rate` are the filter's per-cycle reference (re-exported by
:mod:`solarb.strategy.cycles`): the table passes the same cycles with the same products.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from solders.pubkey import Pubkey

from solarb.dex.base import DexError
from solarb.market.state import MarketState, PoolEntry

if TYPE_CHECKING:
    from solarb.strategy.routes import Cycle

__all__ = [
    "PAD_SLOT",
    "ROW_WIDTH",
    "Plan",
    "PlannedRoutes",
    "SpotRates",
    "build_plans",
    "cycle_rate",
    "filter_rows",
    "new_table",
    "plan_routes",
]

NAN = float("nan")  # a direction with no usable rate: every product through it fails the filter
PAD_SLOT = 0
"""The table slot holding 1.0: the third factor of a 2-hop cycle's row."""
ROW_WIDTH = 4
"""Ints per row: the cycle's index, then the three slots."""


class Plan(NamedTuple):
    """What the filter does for one changed pool: ``own`` its rate-table slot (``a_to_b``;
    ``own + 1`` is the other direction), ``checks`` ``(entry, slot)`` of every pool its cycles
    use (in first-use order), ``rows`` :data:`ROW_WIDTH` ints per cycle through it, in index
    order, ``count`` the number of those cycles. Measured on the bench workload (13.3 cycles, 9
    pools per plan): the filter without the changed pool's two ``spot_rate`` calls cost ~5 us
    per update in Python (``bench/filter_path.py`` stage ``filter``: 8.3 us), vs 24-35 us (29.4)
    for ``cycle_rate`` + ``SpotRates``. Of that, the rows' products took 1.4-1.6 us as the old
    Python loop over tuples, 0.2-0.4 us in the kernel, 3.2-3.4 us in :func:`filter_rows` over the
    arrays (``on_pool_changed`` with no sizing, 1,000 pools, alternating runs: 6.0-7.7 -> 5.1-6.5
    us; with ``SOLARB_NATIVE=0`` 6.8-7.0 -> 9.5 us)."""

    own: int
    checks: tuple[tuple[PoolEntry, int], ...]
    rows: array[int]
    count: int


class PlannedRoutes(NamedTuple):
    """:func:`plan_routes`' result: ``plans`` each pool's :class:`Plan`; pool ``k`` (in order of
    first use) has the rate-table slots ``1 + 2k`` (``a_to_b``) and ``2 + 2k``, ``pools[k]`` is
    its address and ``pairs[k]`` its ``(entry, 1 + 2k)`` (shared by the plans' checks);
    ``rows``: :data:`ROW_WIDTH` ints per route, its tag then its slots (as a plan's row)."""

    plans: dict[Pubkey, Plan]
    pools: list[Pubkey]
    pairs: list[tuple[PoolEntry, int]]
    rows: array[int]


class _Leg(Protocol):
    """What :func:`plan_routes` reads of a leg (a graph ``Edge``, a cycle's ``Leg``)."""

    @property
    def pool(self) -> Pubkey: ...

    @property
    def a_to_b(self) -> bool: ...


def plan_routes(
    routes: Iterable[tuple[int, Sequence[_Leg]]], pools: Mapping[Pubkey, PoolEntry]
) -> PlannedRoutes:
    """The plans of ``routes`` (``(tag, legs)``; route ``i`` is cycle index ``i`` in the plans'
    rows, ``tag`` is kept in its own row), entries as ``pools`` holds them now. Slots are given
    in order of first use; raises ``KeyError`` if a leg's pool is not in ``pools``. Every array is
    exact-size (built by appending, then copied once)."""
    slots: dict[Pubkey, int] = {}  # pool -> its a_to_b slot; slot + 1: the other direction
    keys: list[Pubkey] = []
    pairs: list[tuple[PoolEntry, int]] = []  # one per pool, shared by every plan that reads it
    every = array("i")
    per_pool: dict[Pubkey, array[int]] = {}  # pool -> the rows of the cycles through it
    for index, (tag, legs) in enumerate(routes):
        row = [index, PAD_SLOT, PAD_SLOT, PAD_SLOT]
        for k, leg in enumerate(legs):
            pool = leg.pool
            slot = slots.get(pool)
            if slot is None:
                slot = slots[pool] = 1 + 2 * len(keys)
                keys.append(pool)
                pairs.append((pools[pool], slot))
            row[k + 1] = slot + (not leg.a_to_b)
        for pool in dict.fromkeys(leg.pool for leg in legs):
            rows = per_pool.get(pool)
            if rows is None:
                rows = per_pool[pool] = array("i")
            rows.extend(row)
        row[0] = tag
        every.extend(row)
    plans = {}
    for pool, rows in per_pool.items():
        legs_slots = rows.tolist()
        del legs_slots[::ROW_WIDTH]
        # the pools its rows read, in order of first use (a leg's slot s is pool (s - 1) // 2's)
        read = dict.fromkeys((s - 1) >> 1 for s in legs_slots if s != PAD_SLOT)
        checks = tuple(pairs[k] for k in read)
        plans[pool] = Plan(slots[pool], checks, rows[:], len(rows) // ROW_WIDTH)
    return PlannedRoutes(plans, keys, pairs, every[:])


def build_plans(
    cycles: Iterable[Cycle], pools: Mapping[Pubkey, PoolEntry]
) -> tuple[dict[Pubkey, Plan], dict[Pubkey, PoolEntry], int]:
    """Each pool's :class:`Plan` for ``cycles`` (cycle ``i``: index ``i`` in the rows), the
    entry of every pool the cycles use (as ``pools`` holds it now, in order of first use) and the
    rate table's size (``1 + 2 * pools used``): :func:`plan_routes` of the cycles' legs."""
    planned = plan_routes(((0, cycle.legs) for cycle in cycles), pools)
    entries = {pool: entry for pool, (entry, _) in zip(planned.pools, planned.pairs)}
    return planned.plans, entries, 1 + 2 * len(planned.pools)


def new_table(size: int) -> array[float]:
    """A rate table of ``size`` slots: 1.0 at :data:`PAD_SLOT`, NaN (no rate yet) elsewhere."""
    table = array("d", [NAN]) * size
    table[PAD_SLOT] = 1.0
    return table


def filter_rows(table: array[float], rows: array[int], threshold: float) -> list[tuple[float, int]]:
    """``[(rate, index)]`` of the rows whose product ``(table[a] * table[b]) * table[c]`` is
    ``> threshold`` (NaN fails), in row order: the Python reference of the C kernel (about
    twice the old loop over tuples: 13 rows ~5 us vs ~2.5, while the kernel takes ~0.3 us)."""
    it = iter(rows.tolist())  # faster to unpack than the array's own iterator
    return [
        (r, index)
        for index, a, b, c in zip(it, it, it, it)
        if (r := table[a] * table[b] * table[c]) > threshold
    ]


class SpotRates:
    """Float spot rates per ``(pool, a_to_b)`` kept across updates (they only rank cycles; sizing
    is always on exact quotes). An entry is used only while it was computed for the same
    :class:`~solarb.market.state.PoolEntry` object at the same ``rate_revision`` (the market
    moves it on every write to the pool's state, aux accounts, ``ready`` and ``quarantined``, the
    Clock's excepted: no ``spot_rate`` reads it), so a write to an account shared by several pools
    refreshes each of them without the caller telling; :meth:`forget` drops one pool's entries
    early."""

    __slots__ = ("_entries", "hits", "misses")

    def __init__(self) -> None:
        self._entries: dict[tuple[Pubkey, bool], tuple[PoolEntry, int, float | None]] = {}
        self.hits = 0
        self.misses = 0

    def rate(self, entry: PoolEntry, a_to_b: bool) -> float | None:
        """The adapter's spot rate (None if it raised :class:`DexError`)."""
        key = (entry.address, a_to_b)
        hit = self._entries.get(key)
        revision = entry.rate_revision
        if hit is not None and hit[0] is entry and hit[1] == revision:
            self.hits += 1
            return hit[2]
        self.misses += 1
        try:
            r: float | None = entry.adapter.spot_rate(entry.state, entry.aux, a_to_b)
        except DexError:
            r = None
        self._entries[key] = (entry, revision, r)
        return r

    def forget(self, pool: Pubkey) -> None:
        """Drop both directions of ``pool`` (not needed for correctness: see the class)."""
        self._entries.pop((pool, True), None)
        self._entries.pop((pool, False), None)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()


def cycle_rate(
    market: MarketState,
    cycle: Cycle,
    rates: dict[tuple[Pubkey, bool], float] | SpotRates | None = None,
) -> tuple[float, list[PoolEntry]] | None:
    """The product of the float spot rates along ``cycle`` (fees included) and its pools'
    entries; ``None`` if a pool is not tradable or a spot rate cannot be computed. ``rates``: as
    in :func:`~solarb.strategy.cycles.evaluate_cycle`."""
    pools = market.pools
    entries: list[PoolEntry] = []
    rate = 1.0
    for leg in cycle.legs:
        entry = pools.get(leg.pool)
        if entry is None or not entry.ready or entry.quarantined:
            return None
        entries.append(entry)
        if type(rates) is SpotRates:
            r = rates.rate(entry, leg.a_to_b)
            if r is None:
                return None
        else:
            k = (leg.pool, leg.a_to_b)
            r = rates.get(k) if rates is not None else None  # type: ignore[union-attr]
            if r is None:
                try:
                    r = entry.adapter.spot_rate(entry.state, entry.aux, leg.a_to_b)
                except DexError:
                    return None
                if rates is not None:
                    rates[k] = r  # type: ignore[index]
        rate *= r
    return rate, entries
