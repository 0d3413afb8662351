"""Raydium CLMM program model and pool factory, run through the real Bank with signed transactions:
factory -> adapter round trip, swaps that cross ticks and tick arrays landing exactly what the
adapter quoted, pool/tick/observation write-back, follow-up quotes on the new state, errors."""

from __future__ import annotations

import struct

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex import raydium_clmm_layout as lay
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
from solarb.sim.programs.raydium_clmm import RaydiumClmmModel, create_pool

MINT_A = Pubkey.from_bytes(bytes([3]) * 32)
MINT_B = Pubkey.from_bytes(bytes([200]) * 32)
POSITIONS = [(-1200, 1200, 10**12), (-600, -300, 4 * 10**12), (-3000, 600, 2 * 10**12), (60, 900, 3 * 10**12),
             (-7800, 4200, 10**12)]


def _setup(**kw: object) -> tuple[Bank, Keypair, Pubkey]:
    bank = Bank(programs=(RaydiumClmmModel(),))
    params: dict[str, object] = dict(mint_a=MINT_A, mint_b=MINT_B, tick_spacing=60, trade_fee_rate=2500,
                                     price=1, positions=POSITIONS)  # fmt: skip
    params.update(kw)
    pool, accounts = create_pool(**params)  # type: ignore[arg-type]
    for key, acc in accounts.items():
        bank.set_account(key, acc)
    user = Keypair.from_seed(bytes([9]) * 32)
    bank.airdrop(user.pubkey(), 10**10)
    for mint in (MINT_A, MINT_B):
        mint_data = encode_mint(6, 10**18)
        bank.set_account(mint, Account(rent_exempt_minimum(82), mint_data, TOKEN_PROGRAM_ID))
        ata = associated_token_address(user.pubkey(), mint, TOKEN_PROGRAM_ID)
        bank.set_account(ata, Account(2_039_280, encode_token_account(mint, user.pubkey(), 10**16), TOKEN_PROGRAM_ID))
    return bank, user, pool


def _send(bank: Bank, user: Keypair, ix: Instruction) -> object:
    msg = Message.new_with_blockhash([ix], user.pubkey(), bank.latest_blockhash()[0])
    sig = bank.process_transaction(VersionedTransaction(msg, [user]))
    rec = bank.transaction(sig)
    assert rec is not None
    return rec.err


def _aux(bank: Bank, state: lay.ClmmPool) -> dict[Pubkey, bytes]:
    out = {}
    for key in (*rc.aux_accounts(state), rc.CLOCK_SYSVAR):
        acc = bank.get_account(key)
        if acc is not None:
            out[key] = acc.data
    return out


def _balance(bank: Bank, key: Pubkey) -> int:
    acc = bank.get_account(key)
    assert acc is not None
    return decode_token_account(acc.data).amount


