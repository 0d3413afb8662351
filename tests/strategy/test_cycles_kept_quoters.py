"""CycleFinder keeps each (pool, direction)'s bound quoter across pool changes while the market has
not written the pool's entry (``PoolEntry.revision``). On the bench workload's pools (all five
DEXes, real layouts): each kind of write to a pool whose quoter is kept (vault, tick array, bin
array, Clock, pool image) retires that quoter, and over a random stream of swaps, slots, Clock
jumps, bad images and re-registered pools the finder sizes exactly what a finder that binds
anew on every change sizes, result for result."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex import meteora_dlmm_layout as dlay
from solarb.dex import orca_whirlpool_layout as wlay
from solarb.dex import raydium_clmm_layout as clay
from solarb.dex.base import DexError, Quote
from solarb.events import AccountUpdate, Opportunity
from solarb.market.state import CLOCK_SYSVAR, MarketState, PoolEntry
from solarb.runtime.bench import bench_adapters
from solarb.runtime.bench_workload import Workload
from solarb.sim.accounts import Account
from solarb.strategy import CycleFinder
from solarb.strategy import bound_quoters as bq
from solarb.strategy import cycles as cycles_module
from solarb.strategy.cycles import DEFAULT_MAX_SIZED
from tests.support import cp_adapter as cp

AMOUNTS = tuple(int(10 ** (e / 2)) for e in range(6, 27))  # 10^3 .. 10^13, crossing arrays
CAP = 50 * 10**9  # the bench's max_notional (SOL base units)


class _Recorder:
    """A bank listener: every account write as the update a feed would deliver."""

    def __init__(self) -> None:
        self.updates: list[AccountUpdate] = []

    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None:
        self.updates.append(AccountUpdate(pubkey, slot, account.data, account.owner, account.lamports))

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        pass

    def on_signature(self, signature: object, slot: int, err: object) -> None:
        pass


def _image(w: Workload, key: Pubkey) -> AccountUpdate:
    acc = w.bank.get_account(key)
    assert acc is not None
    return AccountUpdate(key, w.bank.slot, acc.data, acc.owner, acc.lamports)


def _load_aux(w: Workload, market: MarketState, keys: list[Pubkey]) -> None:
    for key in keys:
        if key not in market.pools and w.bank.get_account(key) is not None:
            market.apply(_image(w, key))


def _load(w: Workload) -> MarketState:
    """The workload's pools and their aux accounts; accounts a pool starts to need later are
    loaded from the bank as the feed would (``on_new_accounts``)."""
    market = MarketState(bench_adapters())
    for key in w.pool_keys:
        market.add_pool(_image(w, key))
    _load_aux(w, market, market.watched_accounts())
    market.on_new_accounts = lambda keys: _load_aux(w, market, keys)
    assert all(e.tradable for e in market.pools.values())
    return market


def _finder(market: MarketState, sol: Pubkey, keep: bool, **kw: Any) -> CycleFinder:
    f = CycleFinder(market, start_mints=[sol], min_profit={sol: 1}, max_amount_in={sol: CAP},
                    keep_quoters=keep, **kw)  # fmt: skip
    f.rebuild()
    return f


def _outcome(q: Callable[[int], Quote], x: int) -> tuple[object, ...]:
    try:
        r = q(x)
    except DexError as exc:
        return (type(exc).__name__, str(exc))
    return (r.amount_in, r.amount_out, r.fee, r.arrays)


def _stale_kept(finder: CycleFinder) -> list[tuple[Pubkey, bool]]:
    """Kept quoters the finder would reuse (its entry current, revision unchanged) that quote
    otherwise than a binding made now."""
    bad = []
    for key, (entry, rev, q) in finder._quoters.items():
        if entry is finder.market.pools.get(key[0]) and rev == entry.revision:
            fresh = bq.bound_quote(entry, key[1])
            if any(_outcome(q, x) != _outcome(fresh, x) for x in AMOUNTS):
                bad.append(key)
    return bad


def _view(opps: list[Opportunity]) -> list[tuple[object, ...]]:
    return [(o.id, o.start_mint, o.amount_in, o.amount_out, o.slot,
             tuple((h.pool, h.dex, h.a_to_b, h.amount_in, h.amount_out, h.arrays) for h in o.hops))
            for o in opps]  # fmt: skip


def _same_changes(kept: CycleFinder, ref: CycleFinder, pools: Iterator[Pubkey], slot: int) -> int:
    """Both finders re-evaluate ``pools``; the opportunities must be equal. Their number."""
    n = 0
    for pool in pools:
        a = kept.on_pool_changed(pool, slot=slot, ts_recv_ns=0, now_ns=0)
        b = ref.on_pool_changed(pool, slot=slot, ts_recv_ns=0, now_ns=0)
        assert _view(a) == _view(b), pool
        n += len(a)
    return n


def _counters(f: CycleFinder) -> tuple[int, ...]:
    return (f.evaluations, f.passed, f.sized, f.skipped, f.quotes, f.fallbacks, f.found)


# ------------------------------------------------------------------------ one write per kind


def _vault(w: Workload, entry: PoolEntry) -> list[AccountUpdate]:
    u = _image(w, entry.state.vault_a)  # SPL token account: amount u64 at 64
    amount = int.from_bytes(u.data[64:72], "little") * 3 // 4
    return [AccountUpdate(u.pubkey, u.slot, u.data[:64] + amount.to_bytes(8, "little") + u.data[72:],
                          u.owner, u.lamports)]  # fmt: skip


def _arrays(market: MarketState, entry: PoolEntry, size: int) -> Iterator[tuple[Pubkey, bytes]]:
    for key, data in entry.aux.items():
        if market.owner_of(key) == entry.adapter.PROGRAM_ID and len(data) == size:
            yield key, bytes(data)


def _whirlpool_arrays(market: MarketState, entry: PoolEntry, slot: int) -> list[AccountUpdate]:
    out = []  # every tick array emptied (its ticks no longer change the liquidity)
    for key, data in _arrays(market, entry, wlay.FIXED_TICK_ARRAY_LEN):
        arr = wlay.decode_tick_array(data)
        new = wlay.encode_fixed_tick_array(arr.start_tick_index, arr.whirlpool, {})
        out.append(AccountUpdate(key, slot, new, orca_whirlpool.PROGRAM_ID, 10**7))
    return out


def _clmm_arrays(market: MarketState, entry: PoolEntry, slot: int) -> list[AccountUpdate]:
    out = []  # every tick array's liquidity_net doubled
    for key, data in _arrays(market, entry, clay.TICK_ARRAY_LEN):
        arr = clay.decode_tick_array(key, data)
        ticks = {o: replace(t, liquidity_net=2 * t.liquidity_net,
                            liquidity_gross=2 * t.liquidity_gross)
                 for o, t in arr.ticks.items()}  # fmt: skip
        new = clay.encode_tick_array(arr.pool_id, arr.start_tick_index, ticks)
        out.append(AccountUpdate(key, slot, new, raydium_clmm.PROGRAM_ID, 10**7))
    return out


def _dlmm_arrays(market: MarketState, entry: PoolEntry, slot: int) -> list[AccountUpdate]:
    out = []  # every bin's amounts halved
    for key, data in _arrays(market, entry, dlay.BIN_ARRAY_LEN):
        buf = bytearray(data)
        for i in range(70):  # bins per array
            off = dlay.OFF_BINS + i * dlay.BIN_LEN
            for f in (off, off + 8):
                half = int.from_bytes(buf[f : f + 8], "little") // 2
                buf[f : f + 8] = half.to_bytes(8, "little")
        out.append(AccountUpdate(key, slot, bytes(buf), meteora_dlmm.PROGRAM_ID, 10**7))
    return out


def _clock_jump(w: Workload, rec: _Recorder) -> list[AccountUpdate]:
    rec.updates.clear()
    w.bank.advance_slot(unix_timestamp=w.bank.unix_timestamp + 1_000)  # past the decay period
    return [u for u in rec.updates if u.pubkey == CLOCK_SYSVAR]


def _pool_image(w: Workload, entry: PoolEntry) -> list[AccountUpdate]:
    u = _image(w, entry.address)  # the pool account with a higher fee rate
    state = replace(wlay.decode_whirlpool(entry.address, u.data), fee_rate=entry.state.fee_rate + 1_000)
    return [AccountUpdate(u.pubkey, u.slot, wlay.encode_whirlpool(state), u.owner, u.lamports)]


_WRITES: dict[str, tuple[Any, Callable[..., list[AccountUpdate]]]] = {
    "cpmm vault": (raydium_cpmm, lambda w, m, e, r: _vault(w, e)),
    "amm v4 vault": (raydium_amm_v4, lambda w, m, e, r: _vault(w, e)),
    "whirlpool tick arrays": (orca_whirlpool, lambda w, m, e, r: _whirlpool_arrays(m, e, w.bank.slot)),
    "clmm tick arrays": (raydium_clmm, lambda w, m, e, r: _clmm_arrays(m, e, w.bank.slot)),
    "dlmm bin arrays": (meteora_dlmm, lambda w, m, e, r: _dlmm_arrays(m, e, w.bank.slot)),
    "dlmm clock": (meteora_dlmm, lambda w, m, e, r: _clock_jump(w, r)),
    "whirlpool pool image": (orca_whirlpool, lambda w, m, e, r: _pool_image(w, e)),
}


def _recorded(*workload: int) -> tuple[Workload, _Recorder]:
    """``Workload(*workload)`` with every pool watched, and a recorder of its bank's writes."""
    w = Workload(*workload)
    rec = _Recorder()
    w.bank.add_listener(rec)
    w.watch([(bytes(k), 1, 0) for k in w.pool_keys], [])
    return w, rec


