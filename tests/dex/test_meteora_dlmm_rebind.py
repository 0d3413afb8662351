"""``meteora_dlmm.quoter`` bound again after a pair's own writes quotes as a cold ``quoter()``.

The bench workload's swaps on DLMM pairs (small to large: the active bin moves within and across
bin arrays; volatility, references and timestamp move with it) write the pair, then the arrays
they crossed; the accounts are kept as the market keeps them (``compact_update``) and both
directions are bound after the pair write and again after the array writes, as the engine binds
them, with Clock moves between. Each bound quoter's results on many amounts equal a cold
``quoter()`` (no plan, no view kept) and the Python walk, and its walk (header bytes included:
a restarted walk's head is the last one's with the dynamic fields written over) equals a walk
planned anew from the same accounts as far. Pair states that change a static fee field or the
fee side take the full head path and are checked the same way.
"""

from __future__ import annotations

import random
import struct
import sys
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex import meteora_dlmm_view as view_mod
from solarb.dex import meteora_dlmm_walk as mw
from solarb.dex.base import CLOCK_SYSVAR, DexError
from solarb.dex.spl_token import decode_token_account
from solarb.market.compact import compact, compact_update
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools

pytestmark = pytest.mark.skipif(dl._NATIVE is None, reason="kernel not built or SOLARB_NATIVE=0")

Aux = dict[Pubkey, Any]
_AMOUNTS = [1, 7, 10**3, 10**5, 10**6, 10**7, 10**8, 10**9, 10**10, 10**11, 10**12, 2**64 - 1]


def _outcome(fn: Any, amount: int) -> tuple[Any, ...]:
    try:
        q = fn(amount)
    except DexError as exc:
        return (type(exc), str(exc))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


def _cold(state: lay.LbPair, aux: Aux, a_to_b: bool, amounts: list[int]) -> list[Any]:
    """What a cold ``quoter()`` (the pair's plan and view dropped) gives; the caches restored."""
    plans, views = dict(dl._PLANS), dict(view_mod._VIEWS)
    dl._PLANS.clear()
    view_mod._VIEWS.clear()
    try:
        bound = dl.quoter(state, aux, a_to_b)
        return [_outcome(bound, x) for x in amounts]
    finally:
        dl._PLANS.clear()
        dl._PLANS.update(plans)
        view_mod._VIEWS.clear()
        view_mod._VIEWS.update(views)


def _python(state: lay.LbPair, aux: Aux, a_to_b: bool, amounts: list[int]) -> list[Any]:
    """The Python walk's results (the reference)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dl, "_NATIVE", None)
        return [_outcome(lambda x: dl.quote(state, aux, x, a_to_b), x) for x in amounts]


def _cold_as_far(state: lay.LbPair, aux: Aux, a_to_b: bool, walk: mw.KernelWalk) -> None:
    """A walk planned anew from ``aux`` as far as ``walk``: the same header, records, accounts."""
    v = dl._PLANS[state.address].view
    assert v is not None
    cold = mw.KernelWalk(v.fee_args, state.active_id, a_to_b, dl.fee_on_input(state, a_to_b),
                         v.support_lo, v.next_array, v.array_key)  # fmt: skip
    cold.extend(aux, dl._records)
    while cold.terminal == mw.KERNEL_EXTEND and (
        len(cold.indices) < len(walk.indices) or walk.terminal != mw.KERNEL_EXTEND
    ):
        cold.extend(aux, dl._records)
    fields = ("header", "records", "keys", "datas", "indices", "active", "terminal", "missing")
    assert [getattr(cold, f) for f in fields] == [getattr(walk, f) for f in fields]


class _Checker:
    """Binds both directions of a pair and checks them; counts the walks kept (restarted or
    refreshed with more than their first stretch) and the amounts checked."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.kept = self.checked = 0

    def bind(self, state: lay.LbPair, aux: Aux) -> None:
        for a_to_b in (True, False):
            plan = dl._PLANS.get(state.address)
            before = None if plan is None else plan.walks[a_to_b]
            amounts = sorted(self.rng.sample(_AMOUNTS, 6)) + [self.rng.randrange(1, 10**11)]
            bound = dl.quoter(state, aux, a_to_b)
            plan = dl._PLANS[state.address]
            walk = plan.walks[a_to_b]
            got = [_outcome(bound, x) for x in amounts]
            if walk is not None and plan.view is not None and not plan.special:
                self.kept += before is not None and walk is not before and len(walk.indices) > 1
                _cold_as_far(state, aux, a_to_b, walk)
            assert got == _cold(state, aux, a_to_b, amounts), (state.address, a_to_b)
            assert got == _python(state, aux, a_to_b, amounts), (state.address, a_to_b)
            self.checked += len(amounts)


