"""Pool freshness from a feed: the view the stale_state risk rule reads, and the source factory.

A pool's quote reads the pool account and its auxiliary accounts (vaults, tick arrays, ...); the
pool is as fresh as the least fresh of them. :class:`MarketFreshness` asks the source for each
account's known-current slot (:meth:`~solarb.feeds.base.AccountSource.account_slot`) and takes the
minimum; -1 if any is not fresh. It is read only when an opportunity is judged, never per update.
A source that answers for a whole group of accounts (``group``/``group_slot``/``release``, as
:class:`~solarb.feeds.pubsub.PubSubFeed`) gets one group per pool, kept while the pool's tuple of
auxiliary accounts is the same object; else ``min_account_slot``, else one ``account_slot`` each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from solarb.market.state import MarketState

if TYPE_CHECKING:
    from solarb.config import FeedSettings
    from solarb.feeds.base import AccountSource
    from solarb.rpc.client import RpcClient

__all__ = ["MarketFreshness", "build_source", "pool_accounts", "watch_market"]


class MarketFreshness:
    """:class:`~solarb.risk.rules.stale_state.PoolFreshness` over a market and its source."""

    def __init__(self, market: MarketState, source: Any) -> None:
        self.market = market
        self.source = source  # read once: the group interface is looked up here
        self._group = getattr(source, "group", None)
        self._release = getattr(source, "release", None)
        self._group_slot = (getattr(source, "group_slot", None)
                            if self._group is not None and self._release is not None else None)
        self._at_least = (getattr(source, "group_slot_at_least", None)
                          if self._group_slot is not None else None)
        # pool -> (the aux_keys tuple its group was made from, the group)
        self._groups: dict[Pubkey, tuple[tuple[Pubkey, ...], Any]] = {}

    @property
    def cluster_slot(self) -> int:
        """The highest slot the source has seen."""
        slot = self.source.cluster_slot
        return slot if type(slot) is int else int(slot)

    def pool_slot(self, pool: Pubkey) -> int:
        """Min known-current slot over ``pool`` and its auxiliary accounts; -1 if any is not
        fresh or the pool is unknown."""
        entry = self.market.pools.get(pool)
        if entry is None:
            if pool in self._groups:
                self._release(self._groups.pop(pool)[1])  # type: ignore[misc]
            return -1
        group_slot = self._group_slot
        if group_slot is not None:
            return group_slot(self._group_of(pool, entry))  # type: ignore[no-any-return]  # an int
        batch = getattr(self.source, "min_account_slot", None)
        if batch is not None:
            return int(batch((pool, *entry.aux_keys)))
        account_slot = self.source.account_slot
        slot = account_slot(pool)
        for key in entry.aux_keys:
            if slot < 0:
                break
            s = account_slot(key)
            if s < slot:
                slot = s
        return slot

    def stale_pool(self, pools: Iterable[Pubkey], need: int) -> tuple[Pubkey, int] | None:
        """The first of ``pools`` whose :meth:`pool_slot` is below ``max(need, 0)``, with that
        slot (exact); None if there is none. A pool at or above it is not asked exactly: a
        source with ``group_slot_at_least`` answers from a cached lower bound (what the
        stale-state rule needs: the same verdicts, fewer group recomputations)."""
        at_least = self._at_least
        if need < 0:  # noqa: PLR1730 (no call: hot)
            need = 0
        if at_least is None:
            pool_slot = self.pool_slot
            for pool in pools:
                slot = pool_slot(pool)
                if slot < need:
                    return pool, slot
            return None
        market_get, group_of = self.market.pools.get, self._group_of
        for pool in pools:  # pool_slot's group path, with at_least for group_slot
            entry = market_get(pool)
            if entry is None:
                return pool, self.pool_slot(pool)  # -1 (its group released)
            slot = at_least(group_of(pool, entry), need)
            if slot < need:
                return pool, slot
        return None

    def _group_of(self, pool: Pubkey, entry: Any) -> Any:
        """The source's group of ``pool`` (market entry ``entry``): the cached one while the
        entry's aux tuple is the one it was made for, else a new one."""
        aux = entry.aux_keys
        cached = self._groups.get(pool)
        if cached is None or cached[0] is not aux:
            cached = self._new_group(pool, aux)
        return cached[1]

    def warm(self, pools: Iterable[Pubkey] | None = None) -> int:
        """Make and lay out now the group of each of ``pools`` (every pool of the market when
        ``None``) and cache its answer, as the first :meth:`pool_slot` of a pool would on the hot
        path; the number of groups made. Nothing to do (0) for a source without groups. Answers
        are unchanged (a group's caches are exact, and one laid out for an older topology of the
        source is laid out again when next asked)."""
        if self._group_slot is None:
            return 0
        made = len(self._groups)
        for pool in self.market.pools if pools is None else pools:
            self.pool_slot(pool)
        return len(self._groups) - made

    def _new_group(self, pool: Pubkey, aux: tuple[Pubkey, ...]) -> tuple[tuple[Pubkey, ...], Any]:
        """The group of ``pool`` and ``aux``, replacing (releasing) any older one."""
        groups, release, pools = self._groups, self._release, self.market.pools
        old = groups.pop(pool, None)
        if old is not None:
            release(old[1])  # type: ignore[misc]
        if len(groups) > 2 * len(pools) + 64:  # release pools the market dropped meanwhile
            for p in [p for p in groups if p not in pools]:
                release(groups.pop(p)[1])  # type: ignore[misc]
        cached = groups[pool] = (aux, self._group((pool, *aux)))  # type: ignore[misc]
        return cached


