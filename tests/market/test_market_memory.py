"""What the market holds per account: one object per thing, no equal copies, few stored zeros
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


def test_compact_runs_start_with_fewer_than_16_zero_bytes() -> None:
    # a 50-byte zero stretch: the split on 32-byte zero blocks leaves 18 zeros ahead of b"\x02"
    # (at 51); the run drops 16 of them (whole 16-byte blocks)
    data = bytearray(4096)
    data[0], data[51], data[200:210] = 1, 2, bytes(range(1, 11))
    raw = bytes(data)
    stored = compact(raw)
    # and 16 of the 20 zeros (180-199) ahead of the third run; the last 14 zeros hold no run
    assert isinstance(stored, SparseBytes) and stored.stored_bytes() == 18  # 1 + 3 + 14
    assert stored._runs == 3 and list(stored._index[:3]) == [0, 49, 196]
    assert bytes(stored) == raw and stored == raw and hash(stored) == hash(raw)
    assert stored[33:55] == raw[33:55] and stored[51] == 2 and stored[48] == stored[49] == 0
    # a write in the trimmed zeros is outside the runs: a new layout, still equal to the bytes
    data[40] = 7
    new, same = compact_update(bytes(data), stored)
    assert not same and isinstance(new, SparseBytes) and new._index is not stored._index
    assert new == bytes(data) and list(new._index[:3]) == [0, 33, 196]  # 7 zeros kept
    assert compact_update(bytes(data[:49]) + b"\0\0\x09" + bytes(data[52:]), new)[0] == (
        bytes(data[:49]) + b"\0\0\x09" + bytes(data[52:]))  # inside the kept zeros: relaid
    rng = random.Random(5)
    for _ in range(40):  # every stored run ends with a non-zero byte, starts with < 16 zeros
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
                assert len(run) - len(run.lstrip(b"\0")) < 16 and run[-1] != 0
                assert raw[index[i] : index[i] + len(run)] == run
            assert bytes(stored) == bytes(raw)
