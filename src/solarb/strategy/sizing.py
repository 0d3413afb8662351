"""Exact integer sizing of a cycle: the input that maximises ``out(x) - x``.

``out`` is the cycle's chained exact quote (a non-decreasing step function of ``x`` for the AMMs
we trade); a :class:`~solarb.dex.base.DexError` from it (a ``QuoteError``, or a ``DecodeError`` on
bad aux bytes) marks that size infeasible. No float ever becomes an amount: the searches run on
integers, floats only choose where to probe, and every figure comes from ``out``.

:func:`maximize_profit_model` (what :class:`~solarb.strategy.cycles.CycleFinder` runs, over a
chain through :func:`maximize_chain_model`, or its C port ``solarb.native._sizing``):

1. Model iteration: ``g(x) = x / out(x)`` is linear for constant-product and in-range
   concentrated chains (``out`` is a Moebius map through the origin), ``g(0) = 1 / rate`` from
   the float spot rates. The line through ``(0, 1 / rate)`` and the last exact probe gives the
   model optimum ``x* = (sqrt(c0) - c0) / c1``; probe it, repeat until the step is within
   ``tol_ppm`` of ``x``, would gain less than the rounding noise, or returns to a probed size.
   2-3 quotes from a warm start.
2. Check: the line must also explain an earlier probe at another size (in ``[x/4, 2x]``, at
   least ``x/8`` away; a warm start that converged at once has none and is trusted: measured,
   a check probe costs 0.65 quotes per sizing for 0.00007 % of profit). If it does not (a DLMM
   bin edge or a tick crossed in between: "polish"), or the model misbehaves (non-positive
   slope, a probe worse than an earlier one, infeasible probes it cannot back away from, no
   convergence in ``max_steps``), the search falls back to step 3.
3. Fallback: successive parabolic interpolation on the bracket of the best probe, a golden step
   whenever a parabolic one cuts the bracket by less than 30 % (kinks), at most 12 quotes; then
   the golden search on what is left of the bracket, down to ``width_ppm``.
4. Step start, when the caller says the output step may be wide: the smallest input with the
   same output, to within 1/32 of the step's estimated width.

:func:`maximize_profit` (the full golden search, the reference and fallback):

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
Measured on the bench workload by ``bench/sizing_quality.py`` (figures: ``cycles`` constants).

:func:`maximize_chain_model` (the model search over a chain of bound quoters) is the reference of
the C kernel ``solarb.native._sizing`` that ``size_cycle`` runs: the same probes in the same
order, hence the same result. Its floats are written so C can repeat them: every int enters a
float operation through ``float()`` (correctly rounded), never through an int/int division.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from solarb.dex.base import DexError, Quote
from solarb.frozen import fast_init

__all__ = [
    "INFEASIBLE",
    "Sized",
    "chain_quotes",
    "maximize_chain_model",
    "maximize_profit",
    "maximize_profit_model",
]

INFEASIBLE = -(1 << 255)
"""Profit recorded for a size the chain cannot fill (an integer, below any real profit)."""

_GOLD_NUM, _GOLD_DEN = 618_034, 1_000_000  # 1/phi as an exact fraction
_RESID_MULT = 4.0  # the line "explains" a probe if it misses by < 4x the rounding noise there
_PARABOLIC_STEPS = 12  # quotes of parabolic interpolation before the golden search takes over
_RESOLUTION_DIV = 32  # the step start is found to within 1/32 of the step's estimated width
U64_MAX = (1 << 64) - 1  # an amount_out above it is an adapter bug (chain_quotes raises)


@fast_init
@dataclass(slots=True, frozen=True)
class Sized:
    """Best size found: ``profit = amount_out - amount_in``; ``quotes`` = chain evaluations used."""

    amount_in: int
    amount_out: int
    quotes: int
    fallback: str = ""
    """Why a model search fell back to the parabolic, then golden search (``""``: it did not)."""

    @property
    def profit(self) -> int:
        """``amount_out - amount_in`` in base units of the start mint."""
        return self.amount_out - self.amount_in


class _Probe:
    """Memoised ``x -> out(x)`` (``None`` when infeasible)."""

    __slots__ = ("cache", "out_fn")

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
    """Search ``[lo, hi]`` for the input maximising ``out_fn(x) - x`` (golden section).

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
    best_x = _golden(probe, lo, hi, scan_width, flat_tolerance, width_ppm)
    if best_x is None:
        return None
    best_x = _refine(probe, best_x, lo, hi, climb_rounds, lookahead)
    y = probe.out(best_x)
    assert y is not None
    return Sized(amount_in=best_x, amount_out=y, quotes=len(probe.cache))


