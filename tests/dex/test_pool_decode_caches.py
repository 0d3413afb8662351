"""``decode_pool`` of Orca Whirlpool and Raydium CLMM share decoded keys, reward infos and
dynamic-fee records between decodes of equal bytes: over random byte changes anywhere in the
account (keys, rewards and dynamic fee included), a decode with warm caches equals a cold one
and the account's encoding round-trips."""

from __future__ import annotations

import random
from typing import Any

from solarb.dex import orca_whirlpool, raydium_clmm
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import raydium_clmm_layout as rl
from solarb.dex.base import DecodeError
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools


def _outcome(decode: Any, address: Any, data: bytes) -> object:
    try:
        return decode(address, data)
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def _mutations(data: bytes, rng: random.Random, regions: list[tuple[int, int]]) -> list[bytes]:
    out = []
    for _ in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            lo, hi = rng.choice(regions)
            b[rng.randrange(lo, hi)] = rng.randrange(256)
        out.append(bytes(b))
    return out


def test_whirlpool_decode_caches() -> None:
    rng = random.Random(3)
    w = Workload(20, 7, 4, 0)
    seen = 0
    for _m, state, _aux in workload_pools(w, (orca_whirlpool,)):
        data = w.bank.get_account(state.address).data
        # keys, rewards (cached) and any byte (the header fields)
        regions = [(9, 41), (101, 245), (269, 653), (8, 653)]
        for new in [data, *_mutations(data, rng, regions)]:
            warm = _outcome(orca_whirlpool.decode_pool, state.address, new)
            warm_again = _outcome(orca_whirlpool.decode_pool, state.address, new)
            saved = dict(wl._KEYS), dict(wl._REWARDS)
            wl._KEYS.clear()
            wl._REWARDS.clear()
            cold = _outcome(orca_whirlpool.decode_pool, state.address, new)
            wl._KEYS.update(saved[0])
            wl._REWARDS.update(saved[1])
            assert warm == warm_again == cold
            if isinstance(cold, wl.Whirlpool):
                assert wl.encode_whirlpool(cold) == new
                seen += 1
    assert seen > 100


def test_clmm_decode_caches() -> None:
    rng = random.Random(4)
    w = Workload(20, 7, 4, 0)
    seen = 0
    for _m, state, _aux in workload_pools(w, (raydium_clmm,)):
        data = w.bank.get_account(state.address).data
        dyn = (rl.OFF_DYNAMIC_FEE, rl.OFF_DYNAMIC_FEE + 34)  # the record's fields, not its pad
        regions = [(9, 233), dyn, dyn, (233, 389)]
        for new in [data, *_mutations(data, rng, regions)]:
            warm = _outcome(raydium_clmm.decode_pool, state.address, new)
            warm_again = _outcome(raydium_clmm.decode_pool, state.address, new)
            saved = dict(rl._KEYS), dict(rl._DYNS)
            rl._KEYS.clear()
            rl._DYNS.clear()
            cold = _outcome(raydium_clmm.decode_pool, state.address, new)
            rl._KEYS.update(saved[0])
            rl._DYNS.update(saved[1])
            assert warm == warm_again == cold
            if isinstance(cold, rl.ClmmPool):
                assert rl.decode_pool(state.address, rl.encode_pool(cold)) == cold
                seen += 1
    assert seen > 100


def test_caches_stay_bounded() -> None:
    rng = random.Random(5)
    w = Workload(10, 7, 4, 0)
    _m, state, _aux = next(workload_pools(w, (orca_whirlpool,)))
    data = bytearray(w.bank.get_account(state.address).data)
    saved = wl._CACHE_MAX
    wl._CACHE_MAX = 16
    try:
        for _ in range(100):
            data[rng.randrange(101, 133)] = rng.randrange(256)  # mint_a
            mint_a = orca_whirlpool.decode_pool(state.address, bytes(data)).mint_a
            assert bytes(mint_a) == bytes(data[101:133])
            assert len(wl._KEYS) <= 16
    finally:
        wl._CACHE_MAX = saved
