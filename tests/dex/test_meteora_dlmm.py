"""Meteora DLMM adapter: real account dumps decode and quote; math, fee and volatility rules checked
by hand; bitmap navigation (internal + extension); typed errors; swap instruction layout."""

from __future__ import annotations

import base64
import json
import random
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex import meteora_dlmm_math as m
from solarb.dex import meteora_dlmm_walk as mw
from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, QuoteError
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.sim.programs.meteora_dlmm import create_pool

DATA = Path("/work/shared/data/accounts/meteora_dlmm")
if not DATA.exists():
    DATA = Path(__file__).resolve().parents[3] / "shared/data/accounts/meteora_dlmm"
JLP_PAIR = Pubkey.from_string("6StaAqeVjKUPTgMLmcLmdpmUjoYHRcZ6uViLdWNdUghM")


def _clock(ts: int, epoch: int = 700, slot: int = 1) -> bytes:
    return struct.pack("<QqQQq", slot, 0, epoch, 0, ts)


@pytest.fixture(scope="module")
def jlp() -> dict[Pubkey, bytes]:
    out = {}
    for f in (DATA / "jlp_hubsol_6StaAqeV").glob("*.json"):
        j = json.loads(f.read_text())
        out[Pubkey.from_string(j["pubkey"])] = base64.b64decode(j["account"]["data"][0])
    return out


def test_real_pair_and_bin_arrays_decode(jlp: dict[Pubkey, bytes]) -> None:
    s = dl.decode_pool(JLP_PAIR, jlp[JLP_PAIR])
    assert (s.active_id, s.bin_step, s.base_factor, s.status) == (3774, 8, 6250, 0)
    assert str(s.mint_a) == "27G8MtK7VtTcCHkpASjSDdkWWYfoqT6ggEuKidVJidD4"
    assert str(s.vault_b) == "9Xb8K1CKzwERAZL9ezVxpnYtgtpic6ag3fxfUwDqD5wR"
    assert str(s.oracle) == "2Q5Tv4uf7UYsquGJjHpYRnqbspnKMFbSXvwm1j9xPt8b"
    assert s.token_program_a == s.token_program_b == TOKEN_PROGRAM_ID
    assert (s.filter_period, s.decay_period, s.reduction_factor) == (30, 600, 5000)
    assert (s.variable_fee_control, s.max_volatility_accumulator, s.protocol_share) == (120_000, 300_000, 500)
    assert (s.volatility_accumulator, s.volatility_reference, s.index_reference) == (12814, 2814, 3773)
    assert lay.encode_lb_pair(s) == jlp[JLP_PAIR]  # every byte accounted for
    arrays = [lay.decode_bin_array(k, v) for k, v in jlp.items() if len(v) == lay.BIN_ARRAY_LEN]
    assert sorted(a.index for a in arrays) == [50, 51, 53, 54]
    for a in arrays:
        assert a.lb_pair == JLP_PAIR and dl.bin_array_address(JLP_PAIR, a.index) == a.address
        for i, b in enumerate(a.bins):  # stored prices are the program's pow, bit for bit
            assert b.price == m.price_from_id(a.index * 70 + i, 8)
    carbon = json.loads((DATA / "carbon_decoder_fixtures/lb_pair_account.json").read_text())
    c = dl.decode_pool(Pubkey.default(), base64.b64decode(carbon["data"]))
    assert (c.active_id, c.bin_step, c.base_factor) == (-1054, 80, 62500)
    assert str(c.mint_b) == "So11111111111111111111111111111111111111112"
    with pytest.raises(DecodeError):
        dl.decode_pool(JLP_PAIR, jlp[JLP_PAIR][:-1])
    with pytest.raises(DecodeError):
        dl.decode_pool(JLP_PAIR, bytes(8) + jlp[JLP_PAIR][8:])
    with pytest.raises(DecodeError):
        lay.decode_bin_array(JLP_PAIR, jlp[JLP_PAIR])


