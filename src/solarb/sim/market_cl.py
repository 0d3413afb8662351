"""Concentrated-liquidity pools for the market generator (Whirlpool, Raydium CLMM, Meteora DLMM).

:func:`create_cl_pool` turns a price and a value into a pool with realistic liquidity around the
price, through each program model's ``create_pool`` factory:

* Whirlpool (tick spacing 8, 0.05%) and Raydium CLMM (spacing 10, 0.05%): three positions
  centred (with a seeded jitter) on the current tick: a narrow one (about +-0.6%), a middle one
  (+-3%) and a wide one (+-20%, several tick arrays each way), holding 25/35/40% of the value;
* DLMM (bin step 5, base factor 10000: 0.05% base fee): a bell of bins +-120 around the active bin
  (about +-6%, over four bin arrays each way), Y below the active bin, X above, both in it.

Whirlpool pools also get empty tick arrays for three array spans past the outer positions and DLMM
pairs an (empty) bitmap extension, so every account a swap from any reachable price may list
exists on chain. Prices and values are floats (generation only); the amounts written are ints.
"""

from __future__ import annotations

import math
import random

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_clmm
from solarb.dex import meteora_dlmm_layout as dlmm_layout
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex.base import DecodeError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs import meteora_dlmm as dlmm_model
from solarb.sim.programs import orca_whirlpool as whirlpool_model
from solarb.sim.programs import raydium_clmm as clmm_model

__all__ = ["CL_KINDS", "create_cl_pool"]

CL_KINDS = (orca_whirlpool.NAME, raydium_clmm.NAME, meteora_dlmm.NAME)

_WHIRLPOOL_SPACING, _WHIRLPOOL_FEE = 16, 1600  # fee in 1e-6 (0.16%)
_CLMM_SPACING, _CLMM_FEE = 10, 500  # fee in 1e-6 (0.05%)
_DLMM_BIN_STEP, _DLMM_BASE_FACTOR, _DLMM_HALF_WIDTH = 10, 10_000, 80
_POSITIONS = ((60, 0.25), (300, 0.35), (2000, 0.40))  # (half width in ticks, share of value)
_LOG_TICK = math.log(1.0001)


def create_cl_pool(
    kind: str,
    *,
    mint_a: Pubkey,
    mint_b: Pubkey,
    decimals_a: int,
    decimals_b: int,
    price: float,
    value_b: float,
    rng: random.Random,
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A ``kind`` pool (one of :data:`CL_KINDS`) of ``mint_a``/``mint_b`` at ``price`` (base units
    of B per base unit of A) holding about ``value_b`` base units of B worth of both tokens.
    Returns ``(address, {pubkey: account})`` for the bank. ``KeyError`` for an unknown kind."""
    if kind == meteora_dlmm.NAME:
        return _dlmm(mint_a, mint_b, decimals_a, decimals_b, price, value_b, rng)
    spacing = _WHIRLPOOL_SPACING if kind == orca_whirlpool.NAME else _CLMM_SPACING
    if kind not in (orca_whirlpool.NAME, raydium_clmm.NAME):
        raise KeyError(kind)
    sqrt_price_x64 = int(math.sqrt(price) * 2**64)
    positions = _positions(price, spacing, value_b, rng)
    if kind == raydium_clmm.NAME:
        return clmm_model.create_pool(
            mint_a=mint_a, mint_b=mint_b, tick_spacing=spacing, trade_fee_rate=_CLMM_FEE,
            positions=positions, sqrt_price_x64=sqrt_price_x64, decimals_a=decimals_a,
            decimals_b=decimals_b,
        )  # fmt: skip
    address, accounts = whirlpool_model.create_pool(
        mint_a=mint_a, mint_b=mint_b, tick_spacing=spacing, fee_rate=_WHIRLPOOL_FEE,
        positions=positions, sqrt_price_x64=sqrt_price_x64, decimals_a=decimals_a,
        decimals_b=decimals_b,
    )  # fmt: skip
    _pad_tick_arrays(address, accounts, spacing)
    return address, accounts


def _positions(
    price: float, spacing: int, value_b: float, rng: random.Random
) -> list[tuple[int, int, int]]:
    """``(tick_lower, tick_upper, liquidity)`` ranges around the price holding ``value_b``."""
    tick = math.floor(math.log(price) / _LOG_TICK)
    s = math.sqrt(price)
    out = []
    for half, share in _POSITIONS:
        centre = tick + int(rng.gauss(0.0, half / 6))
        lo = min(centre - half, tick - spacing) // spacing * spacing  # the price stays inside
        hi = -(-max(centre + half, tick + 2 * spacing) // spacing) * spacing
        sl, su = math.exp(lo * _LOG_TICK / 2), math.exp(hi * _LOG_TICK / 2)
        # value in B of liquidity L with the price inside [sl, su]: L * (2s - sl - s^2/su)
        per_l = 2 * s - sl - s * s / su
        out.append((lo, hi, max(1, int(value_b * share / per_l))))
    return out


def _pad_tick_arrays(address: Pubkey, accounts: dict[Pubkey, Account], spacing: int) -> None:
    """Empty fixed tick arrays for every start from three spans below the lowest existing array
    to three spans above the highest, so a swap's three arrays always exist."""
    span = wl.TICK_ARRAY_SIZE * spacing
    starts = []
    for key, acc in accounts.items():
        if acc.owner == wl.PROGRAM_ID and key != address:
            try:
                starts.append(wl.decode_tick_array(acc.data).start_tick_index)
            except DecodeError:  # the config: not a tick array
                continue
    for start in range(min(starts) - 3 * span, max(starts) + 4 * span, span):
        key = wl.tick_array_address(address, start)
        if key not in accounts:
            data = wl.encode_fixed_tick_array(start, address, {})
            accounts[key] = Account(rent_exempt_minimum(len(data)), data, wl.PROGRAM_ID)


def _dlmm(
    mint_x: Pubkey, mint_y: Pubkey, decimals_x: int, decimals_y: int, price: float,
    value_y: float, rng: random.Random,
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    step = 1 + _DLMM_BIN_STEP / 10_000
    active = round(math.log(price) / math.log(step)) + int(rng.gauss(0.0, 2.0))
    sigma = _DLMM_HALF_WIDTH / 2
    weights = {i: math.exp(-0.5 * (i / sigma) ** 2)
               for i in range(-_DLMM_HALF_WIDTH, _DLMM_HALF_WIDTH + 1)}  # fmt: skip
    total = sum(weights.values())
    bins: dict[int, tuple[int, int]] = {}
    for i, w in weights.items():
        v = value_y * w / total  # this bin's value in Y base units
        bin_price = step ** (active + i)
        if i < 0:
            bins[active + i] = (0, int(v))
        elif i > 0:
            bins[active + i] = (int(v / bin_price), 0)
        else:
            bins[active] = (int(v / 2 / bin_price), int(v / 2))
    pair, accounts = dlmm_model.create_pool(
        mint_x=mint_x, mint_y=mint_y, bin_step=_DLMM_BIN_STEP, base_factor=_DLMM_BASE_FACTOR,
        active_id=active, bins=bins, decimals_x=decimals_x, decimals_y=decimals_y,
    )  # fmt: skip
    ext = meteora_dlmm.bitmap_extension_address(pair)
    if ext not in accounts:
        data = dlmm_layout.encode_bitmap_extension(pair, [0] * 12, [0] * 12)
        accounts[ext] = Account(rent_exempt_minimum(len(data)), data, meteora_dlmm.PROGRAM_ID)
    return pair, accounts
