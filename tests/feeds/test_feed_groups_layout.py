"""The compact layout of the pool freshness groups (``feeds.pubsub_groups``) and its invalidation:
parts kept flat in the group (shard tuples shared by every group), the delivery stage holding a
lone watcher as is (no tuple per account), freshness read from the shards' subscriptions (no dict
per account), and only the groups reading an account whose subscription changed (or an account
of a shard that went down or up) laid out again."""

from __future__ import annotations

import tracemalloc

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.pubsub import AccountGroup, PubSubFeed, _Shard


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"\x01", pk, 1, 1)


def _feed(per_connection: int, max_connections: int = 16) -> PubSubFeed:
    return PubSubFeed("ws://a.invalid", None,  # type: ignore[arg-type]
                      subscriptions_per_connection=per_connection,
                      max_connections_per_endpoint=max_connections, ping_interval=None)


def _session(feed: PubSubFeed, shard: _Shard, slot: int) -> None:
    """A shard's session through the feed's own tails: resync, subscribed, live, slot frame."""
    for pk in shard.keys:
        feed.delivery.resynced(_upd(pk, slot))
    feed._subscribed(shard, [(pk, 1) for pk in shard.keys])
    feed._shard_up(shard)
    feed._on_slot_note(shard, None, slot + 1)


def _two_shard_feed() -> tuple[PubSubFeed, list[Pubkey], list[AccountGroup]]:
    """Two live shards of 6 accounts; groups 0 and 1 on shard 0, group 2 across both, group 3
    on shard 1, all asked once (laid out)."""
    feed = _feed(per_connection=6)
    keys = [Pubkey.new_unique() for _ in range(12)]
    feed.watch(keys)
    for shard in feed.endpoints[0].shards:
        _session(feed, shard, 10)
    feed.delivery.drain_now(lambda u: None)
    groups = [feed.group(keys[0:3]), feed.group(keys[3:6]), feed.group(keys[4:8]),
              feed.group(keys[8:12])]
    for g in groups:
        assert feed.group_slot(g) == feed.min_account_slot(g.keys) == 11
    return feed, keys, groups


def test_a_reconnect_lays_out_again_only_the_groups_on_that_shard() -> None:
    feed, _keys, groups = _two_shard_feed()
    s0, s1 = feed.endpoints[0].shards
    versions = [g.version for g in groups]
    assert all(versions)
    feed._shard_down(s1)
    assert [g.version == v for g, v in zip(groups, versions)] == [True, True, False, False]
    for g in groups:
        assert feed.group_slot(g) == feed.min_account_slot(g.keys)
    assert [feed.group_slot(g) for g in groups] == [11, 11, -1, -1]
    kept = [g.version for g in groups]
    _session(feed, s1, 20)
    feed.delivery.drain_now(lambda u: None)
    assert [g.version == v for g, v in zip(groups, kept)] == [True, True, False, False]
    assert [feed.group_slot(g) for g in groups] == [11, 11, 11, 21]
    feed._on_slot_note(s0, None, 30)
    assert [feed.group_slot(g) for g in groups] == [30, 30, 21, 21]
    assert all(feed.group_slot(g) == feed.min_account_slot(g.keys) for g in groups)


def test_watch_subscribe_and_unwatch_touch_only_the_groups_of_those_accounts() -> None:
    feed, keys, groups = _two_shard_feed()
    later = Pubkey.new_unique()
    waiting = feed.group([keys[0], later])  # reads an account not watched yet
    assert feed.group_slot(waiting) == -1
    versions = [g.version for g in [*groups, waiting]]
    feed.watch([later])  # answers unchanged until subscribed: nothing laid out again
    assert [g.version for g in [*groups, waiting]] == versions
    assert feed.group_slot(waiting) == -1 == feed.min_account_slot(waiting.keys)
    shard = feed._homes(later)[0]
    feed.delivery.resynced(_upd(later, 12))
    feed.delivery.drain_now(lambda u: None)
    feed._subscribed(shard, [(later, 7)])
    assert [g.version == v for g, v in zip([*groups, waiting], versions)] == [
        True, True, True, True, False]
    if not shard.live:
        feed._shard_up(shard)
    assert feed.group_slot(waiting) == feed.min_account_slot(waiting.keys) == 11
    versions = [g.version for g in groups]
    feed.unwatch([keys[5]])  # read by groups 1 and 2
    assert [g.version == v for g, v in zip(groups, versions)] == [True, False, False, True]
    assert [feed.group_slot(g) for g in groups] == [11, -1, -1, 11]


