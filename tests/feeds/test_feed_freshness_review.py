"""Review of the cached pool freshness (``PubSubFeed.group_slot``, ``MarketFreshness.pool_slot``):
one test per path that changes the true ``min_account_slot`` answer, each driving the real objects
and checking the cached answer against the definition right after the change (a cached answer
above ``min_account_slot`` would let the engine trade on stale state). Paths: a shard going down
(one and two endpoints), unwatch and watch again, slot frames, queued updates (pending and inside
the consumer's batch), the delivered floor of a group, a refused subscription (a shard holding
only some of a group's accounts), a group account watched later, the bench harness's wiring,
full sessions over a loopback server (reconnect, runtime watch/unwatch), and MarketFreshness
replacing, keeping and dropping groups as a pool's auxiliary tuple changes."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds import pubsub_groups
from solarb.feeds.freshness import MarketFreshness
from solarb.feeds.pubsub import AccountGroup, PubSubFeed, _Shard
from solarb.rpc.client import RpcClient
from tests.feeds.feed_loopback import SLOT_NOTE, Acct, FakeCluster
from tests.support.freshness_views import MinSlotOnly


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"\x01", pk, 1, 1)


def _feed(per_connection: int = 8, endpoints: int = 1) -> PubSubFeed:
    extra = [f"ws://b{i}.invalid" for i in range(endpoints - 1)]
    return PubSubFeed("ws://a.invalid", None, extra_ws_urls=extra,  # type: ignore[arg-type]
                      subscriptions_per_connection=per_connection, ping_interval=None)


def _agree(feed: PubSubFeed, group: AccountGroup) -> int:
    """group_slot equals min_account_slot, asked twice (the second answer comes from the cache)."""
    want = feed.min_account_slot(group.keys)
    assert feed.group_slot(group) == want
    assert feed.group_slot(group) == want
    return want


def _subscribe(feed: PubSubFeed, shard: _Shard, keys: list[Pubkey], slot: int) -> None:
    """The synchronous tail of ``_add_pending``: resync read at ``slot``, then subscribed."""
    for pk in keys:
        feed.delivery.resynced(_upd(pk, slot))
        shard.subs[pk] = 1
        shard.pending_add.pop(pk, None)
    feed._update_fresh_flag()


def _live(feed: PubSubFeed, shard: _Shard, slot: int | None = None) -> None:
    """``_session`` after its initial subscribe + resync: live, then slot frames."""
    shard.live = True
    feed._update_fresh_flag()
    if slot is not None:
        feed._on_slot_note(shard, None, slot)


def _drain(feed: PubSubFeed) -> None:
    feed.delivery.drain_now(lambda u: None)


def _live_feed(n: int, slot: int | None = None) -> tuple[PubSubFeed, list[Pubkey], _Shard]:
    """A one-shard feed watching ``n`` new accounts, subscribed and resynced at slot 10, live
    (slot frame ``slot``), and drained."""
    feed = _feed()
    keys = [Pubkey.new_unique() for _ in range(n)]
    feed.watch(keys)
    shard = feed.endpoints[0].shards[0]
    _subscribe(feed, shard, keys, 10)
    _live(feed, shard, slot)
    _drain(feed)
    return feed, keys, shard


@pytest.mark.parametrize("endpoints", [1, 2])
def test_a_shard_going_down_lowers_the_cached_answer(endpoints: int) -> None:
    feed = _feed(endpoints=endpoints)
    keys = [Pubkey.new_unique() for _ in range(3)]
    feed.watch(keys)
    shards = [ep.shards[0] for ep in feed.endpoints]
    for i, shard in enumerate(shards):
        _subscribe(feed, shard, keys, 10)
        _live(feed, shard, 50 - 30 * i)  # endpoint a at slot 50, endpoint b at 20
    _drain(feed)
    group = feed.group(keys)
    assert _agree(feed, group) == 50
    feed._shard_down(shards[0])  # endpoint a's socket closes: b's slot (or nothing) is left
    assert _agree(feed, group) == (20 if endpoints == 2 else -1)
    if endpoints == 2:
        feed._shard_down(shards[1])
        assert _agree(feed, group) == -1
    # reconnected: pending again, subscribed, resynced, live
    assert set(shards[0].pending_add) == set(keys)
    _subscribe(feed, shards[0], keys, 60)
    assert _agree(feed, group) == -1  # the resync is queued, not applied yet
    _drain(feed)
    assert _agree(feed, group) == 60  # not live yet: the delivered slot only
    _live(feed, shards[0], 61)
    assert _agree(feed, group) == 61


def test_unwatch_and_watch_again_of_one_account() -> None:
    feed, keys, shard = _live_feed(3, 30)
    group, rest = feed.group(keys), feed.group(keys[:2])
    assert _agree(feed, group) == _agree(feed, rest) == 30
    feed.unwatch([keys[2]])
    assert _agree(feed, group) == -1
    assert _agree(feed, rest) == 30
    feed._on_slot_note(shard, None, 31)
    assert _agree(feed, group) == -1  # a slot frame does not bring it back
    feed.watch([keys[2]])
    assert _agree(feed, group) == -1  # watched, not subscribed yet
    _subscribe(feed, shard, [keys[2]], 31)
    assert _agree(feed, group) == -1  # resync queued
    _drain(feed)
    assert _agree(feed, group) == 31


def test_slot_frames_move_the_answer_and_old_frames_do_not() -> None:
    feed = _feed(per_connection=2)
    keys = [Pubkey.new_unique() for _ in range(4)]  # two shards
    feed.watch(keys)
    s0, s1 = feed.endpoints[0].shards
    _subscribe(feed, s0, keys[:2], 5)
    _subscribe(feed, s1, keys[2:], 5)
    _live(feed, s0, 20)
    _live(feed, s1, 12)
    _drain(feed)
    group = feed.group(keys)
    assert _agree(feed, group) == 12
    feed._on_slot_note(s0, None, 25)
    assert _agree(feed, group) == 12
    feed._on_slot_note(s1, None, 11)  # older frame: ignored
    assert _agree(feed, group) == 12
    feed._on_slot_note(s1, None, 30)
    assert _agree(feed, group) == 25


def test_queued_updates_pending_and_in_the_consumers_batch() -> None:
    feed, keys, shard = _live_feed(4, 12)
    groups = [feed.group(keys[:2]), feed.group(keys[2:]), feed.group(keys)]
    assert [_agree(feed, g) for g in groups] == [12, 12, 12]
    ep = feed.endpoints[0].stats
    feed.delivery.offer(_upd(keys[0], 13), ep)
    assert [_agree(feed, g) for g in groups] == [-1, 12, -1]
    feed.delivery.offer(_upd(keys[3], 14), ep)
    seen: list[list[int]] = []

    def on_update(upd: AccountUpdate) -> None:  # the rest of the batch is still queued
        seen.append([_agree(feed, g) for g in groups])

    async def consume() -> None:
        task = asyncio.create_task(feed.delivery.run(on_update))
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(consume())
    assert seen == [[12, -1, -1], [12, 12, 12]]
    feed._on_slot_note(shard, None, 13)
    assert [_agree(feed, g) for g in groups] == [13, 13, 13]


def test_the_delivered_floor_of_a_group() -> None:
    """No slot frame yet (shard slot -1): the answer is the lowest delivered slot, kept by the
    parts' floor counts as accounts at the floor move (the delivery stage's watchers)."""
    feed, keys, _shard = _live_feed(4)
    group = feed.group(keys)
    assert _agree(feed, group) == 10
    ep = feed.endpoints[0].stats
    rng = random.Random(3)
    slots = dict.fromkeys(keys, 10)
    for _ in range(200):
        pk = rng.choice(keys)
        slot = slots[pk] + rng.choice((0, 0, 1, 2))
        if rng.random() < 0.2:
            feed.delivery.resynced(_upd(pk, slot))
        else:
            feed.delivery.offer(_upd(pk, slot), ep)
        slots[pk] = slot
        _agree(feed, group)
        if rng.random() < 0.5:
            _drain(feed)
            assert _agree(feed, group) == min(slots.values())


@pytest.mark.parametrize("seed", range(4))
def test_the_floor_bound_against_the_shards_slots(seed: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Delivered slots now behind the shards' slots (the answer is the shards' slot, read with
    no scan of the accounts), now ahead of them (the lowest delivered slot counts): the bound
    the delivery stage keeps per part checked against the definition after every change, over
    two shards, updates and resyncs, queued or applied."""
    feed = _feed(per_connection=3)
    keys = [Pubkey.new_unique() for _ in range(6)]
    feed.watch(keys)
    s0, s1 = feed.endpoints[0].shards
    home = {pk: s0 if i < 3 else s1 for i, pk in enumerate(keys)}
    _subscribe(feed, s0, keys[:3], 10)
    _subscribe(feed, s1, keys[3:], 10)
    _live(feed, s0, 10)
    _live(feed, s1, 10)
    _drain(feed)
    groups = [feed.group(keys), feed.group(keys[:3]), feed.group(keys[1:5]), feed.group(keys[2:3])]
    scans = 0  # delivery records read by scans (at least one per scan)
    slot_of = pubsub_groups._SLOT

    def counted(record: Any) -> int:
        nonlocal scans
        scans += 1
        return slot_of(record)  # type: ignore[no-any-return]

    monkeypatch.setattr(pubsub_groups, "_SLOT", counted)
    rng = random.Random(seed)
    shard_slot = {s0: 10, s1: 10}
    delivered = dict.fromkeys(keys, 10)
    ep = feed.endpoints[0].stats
    ahead = behind = asks = 0
    for _ in range(500):
        r = rng.random()
        if r < 0.15:
            shard = rng.choice((s0, s1))
            shard_slot[shard] += rng.choice((1, 1, 2))
            feed._on_slot_note(shard, None, shard_slot[shard])
        else:
            pk = rng.choice(keys)
            slot = max(delivered[pk], shard_slot[home[pk]] + rng.randint(-3, 3))
            delivered[pk] = slot
            if rng.random() < 0.15:
                feed.delivery.resynced(_upd(pk, slot))
            else:
                feed.delivery.offer(_upd(pk, slot), ep)
            if rng.random() < 0.7:
                _drain(feed)
        for g in groups:
            _agree(feed, g)
        asks += 2 * len(groups)
        for shard in (s0, s1):  # the lowest delivered slot of a shard's accounts vs its slot
            low = min(delivered[k] for k in keys if home[k] is shard)
            ahead += low > shard_slot[shard]
            behind += low < shard_slot[shard]
    _drain(feed)
    assert [_agree(feed, g) for g in groups] == [
        min(max(delivered[k], shard_slot[home[k]]) for k in g.keys) for g in groups]
    assert ahead > 20 and behind > 20  # both regimes were visited
    assert scans < asks // 4  # the bound spares most scans


