"""Orca Whirlpool program model and pool factory, run through the real Bank with signed transactions:
factory -> adapter round trip, swaps crossing ticks and tick arrays that land exactly the adapter's
quote, pool / tick / oracle write-back, follow-up quotes on the new state, program errors."""

from __future__ import annotations

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex.base import InsufficientLiquidity
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
from solarb.sim.programs.orca_whirlpool import OrcaWhirlpoolModel, create_pool, position_amounts

MINT_A = Pubkey.from_bytes(bytes([3]) * 32)
MINT_B = Pubkey.from_bytes(bytes([200]) * 32)
TS = 64
POSITIONS = [(-6400, 6400, 10**12), (-640, -320, 4 * 10**12), (-12800, 640, 2 * 10**12), (64, 960, 3 * 10**12),
             (-448, 64, 5 * 10**12), (-11264, 11264, 10**12)]  # fmt: skip


def _fee_mint(bps: int, max_fee: int) -> bytes:
    base = encode_mint(6, 10**18)
    fee = (0).to_bytes(8, "little") + max_fee.to_bytes(8, "little") + bps.to_bytes(2, "little")
    body = bytes(72) + fee + fee
    return base + bytes(165 - len(base)) + b"\x01" + (1).to_bytes(2, "little") + len(body).to_bytes(2, "little") + body


def _setup(**kw: object) -> tuple[Bank, Keypair, Pubkey]:
    bank = Bank(programs=(OrcaWhirlpoolModel(),))
    params: dict[str, object] = dict(mint_a=MINT_A, mint_b=MINT_B, tick_spacing=TS, fee_rate=3000, price=1,
                                     decimals_a=6, decimals_b=6, positions=POSITIONS)  # fmt: skip
    params.update(kw)
    fees = params.pop("mint_fees", {})
    pool, accounts = create_pool(**params)  # type: ignore[arg-type]
    for key, acc in accounts.items():
        bank.set_account(key, acc)
    user = Keypair.from_seed(bytes([9]) * 32)
    bank.airdrop(user.pubkey(), 10**10)
    progs = (params.get("token_program_a", TOKEN_PROGRAM_ID), params.get("token_program_b", TOKEN_PROGRAM_ID))
    for mint, prog in zip((MINT_A, MINT_B), progs, strict=True):
        data = fees.get(mint, encode_mint(6, 10**18)) if isinstance(fees, dict) else encode_mint(6, 10**18)
        bank.set_account(mint, Account(rent_exempt_minimum(len(data)), data, prog))  # type: ignore[arg-type]
        ata = associated_token_address(user.pubkey(), mint, prog)  # type: ignore[arg-type]
        bank.set_account(ata, Account(2_039_280, encode_token_account(mint, user.pubkey(), 10**16), prog))  # type: ignore[arg-type]
    return bank, user, pool


def _send(bank: Bank, user: Keypair, ix: Instruction) -> object:
    msg = Message.new_with_blockhash([ix], user.pubkey(), bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [user])))
    assert rec is not None
    return rec.err


def _state(bank: Bank, pool: Pubkey, **kw: Pubkey) -> wl.Whirlpool:
    return ow.decode_pool(pool, bank.get_account(pool).data, **kw)  # type: ignore[union-attr]


def _aux(bank: Bank, state: wl.Whirlpool) -> dict[Pubkey, bytes]:
    out = {}
    for key in (*ow.aux_accounts(state), ow.CLOCK_SYSVAR):
        acc = bank.get_account(key)
        out[key] = acc.data if acc is not None else b""  # absent tick arrays: known not to exist
    return out


def _balance(bank: Bank, key: Pubkey) -> int:
    acc = bank.get_account(key)
    assert acc is not None
    return decode_token_account(acc.data).amount