def test_factory_round_trip() -> None:
    bank, _user, pool = _setup()
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    assert (state.mint_a, state.mint_b, state.tick_spacing, state.tick_current) == (MINT_A, MINT_B, 60, 0)
    assert state.sqrt_price_x64 == 1 << 64
    assert state.liquidity == 10**12 + 2 * 10**12 + 10**12  # positions covering tick 0
    assert pool == lay.pool_address(state.amm_config, MINT_A, MINT_B)[0]
    config = lay.decode_amm_config(state.amm_config, bank.get_account(state.amm_config).data)  # type: ignore[union-attr]
    assert (config.trade_fee_rate, config.tick_spacing, config.protocol_fee_rate) == (2500, 60, 120_000)
    for vault, mint in ((state.vault_a, MINT_A), (state.vault_b, MINT_B)):
        tok = decode_token_account(bank.get_account(vault).data)  # type: ignore[union-attr]
        assert (tok.mint, tok.owner) == (mint, pool) and tok.amount > 0
    assert rc.swap_tick_arrays(state, True) == [0, -3600, -10800]
    assert rc.swap_tick_arrays(state, False) == [0, 3600]
    starts = {nav.array_start_index(t, 60) for lo, up, _ in POSITIONS for t in (lo, up)}
    for s in starts:
        arr = lay.decode_tick_array(lay.tick_array_address(pool, s), bank.get_account(lay.tick_array_address(pool, s)).data)  # type: ignore[union-attr]
        assert arr.pool_id == pool and arr.start_tick_index == s
        assert (state.tick_array_bitmap >> (s // 3600 + 512)) & 1
    ext = bank.get_account(lay.bitmap_extension_address(pool))
    assert ext is not None and len(ext.data) == lay.EXTENSION_LEN
    obs = bank.get_account(state.observation_key)
    assert obs is not None and len(obs.data) == lay.OBSERVATION_LEN and obs.data[19:51] == bytes(pool)
    # mints given in the other order: same pool, inverted price, mirrored positions
    pool2, accs2 = create_pool(mint_a=MINT_B, mint_b=MINT_A, tick_spacing=60, trade_fee_rate=2500, price=1,
                               positions=[(-lo_up[1], -lo_up[0], lo_up[2]) for lo_up in POSITIONS])  # fmt: skip
    s2 = rc.decode_pool(pool2, accs2[pool2].data)
    assert pool2 == pool and s2.liquidity == state.liquidity
    with pytest.raises(UsageError):
        create_pool(mint_a=MINT_A, mint_b=MINT_B, tick_spacing=60, trade_fee_rate=2500, price=1, positions=[(-50, 60, 1)])
    with pytest.raises(UsageError):
        create_pool(mint_a=MINT_A, mint_b=MINT_A, tick_spacing=60, trade_fee_rate=2500, price=1, positions=[])


@pytest.mark.parametrize("a_to_b", [True, False])
def test_swaps_land_the_quote_and_update_state(a_to_b: bool) -> None:
    bank, user, pool = _setup()
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    aux = _aux(bank, state)
    amount = 400_000_000_000
    detail = rc.quote_detail(state, aux, amount, a_to_b)
    assert len(detail.result.updated_ticks) >= 2  # crosses initialized ticks
    mint_in, mint_out = (MINT_A, MINT_B) if a_to_b else (MINT_B, MINT_A)
    ata_in = associated_token_address(user.pubkey(), mint_in)
    ata_out = associated_token_address(user.pubkey(), mint_out)
    before_in, before_out = _balance(bank, ata_in), _balance(bank, ata_out)
    ix = rc.swap_instruction(state, user.pubkey(), amount, detail.amount_received, a_to_b, aux=aux)
    assert _send(bank, user, ix) is None
    assert before_in - _balance(bank, ata_in) == amount
    assert _balance(bank, ata_out) - before_out == detail.amount_received
    after = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    r = detail.result
    assert (after.sqrt_price_x64, after.tick_current, after.liquidity) == (r.sqrt_price_x64, r.tick, r.liquidity)
    fees = (after.protocol_fees_token_0, after.fund_fees_token_0) if a_to_b else (after.protocol_fees_token_1, after.fund_fees_token_1)
    assert fees == (r.protocol_fee, r.fund_fee) and r.protocol_fee > 0
    growth = after.fee_growth_global_0_x64 if a_to_b else after.fee_growth_global_1_x64
    assert growth == r.fee_growth_global_x64 > 0
    for key, offset, tick in r.updated_ticks:  # crossed ticks carry the new fee growth outside
        arr = lay.decode_tick_array(key, bank.get_account(key).data)  # type: ignore[union-attr]
        assert arr.ticks[offset] == tick
    # quoting the new state and swapping back works and lands exactly again
    state2 = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    back = rc.quote_detail(state2, _aux(bank, state2), detail.amount_received, not a_to_b)
    ix2 = rc.swap_instruction(state2, user.pubkey(), detail.amount_received, back.amount_received, not a_to_b,
                              aux=_aux(bank, state2))  # fmt: skip
    before = _balance(bank, ata_in)
    assert _send(bank, user, ix2) is None
    assert _balance(bank, ata_in) - before == back.amount_received < amount  # fees were paid


def test_slippage_liquidity_and_account_errors() -> None:
    bank, user, pool = _setup()
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    aux = _aux(bank, state)
    q = rc.quote(state, aux, 10**9, True)
    ix = rc.swap_instruction(state, user.pubkey(), 10**9, q.amount_out + 1, True, aux=aux)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_TOO_LITTLE_OUTPUT}]}
    # more than the pool holds: the program fails with LiquidityInsufficient
    ix = rc.swap_instruction(state, user.pubkey(), 10**15, 0, True, aux=aux)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_LIQUIDITY_INSUFFICIENT}]}
    # tick arrays left out: NotEnoughTickArrayAccount
    deep = next(a for a in (int(10**9 * 1.3**k) for k in range(60)) if rc.quote_detail(state, aux, a, True).result.tick < -3600)
    ix = rc.swap_instruction(state, user.pubkey(), deep, 0, True, aux=aux,
                             tick_arrays=rc.swap_tick_arrays(state, True)[:2])  # fmt: skip
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_NOT_ENOUGH_TICK_ARRAYS}]}
    # an existing but wrong first tick array; a missing one ends the remaining-account scan
    ix = rc.swap_instruction(state, user.pubkey(), 10**6, 0, True, aux=aux, tick_arrays=[-3600])
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_INVALID_FIRST_TICK_ARRAY}]}
    ix = rc.swap_instruction(state, user.pubkey(), 10**6, 0, True, aux=aux, tick_arrays=[-7200, 0])
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_NOT_ENOUGH_TICK_ARRAYS}]}
    # a dust input that yields nothing
    ix = rc.swap_instruction(state, user.pubkey(), 1, 0, True, aux=aux)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_TOO_SMALL}]}
    # swaps disabled by status bit 4
    raw = bytearray(bank.get_account(pool).data)  # type: ignore[union-attr]
    raw[lay.OFF_STATUS] = 1 << 4
    acc = bank.get_account(pool)
    bank.set_account(pool, Account(acc.lamports, bytes(raw), acc.owner))  # type: ignore[union-attr]
    ix = rc.swap_instruction(state, user.pubkey(), 10**6, 0, True, aux=aux)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_NOT_APPROVED}]}