def test_a_refused_subscription_leaves_a_shard_holding_part_of_a_group() -> None:
    """Endpoint a's shard holds both accounts but the node refused one (retried later); endpoint
    b holds both. Each account gets the slot of the shards that hold it."""
    feed = _feed(endpoints=2)
    x, y = Pubkey.new_unique(), Pubkey.new_unique()
    feed.watch([x, y])
    a, b = (ep.shards[0] for ep in feed.endpoints)
    _subscribe(feed, a, [x], 10)  # y refused on a
    _subscribe(feed, b, [x, y], 10)
    _live(feed, a, 40)
    _live(feed, b, 15)
    _drain(feed)
    group = feed.group([x, y])
    assert _agree(feed, group) == 15
    feed._on_slot_note(a, None, 45)
    assert _agree(feed, group) == 15
    feed._on_slot_note(b, None, 18)
    assert _agree(feed, group) == 18
    feed._shard_down(b)  # y is fresh nowhere now
    assert _agree(feed, group) == -1
    _subscribe(feed, a, [y], 45)  # the retry is accepted on a
    _drain(feed)
    assert _agree(feed, group) == 45


def test_a_group_account_watched_later_lands_on_a_new_shard() -> None:
    feed = _feed(per_connection=2)
    keys = [Pubkey.new_unique() for _ in range(3)]
    feed.watch(keys[:2])
    s0 = feed.endpoints[0].shards[0]
    _subscribe(feed, s0, keys[:2], 10)
    _live(feed, s0, 20)
    _drain(feed)
    group = feed.group(keys)
    assert _agree(feed, group) == -1  # keys[2] not watched
    feed.watch([keys[2]])  # the market's on_new_accounts
    s1 = feed.endpoints[0].shards[1]
    assert _agree(feed, group) == -1
    _subscribe(feed, s1, [keys[2]], 21)
    _drain(feed)
    assert _agree(feed, group) == 20  # s1 not live yet: keys[2] at its resync slot 21
    _live(feed, s1, 22)
    assert _agree(feed, group) == 20
    feed._on_slot_note(s0, None, 30)
    assert _agree(feed, group) == 22


