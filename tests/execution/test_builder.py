"""TxBuilder: decode the built transaction back and check every byte that matters."""

from __future__ import annotations

import struct
import time

import pytest
from tests.support.exec_fixtures import ata, hop, load_pools, make_order
from solders.compute_budget import ID as COMPUTE_BUDGET_ID
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import raydium_amm_v4, raydium_cpmm
from solarb.dex.spl_token import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    SYSTEM_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    WSOL_MINT,
)
from solarb.execution.builder import TxBuilder
from solarb.execution.errors import BuildError, ProfitGuardError

POOLS = load_pools()
AMM = next(s for a, s, _aux in POOLS.values() if a is raydium_amm_v4)
CPMM = next(s for a, s, _aux in POOLS.values() if a is raydium_cpmm)
USDC = AMM.mint_b if AMM.mint_a == WSOL_MINT else AMM.mint_a
PUMP = CPMM.mint_b if CPMM.mint_a == WSOL_MINT else CPMM.mint_a
PUMP_PROGRAM = CPMM.token_program_b if CPMM.mint_a == WSOL_MINT else CPMM.token_program_a
AMM_SOL_TO_USDC = AMM.mint_a == WSOL_MINT
CPMM_SOL_TO_PUMP = CPMM.mint_a == WSOL_MINT
PAYER = Keypair.from_seed(bytes(range(32)))
BLOCKHASH = Hash.from_string("mfcyqEXB3DnHXki6KjjmZck6YjmZLvpAByy2fj4nh6B")
AMM_DATA = struct.Struct("<BQQ")
CPMM_DATA = struct.Struct("<8sQQ")


def builder(**kw: object) -> TxBuilder:
    args: dict[str, object] = dict(compute_unit_limit=300_000, priority_fee_micro_lamports=12_345)
    args.update(kw)
    return TxBuilder(PAYER, POOLS.__getitem__, **args)  # type: ignore[arg-type]


def four_hop_order(min_out: int = 1_000_000_600) -> object:
    """WSOL -> USDC -> WSOL (AMM v4) -> PUMP -> WSOL (CPMM)."""
    return make_order(
        [
            hop(AMM, AMM_SOL_TO_USDC, 1_000_000_000, 150_000_000),
            hop(AMM, not AMM_SOL_TO_USDC, 150_000_000, 1_000_000_200),
            hop(CPMM, CPMM_SOL_TO_PUMP, 1_000_000_200, 5_000_000_000_000),
            hop(CPMM, not CPMM_SOL_TO_PUMP, 5_000_000_000_000, 1_000_000_900),
        ],
        min_out,
    )


def decoded(tx: VersionedTransaction) -> list[tuple[Pubkey, list[Pubkey], bytes]]:
    keys = tx.message.account_keys
    return [
        (keys[ix.program_id_index], [keys[i] for i in ix.accounts], bytes(ix.data))
        for ix in tx.message.instructions
    ]


def test_instruction_order_budget_bytes_atas_and_swaps() -> None:
    order = four_hop_order()
    tx = builder().build(order, BLOCKHASH)
    ixs = decoded(tx)
    programs = [p for p, _, _ in ixs]
    assert programs == [COMPUTE_BUDGET_ID, COMPUTE_BUDGET_ID] + [ASSOCIATED_TOKEN_PROGRAM_ID] * 3 + [
        raydium_amm_v4.PROGRAM_ID, raydium_amm_v4.PROGRAM_ID,
        raydium_cpmm.PROGRAM_ID, raydium_cpmm.PROGRAM_ID,
    ]
    # SetComputeUnitLimit = 2 + u32 LE, SetComputeUnitPrice = 3 + u64 LE
    assert ixs[0][2] == bytes([2]) + (300_000).to_bytes(4, "little")
    assert ixs[1][2] == bytes([3]) + (12_345).to_bytes(8, "little")
    me = PAYER.pubkey()
    # one idempotent create per distinct mint, in first-use order, with the ATA program layout
    created = [(accs[1], accs[3]) for p, accs, _ in ixs[2:5]]
    assert [m for _, m in created] == [AMM.mint_a, AMM.mint_b, PUMP]
    for p, accs, data in ixs[2:5]:
        assert data == bytes([1])
        assert accs[0] == me and accs[2] == me
        program = PUMP_PROGRAM if accs[3] == PUMP else TOKEN_PROGRAM_ID
        assert accs[1] == ata(me, accs[3], program) and accs[4:] == [SYSTEM_PROGRAM_ID, program]


