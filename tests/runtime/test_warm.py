"""``warm_up`` with a builder: the payer's token account of every pool mint is derived at load, so
the first order through a token derives nothing on the hot path (a PDA search each)."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from solarb.dex.spl_token import associated_token_address
from solarb.execution import builder as builder_module
from solarb.execution.builder import TxBuilder
from solarb.market.state import MarketState
from solarb.runtime.bench_workload import Workload
from solarb.runtime.warm import warm_up
from solarb.strategy.cycles import CycleFinder
from tests.support.workload_pools import workload_market


def _loaded(pools: int) -> tuple[Workload, MarketState]:
    w = Workload(pools, 7, 400, 50)
    return w, workload_market(w)


def test_warm_up_derives_every_pool_mints_payer_account(monkeypatch: pytest.MonkeyPatch) -> None:
    w, market = _loaded(25)
    finder = CycleFinder(market, start_mints=[w.sol], max_hops=3, min_profit={w.sol: 20_000},
                         max_amount_in={w.sol: 50 * 10**9})
    finder.rebuild()
    payer = Keypair.from_seed(bytes(range(32)))
    builder = TxBuilder(payer, lambda p: (market.pool(p).adapter, market.pool(p).state,
                                          market.aux(p)),
                        compute_unit_limit=600_000, priority_fee_micro_lamports=0)  # fmt: skip
    pairs = {(m, prog) for e in market.pools.values()
             for m, prog in ((e.state.mint_a, e.state.token_program_a),
                             (e.state.mint_b, e.state.token_program_b))}  # fmt: skip
    assert len(pairs) >= 5
    warmed = warm_up(finder, None, builder=builder)
    assert warmed.atas == len(pairs)
    calls = []
    real = builder_module.associated_token_address
    monkeypatch.setattr(builder_module, "associated_token_address",
                        lambda *a: calls.append(a) or real(*a))  # fmt: skip
    for mint, prog in sorted(pairs, key=lambda p: bytes(p[0])):
        assert builder._ata(mint, prog) == associated_token_address(payer.pubkey(), mint, prog)
    assert calls == []  # all derived by the warm-up
    # without a builder, or for chosen pools only
    assert warm_up(finder, None).atas == 0
    one = next(iter(market.pools))
    fresh = TxBuilder(payer, lambda p: None, compute_unit_limit=600_000,  # type: ignore[arg-type,return-value]
                      priority_fee_micro_lamports=0)  # fmt: skip
    assert warm_up(finder, None, [one], builder=fresh).atas == 2
