"""Raydium AMM v4 adapter: the real mainnet AmmInfo dump, exact quotes, errors, instruction."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import struct

import pytest
from solders.pubkey import Pubkey

from solarb.dex import raydium_amm_v4 as v4
from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.registry import adapter_for
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address, encode_token_account
from tests.support.data import SHARED_DATA

DUMP = SHARED_DATA / "accounts/raydium_amm_v4/sol_usdc_58oQChx4/58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json"
POOL = Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")
WSOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")


def _raw() -> bytes:
    return base64.b64decode(json.loads(DUMP.read_text())["data"])


@pytest.fixture(scope="module")
def pool() -> v4.AmmV4Pool:
    return v4.decode_pool(POOL, _raw())


def _aux(state: v4.AmmV4Pool, coin: int, pc: int) -> dict[Pubkey, bytes]:
    """Vaults holding ``coin``/``pc`` reserves plus the pool's pending PnL."""
    return {
        state.vault_a: encode_token_account(state.mint_a, v4.authority_address(state.nonce), coin + state.need_take_pnl_coin),
        state.vault_b: encode_token_account(state.mint_b, v4.authority_address(state.nonce), pc + state.need_take_pnl_pc),
    }


def _with(raw: bytes, offset: int, value: int) -> bytes:
    buf = bytearray(raw)
    struct.pack_into("<Q", buf, offset, value)
    return bytes(buf)


def test_decode_real_pool_matches_sources(pool: v4.AmmV4Pool) -> None:
    assert (pool.dex, pool.status, pool.nonce, pool.coin_decimals, pool.pc_decimals) == (v4.NAME, 6, 254, 9, 6)
    assert (pool.mint_a, pool.mint_b) == (WSOL, USDC)
    assert str(pool.vault_a) == "DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz"
    assert str(pool.vault_b) == "HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz"
    assert str(pool.lp_mint) == "8HoQnePLqPj4M7PUDzfw8e3Ymdwgc7NLGnaTUapubyvu"
    assert str(pool.open_orders) == "HmiHHzq4Fym9e1D4qzLS6LDDM3tNsCTBPDWHTLZ763jY"
    assert str(pool.market) == "8BnEgHoWFysVcuFFX7QztDmzuH8r5ZFvyP3sYwn1XTh6"
    assert str(pool.market_program) == "srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX"
    assert str(pool.target_orders) == "CZza3Ej4Mc58MnxWA385itCC9jCo3L1D7zc3LKy1bZMR"
    assert (pool.trade_fee_numerator, pool.trade_fee_denominator) == (25, 10_000)
    assert (pool.swap_fee_numerator, pool.swap_fee_denominator) == (25, 10_000)
    assert pool.token_program_a == pool.token_program_b == TOKEN_PROGRAM_ID
    # Pending PnL read from StateData (offsets 192/200), used by the program to cut reserves.
    assert (pool.need_take_pnl_coin, pool.need_take_pnl_pc) == struct.unpack_from("<QQ", _raw(), 192)
    assert str(v4.authority_address(pool.nonce)) == "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"


@pytest.mark.parametrize("size", [0, 751, 753, 1000])
def test_wrong_size_is_decode_error(size: int) -> None:
    raw = (_raw() * 2)[:size]
    with pytest.raises(DecodeError):
        v4.decode_pool(POOL, raw)


@pytest.mark.parametrize("status", [0, 8, 2**64 - 1])
def test_invalid_status_is_decode_error(status: int) -> None:
    with pytest.raises(DecodeError):
        v4.decode_pool(POOL, _with(_raw(), 0, status))