def _clock_at(data: bytes, now: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into("<q", buf, 32, now)
    return bytes(buf)


def test_rebound_after_own_writes_equals_cold() -> None:
    rng = random.Random(21)
    w = Workload(40, 11, 4, 0)
    check = _Checker(rng)
    live: dict[Pubkey, list[Any]] = {}  # pair -> [state, aux, raw pair data]
    for _dl, state, aux0 in workload_pools(w, (dl,)):
        aux = {k: compact(v, None) if len(v) >= 2048 else v for k, v in aux0.items()}
        live[state.address] = [state, aux, w.bank.get_account(state.address).data]  # type: ignore[union-attr]
        check.bind(state, aux)
    assert len(live) >= 6
    moved_arrays = pair_writes = array_writes = clock_moves = 0
    for _round in range(70):
        address = rng.choice(list(live))
        entry = live[address]
        state, aux = entry[0], entry[1]
        a_to_b = rng.random() < 0.5
        vault = state.vault_a if a_to_b else state.vault_b
        reserve = decode_token_account(w.bank.get_account(vault).data).amount  # type: ignore[union-attr]
        fraction = rng.choice((0.0002, 0.002, 0.01, 0.05, 0.2))
        w._send(dl.swap_instruction(state, w.trader.pubkey(), max(1, int(reserve * fraction)), 0,
                                    a_to_b))  # fmt: skip
        data = w.bank.get_account(address).data  # type: ignore[union-attr]
        if data != entry[2]:  # the pair first, as its frame arrives
            new = dl.decode_pool(address, data)
            moved_arrays += new.active_id // 70 != state.active_id // 70
            entry[0] = state = new
            entry[2] = data
            pair_writes += 1
            check.bind(state, aux)
        written = False
        for key in list(aux):
            acc = w.bank.get_account(key)
            if acc is None or len(acc.data) != lay.BIN_ARRAY_LEN:
                continue
            stored, same = compact_update(acc.data, aux[key])
            if not same:
                aux[key], written = stored, True
        if written:
            array_writes += 1
            check.bind(state, aux)
        if rng.random() < 0.3:  # the Clock moves: the variable fee decays, the walk is kept
            now = struct.unpack_from("<q", aux[CLOCK_SYSVAR], 32)[0]
            aux[CLOCK_SYSVAR] = _clock_at(aux[CLOCK_SYSVAR], now + rng.choice((1, 31, 700)))
            clock_moves += 1
            check.bind(state, aux)
    assert pair_writes > 40 and array_writes > 40 and clock_moves > 10, (
        pair_writes, array_writes, clock_moves,
    )  # fmt: skip
    assert moved_arrays > 3, moved_arrays  # the active bin crossed into another array
    assert check.kept > 40, check.kept
    assert check.checked > 2000, check.checked


def test_rebound_pair_variants_equal_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pair states that move only the dynamic fields (active bin within and across arrays,
    volatility, references, timestamp: the head written over), or a static fee field or the fee
    side (the head packed anew), each following the last: the same quotes and walks as cold."""
    rng = random.Random(5)
    w = Workload(40, 3, 4, 0)
    check = _Checker(rng)
    pools = [(s, {k: compact(v, None) if len(v) >= 2048 else v for k, v in a.items()})
             for _dl, s, a in workload_pools(w, (dl,))]  # fmt: skip
    patched = full = restarts = 0  # variants; heads packed anew by restarted; its calls
    real_head, real_restarted = mw._kernel_head, mw.KernelWalk.restarted

    def counting_head(*args: Any) -> bytes:
        nonlocal full
        full += sys._getframe(1).f_code.co_name == "restarted"
        return real_head(*args)

    def counting_restarted(*args: Any) -> mw.KernelWalk | None:
        nonlocal restarts
        walk = real_restarted(*args)
        restarts += walk is not None
        return walk

    monkeypatch.setattr(mw, "_kernel_head", counting_head)
    monkeypatch.setattr(mw.KernelWalk, "restarted", counting_restarted)
    for state, aux in pools:
        check.bind(state, aux)
        s = state
        for _step in range(12):
            kind = rng.random()
            if kind < 0.6:
                s = replace(
                    s, active_id=s.active_id + rng.choice((-1, 1, -5, 9, 40, -69, 70, -140)),
                    volatility_accumulator=rng.randrange(0, 350_001),
                    volatility_reference=rng.randrange(0, 200_000),
                    index_reference=s.active_id + rng.randrange(-50, 50),
                    last_update_timestamp=s.last_update_timestamp + rng.randrange(0, 900),
                )  # fmt: skip
                patched += 1
            elif kind < 0.8:
                s = replace(s, base_factor=s.base_factor + rng.choice((-1, 1)),
                            variable_fee_control=rng.choice((0, 40_000, 90_000)))  # fmt: skip
            else:
                s = replace(s, collect_fee_mode=1 - s.collect_fee_mode)
            check.bind(s, aux)
    monkeypatch.undo()
    assert patched > 30 and full > 10 and restarts - full > 30, (patched, full, restarts)
    assert check.kept > 20, check.kept
