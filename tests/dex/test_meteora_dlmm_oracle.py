"""Differential tests: the Meteora DLMM adapter against @meteora-ag/dlmm 1.9.14 (tests/oracle).

All cases go to the node oracle in one subprocess call. Pool states are real account bytes built by
the cluster's ``create_pool`` and then randomised (fee parameters, volatility state, fee mode,
function type, limit orders, Token-2022 transfer fees); the SDK decodes the same bytes with its own
coder and runs ``DLMM.swapQuote`` (no partial fill) with ``Date.now`` pinned to the case's clock.

The SDK's ``fee`` is the LP share of the trading fee (``split_fee``), compared with the adapter's
``lp_fee``; ``protocol_fee`` is compared as is. When the adapter raises
:class:`InsufficientLiquidity` (the program fails), or the input transfer fee leaves nothing to
swap, the SDK must refuse the quote too.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex.base import InsufficientLiquidity, QuoteError
from solarb.dex.meteora_dlmm_math import MathOverflow
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.sim.programs import meteora_dlmm as sim
from tests.support.dlmm_cases import add_limit_orders, fee_mint
from tests.support.oracle import run_oracle

pytestmark = pytest.mark.oracle

ORACLE = Path(__file__).resolve().parents[1] / "oracle"
N_CASES = 1000
SEED = 20251125
BIN_STEPS = (1, 2, 4, 5, 8, 10, 15, 16, 20, 25, 50, 80, 100, 200, 250, 400)


def _run_oracle(request: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = run_oracle("meteora_dlmm.mjs", "@meteora-ag/dlmm", request)
    return result


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _amount(rng: random.Random, hi: int = 10**13) -> int:
    return int(10 ** rng.uniform(0, math.log10(hi)))


def _random_state(rng: random.Random) -> tuple[lay.LbPair, dict[Pubkey, bytes], int, int]:
    """A random pair: returns (state, aux incl. clock and mints, timestamp, epoch)."""
    extension_case = rng.random() < 0.1
    bin_step = 1 if extension_case else rng.choice(BIN_STEPS)
    bound = min(30_000, int(18 / math.log1p(bin_step / 10_000)))
    if extension_case:
        active = rng.choice((1, -1)) * rng.randint(35_700, 35_900)
    else:
        active = rng.randint(-bound, bound)
    width = rng.choice((3, 30, 120, 300))
    bins: dict[int, tuple[int, int]] = {}
    gap = rng.random() < 0.3
    for b in range(active - width, active + width + 1):
        if rng.random() < (0.5 if gap else 0.15) or abs(b) > bound + width and not extension_case:
            continue
        if gap and 5 < abs(b - active) < 90:
            continue  # an empty stretch, often a whole empty bin array
        big = 10 ** rng.randint(0, 12)
        ax = rng.randint(0, big) if b >= active else 0
        ay = rng.randint(0, big) if b <= active else 0
        if ax or ay:
            bins[b] = (ax, ay)
    t22_x, t22_y = rng.random() < 0.15, rng.random() < 0.15
    max_va = rng.choice((0, 10_000, 350_000, rng.randint(0, 2_000_000)))
    last_ts = rng.randint(1_600_000_000, 1_800_000_000)
    filter_p = rng.randint(0, 60)
    decay_p = rng.randint(filter_p, 1_200)
    base_factor = rng.randint(1, 0xFFFF) if rng.random() < 0.3 else rng.randint(1, 20_000)
    pair, accounts = sim.create_pool(
        mint_x=Pubkey.new_unique(), mint_y=Pubkey.new_unique(), bin_step=bin_step,
        base_factor=base_factor, active_id=active, bins=bins,
        token_program_x=TOKEN_2022_PROGRAM_ID if t22_x else TOKEN_PROGRAM_ID,
        token_program_y=TOKEN_2022_PROGRAM_ID if t22_y else TOKEN_PROGRAM_ID,
        filter_period=filter_p, decay_period=decay_p, reduction_factor=rng.randint(0, 10_000),
        variable_fee_control=rng.choice((0, rng.randint(0, 500_000))),
        max_volatility_accumulator=max_va, protocol_share=rng.randint(0, 2_500),
        base_fee_power_factor=rng.choice((0, 0, 0, 1, 2)), function_type=rng.choice((0, 1, 2)),
        collect_fee_mode=rng.choice((0, 1)), volatility_accumulator=rng.randint(0, max_va),
        volatility_reference=rng.randint(0, max_va), index_reference=active + rng.randint(-30, 30),
        last_update_timestamp=last_ts,
    )  # fmt: skip
    aux = {k: v.data for k, v in accounts.items()}
    state = dl.decode_pool(pair, aux[pair])
    if rng.random() < 0.3:  # limit orders on some bins (either side, open and processed)
        add_limit_orders(aux, rng, lambda: _amount(rng, 10**10))
    epoch = rng.randint(0, 1_000)
    for mint, t22 in ((state.mint_a, t22_x), (state.mint_b, t22_y)):
        if t22:
            aux[mint] = fee_mint((rng.randint(0, 1_000), _amount(rng, 10**9), rng.randint(0, 10_000),
                                   rng.randint(0, 1_000), _amount(rng, 10**9), rng.randint(0, 10_000)))  # fmt: skip
        else:
            aux[mint] = encode_mint(rng.choice((6, 9)))
    ts = last_ts + rng.choice((0, rng.randint(0, 60), rng.randint(0, 2_000), rng.randint(0, 10**6)))
    aux[dl.CLOCK_SYSVAR] = struct.pack("<QqQQq", 1, 0, epoch, 0, ts)
    return state, aux, ts, epoch


def _case(state: lay.LbPair, aux: dict[Pubkey, bytes], ts: int, epoch: int, amount: int,
          swap_for_y: bool) -> dict[str, Any]:  # fmt: skip
    ext_key = dl.bitmap_extension_address(state.address)
    start, step = state.active_id // 70, (-1 if swap_for_y else 1)

    def mint(k: Pubkey, prog: Pubkey) -> dict[str, str]:
        return {"pubkey": str(k), "data": _b64(aux[k]), "owner": str(prog)}

    return {
        "pair": str(state.address),
        "pair_data": _b64(aux[state.address]),
        "extension": {"pubkey": str(ext_key), "data": _b64(aux[ext_key])} if ext_key in aux else None,
        "mint_x": mint(state.mint_a, state.token_program_a),
        "mint_y": mint(state.mint_b, state.token_program_b),
        "epoch": epoch,
        "timestamp": ts,
        "amount_in": str(amount),
        "swap_for_y": swap_for_y,
        "bin_arrays": [  # only the swap's side: the walk never turns back
            {"pubkey": str(k), "data": _b64(v)} for k, v in aux.items()
            if len(v) == lay.BIN_ARRAY_LEN and (struct.unpack_from("<q", v, 8)[0] - start) * step >= 0
        ],
    }


def test_quotes_match_sdk() -> None:
    rng = random.Random(SEED)
    cases, expected = [], []
    multi_bin = multi_array = extension_used = limit_fills = fee_on_output = t22 = overflows = 0
    for _ in range(N_CASES):
        state, aux, ts, epoch = _random_state(rng)
        swap_for_y = rng.random() < 0.5
        amount = _amount(rng, rng.choice((10**3, 10**9, 10**13, 2**64 - 1)))
        try:
            s = dl.quote_detail(state, aux, amount, swap_for_y)
            expected.append(s)
            multi_bin += len(s.bins) > 1
            multi_array += len(set(s.bin_arrays)) > 1
            extension_used += any(abs(i) > 511 for i in s.bin_arrays)
            limit_fills += any(b[3] for b in s.bins)
            fee_on_output += not s.fee_on_input
            t22 += bool(s.input_transfer_fee or s.output_transfer_fee)
        except MathOverflow:  # the program's checked u64 casts fail; the SDK's BN math does not
            overflows += 1
            continue
        except QuoteError as exc:  # out of liquidity, or nothing left after the transfer fee
            assert isinstance(exc, InsufficientLiquidity) or exc.code == dl.ERR_INVALID_INPUT
            expected.append(exc)
        cases.append(_case(state, aux, ts, epoch, amount, swap_for_y))
    answers = _run_oracle({"quotes": cases})["quotes"]
    failures = []
    fills = 0
    for case, exp, got in zip(cases, expected, answers, strict=True):
        if isinstance(exp, QuoteError):
            if "error" not in got:
                failures.append((case["amount_in"], "adapter: no liquidity", got))
            continue
        fills += 1
        mine = {
            "amount_out": str(exp.amount_received),
            "fee": str(exp.lp_fee),
            "protocol_fee": str(exp.protocol_fee),
        }
        theirs = {k: got.get(k) for k in mine}
        if mine != theirs:
            failures.append((case["amount_in"], mine, got))
    assert not failures, f"{len(failures)} mismatches: {failures[:40]}"
    # the random states must exercise what they claim to
    assert overflows < N_CASES // 10, overflows
    assert fills >= 750 and multi_bin >= 220 and multi_array >= 40, (fills, multi_bin, multi_array)
    assert extension_used >= 5 and limit_fills >= 20 and fee_on_output >= 100 and t22 >= 50, (
        extension_used, limit_fills, fee_on_output, t22)


def test_real_pair_quotes_match_sdk() -> None:
    folder = Path("/work/shared/data/accounts/meteora_dlmm/jlp_hubsol_6StaAqeV")
    if not folder.is_dir():
        folder = Path(__file__).resolve().parents[3] / "shared/data/accounts/meteora_dlmm/jlp_hubsol_6StaAqeV"
    aux: dict[Pubkey, bytes] = {}
    for f in folder.glob("*.json"):
        j = json.loads(f.read_text())
        aux[Pubkey.from_string(j["pubkey"])] = base64.b64decode(j["account"]["data"][0])
    pair = Pubkey.from_string("6StaAqeVjKUPTgMLmcLmdpmUjoYHRcZ6uViLdWNdUghM")
    state = dl.decode_pool(pair, aux[pair])
    cases, expected = [], []
    for dt in (0, 10, 45, 700):
        ts = state.last_update_timestamp + dt
        aux[dl.CLOCK_SYSVAR] = struct.pack("<QqQQq", 1, 0, 700, 0, ts)
        for amount in (1, 10**6, 10**9, 5 * 10**9, 10**11):
            for swap_for_y in (True, False):
                try:
                    s = dl.quote_detail(state, aux, amount, swap_for_y)
                    expected.append((str(s.amount_received), str(s.lp_fee)))
                except InsufficientLiquidity:
                    expected.append(None)
                except Exception as exc:  # missing bin array: the SDK has none either
                    expected.append(type(exc).__name__)
                cases.append(_case(state, aux, ts, 700, amount, swap_for_y))
    answers = _run_oracle({"quotes": cases})["quotes"]
    compared = 0
    for exp, got in zip(expected, answers, strict=True):
        if isinstance(exp, tuple):
            assert (got.get("amount_out"), got.get("fee")) == exp
            compared += 1
        else:
            assert "error" in got
    assert compared >= 30


def test_instructions_match_sdk_builder() -> None:
    rng = random.Random(SEED + 1)
    cases, mine = [], []
    for i in range(40):
        state, aux, _ts, _epoch = _random_state(rng)
        if i % 4 == 0:  # force a Token-2022 side -> swap2
            state = replace(state, token_program_b=TOKEN_2022_PROGRAM_ID, token_mint_y_program_flag=1)
            aux[state.address] = lay.encode_lb_pair(state)
        user = Pubkey.new_unique()
        swap_for_y = rng.random() < 0.5
        amount, min_out = rng.randint(1, 2**64 - 1), rng.randint(0, 2**64 - 1)
        arrays = [Pubkey.new_unique() for _ in range(rng.randint(0, 4))]
        ext = dl.bitmap_extension_address(state.address) if rng.random() < 0.5 else None
        ix = dl.swap_instruction(state, user, amount, min_out, swap_for_y,
                                 bin_arrays=arrays if i % 3 else None, bitmap_extension=ext)  # fmt: skip
        if i % 3 == 0:
            arrays = [dl.bin_array_address(state.address, j)
                      for j in dl.bin_arrays_for_swap(state, swap_for_y)]  # fmt: skip
        mine.append({
            "program_id": str(ix.program_id),
            "accounts": [[str(a.pubkey), a.is_signer, a.is_writable] for a in ix.accounts],
            "data": bytes(ix.data).hex(),
        })
        cases.append({
            "pair": str(state.address), "pair_data": _b64(aux[state.address]),
            "token_x_program": str(state.token_program_a), "token_y_program": str(state.token_program_b),
            "swap_for_y": swap_for_y, "user": str(user), "amount_in": str(amount), "min_out": str(min_out),
            "bin_arrays": [str(k) for k in arrays], "extension": str(ext) if ext else None,
            "v2": TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b),
        })  # fmt: skip
    answers = _run_oracle({"ixs": cases})["ixs"]
    for exp, got in zip(mine, answers, strict=True):
        assert exp == got