def pool_accounts(market: MarketState) -> list[tuple[Pubkey, ...]]:
    """The accounts of ``market.watched_accounts()`` grouped per pool, for a source's ``watch``:
    ``(pool, *aux_keys)`` per pool (an account read by several pools in the first one's only),
    then each account no pool reads alone. :class:`~solarb.feeds.pubsub.PubSubFeed` keeps a
    group on one connection, so a pool's freshness group spans one shard."""
    left = dict.fromkeys(market.watched_accounts())
    out: list[tuple[Pubkey, ...]] = []
    for pool, entry in market.pools.items():  # pop: None if still left, 0 if taken already
        group = tuple(k for k in (pool, *entry.aux_keys) if left.pop(k, 0) is None)
        if group:
            out.append(group)
    out.extend((k,) for k in left)
    return out


def watch_market(source: AccountSource, market: MarketState) -> None:
    """Have ``source`` watch every account of ``market``: per pool (:func:`pool_accounts`) for a
    source that places groups (``watches_groups``, as PubSubFeed), else as one list."""
    if getattr(source, "watches_groups", False):
        source.watch(pool_accounts(market))  # type: ignore[arg-type]
    else:
        source.watch(market.watched_accounts())


def build_source(settings: FeedSettings, ws_url: str, rpc: RpcClient) -> AccountSource:
    """The account source ``settings.source`` names (pubsub, geyser or polling)."""
    if settings.source == "polling":
        from solarb.feeds.polling import PollingFeed

        return PollingFeed(rpc, interval_s=settings.poll_interval_ms / 1000,
                           silence_timeout=settings.silence_timeout_s)
    if settings.source == "geyser":
        from solarb.feeds.geyser import GeyserFeed

        return GeyserFeed(settings.geyser_url, rpc, silence_timeout=settings.silence_timeout_s)
    from solarb.feeds.pubsub import PubSubFeed

    return PubSubFeed(
        ws_url, rpc,
        extra_ws_urls=settings.extra_ws_urls,
        subscriptions_per_connection=settings.subscriptions_per_connection,
        max_connections_per_endpoint=settings.max_connections_per_endpoint,
        silence_timeout=settings.silence_timeout_s,
    )
