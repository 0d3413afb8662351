"""Pools of the ``solarb bench`` workload as a quote sees them, for the DEX and kernel tests."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from types import ModuleType
from typing import Any

from solders.pubkey import Pubkey

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