def test_quote_hand_checked(pool: v4.AmmV4Pool) -> None:
    aux = _aux(pool, 1_000_000_000_000, 150_000_000_000)  # 1000 SOL / 150k USDC after PnL
    # fee = ceil(1e9 * 25 / 10000) = 2_500_000; out = floor(150e9 * 997.5e6 / (1e12 + 997.5e6))
    q = v4.quote(pool, aux, 1_000_000_000, True)
    assert (q.amount_in, q.amount_out, q.fee) == (1_000_000_000, 149_475_897, 2_500_000)
    # pc -> coin: 1000 USDC: fee = 2_500_000 (ceil of exact 2.5e6); out = floor(1e12 * 997.5e6 / (150e9 + 997.5e6))
    q = v4.quote(pool, aux, 1_000_000_000, False)
    assert (q.amount_out, q.fee) == (1_000_000_000_000 * 997_500_000 // 150_997_500_000, 2_500_000)
    assert q.amount_out == 6_606_069_636


def test_fee_rounds_up(pool: v4.AmmV4Pool) -> None:
    aux = _aux(pool, 10**12, 10**12)
    assert v4.quote(pool, aux, 401, True).fee == 2  # 401 * 25 / 10000 = 1.0025 -> 2
    assert v4.quote(pool, aux, 400, True).fee == 1  # exact
    assert v4.quote(pool, aux, 401, True).amount_out == 398  # floor(10^12 * 399 / (10^12 + 399))


def test_reserves_subtract_pending_pnl(pool: v4.AmmV4Pool) -> None:
    aux = _aux(pool, 500, 700)
    coin = int.from_bytes(aux[pool.vault_a][64:72], "little")
    pc = int.from_bytes(aux[pool.vault_b][64:72], "little")
    assert v4.reserves(pool, coin, pc) == (500, 700)
    with pytest.raises(QuoteError) as err:
        v4.reserves(pool, pool.need_take_pnl_coin - 1, pc)
    assert err.value.code == 32  # CheckedSubOverflow


def test_program_failures_carry_codes(pool: v4.AmmV4Pool) -> None:
    aux = _aux(pool, 10**12, 10**12)
    for amount in (0, 1, 2**64):
        with pytest.raises(QuoteError) as err:
            v4.quote(pool, aux, amount, True)
        assert err.value.code == 29  # InvalidInput: zero in / zero out / not a u64
    with pytest.raises(InsufficientLiquidity) as liq:
        v4.quote(pool, _aux(pool, 0, 10**9), 10**6, True)  # empty input side drains the output
    assert liq.value.code == 40
    with pytest.raises(MissingAccount):
        v4.quote(pool, {pool.vault_a: aux[pool.vault_a]}, 10**6, True)


@pytest.mark.parametrize("status", [2, 3, 4, 5])
def test_status_without_swap_permission(status: int) -> None:
    state = v4.decode_pool(POOL, _with(_raw(), 0, status))
    with pytest.raises(QuoteError) as err:
        v4.quote(state, _aux(state, 10**12, 10**12), 10**6, True)
    assert err.value.code == 22


def test_waiting_trade_uses_clock_when_present() -> None:
    state = v4.decode_pool(POOL, _with(_with(_raw(), 0, 7), 224, 1_700_000_000))
    aux = _aux(state, 10**12, 10**12)
    assert v4.quote(state, aux, 10**6, True).amount_out > 0  # no Clock loaded: not checked
    clock = bytearray(40)
    struct.pack_into("<q", clock, 32, 1_699_999_999)
    with pytest.raises(QuoteError) as err:
        v4.quote(state, {**aux, CLOCK: bytes(clock)}, 10**6, True)
    assert err.value.code == 22
    struct.pack_into("<q", clock, 32, 1_700_000_000)
    assert v4.quote(state, {**aux, CLOCK: bytes(clock)}, 10**6, True).amount_out > 0


def test_quote_properties(pool: v4.AmmV4Pool) -> None:
    rng = random.Random(7)
    for _ in range(300):
        coin, pc = rng.randint(1, 2**60), rng.randint(1, 2**60)
        aux = _aux(pool, coin, pc)
        a, b = sorted(rng.randint(1_000, 2**50) for _ in range(2))
        try:
            qa, qb = v4.quote(pool, aux, a, True), v4.quote(pool, aux, b, True)
        except QuoteError:
            continue
        assert qa.amount_out <= qb.amount_out < pc  # monotone, never drains
        net = b - qb.fee
        assert (coin + net) * (pc - qb.amount_out) >= coin * pc  # constant product never decreases
        assert qb.fee * 10_000 >= b * 25 > (qb.fee - 1) * 10_000  # fee is the ceiling


def test_spot_rate(pool: v4.AmmV4Pool) -> None:
    aux = _aux(pool, 10**15, 150 * 10**12)
    assert v4.spot_rate(pool, aux, True) == pytest.approx(0.15 * 0.9975)
    assert v4.spot_rate(pool, aux, False) == pytest.approx(1 / 0.15 * 0.9975)
    assert v4.quote(pool, aux, 10**6, True).amount_out == pytest.approx(10**6 * 0.15 * 0.9975, abs=1)


def test_swap_instruction_layout(pool: v4.AmmV4Pool) -> None:
    user = Pubkey.from_string("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
    ix = v4.swap_instruction(pool, user, 5, 3, False)
    assert ix.program_id == v4.PROGRAM_ID
    assert bytes(ix.data) == bytes.fromhex("10" "0500000000000000" "0300000000000000")
    metas = [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]
    assert metas == [
        (TOKEN_PROGRAM_ID, False, False),
        (POOL, False, True),
        (Pubkey.from_string("5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"), False, False),
        (pool.vault_a, False, True),
        (pool.vault_b, False, True),
        (associated_token_address(user, USDC), False, True),  # pc -> coin: source is USDC
        (associated_token_address(user, WSOL), False, True),
        (user, True, False),
    ]


def test_errors_table_and_registry() -> None:
    assert (v4.ERRORS[29], v4.ERRORS[30], v4.ERRORS[40], v4.ERRORS[59]) == (
        "InvalidInput", "ExceededSlippage", "InsufficientFunds", "NotAllowed")  # fmt: skip
    assert len(v4.ERRORS) == 60
    assert adapter_for(v4.PROGRAM_ID) is v4
    assert v4.aux_accounts(v4.decode_pool(POOL, _raw())) == [
        Pubkey.from_string("DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz"),
        Pubkey.from_string("HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz"),
    ]


def _keyword_decode(raw: bytes) -> v4.AmmV4Pool:
    """The pool decoded field by field through the public constructor (the reference)."""
    f = v4._AMM_INFO.unpack(raw)
    pk = Pubkey.from_bytes
    return v4.AmmV4Pool(
        address=POOL, dex=v4.NAME, mint_a=pk(f[40]), mint_b=pk(f[41]), vault_a=pk(f[38]),
        vault_b=pk(f[39]), token_program_a=TOKEN_PROGRAM_ID, token_program_b=TOKEN_PROGRAM_ID,
        status=f[0], nonce=f[1], coin_decimals=f[4], pc_decimals=f[5], trade_fee_numerator=f[18],
        trade_fee_denominator=f[19], swap_fee_numerator=f[22], swap_fee_denominator=f[23],
        need_take_pnl_coin=f[24], need_take_pnl_pc=f[25], pool_open_time=f[28],
        lp_mint=pk(f[42]), open_orders=pk(f[43]), market=pk(f[44]), market_program=pk(f[45]),
        target_orders=pk(f[46]), amm_owner=pk(f[48]), lp_amount=f[49],
    )  # fmt: skip


def test_fast_decode_equals_the_constructor_and_follows_key_changes(pool: v4.AmmV4Pool) -> None:
    raw = _raw()
    assert pool == _keyword_decode(raw) and hash(pool) == hash(_keyword_decode(raw))
    assert type(pool) is v4.AmmV4Pool
    other, owner = Pubkey.new_unique(), Pubkey.new_unique()
    buf = bytearray(_with(raw, 192, 777))  # need_take_pnl_coin
    buf[336 + 32 : 336 + 64] = bytes(other)  # pc vault
    buf[688:720] = bytes(owner)  # amm_owner
    moved = v4.decode_pool(POOL, bytes(buf))
    assert (moved.vault_b, moved.amm_owner, moved.need_take_pnl_coin) == (other, owner, 777)
    assert moved == _keyword_decode(bytes(buf))
    assert v4.decode_pool(POOL, raw) == pool


def test_key_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4, "_MAX_CACHED_KEYS", 4)
    buf = bytearray(_raw())
    for i in range(10):
        buf[336:368] = bytes([i + 1]) * 32  # coin vault
        assert v4.decode_pool(POOL, bytes(buf)).vault_a == Pubkey(bytes([i + 1]) * 32)
        assert len(v4._KEYS) <= 4


def test_spot_rate_fast_path_equals_checked_path_and_errors_stay(pool: v4.AmmV4Pool) -> None:
    rng = random.Random(5)
    for _ in range(200):
        aux = _aux(pool, rng.randrange(10**15), rng.randrange(10**15))
        for a_to_b in (True, False):
            assert v4.spot_rate(pool, aux, a_to_b) == v4._spot_rate_checked(pool, aux, a_to_b)
    assert v4.spot_rate(pool, _aux(pool, 0, 10**9), True) == 0.0
    short = {k: v[:100] for k, v in _aux(pool, 10**9, 10**9).items()}
    with pytest.raises(DecodeError):
        v4.spot_rate(pool, short, True)
    with pytest.raises(MissingAccount):
        v4.spot_rate(pool, {pool.vault_a: _aux(pool, 1, 1)[pool.vault_a]}, True)
    if pool.need_take_pnl_coin:
        vault = encode_token_account(pool.mint_a, v4.authority_address(pool.nonce), 0)
        with pytest.raises(QuoteError):
            v4.spot_rate(pool, {**_aux(pool, 1, 1), pool.vault_a: vault}, True)


def test_kept_pass_follows_writes_to_the_same_aux_and_state(pool: v4.AmmV4Pool) -> None:
    """The latest one pass is kept by identity of the state and the vault datas: a vault
    written in the same dict (as the market does), another state object or equal data in a new
    object answer what a cold pass answers."""
    rng = random.Random(9)
    aux = _aux(pool, 10**12, 10**13)
    states = [pool, dataclasses.replace(pool, need_take_pnl_coin=pool.need_take_pnl_coin + 7,
                                        swap_fee_numerator=30)]  # fmt: skip
    for _ in range(300):
        state = rng.choice(states)
        what = rng.randrange(3)
        if what == 0:  # a vault written in place
            aux[rng.choice((pool.vault_a, pool.vault_b))] = _aux(
                pool, rng.randrange(10**15), rng.randrange(10**15))[pool.vault_a]
        elif what == 1:  # equal data in a new object
            aux[pool.vault_b] = bytes(bytearray(aux[pool.vault_b]))
        for a_to_b in (True, False):  # the references read no kept pass
            got = v4.spot_rate(state, aux, a_to_b)
            assert got == v4._spot_rate_checked(state, aux, a_to_b)
            assert v4._one_pass(state, aux) == v4.reserves(
                state, v4._vault_amount(aux, pool.vault_a), v4._vault_amount(aux, pool.vault_b))
            q = _outcome(v4.quoter(state, aux, a_to_b), 10**6)
            assert q == _outcome(lambda x: v4.quote(state, aux, x, a_to_b), 10**6)


def _outcome(quoter: object, x: int) -> object:
    try:
        return quoter(x)  # type: ignore[operator]
    except QuoteError as exc:
        return ("error", type(exc).__name__, exc.code)
