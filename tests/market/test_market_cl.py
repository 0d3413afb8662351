"""MarketState with concentrated-liquidity pools: token programs learned from the mints' owners,
accounts that do not exist (b""), aux sets that move with the price, the Clock sysvar; and the
same learning in quote_cases. Pools come from the program models' factories (real layouts)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as dlay
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DexError, QuoteError
from solarb.dex.quote_cases import parse_accounts, quote_case
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import (
    SYSTEM_PROGRAM_ID,
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    encode_mint,
)
from solarb.events import AccountUpdate
from solarb.market.state import CLOCK_SYSVAR, MarketState
from solarb.sim.accounts import Account
from solarb.sim.bank import Bank
from solarb.sim.market import MarketGenerator
from solarb.sim.programs import meteora_dlmm as dlmm_model
from solarb.sim.programs import orca_whirlpool as whirlpool_model
from solarb.sim.programs import raydium_clmm as clmm_model
from tests.support.markets import MINT_A, MINT_B, account_update, load_market

POSITIONS = [(-6400, 6400, 10**12), (-640, 640, 4 * 10**12)]


def _fee_mint(bps: int) -> bytes:
    """A Token-2022 mint with a TransferFeeConfig extension (``bps``, no maximum)."""
    base = encode_mint(6, 10**18)
    fee = (0).to_bytes(8, "little") + (2**63).to_bytes(8, "little") + bps.to_bytes(2, "little")
    body = bytes(72) + fee + fee
    return (base + bytes(165 - len(base)) + b"\x01" + (1).to_bytes(2, "little")
            + len(body).to_bytes(2, "little") + body)  # fmt: skip


def _whirlpool() -> tuple[Pubkey, dict[Pubkey, Account]]:
    pool, accounts = whirlpool_model.create_pool(
        mint_a=MINT_A, mint_b=MINT_B, tick_spacing=64, fee_rate=3000, price=1, decimals_a=6,
        decimals_b=6, positions=POSITIONS, token_program_b=TOKEN_2022_PROGRAM_ID,
    )  # fmt: skip
    accounts[MINT_A] = Account(10**7, encode_mint(6, 10**18), TOKEN_PROGRAM_ID)
    accounts[MINT_B] = Account(10**7, _fee_mint(100), TOKEN_2022_PROGRAM_ID)
    return pool, accounts


_update = account_update


def _load(pool: Pubkey, accounts: dict[Pubkey, Account]) -> MarketState:
    return load_market(accounts, (pool,))


def test_whirlpool_token_programs_learned_from_mint_owners() -> None:
    pool, accounts = _whirlpool()
    market = MarketState(ADAPTERS)
    state = market.add_pool(_update(pool, accounts[pool]))
    # the pool account does not say: SPL Token until the mints are seen
    assert (state.token_program_a, state.token_program_b) == (TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID)
    assert {MINT_A, MINT_B} <= set(market.pool(pool).aux_keys)
    assert market.apply(_update(MINT_A, accounts[MINT_A])) == (pool,)
    assert market.pool(pool).state.token_program_b == TOKEN_PROGRAM_ID
    assert market.apply(_update(MINT_B, accounts[MINT_B])) == (pool,)
    entry = market.pool(pool)
    assert entry.state.token_program_b == TOKEN_2022_PROGRAM_ID
    assert entry.state.token_program_a == TOKEN_PROGRAM_ID
    assert market.owner_of(MINT_B) == TOKEN_2022_PROGRAM_ID and market.owner_of(pool) == ow.PROGRAM_ID
    for key in market.watched_accounts():
        if key != pool:
            market.apply(_update(key, accounts.get(key)))
    assert entry.tradable
    # the quote charges the 1% transfer fee of mint B (output of a->b), as the program does
    spl = ow.decode_pool(pool, accounts[pool].data)
    t22 = ow.decode_pool(pool, accounts[pool].data, token_program_b=TOKEN_2022_PROGRAM_ID)
    got = market.quote(pool, 10**6, True)
    assert got == ow.quote(t22, entry.aux, 10**6, True)
    assert got.amount_out < ow.quote(spl, entry.aux, 10**6, True).amount_out
    # a new pool image keeps the learned programs
    assert market.apply(replace(_update(pool, accounts[pool], slot=2), data=accounts[pool].data[:-1] + b"\x01"))
    assert market.pool(pool).state.token_program_b == TOKEN_2022_PROGRAM_ID
    # a swap instruction then uses the Token-2022 program and ATA for mint B
    ix = ow.swap_instruction(market.pool(pool).state, Pubkey.new_unique(), 10**6, 0, True)
    assert ix.accounts[1].pubkey == TOKEN_2022_PROGRAM_ID


def test_raydium_clmm_token_programs_learned() -> None:
    pool, accounts = clmm_model.create_pool(
        mint_a=MINT_A, mint_b=MINT_B, tick_spacing=10, trade_fee_rate=500,
        positions=[(-600, 600, 10**12)], price=1, token_program_a=TOKEN_2022_PROGRAM_ID,
    )  # fmt: skip
    accounts[MINT_A] = Account(10**7, encode_mint(6, 10**18), TOKEN_2022_PROGRAM_ID)
    accounts[MINT_B] = Account(10**7, encode_mint(6, 10**18), TOKEN_PROGRAM_ID)
    market = _load(pool, accounts)
    entry = market.pool(pool)
    assert (entry.state.token_program_a, entry.state.token_program_b) == (
        TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID)  # fmt: skip
    assert entry.tradable and market.quote(pool, 10**6, False).amount_out > 0


def test_missing_accounts_are_empty_bytes_and_quotes_never_index_error() -> None:
    pool, accounts = _whirlpool()
    state = ow.decode_pool(pool, accounts[pool].data, token_program_b=TOKEN_2022_PROGRAM_ID)
    arrays = ow.swap_tick_arrays(state, True)
    del accounts[arrays[1]]  # not created on chain: an all-uninitialized array
    market = _load(pool, accounts)
    entry = market.pool(pool)
    assert entry.aux[arrays[1]] == b"" and entry.tradable
    assert market.quote(pool, 10**3, True).amount_out > 0
    # every adapter: b"" for any aux account is a typed DexError or a quote, never IndexError
    gen = MarketGenerator(Bank(), seed=3)
    for info in gen.pools:
        module, st, aux = gen._load(info)
        for key in aux:
            broken = {**aux, key: b""}
            for a_to_b in (True, False):
                try:
                    module.quote(st, broken, 10**6, a_to_b)
                except DexError:
                    pass
    assert {p.dex for p in gen.pools} >= {raydium_amm_v4.NAME, raydium_cpmm.NAME, raydium_clmm.NAME}


def test_dlmm_extension_absent_and_clock_updates() -> None:
    bins = {i: ((0, 10**9) if i < 0 else (10**9, 0)) for i in range(-150, 151)}
    pair, accounts = dlmm_model.create_pool(
        mint_x=MINT_A, mint_y=MINT_B, bin_step=10, base_factor=10_000, active_id=0, bins=bins)
    clock = Account(10**6, bytes(40), SYSTEM_PROGRAM_ID)
    accounts[dl.CLOCK_SYSVAR] = clock
    market = _load(pair, accounts)
    entry = market.pool(pair)
    assert entry.tradable
    ext = dl.bitmap_extension_address(pair)
    if ext in entry.aux_keys:
        assert entry.aux[ext] == b""  # no such account: the internal bitmap alone
    assert market.quote(pair, 10**6, True).amount_out > 0
    # the Clock changes every slot: stored for the next quote, but no re-evaluation trigger
    assert market.apply(AccountUpdate(CLOCK_SYSVAR, 5, bytes(32) + (99).to_bytes(8, "little"),
                                      SYSTEM_PROGRAM_ID, 1)) == ()  # fmt: skip
    assert entry.aux[CLOCK_SYSVAR][32:40] == (99).to_bytes(8, "little")


def test_new_aux_accounts_are_reported_when_the_price_moves() -> None:
    bins = {i: ((0, 10**9) if i < 0 else (10**9, 0)) for i in range(-350, 351)}
    pair, accounts = dlmm_model.create_pool(
        mint_x=MINT_A, mint_y=MINT_B, bin_step=10, base_factor=10_000, active_id=0, bins=bins)
    accounts[dl.CLOCK_SYSVAR] = Account(10**6, bytes(40), SYSTEM_PROGRAM_ID)
    market = _load(pair, accounts)
    seen: list[list[Pubkey]] = []
    market.on_new_accounts = seen.append
    before = set(market.pool(pair).aux_keys)
    moved = dlay.encode_lb_pair(replace(dl.decode_pool(pair, accounts[pair].data), active_id=280))
    assert market.apply(AccountUpdate(pair, 2, moved, dl.PROGRAM_ID, 1)) == (pair,)
    new = set(market.pool(pair).aux_keys) - before
    assert new and seen and set(seen[0]) == new
    assert not market.pool(pair).ready  # until the feed delivers them
    with pytest.raises(QuoteError):
        market.quote(pair, 10**6, False)


def test_quote_case_uses_mint_owners() -> None:
    pool, accounts = _whirlpool()
    doc = [
        {"pubkey": str(k), "account": {"owner": str(a.owner),
                                       "data": [base64.b64encode(a.data).decode(), "base64"]}}
        for k, a in accounts.items()
    ]  # fmt: skip
    parsed = parse_accounts(doc, source="test")
    t22 = ow.decode_pool(pool, accounts[pool].data, token_program_b=TOKEN_2022_PROGRAM_ID)
    aux = {k: a.data for k, a in accounts.items() if k != pool}
    assert quote_case(parsed, pool, 10**6, True)["amount_out"] == ow.quote(t22, aux, 10**6, True).amount_out
    spl = ow.decode_pool(pool, accounts[pool].data)
    assert quote_case(parsed, pool, 10**6, True)["amount_out"] < ow.quote(spl, aux, 10**6, True).amount_out
    assert wl.oracle_address(pool) not in accounts  # static-fee pool: no oracle needed


class _CountingAdapter:
    """The Whirlpool adapter with its decode_pool calls counted (a real adapter, not a mock)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Pubkey]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(ow, name)

    def decode_pool(self, address: Pubkey, data: bytes, **kw: Pubkey) -> ow.Whirlpool:
        self.calls.append(kw)
        return ow.decode_pool(address, data, **kw)