def test_a_released_group_asked_again_is_never_fresher() -> None:
    """After release the delivery stage no longer marks the group; asked again anyway, it may
    lag (a missed trade) but never reads fresher than the accounts are."""
    feed, keys, _shard = _live_feed(3)
    group = feed.group(keys)
    assert _agree(feed, group) == 10
    feed.release(group)
    assert feed.delivery._watchers == {}
    ep = feed.endpoints[0].stats
    for pk in keys:
        feed.delivery.offer(_upd(pk, 12), ep)
        assert feed.group_slot(group) == -1 == feed.min_account_slot(keys)
    _drain(feed)
    assert 10 <= feed.group_slot(group) <= feed.min_account_slot(keys) == 12
    feed.unwatch([keys[1]])
    assert feed.group_slot(group) == -1
    feed.release(group)


def _slot_frame(sub: int, slot: int) -> bytes:
    msg = copy.deepcopy(SLOT_NOTE)
    msg["params"]["subscription"] = sub
    msg["params"]["result"] = {"parent": slot - 1, "root": slot - 32, "slot": slot}
    return orjson.dumps(msg)


def test_the_bench_harness_wiring() -> None:
    """runtime.bench._Wiring sets subscriptions itself (then _update_fresh_flag) and feeds frames
    through the connections' dispatch, as the bench replays them."""
    from solarb.runtime.bench import _Wiring

    keys = [Pubkey.new_unique() for _ in range(6)]
    slots: list[int] = []
    wiring = _Wiring(keys, slots.append)
    feed = wiring.feed
    groups = [feed.group(keys[i:i + 3]) for i in range(0, 6, 2)] + [feed.group(keys)]
    cluster = FakeCluster()  # only its frame builder
    sub_of = {Pubkey.from_bytes(pk): (sid, i) for pk, sid, i in wiring.subs}
    rng = random.Random(11)
    slot = 100
    for _ in range(150):
        for g in groups:
            _agree(feed, g)
        r = rng.random()
        if r < 0.3:
            slot += 1
            sid, i = rng.choice(wiring.slot_subs)
            wiring.conns[i]._dispatch(_slot_frame(sid, slot))
        elif r < 0.8:
            pk = rng.choice(keys)
            sid, i = sub_of[pk]
            acct = Acct(b"\x02" * 8, 5, slot)
            wiring.conns[i]._dispatch(cluster.account_frame(sid, acct, slot - rng.randint(0, 2)))
        else:
            feed.delivery.drain_now(lambda u: None)
    feed.delivery.drain_now(lambda u: None)
    assert min(_agree(feed, g) for g in groups) > 100


