"""Bound quoters for sizing: one ``amount_in -> Quote`` callable per (pool, direction).

A bound quoter (the adapter's ``quoter(state, aux, a_to_b)``) is valid while the pool's decoded
state and every auxiliary account it reads stay as they are. :func:`bind` binds each
(pool, direction) once for one market state (one pool change); :func:`bind_kept` keeps them
across changes, reusing one only while the market has not written the pool's entry since it
was bound (:attr:`~solarb.market.state.PoolEntry.revision`, bumped on every write to
``state``, ``aux`` with the Clock sysvar, ``ready`` and ``quarantined``) and the entry is the
same object (a pool removed and registered again gets a new one).
"""

from __future__ import annotations

from collections.abc import Callable

from solders.pubkey import Pubkey

from solarb.dex.base import DexError, Quote, plain_quoter
from solarb.market.state import PoolEntry

__all__ = ["Kept", "Legs", "bind", "bind_kept", "bound_quote"]

Legs = tuple[tuple[tuple[Pubkey, bool], PoolEntry], ...]
"""A cycle's legs as ``((pool, a_to_b), entry)``: the key its bound quoter is shared under."""

Kept = dict[tuple[Pubkey, bool], tuple[PoolEntry, int, Callable[[int], Quote]]]
"""Bound quoters kept across pool changes by (pool, a_to_b): ``(entry, entry.revision at
binding, quoter)``; one slot per key, so at most two per pool."""


def bound_quote(entry: PoolEntry, a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> entry.adapter.quote(entry.state, entry.aux, x, a_to_b)`` while the entry is not
    written: the adapter's ``quoter`` when it has one (its caches are checked once, not per
    probe), else a plain closure."""
    adapter, state, aux = entry.adapter, entry.state, entry.aux
    quoter = getattr(adapter, "quoter", None)
    if quoter is not None:
        try:
            return quoter(state, aux, a_to_b)  # type: ignore[no-any-return]
        except DexError:
            pass  # each probe's quote then raises it (an infeasible size)
    return plain_quoter(adapter.quote, state, aux, a_to_b)


def bind(
    legs: Legs, bound: dict[tuple[Pubkey, bool], Callable[[int], Quote]]
) -> tuple[Callable[[int], Quote], ...]:
    """The bound quoter of each leg, each ``(pool, a_to_b)`` key bound once in ``bound`` (for
    one market state: the caller empties it when the market changes)."""
    steps = []
    for key, entry in legs:
        step = bound.get(key)
        if step is None:
            step = bound[key] = bound_quote(entry, key[1])
        steps.append(step)
    return tuple(steps)


def bind_kept(legs: Legs, kept: Kept) -> tuple[Callable[[int], Quote], ...]:
    """The bound quoter of each leg, kept across pool changes in ``kept``: reused while the
    leg's entry is the one it was bound for and its ``revision`` is unchanged, else bound anew
    in its slot (the same quoter :func:`bound_quote` gives for the entry as it is now)."""
    steps = []
    for key, entry in legs:
        k = kept.get(key)
        if k is None or k[0] is not entry or k[1] != entry.revision:
            k = kept[key] = (entry, entry.revision, bound_quote(entry, key[1]))
        steps.append(k[2])
    return tuple(steps)