def test_known_pool_update_decodes_once_with_the_mints_programs() -> None:
    pool, accounts = _whirlpool()
    adapter = _CountingAdapter()
    market = MarketState({ow.PROGRAM_ID: adapter})  # type: ignore[dict-item]
    market.add_pool(_update(pool, accounts[pool]))
    for key in market.watched_accounts():
        if key != pool:
            market.apply(_update(key, accounts.get(key)))
    assert market.pool(pool).state.token_program_b == TOKEN_2022_PROGRAM_ID
    state = ow.decode_pool(pool, accounts[pool].data)
    moved = wl.encode_whirlpool(replace(state, fee_rate=state.fee_rate + 1))
    adapter.calls.clear()
    assert market.apply(AccountUpdate(pool, 5, moved, ow.PROGRAM_ID, 1)) == (pool,)
    assert adapter.calls == [{"token_program_a": TOKEN_PROGRAM_ID,
                              "token_program_b": TOKEN_2022_PROGRAM_ID}]
    expected = ow.decode_pool(pool, moved, token_program_b=TOKEN_2022_PROGRAM_ID)
    assert market.pool(pool).state == expected
    # an image naming other mints (unknown owners): decoded again without the old guess
    other = wl.encode_whirlpool(replace(state, mint_b=Pubkey.from_bytes(bytes([9]) * 32)))
    adapter.calls.clear()
    market.apply(AccountUpdate(pool, 6, other, ow.PROGRAM_ID, 1))
    assert len(adapter.calls) == 3  # guess, plain, with mint a's program
    assert market.pool(pool).state.token_program_b == TOKEN_PROGRAM_ID


