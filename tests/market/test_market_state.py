"""MarketState: slot-ordered application, aux sharing, quarantine, graph (cp test adapter)."""

from __future__ import annotations

import pytest

from solarb.dex.base import DecodeError, MissingAccount
from solarb.dex.spl_token import TOKEN_PROGRAM_ID
from solarb.events import AccountUpdate
from solarb.market import Edge, MarketState, PoolQuarantined
from tests.support import cp_adapter as cp

SOL, USDC, BONK = cp.key("mint/SOL"), cp.key("mint/USDC"), cp.key("mint/BONK")


def _market() -> MarketState:
    return MarketState({cp.PROGRAM_ID: cp})


def test_pool_becomes_ready_when_all_aux_loaded_and_freshness_is_min_slot() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    assert m.add_pool(p.pool_update(slot=10)).mint_a == SOL
    entry = m.pool(p.pool)
    assert not entry.ready and entry.slot == 10
    with pytest.raises(MissingAccount):
        m.quote(p.pool, 1000, True)
    assert m.apply(p.config_update(25, 10_000, slot=11)) == (p.pool,)
    assert m.apply(p.vault_update(True, 1_000_000, slot=7)) == (p.pool,)
    assert not m.pool(p.pool).ready
    assert m.apply(p.vault_update(False, 2_000_000, slot=12)) == (p.pool,)
    entry = m.pool(p.pool)
    assert entry.ready and entry.tradable
    assert entry.slot == 7  # oldest input of a quote
    assert m.quote(p.pool, 1000, True).amount_out == 1992
    assert set(m.aux(p.pool)) == {p.config, p.vault_a, p.vault_b}


def test_stale_update_is_ignored_and_equal_bytes_only_advance_the_slot() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=5)
    before = m.quote(p.pool, 10_000, True).amount_out
    # an older image of vault_a (half the reserve) arrives late: ignored
    assert m.apply(p.vault_update(True, 500_000, slot=4)) == ()
    assert m.stale_updates == 1
    assert m.quote(p.pool, 10_000, True).amount_out == before
    assert m.slot_of(p.vault_a) == 5
    # same bytes at a newer slot: nothing to re-evaluate, freshness moves
    assert m.apply(p.vault_update(True, 1_000_000, slot=9)) == ()
    assert m.slot_of(p.vault_a) == 9
    # a newer, different image is applied; same slot is not "older"
    assert m.apply(p.vault_update(True, 500_000, slot=9)) == (p.pool,)
    assert m.quote(p.pool, 10_000, True).amount_out != before


def test_stale_pool_account_update_is_ignored() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=20)
    assert m.apply(p.pool_update(slot=19, data=b"garbage")) == ()
    assert not m.pool(p.pool).quarantined
    assert m.decode_errors == 0


def test_shared_aux_account_serves_several_pools() -> None:
    m = _market()
    shared = cp.key("shared-config")
    p1 = cp.spec("p1", SOL, USDC, config=shared)
    p2 = cp.spec("p2", SOL, BONK, config=shared)
    cp.load(m, p1, 1_000_000, 2_000_000)
    m.add_pool(p2.pool_update())
    # the shared config already loaded for p1 is reused by p2 at once
    assert shared in m.aux(p2.pool)
    assert m.apply(p2.vault_update(True, 10**9)) == (p2.pool,)
    assert m.apply(p2.vault_update(False, 10**9)) == (p2.pool,)
    assert m.pools_using(shared) == (p1.pool, p2.pool)
    assert set(m.apply(p1.config_update(30, 10_000, slot=2))) == {p1.pool, p2.pool}
    assert m.quote(p2.pool, 10_000, True).fee == 30
    watched = m.watched_accounts()
    assert len(watched) == len(set(watched)) == 2 + 5  # 2 pools, 1 shared config, 4 vaults
    assert watched[:2] == [p1.pool, p2.pool]
    # removing one pool keeps the shared account for the other
    assert m.remove_pool(p1.pool)
    assert m.pools_using(shared) == (p2.pool,)
    assert p1.vault_a not in m.watched_accounts()
    assert m.apply(p1.vault_update(True, 5)) == ()
    # one reader left: still served (the index holds the pool itself, not a tuple)
    assert m.apply(p1.config_update(40, 10_000, slot=3)) == (p2.pool,)
    assert m.quote(p2.pool, 10_000, True).fee == 40
    m.add_pool(p1.pool_update())
    assert m.pools_using(shared) == (p2.pool, p1.pool)
    assert m.pools_using(p1.vault_a) == (p1.pool,) and m.pools_using(p1.pool) == ()


