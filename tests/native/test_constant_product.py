"""The constant-product bound-quoter kernel (``solarb.native._constant_product``) against the
Python closures it replaces in :func:`raydium_cpmm.quoter` and :func:`raydium_amm_v4.quoter`:
the same Quote (every field, same types) or the same exception (type, code, message) for every
amount, on the bench workload's pools, the real mainnet dumps and random reserves and fees."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import raydium_amm_v4 as v4
from solarb.dex import raydium_cpmm as cp
from solarb.dex.base import Quote
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, encode_token_account
from solarb.runtime.bench_workload import Workload
from tests.support.data import SHARED_DATA
from tests.support.workload_pools import workload_pools

U64 = 2**64 - 1
KERNEL = cp._NATIVE
needs_kernel = pytest.mark.skipif(
    KERNEL is None, reason="constant_product kernel disabled (SOLARB_NATIVE=0)"
)

CPMM_BUNDLE = SHARED_DATA / "accounts/raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"
CPMM_POOL = Pubkey.from_string("2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq")
CPMM_CONFIG = Pubkey.from_string("D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2")
V4_DUMP = SHARED_DATA / (
    "accounts/raydium_amm_v4/sol_usdc_58oQChx4/58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json"
)
V4_POOL = Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")

Aux = dict[Pubkey, bytes]


def test_kernel_is_loaded() -> None:
    """CI builds the extension: a missing .so fails here unless SOLARB_NATIVE=0 asks for Python."""
    if not native.enabled():
        assert cp._NATIVE is None and v4._NATIVE is None
        return
    assert cp._NATIVE is not None, (
        "build it: SOLARB_NATIVE_ONLY=constant_product python setup.py build_ext --inplace"
    )
    assert v4._NATIVE is cp._NATIVE
    assert native.status()["constant_product"]


@contextmanager
def _python_only() -> Iterator[None]:
    saved = cp._NATIVE, v4._NATIVE
    cp._NATIVE = v4._NATIVE = None
    try:
        yield
    finally:
        cp._NATIVE, v4._NATIVE = saved


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 (any exception must match, ZeroDivisionError too)
        return ("raised", type(exc), getattr(exc, "code", None), str(exc))
    return (type(q), q.amount_in, type(q.amount_in), q.amount_out, type(q.amount_out), q.fee,
            type(q.fee), q.arrays)  # fmt: skip


def _amounts(rng: random.Random, size: int) -> list[Any]:
    """Edges, random sizes up to past u64 (past any reserve: the pool is exhausted) and around
    ``size``."""
    fixed = [0, 1, 2, -1, U64, U64 - 1, U64 + 1, 2**70, -(2**70), True, size, 2 * size + 1]
    return (
        fixed
        + [int(10 ** rng.uniform(0, 19.3)) for _ in range(30)]
        + [rng.randrange(1, max(2, size * 4)) for _ in range(10)]
    )


def _compare(module: ModuleType, state: Any, aux: Aux, rng: random.Random) -> int:
    """Both directions: the kernel quoter (when the pool binds one) against the Python closure;
    returns how many quoters were the C object."""
    bound_c = 0
    for a_to_b in (True, False):
        fast = module.quoter(state, aux, a_to_b)
        with _python_only():
            ref = module.quoter(state, aux, a_to_b)
        if type(fast).__name__ == "Quoter":
            bound_c += 1
        for x in _amounts(rng, rng.randrange(1, U64)):
            assert _outcome(partial(fast, x)) == _outcome(partial(ref, x)), (module.NAME, a_to_b, x)
    return bound_c


@needs_kernel
def test_bench_workload_pools() -> None:
    rng = random.Random(7)
    w = Workload(60, 7, 4, 5)
    seen = {cp.NAME: 0, v4.NAME: 0}
    for _round in range(3):
        for module, state, aux in workload_pools(w, (cp, v4)):
            seen[module.NAME] += _compare(module, state, aux, rng)
        for _ in range(30):
            w._swap()
    assert min(seen.values()) >= 10, seen


def _cpmm_dump() -> tuple[cp.CpmmPool, Aux]:
    doc = json.loads(CPMM_BUNDLE.read_text())
    aux = {Pubkey.from_string(k): base64.b64decode(v["data"]) for k, v in doc["accounts"].items()}
    return cp.decode_pool(CPMM_POOL, aux[CPMM_POOL]), aux


def _v4_dump() -> v4.AmmV4Pool:
    return v4.decode_pool(V4_POOL, base64.b64decode(json.loads(V4_DUMP.read_text())["data"]))


def _cpmm_case(state: cp.CpmmPool, aux: Aux, v0: int, v1: int, **rates: int) -> Aux:
    config = dataclasses.replace(cp.decode_amm_config(CPMM_CONFIG, aux[CPMM_CONFIG]), **rates)
    return {**aux, CPMM_CONFIG: cp.encode_amm_config(config),
            state.vault_a: encode_token_account(state.mint_a, cp.AUTHORITY, v0),
            state.vault_b: encode_token_account(state.mint_b, cp.AUTHORITY, v1)}  # fmt: skip


def _v4_aux(state: v4.AmmV4Pool, coin: int, pc: int) -> Aux:
    owner = v4.authority_address(state.nonce)
    return {state.vault_a: encode_token_account(state.mint_a, owner, coin),
            state.vault_b: encode_token_account(state.mint_b, owner, pc)}  # fmt: skip


def _reserve(rng: random.Random) -> int:
    return rng.choice(
        [1, 2, 1000, U64, U64 - 1, rng.randrange(1, U64), int(10 ** rng.uniform(0, 19))]
    )


def _rate(rng: random.Random) -> int:
    return rng.choice([0, 1, 2500, 10_000, 999_999, 1_000_000, 1_000_001, 2**63, U64,
                       rng.randrange(0, 100_000)])  # fmt: skip


@needs_kernel
def test_real_cpmm_dump_and_random_configs() -> None:
    rng = random.Random(11)
    state, aux = _cpmm_dump()
    assert _compare(cp, state, aux, rng) == 0  # token_1 is Token-2022: the full quote answers
    state = dataclasses.replace(state, token_program_b=TOKEN_PROGRAM_ID)
    bound = _compare(cp, state, aux, rng)
    assert bound == 2
    for _ in range(150):
        s = dataclasses.replace(
            state, creator_fee_on=rng.choice([0, 1, 2]), enable_creator_fee=rng.random() < 0.7,
            protocol_fees_token_0=0, fund_fees_token_0=0, creator_fees_token_0=0,
            protocol_fees_token_1=0, fund_fees_token_1=0, creator_fees_token_1=0,
        )  # fmt: skip
        a = _cpmm_case(s, aux, _reserve(rng), _reserve(rng), trade_fee_rate=_rate(rng),
                       creator_fee_rate=_rate(rng), protocol_fee_rate=_rate(rng),
                       fund_fee_rate=_rate(rng))  # fmt: skip
        bound += _compare(cp, s, a, rng)
    assert bound >= 200  # the kernel answered most cases itself


@needs_kernel
def test_real_amm_v4_dump_and_random_fees() -> None:
    rng = random.Random(13)
    state = _v4_dump()
    aux = _v4_aux(state, 10**15, 10**12)
    bound = _compare(v4, state, aux, rng)
    assert bound == 2
    for _ in range(150):
        s = dataclasses.replace(state, need_take_pnl_coin=0, need_take_pnl_pc=0,
                                swap_fee_numerator=_rate(rng),
                                swap_fee_denominator=rng.choice([0, 1, 10_000, _rate(rng)]))  # fmt: skip
        coin = rng.choice([0, _reserve(rng)])
        bound += _compare(v4, s, _v4_aux(s, coin, _reserve(rng)), rng)
    assert bound >= 200


@needs_kernel
def test_kernel_answers_without_the_full_quote(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain amount is answered in C; the adapter's quote runs only for what the closure sends
    to ``general`` (here: 0 and above u64)."""
    calls: list[int] = []

    def counting(real: Callable[..., Quote]) -> Callable[..., Quote]:
        def wrapped(state: Any, aux: Aux, x: int, a_to_b: bool) -> Quote:
            calls.append(x)
            return real(state, aux, x, a_to_b)

        return wrapped

    state, aux = _cpmm_dump()
    state = dataclasses.replace(state, token_program_b=TOKEN_PROGRAM_ID)
    monkeypatch.setattr(cp, "quote", counting(cp.quote))
    q = cp.quoter(state, aux, True)
    assert q(10**9).amount_in == 10**9 and calls == []
    for x in (0, U64 + 1):
        with pytest.raises(cp.QuoteError):
            q(x)
    assert calls == [0, U64 + 1]
    pool = _v4_dump()
    monkeypatch.setattr(v4, "quote", counting(v4.quote))
    q = v4.quoter(pool, _v4_aux(pool, 10**15, 10**12), False)
    assert q(10**6).amount_out > 0 and calls == [0, U64 + 1]


@needs_kernel
def test_numbers_outside_u64_keep_the_python_closure() -> None:
    assert KERNEL is not None

    def general(x: Any) -> Any:
        return x

    bound = general
    assert KERNEL.cpmm(U64 + 1, 1, 0, 0, True, general, bound, Quote) is None
    assert KERNEL.amm_v4(1, -1, 0, 1, general, bound, Quote) is None
    assert KERNEL.amm_v4(1, 1, 0, 1.0, general, bound, Quote) is None
    with pytest.raises(TypeError):
        KERNEL.amm_v4(1, 1, 0, 1, general, bound)
    q = KERNEL.amm_v4(10**9, 10**9, 25, 10_000, general, bound, Quote)
    assert q(1000) == Quote(1000, 996, 3)
    assert q("not an int") == "not an int"  # the Python closure answers other types