def test_lb_pair_decode_maps_every_field_back() -> None:
    """Random pairs (padding zero, valid token flags): each field decodes to its own place
    (encode_lb_pair by field name gives the bytes back), and a second version of the same
    pair reuses its key objects only while their bytes are the same."""
    rng = random.Random(5)
    pad = {13, 17, 19, 36, 41, 46, 47, 52}  # the layout's padding and unused fields
    for _ in range(200):
        raw = lay._LB_PAIR.unpack(bytes(rng.getrandbits(8) for _ in range(lay.LB_PAIR_LEN)))
        fields = [v if i not in pad else bytes(len(v)) if isinstance(v, bytes) else 0
                  for i, v in enumerate(raw)]  # fmt: skip
        fields[0], fields[49], fields[50] = lay.LB_PAIR_DISCRIMINATOR, rng.randint(0, 1), rng.randint(0, 1)
        data = lay._LB_PAIR.pack(*fields)
        address = Pubkey.new_unique()
        first = lay.decode_lb_pair(address, data)
        assert lay.encode_lb_pair(first) == data
        again = lay.decode_lb_pair(address, data)
        assert again == first and again.mint_a is first.mint_a and again.creator is first.creator
        fields[31] = bytes(32)  # a new mint_y
        moved = lay.decode_lb_pair(address, lay._LB_PAIR.pack(*fields))
        assert moved.mint_b == Pubkey.default() and moved.mint_a == first.mint_a
        assert lay.encode_lb_pair(moved) == lay._LB_PAIR.pack(*fields)



def test_real_pair_aux_and_quotes(jlp: dict[Pubkey, bytes]) -> None:
    s = dl.decode_pool(JLP_PAIR, jlp[JLP_PAIR])
    aux = dl.aux_accounts(s)
    assert dl.aux_accounts(s) is not aux  # a new list per call: callers may extend it
    assert dl.bin_arrays_for_swap(s, True) == [53, 52, 51] and dl.bin_arrays_for_swap(s, False) == [53, 54, 55]
    # Clock + the arrays; no extension (both walks stay inside the internal bitmap), no SPL mints
    assert aux == [dl.CLOCK_SYSVAR] + [dl.bin_array_address(JLP_PAIR, i) for i in (53, 52, 51, 54, 55)]
    accounts = {**jlp, dl.CLOCK_SYSVAR: _clock(s.last_update_timestamp + 5)}
    q = dl.quote(s, accounts, 10**6, True)
    assert (q.amount_in, q.amount_out, q.fee) == (10**6, 20_439_715, 513)
    d = dl.quote_detail(s, accounts, 10**9, True)
    assert d.active_id == 3771 and d.bin_arrays == (53,) and len(d.bins) == 4
    # within the filter period the references stay; each crossed bin raises the accumulator
    assert (d.index_reference, d.volatility_reference, d.volatility_accumulator) == (3773, 2814, 22814)
    assert d.fee == d.protocol_fee + d.lp_fee and 0 < d.protocol_fee <= d.fee * 500 // 10_000
    with pytest.raises(MissingAccount):  # crossing into array 52, which is not in the dump
        dl.quote(s, accounts, 10**10, True)
    with pytest.raises(MissingAccount):
        dl.quote(s, jlp, 10**6, True)  # no Clock sysvar: never the machine clock
    spot = dl.spot_rate(s, accounts, True)
    assert spot == pytest.approx(q.amount_out / q.amount_in, rel=1e-3)


