"""Views of a PubSubFeed through one of MarketFreshness's source paths only, for tests that
compare those paths with the feed's grouped answers."""

from __future__ import annotations

from typing import Any

from solarb.feeds.pubsub import PubSubFeed


class MinSlotOnly:
    """The feed through ``min_account_slot`` only (no groups, no ``stale_pool`` fast path in the
    stale-state rule): MarketFreshness's batch path, one exact answer per pool."""

    def __init__(self, feed: PubSubFeed) -> None:
        self.feed = feed

    @property
    def cluster_slot(self) -> int:
        """The feed's cluster slot."""
        return self.feed.cluster_slot

    def min_account_slot(self, keys: Any) -> int:
        """The feed's exact minimum over ``keys``."""
        return self.feed.min_account_slot(keys)