def maximize_profit_model(
    out_fn: Callable[[int], int],
    hi: int,
    *,
    rate: float,
    seed: int | None = None,
    lo: int = 1,
    tol_ppm: int = 1_000,
    max_steps: int = 8,
    width_ppm: int = 1_000,
    refine: Callable[[int, int], bool] | bool = True,
    noise: Callable[[int], int] | None = None,
) -> Sized | None:
    """Model-seeded exact search of ``[lo, hi]`` for the input maximising ``out_fn(x) - x``
    (module docstring, first list).

    ``rate``: the product of the cycle's float spot rates, fees included (``g(0) = 1 / rate``).
    ``seed``: where the model starts (a warm start: this cycle's last optimum), else ``hi``.
    ``tol_ppm``: the model stops once its next step is at most that many millionths of ``x``.
    ``max_steps``: model probes before giving up. ``width_ppm``: the golden searches stop at a
    bracket that many millionths of its upper end wide. ``noise(x)``: the caller's estimate of
    the profit's rounding noise at ``x`` in base units (the width of the output step; default
    0): the model stops once a step would gain less, the checks tolerate that much.
    ``refine``: move the result to the start of its output step: ``True``/``False``, or a
    callable ``(x, quotes_so_far) -> bool``. ``Sized.fallback`` says which path ran: ``""``
    (the model), else why it fell back (``"polish"``: the line does not hold over ``[0, x]``;
    ``"rate"``, ``"model"``, ``"not_improving"``, ``"infeasible"``, ``"steps"``). Returns
    ``None`` only when every probed size was infeasible.
    """
    if hi < lo:
        return None
    probe = _Probe(out_fn)
    best_x, reason = _model_search(probe, lo, hi, rate, seed, tol_ppm, max_steps, noise)
    if reason:
        best_x = _parabolic(probe, lo, hi, tol_ppm, width_ppm, _noise(noise, best_x or hi))
        if best_x is None:
            return None
    assert best_x is not None
    if refine is True or (refine is not False and refine(best_x, len(probe.cache))):
        best_x = _step_start(probe, best_x, lo, noise(best_x) if noise is not None else 1)
    y = probe.out(best_x)
    assert y is not None
    return Sized(amount_in=best_x, amount_out=y, quotes=len(probe.cache), fallback=reason)


