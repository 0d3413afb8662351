"""Meteora DLMM program model on the real local-cluster Bank: create_pool -> adapter round trip,
swaps whose results equal the adapter's quote, the state the program writes (bins, active id,
volatility, protocol fees, reserves), and the program's own error codes."""

from __future__ import annotations

import struct

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    decode_token_account,
    encode_mint,
    encode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.programs.meteora_dlmm import MeteoraDlmmModel, create_pool

SOL = 10**9
T0 = 1_700_000_000
MINT_X = Pubkey.from_string("So11111111111111111111111111111111111111112")
MINT_Y = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
BINS = {i: (0 if i < 0 else 10**9, 0 if i > 0 else 10**9) for i in range(-150, 151)}
BINS[1_000] = (5 * 10**9, 0)  # far away, across empty bin arrays


@pytest.fixture()
def env() -> tuple[Bank, Pubkey, Keypair]:
    bank = Bank(programs=[MeteoraDlmmModel()], genesis_unix_timestamp=T0)
    pair, accounts = create_pool(mint_x=MINT_X, mint_y=MINT_Y, bin_step=10, base_factor=10_000,
                                 active_id=0, bins=BINS, protocol_share=1_000,
                                 last_update_timestamp=T0 - 10_000)  # fmt: skip
    for key, acc in accounts.items():
        bank.set_account(key, acc)
    usdc = encode_mint(6)
    bank.set_account(MINT_Y, Account(rent_exempt_minimum(len(usdc)), usdc, TOKEN_PROGRAM_ID))
    user = Keypair.from_seed(bytes([7] * 32))
    bank.airdrop(user.pubkey(), 10 * SOL)
    for mint in (MINT_X, MINT_Y):
        ata = associated_token_address(user.pubkey(), mint, TOKEN_PROGRAM_ID)
        data = encode_token_account(mint, user.pubkey(), 10**13)
        bank.set_account(ata, Account(rent_exempt_minimum(len(data)), data, TOKEN_PROGRAM_ID))
    bank.advance_slot(unix_timestamp=T0)
    return bank, pair, user


def _send(bank: Bank, user: Keypair, ix: Instruction) -> object:
    msg = Message.new_with_blockhash([ix], user.pubkey(), bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [user])))
    assert rec is not None
    return rec.err


def _aux(bank: Bank, state: lay.LbPair, arrays: list[int]) -> dict[Pubkey, bytes]:
    keys = [dl.CLOCK_SYSVAR, state.mint_a, state.mint_b]
    keys += [dl.bin_array_address(state.address, i) for i in arrays]
    out = {}
    for k in keys:
        acc = bank.get_account(k)
        if acc is not None:
            out[k] = acc.data
    return out


def _balance(bank: Bank, key: Pubkey) -> int:
    acc = bank.get_account(key)
    assert acc is not None
    return decode_token_account(acc.data).amount


def test_factory_round_trip() -> None:
    pair, accounts = create_pool(mint_x=MINT_X, mint_y=MINT_Y, bin_step=10, base_factor=10_000,
                                 active_id=0, bins=BINS)  # fmt: skip
    s = dl.decode_pool(pair, accounts[pair].data)
    assert (s.mint_a, s.mint_b, s.bin_step, s.base_factor, s.active_id) == (MINT_X, MINT_Y, 10, 10_000, 0)
    assert s.vault_a in accounts and s.oracle in accounts and accounts[s.oracle].data[:8] == lay.ORACLE_DISCRIMINATOR
    assert decode_token_account(accounts[s.vault_a].data).owner == pair
    assert _total(accounts, s.vault_a) == sum(a for a, _ in BINS.values())
    assert dl.bin_arrays_for_swap(s, False, 5) == [0, 1, 2, 14]  # 150 -> array 2; 1_000 -> 14
    assert dl.bitmap_extension_address(pair) not in accounts
    far = dict(BINS)
    far[36_000] = (1, 0)  # array 514: beyond the internal bitmap
    pair2, acc2 = create_pool(mint_x=MINT_X, mint_y=MINT_Y, bin_step=1, base_factor=10_000,
                              active_id=0, bins=far)  # fmt: skip
    assert dl.bitmap_extension_address(pair2) in acc2
    with pytest.raises(UsageError):
        create_pool(mint_x=MINT_X, mint_y=MINT_X, bin_step=10, base_factor=1, active_id=0, bins={})


