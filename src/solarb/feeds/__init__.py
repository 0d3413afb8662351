"""Account sources: the AccountSource Protocol and its implementations (PubSub, polling, Geyser).

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
