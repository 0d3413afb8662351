"""``aux_accounts_key`` of Orca Whirlpool and Raydium CLMM: pool states with equal keys list the
same aux accounts (bench-workload pools moved by real swaps, the real dumps, and tick / spacing /
bitmap / fee-tier / address / mint variations at array boundaries, the MIN/MAX ticks and the
default bitmap's overflow edge); each key field is needed (without it two such states with other
lists collide); the key changes in each case that moves the list; and a market using the keys
indexes the same aux accounts as one calling ``aux_accounts`` on every update."""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_bitmap as nav
from solarb.dex import raydium_clmm_layout as rl
from solarb.dex.quote_cases import load_accounts_file
from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.runtime.bench_workload import _ADAPTER, Workload
from solarb.sim.programs import orca_whirlpool as whirl_model
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "accounts"
OTHER = Pubkey.from_bytes(bytes([7]) * 32)
WHIRL_SPACINGS = (1, 8, 16, 64, 128, 256, 32896)
CLMM_SPACINGS = (1, 10, 14, 15, 60, 120)


def _distinct(key_of: Callable[[Any], object], aux_of: Callable[[Any], list[Pubkey]],
              states: Iterable[Any]) -> tuple[int, tuple[Any, Any] | None]:
    """(number of keys, None) when equal keys always list the same accounts, else (_, the first
    two states with equal keys and other lists)."""
    seen: dict[object, tuple[Any, list[Pubkey]]] = {}
    for s in states:
        got = aux_of(s)
        first = seen.setdefault(key_of(s), (s, got))
        if first[1] != got:
            return len(seen), (first[0], s)
    return len(seen), None


def _workload_states(adapter: ModuleType, n_pools: int, rounds: int, swaps: int) -> list[Any]:
    """Each ``adapter`` pool of a bench workload, decoded after every batch of real swaps."""
    w = Workload(n_pools, 7, 4, 0)
    pools = [a for a, kind, _x, _y in w.pools if _ADAPTER[kind] is adapter]
    out = []
    for _ in range(rounds):
        out += [adapter.decode_pool(a, w.bank.get_account(a).data) for a in pools]
        for _ in range(swaps):
            w._swap()
    return out


# -------------------------------------------------------------------------- Orca Whirlpool


def _whirl_dumps() -> list[wl.Whirlpool]:
    out = []
    for folder in ("sol_usdc_ts64_HJPjoWUr/gabrielfior", "sol_usdc_ts64_HJPjoWUr/solsandbox",
                   "bono_usdc_ts64_DBJ5hywa"):  # fmt: skip
        for f in sorted((DATA / "orca_whirlpool" / folder).glob("*.json")):
            for key, (owner, data) in load_accounts_file(f).items():
                if owner == wl.PROGRAM_ID and len(data) == 653:
                    out.append(ow.decode_pool(key, data))
    bonk = json.loads((DATA / "orca_whirlpool/bonk_wif_ts16_56Ekyu6u"
                       / "56Ekyu6uBpTna3LR2qkjHjNbDNkCLWK2Lt3uWh7J2R8Z_account.json").read_text())
    out.append(ow.decode_pool(Pubkey.from_bytes(bytes(bonk["pubkey"])), bytes(bonk["data"])))
    carbon = json.loads((DATA / "orca_whirlpool/carbon_decoder_fixtures/whirlpool_account.json").read_text())
    out.append(ow.decode_pool(OTHER, base64.b64decode(carbon["data"])))
    return out


def _whirl_variants(s: wl.Whirlpool, rng: random.Random) -> Iterator[wl.Whirlpool]:
    """``s`` with other spacings, ticks at and around array edges (the b->a shift included) and
    the MIN/MAX ticks, the adaptive fee on and off, another address and swapped mints."""
    yield s
    for sp in (s.tick_spacing, rng.choice(WHIRL_SPACINGS)):
        span = 88 * sp
        base = s.tick_current_index // span * span
        ticks = [base + d for d in (-sp - 1, -sp, -1, 0, 1, span - sp - 1, span - sp, span - 1, span)]
        ticks += [wl.MIN_TICK, wl.MIN_TICK + sp, wl.MAX_TICK - sp, wl.MAX_TICK, rng.randrange(-5000, 5000)]
        for t in ticks:
            tier = rng.choice((sp, sp + 1024))
            yield replace(s, tick_current_index=t, tick_spacing=sp, fee_tier_index=tier)
    yield replace(s, fee_tier_index=s.tick_spacing + 1 if s.fee_tier_index == s.tick_spacing else s.tick_spacing)
    yield replace(s, address=OTHER)
    yield replace(s, mint_a=s.mint_b, mint_b=s.mint_a)
    yield replace(s, mint_a=OTHER)
    yield replace(s, mint_b=OTHER)