def _total(accounts: dict[Pubkey, Account], key: Pubkey) -> int:
    return decode_token_account(accounts[key].data).amount


def test_swaps_match_quotes_and_update_state(env: tuple[Bank, Pubkey, Keypair]) -> None:
    bank, pair, user = env
    u = user.pubkey()
    for step, (amount, a_to_b) in enumerate([(25 * 10**8, True), (7 * 10**9, False), (3 * 10**8, True)]):
        acc = bank.get_account(pair)
        assert acc is not None
        s = dl.decode_pool(pair, acc.data)
        aux = _aux(bank, s, list(range(-3, 15)))
        expected = dl.quote_detail(s, aux, amount, a_to_b)
        assert len(expected.bins) > (1 if step < 2 else 0)
        ix = dl.swap_instruction(s, u, amount, expected.amount_received, a_to_b,
                                 bin_arrays=[dl.bin_array_address(pair, i) for i in expected.bin_arrays])  # fmt: skip
        out_mint = MINT_Y if a_to_b else MINT_X
        out_ata = associated_token_address(u, out_mint, TOKEN_PROGRAM_ID)
        before = _balance(bank, out_ata)
        reserve_in = s.vault_a if a_to_b else s.vault_b
        r_before = _balance(bank, reserve_in)
        assert _send(bank, user, ix) is None
        assert _balance(bank, out_ata) - before == expected.amount_received
        assert _balance(bank, reserve_in) - r_before == amount
        acc = bank.get_account(pair)
        assert acc is not None
        after = dl.decode_pool(pair, acc.data)
        assert after.active_id == expected.active_id
        assert (after.volatility_accumulator, after.volatility_reference, after.index_reference) == (
            expected.volatility_accumulator, expected.volatility_reference, expected.index_reference)
        assert after.last_update_timestamp == bank.unix_timestamp
        oracle = bank.get_account(after.oracle)
        assert oracle is not None
        sample = lay.decode_oracle(after.oracle, oracle.data).observations[0]
        assert sample[2] == bank.unix_timestamp and sample[1] == T0  # one 120 s sample
        fees = after.protocol_fee_x + after.protocol_fee_y - s.protocol_fee_x - s.protocol_fee_y
        assert fees == expected.protocol_fee > 0
        # every crossed bin moved by exactly its fill
        for bin_id, mm_in, mm_out, _li, _lo in expected.bins:
            idx = bin_id // 70
            arr = lay.decode_bin_array(Pubkey.default(), _aux(bank, s, [idx])[dl.bin_array_address(pair, idx)])
            old = lay.decode_bin_array(Pubkey.default(), aux[dl.bin_array_address(pair, idx)])
            b, o = arr.bins[bin_id - idx * 70], old.bins[bin_id - idx * 70]
            if a_to_b:
                assert (b.amount_x - o.amount_x, o.amount_y - b.amount_y) == (mm_in, mm_out)
            else:
                assert (b.amount_y - o.amount_y, o.amount_x - b.amount_x) == (mm_in, mm_out)
        bank.advance_slot(unix_timestamp=T0 + 5 * (step + 1))  # inside the filter period


