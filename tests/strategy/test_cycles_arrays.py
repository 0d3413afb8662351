"""Opportunities carry each concentrated-liquidity hop's tick/bin arrays from the exact quote of
the sized amount, and the builder's instruction from those arrays is the one it builds by quoting
again (pools from the program models' factories, real layouts)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, raydium_clmm
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.events import Opportunity, Order
from solarb.execution.builder import TxBuilder
from solarb.market.state import CLOCK_SYSVAR, MarketState
from solarb.sim.accounts import Account
from solarb.sim.programs import meteora_dlmm as dlmm_model
from solarb.sim.programs import raydium_clmm as clmm_model
from solarb.strategy import CycleFinder
from tests.support.markets import MINT_A, MINT_B, add_cpmm_and_mints, load_market

PAYER = Keypair.from_seed(bytes([41]) * 32)
CAP = 10**12


def _cl_pool(kind: str) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A CL pool at price 1 whose liquidity spans several tick/bin arrays."""
    if kind == raydium_clmm.NAME:
        return clmm_model.create_pool(
            mint_a=MINT_A, mint_b=MINT_B, tick_spacing=1, trade_fee_rate=500, price=1,
            decimals_a=6, decimals_b=6, positions=[(-40, 40, 10**12), (-600, 600, 10**11)],
        )  # fmt: skip
    bins = {i: (10**9 if i >= 0 else 0, 10**9 if i <= 0 else 0) for i in range(-150, 151)}
    return dlmm_model.create_pool(
        mint_x=MINT_A, mint_y=MINT_B, bin_step=10, base_factor=10_000, active_id=0, bins=bins,
        decimals_x=6, decimals_y=6,
    )  # fmt: skip


def _market(kind: str, premium_ppm: int) -> tuple[MarketState, Pubkey]:
    """The CL pool against a CPMM pool pricing B ``premium_ppm`` dearer: the cycle's CL leg
    crosses ticks/bins at its optimal size."""
    cl, accounts = _cl_pool(kind)
    cpmm = add_cpmm_and_mints(accounts, premium_ppm)
    accounts[CLOCK_SYSVAR] = Account(10**6, bytes(40), SYSTEM_PROGRAM_ID)  # slot 0, ts 0
    market = load_market(accounts, (cl, cpmm))
    assert market.pool(cl).tradable and market.pool(cpmm).tradable
    return market, cl


def _strip(opp: Opportunity) -> Opportunity:
    return replace(opp, hops=tuple(replace(h, arrays=()) for h in opp.hops))


@pytest.mark.parametrize("kind", [raydium_clmm.NAME, meteora_dlmm.NAME])
@pytest.mark.parametrize("premium_ppm", [20_000, -20_000])  # the CL hop first / second
def test_cl_hops_carry_the_quoted_arrays_and_build_the_same_instruction(
    kind: str, premium_ppm: int
) -> None:
    market, cl = _market(kind, premium_ppm)
    finder = CycleFinder(market, start_mints=[MINT_A], min_profit={MINT_A: 1},
                         max_amount_in={MINT_A: CAP})  # fmt: skip
    finder.rebuild()
    opps = finder.on_pool_changed(cl, slot=1, ts_recv_ns=0, now_ns=0)
    assert opps
    opp = opps[0]

    def lookup(pool: Pubkey) -> tuple[object, object, object]:
        entry = market.pool(pool)
        return entry.adapter, entry.state, entry.aux

    builder = TxBuilder(PAYER, lookup, compute_unit_limit=1_400_000,  # type: ignore[arg-type]
                        priority_fee_micro_lamports=0, min_profit=1)  # fmt: skip
    cl_hops = 0
    for i, h in enumerate(opp.hops):
        fresh = market.quote(h.pool, h.amount_in, h.a_to_b)
        assert (fresh.amount_in, fresh.amount_out) == (h.amount_in, h.amount_out)
        assert h.arrays == fresh.arrays
        if h.pool == cl:
            cl_hops += 1
            assert len(h.arrays) >= 2  # walked arrays (beyond the first) + the spare
            # the chosen size is not the smallest: other amounts may walk other arrays, so
            # the arrays are those of exactly this amount
            assert h.amount_in > 10**9, h
        else:
            assert h.arrays == ()
        assert i == 0 or h.amount_in == opp.hops[i - 1].amount_out
    assert cl_hops == 1
    assert (opp.hops[0].pool == cl) == (premium_ppm > 0)
    order = Order("o1", opp, min_out=opp.amount_in + 1)
    with_arrays = builder.instructions(order)
    plain = builder.instructions(replace(order, opportunity=_strip(opp)))
    assert with_arrays == plain
    # the carried arrays are the ones the instruction passes (not ignored): fake ones show up
    fake = Keypair.from_seed(bytes([9]) * 32).pubkey()
    cl_index = next(i for i, h in enumerate(opp.hops) if h.pool == cl)
    hops = list(opp.hops)
    hops[cl_index] = replace(hops[cl_index], arrays=(fake,))
    tampered = builder.instructions(replace(order, opportunity=replace(opp, hops=tuple(hops))))
    swap_ix = tampered[len(tampered) - len(hops) + cl_index]
    assert fake in {m.pubkey for m in swap_ix.accounts}


def test_warm_started_sizing_carries_the_arrays_of_its_own_size() -> None:
    market, cl = _market(raydium_clmm.NAME, 20_000)
    finder = CycleFinder(market, start_mints=[MINT_A], min_profit={MINT_A: 1},
                         max_amount_in={MINT_A: CAP}, max_sized=None)  # fmt: skip
    finder.rebuild()
    for slot in (1, 2):  # cold, then seeded by the last optimum (the size may move a little)
        opps = finder.on_pool_changed(cl, slot=slot, ts_recv_ns=0, now_ns=0)
        assert opps
        carried = 0
        for opp in opps:
            for h in opp.hops:
                assert h.arrays == market.quote(h.pool, h.amount_in, h.a_to_b).arrays
                carried += bool(h.arrays)
        assert carried == len(opps)  # one CL hop each
