"""Per-pool freshness groups of :class:`~solarb.feeds.pubsub.PubSubFeed`.

:meth:`PubSubFeed.group_slot <solarb.feeds.pubsub.PubSubFeed.group_slot>` answers
``min_account_slot(group.keys)`` for an :class:`AccountGroup` (a pool and its auxiliary accounts)
from caches kept exact by the feed's subscription changes, its shards' slots and the delivery
stage. The feed keeps the public methods (``group``/``release``/``group_slot``) and the fast path
(cached answer, then whether an account is queued); this module holds the groups and the
recomputation, as functions of the feed. It reads the feed's ``_watched``, ``_held``,
``_topology`` and ``_stamp`` (see :class:`~solarb.feeds.pubsub.PubSubFeed`).

Layout. A group's accounts are split into parts, the accounts held by the same shards (one part
per shard in the usual one-endpoint case). A part is not an object: tens of thousands of groups
are held, most of whose parts have one account (the pools are watched first, their auxiliary
accounts after, on other shards), so a group keeps its parts flat: ``members`` (its keys, part
after part), ``homes`` (per part, the tuple of shards, shared by every group of the feed) and
``state`` (one list, :data:`_WIDTH` numbers per part; see :class:`AccountGroup`). The
group itself is the delivery stage's change watcher of each of its accounts.

A part's freshness is ``max(lowest delivered slot among its keys, cover)``, ``cover`` being the
highest slot of its ``shards``, the live ones with all its keys subscribed (``partial``: a live
one has only some; then account by account). ``floor`` bounds that lowest delivered slot from
above: at least ``at_floor`` (>= 1) of the keys are at or below it (exact after a scan: the lowest
slot and how many are there, until ``bound``; ``dirty``: unknown, scan when next asked). A scan reads
the delivery stage's records of the part's accounts (``recs``, taken at the first scan after a
layout; an account's first delivery puts its new record in: no look-up per account). The
delivery stage reports every move of an account at or below the group's ``floor`` (the highest
part floor: a prefilter) to :meth:`AccountGroup.moved`: one leaving its part's floor for above it
lowers ``at_floor``, and once none is known left the mover's new slot is the bound (``bound``:
maybe above the lowest; exact for a part of one account). While ``floor <= cover`` the answer is
``cover`` with no scan; a bound above ``cover`` is made exact by a scan; the group is marked for a
new answer only when a floor rises above the ``cover`` it was last answered with.

Shared accounts. An account many groups read (the Clock sysvar, a mint, a config: 700-2,700
groups each at 10,000 pools) is not watched by each group: one :class:`SharedAccount` watches it
for all of them (one ``moved`` call per write, not one per group). A part keeps its shared
accounts last (how many: ``flags >> _SHIFT``) and out of its floor; its lowest delivered slot is
``min(floor, the shared accounts' slots)``, those read from their records when the part is
answered. A shared account's write that rises above the cover the groups' answers could have used
(the account's live shards' highest slot) renews the feed's ``_stamp`` (as a shard's slot does),
and its first delivery has its groups take their records again. An account becomes shared when a
group lays out while :data:`_SHARE_AT` groups watch it already.

Invalidation. A layout depends on the homes of the group's accounts, their subscriptions and the
liveness of those shards. The feed calls :func:`touch_groups` with the accounts whose
subscription changed (watched, subscribed, unwatched, or on a shard that went down or up): only
the groups reading one of them lay out again. ``_update_fresh_flag`` (a harness that set
subscriptions itself) renews the feed's ``_topology``: then every group does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

if TYPE_CHECKING:
    from solarb.feeds.delivery import Delivery
    from solarb.feeds.pubsub import PubSubFeed
    from solarb.feeds.pubsub_shards import _Shard

__all__ = ["AccountGroup", "SharedAccount", "group_answer", "release_group", "touch_groups"]

_TOPOLOGIES = itertools.count(1)  # the feeds' _topology/_stamp: unique over all feeds

# one part in AccountGroup.state: [end, floor, at_floor, cover, flags]; ``end`` is the index in
# ``members`` after the part's last key. A list, not an array: its slots are the int objects the
# shards and the delivery stage hold already (no box per read), in as many bytes
_WIDTH = 5
_END, _FLOOR, _AT, _COVER, _FLAGS = range(_WIDTH)
_DIRTY, _BOUND, _PARTIAL = 1, 2, 4  # flags; the bits from _SHIFT on: how many shared keys
_SHIFT = 4
_NO_FLOOR = 1 << 62  # the floor of a part whose accounts are all shared
# an account alone in a part of a group is shared (SharedAccount) once this many groups watch it
_SHARE_AT = 8
_NO_STATE: list[int] = []  # a group not laid out (never written)
_SLOT = itemgetter(0)  # a delivery record's slot (see Delivery.records)


class AccountGroup:
    """Accounts read together (a pool and its auxiliary accounts), for
    :meth:`~solarb.feeds.pubsub.PubSubFeed.group_slot`, with three cached layers: the parts (see
    the module doc), laid out while ``version`` is the feed's ``_topology`` (0: to lay out); their
    floor bounds, kept by the delivery stage through :meth:`moved`; ``answer``, the freshness when
    no account is queued, valid while ``stamp`` is the feed's ``_stamp`` (topology or a shard's
    slot moved) and the group is not ``dirty`` (a part's floor rose above its cover, or the
    group was touched). ``floor`` is the highest part floor (the delivery stage's prefilter).
    ``recs``: the delivery records of ``members`` (None: to take when next scanned), from
    ``delivery`` (the feed's, once laid out)."""

    __slots__ = ("answer", "delivery", "dirty", "floor", "fresh", "homes", "keys", "members",
                 "recs", "stamp", "state", "version")

    def __init__(self, keys: Iterable[Pubkey]) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self.members: tuple[Pubkey, ...] = ()  # () while not registered with the delivery stage
        self.homes: tuple[tuple[_Shard, ...], ...] = ()
        self.state = _NO_STATE
        self.recs: list[Sequence[int]] | None = None
        self.delivery: Delivery | None = None
        self.floor = -1
        self.fresh = False  # every account is subscribed on some shard (feed._held)
        self.dirty = True
        self.version = 0
        self.stamp = 0
        self.answer = -1

    @property
    def parts(self) -> tuple[tuple[tuple[_Shard, ...], tuple[Pubkey, ...], bool], ...]:
        """The current layout as ``(shards, keys, partial)`` per part (inspection, tests)."""
        st, out, start = self.state, [], 0
        for i, shards in enumerate(self.homes):
            end = st[i * _WIDTH + _END]
            out.append((shards, self.members[start:end],
                        bool(st[i * _WIDTH + _FLAGS] & _PARTIAL)))
            start = end
        return tuple(out)

    def moved(self, pubkey: Pubkey, old: int, new: int) -> None:
        """``pubkey`` (at ``old``, at or below the group's floor) accepted an update at
        ``new``: its part's floor bound follows (see the module doc)."""
        st = self.state  # offsets as numbers (per notification): see _END.._FLAGS
        j = self.members.index(pubkey)
        if old < 0 and self.recs is not None:  # first delivery: the account's new record
            self.recs[j] = self.delivery.record(pubkey)  # type: ignore[union-attr]
        b = 0
        while st[b] <= j:  # the part holding pubkey (a group has a few)
            b += 5
        floor = st[b + 1]
        if old > floor or new <= floor or st[b + 4] & _DIRTY:
            return
        at = st[b + 2] - 1
        if at > 0:
            st[b + 2] = at
            return
        # none known at or below floor any more: the mover is the bound (exact for one key)
        st[b + 1] = new
        st[b + 2] = 1
        if st[b] - (st[b - 5] if b else 0) - (st[b + 4] >> 4) > 1:  # _SHIFT: shared keys
            st[b + 4] |= _BOUND
        if new > self.floor:  # noqa: PLR1730
            self.floor = new
        if new > st[b + 3]:
            self.dirty = True

    def touch(self) -> None:
        """An account was forgotten, or its subscription changed: lay out again when next
        asked (every part is then scanned)."""
        self.version = 0
        self.dirty = True


class SharedAccount:
    """The delivery stage's one watcher of an account that many groups read in a part of its
    own, for all of those groups (``groups``, an ordered set): see the module doc."""

    __slots__ = ("feed", "groups", "pubkey", "rec")

    floor = 1 << 62  # every move is reported (ChangeWatcher.floor)

    def __init__(self, feed: PubSubFeed, pubkey: Pubkey) -> None:
        self.feed = feed
        self.pubkey = pubkey
        self.groups: dict[AccountGroup, None] = {}
        # the account's delivery record (Delivery.record): the groups' ``recs`` hold this object
        # in its place, so a first delivery (a new record) is one assignment, not one per group
        self.rec = feed.delivery.record(pubkey)
        feed.delivery.watch_changes((pubkey,), self)

    def moved(self, pubkey: Pubkey, old: int, new: int) -> None:
        """The account accepted an update at ``new``: the groups' cached answers are renewed
        (the feed's ``_stamp``) only if it rose above the cover they could have read."""
        feed = self.feed
        if old < 0:  # first delivery: a new record
            self.rec = feed.delivery.record(pubkey)
        homes = feed._watched.get(pubkey)
        cover = -1
        if homes is not None:
            for shard in homes if type(homes) is tuple else (homes,):
                if shard.live and shard.last_slot > cover and pubkey in shard.subs:
                    cover = shard.last_slot
        if new > cover:
            feed._stamp = next(_TOPOLOGIES)

    def touch(self) -> None:
        """The account was forgotten or its subscription changed: its groups lay out again."""
        self.rec = self.feed.delivery.record(self.pubkey)
        for group in self.groups:
            group.touch()


def _shared(feed: PubSubFeed, pubkey: Pubkey) -> SharedAccount | None:
    """The :class:`SharedAccount` of ``pubkey``, made once :data:`_SHARE_AT` groups watch it;
    None before."""
    shared = feed._shared.get(pubkey)
    if shared is None:
        mine = feed.delivery._watchers.get(pubkey)
        if type(mine) is dict and len(mine) >= _SHARE_AT:
            shared = feed._shared[pubkey] = SharedAccount(feed, pubkey)
    return shared


def _records(feed: PubSubFeed, group: AccountGroup) -> list[Any]:
    """``group.recs``: the delivery records of its members, each shared account's
    :class:`SharedAccount` in its place (read through its ``rec``)."""
    recs: list[Any] = feed.delivery.records(group.members)
    st, shared = group.state, feed._shared
    for b in range(0, len(st), _WIDTH):
        n = st[b + _FLAGS] >> _SHIFT
        for j in range(st[b + _END] - n, st[b + _END]):
            recs[j] = shared[group.members[j]]
    return recs


def _shared_keys(group: AccountGroup) -> list[Pubkey]:
    """The shared accounts of ``group``'s current layout (each part's last ``flags >> _SHIFT``)."""
    st, out = group.state, []
    for b in range(0, len(st), _WIDTH):
        n = st[b + _FLAGS] >> _SHIFT
        if n:
            out += group.members[st[b + _END] - n : st[b + _END]]
    return out


def touch_groups(feed: PubSubFeed, keys: Iterable[Pubkey]) -> None:
    """The subscriptions of ``keys`` changed on ``feed``: the groups reading any of them (the
    delivery stage's watchers of those accounts) lay out again when next asked."""
    delivery = feed.delivery
    if not delivery._watchers:
        return
    for pk in keys:
        for w in delivery.watchers_of(pk):
            w.touch()


def release_group(feed: PubSubFeed, group: AccountGroup) -> None:
    """Stop tracking ``group``: it no longer watches the feed's delivery stage."""
    if group.members:
        shared = _shared_keys(group)
        feed.delivery.unwatch_changes(
            [k for k in group.keys if k not in shared] if shared else group.keys, group)
        for pk in shared:
            feed._shared[pk].groups.pop(group, None)
    group.members = group.homes = ()
    group.state = _NO_STATE
    group.recs = None
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
        # (offsets in state written as numbers: this runs for every group after a slot frame)
        st, members = group.state, group.members
        b = start = 0
        for shards in group.homes:
            flags = st[b + 4]  # _FLAGS
            if flags & _PARTIAL:  # depends on what is queued now: not cached
                best = feed.min_account_slot(members[start : st[b]])
                group.stamp = 0
            else:
                cover = -1
                for shard in shards:
                    if shard.last_slot > cover:  # noqa: PLR1730 (no call: hot)
                        cover = shard.last_slot
                st[b + 3] = cover  # _COVER
                end = st[b]  # _END
                shared = flags >> 4  # _SHIFT: the part's last keys are shared (not in floor)
                tracked = end - shared
                if tracked == start:
                    floor = _NO_FLOOR
                else:
                    floor = st[b + 1]  # _FLOOR
                    if flags & _DIRTY or (flags & _BOUND and floor > cover):  # the lowest counts
                        st[b + 4] = flags & -16  # clears _DIRTY, _BOUND; keeps the count
                        recs = group.recs
                        if recs is None:
                            recs = group.recs = _records(feed, group)
                        slots = list(map(_SLOT, recs[start:tracked]))
                        floor = min(slots)
                        st[b + 1] = floor
                        st[b + 2] = slots.count(floor)  # _AT
                        if floor > group.floor:  # noqa: PLR1730 (no call: hot)
                            group.floor = floor
                if shared:  # their slots, read now (their SharedAccount renews _stamp)
                    recs = group.recs
                    if recs is None:
                        recs = group.recs = _records(feed, group)
                    for sa in recs[tracked:end]:  # SharedAccount objects
                        slot = sa.rec[0]
                        if slot < floor:  # noqa: PLR1730 (no call: hot)
                            floor = slot
                best = floor if floor > cover else cover  # noqa: FURB136
            if best < 0:
                low = -1
                break
            if low < 0 or best < low:
                low = best
            start = st[b]  # _END
            b += 5
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
    interned = feed._shard_sets
    homes_out: list[tuple[_Shard, ...]] = []
    members: list[Pubkey] = []
    state: list[int] = []
    shared: list[Pubkey] = []
    for homes, keys in by_homes.items():
        mine = [pk for pk in keys if _shared(feed, pk) is not None]
        shards, partial = [], False
        # homes: the shard (one endpoint), a tuple of shards, or None (not watched)
        for shard in homes if type(homes) is tuple else (() if homes is None else (homes,)):
            if shard.live:
                held = sum(map(shard.subs.__contains__, keys))
                if held == len(keys):
                    shards.append(shard)
                elif held:
                    partial = True
        held_by = tuple(shards)
        homes_out.append(interned.setdefault(held_by, held_by))
        flags = _DIRTY | (_PARTIAL if partial else 0)
        if mine and not partial:  # shared accounts last, out of the floor
            members += [pk for pk in keys if pk not in mine]
            members += mine
            shared += mine
            flags |= len(mine) << _SHIFT
        else:
            members += keys
        state += (len(members), -1, 0, -1, flags)
    delivery = feed.delivery
    if not group.members:  # not yet a watcher of its accounts
        if group.keys:
            delivery.watch_changes([k for k in group.keys if k not in shared]
                                   if shared else group.keys, group)
            group.delivery = delivery
    else:  # laid out before: move the accounts that became (or stopped being) shared
        before = _shared_keys(group)
        if before != shared:
            for pk in before:
                if pk not in shared:
                    feed._shared[pk].groups.pop(group, None)
                    delivery.watch_changes((pk,), group)
            for pk in shared:
                if pk not in before:
                    delivery.unwatch_changes((pk,), group)
    for pk in shared:
        feed._shared[pk].groups[group] = None
    members_t = tuple(members)
    group.members = group.keys if members_t == group.keys else members_t
    group.homes = tuple(homes_out)
    group.state = list(state)  # copied: no spare room
    group.recs = None
    group.floor = -1
    group.fresh = bool(group.keys) and all(map(feed._held, group.keys))
    group.dirty = True
    group.version = feed._topology
