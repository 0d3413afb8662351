"""The delivery stage's consumer path (``Delivery.deliver``, shared by ``run`` and ``drain_now``):
later updates of a batch read as queued while an earlier one is applied, and an ``on_update``
that raises loses nothing (what it did not apply stays queued, hence not fresh, and is applied by
the next consumer). Each test drives the real feed objects; freshness is checked against
``min_account_slot``, the definition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.delivery import Delivery, EndpointStats, FeedStats
from solarb.feeds.pubsub import AccountGroup, PubSubFeed

Consumer = Callable[[AccountUpdate], None]


def _upd(pk: Pubkey, slot: int) -> AccountUpdate:
    return AccountUpdate(pk, slot, bytes([slot % 256]), pk, 1, 1)


def _fresh_feed(n: int, slot: int = 10, shard_slot: int = 12) -> tuple[PubSubFeed, list[Pubkey]]:
    """A one-shard feed with ``n`` accounts subscribed, resynced at ``slot`` and applied, the
    shard live at ``shard_slot``."""
    feed = PubSubFeed("ws://a.invalid", None, ping_interval=None)  # type: ignore[arg-type]
    keys = [Pubkey.new_unique() for _ in range(n)]
    feed.watch(keys)
    shard = feed.endpoints[0].shards[0]
    for pk in keys:
        feed.delivery.resynced(_upd(pk, slot))
        shard.subs[pk] = 1
    shard.live = True
    feed._update_fresh_flag()
    feed._on_slot_note(shard, None, shard_slot)
    feed.delivery.drain_now(lambda u: None)
    return feed, keys


def _answers(feed: PubSubFeed, groups: list[AccountGroup]) -> list[int]:
    out = []
    for g in groups:
        want = feed.min_account_slot(g.keys)
        assert feed.group_slot(g) == want == feed.group_slot(g)
        out.append(want)
    return out


def _consume_with_run(feed: PubSubFeed, on_update: Consumer) -> BaseException | None:
    """``Delivery.run`` (the production consumer) until it is idle or fails."""

    async def go() -> BaseException | None:
        task = asyncio.create_task(feed.delivery.run(on_update))
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        done = await asyncio.gather(task, return_exceptions=True)
        return None if isinstance(done[0], asyncio.CancelledError) else done[0]

    return asyncio.run(go())


def _consume_with_drain_now(feed: PubSubFeed, on_update: Consumer) -> BaseException | None:
    try:
        feed.delivery.drain_now(on_update)
    except RuntimeError as e:
        return e
    return None


CONSUMERS = {"run": _consume_with_run, "drain_now": _consume_with_drain_now}


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_later_updates_of_a_batch_read_as_queued(consumer: str) -> None:
    feed, keys = _fresh_feed(4)
    groups = [feed.group(keys[:2]), feed.group(keys[2:]), feed.group(keys)]
    assert _answers(feed, groups) == [12, 12, 12]
    ep = feed.endpoints[0].stats
    feed.delivery.offer(_upd(keys[0], 13), ep)
    feed.delivery.offer(_upd(keys[3], 14), ep)
    seen: list[tuple[int, list[int]]] = []

    def on_update(upd: AccountUpdate) -> None:
        seen.append((upd.slot, _answers(feed, groups)))

    assert CONSUMERS[consumer](feed, on_update) is None
    # while keys[0]'s update is applied, keys[3]'s is still in hand: its groups are not fresh
    assert seen == [(13, [12, -1, -1]), (14, [12, 12, 12])]
    assert not any(map(feed.delivery.queued, keys))


@pytest.mark.parametrize("fail_at", [0, 1, 2])
@pytest.mark.parametrize("consumer", CONSUMERS)
def test_a_failing_on_update_loses_nothing(consumer: str, fail_at: int) -> None:
    """The update ``on_update`` raised on and the rest of its batch stay queued (not fresh);
    a newer arrival replaces its queued copy; the next consumer applies them in order."""
    feed, keys = _fresh_feed(4)
    groups = [feed.group([k]) for k in keys[:3]] + [feed.group(keys)]
    ep = feed.endpoints[0].stats
    for i, pk in enumerate(keys[:3]):
        feed.delivery.offer(_upd(pk, 20 + i), ep)
    applied: list[tuple[Pubkey, int]] = []

    def on_update(upd: AccountUpdate) -> None:
        if len(applied) == fail_at:
            raise RuntimeError("consumer failed")
        applied.append((upd.pubkey, upd.slot))

    err = CONSUMERS[consumer](feed, on_update)
    assert isinstance(err, RuntimeError)
    assert applied == [(keys[i], 20 + i) for i in range(fail_at)]
    # the applied ones are fresh, the rest (failed one included) read as queued
    assert [feed.delivery.queued(k) for k in keys[:3]] == [i >= fail_at for i in range(3)]
    want = [20 + i if i < fail_at else -1 for i in range(3)]  # delivered slots lead the shard's
    assert _answers(feed, groups) == [*want, -1]
    assert feed.counters.delivered == 4 + fail_at  # 4 resyncs, then the applied ones
    feed.delivery.offer(_upd(keys[2], 30), ep)  # newer than the queued copy: replaces it
    rest: list[tuple[Pubkey, int]] = []
    assert CONSUMERS[consumer](feed, lambda u: rest.append((u.pubkey, u.slot))) is None
    assert rest == [(keys[i], 20 + i) for i in range(fail_at, 2)] + [(keys[2], 30)]
    assert _answers(feed, groups) == [20, 21, 30, 12]  # keys[3]: resync 10, shard at 12
    assert feed.counters.delivered == 4 + 3


def test_an_account_forgotten_while_its_batch_is_applied_is_not_delivered() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    ep = EndpointStats("ws://a")
    a, b, c = (Pubkey.new_unique() for _ in range(3))
    for pk in (a, b, c):
        delivery.offer(_upd(pk, 5), ep)
    got: list[Pubkey] = []

    def on_update(upd: AccountUpdate) -> None:
        got.append(upd.pubkey)
        if upd.pubkey == a:
            delivery.forget(b)  # unwatched by what a's update did
            assert not delivery.queued(b) and delivery.queued(c)

    assert delivery.drain_now(on_update) == 2 and got == [a, c]
    assert stats.delivered == 2 and delivery.last_slot(b) == -1


def test_coalescing_counts_only_replaced_updates() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    ep = EndpointStats("ws://a")
    a, b = Pubkey.new_unique(), Pubkey.new_unique()
    delivery.offer(_upd(a, 5), ep)
    delivery.offer(_upd(b, 5), ep)
    assert stats.coalesced == 0
    delivery.offer(_upd(a, 6), ep)  # replaces a's pending update
    delivery.resynced(_upd(b, 7))  # replaces b's
    assert stats.coalesced == 2
    got: list[tuple[Pubkey, int]] = []
    assert delivery.drain_now(lambda u: got.append((u.pubkey, u.slot))) == 2
    assert got == [(a, 6), (b, 7)] and stats.coalesced == 2


def test_a_resync_at_a_newer_slot_restarts_the_count_within_the_slot() -> None:
    """Two changes streamed at slot 5 (k = 1, 2), then a resync at slot 6: the stream's first
    notification at slot 6 is new (k = 1), not a copy of the resync."""
    stats = FeedStats()
    delivery = Delivery(stats)
    ep = EndpointStats("ws://a")
    pk = Pubkey.new_unique()
    delivery.offer(_upd(pk, 5), ep)
    delivery.offer(_upd(pk, 5), ep)
    delivery.resynced(_upd(pk, 6))
    delivery.offer(_upd(pk, 6), ep)
    assert stats.duplicates == 0 and stats.coalesced == 3
    got: list[int] = []
    assert delivery.drain_now(lambda u: got.append(u.slot)) == 1 and got == [6]
    assert delivery.last_slot(pk) == 6


def test_has_pending_is_true_from_offer_until_the_consumer_takes_the_batch() -> None:
    delivery = Delivery(FeedStats())
    ep = EndpointStats("ws://a")
    a, b = Pubkey.new_unique(), Pubkey.new_unique()
    assert not delivery.has_pending()
    delivery.offer(_upd(a, 5), ep)
    assert delivery.has_pending()
    seen: list[bool] = []

    def consume(u: AccountUpdate) -> None:
        seen.append(delivery.has_pending())  # the batch is taken: nothing waits behind it
        if u.pubkey == a:
            delivery.offer(_upd(b, 6), ep)  # arrives while the batch is applied

    assert delivery.drain_now(consume) == 2
    assert seen == [False, False] and not delivery.has_pending()


def test_run_calls_on_idle_after_each_run_of_deliveries_and_before_waiting() -> None:
    """``on_idle`` (the node's ``Pipeline.settle``) runs once every pending update has been
    handed over, never between two of them, and again after the next wake-up."""
    feed, keys = _fresh_feed(3)
    delivery = feed.delivery
    ep = feed.endpoints[0].stats
    events: list[str] = []
    delivery.on_idle = lambda: events.append("idle")

    async def go() -> None:
        task = asyncio.create_task(delivery.run(lambda u: events.append(f"update {u.slot}")))
        for pk, slot in zip(keys, (20, 21, 22)):
            delivery.offer(_upd(pk, slot), ep)
        for _ in range(3):
            await asyncio.sleep(0)
        delivery.offer(_upd(keys[0], 30), ep)
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())
    assert events == ["update 20", "update 21", "update 22", "idle", "update 30", "idle"]