def test_observation_and_dynamic_fee_state_are_written() -> None:
    dyn = lay.DynamicFeeInfo(filter_period=10, decay_period=60, reduction_factor=5000, dynamic_fee_control=50_000,
                             max_volatility_accumulator=400_000, tick_spacing_index_reference=0,
                             last_update_timestamp=1)  # fmt: skip
    bank, user, pool = _setup(dynamic_fee=dyn, tick_spacing=10, positions=[(-2000, 2000, 10**13)])
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    aux = _aux(bank, state)
    q = rc.quote_detail(state, aux, 10**9, True)
    plain = rc.quote_detail(state.__class__(**{**{f: getattr(state, f) for f in state.__dataclass_fields__},
                                               "dynamic_fee": lay.DynamicFeeInfo()}), aux, 10**9, True)  # fmt: skip
    assert q.trade_fee > plain.trade_fee  # volatility raises the fee as the price crosses spacings
    assert _send(bank, user, rc.swap_instruction(state, user.pubkey(), 10**9, q.amount_received, True, aux=aux)) is None
    after = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    assert after.dynamic_fee == q.result.dynamic_fee != dyn
    assert after.dynamic_fee.volatility_accumulator > 0
    obs = bank.get_account(state.observation_key).data  # type: ignore[union-attr]
    assert obs[8] == 1  # initialized by the first tick change
    assert struct.unpack_from("<I", obs, 51)[0] == bank.unix_timestamp & 0xFFFF_FFFF
    assert cm.raydium_tick_at_sqrt_price(after.sqrt_price_x64) == after.tick_current


