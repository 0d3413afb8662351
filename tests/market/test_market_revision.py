"""PoolEntry.revision: the market gives an entry a new revision on every write to its ``state``,
``aux`` (the Clock sysvar's included), ``ready`` or ``quarantined``, and only then. Each write
path of MarketState has its test (the finder keeps bound quoters while it is unchanged)."""

from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace

from solarb.dex.base import CLOCK_SYSVAR
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.events import AccountUpdate
from solarb.market.state import MarketState, PoolEntry
from solarb.sim.accounts import Account
from solarb.sim.bank import SYSVAR_OWNER
from solarb.sim.programs import orca_whirlpool as whirlpool_model
from tests.support import cp_adapter as cp
from tests.support.markets import MINT_A, MINT_B, account_update

S, A, B = cp.key("mint/S"), cp.key("mint/A"), cp.key("mint/B")
P = cp.spec("p", S, A)

# the cp test adapter with the Clock among its aux accounts (an adapter is any object with the
# module functions): the Clock write paths without a DLMM pool
_CLOCKED = SimpleNamespace(**{k: getattr(cp, k) for k in dir(cp) if not k.startswith("__")})
_CLOCKED.aux_accounts = lambda state: [*cp.aux_accounts(state), CLOCK_SYSVAR]


def _clock(ts: int, slot: int) -> AccountUpdate:
    data = slot.to_bytes(8, "little") + bytes(24) + ts.to_bytes(8, "little")
    return AccountUpdate(CLOCK_SYSVAR, slot, data, SYSVAR_OWNER, 1_169_280)


def _moved(entry: PoolEntry, before: int) -> bool:
    return entry.revision != before


def _load(m: MarketState, *specs: cp.CpSpec) -> MarketState:
    """``m`` with each spec's pool registered and its aux accounts written (the Clock aside)."""
    for spec in specs:
        cp.load(m, spec, 10**9, 10**9)
    return m


def test_loading_a_pool_writes_state_aux_and_ready() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    m.add_pool(P.pool_update())
    entry = m.pool(P.pool)
    seen = {entry.revision}
    for u in P.updates(10**9, 10**9)[1:]:  # config, vaults: each an aux write
        r = entry.revision
        assert m.apply(u) == (P.pool,)
        assert _moved(entry, r)
        seen.add(entry.revision)
    assert entry.ready and len(seen) == 4  # every write a value of its own


def test_aux_write_moves_each_reader_and_equal_bytes_move_none() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    q = replace(cp.spec("q", S, B), config=P.config)  # shares P's config
    _load(m, P, q)
    p_entry, q_entry = m.pool(P.pool), m.pool(q.pool)
    assert p_entry.ready and q_entry.ready
    r_p, r_q = p_entry.revision, q_entry.revision
    assert m.apply(P.vault_update(True, 10**9, slot=2)) == ()  # same bytes: only the slot
    assert (p_entry.revision, q_entry.revision) == (r_p, r_q)
    assert m.apply(P.vault_update(True, 10**9 + 1, slot=2)) == (P.pool,)
    assert _moved(p_entry, r_p) and q_entry.revision == r_q
    r_p = p_entry.revision
    assert set(m.apply(P.config_update(30, 10_000, slot=3))) == {P.pool, q.pool}
    assert _moved(p_entry, r_p) and _moved(q_entry, r_q)


def test_pool_image_quarantine_and_recovery() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    _load(m, P)
    entry = m.pool(P.pool)
    r = entry.revision
    assert m.apply(P.pool_update(slot=2)) == ()  # the same image: no decode, no write
    assert entry.revision == r
    assert m.apply(P.pool_update(slot=3, data=b"bad")) == ()  # quarantined
    assert entry.quarantined and _moved(entry, r)
    r = entry.revision
    assert m.apply(P.pool_update(slot=4)) == (P.pool,)  # decodes again: a new state
    assert not entry.quarantined and _moved(entry, r)
    r = entry.revision
    assert m.add_pool(P.pool_update(slot=5)) is entry.state and _moved(entry, r)  # re-decoded


