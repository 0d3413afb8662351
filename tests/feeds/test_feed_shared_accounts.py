"""Accounts many freshness groups read (the Clock sysvar, a mint: ``pubsub_groups.SharedAccount``):
one delivery watcher for all of their groups, so a write of one costs one ``moved`` call, not one
per group, while every group's answer stays ``min_account_slot`` (checked after every change:
writes above and below the shards' slots, first deliveries after the layout, queued updates,
shards going down and up, unwatch and watch again, released and new groups)."""

from __future__ import annotations

import random

import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds import pubsub_groups
from solarb.feeds.pubsub import AccountGroup, PubSubFeed, _Shard


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"\x01", pk, 1, 1)


def _session(feed: PubSubFeed, shard: _Shard, slot: int, deliver: bool = True) -> None:
    """A shard's session through the feed's own tails: resync (unless ``deliver`` is False: no
    record yet), subscribed, live, slot frame ``slot + 1``."""
    if deliver:
        for pk in shard.keys:
            feed.delivery.resynced(_upd(pk, slot))
    feed._subscribed(shard, [(pk, 1) for pk in shard.keys])
    feed._shard_up(shard)
    feed._on_slot_note(shard, None, slot + 1)


def _agree(feed: PubSubFeed, groups: list[AccountGroup]) -> None:
    """Every group's answer is ``min_account_slot``; ``group_slot_at_least`` (asked first, from
    whatever the group cached before the change) is exact below its ``need`` and in
    ``[need, exact]`` at or above it."""
    for g in groups:
        want = feed.min_account_slot(g.keys)
        for need in (-5, 0, want - 3, want, want + 1, 1 << 40):
            got = feed.group_slot_at_least(g, need)
            if want < max(need, 0):
                assert got == want, (need, got, want)
            else:
                assert max(need, 0) <= got <= want, (need, got, want)
        assert feed.group_slot(g) == want, g.keys
        assert feed.group_slot(g) == want


def _pools(n: int, shared: list[Pubkey]) -> list[tuple[Pubkey, ...]]:
    """``n`` pools of three own accounts each, reading every account of ``shared`` too (the
    first pool's group places them, as ``freshness.pool_accounts`` does)."""
    return [(Pubkey.new_unique(), Pubkey.new_unique(), *shared, Pubkey.new_unique())
            for _ in range(n)]


def test_a_write_of_an_account_read_by_many_groups_calls_one_watcher() -> None:
    clock, mint = Pubkey.new_unique(), Pubkey.new_unique()
    pools = _pools(40, [clock, mint])
    feed = PubSubFeed("ws://a.invalid", None,  # type: ignore[arg-type]
                      subscriptions_per_connection=12, ping_interval=None)
    feed.watch(pools)
    shards = feed.endpoints[0].shards
    assert len(shards) > 5
    for shard in shards:
        _session(feed, shard, 10)
    feed.delivery.drain_now(lambda u: None)
    groups = [feed.group(p) for p in pools]
    _agree(feed, groups)
    # the groups laid out once the account was read by _SHARE_AT of them share one watcher,
    # whether the account sits in a part of its own or with the group's other accounts
    for pk in (clock, mint):
        assert len(feed.delivery.watchers_of(pk)) <= pubsub_groups._SHARE_AT + 1
        shared = feed._shared[pk]
        assert len(shared.groups) >= len(groups) - pubsub_groups._SHARE_AT
    calls = 0
    moved = pubsub_groups.AccountGroup.moved

    def count(self: AccountGroup, pubkey: Pubkey, old: int, new: int) -> None:
        nonlocal calls
        calls += 1
        moved(self, pubkey, old, new)

    pubsub_groups.AccountGroup.moved = count  # type: ignore[method-assign]
    try:
        ep = feed.endpoints[0].stats
        home = feed._watched[clock]
        for slot in (11, 12, 30, 31):  # at and above the clock's shard's slot (11)
            calls = 0
            feed.delivery.offer(_upd(clock, slot), ep)
            assert calls <= pubsub_groups._SHARE_AT
            assert feed.group_slot(groups[-1]) == -1  # queued
            feed.delivery.drain_now(lambda u: None)
            _agree(feed, groups)
        assert all(feed.group_slot(g) == 11 for g in groups if clock in g.keys and
                   all(feed._watched[k] is not home for k in g.keys if k not in (clock, mint)))
        feed._on_slot_note(home, None, 40)  # the clock's shard moves past it: 31 is the least
        _agree(feed, groups)
    finally:
        pubsub_groups.AccountGroup.moved = moved  # type: ignore[method-assign]


