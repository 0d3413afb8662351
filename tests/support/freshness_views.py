"""Narrow views of a freshness source (a PubSubFeed, or a MarketFreshness over one) through one
path only, for tests that compare that path with the grouped answers."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey


class _View:
    """The source's cluster slot, and nothing a view below does not add."""

    def __init__(self, source: Any) -> None:
        self.source = source

    @property
    def cluster_slot(self) -> int:
        """The source's cluster slot."""
        return self.source.cluster_slot  # type: ignore[no-any-return]


class MinSlotOnly(_View):
    """A feed through ``min_account_slot`` only (no groups, no ``stale_pool`` fast path in the
    stale-state rule): MarketFreshness's batch path, one exact answer per pool."""

    def min_account_slot(self, keys: Any) -> int:
        """The feed's exact minimum over ``keys``."""
        return self.source.min_account_slot(keys)  # type: ignore[no-any-return]


class PerAccount(_View):
    """A feed through ``account_slot`` only: MarketFreshness's plain path, one look-up per
    account."""

    def account_slot(self, pubkey: Pubkey) -> int:
        """The feed's slot of ``pubkey``."""
        return self.source.account_slot(pubkey)  # type: ignore[no-any-return]


class PoolSlotOnly(_View):
    """A MarketFreshness through ``pool_slot`` only (no ``stale_pool``): the stale-state rule's
    loop of one ``pool_slot`` per hop."""

    def pool_slot(self, pool: Pubkey) -> int:
        """The view's slot of ``pool``."""
        return self.source.pool_slot(pool)  # type: ignore[no-any-return]
