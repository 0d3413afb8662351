"""The market generator on a real Bank with the real program models of all five DEXes."""

from __future__ import annotations

import itertools
import math

import pytest
from solders.keypair import Keypair

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.registry import adapter_for
from solarb.dex.spl_token import (
    TOKEN_PROGRAM_ID,
    WSOL_MINT,
    associated_token_address,
    decode_mint,
    decode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.bank import Bank
from solarb.sim.market import USDC_MINT, MarketGenerator, PoolInfo
from solarb.sim.market_cl import CL_KINDS
from solarb.sim.programs.meteora_dlmm import MeteoraDlmmModel
from solarb.sim.programs.orca_whirlpool import OrcaWhirlpoolModel
from solarb.sim.programs.raydium_amm_v4 import RaydiumAmmV4Model
from solarb.sim.programs.raydium_clmm import RaydiumClmmModel
from solarb.sim.programs.raydium_cpmm import RaydiumCpmmModel

ALL_DEXES = {raydium_amm_v4.NAME, raydium_cpmm.NAME, orca_whirlpool.NAME, raydium_clmm.NAME,
             meteora_dlmm.NAME}


def make(seed: int = 7, **kw: object) -> MarketGenerator:
    bank = Bank(programs=(RaydiumAmmV4Model(), RaydiumCpmmModel(), OrcaWhirlpoolModel(),
                          RaydiumClmmModel(), MeteoraDlmmModel()))
    return MarketGenerator(bank, seed=seed, **kw)  # type: ignore[arg-type]


def run(market: MarketGenerator, slots: int) -> None:
    for _ in range(slots):
        market.step()
        market.bank.advance_slot()


def vault_amounts(market: MarketGenerator) -> list[tuple[int, int]]:
    out = []
    for p in market.pools:
        state = adapter_for(market.bank.get_account(p.address).owner).decode_pool(
            p.address, market.bank.get_account(p.address).data)
        out.append(tuple(decode_token_account(market.bank.get_account(v).data).amount
                         for v in (state.vault_a, state.vault_b)))
    return out  # type: ignore[return-value]


def exact_cycle(market: MarketGenerator, first: PoolInfo, second: PoolInfo, mint_in: object, amount: int) -> int:
    """Independent re-quote of a two-pool cycle straight from the DEX adapters."""
    bank = market.bank
    value = amount
    mint = mint_in
    for pool in (first, second):
        module = adapter_for(bank.get_account(pool.address).owner)
        state = module.decode_pool(pool.address, bank.get_account(pool.address).data)
        aux = {k: bank.get_account(k).data for k in module.aux_accounts(state)}
        a_to_b = mint == state.mint_a
        value = module.quote(state, aux, value, a_to_b).amount_out
        mint = state.mint_b if a_to_b else state.mint_a
    assert mint == mint_in
    return value


def test_tokens_pools_and_reference_prices() -> None:
    market = make()
    tokens = market.tokens
    assert len(tokens) >= 5
    assert tokens[0].mint == WSOL_MINT and tokens[0].decimals == 9
    assert tokens[1].mint == USDC_MINT and tokens[1].decimals == 6
    assert len({t.mint for t in tokens}) == len(tokens)
    for t in tokens:
        mint = market.bank.get_account(t.mint)
        assert mint is not None and mint.owner == TOKEN_PROGRAM_ID
        assert decode_mint(mint.data).decimals == t.decimals

    pools = market.pools
    assert len(pools) >= 16
    assert {p.dex for p in pools} == ALL_DEXES
    assert sum(p.dex in CL_KINDS for p in pools) >= 0.4 * len(pools)
    pairs: dict[frozenset[object], list[PoolInfo]] = {}
    for p in pools:
        assert market.bank.get_account(p.address).owner == adapter_for(
            market.bank.get_account(p.address).owner).PROGRAM_ID
        pairs.setdefault(frozenset((p.mint_a, p.mint_b)), []).append(p)
    assert all(len(group) >= 2 for group in pairs.values())
    # mixed cycles: some pair has a constant-product and a concentrated pool
    assert any({p.dex in CL_KINDS for p in group} == {True, False} for group in pairs.values())
    for t in tokens[2:]:  # triangles X-SOL-USDC
        assert frozenset((t.mint, WSOL_MINT)) in pairs and frozenset((t.mint, USDC_MINT)) in pairs
    sol_usdc = pairs[frozenset((WSOL_MINT, USDC_MINT))]
    for p in sol_usdc:
        price = market.pool_price(p) if p.mint_a == WSOL_MINT else 1 / market.pool_price(p)
        assert 120 < price < 190
    for p in pools:  # every kind is priced at the reference, within the start skew
        ref = market.reference_price(p.mint_a) / market.reference_price(p.mint_b)
        assert abs(math.log(market.pool_price(p) / ref)) < 0.02, p.dex


def test_noise_flow_is_real_deterministic_and_moves_prices() -> None:
    a, b, other = make(seed=11), make(seed=11), make(seed=12)
    start = vault_amounts(a)
    for m in (a, b, other):
        run(m, 25)
    assert a.stats["noise_ok"] == 25 * a.noise_per_slot and a.stats["noise_failed"] == 0
    assert vault_amounts(a) == vault_amounts(b)
    assert vault_amounts(a) != vault_amounts(other)
    moved = sum(1 for before, after in zip(start, vault_amounts(a), strict=True) if before != after)
    assert moved >= 10
    # the noise traders' swaps were signed transactions that landed with their fee paid
    trader = a.traders[0].pubkey()
    assert a.bank.get_account(trader).lamports < 10_000 * 10**9


def test_arbitrage_appears_and_matches_quote_math() -> None:
    market = make(seed=3)
    run(market, 30)
    opps = market.find_two_hop()
    assert opps, "noise flow should leave pools of one pair apart"
    best = opps[0]
    assert best.profit > 0
    assert exact_cycle(market, best.first, best.second, best.mint_in, best.amount_in) == best.amount_out
    # finite: pushing much more size through the same cycle earns less
    assert exact_cycle(market, best.first, best.second, best.mint_in, best.amount_in * 4) - best.amount_in * 4 < best.profit
    # spreads between pools of a pair exceed fees somewhere
    spreads = []
    for p, q in itertools.combinations(market.pools, 2):
        if (p.mint_a, p.mint_b) == (q.mint_a, q.mint_b):
            spreads.append(abs(math.log(market.pool_price(p) / market.pool_price(q))))
    assert max(spreads) > 0.005


def test_competitors_take_cycles_with_real_transactions() -> None:
    market = make(seed=5, competitors=2, competitor_prob=1.0, competitor_min_profit_usd=0.01)
    before = {(kp.pubkey(), t.mint): decode_token_account(market.bank.get_account(
        associated_token_address(kp.pubkey(), t.mint)).data).amount for kp in market.competitors for t in market.tokens}
    run(market, 20)
    assert market.stats["competitor_ok"] > 0
    gains = 0
    for (owner, mint), amount in before.items():
        now = decode_token_account(market.bank.get_account(associated_token_address(owner, mint)).data).amount
        gains += now > amount
    assert gains > 0
    # what is left after competitors acted is smaller than without them
    quiet = make(seed=5)
    run(quiet, 20)
    left = sum(market._usd(o.mint_in, o.profit) for o in market.find_two_hop())
    left_quiet = sum(quiet._usd(o.mint_in, o.profit) for o in quiet.find_two_hop())
    assert left < left_quiet


def test_fund_wallet_and_token() -> None:
    market = make()
    owner = Keypair().pubkey()
    market.fund_wallet(owner, 3 * 10**9)
    assert market.bank.get_account(owner).lamports == 3 * 10**9
    usdc = market.token("USDC")
    ata = market.fund_token(owner, usdc.mint, 250 * 10**6)
    assert decode_token_account(market.bank.get_account(ata).data).amount == 250 * 10**6
    wsol = market.fund_token(owner, WSOL_MINT, 2 * 10**9)
    acc = market.bank.get_account(wsol)
    assert decode_token_account(acc.data).is_native is not None
    assert acc.lamports == 2 * 10**9 + decode_token_account(acc.data).is_native


@pytest.mark.parametrize("kw", [{"n_tokens": 4}, {"n_pools": 15}, {"noise_traders": 0}])
def test_rejects_bad_parameters(kw: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        make(**kw)