def test_reindex_and_removal() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    _load(m, P)
    entry = m.pool(P.pool)
    r = entry.revision
    other = replace(P, vault_b=cp.key("vault/other"))  # the pool now points at another vault
    assert m.apply(other.pool_update(slot=2)) == (P.pool,)
    assert _moved(entry, r) and not entry.ready and other.vault_b not in entry.aux
    r = entry.revision
    m.apply(other.vault_update(False, 5 * 10**8, slot=3))
    assert entry.ready and _moved(entry, r)
    r = entry.revision
    assert m.remove_pool(P.pool)
    assert _moved(entry, r)  # whoever still holds the removed entry sees it changed


def test_clock_writes_move_every_reader() -> None:
    m = MarketState({cp.PROGRAM_ID: _CLOCKED})  # type: ignore[dict-item]
    q = cp.spec("q", S, B)
    _load(m, P, q)
    bare = cp.spec("bare", S, B)
    m.add_pool(bare.pool_update())  # its config and vaults never come: it stays not ready
    p_entry, q_entry, bare_entry = m.pool(P.pool), m.pool(q.pool), m.pool(bare.pool)
    assert not p_entry.ready
    r_p, r_q, r_bare = p_entry.revision, q_entry.revision, bare_entry.revision
    assert set(m.apply(_clock(1_000, slot=2))) == {P.pool, q.pool, bare.pool}  # all lacked it
    assert p_entry.ready and _moved(p_entry, r_p) and _moved(q_entry, r_q)
    assert CLOCK_SYSVAR in bare_entry.aux and not bare_entry.ready and _moved(bare_entry, r_bare)
    for slot, ts in ((3, 1_001), (4, 1_002)):  # every reader holds it: stored in C, no change
        r_p, r_q = p_entry.revision, q_entry.revision
        rates = p_entry.rate_revision, q_entry.rate_revision
        assert m.apply(_clock(ts, slot)) == ()
        assert p_entry.aux[CLOCK_SYSVAR] == _clock(ts, slot).data
        assert _moved(p_entry, r_p) and _moved(q_entry, r_q)
        assert (p_entry.rate_revision, q_entry.rate_revision) == rates  # no spot rate reads it
    r_p, r_q = p_entry.revision, q_entry.revision
    assert m.apply(replace(_clock(1_002, 4), slot=5)) == ()  # equal bytes: nothing written
    assert (p_entry.revision, q_entry.revision) == (r_p, r_q)
    # a reader added later (the readers' tuple is rebuilt with its entry): all three move
    w = cp.spec("w", S, B)
    _load(m, w)
    w_entry = m.pool(w.pool)
    assert w_entry.ready  # the Clock already loaded is reused at once
    r_p, r_q, r_w = p_entry.revision, q_entry.revision, w_entry.revision
    assert m.apply(_clock(1_003, 6)) == ()
    assert _moved(p_entry, r_p) and _moved(q_entry, r_q) and _moved(w_entry, r_w)


def test_clock_loaded_with_its_owner_then_written_in_every_reader() -> None:
    """The Clock's first update (its owner learned: the aux path) reports every reader; the next
    writes (the readers' cached aux dicts, all ready) store the update's bytes object in each,
    keep each dict's own key object, give all readers one new revision and no rate change."""
    m = MarketState({cp.PROGRAM_ID: _CLOCKED})  # type: ignore[dict-item]
    q = cp.spec("q", S, B)
    _load(m, P, q)
    entries = [m.pool(P.pool), m.pool(q.pool)]
    assert set(m.apply(_clock(1_000, slot=2))) == {P.pool, q.pool}
    assert all(e.ready for e in entries)
    keys = [next(k for k in e.aux if k == CLOCK_SYSVAR) for e in entries]
    slots = [(e.slot, e.pool_slot) for e in entries]
    for slot in range(3, 7):
        update = _clock(1_000 + slot, slot)
        before = [(e.revision, e.rate_revision) for e in entries]
        assert m.apply(update) == ()
        for e, key, (rev, rate) in zip(entries, keys, before, strict=True):
            assert e.aux[CLOCK_SYSVAR] is update.data
            assert next(k for k in e.aux if k == CLOCK_SYSVAR) is key
            assert e.revision > rev and e.rate_revision == rate
        assert entries[0].revision == entries[1].revision  # one stamp for the write
        assert [(e.slot, e.pool_slot) for e in entries] == slots  # in no freshness slot
        assert m.slot_of(CLOCK_SYSVAR) == slot