async def _until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


async def test_full_sessions_over_a_loopback_server() -> None:
    """The feed's own sessions (subscribe, resync, live, slot frames, reconnect after the server
    drops every socket, watch and unwatch at runtime), checked inside on_update and between
    frames by a task that polls every group."""
    cluster = FakeCluster()
    await cluster.start()
    keys = [Pubkey.new_unique() for _ in range(6)]
    for i, k in enumerate(keys):
        await cluster.set_account(k, bytes([i]) * 8, notify=False)
    feed = PubSubFeed(cluster.url, RpcClient(cluster), subscriptions_per_connection=2,
                      silence_timeout=0.5, reconnect_backoff=(0.01, 0.05),
                      rng=random.Random(7), ping_interval=None)
    feed.watch(keys[:5])  # keys[5] is watched later
    groups = [feed.group(keys), feed.group(keys[:5]), feed.group(keys[1:4]), feed.group(keys[4:])]
    answers: list[list[int]] = []

    def check(*_: Any) -> None:
        answers.append([_agree(feed, g) for g in groups])

    async def poll() -> None:
        while True:
            check()
            await asyncio.sleep(0.002)

    task = asyncio.create_task(feed.run(check, lambda s: None))
    poller = asyncio.create_task(poll())
    try:
        await asyncio.wait_for(feed.fresh.wait(), 3)
        await _until(lambda: feed.group_slot(groups[1]) > 0)
        for i in range(5):
            await cluster.set_account(keys[i], b"x" * 8, slot=cluster.slot)
        await cluster.drop()  # every socket dies: reconnect, resubscribe, resync
        await _until(lambda: not feed.is_fresh)
        assert feed.group_slot(groups[1]) == -1
        await _until(lambda: feed.is_fresh and feed.group_slot(groups[1]) > 0)
        feed.watch([keys[5]])
        await _until(lambda: feed.group_slot(groups[0]) > 0)
        feed.unwatch([keys[2]])
        assert feed.group_slot(groups[2]) == -1
        check()
        await asyncio.sleep(0.05)
        check()
    finally:
        poller.cancel()
        task.cancel()
        await asyncio.gather(poller, task, return_exceptions=True)
        await cluster.stop()
    assert len(answers) > 10 and any(a[0] > 0 for a in answers)


