"""``MarketFreshness.warm``: every pool's account group made and laid out before the stream, so
a pool's first freshness question lays nothing out, and the answers are those of a view that
was never warmed (and of the per-account definition) whatever the feed does next."""

from __future__ import annotations

import random

import pytest
from solders.pubkey import Pubkey

from solarb.feeds import pubsub_groups
from solarb.feeds.freshness import MarketFreshness
from solarb.runtime.bench_workload import Workload
from tests.feeds.test_feed_freshness import _churn, _Driver, _feed, _market
from tests.support.freshness_views import PerAccount


def test_after_warm_no_first_question_lays_a_group_out(monkeypatch: pytest.MonkeyPatch) -> None:
    w = Workload(9, seed=3, swaps_per_slot=50, inject_every=0)
    pools = [p for p, *_ in w.pools]
    market = _market(w, pools)
    feed = _feed(market)
    _Driver(feed, market.watched_accounts(), random.Random(1)).all_live()
    view = MarketFreshness(market, feed)
    assert view.warm() == len(pools) == len(view._groups)
    assert view.warm() == 0  # made once
    laid: list[object] = []
    real = pubsub_groups._lay_out
    monkeypatch.setattr(pubsub_groups, "_lay_out", lambda f, g: (laid.append(g), real(f, g)))
    plain = MarketFreshness(market, PerAccount(feed))  # type: ignore[arg-type]
    for pool in pools:
        assert view.pool_slot(pool) == plain.pool_slot(pool) > 0
    assert laid == []
    assert MarketFreshness(market, PerAccount(feed)).warm() == 0  # no groups: nothing to warm


def test_a_warmed_view_answers_as_a_cold_one_as_the_feed_and_pools_change() -> None:
    w = Workload(9, seed=3, swaps_per_slot=50, inject_every=0)
    pools = [p for p, *_ in w.pools]
    for seed in range(3):
        rng = random.Random(seed)
        market = _market(w, pools)
        feed = _feed(market)
        warm, cold = MarketFreshness(market, feed), MarketFreshness(market, feed)
        plain = MarketFreshness(market, PerAccount(feed))  # type: ignore[arg-type]
        driver = _Driver(feed, market.watched_accounts(), rng)
        if seed:  # warmed before the subscriptions (as the node does) or after (as the bench)
            driver.all_live()
        warm.warm()
        removed: list[Pubkey] = []
        for _ in range(200):
            driver.step()
            back = _churn(rng, w, market, removed)
            if back is not None:  # back, with a new aux tuple: warmed again
                warm.warm([back])
            for pool in rng.sample(pools, 5):
                assert warm.pool_slot(pool) == cold.pool_slot(pool) == plain.pool_slot(pool)
