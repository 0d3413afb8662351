"""Random Raydium CLMM pools for differential tests (the npm oracle's and the native kernel's):
states built by the cluster's ``create_pool`` (real layouts at real PDAs) with positions over
several tick arrays, fee tiers, limit orders, Token-2022 mints and extensions."""

from __future__ import annotations

import random
import struct

from solders.pubkey import Pubkey

from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex import raydium_clmm_layout as lay
from solarb.errors import UsageError
from solarb.sim.programs import raydium_clmm as model

SPACINGS = (1, 1, 2, 5, 10, 10, 60, 64, 120, 200)
FEES = (0, 100, 400, 500, 2500, 3000, 10_000, 20_000, 100_000)
CLOCK_TS = 1_760_000_000


def clock(ts: int) -> bytes:
    """Clock sysvar bytes at unix time ``ts``."""
    return struct.pack("<QqQQq", 1000, ts - 100, 700, 701, ts)


def random_pool(rng: random.Random) -> tuple[Pubkey, dict[Pubkey, bytes]]:
    """A random pool: its address and every account a quote reads, as bytes."""
    spacing = rng.choice(SPACINGS)
    span = spacing * 60
    mode = rng.random()
    if mode < 0.15 and spacing < 15:  # around the default bitmap's edge: the extension is used
        edge = nav.max_tick_in_bitmap(spacing)
        center = rng.choice((edge, -edge)) + rng.randint(-3, 3) * span
    elif mode < 0.25:  # near the price limits
        center = rng.choice((1, -1)) * rng.randint(lay.MAX_TICK - 8 * span, lay.MAX_TICK - span)
    else:
        center = rng.randint(-60_000, 60_000)
    center = max(lay.MIN_TICK + 4 * span, min(lay.MAX_TICK - 4 * span, center))
    base = (center // spacing) * spacing
    positions = []
    ladder = rng.random() < 0.6  # many narrow positions over several arrays: many crossings
    for _ in range(rng.randint(10, 70) if ladder else rng.randint(1, 8)):
        if ladder:
            lo = base + rng.randint(-240, 180) * spacing
            up = min(lo + rng.randint(1, 25) * spacing, (lay.MAX_TICK // spacing) * spacing)
            lo = max(lo, -(lay.MAX_TICK // spacing) * spacing)
            if lo < up:
                positions.append((lo, up, int(10 ** rng.uniform(5, 16))))
            continue
        if rng.random() < 0.7:  # covers the price
            lo = base - rng.randint(0, 3 * 60) * spacing
            up = base + rng.randint(1, 3 * 60) * spacing
        else:
            lo = base + rng.randint(-4 * 60, 3 * 60) * spacing
            up = lo + rng.randint(1, 3 * 60) * spacing
        lo, up = max(lo, (lay.MIN_TICK // spacing + 1) * spacing), min(up, (lay.MAX_TICK // spacing) * spacing)
        if lo >= up:
            continue
        positions.append((lo, up, int(10 ** rng.uniform(4, 24))))
    if not positions:
        positions.append((base - spacing, base + spacing, 10**9))
    if rng.random() < 0.3:  # price exactly on an initialized tick
        t = rng.choice([p[rng.randint(0, 1)] for p in positions])
        sqrt = cm.raydium_sqrt_price_at_tick(t)
    else:
        sqrt = cm.raydium_sqrt_price_at_tick(base) + rng.randint(0, 2**40)
    dyn = None
    if rng.random() < 0.2:
        fp = rng.randint(1, 60)
        dyn = lay.DynamicFeeInfo(
            filter_period=fp, decay_period=fp + rng.randint(1, 600), reduction_factor=rng.randint(1, 9999),
            dynamic_fee_control=rng.randint(1, 99_999), max_volatility_accumulator=rng.randint(1, 2_000_000 // spacing),
            tick_spacing_index_reference=base // spacing + rng.randint(-5, 5),
            volatility_reference=0, volatility_accumulator=rng.randint(0, 50_000),
            last_update_timestamp=CLOCK_TS - rng.randint(0, 900),
        )  # fmt: skip
    orders = []
    if rng.random() < 0.35:
        for _ in range(rng.randint(1, 6)):
            t = base + rng.randint(-200, 200) * spacing
            if lay.MIN_TICK < t < lay.MAX_TICK:
                part = int(10 ** rng.uniform(1, 12)) if rng.random() < 0.3 else 0
                orders.append((t, int(10 ** rng.uniform(1, 13)) if rng.random() < 0.8 else 0, part))
    for _ in range(12):
        try:
            pool, accs = model.create_pool(
                mint_a=Pubkey(rng.randbytes(32)), mint_b=Pubkey(rng.randbytes(32)), tick_spacing=spacing,
                trade_fee_rate=rng.choice(FEES), positions=positions, sqrt_price_x64=sqrt,
                protocol_fee_rate=rng.choice((0, 120_000, 250_000)), fund_fee_rate=rng.choice((0, 40_000)),
                fee_on=rng.choice((0, 0, 0, 1, 2)), dynamic_fee=dyn, limit_orders=orders,
            )  # fmt: skip
            break
        except UsageError as exc:  # deposits above u64: shrink liquidity
            assert "u64" in str(exc), exc
            positions = [(lo, up, max(1, liq // 1000)) for lo, up, liq in positions]
            orders = [(t, o // 1000, p // 1000) for t, o, p in orders]
    else:
        raise AssertionError("could not build a pool")
    aux = {k: a.data for k, a in accs.items()}
    aux[rc.CLOCK_SYSVAR] = clock(CLOCK_TS)
    return pool, aux


def depth_amount(rng: random.Random, state: lay.ClmmPool, aux: dict[Pubkey, bytes], a_to_b: bool) -> int:
    """An input worth a random fraction of the output vault at the current price (crosses ticks)."""
    from solarb.dex.spl_token import token_account_amount

    out = token_account_amount(aux[state.vault_b if a_to_b else state.vault_a])
    p2 = state.sqrt_price_x64 * state.sqrt_price_x64
    depth = out * 2**128 // p2 if a_to_b else out * p2 >> 128
    return max(1, min(2**64 - 1, int(depth * rng.uniform(0.05, 1.1))))