def test_clock_counts_in_no_freshness_slot_and_reports_only_new_readers() -> None:
    bins = {i: ((0, 10**9) if i < 0 else (10**9, 0)) for i in range(-150, 151)}
    pair, accounts = dlmm_model.create_pool(
        mint_x=MINT_A, mint_y=MINT_B, bin_step=10, base_factor=10_000, active_id=0, bins=bins)
    market = MarketState(ADAPTERS)
    market.add_pool(_update(pair, accounts[pair], slot=7))
    for key in market.watched_accounts():
        if key not in (pair, CLOCK_SYSVAR):
            market.apply(_update(key, accounts.get(key), slot=7))
    entry = market.pool(pair)
    assert not entry.ready
    clock = bytes(32) + (1).to_bytes(8, "little")
    # first Clock for the pool (older than the rest): reported, ready, freshness not lowered
    assert market.apply(AccountUpdate(CLOCK_SYSVAR, 3, clock, SYSTEM_PROGRAM_ID, 1)) == (pair,)
    assert entry.ready and entry.slot == 7
    assert entry.aux[CLOCK_SYSVAR] is market._accounts[CLOCK_SYSVAR].raw
    newer = bytes(32) + (2).to_bytes(8, "little")
    assert market.apply(AccountUpdate(CLOCK_SYSVAR, 9, newer, SYSTEM_PROGRAM_ID, 1)) == ()
    assert entry.aux[CLOCK_SYSVAR] == newer and entry.slot == 7
    assert market.apply(AccountUpdate(CLOCK_SYSVAR, 10, newer, SYSTEM_PROGRAM_ID, 1)) == ()
    assert market.apply(AccountUpdate(CLOCK_SYSVAR, 8, clock, SYSTEM_PROGRAM_ID, 1)) == ()
    assert entry.aux[CLOCK_SYSVAR] == newer  # older than stored: ignored
    assert market.quote(pair, 10**6, True).amount_out > 0