def chain_quotes(
    steps: Sequence[Callable[[int], Quote]],
) -> tuple[Callable[[int], int], Callable[[int], int], dict[int, list[Quote]]]:
    """``(out, step_width, quotes_at)`` of a chain of bound quoters: ``out(x)`` the last hop's
    output (0 as soon as a hop outputs <= 0; a quoter's ``DexError`` propagates; a hop's
    ``amount_out`` above 2^64 - 1 raises ``OverflowError`` right after that hop, as the C kernel
    does: no Solana amount exceeds u64, so such a quote is an adapter bug, never a size to
    trade), recording each completed chain's quotes in ``quotes_at[x]``; ``step_width(x)`` the
    width of the output step at a recorded ``x``, about ``ceil(x / m)`` for the smallest
    intermediate output ``m`` (1 when none is recorded or the chain has one hop)."""
    quotes_at: dict[int, list[Quote]] = {}

    def out(x: int) -> int:
        x0 = x
        chain = []
        for quote in steps:
            q = quote(x)
            x = q.amount_out
            if x <= 0:
                return 0
            if x > U64_MAX:
                raise OverflowError("Quote.amount_out above 2^64 - 1")
            chain.append(q)
        quotes_at[x0] = chain
        return x

    def step_width(x: int) -> int:
        chain = quotes_at.get(x)
        if chain is None or len(chain) < 2:
            return 1
        return -(-x // min(q.amount_out for q in chain[:-1]))

    return out, step_width, quotes_at


def maximize_chain_model(
    steps: Sequence[Callable[[int], Quote]],
    hi: int,
    *,
    rate: float,
    seed: int | None = None,
    lo: int = 1,
    tol_ppm: int = 1_000,
    width_ppm: int = 1_000,
    max_steps: int = 8,
    refine: bool | None = None,
    min_width: int = 1,
) -> tuple[Sized, tuple[Quote, ...] | None] | None:
    """:func:`maximize_profit_model` of the chained quoters ``steps`` (:func:`chain_quotes`),
    the noise being the output step's width; ``refine=None``: move to the step start when that
    width at the best size is at least ``min_width``. The best size and its chain of quotes
    (``None`` when a hop output 0 there); ``None`` when no size was feasible. The Python
    reference of the C kernel ``solarb.native._sizing`` (``search``, the same arguments
    positionally and ``DexError``; bit-identical results: differential tests)."""
    out, step_width, quotes_at = chain_quotes(steps)

    def wide_step(x: int, _quotes: int) -> bool:
        return step_width(x) >= min_width

    sized = maximize_profit_model(
        out, hi, rate=rate, seed=seed, lo=lo, tol_ppm=tol_ppm, max_steps=max_steps,
        width_ppm=width_ppm, refine=wide_step if refine is None else refine, noise=step_width,
    )  # fmt: skip
    if sized is None:
        return None
    chain = quotes_at.get(sized.amount_in)
    return sized, None if chain is None else tuple(chain)


def _model_search(
    probe: _Probe,
    lo: int,
    hi: int,
    rate: float,
    seed: int | None,
    tol_ppm: int,
    max_steps: int,
    noise: Callable[[int], int] | None,
) -> tuple[int | None, str]:
    """Iteration on the line model of ``g(x) = x / out(x)`` (see :func:`maximize_profit_model`):
    the best probe and ``""``; or ``"polish"`` when it converged but the line does not hold over
    ``[0, x]``; or ``None`` and the reason to fall back."""
    if not 1.0 < rate < math.inf:
        return None, "rate"
    g0 = 1.0 / rate
    lower = 0  # infeasible probes back off towards this (the last feasible probe)
    x = hi if seed is None else min(max(seed, lo), hi)
    best_p = INFEASIBLE
    steps = backoffs = 0
    while steps < max_steps:
        y = probe.out(x)
        if y is None or y <= 0:  # infeasible (or nothing out): back off 15/16 of the way
            nx = lower + (x - lower) // 16
            backoffs += 1
            if y is not None or nx < lo or nx in (x, lower) or backoffs > max_steps:
                return None, "infeasible"
            x = nx
            continue
        steps += 1
        rounding = _noise(noise, x)
        p = y - x
        if p < best_p - 2 * rounding - 1:  # the model moved the wrong way: it does not fit
            return None, "not_improving"
        best_p = max(best_p, p)
        lower = x
        g = float(x) / y  # float(int) / float(int): what the C kernel computes
        if abs(g - g0) <= _RESID_MULT * (rounding + 1) / y and x < hi:
            # the curve cannot be told from its tangent at x = 0 within the rounding of this
            # small output: the slope would be noise. Probe a larger size first.
            x = min(hi, x * 16)
            continue
        c1 = (g - g0) / x  # the line through (0, 1 / rate) and (x, g(x))
        if not 0.0 < c1 < math.inf or not 0.0 < g0 < 1.0:
            return None, "model"
        nx = int((math.sqrt(g0) - g0) / c1 + 0.5)
        nx = lo if nx < lo else min(nx, hi)
        if (
            abs(nx - x) * 1_000_000 > tol_ppm * x
            and _gain(g0, c1, x, nx) >= rounding + 1
            and nx not in probe.cache
        ):
            x = nx
            continue
        # converged: the next step is within tolerance, gains less than the rounding noise (or
        # one base unit), or goes back to a size already probed (rounding makes it oscillate)
        best = _best_probe(probe)
        if probe.profit(best) - p > 2 * rounding + 1 and abs(best - x) * 1_000_000 > tol_ppm * x:
            return None, "not_improving"
        # does the line also explain a probe well below or above x? (not if a kink lies between:
        # DLMM bins, ticks crossed). Its error at ``check`` grows with ``check / x``.
        check = next(
            (
                q
                for q, out_q in probe.cache.items()
                if out_q and x // 4 <= q <= 2 * x and abs(q - x) * 8 >= x
            ),
            0,
        )
        if not check:  # a warm start that converged at once: its last sizing checked it
            return best, ""
        out_c = probe.cache[check]
        assert out_c
        tol_g = _RESID_MULT * (
            float(rounding + 1) / y * (float(check) / x) + float(_noise(noise, check) + 1) / out_c
        )
        if abs(g0 + c1 * check - float(check) / out_c) > tol_g:
            return best, "polish"
        return best, ""
    return None, "steps"


def _parabolic(
    probe: _Probe, lo: int, hi: int, tol_ppm: int, width_ppm: int, rounding: int
) -> int | None:
    """Successive parabolic interpolation on the bracket of the best probe (``x = 0`` with
    profit 0 stands in for an unprobed lower end), at most ``_PARABOLIC_STEPS`` quotes, then the
    golden search on what is left of the bracket; the best size examined (``None`` if no probe
    was feasible). Exact probes throughout: the parabola only chooses where to look."""
    if not any(y is not None and y > 0 for y in probe.cache.values()):
        a, b = _bracket(probe, lo, hi)
        return _golden(probe, a, b, 8, 1, width_ppm)
    f = probe.profit
    width = hi - lo + 1
    for _ in range(_PARABOLIC_STEPS):
        m = _best_probe(probe)
        a, b = _bracket(probe, lo, hi)
        slow = (b - a) * 10 > width * 7  # the last step cut less than 30 %: golden step next
        width = b - a
        if b == hi and hi not in probe.cache:
            f(hi)
            continue
        if (b - a) * 1_000_000 <= width_ppm * b or b - a <= 8:
            break
        x1, x2, x3 = (0 if a == lo and lo not in probe.cache else a), m, b
        p1 = 0 if x1 == 0 else f(x1)
        p2, p3 = f(x2), f(x3)
        if p1 == INFEASIBLE or p3 == INFEASIBLE:
            break  # an infeasible end: leave it to the golden search
        if p2 - max(p1, p3) <= rounding and x1:
            break  # flat within rounding noise
        num = (x2 - x1) ** 2 * (p2 - p3) - (x2 - x3) ** 2 * (p2 - p1)
        den = (x2 - x1) * (p2 - p3) - (x2 - x3) * (p2 - p1)
        step = tol_ppm * x2 // 1_000_000 + 1
        if slow or not den:  # a golden step into the wider side (parabolas stall on kinks)
            if x3 - x2 > x2 - x1:
                u = x2 + (x3 - x2) * (_GOLD_DEN - _GOLD_NUM) // _GOLD_DEN
            else:
                u = x2 - (x2 - x1) * (_GOLD_DEN - _GOLD_NUM) // _GOLD_DEN
        else:
            u = round(x2 - 0.5 * num / den)  # float(num) * 0.5 / float(den): floats throughout
        if abs(u - x2) < step:  # at least the tolerance, towards the wider side
            u = x2 + step if x3 - x2 > x2 - x1 else x2 - step
        if not max(x1, lo - 1) < u < x3 or u == x2 or u in probe.cache:
            break
        f(u)
    a, b = _bracket(probe, lo, hi)
    found = _golden(probe, a, b, 8, 1, width_ppm)
    best = _best_probe(probe)
    if found is None or probe.profit(best) > probe.profit(found):
        return best
    return found


def _noise(noise: Callable[[int], int] | None, x: int) -> int:
    """The caller's rounding-noise estimate at ``x`` (0 without one)."""
    return noise(x) if noise is not None else 0


def _gain(c0: float, c1: float, x: int, nx: int) -> float:
    """Profit the line model predicts from moving ``x -> nx`` (floats: only decides stopping)."""
    return (nx / (c0 + c1 * nx) - nx) - (x / (c0 + c1 * x) - x)


def _best_probe(probe: _Probe) -> int:
    """The feasible probe with the highest profit (the smallest on ties)."""
    best_x, best_p = 0, INFEASIBLE
    for x, y in probe.cache.items():
        if y is not None and (y - x > best_p or (y - x == best_p and x < best_x)):
            best_x, best_p = x, y - x
    return best_x


def _bracket(probe: _Probe, lo: int, hi: int) -> tuple[int, int]:
    """The nearest probed sizes on each side of the best probe (``lo``/``hi`` when none): they
    bracket the optimum of a unimodal profit. ``(lo, hi)`` when no probe was feasible."""
    if not any(y is not None for y in probe.cache.values()):
        return lo, hi
    best = _best_probe(probe)
    a, b = lo, hi
    for x in probe.cache:
        if a < x < best:
            a = x
        elif best < x < b:
            b = x
    return a, b


def _golden(
    probe: _Probe, lo: int, hi: int, scan_width: int, flat_tolerance: int, width_ppm: int
) -> int | None:
    """Golden-section search of ``[lo, hi]`` then a scan of the final bracket (module docstring,
    steps 1-2); the best size examined, or ``None`` if all were infeasible."""
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
    return best_x


def _step_start(probe: _Probe, x: int, lo: int, width: int = 1) -> int:
    """Smallest ``x' in [lo, x]`` with ``out(x') == out(x)`` (out is non-decreasing), to within
    ``resolution = max(1, width // 32)`` base units: ``width`` is an estimate of the step's width
    (the first gallop step is half of it; 1 = unknown, exact search from single units)."""
    y = probe.out(x)
    step = max(1, width // 2)
    resolution = max(1, width // _RESOLUTION_DIV)
    good = x
    while True:
        cand = x - step
        cand = max(cand, lo)
        if probe.out(cand) == y:
            good = cand
            if cand == lo:
                return lo
            step *= 2
            continue
        bad = cand
        break
    # out(bad) != y, out(good) == y, bad < good: binary search the boundary.
    while good - bad > resolution:
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
        cand = min(cand, hi)
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
