"""Address lookup tables for the engine: table contents, the CL 3-hop size win, landing through the
table on the Bank, and the RPC set-up flow against the loopback cluster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from solders.address_lookup_table_account import AddressLookupTable, AddressLookupTableAccount
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address, decode_token_account
from solarb.execution.alt import (
    create_lookup_table_ix,
    create_lookup_tables,
    extend_lookup_table_ix,
    load_lookup_tables,
    prepare_lookup_tables,
)
from solarb.execution.builder import TxBuilder
from solarb.execution.errors import SetupError
from solarb.execution.route_tables import route_addresses
from solarb.rpc.client import RpcClient
from solarb.sim.bank import Bank
from solarb.sim.cluster import LocalCluster
from solarb.sim.market import MarketGenerator, PoolInfo
from solarb.sim.market_cl import CL_KINDS
from solarb.sim.programs.address_lookup_table import AddressLookupTableModel
from solarb.sim.programs.meteora_dlmm import MeteoraDlmmModel
from solarb.sim.programs.orca_whirlpool import OrcaWhirlpoolModel
from solarb.sim.programs.raydium_amm_v4 import RaydiumAmmV4Model
from solarb.sim.programs.raydium_clmm import RaydiumClmmModel
from solarb.sim.programs.raydium_cpmm import RaydiumCpmmModel
from tests.support.exec_fixtures import hop, make_order

PAYER = Keypair.from_seed(bytes([78]) * 32)
MAX_TX = 1232


def _market() -> MarketGenerator:
    bank = Bank(programs=(RaydiumAmmV4Model(), RaydiumCpmmModel(), OrcaWhirlpoolModel(),
                          RaydiumClmmModel(), MeteoraDlmmModel(), AddressLookupTableModel()))
    market = MarketGenerator(bank, seed=3)
    market.fund_wallet(PAYER.pubkey(), 10**11)
    for t in market.tokens:
        market.fund_token(PAYER.pubkey(), t.mint, 10**15)
    market.bank.advance_slot()
    return market


def _send(bank: Bank, ixs: Sequence[Instruction]) -> Any:
    msg = MessageV0.try_compile(PAYER.pubkey(), list(ixs), [], bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [PAYER])))
    assert rec is not None
    return rec.err


def _tables(market: MarketGenerator, size: int = 256) -> list[AddressLookupTableAccount]:
    """Create + extend tables of ``size`` addresses on the Bank with signed transactions, as the
    engine does over RPC."""
    bank, key = market.bank, PAYER.pubkey()
    addrs = route_addresses(key, [market._load(p) for p in market.pools])
    out = []
    while bank.slot < len(addrs) // size + 2:  # each table at its own recent slot
        bank.advance_slot()
    for n, i in enumerate(range(0, len(addrs), size)):
        chunk = addrs[i:i + size]
        ix, table = create_lookup_table_ix(key, key, bank.slot - 1 - n)
        assert _send(bank, [ix]) is None
        for j in range(0, len(chunk), 28):
            assert _send(bank, [extend_lookup_table_ix(table, key, key, chunk[j:j + 28])]) is None
        acc = bank.get_account(table)
        assert acc is not None
        out.append(AddressLookupTableAccount(table, list(AddressLookupTable.deserialize(acc.data).addresses)))
    bank.advance_slot()  # extensions are usable from the next slot
    return out


def test_route_addresses_hold_every_swap_account_but_the_signer() -> None:
    market = _market()
    key = PAYER.pubkey()
    addrs = route_addresses(key, [market._load(p) for p in market.pools])
    assert len(addrs) == len(set(addrs))
    assert key not in addrs
    table = set(addrs)
    for info in market.pools:
        module, state, aux = market._load(info)
        for a_to_b in (True, False):
            ix = module.swap_instruction(state, key, 1000, 0, a_to_b, aux=aux)
            assert ix.program_id in table
            assert {m.pubkey for m in ix.accounts} - {key} <= table, info.dex
        assert associated_token_address(key, state.mint_a, state.token_program_a) in table
    assert TOKEN_PROGRAM_ID in table


def _cl_triangle(market: MarketGenerator) -> list[tuple[PoolInfo, bool]]:
    """Three CL pools of three DEX kinds forming a cycle X -> Y -> Z -> X."""
    cl = [p for p in market.pools if p.dex in CL_KINDS]
    for p1 in cl:
        for p2 in cl:
            for p3 in cl:
                if len({p1.dex, p2.dex, p3.dex}) < 3:
                    continue
                x, y = p1.mint_a, p1.mint_b
                z = p2.mint_b if p2.mint_a == y else p2.mint_a if p2.mint_b == y else None
                if z is None or z == x or {p3.mint_a, p3.mint_b} != {z, x}:
                    continue
                return [(p1, True), (p2, p2.mint_a == y), (p3, p3.mint_a == z)]
    raise AssertionError("no CL triangle in the generated market")


def _triangle_order(market: MarketGenerator) -> tuple[Any, dict[Pubkey, Any]]:
    """An order through :func:`_cl_triangle` quoted hop by hop from 10^9 base units, and the pool lookup
    a builder takes."""
    amount = 10**9
    hops = []
    for info, a_to_b in _cl_triangle(market):
        module, state, aux = market._load(info)
        out = module.quote(state, aux, amount, a_to_b).amount_out
        hops.append(hop(state, a_to_b, amount, out))
        amount = out
    order = make_order(hops, min_out=hops[0].amount_in + 1)
    return order, {p.address: market._load(p) for p in market.pools}


def test_cl_three_hop_fits_only_with_the_table() -> None:
    market = _market()
    tables = _tables(market)
    order, lookup = _triangle_order(market)
    kw: dict[str, Any] = {"compute_unit_limit": 1_400_000, "priority_fee_micro_lamports": 1, "min_profit": 1}
    plain = TxBuilder(PAYER, lookup.__getitem__, **kw)
    tabled = TxBuilder(PAYER, lookup.__getitem__, lookup_tables=tables, **kw)
    blockhash = market.bank.latest_blockhash()[0]
    size_plain = len(bytes(plain.build(order, blockhash)))
    tx = tabled.build(order, blockhash)
    size_tabled = len(bytes(tx))
    assert size_plain > MAX_TX, size_plain
    assert size_tabled <= MAX_TX, size_tabled
    # The table resolves on the Bank: the whole route executes (a losing cycle then trips the
    # final min_out check inside the last swap, never an address lookup error).
    market.bank.process_transaction(tx)
    status = market.bank.signature_status(tx.signatures[0])
    assert status is not None
    if status.err is not None:
        assert status.err["InstructionError"][0] == len(tx.message.instructions) - 1, status.err


@pytest.mark.parametrize("size", [256, 24])
def test_profitable_cl_cycle_lands_through_the_table(size: int) -> None:
    # 24: the route's accounts lie in several tables, of which the builder passes the route's own
    market = _market()
    tables = _tables(market, size)
    assert (len(tables) == 1) == (size == 256)
    by_address = {p.address: p for p in market.pools}
    builder = TxBuilder(PAYER, lambda k: market._load(by_address[k]), compute_unit_limit=1_400_000,
                        priority_fee_micro_lamports=0, min_profit=1, lookup_tables=tables)
    for _ in range(40):
        market.step()
        market.bank.advance_slot()
        opps = [o for o in market.find_two_hop() if o.first.dex in CL_KINDS and o.second.dex in CL_KINDS]
        if not opps:
            continue
        o = opps[0]
        a1 = o.mint_in == o.first.mint_a
        s1, s2 = market._load(o.first)[1], market._load(o.second)[1]
        mid_mint = o.first.mint_b if a1 else o.first.mint_a
        order = make_order([hop(s1, a1, o.amount_in, o.amount_mid),
                            hop(s2, mid_mint == s2.mint_a, o.amount_mid, o.amount_out)], min_out=o.amount_out)
        ata = associated_token_address(PAYER.pubkey(), o.mint_in, TOKEN_PROGRAM_ID)
        before = decode_token_account(market.bank.get_account(ata).data).amount  # type: ignore[union-attr]
        tx = builder.build(order, market.bank.latest_blockhash()[0])
        lookups = tx.message.address_table_lookups
        assert lookups and (len(lookups) >= 2 or size == 256) and len(lookups) < len(tables) + (size == 256)
        market.bank.process_transaction(tx)
        status = market.bank.signature_status(tx.signatures[0])
        assert status is not None and status.err is None, status
        after = decode_token_account(market.bank.get_account(ata).data).amount  # type: ignore[union-attr]
        assert after - before == o.amount_out - o.amount_in > 0
        return
    raise AssertionError("no CL/CL two-hop opportunity in 40 steps")


async def test_create_and_load_over_rpc() -> None:
    payer = Keypair.from_seed(bytes([79]) * 32)
    async with LocalCluster(rpc_port=0, slot_ms=40, market=False) as cluster, \
            RpcClient(cluster.rpc_url, commitment="confirmed") as rpc:
        cluster.bank.airdrop(payer.pubkey(), 10**10)
        addrs = [Pubkey.from_bytes(i.to_bytes(2, "little") * 16) for i in range(300)]
        tables = await create_lookup_tables(rpc, payer, addrs, poll_interval_s=0.05, timeout_s=20)
        assert [len(t.addresses) for t in tables] == [256, 44]
        assert [a for t in tables for a in t.addresses] == addrs  # sent in order, one bank
        again = await load_lookup_tables(rpc, [t.key for t in tables])
        assert [list(t.addresses) for t in again] == [list(t.addresses) for t in tables]
        assert await prepare_lookup_tables(rpc, payer, [], enabled=False) == []
        loaded = await prepare_lookup_tables(rpc, payer, [], existing=[str(tables[1].key)])
        assert list(loaded[0].addresses) == addrs[256:]
        missing = Keypair().pubkey()
        with pytest.raises(SetupError):
            await load_lookup_tables(rpc, [missing])


def test_a_route_compiles_against_the_tables_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    # try_compile scans every table it is given: the builder passes only the tables holding the
    # route's accounts (each account's first table), and the message is the one compiled against
    # all of them, byte for byte
    market = _market()
    addrs = route_addresses(PAYER.pubkey(), [market._load(p) for p in market.pools])
    assert len(addrs) > 120
    tables = [AddressLookupTableAccount(Pubkey.new_unique(), addrs[i:i + 8])
              for i in range(0, len(addrs), 8)]
    # accounts that are also in an earlier table (that one must give them) and a table no route uses
    tables.insert(1, AddressLookupTableAccount(Pubkey.new_unique(), addrs[60:120][::-1]))
    tables.append(AddressLookupTableAccount(Pubkey.new_unique(), [Pubkey.new_unique() for _ in range(8)]))
    order, lookup = _triangle_order(market)
    builder = TxBuilder(PAYER, lookup.__getitem__, compute_unit_limit=1_400_000,
                        priority_fee_micro_lamports=1, min_profit=1, lookup_tables=tables)
    given: list[list[Pubkey]] = []

    class _Recording:
        @staticmethod
        def try_compile(payer: Pubkey, ixs: Any, tabs: Sequence[AddressLookupTableAccount],
                        blockhash: Any) -> MessageV0:
            given.append([t.key for t in tabs])
            return MessageV0.try_compile(payer, ixs, tabs, blockhash)

    monkeypatch.setattr("solarb.execution.builder.MessageV0", _Recording)
    blockhash = market.bank.latest_blockhash()[0]
    built = builder.build(order, blockhash)
    reference = builder.build_reference(order, blockhash)
    assert bytes(built) == bytes(reference)
    assert len(bytes(built)) <= MAX_TX
    passed, everything = given
    assert everything == [t.key for t in tables]  # the reference: every table
    route_accounts = {m.pubkey for ix in builder.instructions(order) for m in ix.accounts}
    holding = [t.key for t in tables if route_accounts & set(t.addresses)]
    used = [t.account_key for t in built.message.address_table_lookups]
    assert tables[1].key in used and tables[-1].key not in passed
    # in the builder's order, every table the message uses, none that holds no route account
    assert passed == sorted(passed, key=everything.index)
    assert set(used) <= set(passed) <= set(holding) and len(holding) < len(tables), (passed, holding)
