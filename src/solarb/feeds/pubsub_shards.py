"""The per-connection objects of :class:`~solarb.feeds.pubsub.PubSubFeed`: a shard (one
connection's worth of accounts on one endpoint), an endpoint (its shards and arrival statistics)
and the account notification handler of one shard's connection (the per-notification hot path:
decode, then the delivery stage's ``offer``). The feed owns and mutates them; see its module for
the session, freshness and error rules.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from solarb.feeds.delivery import EndpointStats
from solarb.rpc.client import decode_account
from solarb.rpc.errors import FeedProtocolError, RpcProtocolError

if TYPE_CHECKING:
    from solarb.feeds.pubsub import PubSubFeed
    from solarb.rpc.ws import PubSubConnection

__all__: list[str] = []  # private to solarb.feeds.pubsub


class _Shard:
    """One connection's worth of accounts on one endpoint."""

    __slots__ = ("conn", "endpoint", "index", "keys", "last_frame_ns", "last_slot", "live",
                 "pending_add", "pending_programs", "pending_remove", "programs", "retry_at",
                 "subs", "task")

    def __init__(self, endpoint: _Endpoint, index: int) -> None:
        self.endpoint = endpoint
        self.index = index
        self.keys: dict[Pubkey, None] = {}  # assigned accounts (insertion-ordered set)
        self.subs: dict[Pubkey, int] = {}  # subscribed + resynced on the live connection
        self.pending_add: dict[Pubkey, None] = {}
        self.pending_remove: dict[Pubkey, int] = {}  # key -> sub id to cancel
        self.programs: dict[Pubkey, None] = {}  # programSubscribe'd programs on this shard
        self.pending_programs: dict[Pubkey, None] = {}
        self.retry_at = 0.0  # monotonic time to retry refused subscriptions
        self.live = False  # connected, slot-subscribed and initial resync done
        self.last_slot = -1
        self.last_frame_ns = 0
        self.conn: PubSubConnection | None = None
        self.task: asyncio.Task[None] | None = None


class _ShardNotes:
    """The account notifications of one shard's connection: ``notes(pubkey, value, slot)``, its
    ``on_account`` (the connection's subscription table holds each account's pubkey, no callback
    object per account)."""

    __slots__ = ("feed", "shard")

    def __init__(self, feed: PubSubFeed, shard: _Shard) -> None:
        self.feed = feed
        self.shard = shard

    def __call__(self, pubkey: Pubkey, value: Any, slot: int) -> None:
        shard = self.shard
        conn = shard.conn
        feed = self.feed
        if slot < 0 or conn is None:
            feed._count_garbled(FeedProtocolError(f"account notification without slot: {pubkey}"))
            return
        try:
            upd = decode_account(pubkey, value, slot, conn.frame_recv_ns, "accountNotification")
        except RpcProtocolError as e:
            feed._count_garbled(FeedProtocolError(str(e)))
            return
        if upd is None or pubkey not in shard.keys:
            return
        feed.counters.notifications += 1
        feed.delivery.offer(upd, shard.endpoint.stats)


class _Endpoint:
    __slots__ = ("shards", "stats", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.shards: list[_Shard] = []
        self.stats = EndpointStats(url)
