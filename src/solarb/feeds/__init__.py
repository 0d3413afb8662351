"""Account sources: the AccountSource Protocol and its implementations (PubSub, polling, Geyser)."""

from solarb.feeds.base import AccountSource, OnSlot, OnUpdate
from solarb.feeds.delivery import Delivery, EndpointStats, FeedStats
from solarb.feeds.pubsub import PubSubFeed

__all__ = ["AccountSource", "Delivery", "EndpointStats", "FeedStats", "OnSlot", "OnUpdate", "PubSubFeed"]