def test_token_2022_input_transfer_fee() -> None:
    bank, user, pool = _setup(token_program_a=TOKEN_2022_PROGRAM_ID)
    state = rc.resolve_token_programs(rc.decode_pool(pool, bank.get_account(pool).data), {})  # type: ignore[union-attr]
    # a Token-2022 mint with a 1% (max 10^6) transfer fee on token_0
    mint = bytearray(encode_mint(6, 10**18)) + bytes(83) + b"\x01"
    ext = struct.pack("<HH", 1, 108) + bytes(64) + struct.pack("<QQQHQQH", 0, 0, 10**6, 100, 0, 10**6, 100)
    mint_data = bytes(mint) + ext
    bank.set_account(MINT_A, Account(rent_exempt_minimum(len(mint_data)), mint_data, TOKEN_2022_PROGRAM_ID))
    ata = associated_token_address(user.pubkey(), MINT_A, TOKEN_2022_PROGRAM_ID)
    bank.set_account(ata, Account(2_039_280, encode_token_account(MINT_A, user.pubkey(), 10**16), TOKEN_2022_PROGRAM_ID))
    aux = _aux(bank, state)
    state = rc.resolve_token_programs(state, aux)
    assert state.token_program_a == TOKEN_2022_PROGRAM_ID
    q = rc.quote_detail(state, aux, 10**8, True)
    assert q.input_transfer_fee == 10**6 and q.amount_in == 10**8
    plain_aux = {k: v for k, v in aux.items() if k != MINT_A}  # the same swap without a fee mint
    same = rc.quote_detail(rc.decode_pool(pool, bank.get_account(pool).data), plain_aux, 10**8 - 10**6, True)  # type: ignore[union-attr]
    assert same.amount_received == q.amount_received  # the fee comes off the input first
    vault_before = _balance(bank, state.vault_a)
    err = _send(bank, user, rc.swap_instruction(state, user.pubkey(), 10**8, q.amount_received, True, aux=aux))
    assert err is None
    assert _balance(bank, state.vault_a) - vault_before in (10**8, 10**8 - 10**6)


def test_limit_order_fill_empties_an_array_and_clears_its_bit() -> None:
    bank, user, pool = _setup(positions=[(-1200, 1200, 10**12), (-9000, -7800, 10**12)],
                              limit_orders=[(-3660, 1_000, 0)])  # fmt: skip
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    key = lay.tick_array_address(pool, -7200)
    assert (state.tick_array_bitmap >> (-7200 // 3600 + 512)) & 1
    assert rc.swap_tick_arrays(state, True) == [0, -3600, -7200, -10800]
    aux = _aux(bank, state)
    amount = 80_000_000_000
    q = rc.quote_detail(state, aux, amount, True)
    r = q.result
    assert r.tick < -7800 and r.emptied_arrays == {key: 1}
    assert r.fee_without_liquidity > 0  # the fill at -3660 happened with no liquidity in range
    assert _send(bank, user, rc.swap_instruction(state, user.pubkey(), amount, q.amount_received, True,
                                                 aux=aux)) is None  # fmt: skip
    after = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    assert not (after.tick_array_bitmap >> (-7200 // 3600 + 512)) & 1
    arr = lay.decode_tick_array(key, bank.get_account(key).data)  # type: ignore[union-attr]
    assert arr.initialized_tick_count == 0 and not arr.ticks
    assert after.protocol_fees_token_0 == r.protocol_fee
    # the emptied array is no longer on the way back up
    assert -7200 not in rc.swap_tick_arrays(after, False) and -7200 not in rc.swap_tick_arrays(after, True)
    back = rc.quote_detail(after, _aux(bank, after), 10**9, False)
    assert back.amount_received > 0


def test_exact_output_swap() -> None:
    bank, user, pool = _setup()
    state = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    aux = _aux(bank, state)
    want = 250_000_000_000
    q = rc.quote_exact_out(state, aux, want, False)
    assert len(q.result.updated_ticks) >= 2 and q.amount_out == want
    ix = rc.swap_instruction(state, user.pubkey(), want, q.amount_in - 1, False, aux=aux, exact_out=True)
    assert _send(bank, user, ix) == {"InstructionError": [0, {"Custom": lay.ERR_TOO_MUCH_INPUT}]}
    ata_a = associated_token_address(user.pubkey(), MINT_A)
    ata_b = associated_token_address(user.pubkey(), MINT_B)
    before_a, before_b = _balance(bank, ata_a), _balance(bank, ata_b)
    ix = rc.swap_instruction(state, user.pubkey(), want, q.amount_in, False, aux=aux, exact_out=True)
    assert _send(bank, user, ix) is None
    assert (_balance(bank, ata_a) - before_a, before_b - _balance(bank, ata_b)) == (want, q.amount_in)
    after = rc.decode_pool(pool, bank.get_account(pool).data)  # type: ignore[union-attr]
    assert (after.sqrt_price_x64, after.tick_current) == (q.result.sqrt_price_x64, q.result.tick)