def test_clock_write_after_a_reader_left() -> None:
    m = MarketState({cp.PROGRAM_ID: _CLOCKED})  # type: ignore[dict-item]
    _load(m, P)
    m.apply(_clock(1_000, 2))
    q = cp.spec("q", S, B)
    m.add_pool(q.pool_update(slot=3))
    q_entry, p_entry = m.pool(q.pool), m.pool(P.pool)
    assert CLOCK_SYSVAR in q_entry.aux  # reused from the store at indexing
    m.remove_pool(q.pool)
    r = p_entry.revision
    assert m.apply(_clock(1_001, 4)) == ()
    assert _moved(p_entry, r)


def test_token_program_learned_from_a_mint_redecodes() -> None:
    pool, accounts = whirlpool_model.create_pool(
        mint_a=MINT_A, mint_b=MINT_B, tick_spacing=64, fee_rate=3000, price=1, decimals_a=6,
        decimals_b=6, positions=[(-6400, 6400, 10**12)], token_program_b=TOKEN_2022_PROGRAM_ID,
    )  # fmt: skip
    accounts[MINT_A] = Account(10**7, encode_mint(6, 10**18), TOKEN_PROGRAM_ID)
    m = MarketState(ADAPTERS)
    m.add_pool(account_update(pool, accounts[pool]))
    entry = m.pool(pool)
    for key in m.watched_accounts():
        if key not in (pool, MINT_B):
            m.apply(account_update(key, accounts.get(key)))
    # mint B first seen as SPL Token (an aux write), then owned by Token-2022 (a new state)
    m.apply(AccountUpdate(MINT_B, 1, encode_mint(6, 10**18), TOKEN_PROGRAM_ID, 10**7))
    assert entry.tradable and entry.state.token_program_b == TOKEN_PROGRAM_ID
    r, state = entry.revision, entry.state
    assert m.apply(AccountUpdate(MINT_B, 2, encode_mint(6, 10**18), TOKEN_2022_PROGRAM_ID, 10**7))
    assert entry.state is not state and entry.state.token_program_b == TOKEN_2022_PROGRAM_ID
    assert _moved(entry, r)


def test_freshness_ready_and_revision_over_random_writes() -> None:
    """Over random writes (shared config, vaults, pool images, same bytes, older slots, bad
    images, the Clock) every pool's ``ready`` says whether every aux account is loaded, its
    ``slot`` (unless quarantined: a bad image does not refresh it) is the minimum over its pool
    account and aux accounts (the Clock excepted), its revision moved exactly when its
    state, aux, ready or quarantined did, and its rate_revision likewise, Clock writes aside."""
    rng = random.Random(3)
    m = MarketState({cp.PROGRAM_ID: _CLOCKED})  # type: ignore[dict-item]
    specs = [replace(cp.spec(f"r{i}", S, A), config=P.config) if i % 2 else cp.spec(f"r{i}", S, A)
             for i in range(6)]  # fmt: skip
    for spec in specs:
        m.add_pool(spec.pool_update(slot=1))
    reserves = {spec.pool: [10**9, 10**9] for spec in specs}
    last_seen = {spec.pool: (None, {}, False, False) for spec in specs}
    revisions = {spec.pool: -1 for spec in specs}
    rate_seen = dict(last_seen)
    rate_revisions = dict(revisions)
    slot = 1
    for step in range(2_000):
        slot += rng.random() < 0.3
        spec = rng.choice(specs)
        at = slot - rng.randrange(3)  # some writes are older than the stored one: ignored
        r = rng.random()
        if r < 0.45:
            side = rng.random() < 0.5
            if rng.random() < 0.7:
                reserves[spec.pool][side] += rng.randrange(1, 1_000)
            m.apply(spec.vault_update(side, reserves[spec.pool][side], slot=at))
        elif r < 0.6:
            m.apply(spec.config_update(rng.randrange(1, 50), 10_000, slot=at))
        elif r < 0.8:
            m.apply(spec.pool_update(slot=at))
        elif r < 0.9:
            m.apply(_clock(1_000 + slot, slot))
        else:
            m.apply(spec.pool_update(slot=at, data=b"bad" if rng.random() < 0.3 else None))
        for s in specs:
            e = m.pool(s.pool)
            keys = [k for k in e.aux_keys if k != CLOCK_SYSVAR]
            loaded = [m.slot_of(k) for k in keys if k in e.aux]
            assert e.ready == (len(e.aux) == len(e.aux_keys)), step
            if not e.quarantined:
                assert e.slot == min([e.pool_slot, *(x for x in loaded if x is not None)]), step
            seen = (e.state, dict(e.aux), e.ready, e.quarantined)
            moved = seen[0] is not last_seen[s.pool][0] or seen[1:] != last_seen[s.pool][1:]
            assert moved == (e.revision != revisions[s.pool]), step
            last_seen[s.pool], revisions[s.pool] = seen, e.revision
            # rate_revision: the same writes but the Clock's (no spot rate reads it)
            no_clock = {k: v for k, v in seen[1].items() if k != CLOCK_SYSVAR}
            rseen = (e.state, no_clock, e.ready, e.quarantined)
            before = rate_seen[s.pool]
            rmoved = rseen[0] is not before[0] or rseen[1:] != before[1:]
            assert rmoved == (e.rate_revision != rate_revisions[s.pool]), step
            rate_seen[s.pool], rate_revisions[s.pool] = rseen, e.rate_revision


