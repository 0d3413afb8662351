"""The adapters' ``swap_data`` and ``swap_instruction_key`` (what the transaction builder's
templates rest on): the data is the instruction's, and two swaps with equal keys have the same
accounts, over the bench market's pools of all five kinds as it moves."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DexError
from solarb.runtime.bench_workload import Workload
from tests.support.workload_pools import workload_pools

USER = Keypair.from_seed(bytes([5]) * 32).pubkey()
MODULES = (raydium_amm_v4, raydium_cpmm, orca_whirlpool, raydium_clmm, meteora_dlmm)
CL = (raydium_clmm, meteora_dlmm)  # their instructions take a quote's arrays
AMOUNTS = (10**6, 10**8, 10**10)


def test_data_is_the_instructions_and_equal_keys_give_equal_accounts() -> None:
    w = Workload(30, 7, 4, 0)
    accounts_by_key: dict[tuple[object, ...], list[tuple[Pubkey, bool, bool]]] = {}
    reused = {m.NAME: 0 for m in MODULES}
    for _step in range(4):
        for module, state, aux in workload_pools(w, MODULES):
            for a_to_b in (True, False):
                for amount in AMOUNTS:
                    try:
                        q = module.quote(state, aux, amount, a_to_b)
                    except DexError:
                        continue
                    arrays = q.arrays if module in CL else ()
                    kw: dict[str, Any] = {"arrays": arrays} if arrays else {}
                    ix = module.swap_instruction(state, USER, amount, q.amount_out, a_to_b,
                                                 aux=aux, **kw)  # fmt: skip
                    assert bytes(ix.data) == module.swap_data(state, amount, q.amount_out, a_to_b)
                    key = module.swap_instruction_key(state, a_to_b, aux, arrays)
                    assert key is not None, module.NAME
                    metas = [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]
                    seen = accounts_by_key.setdefault((module.NAME, *key), metas)
                    if seen is not metas:
                        assert seen == metas, module.NAME
                        reused[module.NAME] += 1
        for _ in range(40):
            w._swap()
    assert all(reused.values()), reused


def test_keys_are_none_where_accounts_depend_on_the_amount() -> None:
    w = Workload(30, 7, 4, 0)
    extra = (Pubkey.new_unique(),)
    for module, state, aux in workload_pools(w, MODULES):
        if module in CL:  # without a quote's arrays the instruction quotes amount_in itself
            assert module.swap_instruction_key(state, True, aux, ()) is None
            assert module.swap_instruction_key(state, True, aux, extra) is not None
        else:  # these take no arrays: a caller passing some gets no key (and a TypeError)
            assert module.swap_instruction_key(state, True, aux, extra) is None
            assert module.swap_instruction_key(state, True, aux, ()) is not None


def _variants(state: Any) -> Iterator[tuple[str, Any]]:
    """``state`` with each field changed in turn (ticks also by 100 spacings: other arrays)."""
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if isinstance(value, Pubkey):
            yield f.name, dataclasses.replace(state, **{f.name: Pubkey.new_unique()})
        elif isinstance(value, bool):
            yield f.name, dataclasses.replace(state, **{f.name: not value})
        elif isinstance(value, int):
            yield f.name, dataclasses.replace(state, **{f.name: value + 1})
            if "tick" in f.name or f.name == "active_id":
                step = 100 * max(1, getattr(state, "tick_spacing", 1))
                yield f.name, dataclasses.replace(state, **{f.name: value - step})


def _instruction(module: Any, state: Any, aux: Any, arrays: Any, a_to_b: bool) -> Any:
    kw: dict[str, Any] = {"arrays": arrays} if arrays else {}
    try:
        return module.swap_instruction(state, USER, 10**8, 10**7, a_to_b, aux=aux, **kw)
    except Exception as e:  # noqa: BLE001 - e.g. a nonce that makes no PDA: an outcome too
        return type(e)


def test_a_field_the_instruction_reads_changes_the_key() -> None:
    """Equal keys must mean the same outcome: a field whose change alters the instruction (or
    makes it fail) must change the key."""
    w = Workload(30, 7, 4, 0)
    changed = {m.NAME: 0 for m in MODULES}
    for module, state, aux in workload_pools(w, MODULES):
        for a_to_b in (True, False):
            try:
                arrays = module.quote(state, aux, 10**8, a_to_b).arrays if module in CL else ()
            except DexError:
                continue
            ix = _instruction(module, state, aux, arrays, a_to_b)
            key = module.swap_instruction_key(state, a_to_b, aux, arrays)
            for name, other in _variants(state):
                other_ix = _instruction(module, other, aux, arrays, a_to_b)
                if other_ix == ix:  # same instruction (or same error): the key may be equal
                    continue
                try:
                    other_key = module.swap_instruction_key(other, a_to_b, aux, arrays)
                except Exception as e:  # noqa: BLE001 - then the instruction fails alike
                    assert other_ix is type(e), (module.NAME, name)
                    continue
                assert other_key != key, (module.NAME, name)
                changed[module.NAME] += 1
            keys = [*aux, *([meteora_dlmm.bitmap_extension_address(state.address)]
                            if module is meteora_dlmm else [])]  # fmt: skip
            for k in keys:  # each aux account appearing or vanishing (DLMM: its extension too)
                other_aux = {**aux, k: b"" if aux.get(k) else b"\x01" * 8}
                if _instruction(module, state, other_aux, arrays, a_to_b) != ix:
                    assert module.swap_instruction_key(state, a_to_b, other_aux, arrays) != key
                    changed[module.NAME] += 1
            if arrays:  # other arrays: another key
                assert module.swap_instruction_key(state, a_to_b, aux, arrays[:-1]) != key
    assert all(changed.values()), changed
