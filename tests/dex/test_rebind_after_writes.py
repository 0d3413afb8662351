"""A pool's quoter bound again after the market wrote the pool's own swap (the pool account, and
its tick arrays when the swap crossed ticks) must equal a cold one: the CLMM, Whirlpool, CPMM and
AMM v4 adapters reuse what did not change (plans, packed ticks, slots) from the previous state's
binding. Checked on many amounts in both directions, against a quoter bound with every adapter
cache emptied and against the pure-Python quote."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import (
    orca_whirlpool,
    orca_whirlpool_plan,
    raydium_amm_v4,
    raydium_clmm,
    raydium_clmm_accounts,
    raydium_clmm_plan,
    raydium_cpmm,
)
from solarb.dex.base import DexError, Quote
from solarb.dex.spl_token import decode_token_account
from solarb.events import AccountUpdate
from solarb.runtime.bench_workload import _ADAPTER, Workload
from tests.support.workload_pools import workload_market

MODULES = (raydium_clmm, orca_whirlpool, raydium_cpmm, raydium_amm_v4)
U64 = 2**64 - 1

_CACHES: dict[ModuleType, tuple[tuple[ModuleType, str, Callable[[], object]], ...]] = {
    raydium_clmm: ((raydium_clmm_plan, "_PLANS", lambda: ({}, {})),
                   (raydium_clmm_plan, "_SEGS", dict),
                   (raydium_clmm_accounts, "_NAV", dict),
                   (raydium_clmm_accounts, "_ARRAYS", dict),
                   (raydium_clmm_accounts, "_CONFIGS", dict)),
    orca_whirlpool: ((orca_whirlpool, "_SLOTS", dict), (orca_whirlpool_plan, "_BLOBS", dict)),
}  # fmt: skip


@contextmanager
def _cold(module: ModuleType) -> Iterator[None]:
    """The adapter with its per-pool caches empty (restored after)."""
    saved = [(m, name, getattr(m, name)) for m, name, _ in _CACHES.get(module, ())]
    for m, name, make in _CACHES.get(module, ()):
        setattr(m, name, make())
    try:
        yield
    finally:
        for m, name, value in saved:
            setattr(m, name, value)


def _outcome(fn: Callable[[], Quote]) -> object:
    try:
        q = fn()
    except DexError as exc:
        return (type(exc).__name__, getattr(exc, "code", None), str(exc))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


class _Writes:
    """Bank listener: the accounts each transaction wrote, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[Pubkey, Any, int]] = []

    def on_account(self, key: Pubkey, account: Any, slot: int) -> None:
        self.seen.append((key, account, slot))

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        """Unused."""

    def on_signature(self, signature: object, slot: int, err: object) -> None:
        """Unused."""


def _swap(w: Workload, rng: random.Random, address: Pubkey, kind: Any) -> None:
    """A swap of 0.3-63 % of the input vault: the larger ones cross ticks (writing their arrays)."""
    module = _ADAPTER[kind]
    state = module.decode_pool(address, w.bank.get_account(address).data)
    a_to_b = rng.random() < 0.5
    vault = state.vault_a if a_to_b else state.vault_b
    reserve = decode_token_account(w._data(vault)).amount
    amount = max(1, int(reserve * 10 ** rng.uniform(-2.5, -0.2)))
    w._send(module.swap_instruction(state, w.trader.pubkey(), amount, 0, a_to_b))


def test_quoters_rebound_after_the_pools_own_writes_equal_cold_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = Workload(40, 5, 4, 0)
    market = workload_market(w)
    writes = _Writes()
    w.bank.add_listener(writes)
    rng = random.Random(5)
    pools = [p for p in w.pools if _ADAPTER[p[1]] in MODULES]
    for address, entry in market.pools.items():  # every pool bound once: the warm caches
        if entry.adapter in MODULES:
            for a_to_b in (True, False):
                entry.adapter.quoter(entry.state, entry.aux, a_to_b)
    checked = {m: 0 for m in MODULES}
    array_writes = {raydium_clmm: 0, orca_whirlpool: 0}
    crossed = 0  # CLMM quotes that walked past the current tick array
    for step in range(160):
        address, kind, _a, _b = pools[step % len(pools)] if step < len(pools) else rng.choice(pools)
        writes.seen.clear()
        _swap(w, rng, address, kind)
        entry = market.pools[address]
        old_aux = dict(entry.aux)
        for key, acc, slot in writes.seen:
            market.apply(AccountUpdate(key, slot, acc.data, acc.owner, acc.lamports))
        module = entry.adapter
        if module in array_writes and any(entry.aux.get(k) is not v for k, v in old_aux.items()):
            array_writes[module] += 1  # only tick arrays among their aux accounts are swapped
        amounts = [0, 1, U64, U64 + 1, *(int(10 ** rng.uniform(0, 14)) for _ in range(30))]
        for a_to_b in (True, False):
            warm = module.quoter(entry.state, entry.aux, a_to_b)
            got = [_outcome(lambda: warm(x)) for x in amounts]
            with _cold(module):
                cold = module.quoter(entry.state, entry.aux, a_to_b)
                assert [_outcome(lambda: cold(x)) for x in amounts] == got, (module.NAME, step)
                with monkeypatch.context() as m:
                    m.setattr(module, "_NATIVE", None)  # the Python reference
                    ref = [_outcome(lambda: module.quote(entry.state, entry.aux, x, a_to_b))
                           for x in amounts]  # fmt: skip
            assert ref == got, (module.NAME, step, a_to_b)
            checked[module] += len(amounts)
            if module is raydium_clmm:
                crossed += sum(1 for o in got if len(o) == 4 and len(o[3]) >= 3)  # type: ignore[arg-type]
    assert min(checked.values()) >= 1000, checked
    assert min(array_writes.values()) >= 5, array_writes  # swaps that wrote tick arrays
    assert crossed >= 100, crossed


