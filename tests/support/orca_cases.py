"""Random Orca Whirlpool pools and swaps for differential tests (the npm oracle's and the native
kernel's): positions over several tick arrays, fee and protocol rates, prices near the tick
bounds, liquidity up to 2^110, amounts from 1 to u64::MAX, fixed and dynamic arrays, missing
arrays, adaptive fees and Token-2022 transfer fees."""

from __future__ import annotations

import math
import random
from typing import Any

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint

U64 = 2**64 - 1
SPACINGS = (1, 2, 4, 8, 16, 64, 96, 128, 256, 32896)


def random_key(rng: random.Random) -> Pubkey:
    return Pubkey.from_bytes(rng.randbytes(32))


def mint_with_transfer_fee(bps: int, max_fee: int, decimals: int = 6) -> bytes:
    """A Token-2022 mint with only the TransferFeeConfig extension (same fee in both epochs)."""
    base = encode_mint(supply=10**15, decimals=decimals)
    ext = bytes(64) + (0).to_bytes(8, "little")
    fee = (0).to_bytes(8, "little") + max_fee.to_bytes(8, "little") + bps.to_bytes(2, "little")
    body = ext + fee + fee
    return base + bytes(165 - len(base)) + b"\x01" + (1).to_bytes(2, "little") + len(body).to_bytes(2, "little") + body


def clock(unix_ts: int, epoch: int = 500) -> bytes:
    """Clock sysvar bytes."""
    return (1000).to_bytes(8, "little") + (0).to_bytes(8, "little") + epoch.to_bytes(8, "little") + epoch.to_bytes(8, "little") + unix_ts.to_bytes(8, "little", signed=True)


def _log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(2 ** rng.uniform(lo.bit_length() - 1, hi.bit_length()))))