def test_program_errors(env: tuple[Bank, Pubkey, Keypair]) -> None:
    bank, pair, user = env
    u = user.pubkey()
    acc = bank.get_account(pair)
    assert acc is not None
    s = dl.decode_pool(pair, acc.data)
    q = dl.quote_detail(s, _aux(bank, s, [0, -1, -2, -3]), 10**9, True)
    ix = dl.swap_instruction(s, u, 10**9, q.amount_received + 1, True)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": 6003}]}  # slippage
    ix = dl.swap_instruction(s, u, 3 * 10**9, 0, True, bin_arrays=[dl.bin_array_address(pair, 0)])
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": 6076}]}  # array -1 not passed
    every = [dl.bin_array_address(pair, i) for i in (0, -1, -2, -3)]
    ix = dl.swap_instruction(s, u, 10**12, 0, True, bin_arrays=every)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": 6012}]}  # out of liquidity
    good = dl.swap_instruction(s, u, 10**6, 0, True)
    metas = list(good.accounts)
    metas[8] = AccountMeta(Pubkey.new_unique(), False, True)  # not the pair's oracle
    assert _send(bank, user, Instruction(good.program_id, bytes(good.data), metas)) == {
        "InstructionError": [0, {"Custom": 2001}]}
    metas = list(good.accounts)
    metas[5] = metas[4]  # same token account in and out
    assert _send(bank, user, Instruction(good.program_id, bytes(good.data), metas)) == {
        "InstructionError": [0, {"Custom": 6010}]}
    data = bytes(good.data)[:8] + struct.pack("<QQ", 10**6, 0)
    assert _send(bank, user, Instruction(good.program_id, b"\x00" * 8 + data[8:], list(good.accounts))) == {
        "InstructionError": [0, {"Custom": 101}]}
    assert _send(bank, user, good) is None  # and the pool still works


def test_swap2_with_a_token_2022_side() -> None:
    bank = Bank(programs=[MeteoraDlmmModel()], genesis_unix_timestamp=T0)
    mint_y = Pubkey.from_string("2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo")  # PYUSD, Token-2022
    pair, accounts = create_pool(mint_x=MINT_X, mint_y=mint_y, bin_step=10, base_factor=10_000,
                                 active_id=0, bins=BINS, token_program_y=TOKEN_2022_PROGRAM_ID)  # fmt: skip
    for key, acc in accounts.items():
        bank.set_account(key, acc)
    mint = encode_mint(6)
    bank.set_account(mint_y, Account(rent_exempt_minimum(len(mint)), mint, TOKEN_2022_PROGRAM_ID))
    user = Keypair.from_seed(bytes([8] * 32))
    bank.airdrop(user.pubkey(), 10 * SOL)
    for m, prog in ((MINT_X, TOKEN_PROGRAM_ID), (mint_y, TOKEN_2022_PROGRAM_ID)):
        data = encode_token_account(m, user.pubkey(), 10**13)
        ata = associated_token_address(user.pubkey(), m, prog)
        bank.set_account(ata, Account(rent_exempt_minimum(len(data)), data, prog))
    bank.advance_slot(unix_timestamp=T0 + 1)
    acc = bank.get_account(pair)
    assert acc is not None
    s = dl.decode_pool(pair, acc.data)
    q = dl.quote_detail(s, _aux(bank, s, [0, 1, 2]), 10**9, False)
    ix = dl.swap_instruction(s, user.pubkey(), 10**9, q.amount_received, False)
    assert bytes(ix.data)[:8] == dl.SWAP2_DISCRIMINATOR
    out_ata = associated_token_address(user.pubkey(), MINT_X, TOKEN_PROGRAM_ID)
    before = _balance(bank, out_ata)
    assert _send(bank, user, ix) is None
    assert _balance(bank, out_ata) - before == q.amount_received
    v1 = Instruction(ix.program_id, dl.SWAP_DISCRIMINATOR + bytes(ix.data)[8:24],
                     [a for a in ix.accounts if str(a.pubkey) != "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"])  # fmt: skip
    assert _send(bank, user, v1) == {"InstructionError": [0, {"Custom": 3008}]}  # swap: SPL only
