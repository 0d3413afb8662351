"""Views of a PubSubFeed through one of MarketFreshness's source paths only, for tests that
compare those paths with the feed's grouped answers."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey

from solarb.feeds.pubsub import PubSubFeed


class _FeedView:
    """The feed's cluster slot, and nothing a path below does not add."""

    def __init__(self, feed: PubSubFeed) -> None:
        self.feed = feed

    @property
    def cluster_slot(self) -> int:
        """The feed's cluster slot."""
        return self.feed.cluster_slot


class MinSlotOnly(_FeedView):
    """The feed through ``min_account_slot`` only (no groups, no ``stale_pool`` fast path in the
    stale-state rule): MarketFreshness's batch path, one exact answer per pool."""

    def min_account_slot(self, keys: Any) -> int:
        """The feed's exact minimum over ``keys``."""
        return self.feed.min_account_slot(keys)


class PerAccount(_FeedView):
    """The feed through ``account_slot`` only: MarketFreshness's plain path, one look-up per
    account."""

    def account_slot(self, pubkey: Pubkey) -> int:
        """The feed's slot of ``pubkey``."""
        return self.feed.account_slot(pubkey)