def random_case(rng: random.Random) -> tuple[dict[str, Any], wl.Whirlpool, dict[Pubkey, bytes]]:
    """One random pool + swap: (SDK case, decoded pool, aux account bytes)."""
    ts = rng.choice(SPACINGS)
    span = 88 * ts
    lo_usable, hi_usable = -(443636 // ts) * ts, (443636 // ts) * ts
    where = rng.random()
    if where < 0.1:
        tick = rng.randint(cm.MIN_TICK, cm.MIN_TICK + 3 * span)
    elif where < 0.2:
        tick = rng.randint(cm.MAX_TICK - 3 * span, cm.MAX_TICK - 1)
    elif where < 0.35:
        tick = rng.choice((0, -1, 1)) * rng.randint(0, 4) * span + rng.choice((0, -1, ts - 1, -ts))
    else:
        tick = rng.randint(-200_000, 200_000)
    tick = max(cm.MIN_TICK, min(cm.MAX_TICK - 1, tick))
    sp_lo, sp_hi = cm.sqrt_price_at_tick(tick), cm.sqrt_price_at_tick(tick + 1)
    sqrt_price = sp_lo if rng.random() < 0.3 else rng.randint(sp_lo, sp_hi - 1)
    a_to_b = rng.random() < 0.5
    base = tick // span * span
    # positions in a window of 4 arrays each way; sorted ticks on the spacing grid
    win_lo, win_hi = max(lo_usable, base - 4 * span), min(hi_usable, base + 5 * span)
    positions = []
    near = rng.random() < 0.6  # dense ranges around the price (many crossings) or spread out
    # liquidity whose token amounts over ~1% of price stay within u64 at this price, sometimes far more
    depth = 2 ** rng.uniform(20, 66) * min(sqrt_price, cm.Q64 * cm.Q64 // sqrt_price) / cm.Q64
    huge = rng.random() < 0.1
    for _ in range(rng.choice((0, 1, 3, 8, 20, 40, 80, 150, 150))):
        if near:
            a = (tick // ts - rng.randint(0, 60)) * ts
            b = (tick // ts + rng.randint(1, 60)) * ts
        else:
            a = rng.randint(win_lo // ts, win_hi // ts) * ts
            b = rng.randint(win_lo // ts, win_hi // ts) * ts
        a, b = max(lo_usable, min(a, b)), min(hi_usable, max(a, b))
        if a >= b:
            continue
        liq = _log_uniform(rng, 1, 2**110) if huge else max(1, int(depth * 2 ** rng.uniform(-8, 0)))
        positions.append((a, b, liq))
    if rng.random() < 0.25:
        positions.append((lo_usable, hi_usable, _log_uniform(rng, 1, 2**90) if huge else max(1, int(depth))))
    net: dict[int, int] = {}
    gross: dict[int, int] = {}
    for a, b, liq in positions:
        net[a] = net.get(a, 0) + liq
        net[b] = net.get(b, 0) - liq
        gross[a] = gross.get(a, 0) + liq
        gross[b] = gross.get(b, 0) + liq
    liquidity = sum(liq for a, b, liq in positions if a <= tick < b)
    fee_rate = rng.choice((0, 1, 100, 300, 500, 3000, 10000, 30000, 60000, rng.randint(0, 60000)))
    pfr = rng.choice((0, 300, 1300, 2500, rng.randint(0, 2500)))
    adaptive = rng.random() < 0.2
    fee_tier = ts if not adaptive else 1024 + ts
    address = random_key(rng)
    mint_a, mint_b = sorted((random_key(rng), random_key(rng)), key=bytes)
    zero_reward = wl.RewardInfo(Pubkey.default(), Pubkey.default(), bytes(32), 0, 0)
    pool = wl.Whirlpool(
        address, "orca_whirlpool", random_key(rng), 255, ts, fee_tier, fee_rate, pfr, liquidity, sqrt_price,
        tick, 0, 0, mint_a, random_key(rng), 0, mint_b, random_key(rng), 0, 0, (zero_reward,) * 3,
    )  # fmt: skip
    now = rng.randint(1_700_000_000, 1_800_000_000)
    aux: dict[Pubkey, bytes] = {ow.CLOCK_SYSVAR: clock(now)}
    arrays = []
    dynamic = rng.random() < 0.4
    for start in wl.swap_start_indexes(tick, ts, a_to_b):
        ticks = {
            (t - start) // ts: wl.Tick(net[t], gross[t]) for t in net if start <= t < start + span and gross[t] > 0
        }
        key = wl.tick_array_address(address, start)
        if not ticks and rng.random() < 0.5:
            aux[key] = b""  # account does not exist: the program uses a zeroed array
        else:
            enc = wl.encode_dynamic_tick_array if dynamic else wl.encode_fixed_tick_array
            aux[key] = enc(start, address, ticks)
        arrays.append({"start": start, "ticks": [[o, str(t.liquidity_net), str(t.liquidity_gross)] for o, t in ticks.items()]})
    oracle_json = None
    if adaptive:
        tgs = rng.choice([d for d in (1, 2, 4, 8, 16, 32, 64) if ts % d == 0 and d <= ts])
        filt = rng.randint(1, 60)
        consts = wl.AdaptiveFeeConstants(
            filt, rng.randint(filt + 1, 600), rng.randint(0, 9999), rng.randint(0, 99_999),
            rng.randint(0, min(450_000, (2**32 - 1) // tgs)), tgs, rng.randint(1, min(88 * ts, 65535)),
        )  # fmt: skip
        last_ref = now - rng.choice((0, 1, filt, 100, 599, 3601, 10_000))
        last_major = rng.randint(last_ref, now) if rng.random() < 0.7 else last_ref
        va = rng.randint(0, consts.max_volatility_accumulator)
        variables = wl.AdaptiveFeeVariables(
            last_ref, last_major, rng.randint(0, va), tick // tgs + rng.randint(-30, 30), va
        )
        aux[wl.oracle_address(address)] = wl.encode_oracle(wl.Oracle(address, 0, consts, variables))
        oracle_json = {
            "trade_enable_timestamp": "0",
            "constants": {k: getattr(consts, k) for k in consts.__slots__},  # type: ignore[attr-defined]
            "variables": {k: str(getattr(variables, k)) if "timestamp" in k else getattr(variables, k) for k in variables.__slots__},  # type: ignore[attr-defined]
        }
    tf: list[Any] = [None, None]
    if rng.random() < 0.15:
        side = rng.randint(0, 2)
        for i in (0, 1):
            if side in (i, 2):
                bps, mx = rng.choice((1, 50, 100, 500, 10_000)), rng.choice((0, 1, 10**6, 10**12, U64))
                tf[i] = [bps, str(mx)]
                aux[(mint_a, mint_b)[i]] = mint_with_transfer_fee(bps, mx)
        pool = wl.Whirlpool(**{**{k: getattr(pool, k) for k in pool.__slots__},  # type: ignore[attr-defined]
                               "token_program_a": TOKEN_2022_PROGRAM_ID if tf[0] else TOKEN_PROGRAM_ID,
                               "token_program_b": TOKEN_2022_PROGRAM_ID if tf[1] else TOKEN_PROGRAM_ID})
    # amounts relative to the liquidity in range (a relative price move of about 2^-k), plus extremes
    scale = (liquidity or gross.get(min(gross, default=0), 1)) * (cm.Q64 if a_to_b else sqrt_price)
    k0 = max(0, -math.floor(math.log2(min(1.0, 3 * span * 0.00005))))  # about the 3 arrays' range
    rel = scale // (sqrt_price if a_to_b else cm.Q64) >> rng.randint(k0, k0 + 12)
    amount = rng.choice((1, rng.randint(1, 1000), _log_uniform(rng, 1, U64), U64, *(min(U64, max(1, rel)),) * 6))
    case = {
        "whirlpool": {
            "fee_tier_index": fee_tier, "tick_spacing": ts, "fee_rate": fee_rate, "protocol_fee_rate": pfr,
            "liquidity": str(liquidity), "sqrt_price": str(sqrt_price), "tick_current_index": tick,
        },
        "oracle": oracle_json, "tick_arrays": arrays, "amount": str(amount), "a_to_b": a_to_b,
        "timestamp": str(now), "transfer_fee_a": tf[0], "transfer_fee_b": tf[1],
    }  # fmt: skip
    # the decoded pool must round-trip through its bytes
    raw = wl.encode_whirlpool(pool)
    decoded = ow.decode_pool(address, raw, token_program_a=pool.token_program_a, token_program_b=pool.token_program_b)
    assert decoded == pool
    return case, decoded, aux
