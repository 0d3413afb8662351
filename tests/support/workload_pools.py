"""Pools of the ``solarb bench`` workload as a quote sees them, and loaded in a market, for the
DEX, kernel and strategy tests."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from types import ModuleType
from typing import Any

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.runtime.bench import bench_adapters
from solarb.runtime.bench_workload import _ADAPTER, Workload


def workload_pools(
    w: Workload, adapters: Collection[ModuleType]
) -> Iterator[tuple[Any, Any, dict[Pubkey, bytes]]]:
    """``(adapter, decoded state, aux)`` for each pool of ``w`` (in order) whose adapter is one of
    ``adapters``; ``aux`` holds every account ``aux_accounts`` names (``b""``: it does not exist)."""
    for address, kind, _a, _b in w.pools:
        module = _ADAPTER[kind]
        if module not in adapters:
            continue
        state = module.decode_pool(address, w.bank.get_account(address).data)
        aux = {}
        for key in module.aux_accounts(state):
            acc = w.bank.get_account(key)
            aux[key] = acc.data if acc is not None else b""
        yield module, state, aux


def workload_market(w: Workload) -> MarketState:
    """A :class:`MarketState` with every pool of ``w`` and the accounts they read, loaded from
    its bank as the bench's loader does."""
    market = MarketState(bench_adapters())
    bank = w.bank
    for key in w.pool_keys:
        acc = bank.get_account(key)
        market.add_pool(AccountUpdate(key, bank.slot, acc.data, acc.owner, acc.lamports))
    for key in market.watched_accounts():
        if key not in market.pools and (acc := bank.get_account(key)) is not None:
            market.apply(AccountUpdate(key, bank.slot, acc.data, acc.owner, acc.lamports))
    return market