def test_market_freshness_replaces_keeps_and_drops_groups() -> None:
    feed = _feed()
    keys = [Pubkey.new_unique() for _ in range(6)]
    pool = keys[0]
    feed.watch(keys[:5])  # keys[5] is never watched
    shard = feed.endpoints[0].shards[0]
    _subscribe(feed, shard, keys[:5], 10)
    _live(feed, shard, 20)
    _drain(feed)
    aux = (keys[1], keys[2])
    market = SimpleNamespace(pools={pool: SimpleNamespace(aux_keys=aux)})
    fast = MarketFreshness(market, feed)  # type: ignore[arg-type]
    plain = MarketFreshness(market, MinSlotOnly(feed))  # type: ignore[arg-type]

    def agree() -> int:
        got = fast.pool_slot(pool)
        assert got == plain.pool_slot(pool) == fast.pool_slot(pool)
        return got

    assert agree() == 20
    first = fast._groups[pool][1]
    same = aux[:1] + aux[1:]  # equal, another object: a new group
    assert same == aux and same is not aux
    market.pools[pool].aux_keys = same
    assert agree() == 20
    assert fast._groups[pool][1] is not first and first.parts == ()  # the old one released
    market.pools[pool].aux_keys = (keys[1], keys[5])  # an account not watched: not fresh
    assert agree() == -1
    market.pools[pool].aux_keys = (keys[3], keys[4])
    assert agree() == 20
    kept = market.pools[pool]
    del market.pools[pool]  # removed from the market
    assert agree() == -1 and pool not in fast._groups
    feed.unwatch([keys[3]])
    market.pools[pool] = kept  # back with the same tuple object
    assert agree() == -1
    market.pools[pool].aux_keys = (keys[4],)
    assert agree() == 20
    watchers = map(feed.delivery.watchers_of, feed.delivery._watchers)
    assert sum(map(len, watchers)) == 2  # one live group


def test_a_group_account_first_delivered_after_the_layout() -> None:
    """A scan reads the delivery records taken at layout; an account subscribed but never
    delivered then has none (slot -1): its first delivery makes one, which the next scans read
    (no slot frame: the answer is the lowest delivered slot)."""
    feed = _feed()
    keys = [Pubkey.new_unique() for _ in range(3)]
    feed.watch(keys)
    shard = feed.endpoints[0].shards[0]
    _subscribe(feed, shard, keys[:2], 10)
    shard.subs[keys[2]] = 1  # subscribed, no resync read delivered
    shard.pending_add.pop(keys[2], None)
    _live(feed, shard)
    _drain(feed)
    group = feed.group(keys)
    assert _agree(feed, group) == -1
    ep = feed.endpoints[0].stats
    feed.delivery.offer(_upd(keys[2], 12), ep)
    assert _agree(feed, group) == -1  # queued
    _drain(feed)
    assert _agree(feed, group) == 10
    for pk in keys[:2]:
        feed.delivery.offer(_upd(pk, 13), ep)
    _drain(feed)
    assert _agree(feed, group) == 12  # keys[2]'s own record, not "never delivered"
    feed.delivery.offer(_upd(keys[2], 14), ep)
    _drain(feed)
    assert _agree(feed, group) == 13


def test_a_group_account_delivered_again_lower_after_unwatch() -> None:
    """Unwatched (its record dropped) and watched again, an account restarts at a lower slot
    than its old record said: the group reads the new record, never the old one (which would
    answer above the truth)."""
    feed, keys, shard = _live_feed(3)
    group = feed.group(keys)
    ep = feed.endpoints[0].stats
    for pk in keys:
        feed.delivery.offer(_upd(pk, 20), ep)
    _drain(feed)
    assert _agree(feed, group) == 20
    feed.unwatch([keys[2]])
    assert _agree(feed, group) == -1
    feed.watch([keys[2]])
    _subscribe(feed, shard, [keys[2]], 15)
    _drain(feed)
    assert _agree(feed, group) == 15
    feed.delivery.offer(_upd(keys[2], 21), ep)
    _drain(feed)
    assert _agree(feed, group) == 20
