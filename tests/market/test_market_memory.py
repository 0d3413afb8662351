"""What the market holds per account: one object per thing, no equal copies, no stored zeros
ahead of a compact run."""

from __future__ import annotations

import random

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.market import MarketState, SparseBytes, compact
from solarb.market.compact import compact_update
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


def test_compact_runs_hold_no_leading_zeros() -> None:
    # a 40-byte zero stretch: the split on 32-byte zero blocks leaves 8 zeros ahead of b"\x02"
    data = bytearray(4096)
    data[0], data[41], data[200:210] = 1, 2, bytes(range(1, 11))
    raw = bytes(data)
    stored = compact(raw)
    assert isinstance(stored, SparseBytes) and stored.stored_bytes() == 12  # 1 + 1 + 10
    assert stored._runs == 3 and list(stored._index[:3]) == [0, 41, 200]
    assert bytes(stored) == raw and stored == raw and hash(stored) == hash(raw)
    assert stored[33:45] == raw[33:45] and stored[41] == 2 and stored[40] == 0
    # a write in the trimmed zeros is outside the runs: a new layout, still equal to the bytes
    data[35] = 7
    new, same = compact_update(bytes(data), stored)
    assert not same and isinstance(new, SparseBytes) and new._index is not stored._index
    assert new == bytes(data) and list(new._index[:3]) == [0, 35, 200]
    rng = random.Random(5)
    for _ in range(40):  # every stored run starts (and ends) with a non-zero byte
        raw = bytearray(10240)
        for _ in range(rng.randint(1, 30)):
            start = rng.randrange(10100)
            raw[start : start + 100] = bytes(rng.choice((0, rng.randint(1, 255)))
                                             for _ in range(100))
        stored = compact(bytes(raw))
        if isinstance(stored, SparseBytes):
            n, index, chunks = stored._runs, stored._index, stored._chunks
            for i in range(n):
                run = chunks[index[n + i] : index[n + i + 1]]
                assert run[0] != 0 and run[-1] != 0 and raw[index[i] : index[i] + len(run)] == run
            assert bytes(stored) == bytes(raw)