def _adaptive_pools() -> list[wl.Whirlpool]:
    """Adaptive-fee pools as the sim program creates them (oracle, fee tier != spacing)."""
    out = []
    consts = wl.AdaptiveFeeConstants(30, 600, 5000, 4000, 350_000, 16, 64)
    for sp, price in ((64, 1.0), (8, 3.0), (1, 0.5)):
        a, b = Pubkey.from_bytes(bytes([sp]) * 32), Pubkey.from_bytes(bytes([200]) * 32)
        addr, accounts = whirl_model.create_pool(
            mint_a=a, mint_b=b, tick_spacing=sp, fee_rate=3000, price=price, decimals_b=9,
            positions=[(-100 * sp, 100 * sp, 10**12)], adaptive_fee=consts)
        out.append(ow.decode_pool(addr, accounts[addr].data))
    return out


@pytest.fixture(scope="module")
def whirl_states() -> list[wl.Whirlpool]:
    rng = random.Random(11)
    bases = _whirl_dumps() + _adaptive_pools() + _workload_states(ow, 60, 12, 25)
    assert any(s.adaptive_fee for s in bases) and any(not s.adaptive_fee for s in bases)
    return [v for s in bases for v in _whirl_variants(s, rng)]


def test_whirlpool_key_moves_with_the_list() -> None:
    s = _whirl_dumps()[0]
    span = 88 * s.tick_spacing
    base = s.tick_current_index // span * span
    at = replace(s, tick_current_index=base + 1, fee_tier_index=s.tick_spacing)
    moves = {
        "next array": replace(at, tick_current_index=base + span),
        "b->a shifted": replace(at, tick_current_index=base + span - s.tick_spacing),
        "spacing": replace(at, tick_spacing=2 * s.tick_spacing, fee_tier_index=2 * s.tick_spacing),
        "adaptive fee": replace(at, fee_tier_index=s.tick_spacing + 1024),
        "address": replace(at, address=OTHER),
        "mint_a": replace(at, mint_a=OTHER),
        "mint_b": replace(at, mint_b=OTHER),
    }
    for name, moved in moves.items():
        assert ow.aux_accounts(moved) != ow.aux_accounts(at), name
        assert ow.aux_accounts_key(moved) != ow.aux_accounts_key(at), name
    # the token programs and the tick inside the same arrays do not move it
    same = replace(at, tick_current_index=base + span - s.tick_spacing - 1, token_program_a=OTHER)
    assert ow.aux_accounts_key(same) == ow.aux_accounts_key(at)
    assert ow.aux_accounts(same) == ow.aux_accounts(at)


# -------------------------------------------------------------------------- Raydium CLMM


def _clmm_dumps() -> list[rl.ClmmPool]:
    doc = json.loads((DATA / "raydium_clmm/sol_usdc_3ucNos4N/clmm_wsol_usdc.subset.json").read_text())
    out = []
    for k, v in doc["accounts"].items():
        data = base64.b64decode(v["data"])
        if data[:8] == rl.POOL_DISCRIMINATOR:
            out.append(rc.decode_pool(Pubkey.from_string(k), data))
    assert out
    return out