def test_bad_bytes_quarantine_the_pool_until_a_good_update() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=1)
    assert m.apply(p.pool_update(slot=2, data=b"\x00" * 10)) == ()  # never raises
    entry = m.pool(p.pool)
    assert entry.quarantined and not entry.tradable
    assert "bytes" in entry.quarantine_reason
    assert m.decode_errors == 1 and entry.decode_errors == 1
    assert m.quarantined() == [p.pool]
    with pytest.raises(PoolQuarantined):
        m.quote(p.pool, 1000, True)
    # the same bad bytes again stay quarantined without being counted twice
    assert m.apply(p.pool_update(slot=3, data=b"\x00" * 10)) == ()
    assert m.decode_errors == 1
    # a wrong discriminator with the right size is also a decode error
    bad = b"NOTAPOOL" + cp.encode_pool(SOL, USDC, p.vault_a, p.vault_b, p.config)[8:]
    assert m.apply(p.pool_update(slot=4, data=bad)) == ()
    assert m.decode_errors == 2
    # a good image lifts the quarantine and reports the pool as changed
    assert m.apply(p.pool_update(slot=5)) == (p.pool,)
    assert m.pool(p.pool).tradable and m.quarantined() == []
    assert m.quote(p.pool, 1000, True).amount_out == 1992


def test_owner_change_quarantines_the_pool() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000)
    good = p.pool_update(slot=2)
    closed = AccountUpdate(p.pool, 2, good.data, TOKEN_PROGRAM_ID, 0)
    assert m.apply(closed) == ()
    assert m.pool(p.pool).quarantined
    assert "owner" in m.pool(p.pool).quarantine_reason


def test_add_pool_rejects_unknown_owner_and_bad_bytes() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    u = p.pool_update()
    with pytest.raises(DecodeError):
        m.add_pool(AccountUpdate(u.pubkey, 1, u.data, TOKEN_PROGRAM_ID, 1))
    with pytest.raises(DecodeError):
        m.add_pool(p.pool_update(data=b"short"))
    assert m.pools == {} and m.watched_accounts() == []


def test_unknown_accounts_are_ignored_and_counted() -> None:
    m = _market()
    p = cp.spec("p", SOL, USDC)
    assert m.apply(p.vault_update(True, 1)) == ()
    assert m.unknown_updates == 1


def test_token_graph_edges_and_version() -> None:
    m = _market()
    p1, p2 = cp.spec("p1", SOL, USDC), cp.spec("p2", USDC, BONK)
    v0 = m.version
    cp.load(m, p1, 10, 20)
    cp.load(m, p2, 10, 20)
    assert m.version == v0 + 2
    assert m.edges(SOL) == [Edge(p1.pool, True)]
    assert m.edges(USDC) == [Edge(p1.pool, False), Edge(p2.pool, True)]
    assert m.edges(BONK) == [Edge(p2.pool, False)]
    assert m.graph.mint_out(Edge(p2.pool, False)) == USDC
    # re-applying the same pool does not change the topology
    m.apply(p1.pool_update(slot=3))
    assert m.version == v0 + 2
    m.remove_pool(p2.pool)
    assert m.edges(BONK) == [] and m.version == v0 + 3