def test_factory_round_trip() -> None:
    bank, _user, pool = _setup()
    s = _state(bank, pool)
    assert (s.mint_a, s.mint_b, s.tick_spacing, s.fee_rate, s.tick_current_index) == (MINT_A, MINT_B, TS, 3000, 0)
    assert s.sqrt_price == 1 << 64 and not s.adaptive_fee
    assert s.liquidity == sum(liq for lo, hi, liq in POSITIONS if lo <= 0 < hi)
    assert pool == wl.whirlpool_address(s.whirlpools_config, MINT_A, MINT_B, TS)[0]
    need_a = sum(position_amounts(s.sqrt_price, lo, hi, liq)[0] for lo, hi, liq in POSITIONS)
    need_b = sum(position_amounts(s.sqrt_price, lo, hi, liq)[1] for lo, hi, liq in POSITIONS)
    assert (_balance(bank, s.vault_a), _balance(bank, s.vault_b)) == (need_a, need_b)
    for vault, mint in ((s.vault_a, MINT_A), (s.vault_b, MINT_B)):
        tok = decode_token_account(bank.get_account(vault).data)  # type: ignore[union-attr]
        assert (tok.mint, tok.owner) == (mint, pool)
    for lo, hi, liq in POSITIONS:
        for t, net in ((lo, liq), (hi, -liq)):
            start = wl.tick_array_start_index(t, TS)
            arr = wl.decode_tick_array(bank.get_account(wl.tick_array_address(pool, start)).data)  # type: ignore[union-attr]
            assert arr.whirlpool == pool and (t - start) // TS in arr.ticks
    tick = wl.decode_tick_array(bank.get_account(wl.tick_array_address(pool, 0)).data).ticks[1]  # type: ignore[union-attr]
    assert (tick.liquidity_net, tick.liquidity_gross) == (3 * 10**12 - 5 * 10**12, 8 * 10**12)  # tick 64
    config = wl.decode_config(s.whirlpools_config, bank.get_account(s.whirlpools_config).data)  # type: ignore[union-attr]
    assert config.default_protocol_fee_rate == s.protocol_fee_rate
    # mints in the other order: same pool, inverted price, mirrored positions
    pool2, accs2 = create_pool(mint_a=MINT_B, mint_b=MINT_A, tick_spacing=TS, fee_rate=3000, sqrt_price_x64=1 << 64,
                               positions=[(-hi, -lo, liq) for lo, hi, liq in POSITIONS])  # fmt: skip
    assert pool2 == pool and ow.decode_pool(pool2, accs2[pool2].data).liquidity == s.liquidity
    with pytest.raises(UsageError):
        create_pool(mint_a=MINT_A, mint_b=MINT_B, tick_spacing=TS, fee_rate=3000, price=1, positions=[(-50, 64, 1)])
    with pytest.raises(UsageError):
        create_pool(mint_a=MINT_A, mint_b=MINT_B, tick_spacing=TS, fee_rate=3000, positions=[])


