"""Account sources: the AccountSource Protocol and its implementations (PubSub, polling, Geyser).

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.lazy import lazy_exports

if TYPE_CHECKING:
    from solarb.feeds.base import AccountSource, OnSlot, OnUpdate
    from solarb.feeds.delivery import Delivery, EndpointStats, FeedStats
    from solarb.feeds.pubsub import PubSubFeed

__all__ = [
    "AccountSource",
    "Delivery",
    "EndpointStats",
    "FeedStats",
    "OnSlot",
    "OnUpdate",
    "PubSubFeed",
]

_EXPORTS: dict[str, str] = {
    "AccountSource": "solarb.feeds.base",
    "Delivery": "solarb.feeds.delivery",
    "EndpointStats": "solarb.feeds.delivery",
    "FeedStats": "solarb.feeds.delivery",
    "OnSlot": "solarb.feeds.base",
    "OnUpdate": "solarb.feeds.base",
    "PubSubFeed": "solarb.feeds.pubsub",
}


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
