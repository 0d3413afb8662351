"""CycleFinder over the real Raydium CPMM adapter and Raydium's mainnet fixture accounts.

The real WSOL/pump pool is paired with a sibling CPMM pool built from the same bytes (same real
AmmConfig and Token-2022 pump mint, shared as aux accounts) whose vaults hold a different price.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct

from solders.pubkey import Pubkey

from solarb.dex import raydium_cpmm
from solarb.dex.registry import ADAPTERS
from solarb.events import AccountUpdate
from solarb.market import MarketState
from solarb.strategy import CycleFinder
from tests.support.cp_adapter import key
from tests.support.data import SHARED_DATA

WSOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
CPMM_BUNDLE = SHARED_DATA / "accounts/raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"


def cpmm_updates() -> tuple[Pubkey, list[AccountUpdate]]:
    """The pool update first, then every other account of Raydium's fixture bundle."""
    doc = json.loads(CPMM_BUNDLE.read_text())
    pool = Pubkey.from_string(doc["pool"])
    updates = [
        AccountUpdate(Pubkey.from_string(k), doc["slot"], base64.b64decode(v["data"]),
                      Pubkey.from_string(v["owner"]), v["lamports"])
        for k, v in doc["accounts"].items()
    ]  # fmt: skip
    updates.sort(key=lambda u: u.pubkey != pool)
    return pool, updates


def _with_amount(data: bytes, amount: int) -> bytes:
    return data[:64] + struct.pack("<Q", amount) + data[72:]


def _market(premium: float) -> tuple[MarketState, Pubkey, Pubkey]:
    """Real pool + sibling whose pump side is ``premium`` scarcer (pump dearer in WSOL)."""
    pool, updates = cpmm_updates()
    m = MarketState(ADAPTERS)
    real = m.add_pool(updates[0])
    for u in updates[1:]:
        m.apply(u)
    assert isinstance(real, raydium_cpmm.CpmmPool)
    by_key = {u.pubkey: u for u in updates}
    sibling = key("sibling-cpmm")
    vault_a, vault_b = key("sibling/vault0"), key("sibling/vault1")
    state = dataclasses.replace(real, address=sibling, vault_a=vault_a, vault_b=vault_b)
    slot = updates[0].slot
    data = raydium_cpmm.encode_pool(state)
    m.add_pool(AccountUpdate(sibling, slot, data, raydium_cpmm.PROGRAM_ID, 1))
    va, vb = by_key[real.vault_a], by_key[real.vault_b]
    amount_b = struct.unpack_from("<Q", vb.data, 64)[0]
    m.apply(AccountUpdate(vault_a, slot, va.data, va.owner, 1))
    scarcer = _with_amount(vb.data, amount_b * 1000 // int(1000 * (1 + premium)))
    m.apply(AccountUpdate(vault_b, slot, scarcer, vb.owner, 1))
    assert m.pool(sibling).tradable
    # the real config and the Token-2022 mint serve both pools
    assert set(m.pools_using(real.amm_config)) == {pool, sibling}
    assert set(m.pools_using(real.mint_b)) == {pool, sibling}
    return m, pool, sibling


def _finder(m: MarketState) -> CycleFinder:
    f = CycleFinder(
        m, start_mints=[WSOL], min_profit={WSOL: 10_000}, max_amount_in={WSOL: 10**12}
    )
    f.rebuild()
    return f


def test_real_cpmm_cycle_is_found_and_sized_exactly() -> None:
    m, pool, sibling = _market(premium=0.03)
    f = _finder(m)
    assert f.cycles == 2
    opps = f.on_pool_changed(sibling, slot=446605268, ts_recv_ns=1, now_ns=2)
    assert len(opps) == 1
    opp = opps[0]
    # buy pump on the real pool, sell it dearer on the sibling
    assert [h.pool for h in opp.hops] == [pool, sibling]
    assert [h.dex for h in opp.hops] == ["raydium_cpmm", "raydium_cpmm"]
    x = opp.amount_in
    for hop in opp.hops:
        assert hop.amount_in == x
        x = m.quote(hop.pool, x, hop.a_to_b).amount_out
        assert hop.amount_out == x
    assert opp.amount_out == x and opp.profit >= 10_000
    # locally optimal with the exact program math (1 lamport and wider steps)
    for dx in (-10**6, -1000, -1, 1, 1000, 10**6):
        y = m.quote(pool, opp.amount_in + dx, True).amount_out
        y = m.quote(sibling, y, False).amount_out
        assert y - (opp.amount_in + dx) <= opp.profit
    assert f.sized == 1  # the reverse direction is stopped by the float filter


def test_real_cpmm_aligned_pools_give_nothing() -> None:
    m, pool, sibling = _market(premium=0.0)
    f = _finder(m)
    assert f.on_pool_changed(pool, slot=1, ts_recv_ns=0, now_ns=0) == []
    assert f.on_pool_changed(sibling, slot=1, ts_recv_ns=0, now_ns=0) == []
    assert f.sized == 0