@pytest.mark.parametrize("a_to_b", [True, False])
@pytest.mark.parametrize("dynamic", [False, True])
def test_swaps_land_the_quote_and_update_state(a_to_b: bool, dynamic: bool) -> None:
    bank, user, pool = _setup(dynamic_tick_arrays=dynamic)
    s = _state(bank, pool)
    aux = _aux(bank, s)
    amount = 9 * 10**11
    d = ow.quote_detail(s, aux, amount, a_to_b, detail=True)
    assert len(d.swap.crossed) >= 2
    ata_in = associated_token_address(user.pubkey(), MINT_A if a_to_b else MINT_B, TOKEN_PROGRAM_ID)
    ata_out = associated_token_address(user.pubkey(), MINT_B if a_to_b else MINT_A, TOKEN_PROGRAM_ID)
    before_in, before_out = _balance(bank, ata_in), _balance(bank, ata_out)
    assert _send(bank, user, ow.swap_instruction(s, user.pubkey(), amount, d.quote.amount_out, a_to_b)) is None
    assert before_in - _balance(bank, ata_in) == d.quote.amount_in == amount
    assert _balance(bank, ata_out) - before_out == d.quote.amount_out
    after = _state(bank, pool)
    assert (after.sqrt_price, after.tick_current_index, after.liquidity) == (
        d.swap.next_sqrt_price, d.swap.next_tick_index, d.swap.next_liquidity)
    growth = after.fee_growth_global_a if a_to_b else after.fee_growth_global_b
    owed = after.protocol_fee_owed_a if a_to_b else after.protocol_fee_owed_b
    assert growth == d.swap.next_fee_growth_global > 0
    assert owed == d.swap.protocol_fee == d.quote.fee * s.protocol_fee_rate // 10_000 or owed == d.swap.protocol_fee > 0
    assert after.reward_last_updated_timestamp == bank.unix_timestamp
    for pos, off, tick in d.swap.crossed:
        start = wl.swap_start_indexes(s.tick_current_index, TS, a_to_b)[pos]
        arr = wl.decode_tick_array(bank.get_account(wl.tick_array_address(pool, start)).data)  # type: ignore[union-attr]
        assert arr.ticks[off] == tick and arr.dynamic == dynamic
        assert tick.fee_growth_outside_a if a_to_b else tick.fee_growth_outside_b
    # follow-up quote on the new state, the other way, lands too
    aux2 = _aux(bank, after)
    q2 = ow.quote(after, aux2, d.quote.amount_out // 2, not a_to_b)
    before = _balance(bank, ata_in)
    assert _send(bank, user, ow.swap_instruction(after, user.pubkey(), d.quote.amount_out // 2, q2.amount_out, not a_to_b)) is None
    assert _balance(bank, ata_in) - before == q2.amount_out


def test_slippage_and_exhausted_arrays_fail_with_program_codes() -> None:
    bank, user, pool = _setup()
    s = _state(bank, pool)
    q = ow.quote(s, _aux(bank, s), 10**9, True)
    err = _send(bank, user, ow.swap_instruction(s, user.pubkey(), 10**9, q.amount_out + 1, True))
    assert "6036" in str(err)  # AmountOutBelowMinimum
    assert _state(bank, pool) == s  # nothing written
    with pytest.raises(InsufficientLiquidity) as info:
        ow.quote(s, _aux(bank, s), 10**15, True)
    assert info.value.code == 6038
    err = _send(bank, user, ow.swap_instruction(s, user.pubkey(), 10**15, 0, True))
    assert "6038" in str(err)  # TickArraySequenceInvalidIndex: the program runs out of arrays too


def test_adaptive_fee_pool_updates_the_oracle() -> None:
    consts = wl.AdaptiveFeeConstants(30, 600, 5000, 40_000, 350_000, 16, 64)
    bank, user, pool = _setup(adaptive_fee=consts)
    s = _state(bank, pool)
    assert s.adaptive_fee and wl.oracle_address(pool) in ow.aux_accounts(s)
    aux = _aux(bank, s)
    d = ow.quote_detail(s, aux, 5 * 10**11, True, detail=True)
    static = ow.quote(ow.decode_pool(pool, wl.encode_whirlpool(wl.Whirlpool(**{**{k: getattr(s, k) for k in s.__slots__}, "fee_tier_index": TS}))),  # type: ignore[attr-defined]
                      aux, 5 * 10**11, True)
    assert d.quote.fee > static.fee and d.quote.amount_out < static.amount_out
    assert _send(bank, user, ow.swap_instruction(s, user.pubkey(), 5 * 10**11, d.quote.amount_out, True)) is None
    oracle = wl.decode_oracle(bank.get_account(wl.oracle_address(pool)).data)  # type: ignore[union-attr]
    assert oracle.variables == d.swap.adaptive and oracle.variables.volatility_accumulator > 0
    assert oracle.variables.last_major_swap_timestamp == bank.unix_timestamp


def test_token_2022_transfer_fee_on_input() -> None:
    mint_fees = {MINT_A: _fee_mint(100, 10**9)}
    bank, user, pool = _setup(token_program_a=TOKEN_2022_PROGRAM_ID, mint_fees=mint_fees)
    s = _state(bank, pool, token_program_a=TOKEN_2022_PROGRAM_ID)
    assert MINT_A in ow.aux_accounts(s)
    aux = _aux(bank, s)
    d = ow.quote_detail(s, aux, 10**9, True)
    assert d.input_transfer_fee == 10**7
    plain = ow.quote(ow.decode_pool(pool, bank.get_account(pool).data), aux, 10**9 - 10**7, True)  # type: ignore[union-attr]
    assert d.quote.amount_out == plain.amount_out
    vault_before = _balance(bank, s.vault_b)
    assert _send(bank, user, ow.swap_instruction(s, user.pubkey(), 10**9, d.quote.amount_out, True)) is None
    assert vault_before - _balance(bank, s.vault_b) == d.quote.amount_out


def test_model_rejects_bad_accounts() -> None:
    bank, user, pool = _setup()
    s = _state(bank, pool)
    ix = ow.swap_instruction(s, user.pubkey(), 10**6, 0, True)
    metas = list(ix.accounts)
    metas[8] = metas[10]  # vault_b in vault_a's place
    err = _send(bank, user, Instruction(ix.program_id, ix.data, metas))
    assert "2012" in str(err)
    metas = list(ix.accounts)
    metas[14] = metas[13]  # not the oracle PDA
    assert "2006" in str(_send(bank, user, Instruction(ix.program_id, ix.data, metas)))
    assert "101" in str(_send(bank, user, Instruction(ix.program_id, bytes(8), list(ix.accounts))))
    assert cm.sqrt_price_at_tick(0) == _state(bank, pool).sqrt_price


def test_exact_output_swap() -> None:
    import struct

    bank, user, pool = _setup()
    s = _state(bank, pool)
    want = 3 * 10**11
    aux = _aux(bank, s)
    r = ow.swap(s, ow._slots(s, aux, False), want, False, is_input=False, timestamp=bank.unix_timestamp)
    assert r.amount_a == want and r.amount_b > want  # price 1 plus fee and slippage
    base = ow.swap_instruction(s, user.pubkey(), 0, 0, False)
    data = ow.SWAP_V2_DISCRIMINATOR + struct.pack("<QQQQ??B", want, r.amount_b - 1, 0, 0, False, False, 0)
    assert "6037" in str(_send(bank, user, Instruction(base.program_id, data, list(base.accounts))))
    ata_a = associated_token_address(user.pubkey(), MINT_A, TOKEN_PROGRAM_ID)
    ata_b = associated_token_address(user.pubkey(), MINT_B, TOKEN_PROGRAM_ID)
    a0, b0 = _balance(bank, ata_a), _balance(bank, ata_b)
    data = ow.SWAP_V2_DISCRIMINATOR + struct.pack("<QQQQ??B", want, r.amount_b, 0, 0, False, False, 0)
    assert _send(bank, user, Instruction(base.program_id, data, list(base.accounts))) is None
    assert (_balance(bank, ata_a) - a0, b0 - _balance(bank, ata_b)) == (want, r.amount_b)
    assert _state(bank, pool).sqrt_price == r.next_sqrt_price
