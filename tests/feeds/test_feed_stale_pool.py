"""``MarketFreshness.stale_pool`` (the stale-state rule's one call per decision, answered from
the groups' cached lower bounds through ``PubSubFeed.group_slot_at_least``) against the
definition: the first pool whose exact ``pool_slot`` (here through a source with no groups) is
below ``max(need, 0)``, with that slot. Asked first after every change, so the cached answers it
reads are as old as the hot path's; and the rule's reasons are the same with it as with one
``pool_slot`` per hop."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate, Hop, Opportunity
from solarb.feeds.freshness import MarketFreshness
from solarb.feeds.pubsub import PubSubFeed
from solarb.risk.rules.stale_state import stale_reason
from tests.support.freshness_views import MinSlotOnly, PoolSlotOnly


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"\x01", pk, 1, 1)


@pytest.mark.parametrize("seed", range(4))
def test_stale_pool_is_the_first_pool_below_need(seed: int) -> None:
    rng = random.Random(seed)
    clock, unwatched = Pubkey.new_unique(), Pubkey.new_unique()
    pools = {Pubkey.new_unique(): (Pubkey.new_unique(), clock) for _ in range(24)}
    feed = PubSubFeed("ws://a.invalid", None,  # type: ignore[arg-type]
                      subscriptions_per_connection=9, ping_interval=None)
    feed.watch([(p, *aux) for p, aux in pools.items()])
    shards = feed.endpoints[0].shards
    for shard in shards:
        for pk in shard.keys:
            feed.delivery.resynced(_upd(pk, 10))
        feed._subscribed(shard, [(pk, 1) for pk in shard.keys])
        feed._shard_up(shard)
        feed._on_slot_note(shard, None, 10)
    feed.delivery.drain_now(lambda u: None)
    market = SimpleNamespace(pools={p: SimpleNamespace(aux_keys=aux) for p, aux in pools.items()})
    fast = MarketFreshness(market, feed)  # type: ignore[arg-type]
    plain = MarketFreshness(market, MinSlotOnly(feed))  # type: ignore[arg-type]
    loop = PoolSlotOnly(fast)
    assert fast.warm() == len(pools)
    keys = list(feed._watched)
    names = list(pools)
    slot = dict.fromkeys(shards, 10)
    hits = misses = 0
    for step in range(400):
        r = rng.random()
        if r < 0.3:  # a slot: most shards see it (the others lag)
            top = max(slot.values()) + 1
            for shard in shards:
                if rng.random() < 0.85:
                    slot[shard] = top
                    feed._on_slot_note(shard, None, slot[shard])
        elif r < 0.85:
            pk = rng.choice(keys)
            s = max(feed.delivery.last_slot(pk), max(slot.values()) + rng.randint(-12, 2))
            feed.delivery.offer(_upd(pk, s), feed.endpoints[0].stats)
            if rng.random() < 0.8:
                feed.delivery.drain_now(lambda u: None)
        elif r < 0.89:  # a shard down (one at a time), or back up
            down = [sh for sh in shards if not sh.live]
            if down:
                feed._subscribed(down[0], [(pk, 1) for pk in down[0].keys])
                feed._shard_up(down[0])
            else:
                feed._shard_down(rng.choice(shards))
        elif r < 0.93:  # a pool's aux tuple replaced (an unwatched account in), or the pool
            p = rng.choice(names)  # dropped, and back
            entry = market.pools.get(p)
            if entry is None:
                market.pools[p] = SimpleNamespace(aux_keys=pools[p])
            elif entry.aux_keys is pools[p]:
                if rng.random() < 0.5:
                    del market.pools[p]
                else:
                    entry.aux_keys = (pools[p][0], unwatched)
            else:
                entry.aux_keys = pools[p]
        hops = rng.sample(names, 3)
        cluster = feed.cluster_slot
        for need in (cluster - 8, cluster - 2, cluster + 1, -3):
            got = fast.stale_pool(iter(hops), need)  # first: the caches as the hot path finds them
            want = next(((p, s) for p in hops if (s := plain.pool_slot(p)) < max(need, 0)), None)
            assert got == want, (need, got, want)
            hits += got is None
            misses += got is not None
        opp = Opportunity("x", clock, tuple(Hop(p, "t", True, clock, clock, 1, 2) for p in hops),
                          1, 2, slot=1, ts_recv_ns=1, ts_detect_ns=2)
        assert stale_reason(opp, 8, fast) == stale_reason(opp, 8, loop)
    assert hits > 300 and misses > 300, (hits, misses)  # both answers were visited
