"""Fee estimate: 5000 lamports per signature + ceil(CU limit * price / 1e6)."""

from __future__ import annotations

import pytest
from tests.support.exec_fixtures import hop, load_pools, make_order
from solders.hash import Hash
from solders.keypair import Keypair

from solarb.dex.spl_token import WSOL_MINT
from solarb.execution.builder import TxBuilder
from solarb.execution.fees import estimate_fee, fee_for_transaction, priority_fee


def test_priority_fee_rounds_up_exactly() -> None:
    assert priority_fee(200_000, 0) == 0
    assert priority_fee(200_000, 5) == 1  # 1_000_000 micro-lamports exactly
    assert priority_fee(200_000, 6) == 2  # 1.2 -> 2
    assert priority_fee(1, 1) == 1
    assert priority_fee(1_400_000, 10**12) == 1_400_000 * 10**6  # no float rounding
    with pytest.raises(ValueError):
        priority_fee(-1, 1)


def test_estimate_fee() -> None:
    assert estimate_fee(1, 300_000, 12_345) == 5_000 + 3_704  # 3703.5 -> 3704
    assert estimate_fee(2, 0, 0) == 10_000


def test_fee_for_built_transaction() -> None:
    pools = load_pools()
    _, amm, _aux = next(iter(pools.values()))
    a_to_b = amm.mint_a == WSOL_MINT
    order = make_order([hop(amm, a_to_b, 100, 200), hop(amm, not a_to_b, 200, 300)], 150)
    b = TxBuilder(Keypair(), pools.__getitem__, compute_unit_limit=300_000,  # type: ignore[arg-type]
                  priority_fee_micro_lamports=12_345)
    tx = b.build(order, Hash.new_unique())
    assert fee_for_transaction(tx, 300_000, 12_345) == 8_704