class _Member:
    """A collectable object a bound quoter can hold (a cycle goes through ``cycle``)."""

    cycle: object = None

    def __call__(self, *args: object) -> None:
        """Unused: only held."""


@pytest.mark.skipif(raydium_clmm._NATIVE is None or orca_whirlpool._NATIVE is None,
                    reason="kernels not built")  # fmt: skip
def test_kernel_bound_quoters_show_the_collector_what_they_hold() -> None:
    """The CLMM and Whirlpool ``bind(..., quote, state, aux, a_to_b)`` objects visit every
    object they hold (tp_traverse), and a cycle through any of them is collected."""
    import gc
    import weakref

    def bound(kind: int) -> tuple[Any, list[Any]]:
        plan, quote, state, aux = bytes(5), _Member(), _Member(), _Member()
        if kind == 0:
            prefixes = ((), (_Member(),))
            held = [plan, Quote, prefixes, quote, state, aux, True]
            return raydium_clmm._NATIVE.bind(plan, Quote, prefixes, quote, state, aux, True), held
        held = [plan, Quote, quote, state, aux, False]
        return orca_whirlpool._NATIVE.bind(plan, Quote, quote, state, aux, False), held

    for kind in (0, 1):
        b, members = bound(kind)
        assert sorted(map(id, gc.get_referents(b))) == sorted(map(id, members))
        for at in (0, -1):
            b, members = bound(kind)
            member = [m for m in members if isinstance(m, _Member)][at]
            member.cycle = b
            dead = weakref.ref(member)
            del b, members, member
            gc.collect()
            assert dead() is None, (kind, at)


@pytest.mark.skipif(raydium_clmm._NATIVE is None, reason="kernel not built")
def test_clmm_bound_quoter_answers_as_the_kernel_or_the_quote() -> None:
    """The C bound quoter: the kernel's quote where it answers, else ``quote(state, aux, x,
    a_to_b)`` (its result or its error); a non-int amount, a malformed plan and a wrong call
    raise as ``quote_exact_in`` does."""
    calls: list[tuple[object, ...]] = []

    def quote(*args: object) -> object:
        calls.append(args)
        if args[2] == 7:
            raise DexError("seven")
        return "general"

    state, aux = object(), {}
    kernel = raydium_clmm._NATIVE
    # a plan at price 0 (below the limit): the kernel does not answer
    plan = raydium_clmm_plan._PLAN_HEAD.pack(0, 0, 0, 0, 0, 1, 0, True, True, False, 0, 0,
                                             *[0] * 5)  # fmt: skip
    b = kernel.bind(plan, Quote, ((),), quote, state, aux, True)
    assert b(5) == "general" and calls == [(state, aux, 5, True)]
    with pytest.raises(DexError, match="seven"):
        b(7)
    with pytest.raises(TypeError):
        b(1.5)
    with pytest.raises(TypeError):
        b()
    with pytest.raises(ValueError):
        kernel.bind(b"\0" * 10, Quote, ((),), quote, state, aux, True)(5)
    with pytest.raises(TypeError):
        kernel.bind(b"", Quote, ((),), quote, state, aux)


@pytest.mark.skipif(raydium_clmm._NATIVE is None, reason="kernel not built")
def test_clmm_with_head_sets_the_moved_fields_as_the_packed_header() -> None:
    """``with_head`` (a moved state's plan in one call) equals the header packed in Python and
    the rest of the plan; None where a number does not fit its field."""
    kernel, rng = raydium_clmm._NATIVE, random.Random(3)
    move, m64 = raydium_clmm_plan._PLAN_MOVE, 2**64 - 1
    for _ in range(300):
        plan = rng.randbytes(72 + 40 * rng.randrange(4))
        price, liq = rng.choice((0, 1, 2**128 - 1, rng.getrandbits(rng.randrange(1, 129)))), \
            rng.getrandbits(rng.randrange(1, 129))  # fmt: skip
        tick = rng.choice((-(2**31), 2**31 - 1, 0, -1, rng.randrange(-443636, 443637)))
        want = move.pack(price & m64, price >> 64, liq & m64, liq >> 64, tick) + plan[move.size :]
        assert kernel.with_head(plan, price, liq, tick) == want
    plan = bytes(72)
    for price, liq, tick in ((2**128, 0, 0), (0, 2**128, 0), (0, 0, 2**31), (0, 0, -(2**31) - 1)):
        assert kernel.with_head(plan, price, liq, tick) is None
    with pytest.raises(ValueError):
        kernel.with_head(bytes(71), 0, 0, 0)
    with pytest.raises(TypeError):
        kernel.with_head(plan, 0, 0, 0.5)
