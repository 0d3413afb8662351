"""``bind_slots`` after Clock-only writes: the adapter's ``reclock`` brings the kept quoter to the
new Clock instead of binding it anew; any other write still binds anew.

On the bench workload moved by swaps (DLMM pairs with a volatility the Clock decays): after a
Clock jump every kept DLMM quoter is reclocked (no ``bound_quote`` call), quotes exactly as a
fresh binding (and differently from the quoter it replaced), and is reused at the new
``revision``; a bin-array write, a pool-image write or a Clock jump after either binds anew.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm
from solarb.dex import meteora_dlmm_layout as dlay
from solarb.dex.base import Quote
from solarb.events import AccountUpdate
from solarb.market.state import CLOCK_SYSVAR, MarketState, PoolEntry
from solarb.runtime.bench_workload import Workload
from solarb.strategy import bound_quoters as bq
from tests.strategy.test_cycles_kept_quoters import (
    AMOUNTS,
    _clock_jump,
    _dlmm_arrays,
    _finder,
    _image,
    _moved_market,
    _outcome,
    _Recorder,
    _same_changes,
)

pytestmark = pytest.mark.skipif(meteora_dlmm._NATIVE is None, reason="DLMM kernel not built")


class _Binds:
    """Counts ``bound_quote`` calls (fresh bindings) made through ``bind_slots``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = bq.bound_quote

        def counted(entry: PoolEntry, a_to_b: bool) -> Callable[[int], Quote]:
            self.n += 1
            return real(entry, a_to_b)

        monkeypatch.setattr(bq, "bound_quote", counted)


def _dlmm_legs(market: MarketState) -> bq.SlotLegs:
    """Both directions of every tradable DLMM pair, numbered as kept quoters' slots."""
    pairs = [((p, d), e) for p, e in market.pools.items()
             if e.adapter is meteora_dlmm and e.tradable for d in (True, False)]  # fmt: skip
    return tuple((key, e, s) for s, (key, e) in enumerate(pairs))


def _volatile_market() -> tuple[Workload, _Recorder, MarketState]:
    """:func:`_moved_market` with every DLMM pair's image given a volatility the Clock decays:
    accumulator and reference up, the index reference a few bins off, updated just now."""
    w, rec, market = _moved_market()
    for i, entry in enumerate(e for e in market.pools.values() if e.adapter is meteora_dlmm):
        u = _image(w, entry.address)
        s = entry.state
        shift = (-1) ** i * (2 + i)
        params = dlay.pack_v_parameters(40_000 + 15_000 * i, 20_000, s.active_id + shift,
                                        w.bank.unix_timestamp)  # fmt: skip
        at = dlay.OFF_V_PARAMETERS
        data = u.data[:at] + params + u.data[at + len(params) :]
        market.apply(AccountUpdate(u.pubkey, u.slot, data, u.owner, u.lamports))
        assert market.pools[entry.address].state.volatility_reference == 20_000
    return w, rec, market


def _advance(w: Workload, rec: _Recorder, seconds: int) -> list[AccountUpdate]:
    """The Clock writes of one slot ``seconds`` later (the bank's recorded writes)."""
    rec.updates.clear()
    w.bank.advance_slot(unix_timestamp=w.bank.unix_timestamp + seconds)
    return [u for u in rec.updates if u.pubkey == CLOCK_SYSVAR]


def _quotes(q: Callable[[int], Quote]) -> list[tuple[object, ...]]:
    return [_outcome(q, x) for x in AMOUNTS]


