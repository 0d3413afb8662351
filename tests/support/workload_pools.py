"""The pools of a bench :class:`~solarb.runtime.bench_workload.Workload` as the market holds them."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey

from solarb.runtime.bench_workload import _ADAPTER, Workload

Pools = dict[Pubkey, tuple[Any, Any, dict[Pubkey, bytes]]]


def workload_pools(w: Workload) -> Pools:
    """Every pool of the workload's bank: address -> (adapter, decoded state, aux), an absent
    aux account read as ``b""``."""
    out: Pools = {}
    for address, kind, _a, _b in w.pools:
        module = _ADAPTER[kind]
        state = module.decode_pool(address, w.bank.get_account(address).data)
        aux = {}
        for k in module.aux_accounts(state):
            acc = w.bank.get_account(k)
            aux[k] = acc.data if acc is not None else b""
        out[address] = (module, state, aux)
    return out
