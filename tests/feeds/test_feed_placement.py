"""Shard placement of PubSubFeed.watch: a pool's accounts (a group) on one connection, so its
freshness group spans one shard; the per-connection cap kept, the shards balanced past the
connection cap; pool_accounts/watch_market give the feed the market's accounts per pool."""

from __future__ import annotations

from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from solarb.feeds.freshness import pool_accounts, watch_market
from solarb.feeds.polling import PollingFeed
from solarb.feeds.pubsub import _NEAR_SLACK, PubSubFeed


def _feed(per: int, max_connections: int = 16, urls: int = 1) -> PubSubFeed:
    extra = [f"ws://{i}.invalid" for i in range(1, urls)]
    return PubSubFeed("ws://a.invalid", None,  # type: ignore[arg-type]
                      extra_ws_urls=extra, subscriptions_per_connection=per,
                      max_connections_per_endpoint=max_connections, ping_interval=None)


def _groups(n: int, size: int) -> list[tuple[Pubkey, ...]]:
    return [tuple(Pubkey.new_unique() for _ in range(size)) for _ in range(n)]


def _shards_of(feed: PubSubFeed, keys: tuple[Pubkey, ...]) -> set[int]:
    return {s.index for pk in keys for s in feed._homes(pk)}


def test_a_group_goes_whole_to_one_shard_under_the_cap() -> None:
    feed = _feed(per=10)
    groups = _groups(7, 4)  # 4 + 4 fill 8 of 10: the third group goes whole to the next shard
    feed.watch(groups)
    assert all(len(_shards_of(feed, g)) == 1 for g in groups)
    loads = [len(s.keys) for s in feed.endpoints[0].shards]
    assert loads == [8, 8, 8, 4] and max(loads) <= 10
    assert feed.watched == [k for g in groups for k in g]
    assert feed._unfresh == 28 and not feed.is_fresh
    assert all(pk in feed._homes(pk)[0].pending_add for g in groups for pk in g)


def test_a_group_joins_the_shard_holding_its_watched_account_when_it_has_room() -> None:
    feed = _feed(per=10)
    shared = Pubkey.new_unique()
    feed.watch([(shared, Pubkey.new_unique())])  # shard 0
    feed.watch(_groups(2, 4))  # shard 0 at 10 (full)
    feed.watch(_groups(1, 3))  # shard 1
    a = (Pubkey.new_unique(), shared, Pubkey.new_unique())
    feed.watch([a])  # shard 0 is full: the first shard with room (1) takes the new two
    assert _shards_of(feed, a) == {0, 1}
    assert [len(s.keys) for s in feed.endpoints[0].shards] == [10, 5]
    feed2 = _feed(per=10)
    first = _groups(1, 3)
    feed2.watch(first)
    b = (Pubkey.new_unique(), first[0][1], Pubkey.new_unique())
    # 8 do not fit shard 0 (3 + 8 > 10): shard 1; then b: shard 1 (the item before's) has
    # room, but shard 0 holds one of b's accounts and has room too
    feed2.watch([*_groups(1, 8), b])
    assert _shards_of(feed2, b) == {0}
    assert [len(s.keys) for s in feed2.endpoints[0].shards] == [5, 8]


def test_a_group_larger_than_a_connection_is_split_and_the_cap_kept() -> None:
    feed = _feed(per=3)
    big = _groups(1, 7)[0]
    feed.watch([big])
    assert [len(s.keys) for s in feed.endpoints[0].shards] == [3, 3, 1]


def test_past_the_connection_cap_groups_stay_whole_and_shards_balanced() -> None:
    feed = _feed(per=5, max_connections=4)
    groups = _groups(300, 3)
    feed.watch(groups)
    assert all(len(_shards_of(feed, g)) == 1 for g in groups)
    loads = [len(s.keys) for s in feed.endpoints[0].shards]
    assert len(loads) == 4 and sum(loads) == 900
    assert max(loads) - min(loads) <= _NEAR_SLACK + 3


def test_past_the_cap_a_batch_stays_on_one_shard_within_the_slack() -> None:
    feed = _feed(per=2, max_connections=3)
    feed.watch(_groups(1, 6)[0])  # flat: fills the three shards to 2
    batch = [Pubkey.new_unique() for _ in range(5)]
    feed.watch(batch)  # one call (a pool's new tick arrays): one shard
    assert len(_shards_of(feed, tuple(batch))) == 1
    # one call at a time: each to the least loaded shard (spread over the two others)
    singles = [Pubkey.new_unique() for _ in range(6)]
    for pk in singles:
        feed.watch([pk])
    assert _shards_of(feed, tuple(singles)) == {1, 2}
    assert sorted(len(s.keys) for s in feed.endpoints[0].shards) == [5, 5, 7]


def test_past_the_cap_the_near_shard_is_left_beyond_the_slack() -> None:
    feed = _feed(per=1, max_connections=2)
    batch = [Pubkey.new_unique() for _ in range(2 * _NEAR_SLACK + 10)]
    feed.watch(batch)  # shard 0 takes one, shard 1 one, then shard 1 up to the slack ...
    loads = [len(s.keys) for s in feed.endpoints[0].shards]
    assert sum(loads) == len(batch) and abs(loads[0] - loads[1]) <= _NEAR_SLACK + 1


def test_each_endpoint_places_a_group_on_one_of_its_shards() -> None:
    feed = _feed(per=4, urls=2)
    groups = _groups(5, 3)
    feed.watch(groups)
    for g in groups:
        homes = {feed._homes(pk) for pk in g}
        assert len(homes) == 1  # the same (shard on endpoint 0, shard on endpoint 1) each
        pair = homes.pop()
        assert [s.endpoint for s in pair] == feed.endpoints
    for ep in feed.endpoints:
        assert all(len(s.keys) <= 4 for s in ep.shards)


@dataclass
class _Entry:
    aux_keys: tuple[Pubkey, ...]


@dataclass
class _Market:
    pools: dict[Pubkey, _Entry] = field(default_factory=dict)
    extra: list[Pubkey] = field(default_factory=list)

    def watched_accounts(self) -> list[Pubkey]:
        aux = [k for e in self.pools.values() for k in e.aux_keys if k not in self.pools]
        return list(self.pools) + list(dict.fromkeys([*aux, *self.extra]))


def test_pool_accounts_groups_every_watched_account_once() -> None:
    shared = Pubkey.new_unique()
    market = _Market()
    p = [Pubkey.new_unique() for _ in range(3)]
    market.pools[p[0]] = _Entry((Pubkey.new_unique(), shared))
    market.pools[p[1]] = _Entry((shared, Pubkey.new_unique(), Pubkey.new_unique()))
    market.pools[p[2]] = _Entry((p[0],))  # reads another pool's account
    market.extra = [Pubkey.new_unique()]
    out = pool_accounts(market)  # type: ignore[arg-type]
    flat = [k for g in out for k in g]
    assert sorted(flat) == sorted(market.watched_accounts()) and len(flat) == len(set(flat))
    assert out[0] == (p[0], *market.pools[p[0]].aux_keys)
    assert out[1] == (p[1], *market.pools[p[1]].aux_keys[1:])  # shared: in the first only
    assert out[2] == (p[2],) and out[3] == (market.extra[0],)

    feed = _feed(per=100)
    watch_market(feed, market)  # type: ignore[arg-type]
    assert len(feed.endpoints[0].shards) == 1 and sorted(feed.watched) == sorted(flat)
    polling = PollingFeed(None, interval_s=1.0)  # type: ignore[arg-type]
    watch_market(polling, market)  # type: ignore[arg-type]
    assert polling.watched == market.watched_accounts()
