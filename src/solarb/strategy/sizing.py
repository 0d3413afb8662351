"""Exact integer sizing of a cycle: the input that maximises ``out(x) - x``.

``out`` is the cycle's chained exact quote (a non-decreasing step function of ``x`` for the AMMs
we trade); a :class:`~solarb.dex.base.DexError` from it (a ``QuoteError``, or a ``DecodeError`` on
bad aux bytes) marks that size infeasible. No float ever becomes an amount: the search runs on
integers and every figure comes from ``out``.

1. Golden-section search on ``[lo, hi]`` with symmetric integer probes (one new quote per step),
   treating the profit as unimodal, until the bracket is at most ``scan_width`` wide or its
   probes all lie within ``flat_tolerance`` base units (a flat top: more halving would only
   chase rounding noise).
2. Exhaustive scan of a narrow bracket (or the best probe of a flat one); the cap ``hi`` is
   always a candidate.
3. Exact local refinement: since ``out`` is a step function, move to the smallest input that still
   yields the same output (galloping + binary search), then hill-climb across neighbouring steps
   (looking ``lookahead`` steps each way) while the profit strictly improves (bounded).

The result is the exact optimum of the sizes examined, and the global optimum up to rounding
noise (a few base units of profit) when the profit is unimodal, as it is for chained AMM curves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from solarb.dex.base import DexError

__all__ = ["INFEASIBLE", "Sized", "maximize_profit"]

INFEASIBLE = -(1 << 255)
"""Profit recorded for a size the chain cannot fill (an integer, below any real profit)."""

_GOLD_NUM, _GOLD_DEN = 618_034, 1_000_000  # 1/phi as an exact fraction


@dataclass(slots=True, frozen=True)
class Sized:
    """Best size found: ``profit = amount_out - amount_in``; ``quotes`` = chain evaluations used."""

    amount_in: int
    amount_out: int
    quotes: int

    @property
    def profit(self) -> int:
        """``amount_out - amount_in`` in base units of the start mint."""
        return self.amount_out - self.amount_in


class _Probe:
    """Memoised ``x -> out(x)`` (``None`` when infeasible)."""

    __slots__ = ("out_fn", "cache")

    def __init__(self, out_fn: Callable[[int], int]) -> None:
        self.out_fn = out_fn
        self.cache: dict[int, int | None] = {}

    def out(self, x: int) -> int | None:
        cache = self.cache
        if x in cache:
            return cache[x]
        try:
            y: int | None = self.out_fn(x)
        except DexError:  # QuoteError, or aux bytes that do not decode
            y = None
        cache[x] = y
        return y

    def profit(self, x: int) -> int:
        y = self.out(x)
        return INFEASIBLE if y is None else y - x


def maximize_profit(
    out_fn: Callable[[int], int],
    hi: int,
    *,
    lo: int = 1,
    scan_width: int = 8,
    climb_rounds: int = 8,
    lookahead: int = 4,
    flat_tolerance: int = 1,
    width_ppm: int = 0,
) -> Sized | None:
    """Search ``[lo, hi]`` for the input maximising ``out_fn(x) - x``.

    ``flat_tolerance`` (base units) stops the golden search early once every probe of the
    bracket lies within it (a flat top, where further halving only chases rounding noise); 0
    disables that and always narrows down to ``scan_width``. ``width_ppm`` > 0 also stops it once
    the bracket is at most that many millionths of its upper end wide (the profit is flat to
    second order there; the local refinement then finishes on exact quotes).

    Returns the best feasible size (its profit may be <= 0; the caller applies thresholds), or
    ``None`` if every probed size raised :class:`QuoteError`. The result is exact for the sizes
    examined; it is the global optimum when the profit is unimodal up to step-rounding noise.
    """
    if hi < lo:
        return None
    probe = _Probe(out_fn)
    f = probe.profit
    cache = probe.cache
    a, b = lo, hi
    p_hi = f(hi)  # also tells which end is infeasible when both probes are
    if b - a > scan_width:
        d = a + (b - a) * _GOLD_NUM // _GOLD_DEN
        c = a + b - d
        fc, fd = f(c), f(d)
        while b - a > scan_width:
            if width_ppm and (b - a) * 1_000_000 <= width_ppm * b:
                break
            if not a < c < d < b:
                d = a + (b - a) * _GOLD_NUM // _GOLD_DEN
                c = a + b - d
                if not a < c < d < b:
                    break
                fc, fd = f(c), f(d)
            if flat_tolerance and a in cache and b in cache:
                # every probe of the bracket within flat_tolerance: the top is flat to within
                # rounding noise; stop here and let the local refinement finish exactly
                low = min(f(a), f(b))
                if low != INFEASIBLE and max(fc, fd) - low <= flat_tolerance:
                    break
            if fc == INFEASIBLE and fd == INFEASIBLE:
                # Sizes fail at the bottom (output rounds to zero) or at the top (liquidity,
                # overflow). A feasible cap means the failures are at the bottom.
                if p_hi != INFEASIBLE:
                    a = d
                else:
                    b = c
                d = a + (b - a) * _GOLD_NUM // _GOLD_DEN
                c = a + b - d
                fc, fd = f(c), f(d)
            elif fc == fd:
                a, b = c, d  # no direction: keep the middle (unimodal up to rounding noise)
                d = a + (b - a) * _GOLD_NUM // _GOLD_DEN
                c = a + b - d
                fc, fd = f(c), f(d)
            elif fc < fd:
                a, c, fc = c, d, fd
                d = a + b - c
                fd = f(d)
            else:
                b, d, fd = d, c, fc
                c = a + b - d
                fc = f(c)
    if b - a <= scan_width:
        candidates: Iterable[int] = range(a, b + 1)
    else:  # stopped on a flat top: the best probe so far inside the bracket
        candidates = [x for x in cache if a <= x <= b]
    best_x, best_p = a, INFEASIBLE
    for x in candidates:
        p = f(x)
        if p > best_p or (p == best_p and x < best_x):
            best_x, best_p = x, p
    if p_hi > best_p:  # the optimum often sits on the cap, where the search is least sure
        best_x, best_p = hi, p_hi
    if best_p == INFEASIBLE:
        return None
    best_x = _refine(probe, best_x, lo, hi, climb_rounds, lookahead)
    y = probe.out(best_x)
    assert y is not None
    return Sized(amount_in=best_x, amount_out=y, quotes=len(probe.cache))


def _step_start(probe: _Probe, x: int, lo: int) -> int:
    """Smallest ``x' in [lo, x]`` with ``out(x') == out(x)`` (out is non-decreasing)."""
    y = probe.out(x)
    step = 1
    good = x
    while True:
        cand = x - step
        if cand < lo:
            cand = lo
        if probe.out(cand) == y:
            good = cand
            if cand == lo:
                return lo
            step *= 2
            continue
        bad = cand
        break
    # out(bad) != y, out(good) == y, bad < good: binary search the boundary.
    while good - bad > 1:
        mid = (good + bad) // 2
        if probe.out(mid) == y:
            good = mid
        else:
            bad = mid
    return good


def _step_end(probe: _Probe, x: int, hi: int) -> int:
    """Largest ``x' in [x, hi]`` with ``out(x') == out(x)``."""
    y = probe.out(x)
    step = 1
    good = x
    while True:
        cand = x + step
        if cand > hi:
            cand = hi
        if probe.out(cand) == y:
            good = cand
            if cand == hi:
                return hi
            step *= 2
            continue
        bad = cand
        break
    while bad - good > 1:
        mid = (good + bad) // 2
        if probe.out(mid) == y:
            good = mid
        else:
            bad = mid
    return good


def _refine(probe: _Probe, x: int, lo: int, hi: int, rounds: int, lookahead: int) -> int:
    """Move to the start of ``x``'s output step, then climb: look at the next ``lookahead`` steps
    above and below and jump to the best if it is strictly better (at most ``rounds`` times)."""
    f = probe.profit
    x = _step_start(probe, x, lo)
    best = f(x)
    for _ in range(rounds):
        cand_x, cand_p = x, best
        y = x
        for _ in range(lookahead):  # steps above
            end = _step_end(probe, y, hi)
            if end >= hi:
                break
            y = end + 1
            p = f(y)
            if p == INFEASIBLE:
                break
            if p > cand_p:
                cand_x, cand_p = y, p
        y = x
        for _ in range(lookahead):  # steps below
            if y <= lo:
                break
            y = _step_start(probe, y - 1, lo)
            p = f(y)
            if p > cand_p:
                cand_x, cand_p = y, p
        if cand_x == x:
            break
        x, best = cand_x, cand_p
    return x
