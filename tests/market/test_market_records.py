"""MarketState keeps one record per watched account (slot, bytes, owner, pool entry, readers):
over random writes it decides exactly as the market with one dict per field did (the
reference copy in tests/market/state_reference.py): same returns, counters, entries (state, aux,
slots, ready, quarantine, revision stamps), watched accounts, readers, slots and owners."""

from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex.base import CLOCK_SYSVAR, DecodeError
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.sim.bank import SYSVAR_OWNER
from tests.market import state_reference
from tests.support import cp_adapter as cp

MINTS = [cp.key(f"rec/mint{i}") for i in range(4)]
OTHER = cp.key("rec/other-program")


def _decode(
    address: Pubkey, data: bytes, token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
) -> cp.CpPool:
    return replace(cp.decode_pool(address, data), token_program_a=token_program_a,
                   token_program_b=token_program_b)


def _aux(state: cp.CpPool) -> list[Pubkey]:
    clock = [CLOCK_SYSVAR] if bytes(state.address)[0] % 2 else []
    return [*cp.aux_accounts(state), state.mint_a, state.mint_b, *clock]


# the cp adapter reading its mints (token programs from their owners) and, for half the pools,
# the Clock: every write path of the market
_ADAPTER = SimpleNamespace(**{k: getattr(cp, k) for k in dir(cp) if not k.startswith("__")})
_ADAPTER.TOKEN_PROGRAMS_FROM_MINTS = True
_ADAPTER.decode_pool = _decode
_ADAPTER.aux_accounts = _aux


def _entry_view(e: Any) -> tuple[object, ...]:
    return (e.address, e.state, dict(e.aux), e.aux_keys, e.pool_slot, e.slot, e.ready,
            e.quarantined, e.quarantine_reason, e.decode_errors, e.revision, e.rate_revision)


def _same(new: MarketState, ref: Any, keys: set[Pubkey], step: int) -> None:
    assert list(new.pools) == list(ref.pools), step
    for k in new.pools:
        assert _entry_view(new.pools[k]) == _entry_view(ref.pools[k]), (step, k)
    counters = ("decode_errors", "stale_updates", "unknown_updates", "version")
    assert [getattr(new, c) for c in counters] == [getattr(ref, c) for c in counters], step
    watched, ref_watched = new.watched_accounts(), ref.watched_accounts()
    # pools in order, then the aux accounts (in the order first watched: a pool account read by
    # others stays where it was registered, so compared as a set)
    assert watched[: len(new.pools)] == ref_watched[: len(ref.pools)], step
    assert sorted(map(bytes, watched)) == sorted(map(bytes, ref_watched)), step
    for k in keys:
        assert new.slot_of(k) == ref.slot_of(k), (step, k)
        assert new.owner_of(k) == ref.owner_of(k), (step, k)
        assert new.pools_using(k) == ref.pools_using(k), (step, k)
    assert new._raw == ref._raw, step


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_decide_as_the_dicts_did_over_random_writes(seed: int) -> None:
    rng = random.Random(seed)
    new = MarketState({cp.PROGRAM_ID: _ADAPTER})  # type: ignore[dict-item]
    ref = state_reference.MarketState({cp.PROGRAM_ID: _ADAPTER})  # type: ignore[dict-item]
    fresh_new: list[Pubkey] = []
    fresh_ref: list[Pubkey] = []
    new.on_new_accounts = fresh_new.extend
    ref.on_new_accounts = fresh_ref.extend
    shared = cp.key("rec/shared-config")
    specs = [cp.spec(f"rec{i}", rng.choice(MINTS[:2]), rng.choice(MINTS[2:]),
                     config=shared if i % 3 == 0 else None) for i in range(8)]  # fmt: skip
    configs = {s.pool: s.config for s in specs}  # the config the pool's image names
    keys = {CLOCK_SYSVAR, *MINTS} | {k for s in specs for k in (s.pool, s.vault_a, s.vault_b,
                                                                s.config)}  # fmt: skip
    slot, peak, removed = 1, 0, 0

    def both(call: str, update: AccountUpdate) -> None:
        results = []
        for m in (new, ref):
            try:
                results.append(("ok", getattr(m, call)(update)))
            except DecodeError as exc:
                results.append(("error", str(exc)))
        assert results[0] == results[1], (step, call, update.pubkey)

    for step in range(1_500):
        slot += rng.random() < 0.3
        spec = rng.choice(specs)
        at = slot - rng.randrange(3)  # some writes are older than the stored one: ignored
        image = replace(spec, config=configs[spec.pool])
        r = rng.random()
        if r < 0.3:
            amount = rng.choice((10**9, rng.randrange(1, 10**9)))  # some equal bytes
            both("apply", spec.vault_update(rng.random() < 0.5, amount, slot=at))
        elif r < 0.4:
            both("apply", image.config_update(rng.choice((25, 30)), 10_000, slot=at))
        elif r < 0.5:
            both("apply", image.pool_update(slot=at))  # usually the same image
        elif r < 0.55:  # another config (another pool's account, the shared one): re-indexed
            configs[spec.pool] = rng.choice((spec.config, shared, rng.choice(specs).pool))
            both("apply", replace(spec, config=configs[spec.pool]).pool_update(slot=at))
        elif r < 0.6:  # a bad image, or another owner: quarantined
            u = image.pool_update(slot=at, data=b"bad" if rng.random() < 0.5 else None)
            both("apply", u if rng.random() < 0.5 else replace(u, owner=OTHER))
        elif r < 0.7:  # a mint: its owner is the pools' token program
            program = rng.choice((TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID))
            mint = AccountUpdate(rng.choice(MINTS), at, encode_mint(6, 10**15), program, 10**7)
            both("apply", mint)
        elif r < 0.8:
            data = slot.to_bytes(8, "little") + bytes(24) + rng.randrange(3).to_bytes(8, "little")
            both("apply", AccountUpdate(CLOCK_SYSVAR, slot, data, SYSVAR_OWNER, 1))
        elif r < 0.83:
            both("apply", AccountUpdate(cp.key(f"rec/unknown{step % 5}"), at, b"x", OTHER, 1))
        elif r < 0.93:  # registered, or re-registered (older slots included)
            bad = rng.random() < 0.1
            both("add_pool", image.pool_update(slot=at, data=b"bad" if bad else None))
        else:
            gone = new.remove_pool(spec.pool)
            assert gone == ref.remove_pool(spec.pool), step
            removed += gone
        peak = max(peak, len(new.pools))
        assert fresh_new == fresh_ref, step
        _same(new, ref, keys, step)
    assert peak >= 6 and removed > 20  # every path exercised, removal and re-adding
    assert new.stale_updates > 10 and new.decode_errors > 10 and new.unknown_updates > 10
