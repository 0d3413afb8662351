"""Orca Whirlpool adapter without the SDK: real mainnet dumps decode and quote, aux accounts per
direction (incl. the shifted b->a case, oracle, Token-2022 mints), the program's errors, the
swap_v2 instruction layout, and the quote against an independent single-range computation."""

from __future__ import annotations

import base64
import json
import struct
from fractions import Fraction
from math import ceil, floor

import pytest
from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.quote_cases import load_accounts_file
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, associated_token_address
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "accounts" / "orca_whirlpool"
SOL_USDC = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
BONO_USDC = Pubkey.from_string("DBJ5hywaJQKfjyt8Ekng4t6KB1gvqnYFdcJoTppCNikt")
BONK_WIF = Pubkey.from_string("56Ekyu6uBpTna3LR2qkjHjNbDNkCLWK2Lt3uWh7J2R8Z")


def _accounts(folder: str) -> dict[Pubkey, bytes]:
    out: dict[Pubkey, bytes] = {}
    for f in sorted((DATA / folder).glob("*.json")):
        out.update({k: d for k, (_, d) in load_accounts_file(f).items()})
    return out


@pytest.fixture(scope="module")
def sol_usdc() -> tuple[wl.Whirlpool, dict[Pubkey, bytes]]:
    accs = _accounts("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    return ow.decode_pool(SOL_USDC, accs[SOL_USDC]), accs


def test_real_pools_decode() -> None:
    doc = json.loads((DATA / "bonk_wif_ts16_56Ekyu6u" / f"{BONK_WIF}_account.json").read_text())
    raw = doc["data"]  # byte_array format (yellowstone-vixen fixture) or base64
    p = ow.decode_pool(BONK_WIF, bytes(raw) if isinstance(raw, list) else base64.b64decode(raw))
    assert (p.tick_spacing, p.fee_rate, p.protocol_fee_rate, p.liquidity) == (16, 1600, 1300, 47239761576129)
    assert (p.sqrt_price, p.tick_current_index) == (167296194815625436, -94063)
    assert str(p.whirlpools_config) == "2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ"
    assert str(p.mint_a) == "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263" and not p.adaptive_fee
    assert cm.tick_at_sqrt_price(p.sqrt_price) == p.tick_current_index
    bono = _accounts("bono_usdc_ts64_DBJ5hywa")
    b = ow.decode_pool(BONO_USDC, bono[BONO_USDC])
    assert (b.tick_spacing, b.fee_rate, b.liquidity, b.tick_current_index) == (64, 3000, 24095744852, -79523)
    assert str(b.vault_a) == "6J1BPK1DYuj7Q3hTQtV8iNHi9s56eUyhQP8EURQCk2BU"
    cfg = wl.decode_config(b.whirlpools_config, bono[b.whirlpools_config])
    assert cfg.default_protocol_fee_rate == 300
    arrays = [wl.decode_tick_array(d) for d in bono.values() if d[:8] == wl.FIXED_TICK_ARRAY_DISCRIMINATOR]
    assert len(arrays) == 5 and all(a.whirlpool == BONO_USDC and a.start_tick_index % (88 * 64) == 0 for a in arrays)
    assert any(a.ticks for a in arrays)
    for k, d in bono.items():  # each tick array sits at its PDA
        if d[:8] == wl.FIXED_TICK_ARRAY_DISCRIMINATOR:
            assert wl.tick_array_address(BONO_USDC, wl.decode_tick_array(d).start_tick_index) == k
    with pytest.raises(DecodeError):
        ow.decode_pool(BONO_USDC, bono[BONO_USDC][:-1])
    with pytest.raises(DecodeError):
        ow.decode_pool(BONO_USDC, bytes(8) + bono[BONO_USDC][8:])
    with pytest.raises(DecodeError):
        wl.decode_tick_array(bono[BONO_USDC])


def test_aux_accounts_per_direction(sol_usdc: tuple[wl.Whirlpool, dict[Pubkey, bytes]]) -> None:
    p, accs = sol_usdc
    span = 88 * 64
    base = -37756 // span * span
    assert wl.swap_start_indexes(p.tick_current_index, 64, True) == [base, base - span, base - 2 * span]
    assert wl.swap_start_indexes(p.tick_current_index, 64, False) == [base, base + span, base + 2 * span]
    # b->a one spacing below the next array: the program starts at the next array ("shifted")
    assert wl.swap_start_indexes(base + span - 64, 64, False) == [base + span, base + 2 * span, base + 3 * span]
    assert wl.swap_start_indexes(base + span - 65, 64, False) == [base, base + span, base + 2 * span]
    assert wl.swap_start_indexes(cm.MAX_TICK - 1, 64, False) == [cm.MAX_TICK // span * span]
    aux = ow.aux_accounts(p)
    want = [wl.tick_array_address(SOL_USDC, s) for s in (base, base - span, base - 2 * span, base + span, base + 2 * span)]
    assert aux == [*want, p.mint_a, p.mint_b]  # both mints always: their owners are the token programs
    assert all(k in accs for k in want)
    adaptive = wl.Whirlpool(**{**{k: getattr(p, k) for k in p.__slots__}, "fee_tier_index": 1088,  # type: ignore[attr-defined]
                               "token_program_b": TOKEN_2022_PROGRAM_ID})
    # adaptive fee: the oracle, and the Clock its references decay with
    assert ow.aux_accounts(adaptive) == [*want, wl.oracle_address(SOL_USDC), ow.CLOCK_SYSVAR, p.mint_a, p.mint_b]


def test_real_pool_quotes(sol_usdc: tuple[wl.Whirlpool, dict[Pubkey, bytes]]) -> None:
    p, accs = sol_usdc
    last = 0
    for amount in (10**3, 10**6, 10**9, 10**11, 10**12):
        q = ow.quote(p, accs, amount, True)
        assert q.amount_in == amount and q.fee == ceil(amount * 3000 / 10**6) or q.fee >= amount * 3000 // 10**6
        assert q.amount_out > last
        last = q.amount_out
    d = ow.quote_detail(p, accs, 10**12, True, detail=True)
    assert len(d.swap.crossed) >= 3 and d.swap.next_tick_index < p.tick_current_index
    # price is ~22.86 USDC per SOL (6 vs 9 decimals): 1 SOL -> about 22.79 USDC after the 0.3% fee
    assert 22_700_000 < ow.quote(p, accs, 10**9, True).amount_out < 22_900_000
    assert 43_000_000_000 < ow.quote(p, accs, 10**9, False).amount_out < 44_000_000_000
    spot = ow.spot_rate(p, accs, True)
    assert abs(spot * 10**6 - ow.quote(p, accs, 10**6, True).amount_out) / (spot * 10**6) < 1e-3
    with pytest.raises(InsufficientLiquidity) as info:
        ow.quote(p, accs, 10**13, False)
    assert info.value.code == 6038
    with pytest.raises(QuoteError) as err:
        ow.quote(p, accs, 0, True)
    assert err.value.code == ow.CODES["ZeroTradableAmount"] == 6035


def test_single_range_quote_matches_exact_math(sol_usdc: tuple[wl.Whirlpool, dict[Pubkey, bytes]]) -> None:
    p, accs = sol_usdc
    amount = 10**8  # stays inside the current tick range
    q = ow.quote(p, accs, amount, True)
    net = amount * (10**6 - p.fee_rate) // 10**6
    L, s = p.liquidity, p.sqrt_price
    new = ceil(Fraction(L * s << 64, (L << 64) + s * net))
    amount_in = ceil(Fraction(L * (s - new) << 64, s * new))
    assert q.amount_out == floor(Fraction(L * (s - new), 1 << 64))
    assert q.fee == amount - amount_in
    b = 5 * 10**6  # b->a: the price rises by floor(b * 2^64 / L)
    new_b = s + (b * (10**6 - p.fee_rate) // 10**6 << 64) // L
    assert ow.quote(p, accs, b, False).amount_out == floor(Fraction(L * (new_b - s) << 64, s * new_b))


def test_missing_and_nonexistent_arrays(sol_usdc: tuple[wl.Whirlpool, dict[Pubkey, bytes]]) -> None:
    p, accs = sol_usdc
    second = ow.swap_tick_arrays(p, True)[1]
    partial = {k: v for k, v in accs.items() if k != second}
    ow.quote(p, partial, 10**6, True)  # never reaches the second array
    with pytest.raises(MissingAccount):
        ow.quote(p, partial, 5 * 10**12, True)  # crosses into the second array
    empty = {**accs, second: b""}  # the account does not exist: the program sees no ticks there
    assert ow.quote(p, empty, 5 * 10**12, True).amount_out != ow.quote(p, accs, 5 * 10**12, True).amount_out
    wrong = {**accs, second: accs[ow.swap_tick_arrays(p, True)[2]]}
    with pytest.raises(DecodeError):
        ow.quote(p, wrong, 5 * 10**12, True)


def test_swap_v2_instruction_layout(sol_usdc: tuple[wl.Whirlpool, dict[Pubkey, bytes]]) -> None:
    p, _ = sol_usdc
    user = Pubkey.from_string("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM")
    ix = ow.swap_instruction(p, user, 123, 45, False)
    assert ix.program_id == wl.PROGRAM_ID
    assert bytes(ix.data) == bytes.fromhex("2b04ed0b1ac91e62") + struct.pack("<QQ16s??B", 123, 45, bytes(16), True, False, 0)
    keys = [m.pubkey for m in ix.accounts]
    assert keys[:7] == [TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID, ow.MEMO_PROGRAM_ID, user, SOL_USDC, p.mint_a, p.mint_b]
    assert keys[7] == associated_token_address(user, p.mint_a, TOKEN_PROGRAM_ID) and keys[8] == p.vault_a
    assert keys[11:14] == ow.swap_tick_arrays(p, False) and keys[14] == wl.oracle_address(SOL_USDC)
    flags = [(m.is_signer, m.is_writable) for m in ix.accounts]
    assert flags[3] == (True, False) and flags[4] == (False, True) and all(f == (False, True) for f in flags[7:])
    top = wl.Whirlpool(**{**{k: getattr(p, k) for k in p.__slots__}, "tick_current_index": cm.MAX_TICK - 10})  # type: ignore[attr-defined]
    arrays = [m.pubkey for m in ow.swap_instruction(top, user, 1, 0, False).accounts[11:14]]
    assert len(set(arrays)) == 1  # only one array above: repeated


def test_other_real_snapshots_quote() -> None:
    sandbox = _accounts("sol_usdc_ts64_HJPjoWUr/solsandbox")
    p = ow.decode_pool(SOL_USDC, sandbox[SOL_USDC])
    assert (p.fee_rate, p.tick_current_index) == (2000, -32101)
    assert all(k in sandbox for k in ow.aux_accounts(p) if k not in (p.mint_a, p.mint_b))
    for a_to_b in (True, False):
        small, big = ow.quote(p, sandbox, 10**6, a_to_b), ow.quote(p, sandbox, 10**12, a_to_b)
        assert 0 < small.amount_out and big.amount_out > small.amount_out * 10**5
        assert small.fee == 2000  # 0.2% of 1e6, the range is not exhausted
    assert ow.quote_detail(p, sandbox, 10**13, True, detail=True).swap.crossed
    bono = _accounts("bono_usdc_ts64_DBJ5hywa")
    b = ow.decode_pool(BONO_USDC, bono[BONO_USDC])
    assert ow.quote(b, bono, 10**6, False).amount_out > 0
    with pytest.raises(MissingAccount):  # the dump lacks the array below the price
        ow.quote(b, bono, 10**6, True)


def test_fee_rate_module_uses_the_program_error_code() -> None:
    from solarb.dex import orca_whirlpool, orca_whirlpool_fee

    assert orca_whirlpool.CODES["InvalidTimestamp"] == orca_whirlpool_fee.INVALID_TIMESTAMP