def test_the_harness_path_still_lays_out_every_group() -> None:
    """A harness that sets subscriptions itself then calls ``_update_fresh_flag``: every group
    lays out again (the feed cannot know which accounts it changed)."""
    feed, _keys, groups = _two_shard_feed()
    assert all(g.version == feed._topology for g in groups)
    feed._update_fresh_flag()
    assert all(g.version != feed._topology for g in groups)  # stale: laid out when asked
    assert all(feed.group_slot(g) == feed.min_account_slot(g.keys) for g in groups)
    assert all(g.version == feed._topology for g in groups)


def test_parts_are_flat_and_their_shard_tuples_shared() -> None:
    feed, keys, groups = _two_shard_feed()
    s0, s1 = feed.endpoints[0].shards
    assert groups[0].parts == (((s0,), tuple(keys[0:3]), False),)
    assert groups[0].members is groups[0].keys  # one part: no reordered copy
    assert groups[2].parts == (((s0,), tuple(keys[4:6]), False), ((s1,), tuple(keys[6:8]), False))
    assert groups[0].homes[0] is groups[1].homes[0] is groups[2].homes[0]
    assert groups[2].homes[1] is groups[3].homes[0]
    assert len(groups[2].state) == 2 * 5  # one array of five numbers per part


def test_a_lone_watcher_is_held_as_is_and_a_shared_account_in_a_dict() -> None:
    feed, keys, groups = _two_shard_feed()
    watchers = feed.delivery._watchers
    assert watchers[keys[0]] is groups[0]
    assert watchers[keys[4]] == {groups[1]: None, groups[2]: None}
    assert feed.delivery.watchers_of(keys[4]) == (groups[1], groups[2])
    feed.release(groups[1])
    assert watchers[keys[4]] is groups[2] and keys[3] not in watchers  # back to one: as is
    feed.release(groups[2])
    assert keys[4] not in watchers and feed.delivery.watchers_of(keys[4]) == ()


def test_a_move_of_a_shared_account_reaches_every_group() -> None:
    feed, keys, groups = _two_shard_feed()
    s0, _s1 = feed.endpoints[0].shards
    feed._on_slot_note(s0, None, 12)
    for pk in keys[:8]:
        if pk != keys[4]:
            feed.delivery.offer(_upd(pk, 14), feed.endpoints[0].stats)
    feed.delivery.drain_now(lambda u: None)
    assert feed.group_slot(groups[1]) == feed.group_slot(groups[2]) == 12  # keys[4] behind
    feed.delivery.offer(_upd(keys[4], 15), feed.endpoints[0].stats)
    feed.delivery.drain_now(lambda u: None)
    assert feed.group_slot(groups[1]) == 14 == feed.min_account_slot(groups[1].keys)
    assert feed.group_slot(groups[2]) == 14 == feed.min_account_slot(groups[2].keys)


def test_freshness_is_read_from_the_subscriptions() -> None:
    """No per-account count: whether an account is held is read from the shards' subs;
    ``fresh`` follows the feed's count of accounts subscribed nowhere."""
    feed, keys, _groups = _two_shard_feed()
    assert feed.is_fresh and feed._held(keys[0]) and not feed._held(Pubkey.new_unique())
    assert feed.account_slot(keys[0]) == 11
    feed._shard_down(feed.endpoints[0].shards[1])
    assert not feed.is_fresh and feed.stats()["stale_accounts"] == 6
    assert feed._unfresh == 6
    _session(feed, feed.endpoints[0].shards[1], 20)
    assert feed.is_fresh and feed._unfresh == 0
    feed.unwatch(keys[:2])
    assert feed.is_fresh and feed._unfresh == 0 and feed.account_slot(keys[0]) == -1


def test_a_laid_out_group_of_single_account_parts_is_small() -> None:
    """Pools watched first and their auxiliary accounts after land on other shards: most parts
    hold one account. Such a group costs a few hundred bytes, not an object per part."""
    per_connection, pools = 20, 40
    feed = _feed(per_connection=per_connection, max_connections=6)
    pool_keys = [Pubkey.new_unique() for _ in range(pools)]
    aux = [[Pubkey.new_unique() for _ in range(4)] for _ in range(pools)]
    feed.watch(pool_keys)
    for k in [k for a in aux for k in a]:  # beyond the cap, one call each: spread over the
        feed.watch([k])                      # shards (a batch in one call stays together)
    for shard in feed.endpoints[0].shards:
        _session(feed, shard, 10)
    feed.delivery.drain_now(lambda u: None)
    groups = [feed.group([p, *a]) for p, a in zip(pool_keys, aux)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for g in groups:
            assert feed.group_slot(g) == 11
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    parts = sum(len(g.homes) for g in groups)
    assert parts >= 3 * pools  # mostly one account per part
    assert used / pools < 850  # ~660 now (with the watchers dict growing); was ~1,170
