"""Raydium CPMM adapter: real mainnet dumps, exact quotes incl. creator/transfer fees, errors, ix."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import struct

import pytest
from solders.pubkey import Pubkey

from solarb.dex import raydium_cpmm as cp
from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.registry import adapter_for
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    encode_mint,
    encode_token_account,
)
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA
BUNDLE = DATA / "accounts/raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"
CONFIG_DUMP = DATA / "accounts/raydium_cpmm/config/D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2.json"
IDL = DATA / "idl/raydium_cpmm_cp_swap.json"
POOL = Pubkey.from_string("2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq")
WSOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
PUMP = Pubkey.from_string("73edX6xoGY4v5y2hzuKdrUbJXLntqgmo74au1Ki1pump")
CONFIG = Pubkey.from_string("D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2")
CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")


@pytest.fixture(scope="module")
def accounts() -> dict[Pubkey, bytes]:
    doc = json.loads(BUNDLE.read_text())
    return {Pubkey.from_string(k): base64.b64decode(v["data"]) for k, v in doc["accounts"].items()}


@pytest.fixture(scope="module")
def pool(accounts: dict[Pubkey, bytes]) -> cp.CpmmPool:
    return cp.decode_pool(POOL, accounts[POOL])


def _clock(epoch: int = 0, ts: int = 0) -> bytes:
    return struct.pack("<QqQQq", 1, 0, epoch, epoch, ts)


def _set_vaults(state: cp.CpmmPool, aux: dict[Pubkey, bytes], v0: int, v1: int) -> dict[Pubkey, bytes]:
    return {**aux, state.vault_a: encode_token_account(state.mint_a, cp.AUTHORITY, v0),
            state.vault_b: encode_token_account(state.mint_b, cp.AUTHORITY, v1)}  # fmt: skip


def _config(aux: dict[Pubkey, bytes], **changes: int) -> dict[Pubkey, bytes]:
    c = dataclasses.replace(cp.decode_amm_config(CONFIG, aux[CONFIG]), **changes)
    return {**aux, CONFIG: cp.encode_amm_config(c)}


def test_decode_real_pool_and_config(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    assert (pool.dex, pool.mint_a, pool.mint_b) == (cp.NAME, WSOL, PUMP)
    assert (pool.mint_0_decimals, pool.mint_1_decimals, pool.lp_supply, pool.status) == (9, 6, 6496152650476, 0)
    assert pool.amm_config == CONFIG
    assert str(pool.vault_a) == "47KLLXNKUMuJBgis11NWmZ9iNPW2wHX2ZKQKUDCL3LA6"
    assert str(pool.vault_b) == "5Ap19VZWbmP9NnvFabeyGzWjTqXFcFLPcuFDsNyAB9Sg"
    assert str(pool.lp_mint) == "HBaEkQGJmCXAg97q8XRU6nFxDd5eCWNaqVB4xv7uvKhE"
    assert str(pool.observation_key) == "8Aqi4fPN9wRPoJ3j3p2MqjvRCur7m4c1aNHcbnHviZ8D"
    assert (pool.token_program_a, pool.token_program_b) == (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
    assert pool.auth_bump == cp.AUTH_BUMP
    assert str(cp.AUTHORITY) == "GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL"  # vault owner in the dump
    assert accounts[pool.vault_a][32:64] == bytes(cp.AUTHORITY)
    cfg = cp.decode_amm_config(CONFIG, accounts[CONFIG])
    assert (cfg.index, cfg.trade_fee_rate, cfg.protocol_fee_rate, cfg.fund_fee_rate, cfg.create_pool_fee) == (
        0, 2500, 120_000, 40_000, 150_000_000)  # fmt: skip
    dump = json.loads(CONFIG_DUMP.read_text())["account"]["data"][0]  # the 2024 copy, cli_json
    assert cp.decode_amm_config(CONFIG, base64.b64decode(dump)).trade_fee_rate == 2500
    assert cp.encode_pool(pool) == accounts[POOL]  # lossless layout
    assert cp.encode_amm_config(cfg) == accounts[CONFIG]


def test_bad_bytes_are_decode_errors(accounts: dict[Pubkey, bytes]) -> None:
    raw, cfg = accounts[POOL], accounts[CONFIG]
    for bad in (raw[:-1], raw + b"\0", b"", b"\0" + raw[1:]):
        with pytest.raises(DecodeError):
            cp.decode_pool(POOL, bad)
    with pytest.raises(DecodeError):
        cp.decode_pool(POOL, cfg)  # a config is not a pool
    for bad in (cfg[:-1], raw, b"\xff" * 8 + cfg[8:]):
        with pytest.raises(DecodeError):
            cp.decode_amm_config(CONFIG, bad)


def test_quote_real_pool_hand_checked(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    # Reserves = vault - protocol - fund - creator accruals (creator accruals are 0 here).
    r0 = 461_416_771_201 - 8_501_600 - 42_236_834
    r1 = 95_426_862_199_392 - 2_629_481_698 - 8_120_109_309
    # creator_fee_on = 0 (both -> input side) but enable_creator_fee = false, so the creator rate is
    # 0: total fee = ceil(1e9 * 2500 / 1e6) = 2_500_000, all of it trade fee.
    s = cp.quote_detail(pool, accounts, 10**9, True)
    assert (s.trade_fee, s.creator_fee, s.protocol_fee, s.fund_fee) == (2_500_000, 0, 300_000, 100_000)
    assert s.amount_out == 997_500_000 * r1 // (r0 + 997_500_000) == 205_850_084_580
    q = cp.quote(pool, accounts, 10**9, True)
    assert (q.amount_in, q.amount_out, q.fee) == (10**9, 205_850_084_580, 2_500_000)
    q = cp.quote(pool, accounts, 10**9, False)
    assert q.amount_out == 997_500_000 * r0 // (r1 + 997_500_000) and q.fee == 2_500_000


def test_creator_fee_on_input_follows_program_not_sdk(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    state = dataclasses.replace(pool, enable_creator_fee=True, creator_fee_on=0)  # config creator rate 500
    s = cp.quote_detail(state, accounts, 1_000_001, True)
    # total = ceil(1_000_001 * 3000 / 1e6) = 3001; creator = floor(3001 * 500 / 3000) = 500
    # (the SDK's two separate ceilings would give 2501 + 501 = 3002)
    assert (s.trade_fee, s.creator_fee, s.creator_fee_on_input) == (2501, 500, True)
    assert cp.quote(state, accounts, 1_000_001, True).fee == 3001
    r0 = 461_416_771_201 - 8_501_600 - 42_236_834
    r1 = 95_426_862_199_392 - 2_629_481_698 - 8_120_109_309
    assert s.amount_received == (1_000_001 - 3001) * r1 // (r0 + 1_000_001 - 3001)


def test_creator_fee_on_output_side(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    # OnlyToken1 (2): token_0 -> token_1 pays the creator fee out of the output.
    state = dataclasses.replace(pool, enable_creator_fee=True, creator_fee_on=2)
    s = cp.quote_detail(state, accounts, 10**9, True)
    base = cp.quote_detail(pool, accounts, 10**9, True)
    assert not s.creator_fee_on_input and s.trade_fee == 2_500_000
    assert s.creator_fee == -(-base.amount_out * 500 // 10**6)  # ceil on the swapped amount
    assert s.amount_received == base.amount_out - s.creator_fee
    assert cp.quote(state, accounts, 10**9, True).fee == 2_500_000  # input-token fee only
    # ... and token_1 -> token_0 pays it on the input.
    assert cp.quote_detail(state, accounts, 10**9, False).creator_fee_on_input
    # OnlyToken0 (1) mirrors it; disabled creator fee means rate 0 whatever the config says.
    assert cp.quote_detail(dataclasses.replace(state, creator_fee_on=1), accounts, 10**9, True).creator_fee_on_input
    assert cp.quote_detail(dataclasses.replace(state, enable_creator_fee=False), accounts, 10**9, True).creator_fee == 0


def test_program_failures_carry_codes(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    def code(state: cp.CpmmPool, aux: dict[Pubkey, bytes], amount: int = 10**9) -> int | None:
        with pytest.raises(QuoteError) as err:
            cp.quote(state, aux, amount, True)
        return err.value.code

    assert code(pool, accounts, 0) == 2505  # require_gt!(actual_amount_in, 0)
    assert code(pool, accounts, 1) == 2505  # fee 1 leaves nothing: zero output
    assert code(dataclasses.replace(pool, status=4), accounts) == 6000  # swap bit disabled
    assert cp.quote(dataclasses.replace(pool, status=3), accounts, 10**9, True).amount_out > 0  # deposit/withdraw bits only
    assert code(pool, {**accounts, CLOCK: _clock(ts=pool.open_time - 1)}) == 6000  # not open yet
    assert cp.quote(pool, {**accounts, CLOCK: _clock(ts=pool.open_time)}, 10**9, True).amount_out > 0
    assert code(dataclasses.replace(pool, creator_fee_on=3), accounts) == 6013
    assert code(pool, _config(accounts, trade_fee_rate=0)) == 6006  # input-side split divides by 0
    assert code(dataclasses.replace(pool, fund_fees_token_0=10**15), accounts) == 6012
    assert code(dataclasses.replace(pool, fund_fees_token_0=2**64 - 1), accounts) == 6011
    with pytest.raises(InsufficientLiquidity):
        cp.quote(pool, _set_vaults(pool, accounts, 8_501_600 + 42_236_834, 10**12), 10**9, True)
    with pytest.raises(MissingAccount):
        cp.quote(pool, {k: v for k, v in accounts.items() if k != CONFIG}, 10**9, True)
    with pytest.raises(MissingAccount):  # token_1 is Token-2022: its mint is needed (transfer fee)
        cp.quote(pool, {k: v for k, v in accounts.items() if k != PUMP}, 10**9, True)


def _fee_mint(older: tuple[int, int, int], newer: tuple[int, int, int]) -> bytes:
    ext = struct.pack("<64sQQQHQQH", bytes(64), 0, *older, *newer)
    return encode_mint(6) + bytes(165 - 82) + b"\x01" + struct.pack("<HH", 1, len(ext)) + ext


def test_token_2022_transfer_fees(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    mint = _fee_mint((0, 5_000, 100), (10, 10**9, 50))  # epoch, maximum_fee, basis points
    assert cp.transfer_fee(mint, 10_000, 5) == 100
    assert cp.transfer_fee(mint, 10**8, 5) == 5_000  # capped
    assert cp.transfer_fee(mint, 10_001, 10) == 51  # newer fee from its epoch on, rounded up
    assert cp.transfer_fee(accounts[PUMP], 10**9, None) == 0  # metadata extensions only
    with pytest.raises(QuoteError):
        cp.transfer_fee(mint, 10_000, None)  # the epoch decides: needs the Clock sysvar
    aux = {**accounts, PUMP: mint, CLOCK: _clock(epoch=5, ts=pool.open_time)}
    s = cp.quote_detail(pool, aux, 10**9, True)  # output in the fee-bearing token
    assert s.output_transfer_fee == 5_000 and s.amount_received == s.amount_out - 5_000
    s = cp.quote_detail(pool, aux, 10**6, False)  # input in the fee-bearing token
    assert s.input_transfer_fee == 5_000
    assert s.amount_out == cp.quote_detail(pool, accounts, 10**6 - 5_000, False).amount_out


def test_quote_properties(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    rng = random.Random(11)
    for _ in range(300):
        r0, r1 = rng.randint(10**3, 2**60), rng.randint(10**3, 2**60)
        aux = _set_vaults(pool, accounts, r0 + 8_501_600 + 42_236_834, r1 + 2_629_481_698 + 8_120_109_309)
        a, b = sorted(rng.randint(10**3, 2**50) for _ in range(2))
        try:
            qa, qb = cp.quote(pool, aux, a, True), cp.quote(pool, aux, b, True)
        except QuoteError:
            continue
        assert qa.amount_out <= qb.amount_out < r1
        assert (r0 + b - qb.fee) * (r1 - qb.amount_out) >= r0 * r1
        assert qb.fee * 10**6 >= b * 2500 > (qb.fee - 1) * 10**6


def test_spot_rate(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    rate = cp.spot_rate(pool, accounts, True)
    assert rate == pytest.approx(cp.quote(pool, accounts, 10**6, True).amount_out / 10**6, rel=1e-5)


def test_swap_instruction_matches_idl(pool: cp.CpmmPool) -> None:
    user = Pubkey.from_string("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
    ix = cp.swap_instruction(pool, user, 7, 5, False)
    assert ix.program_id == cp.PROGRAM_ID
    assert bytes(ix.data) == bytes([143, 190, 90, 218, 196, 30, 51, 222]) + struct.pack("<QQ", 7, 5)
    idl = json.loads(IDL.read_text())
    spec = next(i for i in idl["instructions"] if i["name"] == "swap_base_input")
    assert [(bool(a.get("signer")), bool(a.get("writable"))) for a in spec["accounts"]] == [
        (m.is_signer, m.is_writable) for m in ix.accounts
    ]
    expected = {
        "payer": user, "authority": cp.AUTHORITY, "amm_config": CONFIG, "pool_state": POOL,
        "input_token_account": associated_token_address(user, PUMP, TOKEN_2022_PROGRAM_ID),
        "output_token_account": associated_token_address(user, WSOL, TOKEN_PROGRAM_ID),
        "input_vault": pool.vault_b, "output_vault": pool.vault_a,
        "input_token_program": TOKEN_2022_PROGRAM_ID, "output_token_program": TOKEN_PROGRAM_ID,
        "input_token_mint": PUMP, "output_token_mint": WSOL, "observation_state": pool.observation_key,
    }  # fmt: skip
    assert [expected[a["name"]] for a in spec["accounts"]] == [m.pubkey for m in ix.accounts]


def test_errors_aux_and_registry(pool: cp.CpmmPool) -> None:
    idl = json.loads(IDL.read_text())
    for err in idl["errors"]:
        assert cp.ERRORS[err["code"]] == err["name"]
    assert cp.ERRORS[6005] == "ExceededSlippage"
    assert cp.aux_accounts(pool) == [CONFIG, pool.vault_a, pool.vault_b, PUMP]
    assert cp.aux_accounts(dataclasses.replace(pool, token_program_b=TOKEN_PROGRAM_ID)) == [CONFIG, pool.vault_a, pool.vault_b]
    assert adapter_for(cp.PROGRAM_ID) is cp


def _keyword_decode(raw: bytes) -> cp.CpmmPool:
    """The pool decoded field by field through the public constructor (the reference)."""
    f = struct.unpack("<8s320s5B7QBB6s2Q224s", raw)
    k = [Pubkey.from_bytes(f[1][i : i + 32]) for i in range(0, 320, 32)]
    return cp.CpmmPool(
        address=POOL, dex=cp.NAME, mint_a=k[5], mint_b=k[6], vault_a=k[2], vault_b=k[3],
        token_program_a=k[7], token_program_b=k[8], amm_config=k[0], pool_creator=k[1],
        lp_mint=k[4], observation_key=k[9], auth_bump=f[2], status=f[3], lp_mint_decimals=f[4],
        mint_0_decimals=f[5], mint_1_decimals=f[6], lp_supply=f[7], protocol_fees_token_0=f[8],
        protocol_fees_token_1=f[9], fund_fees_token_0=f[10], fund_fees_token_1=f[11],
        open_time=f[12], recent_epoch=f[13], creator_fee_on=f[14], enable_creator_fee=bool(f[15]),
        creator_fees_token_0=f[17], creator_fees_token_1=f[18],
    )  # fmt: skip


def test_fast_decode_equals_the_constructor_and_follows_key_changes(
    accounts: dict[Pubkey, bytes],
) -> None:
    raw = accounts[POOL]
    pool = cp.decode_pool(POOL, raw)
    assert pool == _keyword_decode(raw) and hash(pool) == hash(_keyword_decode(raw))
    assert type(pool) is cp.CpmmPool
    with pytest.raises(dataclasses.FrozenInstanceError):
        pool.status = 1  # type: ignore[misc]
    # the keys come from a cache keyed by their bytes: a changed key is seen at once
    other = Pubkey.new_unique()
    moved = bytearray(raw)
    moved[8 + 2 * 32 : 8 + 3 * 32] = bytes(other)  # vault_0
    moved[cp.OFF_PROTOCOL_FEES_0 : cp.OFF_PROTOCOL_FEES_0 + 8] = (12345).to_bytes(8, "little")
    again = cp.decode_pool(POOL, bytes(moved))
    assert again.vault_a == other and again.protocol_fees_token_0 == 12345
    assert again == _keyword_decode(bytes(moved))
    assert cp.decode_pool(POOL, raw) == pool


def test_key_cache_is_bounded(accounts: dict[Pubkey, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cp, "_MAX_CACHED_KEYS", 4)
    raw = bytearray(accounts[POOL])
    for i in range(10):
        raw[8 + 9 * 32 : 8 + 10 * 32] = bytes([i + 1]) * 32  # observation key
        assert cp.decode_pool(POOL, bytes(raw)).observation_key == Pubkey(bytes([i + 1]) * 32)
        assert len(cp._KEYS) <= 4


def test_spot_rate_fast_path_equals_checked_path_and_errors_stay(
    pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]
) -> None:
    rng = random.Random(11)
    for _ in range(200):
        state = dataclasses.replace(
            pool, protocol_fees_token_0=rng.randrange(10**6),
            fund_fees_token_1=rng.randrange(10**6), enable_creator_fee=rng.random() < 0.5)
        vaults = rng.randrange(10**6, 10**15), rng.randrange(10**6, 10**15)
        aux = _set_vaults(state, accounts, *vaults)
        for a_to_b in (True, False):
            assert cp.spot_rate(state, aux, a_to_b) == cp._spot_rate_checked(state, aux, a_to_b)
    with pytest.raises(QuoteError):  # accruals above the vault
        cp.spot_rate(pool, _set_vaults(pool, accounts, pool.protocol_fees_token_0, 10**9), True)
    with pytest.raises(InsufficientLiquidity):
        fees = pool.protocol_fees_token_0 + pool.fund_fees_token_0 + pool.creator_fees_token_0
        cp.spot_rate(pool, _set_vaults(pool, accounts, fees, 10**18), True)
    with pytest.raises(MissingAccount):
        cp.spot_rate(pool, {k: v for k, v in accounts.items() if k != pool.vault_b}, True)
    with pytest.raises(DecodeError):
        cp.spot_rate(pool, {**accounts, CONFIG: accounts[CONFIG][:-1]}, True)


def test_quote_agrees_with_quote_detail(pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]) -> None:
    rng = random.Random(23)
    fee_mint = _fee_mint((0, 5_000, 100), (10, 10**9, 50))
    for on in (0, 1, 2):
        state = dataclasses.replace(pool, creator_fee_on=on, enable_creator_fee=True)
        aux = _config({**accounts, PUMP: fee_mint, CLOCK: _clock(epoch=5, ts=pool.open_time)},
                      creator_fee_rate=1_000)
        for _ in range(100):
            amount, a_to_b = rng.randrange(1, 10**12), rng.random() < 0.5
            try:
                s = cp.quote_detail(state, aux, amount, a_to_b)
            except QuoteError:
                with pytest.raises(QuoteError):
                    cp.quote(state, aux, amount, a_to_b)
                continue
            q = cp.quote(state, aux, amount, a_to_b)
            fee = s.trade_fee + (s.creator_fee if s.creator_fee_on_input else 0)
            assert (q.amount_in, q.amount_out, q.fee) == (amount, s.amount_received, fee)


def test_kept_pass_follows_writes_to_the_same_aux_and_state(
    pool: cp.CpmmPool, accounts: dict[Pubkey, bytes]
) -> None:
    """The latest one pass is kept by identity of the state and of the config and vault datas:
    a write to one of them in the same dict (as the market does), another state object or
    another pool in between answer what a cold pass answers."""
    rng = random.Random(17)
    aux = _set_vaults(pool, {k: v for k, v in accounts.items() if k != CLOCK}, 10**12, 3 * 10**12)
    other = dataclasses.replace(pool, protocol_fees_token_0=5)
    states = [pool, other]
    for _ in range(300):
        state = rng.choice(states)
        what = rng.randrange(4)
        if what == 0:  # a vault written in place
            vault = rng.choice((pool.vault_a, pool.vault_b))
            mint = pool.mint_a if vault == pool.vault_a else pool.mint_b
            aux[vault] = encode_token_account(mint, cp.AUTHORITY, rng.randrange(10, 10**15))
        elif what == 1:  # the config written in place (new rates)
            aux.update(_config(aux, trade_fee_rate=rng.randrange(10**5),
                               creator_fee_rate=rng.randrange(10**4)))  # fmt: skip
        elif what == 2:  # equal data in a new object
            aux[pool.vault_a] = bytes(bytearray(aux[pool.vault_a]))
        for a_to_b in (True, False):  # the references read no kept pass
            got = cp.spot_rate(state, aux, a_to_b)
            assert got == cp._spot_rate_checked(state, aux, a_to_b)
            rates = cp._rates(CONFIG, aux[CONFIG])
            assert cp._one_pass(state, aux) == (*cp._vault_reserves(state, aux), *rates)
            q = cp.quoter(state, aux, a_to_b)(10**6)
            assert q == cp.quote(state, aux, 10**6, a_to_b)
    # a pass that gave None (a short vault) is kept as None, and a fixed vault is read again
    bad = {**aux, pool.vault_b: aux[pool.vault_b][:100]}
    assert cp._one_pass(pool, bad) is None and cp._one_pass(pool, bad) is None
    with pytest.raises(DecodeError):
        cp.spot_rate(pool, bad, True)
    bad[pool.vault_b] = aux[pool.vault_b]
    assert cp._one_pass(pool, bad) == cp._one_pass(pool, dict(aux)) is not None
