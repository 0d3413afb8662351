"""MarketState over the real Raydium adapters and real mainnet account dumps."""

from __future__ import annotations

import base64
import json

import pytest
from solders.pubkey import Pubkey

from solarb.dex import raydium_amm_v4, raydium_cpmm
from solarb.dex.base import MissingAccount, QuoteError
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, encode_token_account
from solarb.events import AccountUpdate
from solarb.market import MarketState
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "accounts"
CPMM_BUNDLE = DATA / "raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"
AMM_V4 = DATA / "raydium_amm_v4/sol_usdc_58oQChx4/58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json"


def cpmm_updates() -> tuple[Pubkey, list[AccountUpdate]]:
    """The CPMM pool update first, then every other account of Raydium's fixture bundle."""
    doc = json.loads(CPMM_BUNDLE.read_text())
    slot, pool = doc["slot"], Pubkey.from_string(doc["pool"])
    updates = [
        AccountUpdate(
            Pubkey.from_string(k),
            slot,
            base64.b64decode(v["data"]),
            Pubkey.from_string(v["owner"]),
            v["lamports"],
        )
        for k, v in doc["accounts"].items()
    ]
    updates.sort(key=lambda u: u.pubkey != pool)
    return pool, updates


def test_real_cpmm_pool_decodes_loads_and_quotes_like_the_adapter() -> None:
    pool, updates = cpmm_updates()
    m = MarketState(ADAPTERS)
    state = m.add_pool(updates[0])
    assert state.mint_a == Pubkey.from_string("So11111111111111111111111111111111111111112")
    assert not m.pool(pool).ready
    changed = [m.apply(u) for u in updates[1:]]
    entry = m.pool(pool)
    assert entry.ready and entry.tradable and entry.slot == 446605268
    assert entry.adapter is raydium_cpmm
    # config, both vaults and the Token-2022 mint are aux: 4 updates reported the pool
    assert sum(1 for c in changed if c == (pool,)) == 4
    assert set(m.watched_accounts()) == {pool, *raydium_cpmm.aux_accounts(state)}
    aux = {u.pubkey: u.data for u in updates}
    for amount, a_to_b in ((10**9, True), (10**12, False), (10**6, True)):
        want = raydium_cpmm.quote(state, aux, amount, a_to_b)  # type: ignore[arg-type]
        assert m.quote(pool, amount, a_to_b) == want
    with pytest.raises(QuoteError):  # the fee rounds up to the whole lamport: zero output
        m.quote(pool, 1, True)
    # a truncated image quarantines the real pool; the original bytes restore it
    assert m.apply(AccountUpdate(pool, 446605269, updates[0].data[:100], updates[0].owner, 1)) == ()
    assert m.pool(pool).quarantined and m.decode_errors == 1
    assert m.apply(AccountUpdate(pool, 446605270, updates[0].data, updates[0].owner, 1)) == (pool,)
    assert m.pool(pool).tradable


def test_real_amm_v4_pool_waits_for_its_vaults() -> None:
    doc = json.loads(AMM_V4.read_text())
    pool = Pubkey.from_string(doc["pubkey"])
    update = AccountUpdate(
        pool, doc["slot"], base64.b64decode(doc["data"]), Pubkey.from_string(doc["owner"]), 1
    )
    m = MarketState(ADAPTERS)
    state = m.add_pool(update)
    entry = m.pool(pool)
    assert entry.adapter is raydium_amm_v4 and not entry.ready
    assert m.watched_accounts() == [pool, state.vault_a, state.vault_b]
    with pytest.raises(MissingAccount):
        m.quote(pool, 10**9, True)
    # the dump has no vaults: give them plausible balances (SOL ~ 150 USDC)
    slot = doc["slot"]
    for vault, mint, amount in (
        (state.vault_a, state.mint_a, 200_000 * 10**9),
        (state.vault_b, state.mint_b, 30_000_000 * 10**6),
    ):
        data = encode_token_account(mint, pool, amount)
        assert m.apply(AccountUpdate(vault, slot + 1, data, TOKEN_PROGRAM_ID, 1)) == (pool,)
    assert m.pool(pool).tradable and m.pool(pool).slot == slot
    out = m.quote(pool, 10**9, True).amount_out
    assert 100 * 10**6 < out < 160 * 10**6  # 1 SOL -> ~150 USDC minus fee and pending PnL
