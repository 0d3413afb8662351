"""Bound quoters for sizing: one ``amount_in -> Quote`` callable per (pool, direction).

A bound quoter (the adapter's ``quoter(state, aux, a_to_b)``) is valid while the pool's decoded
state and every auxiliary account it reads stay as they are. :func:`bind` binds each
(pool, direction) once for one market state (one pool change); :func:`bind_slots` keeps them
across changes, in a list by the finder's slot number of each (pool, direction), reusing one only
while the market has not written the pool's entry since it was bound
(:attr:`~solarb.market.state.PoolEntry.revision`, bumped on every write to ``state``, ``aux``
with the Clock sysvar, ``ready`` and ``quarantined``) and the entry is the same object (a pool
removed and registered again gets a new one). When only Clock writes moved
``revision`` (:attr:`~solarb.market.state.PoolEntry.rate_revision` is not above the
``revision`` at binding: stamps only increase) and the adapter has ``reclock``, the kept
quoter is brought to the new Clock by it instead of being bound anew.
"""

from __future__ import annotations

from collections.abc import Callable

from solders.pubkey import Pubkey

from solarb.dex.base import DexError, Quote, plain_quoter
from solarb.market.state import PoolEntry

__all__ = [
    "Kept",
    "KeptSlots",
    "Legs",
    "SlotLegs",
    "bind",
    "bind_slots",
    "bound_quote",
]

Legs = tuple[tuple[tuple[Pubkey, bool], PoolEntry], ...]
"""A cycle's legs as ``((pool, a_to_b), entry)``: the key its bound quoter is shared under."""

SlotLegs = tuple[tuple[tuple[Pubkey, bool], PoolEntry, int], ...]
"""A cycle's legs as ``((pool, a_to_b), entry, slot)``: ``slot`` numbers the (pool, direction)
(the finder's rate-table slot), the index its bound quoter is kept at in a :data:`KeptSlots`."""

KeptSlots = list[tuple[PoolEntry, int, Callable[[int], Quote]] | None]
"""Bound quoters kept across pool changes, indexed by each (pool, direction)'s slot number:
``(entry, entry.revision at binding or reclocking, quoter)``, ``None`` when nothing is kept. A
list, not a dict keyed by ``(Pubkey, bool)``: no Pubkey hash (its 32 bytes each time) per leg."""

Kept = dict[tuple[Pubkey, bool], tuple[PoolEntry, int, Callable[[int], Quote]]]
""":data:`KeptSlots` by ``(pool, a_to_b)``: the finder's ``_quoters`` view (inspection)."""


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


def bind_slots(legs: SlotLegs, kept: KeptSlots) -> tuple[Callable[[int], Quote], ...]:
    """The bound quoter of each leg, kept across pool changes at the leg's slot in ``kept`` (a
    list long enough for every slot): reused while the leg's entry is the one it was bound for
    and its ``revision`` is unchanged, else replaced in its slot by the same quoter
    :func:`bound_quote` gives for the entry as it is now (reclocked after Clock-only writes, see
    :func:`_rebound`)."""
    steps = []
    for key, entry, s in legs:
        k = kept[s]
        if k is None or k[0] is not entry or k[1] != entry.revision:
            k = kept[s] = (entry, entry.revision, _rebound(entry, key[1], k))
        steps.append(k[2])
    return tuple(steps)


def _rebound(
    entry: PoolEntry, a_to_b: bool, k: tuple[PoolEntry, int, Callable[[int], Quote]] | None
) -> Callable[[int], Quote]:
    """:func:`bound_quote` of ``entry`` now: the kept ``k``'s quoter brought to the new Clock by
    the adapter's ``reclock`` when ``k`` was bound for ``entry`` and the market wrote only the
    Clock to it since (every other write sets ``rate_revision`` to a stamp above the
    ``revision`` ``k`` holds), else bound anew (also when ``reclock`` answers None)."""
    if k is not None and k[0] is entry and entry.rate_revision <= k[1]:
        reclock = getattr(entry.adapter, "reclock", None)
        if reclock is not None:
            q = reclock(k[2], entry.state, entry.aux, a_to_b)
            if q is not None:
                return q  # type: ignore[no-any-return]
    return bound_quote(entry, a_to_b)