def test_freshness_exact_when_refreshes_are_skipped() -> None:
    """apply skips recomputing a pool's freshness when the written account was above its minimum;
    over random writes to shared accounts, a pool account read by other pools (written by apply
    and by add_pool), images that move the aux accounts, bad images and older slots, every pool
    not quarantined still has the exact minimum and ``ready``."""
    rng = random.Random(8)
    m = MarketState({cp.PROGRAM_ID: cp})
    base = [cp.spec(f"f{i}", S, A) for i in range(3)]
    reader = [replace(cp.spec(f"g{i}", S, A), config=base[0].pool) for i in range(2)]
    shared = [replace(cp.spec(f"h{i}", S, A), config=P.config) for i in range(2)]
    specs = [*base, *reader, *shared]
    for spec in specs:
        m.add_pool(spec.pool_update(slot=1))
    configs = {spec.pool: spec.config for spec in specs}
    slot, skipped = 1, 0
    refresh = m._refresh
    calls = [0]

    def counting(entry: PoolEntry) -> None:
        calls[0] += 1
        refresh(entry)

    m._refresh = counting  # type: ignore[method-assign]
    for step in range(3_000):
        slot += rng.random() < 0.3
        spec = rng.choice(specs)
        at = slot - rng.randrange(3)
        r = rng.random()
        before = calls[0]
        if r < 0.4:
            m.apply(spec.vault_update(rng.random() < 0.5, rng.randrange(1, 10**9), slot=at))
        elif r < 0.55:
            m.apply(replace(spec, config=configs[spec.pool]).config_update(
                rng.randrange(1, 50), 10_000, slot=at))
        elif r < 0.7:
            m.apply(spec.pool_update(slot=at))  # the same image: only the slot moves
        elif r < 0.8 and spec in base[1:]:  # an image naming another config: re-indexed
            configs[spec.pool] = rng.choice((spec.config, P.config, base[0].pool))
            m.apply(replace(spec, config=configs[spec.pool]).pool_update(slot=at))
        elif r < 0.9:
            m.apply(base[0].pool_update(slot=at, data=b"bad" if rng.random() < 0.3 else None))
        else:  # re-registered: its readers (reader) see its new slot
            m.add_pool(base[0].pool_update(slot=at))
        skipped += calls[0] == before
        for s in specs:
            e = m.pool(s.pool)
            loaded = [m.slot_of(k) for k in e.aux_keys if k in e.aux]
            assert e.ready == (len(e.aux) == len(e.aux_keys)), step
            if not e.quarantined:
                assert e.slot == min([e.pool_slot, *(x for x in loaded if x is not None)]), step
    assert skipped > 300  # the skip is exercised