def test_a_clock_write_reclocks_kept_quoters(monkeypatch: pytest.MonkeyPatch) -> None:
    w, rec, market = _volatile_market()
    legs = _dlmm_legs(market)
    assert len(legs) >= 8
    # DLMM lists the Clock in aux_accounts (so do adaptive-fee Whirlpools, none in the bench)
    readers = {e.adapter.NAME for e in market.pools.values() if CLOCK_SYSVAR in e.aux_keys}
    assert readers == {"meteora_dlmm"} and len({e.adapter.NAME for e in market.pools.values()}) == 5
    kept: bq.KeptSlots = [None] * len(legs)
    binds = _Binds(monkeypatch)
    first = bq.bind_slots(legs, kept)
    assert binds.n == len(legs)
    assert bq.bind_slots(legs, kept) == first and binds.n == len(legs)  # reused as they are
    moved = 0
    for jump, seconds in enumerate((10, 25, 300, 400, 10**4)):  # across filter and decay
        rates = {p: e.rate_revision for (p, _d), e, _s in legs}
        for u in _advance(w, rec, seconds):
            market.apply(u)
        assert all(kept[s][1] != e.revision for _key, e, s in legs)  # every one was written
        assert all(e.rate_revision == rates[p] for (p, _d), e, _s in legs)  # by the Clock only
        before = [kept[s][2] for _key, _e, s in legs]
        steps = bq.bind_slots(legs, kept)
        assert binds.n == len(legs), "a Clock-only write must not bind anew"
        for (key, entry, s), step, old in zip(legs, steps, before):
            assert step is not old and kept[s] == (entry, entry.revision, step)
            fresh = bq.bound_quote(entry, key[1])
            assert _quotes(step) == _quotes(fresh), (key, jump)
            moved += _quotes(step) != _quotes(old)
        binds.n = len(legs)  # the fresh bindings above were the test's
        assert bq.bind_slots(legs, kept) == steps and binds.n == len(legs)  # kept again
    assert moved >= len(legs)  # the Clock changed those pools' quotes (variable fee)


def test_other_writes_still_bind_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bin-array write (alone or followed by a Clock write) and a pool-image write each bind
    the written pool's quoters anew; the others are reclocked."""
    w, rec, market = _moved_market()
    legs = _dlmm_legs(market)
    kept: bq.KeptSlots = [None] * len(legs)
    binds = _Binds(monkeypatch)
    bq.bind_slots(legs, kept)
    pools = list(dict.fromkeys(p for (p, _d), _e, _s in legs))
    arrays, image = market.pools[pools[0]], market.pools[pools[1]]
    for u in _dlmm_arrays(market, arrays, w.bank.slot):
        market.apply(u)
    for u in _clock_jump(w, rec):
        market.apply(u)
    u = _image(w, image.address)  # the pair account with another active bin (a new state)
    data = bytearray(u.data)
    at, active = dlay.OFF_ACTIVE_ID, image.state.active_id
    assert int.from_bytes(data[at : at + 4], "little", signed=True) == active
    data[at : at + 4] = (active + 1).to_bytes(4, "little", signed=True)
    market.apply(AccountUpdate(u.pubkey, u.slot + 1, bytes(data), u.owner, u.lamports))
    assert image.state.active_id == active + 1
    binds.n = 0
    steps = bq.bind_slots(legs, kept)
    assert binds.n == 4  # two directions of two pools
    rebound = {p for ((p, _d), _e, _s) in legs} - {arrays.address, image.address}
    assert len(rebound) == len(pools) - 2
    for (key, entry, _s), step in zip(legs, steps):
        assert _quotes(step) == _quotes(bq.bound_quote(entry, key[1])), key


def test_finder_sizes_as_a_finder_binding_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over Clock jumps between pool changes, the finder that reclocks sizes exactly what a
    finder that binds anew on every change sizes."""
    w, rec, market = _moved_market()
    kept, ref = (_finder(market, w.sol, keep, epsilon=-0.9, max_sized=None)
                 for keep in (True, False))  # fmt: skip
    pools: list[Pubkey] = list(market.pools)
    assert _same_changes(kept, ref, iter(pools), slot=w.bank.slot)
    reclocks = 0
    real = meteora_dlmm.reclock

    def counted(*args: object) -> object:
        nonlocal reclocks
        reclocks += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(meteora_dlmm, "reclock", counted)
    for _ in range(3):
        for u in _clock_jump(w, rec):
            assert u.pubkey == CLOCK_SYSVAR
            market.apply(u)
        _same_changes(kept, ref, iter(pools[::-1]), slot=w.bank.slot)
    assert reclocks > 10