def test_amounts_chain_and_final_min_out_is_the_profit_guard() -> None:
    order = four_hop_order(min_out=1_000_000_600)
    ixs = decoded(builder().build(order, BLOCKHASH))
    swaps = ixs[5:]
    tag, a0, m0 = AMM_DATA.unpack(swaps[0][2])
    _, a1, m1 = AMM_DATA.unpack(swaps[1][2])
    _, a2, m2 = CPMM_DATA.unpack(swaps[2][2])
    _, a3, m3 = CPMM_DATA.unpack(swaps[3][2])
    assert tag == 16
    assert (a0, m0) == (1_000_000_000, 150_000_000)
    assert (a1, m1) == (150_000_000, 1_000_000_200)  # amount_in = previous quoted out
    assert (a2, m2) == (1_000_000_200, 5_000_000_000_000)
    assert (a3, m3) == (5_000_000_000_000, 1_000_000_600)  # final hop guarded by order.min_out
    # the real adapters' own instruction bytes are used unchanged
    expected = raydium_cpmm.swap_instruction(CPMM, PAYER.pubkey(), a3, m3, not CPMM_SOL_TO_PUMP)
    assert swaps[3][2] == bytes(expected.data)
    assert swaps[3][1] == [m.pubkey for m in expected.accounts]


def test_slippage_lowers_only_intermediate_min_outs() -> None:
    order = four_hop_order()
    swaps = decoded(builder(slippage_bps=50).build(order, BLOCKHASH))[5:]
    assert AMM_DATA.unpack(swaps[0][2])[2] == 150_000_000 * 9950 // 10000
    assert CPMM_DATA.unpack(swaps[2][2])[2] == 5_000_000_000_000 * 9950 // 10000
    assert CPMM_DATA.unpack(swaps[3][2])[2] == order.min_out  # type: ignore[attr-defined]
    assert AMM_DATA.unpack(swaps[1][2])[1] == 150_000_000  # next input stays the quoted amount


def test_known_atas_are_not_created_and_mark_known_updates() -> None:
    me = PAYER.pubkey()
    b = builder(known_atas={ata(me, WSOL_MINT)})
    order = four_hop_order()
    creates = [i for i in decoded(b.build(order, BLOCKHASH)) if i[0] == ASSOCIATED_TOKEN_PROGRAM_ID]
    assert [accs[3] for _, accs, _ in creates] == [USDC, PUMP]
    b.mark_known(a.address for a in b.route_accounts(order))
    programs = [p for p, _, _ in decoded(b.build(order, BLOCKHASH))]
    assert ASSOCIATED_TOKEN_PROGRAM_ID not in programs and len(programs) == 6


def test_profit_guard_refuses_min_out_below_amount_in_plus_min_profit() -> None:
    with pytest.raises(ProfitGuardError):
        builder().build(four_hop_order(min_out=1_000_000_000), BLOCKHASH)  # break-even
    with pytest.raises(ProfitGuardError):
        builder(min_profit=1_000).build(four_hop_order(min_out=1_000_000_999), BLOCKHASH)
    builder(min_profit=1_000).build(four_hop_order(min_out=1_000_001_000), BLOCKHASH)


def test_signed_by_payer_verifiable_and_round_trips() -> None:
    tx = builder().build(four_hop_order(), BLOCKHASH)
    assert tx.verify_with_results() == [True]
    assert tx.message.account_keys[0] == PAYER.pubkey()
    assert tx.message.recent_blockhash == BLOCKHASH
    assert tx.message.address_table_lookups == []
    raw = bytes(tx)
    assert len(raw) <= 1232
    assert VersionedTransaction.from_bytes(raw) == tx
    tampered = bytearray(raw)
    tampered[1 + 64 + 1 + 3 + 1 + 40] ^= 1  # a byte of the second account key
    assert VersionedTransaction.from_bytes(bytes(tampered)).verify_with_results() == [False]


def test_broken_routes_are_build_errors() -> None:
    good = hop(AMM, AMM_SOL_TO_USDC, 10, 20)
    with pytest.raises(BuildError, match="start mint"):
        builder().build(make_order([good], 100), BLOCKHASH)  # ends in USDC, not WSOL
    with pytest.raises(BuildError, match="input mint"):
        bad = [good, hop(CPMM, not CPMM_SOL_TO_PUMP, 20, 30)]  # USDC -> ? via PUMP pool
        builder().build(make_order(bad, 100), BLOCKHASH)
    unknown = hop(AMM, AMM_SOL_TO_USDC, 10, 20)
    unknown = type(unknown)(Pubkey.new_unique(), *[getattr(unknown, f) for f in
                            ("dex", "a_to_b", "mint_in", "mint_out", "amount_in", "amount_out")])
    back = hop(AMM, not AMM_SOL_TO_USDC, 20, 30)
    with pytest.raises(BuildError, match="not loaded"):
        builder().build(make_order([unknown, back], 100), BLOCKHASH)


def test_build_and_sign_is_fast() -> None:
    b = builder()
    order = four_hop_order()
    b.build(order, BLOCKHASH)  # warm the ATA cache
    samples = []
    for _ in range(300):
        t0 = time.perf_counter_ns()
        b.build(order, BLOCKHASH)
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    p50_us = samples[len(samples) // 2] / 1000
    print(f"build+sign 4-hop p50 {p50_us:.1f} us, p99 {samples[int(len(samples) * 0.99)] / 1000:.1f} us")
    assert p50_us < 2_000