@pytest.mark.parametrize("seed", range(6))
def test_shared_accounts_keep_every_answer_exact(seed: int) -> None:
    """Random writes, resyncs, slot frames, queued updates, shard reconnects, unwatch / watch
    again of shared and own accounts, released and new groups; every group checked against
    ``min_account_slot`` after each change. Some accounts are first delivered after the groups
    were laid out (their records are made then)."""
    rng = random.Random(seed)
    shared_keys = [Pubkey.new_unique() for _ in range(3)]
    pools = [(Pubkey.new_unique(), Pubkey.new_unique(),
              *rng.sample(shared_keys, rng.randint(1, 3)), Pubkey.new_unique())
             for _ in range(30)]
    feed = PubSubFeed("ws://a.invalid", None, extra_ws_urls=["ws://b.invalid"] if seed % 2 else [],
                      subscriptions_per_connection=10, ping_interval=None)  # type: ignore[arg-type]
    feed.watch(pools)
    shards = [s for ep in feed.endpoints for s in ep.shards]
    late = set(rng.sample([pk for p in pools for pk in p], 10)) | {shared_keys[0]}
    for shard in shards:  # subscribed; some accounts not delivered yet
        for pk in shard.keys:
            if pk not in late:
                feed.delivery.resynced(_upd(pk, 10))
        feed._subscribed(shard, [(pk, 1) for pk in shard.keys])
        feed._shard_up(shard)
        feed._on_slot_note(shard, None, 10)
    feed.delivery.drain_now(lambda u: None)
    groups = [feed.group(p) for p in pools]
    _agree(feed, groups)
    assert feed._shared  # the shared accounts have their watcher
    slot = {s: 10 for s in shards}
    delivered: dict[Pubkey, int] = {}
    eps = [ep.stats for ep in feed.endpoints]
    every = list(feed._watched)
    unwatched: list[Pubkey] = []
    for _ in range(600):
        r = rng.random()
        if r < 0.15:
            shard = rng.choice(shards)
            slot[shard] += rng.choice((1, 1, 2))
            feed._on_slot_note(shard, None, slot[shard])
        elif r < 0.7:
            pk = rng.choice(shared_keys) if rng.random() < 0.5 else rng.choice(every)
            top = max(slot.values())
            s = max(delivered.get(pk, 0), top + rng.randint(-4, 3))
            delivered[pk] = s
            if rng.random() < 0.15:
                feed.delivery.resynced(_upd(pk, s))
            else:
                feed.delivery.offer(_upd(pk, s), rng.choice(eps))
            if rng.random() < 0.7:
                feed.delivery.drain_now(lambda u: None)
        elif r < 0.76:
            shard = rng.choice(shards)
            if shard.live:
                feed._shard_down(shard)
            else:
                _session(feed, shard, max(slot.values()))
                slot[shard] = max(slot.values()) + 1
        elif r < 0.82:
            if unwatched and rng.random() < 0.6:
                pk = unwatched.pop()
                feed.watch([pk])
                for shard in feed._homes(pk):
                    if shard.live:
                        feed.delivery.resynced(_upd(pk, max(slot.values())))
                        feed._subscribed(shard, [(pk, 1)])
            else:
                pk = rng.choice(shared_keys) if rng.random() < 0.5 else rng.choice(every)
                if pk in feed._watched:
                    feed.unwatch([pk])
                    delivered.pop(pk, None)
                    unwatched.append(pk)
        elif r < 0.87:
            i = rng.randrange(len(groups))
            feed.release(groups[i])
            if rng.random() < 0.5:
                groups[i] = feed.group(pools[i])
        else:
            feed.delivery.drain_now(lambda u: None)
        _agree(feed, groups)
    feed.delivery.drain_now(lambda u: None)
    _agree(feed, groups)


def test_a_shared_write_is_judged_against_the_live_shards_only() -> None:
    """Two endpoints, the accounts delivered at slot 5; endpoint a's shards at slot 50, b's at
    20. The shared account's shard on a goes down: its part answers b's 20, and a write of it at
    35 (below the dead shard's slot, above the live one's) moves every group's answer."""
    clock = Pubkey.new_unique()
    pools = _pools(3 * pubsub_groups._SHARE_AT, [clock])
    feed = PubSubFeed("ws://a.invalid", None, extra_ws_urls=["ws://b.invalid"],  # type: ignore[arg-type]
                      subscriptions_per_connection=8, ping_interval=None)
    feed.watch(pools)
    for pk in feed._watched:
        feed.delivery.resynced(_upd(pk, 5))
    for ep, top in zip(feed.endpoints, (49, 19)):
        for shard in ep.shards:
            _session(feed, shard, top, deliver=False)
    feed.delivery.drain_now(lambda u: None)
    groups = [feed.group(p) for p in pools]
    _agree(feed, groups)
    assert clock in feed._shared
    a_home, _b_home = feed._watched[clock]  # type: ignore[misc]
    feed._shard_down(a_home)
    _agree(feed, groups)
    outside = [g for g in groups if not any(a_home in feed._homes(k) for k in g.keys
                                            if k != clock)]
    assert outside and {feed.group_slot(g) for g in outside} == {20}
    feed.delivery.offer(_upd(clock, 35), feed.endpoints[1].stats)
    feed.delivery.drain_now(lambda u: None)
    _agree(feed, groups)
    assert {feed.group_slot(g) for g in outside} == {35}