def _clmm_variants(s: rl.ClmmPool, rng: random.Random) -> Iterator[rl.ClmmPool]:
    """``s`` with other spacings, ticks at array edges, the default bitmap's overflow edge and
    the MIN/MAX ticks (and just past them), bitmaps with the current / neighbour arrays' bits
    flipped, random or full, another amm config, address and mints."""
    yield s
    for sp in (s.tick_spacing, rng.choice(CLMM_SPACINGS)):
        n = nav.tick_count(sp)
        edge = nav.max_tick_in_bitmap(sp)
        base = s.tick_current // n * n
        ticks = [base + d for d in (-1, 0, 1, n - 1, n)]
        ticks += [edge - 1, edge, -edge, -edge - 1, rng.randrange(-edge, edge)]
        ticks += [rl.MIN_TICK - 1, rl.MIN_TICK, rl.MAX_TICK, rl.MAX_TICK + 1]
        for t in ticks:
            bit = t // n + 512
            bitmaps = [s.tick_array_bitmap, s.tick_array_bitmap ^ (1 << rng.randrange(1024))]
            if 0 <= bit < 1024:
                bitmaps += [s.tick_array_bitmap ^ (1 << bit), 1 << bit]
                bitmaps += [s.tick_array_bitmap ^ (1 << b) for b in (bit - 1, bit + 1) if 0 <= b < 1024]
            bitmaps += [0, (1 << 1024) - 1]
            for bm in bitmaps:
                yield replace(s, tick_current=t, tick_spacing=sp, tick_array_bitmap=bm)
    yield replace(s, amm_config=OTHER)
    yield replace(s, address=OTHER)
    yield replace(s, mint_a=s.mint_b, mint_b=s.mint_a)
    yield replace(s, mint_a=OTHER)
    yield replace(s, mint_b=OTHER)


@pytest.fixture(scope="module")
def clmm_states() -> list[rl.ClmmPool]:
    rng = random.Random(12)
    bases = _clmm_dumps() + _workload_states(rc, 60, 12, 25)
    return [v for s in bases for v in _clmm_variants(s, rng)]


def test_clmm_key_moves_with_the_list() -> None:
    s = _clmm_dumps()[0]
    sp = 15  # >= 15: no extension, the default bitmap reaches past MAX_TICK
    n = nav.tick_count(sp)
    top = rl.MAX_TICK // n * n  # the array holding MAX_TICK
    bit = top // n + 512
    at = replace(s, tick_spacing=sp, tick_current=top + 1, tick_array_bitmap=(1 << bit) | (1 << bit - 3))
    moves = {
        "array": replace(at, tick_current=top - 1),
        "past MAX_TICK (same array)": replace(at, tick_current=rl.MAX_TICK + 1),
        "spacing": replace(at, tick_spacing=sp + 1),
        "bitmap": replace(at, tick_array_bitmap=1 << bit),
        "amm config": replace(at, amm_config=OTHER),
        "address": replace(at, address=OTHER),
        "mint_a": replace(at, mint_a=OTHER),
        "mint_b": replace(at, mint_b=OTHER),
    }
    assert len(rc.aux_accounts(at)) == 6
    for name, moved in moves.items():
        assert rc.aux_accounts(moved) != rc.aux_accounts(at), name
        assert rc.aux_accounts_key(moved) != rc.aux_accounts_key(at), name
    # the default bitmap's overflow edge (spacing 10: the extension is needed past it)
    edge = nav.max_tick_in_bitmap(10)
    inside = replace(s, tick_spacing=10, tick_current=edge - 1, tick_array_bitmap=1 << 1023)
    over = replace(inside, tick_current=edge)
    assert rc.aux_accounts(inside) != rc.aux_accounts(over) and len(rc.aux_accounts(over)) == 4
    assert rc.aux_accounts_key(inside) != rc.aux_accounts_key(over)
    # the tick inside the same array, liquidity and token programs do not move it
    same = replace(at, tick_current=rl.MAX_TICK, liquidity=1, token_program_a=OTHER)
    assert rc.aux_accounts_key(same) == rc.aux_accounts_key(at)
    assert rc.aux_accounts(same) == rc.aux_accounts(at)


# -------------------------------------------------------------------------- both adapters

# (adapter, fixture of its states, key length)
_KEYED = [(ow, "whirl_states", 7), (rc, "clmm_states", 8)]
_DROPS = [(a, f, n, drop) for a, f, n in _KEYED for drop in range(n)]


