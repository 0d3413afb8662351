"""``meteora_dlmm``: a walk kept across writes to the pair and its bin arrays (restarted for a new
pair state, refreshed with the records of written arrays) quotes exactly as the Python walk and
equals a walk planned anew from the same accounts as far.

The bench workload's swaps write the pair and the bin arrays they cross; the accounts are kept
as the market keeps them (``compact_update``: the arrays as ``SparseBytes``) and the quoters are
bound after the pair write and again after the array writes, as the engine binds them. Some
writes drop an array a walk read and load it again (the walk is planned anew, then extended).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex import meteora_dlmm_walk as mw
from solarb.market.compact import compact, compact_update
from tests.native.test_meteora_dlmm import KERNEL, U64_MAX, Aux, Bound, _bench_pools

pytestmark = pytest.mark.skipif(KERNEL is None, reason="kernel not built or SOLARB_NATIVE=0")

_AMOUNTS = [1, 10**4, 10**6, 10**8, 10**9, 10**10, 10**11, 10**12, U64_MAX]


def _cold_as_far(state: lay.LbPair, aux: Aux, a_to_b: bool, walk: mw.KernelWalk) -> None:
    """A walk planned anew from ``aux`` as far as ``walk`` has its header, records, accounts."""
    v = dl._PLANS[state.address].view
    assert v is not None
    cold = mw.KernelWalk(v.fee_args, state.active_id, a_to_b, dl.fee_on_input(state, a_to_b),
                         v.support_lo, v.next_array, lambda i, v=v: v.array(i)[0])  # fmt: skip
    cold.extend(aux, dl._records)
    while cold.terminal == mw.KERNEL_EXTEND and (
        len(cold.indices) < len(walk.indices) or walk.terminal != mw.KERNEL_EXTEND
    ):
        cold.extend(aux, dl._records)
    fields = ("header", "records", "keys", "datas", "indices", "active", "terminal", "missing")
    assert [getattr(cold, f) for f in fields] == [getattr(walk, f) for f in fields]


def _bind_all(b: Bound, state: lay.LbPair, aux: Aux, rng: random.Random) -> int:
    """Bind both directions, check walks and quotes; the number of walks kept (not new)."""
    kept = 0
    for a_to_b in (True, False):
        plan = dl._PLANS.get(state.address)
        before = None if plan is None else plan.walks[a_to_b]
        b.run(state, aux, a_to_b, rng.sample(_AMOUNTS, 5))
        walk = dl._PLANS[state.address].walks[a_to_b]
        if walk is None:
            continue
        kept += before is not None and len(walk.indices) > 1 and walk is not before
        _cold_as_far(state, aux, a_to_b, walk)
    return kept


def test_walks_across_workload_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    b = Bound(monkeypatch)
    rng = random.Random(12)
    w, pools = _bench_pools(40)
    live: dict[Any, list[Any]] = {}
    for state, aux0 in pools:
        aux = {k: compact(v, None) for k, v in aux0.items()}
        live[state.address] = [state, aux, w.bank.get_account(state.address).data]  # type: ignore[union-attr]
        _bind_all(b, state, aux, rng)
    kept = pair_writes = array_writes = dropped = 0
    for _ in range(120):
        w._swap()
        for entry in live.values():
            state, aux, last = entry
            data = w.bank.get_account(state.address).data  # type: ignore[union-attr]
            if data != last:  # the pair first, as its frame arrives
                entry[0] = state = dl.decode_pool(state.address, data)
                entry[2] = data
                pair_writes += 1
                kept += _bind_all(b, state, aux, rng)
            written = False
            for key in list(aux):
                acc = w.bank.get_account(key)
                if acc is None or len(acc.data) != lay.BIN_ARRAY_LEN:
                    continue
                new, same = compact_update(acc.data, aux[key])
                if not same:
                    aux[key], written = new, True
            if written:
                array_writes += 1
                kept += _bind_all(b, state, aux, rng)
            if rng.random() < 0.03:  # an array a walk read gone, then loaded again
                walk = dl._PLANS[state.address].walks[rng.random() < 0.5]
                if walk is not None and len(walk.keys) > 1:
                    key = walk.keys[rng.randrange(len(walk.keys))]
                    data = aux.pop(key)
                    _bind_all(b, state, aux, rng)
                    aux[key] = data
                    _bind_all(b, state, aux, rng)
                    dropped += 1
    assert pair_writes > 15 and array_writes > 15 and dropped > 2, (pair_writes, array_writes, dropped)
    assert kept > 20, kept  # walks kept across writes with more than their first stretch
    assert b.direct * 10 > b.cases * 7, (b.direct, b.cases)
