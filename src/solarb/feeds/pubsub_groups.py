"""Per-pool freshness groups of :class:`~solarb.feeds.pubsub.PubSubFeed`.

:meth:`PubSubFeed.group_slot <solarb.feeds.pubsub.PubSubFeed.group_slot>` answers
``min_account_slot(group.keys)`` for an :class:`AccountGroup` (a pool and its auxiliary accounts)
from caches kept exact by the feed's subscription changes, its shards' slots and the delivery
stage. The feed keeps the public methods (``group``/``release``/``group_slot``) and the fast path
(cached answer, then whether an account is queued); this module holds the groups and the
recomputation, as functions of the feed. It reads the feed's ``_watched``, ``_fresh_on``,
``_topology`` and ``_stamp`` (see :class:`~solarb.feeds.pubsub.PubSubFeed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

if TYPE_CHECKING:
    from solarb.feeds.pubsub import PubSubFeed
    from solarb.feeds.pubsub_shards import _Shard

__all__ = ["AccountGroup", "group_answer", "release_group"]


class _Part:
    """The accounts of a group held by the same shards: ``shards`` are the live ones with all
    of ``keys`` subscribed (``partial``: a live one has only some; then account by account).

    Its freshness is ``max(lowest delivered slot among keys, cover)``, ``cover`` being the
    highest slot of ``shards``. ``floor`` bounds that lowest delivered slot from above: at least
    ``at_floor`` (>= 1) of ``keys`` are at or below it (exact after a scan: the lowest slot and
    how many are there, until ``bound``; ``dirty``: unknown, scan when next asked). The delivery
    stage reports every move of an account at or below ``floor`` (a ChangeWatcher of the
    delivery, slots only grow): one leaving for above it lowers ``at_floor``, and once none is
    known left the mover's new slot is the bound (``bound``: maybe above the lowest). While
    ``floor <= cover`` the answer is ``cover`` with no scan; a bound above ``cover`` is made exact
    by a scan; the group is marked for a new answer only when ``floor`` rises above the
    ``cover`` it was last answered with."""

    __slots__ = ("at_floor", "bound", "cover", "dirty", "floor", "group", "keys", "partial",
                 "shards")

    def __init__(self, group: AccountGroup, shards: tuple[_Shard, ...], keys: tuple[Pubkey, ...],
                 partial: bool) -> None:
        self.group, self.shards, self.keys, self.partial = group, shards, keys, partial
        self.floor = -1
        self.at_floor = 0
        self.cover = -1
        self.bound = False
        self.dirty = True

    def moved(self, old: int, new: int) -> None:
        """An account at or below ``floor`` (at ``old``) accepted an update at ``new``."""
        if new > self.floor and not self.dirty:
            self.at_floor -= 1
            if self.at_floor <= 0:  # none known at or below floor any more: the mover is
                self.floor = new
                self.at_floor = 1
                self.bound = True
                if new > self.cover:
                    self.group.dirty = True

    def touch(self) -> None:
        """An account was forgotten: ``floor`` may be anything; scan when next asked."""
        self.dirty = True
        self.group.dirty = True


class AccountGroup:
    """Accounts read together (a pool and its auxiliary accounts), for
    :meth:`~solarb.feeds.pubsub.PubSubFeed.group_slot`, with three cached layers: ``parts`` (see
    :class:`_Part`), laid out while ``version`` is the feed's ``_topology``; their floor bounds,
    kept by the delivery stage; ``answer``, the freshness when no account is queued, valid while
    ``stamp`` is the feed's ``_stamp`` (topology or a shard's slot moved) and the group is not
    ``dirty`` (a part's floor rose above its cover, or an account was forgotten)."""

    __slots__ = ("answer", "dirty", "fresh", "keys", "parts", "stamp", "version")

    def __init__(self, keys: Iterable[Pubkey]) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self.parts: tuple[_Part, ...] = ()
        self.fresh = False  # every account has a live subscription somewhere (feed._fresh_on)
        self.dirty = True
        self.version = 0
        self.stamp = 0
        self.answer = -1


def release_group(feed: PubSubFeed, group: AccountGroup) -> None:
    """Stop tracking ``group``: its parts no longer watch the feed's delivery stage."""
    for part in group.parts:
        feed.delivery.unwatch_changes(part.keys, part)
    group.parts = ()
    group.version = 0


def group_answer(feed: PubSubFeed, group: AccountGroup) -> int:
    """The freshness of ``group`` on ``feed`` as if no account were queued; caches it."""
    if group.version != feed._topology:
        _lay_out(feed, group)
    group.dirty = False
    group.stamp = feed._stamp
    low = -1
    if group.fresh:
        # per part, min over accounts of max(delivered, cover) = max(lowest delivered, cover)
        for part in group.parts:
            if part.partial:  # depends on what is queued now: not cached
                best = feed.min_account_slot(part.keys)
                group.stamp = 0
            else:
                cover = -1
                for shard in part.shards:
                    cover = max(cover, shard.last_slot)
                part.cover = cover
                if part.dirty or (part.bound and part.floor > cover):  # the lowest counts
                    part.dirty = part.bound = False
                    slots = feed.delivery.last_slots(part.keys)
                    part.floor = floor = min(slots)
                    part.at_floor = slots.count(floor)
                best = max(part.floor, cover)
            if best < 0:
                low = -1
                break
            if low < 0 or best < low:
                low = best
    group.answer = low
    return low


def _lay_out(feed: PubSubFeed, group: AccountGroup) -> None:
    """Split ``group`` into parts by the shards holding its accounts (``feed._watched``)."""
    watched = feed._watched
    by_homes: dict[Any, list[Pubkey]] = {}
    for pk in group.keys:
        homes = watched.get(pk)
        keys = by_homes.get(homes)
        if keys is None:
            by_homes[homes] = [pk]
        else:
            keys.append(pk)
    release_group(feed, group)
    parts = []
    for homes, keys in by_homes.items():
        shards, partial = [], False
        # homes: the shard (one endpoint), a tuple of shards, or None (not watched)
        for shard in homes if type(homes) is tuple else (() if homes is None else (homes,)):
            if shard.live:
                held = sum(map(shard.subs.__contains__, keys))
                if held == len(keys):
                    shards.append(shard)
                elif held:
                    partial = True
        part = _Part(group, tuple(shards), tuple(keys), partial)
        feed.delivery.watch_changes(part.keys, part)
        parts.append(part)
    group.parts = tuple(parts)
    group.fresh = bool(group.keys) and all(map(feed._fresh_on.get, group.keys))
    group.dirty = True
    group.version = feed._topology
