"""Warm-up: what the first update of each pool would pay on the hot path, paid once at load.

After the market is loaded and before streaming starts, the node and ``solarb bench`` call
:func:`warm_up`: the finder binds and keeps the quoter of every (pool, direction) its cycles use
(the adapters decode the tick/bin arrays and build their plans) and fills its spot-rate table
(:meth:`~solarb.strategy.cycles.CycleFinder.warm`), and the freshness view makes and lays out
every pool's account group (:meth:`~solarb.feeds.freshness.MarketFreshness.warm`), and the
transaction builder derives the payer's token account of every pool's mints
(:meth:`~solarb.execution.builder.TxBuilder.warm_atas`). Nothing a decision reads changes: each
warmed object is the one the first update would have made, and is used only while the market
has not written what it was made from.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from solders.pubkey import Pubkey

from solarb.execution.builder import TxBuilder
from solarb.feeds.freshness import MarketFreshness
from solarb.market.state import MarketState
from solarb.strategy.cycles import CycleFinder

__all__ = ["WarmUp", "current_rss_mb", "mint_programs", "warm_up"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(slots=True, frozen=True)
class WarmUp:
    """What :func:`warm_up` did: ``quoters`` bound, pools whose spot ``rates`` were computed,
    freshness ``groups`` made, payer token accounts (``atas``) the builder holds, in
    ``seconds`` (``finder_s`` of them the finder's); resident memory before, after the finder
    and after the groups (MB, -1.0 where ``/proc`` is not there)."""

    seconds: float
    finder_s: float
    quoters: int
    rates: int
    groups: int
    rss_before_mb: float
    rss_finder_mb: float
    rss_after_mb: float
    atas: int = 0

    def figures(self) -> dict[str, Any]:
        """A JSON-ready dict (times rounded to the millisecond)."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        out["finder_s"] = round(self.finder_s, 3)
        return out


def current_rss_mb() -> float:
    """This process's resident memory now (MB; -1.0 without ``/proc/self/statm``)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return -1.0
    return round(pages * _PAGE / 2**20, 1)


def mint_programs(
    market: MarketState, pools: Iterable[Pubkey] | None = None
) -> dict[Pubkey, Pubkey]:
    """Each mint of ``pools`` (every pool of ``market`` when ``None``; unknown ones skipped) ->
    its token program."""
    entries = market.pools
    out: dict[Pubkey, Pubkey] = {}
    for p in entries if pools is None else pools:
        entry = entries.get(p)
        if entry is not None:
            st = entry.state
            out[st.mint_a] = st.token_program_a
            out[st.mint_b] = st.token_program_b
    return out


def warm_up(
    finder: CycleFinder,
    freshness: MarketFreshness | None,
    pools: Iterable[Pubkey] | None = None,
    builder: TxBuilder | None = None,
) -> WarmUp:
    """Warm ``finder``, ``freshness`` and ``builder`` for ``pools`` (every pool when ``None``);
    untimed work for a caller that has not started streaming (at 10,000 bench pools: a few
    seconds)."""
    rss0 = current_rss_mb()
    t0 = time.perf_counter()
    chosen = None if pools is None else list(pools)
    quoters, rates = finder.warm(chosen)
    finder_s = time.perf_counter() - t0
    rss1 = current_rss_mb()
    groups = 0 if freshness is None else freshness.warm(chosen)
    atas = 0
    if builder is not None:
        atas = len(builder.warm_atas(mint_programs(finder.market, chosen).items()))
    seconds = time.perf_counter() - t0
    return WarmUp(seconds, finder_s, quoters, rates, groups, rss0, rss1, current_rss_mb(), atas)
