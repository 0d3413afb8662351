"""Account sources: the AccountSource Protocol and its implementations (PubSub, ...)."""

from solarb.feeds.base import AccountSource, OnSlot, OnUpdate
from solarb.feeds.pubsub import FeedStats, PubSubFeed

__all__ = ["AccountSource", "FeedStats", "OnSlot", "OnUpdate", "PubSubFeed"]
