"""The cached pool freshness (``PubSubFeed.group_slot``, ``MarketFreshness.pool_slot``) against a
plain recomputation from the definition, over random sequences of feed events: watch / unwatch,
subscriptions accepted, sessions up and down, slot frames, notifications from several
endpoints, resyncs, the consumer draining or taking a batch, groups made and released, pools
removed and added back."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.freshness import MarketFreshness
from solarb.feeds.pubsub import AccountGroup, PubSubFeed
from solarb.market.state import MarketState
from solarb.runtime.bench import bench_adapters
from solarb.runtime.bench_workload import Workload
from tests.support.freshness_views import PerAccount


def _reference(feed: PubSubFeed, keys: Sequence[Pubkey]) -> int:
    """The freshness of ``keys`` from its definition, account by account."""
    low = -1
    for pk in keys:
        if not any(pk in s.subs for s in feed._homes(pk)) or feed.delivery.queued(pk):
            return -1
        best = feed.delivery.last_slot(pk)
        for shard in feed._homes(pk):
            if shard.live and pk in shard.subs and shard.last_slot > best:
                best = shard.last_slot
        if best < 0:
            return -1
        low = best if low < 0 else min(low, best)
    return low


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"\x01", pk, 1, 1)


class _Driver:
    """Random feed events through the feed's own methods; where a session's steps are async
    (accountSubscribe accepted, session live) their synchronous tail is reproduced: ``precise``
    through the feed's own tails (``_subscribed``, ``_shard_up``: only the groups of the
    accounts concerned lay out again), else as a harness does (subscriptions set directly, then
    ``_update_fresh_flag``: every group lays out again)."""

    def __init__(self, feed: PubSubFeed, universe: list[Pubkey], rng: random.Random,
                 precise: bool = False) -> None:
        self.feed, self.universe, self.rng, self.precise = feed, universe, rng, precise
        self.slot = 10

    def all_live(self) -> None:
        """Every shard subscribed, resynced and live, as finished sessions leave them."""
        feed = self.feed
        for shard in self.shards():
            for pk in shard.keys:
                if pk not in shard.subs:
                    shard.subs[pk] = 1
                    feed.delivery.resynced(_upd(pk, self.slot))
            shard.live = True
        feed._update_fresh_flag()
        feed.delivery.drain_now(lambda u: None)

    def shards(self) -> list:
        return [s for ep in self.feed.endpoints for s in ep.shards]

    def step(self) -> None:
        feed, rng = self.feed, self.rng
        shards = self.shards()
        r = rng.random()
        if r < 0.04:
            feed.watch(rng.sample(self.universe, rng.randint(1, 4)))
        elif r < 0.07:
            feed.unwatch(rng.sample(self.universe, rng.randint(1, 2)))
        elif r < 0.17 and shards:  # _add_pending accepted some subscriptions
            shard = rng.choice(shards)
            accepted = [k for k in shard.keys if k not in shard.subs and rng.random() < 0.6]
            if self.precise:
                feed._subscribed(shard, [(pk, 1) for pk in accepted])
            else:
                for pk in accepted:
                    shard.subs[pk] = 1
            shard.pending_add.clear()
            if not self.precise:
                feed._update_fresh_flag()
        elif r < 0.23 and shards:  # _session: live after the initial subscribe + resync
            if self.precise:
                feed._shard_up(rng.choice(shards))
            else:
                rng.choice(shards).live = True
                feed._update_fresh_flag()
        elif r < 0.25 and shards:  # socket closed or silent
            feed._shard_down(rng.choice(shards))
        elif r < 0.40 and shards:  # slot frame (sometimes an older one)
            self.slot += rng.choice((0, 1, 1, 2))
            feed._on_slot_note(rng.choice(shards), None, self.slot - rng.choice((0, 0, 0, 3)))
        elif r < 0.62:  # notification from an endpoint, new, duplicate or late
            pk = rng.choice(self.universe)
            ep = rng.choice(feed.endpoints)
            feed.delivery.offer(_upd(pk, self.slot + rng.randint(-4, 2)), ep.stats)
        elif r < 0.67:  # resync read at a context slot
            pk = rng.choice(self.universe)
            feed.delivery.resynced(_upd(pk, self.slot - rng.randint(0, 3)))
        else:
            feed.delivery.drain_now(lambda u: None)


def _check(feed: PubSubFeed, groups: list[AccountGroup]) -> None:
    held = [any(pk in s.subs for s in feed._homes(pk)) for pk in feed._watched]
    assert feed.is_fresh == (bool(held) and all(held))  # the feed's count of unheld accounts
    for g in groups:
        want = _reference(feed, g.keys)
        assert feed.group_slot(g) == want == feed.min_account_slot(g.keys)
        assert feed.group_slot(g) == want  # cached answer unchanged when nothing moved


@pytest.mark.parametrize("precise", [False, True])
@pytest.mark.parametrize("endpoints", [1, 2])
async def test_group_slot_equals_the_definition_over_random_event_sequences(
    endpoints: int, precise: bool
) -> None:
    for seed in range(12):
        await _random_sequence(random.Random(seed * 10 + endpoints), endpoints, precise)


async def _random_sequence(rng: random.Random, endpoints: int, precise: bool) -> None:
    universe = [Pubkey.new_unique() for _ in range(24)]
    extra = [f"ws://b{i}.invalid" for i in range(endpoints - 1)]
    feed = PubSubFeed("ws://a.invalid", None, extra_ws_urls=extra,  # type: ignore[arg-type]
                      subscriptions_per_connection=4, max_connections_per_endpoint=3,
                      ping_interval=None)
    driver = _Driver(feed, universe, rng, precise)
    feed.watch(universe[:16])
    driver.all_live()

    def new_group() -> AccountGroup:
        pick = universe[:16] if rng.random() < 0.8 else universe  # some never watched
        return feed.group(rng.choices(pick, k=rng.randint(0, 7)))  # duplicates, even none

    groups = [new_group() for _ in range(6)]

    def checked(upd: AccountUpdate) -> None:  # on_update: the rest of the batch is queued
        _check(feed, groups)

    for _ in range(300):
        driver.step()
        _check(feed, groups)
        if rng.random() < 0.05:  # a pool's accounts changed: its group is replaced
            i = rng.randrange(len(groups))
            feed.release(groups[i])
            groups[i] = new_group()
        if rng.random() < 0.1:  # the consumer task takes a batch (Delivery.run)
            for pk in rng.sample(universe[:16], 6):
                feed.delivery.offer(_upd(pk, driver.slot), feed.endpoints[0].stats)
            consumer = asyncio.create_task(feed.delivery.run(checked))
            for _ in range(3):
                await asyncio.sleep(0)
            consumer.cancel()
            (ended,) = await asyncio.gather(consumer, return_exceptions=True)
            if not isinstance(ended, asyncio.CancelledError):
                raise ended  # a check inside on_update failed
            _check(feed, groups)
        if rng.random() < 0.04:  # drain_now with checks between deliveries
            feed.delivery.drain_now(checked)
    for g in groups:
        feed.release(g)
    assert feed.delivery._watchers == {}  # released groups are not marked any more


def _load(w: Workload, market: MarketState, keys: list[Pubkey], pools: bool) -> None:
    for pk, owner, lamports, data, slot in w.accounts(keys):
        upd = AccountUpdate(Pubkey.from_bytes(pk), slot, data, Pubkey.from_bytes(owner), lamports)
        if pools:
            market.add_pool(upd)
        else:
            market.apply(upd)


def _market(w: Workload, pools: list[Pubkey]) -> MarketState:
    """A market of ``pools`` of ``w`` and every auxiliary account they read."""
    market = MarketState(bench_adapters())
    _load(w, market, pools, pools=True)
    _load(w, market, [k for k in market.watched_accounts() if k not in market.pools], False)
    return market


def _feed(market: MarketState) -> PubSubFeed:
    """A feed (never connected) watching every account of ``market``, 5 per connection."""
    feed = PubSubFeed("ws://a.invalid", None, subscriptions_per_connection=5,  # type: ignore[arg-type]
                      ping_interval=None)  # fmt: skip
    feed.watch(market.watched_accounts())
    return feed


def _churn(
    rng: random.Random, w: Workload, market: MarketState, removed: list[Pubkey]
) -> Pubkey | None:
    """One step of pools coming and going: now and then one removed (into ``removed``) or one of
    ``removed`` loaded back, with a new aux tuple (returned)."""
    if rng.random() < 0.05 and len(market.pools) > 2:
        gone = rng.choice(list(market.pools))
        market.remove_pool(gone)
        removed.append(gone)
    elif rng.random() < 0.05 and removed:
        back = removed.pop()
        _load(w, market, [back], pools=True)
        _load(w, market, [k for k in market.watched_accounts() if k not in market.pools], False)
        return back
    return None


def test_market_freshness_equals_the_per_account_view_as_pools_come_and_go() -> None:
    w = Workload(9, seed=3, swaps_per_slot=50, inject_every=0)
    pools = [p for p, *_ in w.pools]
    for seed in range(4):
        rng = random.Random(seed)
        market = _market(w, pools)
        feed = _feed(market)
        fast, plain = MarketFreshness(market, feed), MarketFreshness(market, PerAccount(feed))
        driver = _Driver(feed, market.watched_accounts(), rng, precise=seed % 2 == 1)
        driver.all_live()
        removed: list[Pubkey] = []
        for _ in range(250):
            driver.step()
            _churn(rng, w, market, removed)
            for pool in rng.sample(pools, 5):
                assert fast.pool_slot(pool) == plain.pool_slot(pool)
            assert fast.cluster_slot == plain.cluster_slot
        assert len(fast._groups) <= len(pools)


def test_market_freshness_follows_a_pools_new_auxiliary_accounts() -> None:
    """A pool whose state now reads other accounts (tick arrays moved) gets a new group; the
    market is reduced to what the view reads (``pools[pool].aux_keys``, replaced on change)."""
    rng = random.Random(5)
    keys = [Pubkey.new_unique() for _ in range(20)]
    pools = keys[:4]
    market = SimpleNamespace(pools={p: SimpleNamespace(aux_keys=(keys[5],)) for p in pools})
    feed = PubSubFeed("ws://a.invalid", None, subscriptions_per_connection=6,  # type: ignore[arg-type]
                      ping_interval=None)
    feed.watch(keys)
    fast = MarketFreshness(market, feed)  # type: ignore[arg-type]
    plain = MarketFreshness(market, PerAccount(feed))  # type: ignore[arg-type]
    driver = _Driver(feed, keys, rng, precise=True)
    driver.all_live()
    for _ in range(400):
        driver.step()
        if rng.random() < 0.2:
            pool = rng.choice(pools)
            market.pools[pool].aux_keys = tuple(dict.fromkeys(rng.sample(keys[4:], 3)))
        for pool in pools:
            assert fast.pool_slot(pool) == plain.pool_slot(pool)
    watchers = map(feed.delivery.watchers_of, feed.delivery._watchers)
    assert sum(map(len, watchers)) == 4 * 4  # old groups released
