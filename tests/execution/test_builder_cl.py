"""TxBuilder over concentrated-liquidity pools: the lookup's aux lets the CL adapters pass the
tick/bin arrays the quoted swaps touch, and the built transaction lands on the real Bank with the
program models, paying exactly the quoted cycle output."""

from __future__ import annotations

from dataclasses import replace

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_clmm
from solarb.dex.base import QuoteError
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address, decode_token_account
from solarb.execution.builder import TxBuilder
from solarb.sim.bank import Bank
from solarb.sim.market import MarketGenerator, PoolInfo
from solarb.sim.market_cl import CL_KINDS
from solarb.sim.programs.meteora_dlmm import MeteoraDlmmModel
from solarb.sim.programs.orca_whirlpool import OrcaWhirlpoolModel
from solarb.sim.programs.raydium_amm_v4 import RaydiumAmmV4Model
from solarb.sim.programs.raydium_clmm import RaydiumClmmModel
from solarb.sim.programs.raydium_cpmm import RaydiumCpmmModel
from tests.support.exec_fixtures import hop, make_order

PAYER = Keypair.from_seed(bytes([77]) * 32)


def _market() -> MarketGenerator:
    bank = Bank(programs=(RaydiumAmmV4Model(), RaydiumCpmmModel(), OrcaWhirlpoolModel(),
                          RaydiumClmmModel(), MeteoraDlmmModel()))  # fmt: skip
    return MarketGenerator(bank, seed=3)


def _balance(market: MarketGenerator, mint: Pubkey) -> int:
    acc = market.bank.get_account(associated_token_address(PAYER.pubkey(), mint, TOKEN_PROGRAM_ID))
    return decode_token_account(acc.data).amount


def test_cl_cycles_build_and_land_exactly() -> None:
    market = _market()
    market.fund_wallet(PAYER.pubkey(), 10**10)
    for t in market.tokens:
        market.fund_token(PAYER.pubkey(), t.mint, 10**15)
    by_address = {p.address: p for p in market.pools}

    def lookup(pool: Pubkey) -> tuple[object, object, dict[Pubkey, bytes]]:
        return market._load(by_address[pool])

    builder = TxBuilder(PAYER, lookup, compute_unit_limit=1_400_000,  # type: ignore[arg-type]
                        priority_fee_micro_lamports=0, min_profit=1)
    landed: set[str] = set()
    for _ in range(40):  # noise opens spreads; land every two-pool cycle through a CL pool found
        market.step()
        market.bank.advance_slot()
        for opp in market.find_two_hop():
            if opp.first.dex not in CL_KINDS and opp.second.dex not in CL_KINDS:
                continue
            if opp.first.dex in landed and opp.second.dex in landed:
                continue
            _land(market, builder, opp.first, opp.second, opp.mint_in, opp.amount_in,
                  opp.amount_mid, opp.amount_out)  # fmt: skip
            landed.update((opp.first.dex, opp.second.dex))
            break
        if landed >= set(CL_KINDS):
            break
    assert len(landed & set(CL_KINDS)) >= 2, landed


def _land(market: MarketGenerator, builder: TxBuilder, first: PoolInfo, second: PoolInfo,
          mint_in: Pubkey, amount_in: int, mid: int, out: int) -> None:
    a1 = mint_in == first.mint_a
    mint_mid = first.mint_b if a1 else first.mint_a
    s1, s2 = market._load(first)[1], market._load(second)[1]
    order = make_order([hop(s1, a1, amount_in, mid), hop(s2, mint_mid == s2.mint_a, mid, out)],
                       min_out=out)  # fmt: skip
    ixs = builder.instructions(order)
    for ix, info, amt, a_to_b in ((ixs[-2], first, amount_in, a1),
                                  (ixs[-1], second, mid, mint_mid == s2.mint_a)):  # fmt: skip
        module, state, aux = market._load(info)
        # the builder passed the pool's aux: the arrays of the quoted swap
        assert ix == module.swap_instruction(state, PAYER.pubkey(), amt, ix_min_out(ix, info),
                                             a_to_b, aux=aux)  # fmt: skip
        if info.dex == meteora_dlmm.NAME:
            quoted = meteora_dlmm.quote_detail(state, aux, amt, a_to_b).bin_arrays
            keys = {m.pubkey for m in ix.accounts}
            assert all(meteora_dlmm.bin_array_address(state.address, i) in keys for i in quoted)
        if info.dex == raydium_clmm.NAME:
            assert raydium_clmm.bitmap_extension_address(state.address) in {m.pubkey for m in ix.accounts}
        if info.dex == orca_whirlpool.NAME:
            assert len(ix.accounts) == 15
    before = _balance(market, mint_in)
    blockhash, _ = market.bank.latest_blockhash()
    tx = builder.build(order, blockhash)
    market.bank.process_transaction(tx)
    status = market.bank.signature_status(tx.signatures[0])
    assert status is not None and status.err is None, (first.dex, second.dex, status)
    assert _balance(market, mint_in) - before == out - amount_in > 0


