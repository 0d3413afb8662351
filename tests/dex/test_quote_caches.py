"""The CL adapters keep per-pool derived values (navigation, decoded arrays, fixed instruction
metas) while the state and account data are the same objects: a new state object, or new data
for one account, must give exactly what a cold computation gives."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_clmm
from solarb.dex.base import QuoteError
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools

USER = Pubkey.from_bytes(bytes([9]) * 32)
CL = (orca_whirlpool, raydium_clmm, meteora_dlmm)


def _pools() -> list[tuple[Any, Any, dict[Pubkey, bytes]]]:
    return list(workload_pools(Workload(10, 7, 4, 0), CL))


def _outcome(module: Any, state: Any, aux: dict[Pubkey, bytes], amount: int, a_to_b: bool) -> object:
    try:
        q = module.quote(state, aux, amount, a_to_b)
    except Exception as exc:  # noqa: BLE001 - the error is part of the outcome
        return (type(exc).__name__, str(exc))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


def _second_array(module: Any, state: Any, aux: dict[Pubkey, bytes], amount: int,
                  a_to_b: bool) -> Pubkey:
    """The array after the current one in the swap's direction (a small swap's spare)."""
    if module is orca_whirlpool:
        return orca_whirlpool.swap_tick_arrays(state, a_to_b)[1]
    return module.quote(state, aux, amount, a_to_b).arrays[1]


def test_new_array_data_is_seen_with_the_same_state() -> None:
    differing: set[tuple[str, bool]] = set()
    for module, state, aux in _pools():
        for a_to_b in (True, False):
            key = _second_array(module, state, aux, 10**6, a_to_b)
            for amount in (10**8, 10**10, 10**11, 3 * 10**11, 10**12, 3 * 10**12):
                warm = _outcome(module, state, aux, amount, a_to_b)
                for data in (None, b""):  # not loaded / account does not exist
                    changed = dict(aux)
                    if data is None:
                        del changed[key]
                    else:
                        changed[key] = data
                    assert _outcome(module, state, aux, amount, a_to_b) == warm  # primed
                    seen = _outcome(module, state, changed, amount, a_to_b)
                    assert seen == _outcome(module, replace(state), changed, amount, a_to_b)
                    if seen != warm:
                        differing.add((module.NAME, data is None))
                assert _outcome(module, state, aux, amount, a_to_b) == warm
    # the changed account mattered to some quotes of every DEX, in both forms
    assert differing == {(m.NAME, missing) for m in CL for missing in (True, False)}


def test_instruction_metas_follow_the_state_keys() -> None:
    for module, state, aux in _pools():
        q = module.quote(state, aux, 10**9, True)
        kw = {"arrays": q.arrays} if q.arrays else {}
        first = module.swap_instruction(state, USER, 10**9, 1, True, aux=aux, **kw)
        other = replace(state, token_program_a=TOKEN_2022_PROGRAM_ID)
        ix = module.swap_instruction(other, USER, 10**9, 1, True, aux=aux, **kw)
        assert ix != first
        assert TOKEN_2022_PROGRAM_ID in [m.pubkey for m in ix.accounts]
        again = module.swap_instruction(state, USER, 10**9, 1, True, aux=aux, **kw)
        assert again == first
        assert module.swap_instruction(state, USER, 10**9, 1, False, aux=aux) != first


def test_new_state_fields_are_seen() -> None:
    for module, state, aux in _pools():
        if module is orca_whirlpool:
            other = replace(state, fee_rate=state.fee_rate * 2)
        elif module is raydium_clmm:
            other = replace(state, tick_array_bitmap=0)  # no initialized array: no liquidity
        else:
            other = replace(state, base_factor=state.base_factor * 2)
        for a_to_b in (True, False):
            before = _outcome(module, state, aux, 10**9, a_to_b)
            after = _outcome(module, other, aux, 10**9, a_to_b)
            assert after != before, (module.NAME, a_to_b)
            assert _outcome(module, state, aux, 10**9, a_to_b) == before
            assert _outcome(module, other, aux, 10**9, a_to_b) == after


def test_clmm_swaps_do_not_write_the_shared_arrays() -> None:
    _module, state, aux = next(p for p in _pools() if p[0] is raydium_clmm)
    crossing = 0
    for a_to_b in (True, False):
        for amount in [m * 10**k for k in range(10, 13) for m in (1, 2, 3, 5, 7)]:
            try:
                first = raydium_clmm.quote_detail(state, aux, amount, a_to_b).result.updated_ticks
            except QuoteError:  # beyond the pool's liquidity
                continue
            again = raydium_clmm.quote_detail(state, aux, amount, a_to_b).result.updated_ticks
            assert again == first  # crossed ticks flip from the account's values each time
            crossing += bool(first)
    assert crossing >= 2


def test_whirlpool_quote_skips_only_the_final_tick() -> None:
    """``quote`` skips the final tick estimate: the same amounts as the full ``quote_detail``."""
    stopped_between_ticks = 0
    for module, state, aux in _pools():
        if module is not orca_whirlpool:
            continue
        for a_to_b in (True, False):
            for amount in [m * 10**k for k in range(6, 13) for m in (1, 3)]:
                try:
                    full = orca_whirlpool.quote_detail(state, aux, amount, a_to_b)
                except QuoteError:
                    continue
                assert orca_whirlpool.quote(state, aux, amount, a_to_b) == full.quote
                assert full.quote.amount_in == amount
                stopped_between_ticks += full.swap.next_tick_index != state.tick_current_index
    assert stopped_between_ticks >= 10