def test_volatility_references_decay_with_clock(jlp: dict[Pubkey, bytes]) -> None:
    s = dl.decode_pool(JLP_PAIR, jlp[JLP_PAIR])
    t0 = s.last_update_timestamp
    quiet = dl.quote_detail(s, {**jlp, dl.CLOCK_SYSVAR: _clock(t0 + 29)}, 10**6, True)
    decayed = dl.quote_detail(s, {**jlp, dl.CLOCK_SYSVAR: _clock(t0 + 30)}, 10**6, True)
    reset = dl.quote_detail(s, {**jlp, dl.CLOCK_SYSVAR: _clock(t0 + 600)}, 10**6, True)
    assert (quiet.index_reference, quiet.volatility_reference) == (3773, 2814)
    assert (decayed.index_reference, decayed.volatility_reference) == (3774, 12814 * 5000 // 10_000)
    assert (reset.index_reference, reset.volatility_reference, reset.volatility_accumulator) == (3774, 0, 0)
    assert quiet.fee > decayed.fee > reset.fee
    assert reset.fee == -(-10**6 * 6250 * 8 * 10 // m.FEE_PRECISION)  # base fee only


def test_fee_math_by_hand() -> None:
    p = m.FeeParams(bin_step=10, base_factor=10_000, base_fee_power_factor=0, variable_fee_control=40_000,
                    max_volatility_accumulator=350_000, filter_period=30, decay_period=600,
                    reduction_factor=5_000, protocol_share=1_000, volatility_accumulator=0,
                    volatility_reference=0, index_reference=0, last_update_timestamp=0)  # fmt: skip
    assert m.total_fee_rate(p) == 1_000_000  # 0.1 %
    p.volatility_accumulator = 30_000  # 3 bins crossed: 40_000 * (30_000 * 10)**2 / 1e11 = 36_000
    assert m.total_fee_rate(p) == 1_036_000
    p.base_fee_power_factor = 2
    assert m.total_fee_rate(p) == m.MAX_FEE_RATE  # capped at 10 %
    assert m.compute_fee_from_amount(999, 1_000_000) == 1 and m.compute_fee_from_amount(1000, 1_000_000) == 1
    assert m.compute_fee_from_amount(1001, 1_000_000) == 2
    for amount in (1, 999, 10**6, 12_345_678_901):
        fee = m.compute_fee(amount, 1_036_000)
        assert amount + fee - m.compute_fee_from_amount(amount + fee, 1_036_000) >= amount
    m.update_volatility_accumulator(p, 50)
    assert p.volatility_accumulator == 350_000  # capped at max_volatility_accumulator


def test_price_pow() -> None:
    assert m.price_from_id(0, 10) == 1 << 64
    assert m.price_from_id(1, 10) == (1 << 64) + (10 << 64) // 10_000
    up, down = m.price_from_id(1000, 25), m.price_from_id(-1000, 25)
    assert abs(up * down / 2**128 - 1) < 1e-12
    assert up / 2**64 == pytest.approx(1.0025**1000, rel=1e-12)
    with pytest.raises(m.MathOverflow):
        m.price_from_id(40_000, 25)  # beyond Q64.64


def test_bitmap_navigation_with_extension() -> None:
    bits = m.combined_bitmap(1 << (3 + 512), [1 << 5] + [0] * 11, [0, 1 << 7] + [0] * 10)
    ext_pos, ext_neg = 512 + 5, -(2 * 512 + 7) - 1
    assert m.next_array_index(bits, 0, False, True) == 3
    assert m.next_array_index(bits, 4, False, True) == ext_pos
    assert m.next_array_index(bits, 4, False, False) is None  # needs the extension
    assert m.next_array_index(bits, 2, True, True) == ext_neg
    assert m.next_array_index(bits, ext_neg - 1, True, True) is None
    assert m.next_array_index(bits, 600, True, True) == ext_pos
    assert m.next_array_index(bits, 600, True, False) is None


def _pool(**kw: object) -> tuple[lay.LbPair, dict[Pubkey, bytes]]:
    args: dict[str, object] = {
        "mint_x": Pubkey.from_string("So11111111111111111111111111111111111111112"),
        "mint_y": Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        "bin_step": 10, "base_factor": 10_000, "active_id": 0, "variable_fee_control": 0,
        "bins": {0: (1_000_000, 1_000_000), 1: (2_000_000, 0), -1: (0, 2_000_000),
                 200: (10**9, 0)},
    }  # fmt: skip
    args.update(kw)
    pair, accounts = create_pool(**args)  # type: ignore[arg-type]
    aux = {k: v.data for k, v in accounts.items()}
    aux[dl.CLOCK_SYSVAR] = _clock(1_000)
    return dl.decode_pool(pair, aux[pair]), aux


def test_single_bin_and_crossing_by_hand() -> None:
    s, aux = _pool()
    price = m.price_from_id(0, 10)  # exactly 1.0: fee 0.1 %
    d = dl.quote_detail(s, aux, 10_000, True)
    assert (d.amount_out, d.fee, d.bins) == (9_990, 10, ((0, 9_990, 9_990, 0, 0),))
    assert price == 1 << 64 and d.protocol_fee == 10 * 500 // 10_000
    # drain bin 0 (1_000_000 Y costs 1_000_000 + ceil fee), continue in bin -1
    d = dl.quote_detail(s, aux, 1_500_000, True)
    assert [b[0] for b in d.bins] == [0, -1] and d.active_id == -1
    first_fee = m.compute_fee(1_000_000, 1_000_000)
    assert d.bins[0][1:3] == (1_000_000, 1_000_000) and first_fee == 1_002
    assert d.volatility_accumulator == 10_000
    # X -> Y beyond all Y liquidity fails as the program does
    with pytest.raises(InsufficientLiquidity):
        dl.quote(s, aux, 4 * 10**6, True)
    # Y -> X crosses the empty gap 2..199 (and an empty array) to bin 200
    d = dl.quote_detail(s, aux, 5 * 10**6, False)
    assert [b[0] for b in d.bins] == [0, 1, 200] and d.bin_arrays == (0, 2)
    with pytest.raises(MissingAccount):
        dl.quote(s, {k: v for k, v in aux.items() if k != dl.bin_array_address(s.address, 2)}, 5 * 10**6, False)


def test_fee_on_output_mode_and_pair_status() -> None:
    s, aux = _pool(collect_fee_mode=1)
    d = dl.quote_detail(s, aux, 10_000, True)  # OnlyY selling X: fee taken from the Y output
    assert not d.fee_on_input and (d.amount_out, d.fee) == (9_990, 10)
    assert dl.quote(s, aux, 10_000, True).fee == 0
    d = dl.quote_detail(s, aux, 10_000, False)  # buying X with Y: fee on the Y input
    assert d.fee_on_input and d.fee == 10
    disabled = replace(s, status=1)
    with pytest.raises(QuoteError) as err:
        dl.quote(disabled, aux, 10_000, True)
    assert err.value.code == dl.ERR_POOL_DISABLED
    with pytest.raises(QuoteError):
        dl.quote(s, aux, 0, True)


def test_limit_orders_fill_after_market_making_liquidity() -> None:
    s, aux = _pool(function_type=2)
    key = dl.bin_array_address(s.address, 0)
    buf = bytearray(aux[key])
    off = lay.OFF_BINS + 0 * lay.BIN_LEN  # bin 0: bid-side orders (Y) fill X -> Y swaps
    struct.pack_into("<Q", buf, off + 112, 300_000)
    struct.pack_into("<Q", buf, off + 128, 200_000)
    aux[key] = bytes(buf)
    d = dl.quote_detail(s, aux, 1_600_000, True)
    assert d.bins[0][0] == 0 and d.bins[0][2] == 1_000_000 and d.bins[0][4] == 500_000
    # limit-order share of the fee: half to the order owners, the rest to the protocol
    assert d.protocol_fee > d.fee * 500 // 10_000
    plain = dl.quote_detail(replace(s, function_type=1), aux, 1_600_000, True)
    assert plain.bins[0][4] == 0 and plain.bins[1][0] == -1


def test_token_2022_transfer_fees_both_sides() -> None:
    ext = struct.pack("<64sQQQHQQH", bytes(64), 0, 0, 10**9, 100, 0, 10**9, 100)  # 1 %
    fee_mint = encode_mint(6) + bytes(165 - 82) + b"\x01" + struct.pack("<HH", 1, len(ext)) + ext
    s, aux = _pool(token_program_y=TOKEN_2022_PROGRAM_ID)
    aux[s.mint_b] = fee_mint
    assert dl.aux_accounts(s)[-1] == s.mint_b and s.mint_a not in dl.aux_accounts(s)
    plain = dl.quote_detail(s, aux, 10_000, False)
    assert plain.input_transfer_fee == 100  # Y in: 1 % leaves before the swap
    assert plain.amount_out == dl.quote_detail(replace(s, token_program_b=TOKEN_PROGRAM_ID), aux, 9_900, False).amount_out
    out = dl.quote_detail(s, aux, 10_000, True)  # Y out: 1 % of the output, rounded up
    assert out.output_transfer_fee == -(-out.amount_out // 100) and out.amount_received == out.amount_out - out.output_transfer_fee
    with pytest.raises(MissingAccount):
        dl.quote(s, {k: v for k, v in aux.items() if k != s.mint_b}, 10_000, True)


def test_swap_instruction_layout() -> None:
    s, _aux = _pool()
    user = Pubkey.from_string("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM")
    ix = dl.swap_instruction(s, user, 10**6, 990_000, True)
    assert ix.program_id == dl.PROGRAM_ID and bytes(ix.data) == dl.SWAP_DISCRIMINATOR + struct.pack("<QQ", 10**6, 990_000)
    keys = [a.pubkey for a in ix.accounts]
    assert keys[0] == s.address and keys[1] == dl.PROGRAM_ID and keys[9] == dl.PROGRAM_ID
    assert keys[8] == s.oracle and keys[13:15] == [dl.EVENT_AUTHORITY, dl.PROGRAM_ID]
    assert keys[15:] == [dl.bin_array_address(s.address, i) for i in (0, -1)]  # X->Y: arrays 0, -1
    assert dl.aux_accounts(s) == [dl.CLOCK_SYSVAR] + [dl.bin_array_address(s.address, i) for i in (0, -1, 2)] + [
        dl.bitmap_extension_address(s.address)]  # fewer than 3 arrays each way: the walk may go on
    assert [a.is_signer for a in ix.accounts].count(True) == 1 and ix.accounts[10].pubkey == user
    t22 = replace(s, token_program_b=TOKEN_2022_PROGRAM_ID)
    ix2 = dl.swap_instruction(t22, user, 1, 0, False, bin_arrays=[], bitmap_extension=dl.bitmap_extension_address(s.address))
    assert bytes(ix2.data)[:8] == dl.SWAP2_DISCRIMINATOR and bytes(ix2.data)[24:] == bytes(4)
    assert ix2.accounts[13].pubkey == Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
    assert ix2.accounts[1].is_writable and len(ix2.accounts) == 16


def test_oracle_decode_and_update() -> None:
    raw = base64.b64decode(json.loads((DATA / "carbon_decoder_fixtures/oracle_account.json").read_text())["data"])
    o = lay.decode_oracle(Pubkey.default(), raw)
    assert (o.idx, o.active_size, o.length) == (0, 1, 100)
    assert o.observations[0] == (-48930, 1748174717, 1748174717)
    t = 1748174717
    same = lay.decode_oracle(Pubkey.default(), lay.update_oracle(raw, -1054, t + 100))
    assert (same.idx, same.observations[0]) == (0, (-48930 - 1054 * 100, t, t + 100))
    nxt = lay.decode_oracle(Pubkey.default(), lay.update_oracle(raw, -1054, t + 120))
    assert (nxt.idx, nxt.active_size, nxt.observations[1]) == (1, 2, (-48930 - 1054 * 120, t + 120, t + 120))
    fresh = lay.decode_oracle(Pubkey.default(), lay.update_oracle(lay.encode_oracle(), 7, 1_000))
    assert (fresh.active_size, fresh.observations[0]) == (1, (7, 1_000, 1_000))
    with pytest.raises(DecodeError):
        lay.decode_oracle(Pubkey.default(), raw[:100])


def test_aux_accounts_key_covers_what_aux_accounts_reads() -> None:
    """Pair states with equal aux_accounts_key list the same aux accounts; the states of a
    pair moving through many swaps (active bin within and across arrays, bitmap changes)."""
    from solarb.runtime.bench_workload import _ADAPTER, Workload

    w = Workload(40, 3, 4, 0)
    pairs = [a for a, kind, _x, _y in w.pools if _ADAPTER[kind] is dl]
    seen: dict[tuple[object, ...], list[Pubkey]] = {}
    keys = set()
    rng = random.Random(4)
    for _round in range(40):
        for address in pairs:
            s = dl.decode_pool(address, w.bank.get_account(address).data)
            variants = [s, replace(s, active_id=s.active_id + rng.choice((-1, 1, 35, 70, -140))),
                        replace(s, bin_array_bitmap=s.bin_array_bitmap ^ (1 << rng.randrange(1024)))]
            for v in variants:
                key = dl.aux_accounts_key(v)
                got = dl.aux_accounts(v)
                assert seen.setdefault(key, got) == got
                keys.add((key[0], key[1]))
        for _ in range(10):
            w._swap()
    assert len(seen) > 3 * len(pairs) and len(keys) > 2 * len(pairs)


@pytest.mark.skipif(dl._NATIVE is None, reason="kernel not built or SOLARB_NATIVE=0")
def test_a_new_state_restarts_the_last_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pair's new state over the same bitmap, starting in the same bin array, binds a copy of
    the last plan's walk (every stretch it planned) with a new head and first entry: the walk a
    cold plan extended as far would be, and the Python walk's quotes. Elsewhere: a new walk."""
    bins = {i: (10**6 + i, 10**6 - i) for i in range(-75, 75, 3)} | {200: (10**9, 10**9)}
    start, aux = _pool(bins=bins, variable_fee_control=40_000)
    amounts = [1, 10**4, 10**6, 3 * 10**6, 10**7, 10**8, 10**9, 2**64 - 1]

    def quotes(state: lay.LbPair, a_to_b: bool) -> list[object]:
        def one(f: object, x: int) -> object:
            try:
                q = f(x)  # type: ignore[operator]
            except QuoteError as exc:
                return (type(exc), str(exc))
            return (q, q.arrays)

        bound = dl.quoter(state, aux, a_to_b)
        got = [one(bound, x) for x in amounts]
        monkeypatch.setattr(dl, "_NATIVE", None)
        want = [one(lambda x: dl.quote(state, aux, x, a_to_b), x) for x in amounts]
        monkeypatch.undo()
        assert got == want
        return got

    def cold_as_far(new: lay.LbPair, a_to_b: bool, bound_walk: mw.KernelWalk) -> None:
        """A walk planned anew from ``aux`` as far as ``bound_walk`` equals it."""
        v = dl._PLANS[new.address].view
        assert v is not None
        cold = mw.KernelWalk(v.fee_args, new.active_id, a_to_b, dl.fee_on_input(new, a_to_b),
                             v.support_lo, v.next_array, lambda i, v=v: v.array(i)[0])  # fmt: skip
        cold.extend(aux, dl._records)
        while cold.terminal == mw.KERNEL_EXTEND and (  # as far as the bound walk was planned
            len(cold.indices) < len(bound_walk.indices) or bound_walk.terminal != mw.KERNEL_EXTEND
        ):
            cold.extend(aux, dl._records)
        fields = ("header", "records", "keys", "datas", "indices", "active", "terminal")
        assert [getattr(cold, f) for f in fields] == [getattr(bound_walk, f) for f in fields]

    for a_to_b in (True, False):
        dl._PLANS.clear()
        s = start
        quotes(s, a_to_b)  # plans and extends the walk of s
        for new, restarts in (
            (replace(s, active_id=5, volatility_accumulator=9_000, index_reference=2), True),
            (replace(s, active_id=69, last_update_timestamp=900), True),
            (replace(s, active_id=-3), False),  # another bin array: planned anew
            (replace(s, active_id=-70, volatility_reference=77), True),
        ):
            last = dl._PLANS[s.address].walks[a_to_b]
            assert last is not None
            bound_walk = dl.quoter(new, aux, a_to_b) and dl._PLANS[s.address].walks[a_to_b]
            assert bound_walk is not None and bound_walk is not last
            assert (len(bound_walk.indices) == len(last.indices) > 1) == restarts
            cold_as_far(new, a_to_b, bound_walk)
            quotes(new, a_to_b)
            s = new
    # an array the last walk read changed (with or without a new state): the walk is restarted
    # with that array's new records (refreshed), as a walk planned anew as far would be
    for new in (s, replace(s, volatility_accumulator=1)):
        for i in (0, 1):
            w = dl._PLANS[s.address].walks[False]
            assert w is not None and len(w.indices) > 2
            key = w.keys[i]
            buf = bytearray(aux[key])
            for b in range(70):  # halve every bin (records change)
                off = lay.OFF_BINS + b * lay.BIN_LEN
                ax, ay = struct.unpack_from("<QQ", buf, off)
                struct.pack_into("<QQ", buf, off, ax // 2, ay // 2)
            aux[key] = bytes(buf)
            dl.quoter(new, aux, False)
            bound_walk = dl._PLANS[s.address].walks[False]
            assert bound_walk is not None and bound_walk is not w
            assert len(bound_walk.indices) == len(w.indices)
            assert bound_walk.records[i] != w.records[i]
            assert bound_walk.records[:i] + bound_walk.records[i + 1 :] == w.records[:i] + w.records[i + 1 :]
            cold_as_far(new, False, bound_walk)
            quotes(new, False)
            s = new
    # an array the walk read gone: planned anew (its first stretch)
    w = dl._PLANS[s.address].walks[False]
    del aux[w.keys[1]]  # type: ignore[union-attr]
    dl.quoter(s, aux, False)
    assert len(dl._PLANS[s.address].walks[False].indices) == 1  # type: ignore[union-attr]
    quotes(s, False)


def _walk_of(v: dl.PairView, active: int, a_to_b: bool, aux: Any, stretches: int = 2) -> mw.KernelWalk:
    """A walk of view ``v`` from bin ``active``, extended ``stretches`` times over ``aux``."""
    w = mw.KernelWalk(v.fee_args, active, a_to_b, dl.fee_on_input(v.state, a_to_b), v.support_lo,
                      v.next_array, v.array_key)  # fmt: skip
    for _ in range(stretches):
        w.extend(aux, dl._records)
    return w


@pytest.mark.skipif(dl._NATIVE is None, reason="kernel not built or SOLARB_NATIVE=0")
def test_a_restarted_walk_extends_as_a_cold_one() -> None:
    """A restarted walk keeps only its sealed header (``head`` and ``ranges`` None until it
    extends, then split off it): extended stretch by stretch, with and without a new fee
    parameter (the head packed anew), it has a cold walk's header, head and ranges each time."""
    bins = {i: (10**6 + i, 10**6 - i) for i in range(-300, 300, 7)}
    s, aux = _pool(bins=bins, variable_fee_control=40_000)
    v = dl._view(s, None)
    for a_to_b in (True, False):
        fee_in = dl.fee_on_input(s, a_to_b)
        last = _walk_of(v, s.active_id, a_to_b, aux)
        for fee, active in ((v.fee_args, 5), (v.fee_args[:3] + (7,) + v.fee_args[4:], 60)):
            w = last.restarted(fee, active, fee_in, v.support_lo, v.next_array, v.array_key, aux,
                               dl._records)  # fmt: skip
            assert w is not None and w.head is None and w.ranges is None
            cold = mw.KernelWalk(fee, active, a_to_b, fee_in, v.support_lo, v.next_array,
                                 v.array_key)  # fmt: skip
            for _ in range(2):
                cold.extend(aux, dl._records)
            assert w.header == cold.header
            for _ in range(3):
                w.extend(aux, dl._records), cold.extend(aux, dl._records)
                assert (w.header, w.head, w.ranges) == (cold.header, cold.head, cold.ranges)
            assert len(w.indices) == 5


@pytest.mark.skipif(dl._NATIVE is None, reason="kernel not built or SOLARB_NATIVE=0")
def test_a_refreshed_walk_extends_as_a_cold_one() -> None:
    """A refreshed walk (a bin array it read written) takes its source's sealed header, its
    ``head`` and ``ranges`` None until it extends or is sealed: from an extended walk, from a
    restarted one (no parts either), and with a terminal that changes (an array not loaded, then
    loaded: sealed from the header), it has a cold walk's header, head and ranges as it extends."""
    bins = {i: (10**6 + i, 10**6 - i) for i in range(-300, 300, 7)}
    s, aux = _pool(bins=bins, variable_fee_control=40_000)
    v = dl._view(s, None)

    def cold_as(w: mw.KernelWalk, accounts: dict[Pubkey, bytes], fee: tuple[int, ...],
                active: int) -> mw.KernelWalk:  # fmt: skip
        cold = mw.KernelWalk(fee, active, w.swap_for_y, dl.fee_on_input(s, w.swap_for_y),
                             v.support_lo, v.next_array, v.array_key)  # fmt: skip
        for _ in range(len(w.indices) + (w.terminal != mw.KERNEL_EXTEND)):
            cold.extend(accounts, dl._records)
        return cold

    def rewrite(accounts: dict[Pubkey, bytes], key: Pubkey) -> None:
        data = bytearray(accounts[key])
        struct.pack_into("<Q", data, lay.OFF_BINS + 144 * 3, 5 + data[lay.OFF_BINS + 144 * 3])
        accounts[key] = bytes(data)

    for a_to_b in (True, False):
        fee_in = dl.fee_on_input(s, a_to_b)
        first = _walk_of(v, s.active_id, a_to_b, aux)
        restarted = first.restarted(v.fee_args, 5, fee_in, v.support_lo, v.next_array,
                                    v.array_key, aux, dl._records)  # fmt: skip
        assert restarted is not None and restarted.head is None
        for src, fee, active in ((first, v.fee_args, s.active_id), (restarted, v.fee_args, 5)):
            acc = dict(aux)
            rewrite(acc, src.keys[-1])
            w = src.refreshed(acc, dl._records)
            assert w is not None and w.head is None and w.ranges is None
            cold = cold_as(w, acc, fee, active)
            assert w.header == cold.header and w.records == cold.records
            for _ in range(3):
                w.extend(acc, dl._records), cold.extend(acc, dl._records)
                assert (w.header, w.head, w.ranges) == (cold.header, cold.head, cold.ranges)
            assert src.header == cold_as(src, aux, fee, active).header  # the source as it was
        # the next array not loaded, then loaded (and one read written): sealed from the header
        acc = dict(aux)
        nxt = v.array_key(v.next_array(first.indices[-1] + (-1 if a_to_b else 1), a_to_b))
        del acc[nxt]
        w = first.refreshed(acc, dl._records)
        assert w is not None
        w.extend(acc, dl._records)
        assert w.terminal == mw.KERNEL_NOT_LOADED
        acc[nxt] = aux[nxt]
        rewrite(acc, w.keys[0])
        w2 = w.refreshed(acc, dl._records)
        assert w2 is not None and w2.terminal == mw.KERNEL_EXTEND and w2.header != w.header
        cold = cold_as(w2, acc, v.fee_args, s.active_id)
        assert w2.header == cold.header
        w2.extend(acc, dl._records), cold.extend(acc, dl._records)
        assert (w2.header, w2.head, w2.ranges) == (cold.header, cold.head, cold.ranges)