def ix_min_out(ix: object, info: PoolInfo) -> int:
    """The min_out the builder wrote into a swap instruction's data (u64 after the amount)."""
    data: bytes = ix.data  # type: ignore[attr-defined]
    offset = 8 if info.dex != "raydium_amm_v4" else 1
    return int.from_bytes(data[offset + 8 : offset + 16], "little")


# --- the quote's arrays: the instruction without a second quote ---


def _bench_pools() -> list[tuple[object, object, dict[Pubkey, bytes]]]:
    """The bench workload's concentrated pools (3 positions over >= 3 tick arrays; DLMM 141
    dense bins) with their aux as the market holds it (absent account = b"")."""
    from solarb.runtime.bench_workload import _ADAPTER, Workload

    w = Workload(10, 7, 4, 0)
    out = []
    for address, kind, _a, _b in w.pools:
        module = _ADAPTER[kind]
        if module.NAME not in CL_KINDS:
            continue
        state = module.decode_pool(address, w.bank.get_account(address).data)
        keys = module.aux_accounts(state)
        aux = {}
        for k in keys:
            acc = w.bank.get_account(k)
            aux[k] = acc.data if acc is not None else b""
        out.append((module, state, aux))
    return out


AMOUNTS = (10**4, 10**7, 10**9, 10**10, 5 * 10**10, 3 * 10**11)


def test_quote_arrays_give_the_requoted_instruction() -> None:
    user = PAYER.pubkey()
    carried = 0
    for module, state, aux in _bench_pools():
        for a_to_b in (True, False):
            for amount in AMOUNTS:
                try:
                    q = module.quote(state, aux, amount, a_to_b)  # type: ignore[attr-defined]
                except QuoteError:  # beyond the pool's liquidity: nothing to carry
                    continue
                if module is orca_whirlpool:
                    assert q.arrays == ()  # its instruction never quotes
                    continue
                assert q.arrays, (module.NAME, amount)
                ix = module.swap_instruction(state, user, amount, 1, a_to_b, aux=aux,  # type: ignore[attr-defined]
                                             arrays=q.arrays)  # fmt: skip
                assert ix == module.swap_instruction(state, user, amount, 1, a_to_b, aux=aux)  # type: ignore[attr-defined]
                carried += 1
    assert carried >= 12


def test_builder_uses_hop_arrays_only_for_the_quoted_amount() -> None:
    pools = {s.address: (m, s, a) for m, s, a in _bench_pools()}  # type: ignore[attr-defined]
    builder = TxBuilder(PAYER, pools.__getitem__, compute_unit_limit=1_400_000,  # type: ignore[arg-type]
                        priority_fee_micro_lamports=0, min_profit=1)  # fmt: skip
    module, state, aux = next(v for v in pools.values() if v[0] is raydium_clmm)
    amount = 10**10
    q = module.quote(state, aux, amount, True)  # type: ignore[attr-defined]
    spare = q.arrays[-1]
    h = hop(state, True, amount, q.amount_out)  # type: ignore[arg-type]
    back = hop(state, False, q.amount_out, amount + 1)  # type: ignore[arg-type]
    plain = builder.instructions(make_order([h, back], min_out=amount + 1))
    # the carried arrays give the same bytes; arrays that do not belong to the amount spent
    # (a fake account here) are ignored
    with_arrays = replace(h, arrays=q.arrays)
    assert builder.instructions(make_order([with_arrays, back], min_out=amount + 1)) == plain
    wrong = make_order([replace(h, amount_in=amount - 1, arrays=(spare, PAYER.pubkey())), back],
                       min_out=amount + 1)  # the hop's arrays are for amount - 1, it spends amount
    wrong = replace(wrong, opportunity=replace(wrong.opportunity, amount_in=amount))
    ixs = builder.instructions(wrong)
    assert ixs == plain
    assert PAYER.pubkey() not in {m.pubkey for m in ixs[-2].accounts if not m.is_signer}
    used = replace(h, arrays=(spare, PAYER.pubkey()))  # the builder trusts arrays of its amount
    ixs = builder.instructions(make_order([used, back], min_out=amount + 1))
    assert [m.pubkey for m in ixs[-2].accounts[-2:]] == [spare, PAYER.pubkey()]