def _register_again(w: Workload, pool: Pubkey, markets: tuple[MarketState, ...]) -> None:
    """``pool`` removed from each of ``markets`` and registered again (a new entry: the
    finders rebuild), its missing auxiliary accounts loaded."""
    for m in markets:
        m.remove_pool(pool)
        m.add_pool(_image(w, pool))
        _load_aux(w, m, [k for k in m.pool(pool).aux_keys if k not in m.pool(pool).aux])


def _moved_market() -> tuple[Workload, _Recorder, MarketState]:
    """A 30-pool workload moved by 40 slots of swaps (DLMM: a volatility the Clock then decays),
    a recorder of its bank's writes, and the market loaded from it."""
    w = Workload(30, 5, 3, 4)
    rec = _Recorder()
    w.bank.add_listener(rec)
    for _ in range(40):
        w.watch([(bytes(k), 1, 0) for k in w.pool_keys], [])
        w.frames(1)
    return w, rec, _load(w)


@pytest.mark.parametrize("kind", list(_WRITES))
def test_a_write_retires_the_kept_quoter(kind: str) -> None:
    """Every pool's quoters bound (every cycle passes the filter), then one write to one pool
    whose quoters are kept: it changes that pool's quotes, no kept quoter that would be reused
    quotes otherwise than a fresh binding, and re-evaluating every other pool (not the written
    one, whose own change would drop its quoters anyway) sizes as the reference finder."""
    adapter, write = _WRITES[kind]
    w, rec, market = _moved_market()
    kept, ref = (_finder(market, w.sol, keep, epsilon=-0.9, max_sized=None) for keep in (True, False))
    _same_changes(kept, ref, iter(list(market.pools)), slot=w.bank.slot)
    assert not _stale_kept(kept)
    entry = next(e for e in market.pools.values()
                 if e.adapter is adapter and (e.address, True) in kept._quoters
                 and getattr(e.state, "volatility_accumulator", 1) > 0)  # fmt: skip
    old = {d: kept._quoters[(entry.address, d)][2] for d in (True, False)}
    # the quotes before the write (a general quoter, the pure-Python path, reads aux live)
    before = {d: [_outcome(old[d], x) for x in AMOUNTS] for d in (True, False)}
    updates = write(w, market, entry, rec)
    assert updates
    for u in updates:
        market.apply(u)
        assert market.slot_of(u.pubkey) == u.slot and bytes(market.aux(entry.address).get(u.pubkey, b"")) in (u.data, b"")
    assert any(b != _outcome(bq.bound_quote(entry, d), x)
               for d in (True, False) for b, x in zip(before[d], AMOUNTS)), "the write does not change a quote"  # fmt: skip
    assert not _stale_kept(kept)
    _same_changes(kept, ref, (p for p in list(market.pools) if p != entry.address), w.bank.slot)
    assert _counters(kept) == _counters(ref)
    # what the finder would size the written pool's legs with now: the pool as it is
    own = kept._plans[entry.address].own
    legs = tuple(((entry.address, d), entry, own + (not d)) for d in (True, False))
    for step, d in zip(bq.bind_slots(legs, kept._kept), (True, False)):
        fresh = bq.bound_quote(entry, d)
        assert [_outcome(step, x) for x in AMOUNTS] == [_outcome(fresh, x) for x in AMOUNTS]