@pytest.mark.parametrize(("adapter", "states", "_n"), _KEYED)
def test_equal_keys_list_the_same_accounts(
    adapter: ModuleType, states: str, _n: int, request: pytest.FixtureRequest
) -> None:
    n, clash = _distinct(adapter.aux_accounts_key, adapter.aux_accounts, request.getfixturevalue(states))
    assert clash is None and n > 300


@pytest.mark.parametrize(("adapter", "states", "n", "drop"), _DROPS)
def test_every_key_field_is_needed(
    adapter: ModuleType, states: str, n: int, drop: int, request: pytest.FixtureRequest
) -> None:
    def key(s: Any) -> object:
        k = adapter.aux_accounts_key(s)
        return k[:drop] + k[drop + 1:]

    pools = request.getfixturevalue(states)
    assert len(adapter.aux_accounts_key(pools[0])) == n
    assert _distinct(key, adapter.aux_accounts, pools)[1] is not None


# -------------------------------------------------------------------------- through the market


class _Adapter:
    """An adapter module's attributes, without ``aux_accounts_key`` if ``keyed`` is False (the
    market then lists the aux accounts on every pool image), counting ``aux_accounts`` calls."""

    def __init__(self, module: ModuleType, keyed: bool) -> None:
        self.__dict__.update({k: v for k, v in vars(module).items()
                              if not k.startswith("__") and k != "aux_accounts"
                              and (keyed or k != "aux_accounts_key")})  # fmt: skip
        self.calls = 0
        self._listed = module.aux_accounts

    def aux_accounts(self, state: Any) -> list[Pubkey]:
        self.calls += 1
        return self._listed(state)


# the tick (i32) in each pool layout, and Raydium's default bitmap: moved to cross arrays
_TICK_AT = {ow: struct.calcsize("<8s32sBHHHH2Q2Q"), rc: struct.calcsize("<8sB224sBBH2Q2Q")}


def _moved(module: ModuleType, data: bytes, rng: random.Random) -> bytes:
    """The pool image with its tick moved up to two arrays (and for CLMM one bitmap bit)."""
    buf = bytearray(data)
    at = _TICK_AT[module]
    (tick,) = struct.unpack_from("<i", buf, at)
    span = 88 * 64 if module is ow else 60 * 10
    struct.pack_into("<i", buf, at, tick + rng.randint(-2 * span, 2 * span))
    if module is rc and rng.random() < 0.5:
        buf[rl.OFF_BITMAP + rng.randrange(128)] ^= 1 << rng.randrange(8)
    return bytes(buf)


def test_market_indexes_the_same_aux_accounts_with_and_without_the_keys() -> None:
    w = Workload(40, 3, 4, 0)
    mods = (ow, rc)
    keyed = {m: _Adapter(m, True) for m in mods}
    plain = {m: _Adapter(m, False) for m in mods}
    markets = (MarketState({m.PROGRAM_ID: a for m, a in keyed.items()}),  # type: ignore[misc]
               MarketState({m.PROGRAM_ID: a for m, a in plain.items()}))  # type: ignore[misc]
    pools = [(a, _ADAPTER[kind]) for a, kind, _x, _y in w.pools if _ADAPTER[kind] in mods]
    rng = random.Random(5)
    listed: set[tuple[Pubkey, ...]] = set()
    for slot in range(1, 61):
        for a, module in pools:
            acc = w.bank.get_account(a)
            data = _moved(module, acc.data, rng) if rng.random() < 0.15 else acc.data
            u = AccountUpdate(a, slot, data, acc.owner, acc.lamports)
            for m in markets:
                m.apply(u) if a in m.pools else m.add_pool(u)
            got = markets[0].pool(a).aux_keys
            assert got == markets[1].pool(a).aux_keys
            assert [markets[0].pools_using(k) for k in got] == [markets[1].pools_using(k) for k in got]
            listed.add(got)
        for _ in range(20):
            w._swap()
    assert len(listed) > 3 * len(pools)  # the pools moved to other arrays many times
    for m in mods:  # the keys spared most listings (equal keys: no call)
        n = sum(1 for _a, mod in pools if mod is m)
        assert 20 * n < plain[m].calls <= 60 * n  # each new image (the same bytes: no decode)
        assert keyed[m].calls < plain[m].calls * 0.6
