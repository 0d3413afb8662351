"""Raydium CLMM adapter: real mainnet dumps decode and quote, tick-array selection (default bitmap
and extension), program failures as typed errors, Token-2022 fees, the swap_v2 instruction."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import replace

import pytest
from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex import raydium_clmm_layout as lay
from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, associated_token_address, encode_mint
from solarb.sim.programs.raydium_clmm import create_pool
from tests.support.data import SHARED_DATA

DUMP = SHARED_DATA / "accounts" / "raydium_clmm" / "sol_usdc_3ucNos4N" / "clmm_wsol_usdc.subset.json"
CONFIG_DUMP = SHARED_DATA / "accounts" / "raydium_clmm" / "amm_config" / "A1BBtTYJd4i3xU8D6Tc2FzU6ZN4oXZWXKZnCxwbHXr8x_account.json"
POOL = Pubkey.from_string("3ucNos4NbumPLZNWztqGHNFFgkHeRMBQAVemeeomsUxv")
WSOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
A = Pubkey.from_bytes(bytes([3]) * 32)
B = Pubkey.from_bytes(bytes([200]) * 32)


def _real() -> dict[Pubkey, bytes]:
    doc = json.loads(DUMP.read_text())
    return {Pubkey.from_string(k): base64.b64decode(v["data"]) for k, v in doc["accounts"].items()}


def _pool(**kw: object) -> tuple[lay.ClmmPool, dict[Pubkey, bytes]]:
    params: dict[str, object] = dict(mint_a=A, mint_b=B, tick_spacing=10, trade_fee_rate=3000, price=1,
                                     positions=[(-600, 600, 10**12), (-1200, -590, 5 * 10**11)])  # fmt: skip
    params.update(kw)
    pool, accounts = create_pool(**params)  # type: ignore[arg-type]
    aux = {k: a.data for k, a in accounts.items()}
    return rc.decode_pool(pool, aux[pool]), aux


def test_real_pool_and_config_decode() -> None:
    aux = _real()
    p = rc.decode_pool(POOL, aux[POOL])
    assert (p.mint_a, p.mint_b, p.mint_decimals_a, p.mint_decimals_b) == (WSOL, USDC, 9, 6)
    assert (p.tick_spacing, p.liquidity, p.sqrt_price_x64, p.tick_current) == (
        1, 266757992707251, 5881519752448695797, -22863)  # fmt: skip
    assert p.vault_a == Pubkey.from_string("4ct7br2vTPzfdmY3S5HLtTxcGSBfn6pnw98hsS6v359A")
    assert p.observation_key == Pubkey.from_string("3Y695CuQ8AP4anbwAqiEBeQF9KxqHFr8piEwvw3UePnQ")
    assert cm.raydium_tick_at_sqrt_price(p.sqrt_price_x64) == p.tick_current
    c = lay.decode_amm_config(p.amm_config, aux[p.amm_config])
    assert (c.index, c.trade_fee_rate, c.protocol_fee_rate, c.fund_fee_rate, c.tick_spacing) == (8, 400, 120_000, 40_000, 1)
    assert lay.amm_config_address(8) == p.amm_config
    assert lay.pool_address(p.amm_config, WSOL, USDC)[0] == POOL
    assert lay.bitmap_extension_address(POOL) == Pubkey.from_string("4NFvUKqknMpoe6CWTzK758B8ojVLzURL5pC6MtiaJ8TQ")
    counts = {}
    for start in (-22980, -22920, -22860, -22800):
        key = lay.tick_array_address(POOL, start)
        arr = lay.decode_tick_array(key, aux[key])
        assert arr.pool_id == POOL and arr.start_tick_index == start
        counts[start] = (len(arr.ticks), arr.initialized_tick_count)
    assert counts == {-22980: (60, 60), -22920: (60, 60), -22860: (60, 60), -22800: (54, 54)}
    doc = json.loads(CONFIG_DUMP.read_text())
    key = Pubkey.from_bytes(bytes(doc["pubkey"]))
    raw = bytes(doc["data"])
    other = lay.decode_amm_config(key, raw)
    assert key == lay.amm_config_address(3) == Pubkey.from_string("A1BBtTYJd4i3xU8D6Tc2FzU6ZN4oXZWXKZnCxwbHXr8x")
    assert (other.index, other.trade_fee_rate, other.protocol_fee_rate, other.fund_fee_rate, other.tick_spacing) == (
        3, 10_000, 120_000, 40_000, 120)  # fmt: skip
    assert lay.encode_amm_config(other)[:57] == raw[:57]  # up to the padding


def test_decode_rejects_bad_bytes() -> None:
    aux = _real()
    with pytest.raises(DecodeError):
        rc.decode_pool(POOL, aux[POOL][:-1])
    with pytest.raises(DecodeError):
        rc.decode_pool(POOL, bytes(8) + aux[POOL][8:])
    with pytest.raises(DecodeError):
        lay.decode_amm_config(POOL, aux[POOL][:117])
    with pytest.raises(DecodeError):
        lay.decode_tick_array(POOL, bytes(lay.TICK_ARRAY_LEN))
    with pytest.raises(DecodeError):
        lay.decode_extension(POOL, bytes(lay.EXTENSION_LEN))


def test_real_pool_quotes_and_aux_accounts() -> None:
    aux = _real()
    p = rc.decode_pool(POOL, aux[POOL])
    keys = rc.aux_accounts(p)
    assert keys[:4] == [p.amm_config, lay.bitmap_extension_address(POOL), WSOL, USDC]
    down = [lay.tick_array_address(POOL, s) for s in rc.swap_tick_arrays(p, True)]
    up = [lay.tick_array_address(POOL, s) for s in rc.swap_tick_arrays(p, False)]
    assert rc.swap_tick_arrays(p, True)[:2] == [-22920, -22980]
    assert rc.swap_tick_arrays(p, False)[:3] == [-22920, -22860, -22800]
    assert len(down) == len(up) == rc.MAX_SWAP_TICK_ARRAYS
    assert keys[4:] == list(dict.fromkeys(down + up))  # each direction's arrays, deduplicated
    q = rc.quote(p, aux, 10**9, True)  # 1 SOL -> USDC at ~101.6
    assert (q.amount_in, q.amount_out) == (10**9, 101_616_774)
    assert q.fee == 400_000  # 0.04 %, rounded up
    big = rc.quote_detail(p, aux, 10**12, True)
    assert len(big.result.updated_ticks) > 10 and big.amount_received < 1000 * q.amount_out
    back = rc.quote(p, aux, 100 * 10**6, False)
    assert 0.98e9 < back.amount_out < 0.99e9
    with pytest.raises(MissingAccount):  # walks into an array the dump does not hold
        rc.quote(p, aux, 10**14, True)
    assert 101 < rc.spot_rate(p, aux, True) * 1000 < 102


def test_program_failures_are_typed() -> None:
    state, aux = _pool()
    with pytest.raises(InsufficientLiquidity) as exc:
        rc.quote(state, aux, 10**15, True)
    assert exc.value.code == lay.ERR_LIQUIDITY_INSUFFICIENT
    with pytest.raises(QuoteError) as exc:
        rc.quote(state, aux, 1, True)
    assert exc.value.code == lay.ERR_TOO_SMALL
    with pytest.raises(QuoteError) as exc:
        rc.quote(state, aux, 0, True)
    assert exc.value.code == lay.ERR_ZERO_AMOUNT
    with pytest.raises(QuoteError) as exc:
        rc.quote(replace(state, status=1 << 4), aux, 10**6, True)
    assert exc.value.code == lay.ERR_NOT_APPROVED
    with pytest.raises(MissingAccount):
        rc.quote(state, {k: v for k, v in aux.items() if k != state.amm_config}, 10**6, True)
    clock = struct.pack("<QqQQq", 1, 0, 5, 5, 1_000)
    with pytest.raises(QuoteError) as exc:  # open_time in the future (Clock present)
        rc.quote(replace(state, open_time=5_000), {**aux, rc.CLOCK_SYSVAR: clock}, 10**6, True)
    assert exc.value.code == lay.ANCHOR_REQUIRE_GT
    dyn = replace(state, dynamic_fee=lay.DynamicFeeInfo(filter_period=1, decay_period=2, reduction_factor=1,
                                                        dynamic_fee_control=1, max_volatility_accumulator=1))  # fmt: skip
    with pytest.raises(MissingAccount):
        rc.quote(dyn, aux, 10**6, True)
    assert rc.quote(dyn, {**aux, rc.CLOCK_SYSVAR: clock}, 10**6, True).amount_out > 0
    # fewer tick arrays than the swap needs: NotEnoughTickArrayAccount
    with pytest.raises(QuoteError) as exc:
        rc.quote_detail(state, aux, 6 * 10**11, True, tick_arrays=rc.swap_tick_arrays(state, True)[:1])
    assert exc.value.code == lay.ERR_NOT_ENOUGH_TICK_ARRAYS


def test_limit_orders_fill_at_the_tick_price() -> None:
    state, aux = _pool()
    start = nav.array_start_index(-600, 10)
    key = lay.tick_array_address(state.address, start)
    off = (-600 - start) // 10
    ticks = dict(lay.decode_tick_array(key, aux[key]).ticks)
    orders = 10**12
    ticks[off] = replace(ticks[off], orders_amount=orders)
    with_orders = {**aux, key: lay.encode_tick_array(state.address, start, ticks)}
    assert rc.quote(state, with_orders, 10**6, True) == rc.quote(state, aux, 10**6, True)  # not reached
    q = rc.quote_detail(state, with_orders, 33 * 10**9, True)
    r = q.result
    assert r.tick == -600  # orders left on the tick: the price stays on it (not tick - 1)
    assert r.sqrt_price_x64 == cm.raydium_sqrt_price_at_tick(-600)
    (_key, offset, tick), = [u for u in r.updated_ticks if u[2].tick == -600]
    filled = orders - tick.part_filled_orders_remaining
    assert offset == off and tick.orders_amount == 0 and tick.order_phase == 1 and 0 < filled < orders
    assert tick.unfilled_ratio_x64 == (1 << 64) * (orders - filled) // orders
    assert tick.fee_growth_outside_0_x64 == 0  # not crossed while orders remain
    # the input left at the tick buys orders at floor(sqrt^2 >> 64), after the fee
    plain = rc.quote_detail(state, aux, 33 * 10**9, True)
    assert q.amount_out != plain.amount_out and r.liquidity == 15 * 10**11  # -600 not crossed
    price = cm.raydium_sqrt_price_at_tick(-600) ** 2 >> 64
    assert filled <= 3 * 10**9 * price >> 64
    # fully filled orders: the tick is crossed afterwards
    ticks[off] = replace(ticks[off], orders_amount=1_000)
    small = {**aux, key: lay.encode_tick_array(state.address, start, ticks)}
    done = rc.quote_detail(state, small, 33 * 10**9, True).result
    (_k, _o, t2), = [u for u in done.updated_ticks if u[2].tick == -600]
    assert (t2.orders_amount, t2.part_filled_orders_remaining, t2.order_phase) == (0, 0, 1)
    assert done.tick < -600 and done.liquidity != state.liquidity


def test_extension_bitmap_navigation() -> None:
    # spacing 1: the default bitmap covers [-30720, 30720); arrays beyond live in the extension
    positions = [(30_600, 30_900, 10**12), (30_000, 36_000, 10**12), (-40_000, 31_000, 10**11)]
    state, aux = _pool(tick_spacing=1, positions=positions, sqrt_price_x64=cm.raydium_sqrt_price_at_tick(30_650))
    ext_key = lay.bitmap_extension_address(state.address)
    ext = lay.decode_extension(ext_key, aux[ext_key])
    assert ext.positive[0] and ext.negative[0]
    assert nav.bitmap_position(30_720, 1) == ("positive", 0, 0)
    assert nav.bitmap_position(-30_720, 1) == ("default", 0, 0)
    assert nav.bitmap_position(-30_780, 1) == ("negative", 0, 511)
    up = rc.swap_tick_arrays(state, False, ext)
    assert up == [30_600, 30_900, 30_960, 36_000]  # 30_720.. are found through the extension
    assert rc.swap_tick_arrays(state, False) == [30_600]  # without the extension the walk stops
    with pytest.raises(MissingAccount, match="bitmap extension"):  # needed, not loaded
        rc.quote(state, {k: v for k, v in aux.items() if k != ext_key}, 10**10, False)
    with pytest.raises(QuoteError) as exc:  # the program without it
        rc.swap_internal(state, lay.decode_amm_config(state.amm_config, aux[state.amm_config]),
                         [lay.decode_tick_array(lay.tick_array_address(state.address, 30_600),
                                                aux[lay.tick_array_address(state.address, 30_600)])],
                         None, 10**10, rc.MAX_SQRT_PRICE_X64 - 1, False, True, 0)  # fmt: skip
    assert exc.value.code == lay.ERR_MISSING_EXTENSION
    q = rc.quote_detail(state, aux, 3 * 10**11, False)
    assert q.result.tick > 30_720 and len({k for k, _, _ in q.result.updated_ticks}) >= 2
    assert rc.aux_accounts(state, aux)[4:6] == [lay.tick_array_address(state.address, s) for s in rc.swap_tick_arrays(state, True, ext)][:2]


def _fee_mint(bps: int, max_fee: int) -> bytes:
    mint = bytes(encode_mint(6, 10**18)) + bytes(83) + b"\x01"
    return mint + struct.pack("<HH", 1, 108) + bytes(64) + struct.pack("<QQQHQQH", 0, 0, max_fee, bps, 0, max_fee, bps)


def test_token_2022_transfer_fees_on_either_side() -> None:
    state, aux = _pool(token_program_a=TOKEN_2022_PROGRAM_ID, token_program_b=TOKEN_2022_PROGRAM_ID)
    aux[A], aux[B] = _fee_mint(50, 10**9), _fee_mint(200, 3_000)
    state = rc.resolve_token_programs(state, aux)
    assert (state.token_program_a, state.token_program_b) == (TOKEN_2022_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
    q = rc.quote_detail(state, aux, 10**8, True)
    assert q.input_transfer_fee == 500_000  # 0.5 % of the input
    plain = rc.quote_detail(replace(state, token_program_a=TOKEN_PROGRAM_ID, token_program_b=TOKEN_PROGRAM_ID),
                            {k: v for k, v in aux.items() if k not in (A, B)}, 10**8 - 500_000, True)  # fmt: skip
    assert q.amount_out == plain.amount_out
    assert q.output_transfer_fee == min(-(-q.amount_out * 200 // 10_000), 3_000) == 3_000
    assert q.amount_received == q.amount_out - 3_000
    with pytest.raises(MissingAccount):  # a Token-2022 side needs its mint
        rc.quote(state, {k: v for k, v in aux.items() if k != B}, 10**8, True)
    assert rc.transfer_fee(_fee_mint(10_000, 7), 10**6, None) == 7


def test_compute_swap_rounding_by_hand() -> None:
    p = 1 << 64
    target = cm.raydium_sqrt_price_at_tick(-10)
    step = rc.compute_swap(p, target, 10**12, 10**6, 3000, True, True, True)
    # short of the target: all of the input is used, the fee is what the price did not absorb
    assert step.sqrt_price_next_x64 > target
    net = 10**6 * (10**6 - 3000) // 10**6
    assert step.amount_in <= net and step.fee_amount == 10**6 - step.amount_in
    assert step.amount_out == cm.amount_delta_b(step.sqrt_price_next_x64, p, 10**12, False)
    full = rc.compute_swap(p, target, 10**12, 10**12, 3000, True, True, True)
    assert full.sqrt_price_next_x64 == target
    assert full.amount_in == cm.amount_delta_a(target, p, 10**12, True)
    assert full.fee_amount == -(-full.amount_in * 3000 // (10**6 - 3000))
    out_side = rc.compute_swap(p, target, 10**12, 10**12, 3000, True, True, False)
    assert out_side.fee_amount == -(-cm.amount_delta_b(target, p, 10**12, False) * 3000 // 10**6)
    assert cm.raydium_sqrt_price_at_tick(lay.MIN_TICK) == rc.MIN_SQRT_PRICE_X64
    assert cm.raydium_sqrt_price_at_tick(lay.MAX_TICK) == rc.MAX_SQRT_PRICE_X64


def test_swap_instruction_layout() -> None:
    state, aux = _pool()
    user = Pubkey.from_bytes(bytes([7]) * 32)
    ix = rc.swap_instruction(state, user, 123, 45, False, aux=aux)
    assert ix.program_id == lay.PROGRAM_ID
    assert bytes(ix.data) == rc.SWAP_V2_DISCRIMINATOR + struct.pack("<QQQQ?", 123, 45, 0, 0, True)
    keys = [m.pubkey for m in ix.accounts]
    assert keys[:8] == [user, state.amm_config, state.address, associated_token_address(user, B),
                        associated_token_address(user, A), state.vault_b, state.vault_a, state.observation_key]  # fmt: skip
    assert keys[8:13] == [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, rc.MEMO_PROGRAM_ID, B, A]
    assert keys[13] == lay.bitmap_extension_address(state.address)
    assert keys[14:] == [lay.tick_array_address(state.address, s) for s in rc.swap_tick_arrays(state, False)]
    assert [m.is_writable for m in ix.accounts] == [False, False, True, True, True, True, True, True,
                                                    False, False, False, False, False] + [True] * (len(keys) - 13)  # fmt: skip
    assert ix.accounts[0].is_signer and not any(m.is_signer for m in ix.accounts[1:])


def test_exact_output_with_transfer_fees() -> None:
    state, aux = _pool(token_program_a=TOKEN_2022_PROGRAM_ID, token_program_b=TOKEN_2022_PROGRAM_ID)
    aux[A], aux[B] = _fee_mint(30, 10**12), _fee_mint(125, 10**12)
    state = rc.resolve_token_programs(state, aux)
    q = rc.quote_exact_out(state, aux, 10**7, True)
    # the vault pays the output plus the inverse fee on it, so that the user gets at least 10**7
    pre = -(-10**7 * 10_000 // (10_000 - 125))
    assert q.amount_out == 10**7 + -(-pre * 125 // 10_000) and q.amount_received >= 10**7
    taken = q.result.amount_0
    pre_in = -(-taken * 10_000 // (10_000 - 30))
    assert q.amount_in == taken + -(-pre_in * 30 // 10_000) and q.input_transfer_fee > 0
    # paying that much as an exact input gets at least what was asked
    assert rc.quote(state, aux, q.amount_in, True).amount_out >= 10**7


def test_spot_rate_keeps_the_latest_state_and_config() -> None:
    """The latest state's price and fee factor are kept by identity of the state and the config
    data: a config written in place, another state or equal data in a new object answer the
    formula on the current accounts."""
    import random

    rng = random.Random(3)
    state, aux = _pool()
    states = [state, replace(state, sqrt_price_x64=state.sqrt_price_x64 * 3 // 2)]
    for _ in range(200):
        s = rng.choice(states)
        what = rng.randrange(3)
        if what == 0:  # the config written in place
            c = lay.decode_amm_config(s.amm_config, aux[s.amm_config])
            aux[s.amm_config] = lay.encode_amm_config(
                replace(c, trade_fee_rate=rng.randrange(10**5)))
        elif what == 1:
            aux[s.amm_config] = bytes(bytearray(aux[s.amm_config]))
        fee = lay.decode_amm_config(s.amm_config, aux[s.amm_config]).trade_fee_rate
        price = (s.sqrt_price_x64 / 2**64) ** 2
        for a_to_b in (True, False):
            want = (price if a_to_b else 1.0 / price) * (1.0 - fee / 1_000_000)
            assert rc.spot_rate(s, aux, a_to_b) == want
    with pytest.raises(MissingAccount):
        rc.spot_rate(state, {k: v for k, v in aux.items() if k != state.amm_config}, True)