def test_kept_quoters_are_bounded_and_dropped_with_their_pool() -> None:
    """At most one quoter per (pool, direction) of the current entries; a pool's own change
    drops its quoters (they held its old state); a removed pool's go with the rebuild."""
    w = Workload(30, 5, 3, 4)
    market = _load(w)
    kept = _finder(market, w.sol, True, epsilon=-0.9, max_sized=None)
    for pool in list(market.pools):
        kept.on_pool_changed(pool, slot=1, ts_recv_ns=0, now_ns=0)
    assert len(kept._quoters) > len(market.pools)  # every cycle passes: most pools are bound
    assert all(k[0] in market.pools for k in kept._quoters)
    pool = next(k[0] for k in kept._quoters)
    entry = kept._quoters[(pool, True)][0]
    kept.epsilon = 10.0  # no cycle passes now: nothing is bound again
    kept.on_pool_changed(pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert (pool, True) not in kept._quoters and (pool, False) not in kept._quoters
    other = next(k[0] for k in kept._quoters)
    assert market.remove_pool(other)
    kept.on_pool_changed(pool, slot=3, ts_recv_ns=0, now_ns=0)  # rebuilds: the index changed
    assert not kept._quoters
    assert entry is market.pools[pool]


def test_a_changed_pools_old_quoters_wait_for_release() -> None:
    """The changed pool's replaced quoters, and the Quotes its sizing searches probed (C kernel),
    are held (not freed during detection) until ``release()`` or the finder's next change, never
    longer; the searches' results are the same."""
    w = Workload(30, 5, 3, 4)
    market = _load(w)
    kept = _finder(market, w.sol, True, epsilon=-0.9, max_sized=None)
    pools = list(market.pools)
    for pool in pools:
        kept.on_pool_changed(pool, slot=1, ts_recv_ns=0, now_ns=0)
    kept.release()
    pool, other = [p for p in pools if (p, True) in kept._quoters and (p, False) in kept._quoters][:2]
    old = [kept._quoters[(pool, d)] for d in (True, False)]
    sized = kept.sized
    kept.on_pool_changed(pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert kept._retired[:2] == old and all(a is b for a, b in zip(kept._retired, old))  # by identity
    assert all(kept._quoters[(pool, d)] is not o for d, o in zip((True, False), old))
    quotes = kept._retired[2:]  # one tuple of Quotes per search (the kernel's): each probe's chain
    if cycles_module._SIZING is not None:
        assert 0 < len(quotes) <= kept.sized - sized
        assert all(isinstance(t, tuple) and t and all(isinstance(q, Quote) for q in t) for t in quotes)
    assert kept.release() == len(old) + len(quotes) and not kept._retired and kept.release() == 0
    # without release(): the next change frees the last one's first
    old_other = [kept._quoters[(other, d)] for d in (True, False)]
    kept.on_pool_changed(pool, slot=3, ts_recv_ns=0, now_ns=0)
    kept.on_pool_changed(other, slot=3, ts_recv_ns=0, now_ns=0)
    assert all(a is b for a, b in zip(kept._retired, old_other)) and len(kept._retired) >= 2
    assert not any(r is o for r in kept._retired for o in old)
    # a rebuild drops them with the kept quoters
    kept.epsilon = 10.0  # no cycle passes now: nothing is bound again
    assert market.remove_pool(next(p for p in pools if p not in (pool, other)))
    kept.on_pool_changed(pool, slot=4, ts_recv_ns=0, now_ns=0)
    assert not kept._quoters and not kept._retired


# ------------------------------------------------------------------------ random stream


@pytest.mark.parametrize("max_sized", [DEFAULT_MAX_SIZED, None])
def test_kept_quoters_size_as_fresh_bindings(monkeypatch: pytest.MonkeyPatch, max_sized: int | None) -> None:
    """Two markets fed the same updates, one finder keeping quoters and one binding anew:
    the same changed pools and opportunities at every step, the same counters at the end, and
    far fewer bindings for the keeping finder."""
    binds = [0]
    real = bq.bound_quote

    def counting(entry: PoolEntry, a_to_b: bool) -> Callable[[int], Quote]:
        binds[0] += 1
        return real(entry, a_to_b)

    monkeypatch.setattr(bq, "bound_quote", counting)
    w, rec = _recorded(40, 11, 6, 7)
    mk, mf = _load(w), _load(w)
    kept = _finder(mk, w.sol, True, max_sized=max_sized)
    ref = _finder(mf, w.sol, False, max_sized=max_sized)
    rng = random.Random(7)
    n_kept = n_ref = found = 0
    restore: list[AccountUpdate] = []
    for step in range(700):
        rec.updates.clear()
        r = rng.random()
        if r < 0.03:  # a slot with a Clock jump (DLMM fees decay)
            w.bank.advance_slot(unix_timestamp=w.bank.unix_timestamp + rng.choice((3, 40, 700)))
        elif r < 0.05:  # a bad pool image (quarantine), the good one at the next step
            pool = rng.choice(w.pool_keys)
            u = _image(w, pool)
            rec.updates.append(AccountUpdate(pool, u.slot, u.data[:-9], u.owner, u.lamports))
            restore.append(u)
        elif r < 0.06:  # a pool removed and registered again (new entry, rebuild)
            _register_again(w, rng.choice(w.pool_keys), (mk, mf))
        else:
            while not rec.updates:
                w.frames(1)
        updates, restore = rec.updates + restore, []
        for u in updates:
            changed = mk.apply(u)
            assert mf.apply(u) == changed
            before = binds[0]
            for pool in changed:
                a = kept.on_pool_changed(pool, slot=u.slot, ts_recv_ns=step, now_ns=0)
                n_kept += binds[0] - before
                before = binds[0]
                b = ref.on_pool_changed(pool, slot=u.slot, ts_recv_ns=step, now_ns=0)
                n_ref += binds[0] - before
                before = binds[0]
                assert _view(a) == _view(b), (step, pool)
                found += len(a)
    assert _counters(kept) == _counters(ref)
    assert kept.sized > 500 and found > 50, (kept.sized, found)
    assert n_kept * 2 < n_ref, (n_kept, n_ref)
    assert not _stale_kept(kept)


def test_a_kept_quoter_is_for_its_entry_object_only() -> None:
    """Another entry of the same pool with an equal revision (a second market written the same
    way, or a pool registered again) never reuses the first one's quoter."""
    spec = cp.spec("p", cp.key("mint/S"), cp.key("mint/A"))
    entries = []
    for reserve in (10**9, 3 * 10**9):
        m = MarketState({cp.PROGRAM_ID: cp})
        for u in spec.updates(reserve, 10**9):
            m.apply(u) if spec.pool in m.pools else m.add_pool(u)
        entries.append(m.pool(spec.pool))
    first, second = entries
    assert first.revision == second.revision
    kept: bq.KeptSlots = [None] * 2
    key = (spec.pool, True)
    (q1,) = bq.bind_slots(((key, first, 1),), kept)
    assert bq.bind_slots(((key, first, 1),), kept) == (q1,)  # reused
    (q2,) = bq.bind_slots(((key, second, 1),), kept)
    assert q2 is not q1 and q2(10**6) == cp.quote(second.state, second.aux, 10**6, True)
    assert q1(10**6) != q2(10**6) and kept[1][0] is second and kept[0] is None
    # another slot of the same list
    slots: bq.KeptSlots = [None] * 3
    (s1,) = bq.bind_slots(((key, first, 2),), slots)
    assert bq.bind_slots(((key, first, 2),), slots) == (s1,) and slots[0] is slots[1] is None
    (s2,) = bq.bind_slots(((key, second, 2),), slots)
    assert s2 is not s1 and s2(10**6) == q2(10**6) and slots[2] is not None
    assert slots[2][0] is second and slots[2][1] == second.revision


def test_no_spot_rate_reads_the_clock_and_clock_writes_keep_the_finders_rates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The finder's rates follow ``PoolEntry.rate_revision``, which Clock writes leave alone: so
    no adapter's ``spot_rate`` may read the Clock (each rate is the same with the Clock absent or
    1,000 s later, on pools whose volatility the Clock would decay), and a Clock jump makes the
    finder recompute no rate although it rebinds the DLMM quoters."""
    w, rec, market = _moved_market()
    later = _clock_jump(w, rec)[-1].data  # not applied: only its bytes
    readers = 0
    for e in market.pools.values():
        if CLOCK_SYSVAR not in e.aux_keys:
            continue
        readers += 1
        for a_to_b in (True, False):
            rates = set()
            for clock in (e.aux[CLOCK_SYSVAR], later, None):
                aux = {k: v for k, v in e.aux.items() if k != CLOCK_SYSVAR}
                if clock is not None:
                    aux[CLOCK_SYSVAR] = clock
                rates.add(e.adapter.spot_rate(e.state, aux, a_to_b))
            assert len(rates) == 1, (e.adapter.NAME, e.address)
    assert readers
    kept = _finder(market, w.sol, True, epsilon=-0.9, max_sized=None)
    for pool in list(market.pools):
        kept.on_pool_changed(pool, slot=w.bank.slot, ts_recv_ns=0, now_ns=0)
    calls = 0
    real = cycles_module._spot_rate

    def counted(entry: PoolEntry, state: object, a_to_b: bool) -> float:
        nonlocal calls
        calls += 1
        return real(entry, state, a_to_b)

    monkeypatch.setattr(cycles_module, "_spot_rate", counted)
    pools = [p for p, e in market.pools.items() if CLOCK_SYSVAR in e.aux_keys]
    revisions = {p: market.pools[p].revision for p in pools}
    for u in _clock_jump(w, rec):
        market.apply(u)
    assert all(market.pools[p].revision != revisions[p] for p in pools)  # the write reached them
    for pool in pools:
        kept.on_pool_changed(pool, slot=w.bank.slot, ts_recv_ns=0, now_ns=0)
    assert calls == 0
