"""What the market holds per account: one object per thing, no equal copies."""

from __future__ import annotations

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.market import MarketState
from tests.support import cp_adapter as cp

SOL, USDC, BONK = cp.key("mint/SOL"), cp.key("mint/USDC"), cp.key("mint/BONK")


def _copy(update: AccountUpdate) -> AccountUpdate:
    """``update`` with its own (equal, distinct) Pubkey, as every feed or loader update has."""
    key = Pubkey.from_bytes(bytes(update.pubkey))
    assert key == update.pubkey and key is not update.pubkey
    return AccountUpdate(key, update.slot, update.data, update.owner, update.lamports)


def test_aux_dicts_hold_the_entrys_own_key_objects_not_the_updates() -> None:
    m = MarketState({cp.PROGRAM_ID: cp})
    shared = cp.key("shared-config")
    p1, p2 = cp.spec("p1", SOL, USDC, config=shared), cp.spec("p2", SOL, BONK, config=shared)
    m.add_pool(p1.pool_update())
    m.add_pool(p2.pool_update())
    loads = [p1.config_update(25, 10_000), *(p.vault_update(side, 10**9)
                                             for p in (p1, p2) for side in (True, False))]
    for update in loads:
        m.apply(_copy(update))
    later = [_copy(p1.config_update(30, 10_000, slot=2)), _copy(p1.vault_update(True, 5, slot=2))]
    for update in later:  # a new version keeps the held key
        m.apply(update)
    for pool in (p1.pool, p2.pool):
        entry = m.pool(pool)
        assert entry.ready
        by_value = {key: key for key in entry.aux_keys}
        for key in entry.aux:
            assert key is by_value[key]  # no second Pubkey object for the account
        assert all(all(key is not u.pubkey for key in entry.aux) for u in loads + later)
    assert m.quote(p2.pool, 10_000, True).fee == 30  # the shared config's new version is read
