"""The bound quoters that are C callables (``_whirlpool.bind``, ``_meteora_dlmm.bind``): each
probe's Quote is built in C, so it must be the very object the Python path builds (type, every
field including ``arrays``, equality, hash, immutability) and every error the Python path's
(type, program code, message). Pools: the real Whirlpool dumps, the bench workload's Whirlpool
and DLMM pools, random Whirlpools and random DLMM pairs; amounts at the u64 edges, zero, negative
and beyond. Plus the callables' own contract: one positional amount, no leaked references.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import random
import sys
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import meteora_dlmm as dl
from solarb.dex import orca_whirlpool as ow
from solarb.dex.base import Quote
from solarb.runtime.bench_workload import Workload
from tests.native.test_meteora_dlmm import _amounts as _dlmm_amounts
from tests.native.test_meteora_dlmm import _bench_pools as _dlmm_bench_pools
from tests.native.test_meteora_dlmm import _random_pair
from tests.native.test_whirlpool import _folder
from tests.support.orca_cases import random_case
from tests.support.workload_pools import workload_pools

WP, DLMM = ow._NATIVE, dl._NATIVE
U64 = 2**64 - 1
EDGES = (0, -1, 1, 2, 999, U64 - 1, U64, U64 + 1, 2**128)

needs_kernels = pytest.mark.skipif(WP is None or DLMM is None, reason="kernels not built")


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    """A Quote as everything observable about it, or an error as (type, code, message)."""
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 - the error is the outcome
        return (type(exc).__name__, getattr(exc, "code", None), str(exc))
    assert type(q) is Quote
    arrays = q.arrays
    assert type(arrays) is tuple and all(type(k) is Pubkey for k in arrays)
    assert q == Quote(q.amount_in, q.amount_out, q.fee, arrays)
    assert hash(q) == hash(Quote(q.amount_in, q.amount_out, q.fee))
    assert [f.name for f in dataclasses.fields(q)] == ["amount_in", "amount_out", "fee", "arrays"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.fee = 0  # type: ignore[misc]
    return (type(q.amount_in), q.amount_in, type(q.amount_out), q.amount_out, type(q.fee), q.fee,
            arrays)  # fmt: skip


class Paths:
    """Bound (C) against the pure-Python path of one adapter; counts the C callables bound."""

    def __init__(self, mod: Any, mp: pytest.MonkeyPatch) -> None:
        self.mod, self.mp, self.kernel = mod, mp, mod._NATIVE
        self.c_bound = self.cases = 0

    def python(self, state: Any, aux: Any, amount: int, a_to_b: bool) -> tuple[Any, ...]:
        self.mp.setattr(self.mod, "_NATIVE", None)
        try:
            return _outcome(lambda: self.mod.quote(state, aux, amount, a_to_b))
        finally:
            self.mp.setattr(self.mod, "_NATIVE", self.kernel)

    def check(self, state: Any, aux: Any, a_to_b: bool, amounts: list[int]) -> None:
        bound = self.mod.quoter(state, aux, a_to_b)
        self.c_bound += type(bound).__name__ == "Bound"
        for amount in amounts:
            got = _outcome(lambda: bound(amount))  # noqa: B023 - called at once
            assert got == self.python(state, aux, amount, a_to_b), (state.address, amount, a_to_b)
            self.cases += 1


@needs_kernels
def test_whirlpool_bound_quotes_are_the_python_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Paths(ow, monkeypatch)
    rng = random.Random(61)
    pools: list[tuple[Any, Any]] = []
    for folder, address in (
        ("sol_usdc_ts64_HJPjoWUr/gabrielfior", "HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ"),
        ("bono_usdc_ts64_DBJ5hywa", "DBJ5hywaJQKfjyt8Ekng4t6KB1gvqnYFdcJoTppCNikt"),
    ):
        accs = _folder(folder)
        key = Pubkey.from_string(address)
        pools.append((ow.decode_pool(key, accs[key]), accs))
    pools += [(state, aux) for _m, state, aux in workload_pools(Workload(30, 13, 4, 0), (ow,))]
    pools += [random_case(rng)[1:] for _ in range(150)]
    for state, aux in pools:
        for a_to_b in (True, False):
            amounts = [*EDGES, *(int(2 ** rng.uniform(0, 64)) for _ in range(12))]
            p.check(state, aux, a_to_b, amounts)
    assert p.c_bound > 100 and p.cases > 5000, (p.c_bound, p.cases)


@needs_kernels
def test_dlmm_bound_quotes_are_the_python_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bench pairs (walks planned at binding and extended by the C callable) and random pairs
    (limit orders, fee on output, Token-2022, the extension): same Quote objects, same errors."""
    p = Paths(dl, monkeypatch)
    rng = random.Random(62)
    _w, pools = _dlmm_bench_pools(30)
    pools += [_random_pair(rng) for _ in range(60)]
    for state, aux in pools:
        for a_to_b in (True, False):
            dl._PLANS.pop(state.address, None)  # a fresh walk: the probes extend it
            p.check(state, aux, a_to_b, [*EDGES, *_dlmm_amounts(rng, 10**12, 20)])
    assert p.c_bound > 80 and p.cases > 4000, (p.c_bound, p.cases)


def _probe(bounds: tuple[Any, ...], amounts: list[int]) -> None:
    for b in bounds:
        for amount in amounts:
            _outcome(functools.partial(b, amount))


@needs_kernels
def test_bound_callables_contract_and_references() -> None:
    """One positional amount; binding refuses what it cannot use; many probes (filled, extended,
    fallen back, failing) leave the references of everything bound unchanged, and a dropped
    callable releases them."""
    wstate, waux = next((s, a) for _m, s, a in workload_pools(Workload(10, 7, 4, 0), (ow,)))
    _w, dpools = _dlmm_bench_pools(10)
    dstate, daux = dpools[0]
    wb, db = ow.quoter(wstate, waux, True), dl.quoter(dstate, daux, False)
    assert type(wb).__name__ == type(db).__name__ == "Bound"
    for b in (wb, db):
        with pytest.raises(TypeError):
            b()
        with pytest.raises(TypeError):
            b(1, 2)
        with pytest.raises(TypeError):
            b(x=1)
    with pytest.raises(TypeError):
        WP.bind(b"", Quote)
    with pytest.raises(AttributeError):
        WP.bind(b"", int, print, None, {}, True)  # not a class with the Quote fields
    with pytest.raises(TypeError):
        DLMM.bind(object(), "0", Quote, print, print, print)

    walk = dl._PLANS[dstate.address].walks[False]
    held = [Quote, walk, waux, daux]
    amounts = [1, 10**6, 10**9, 10**12, 10**15, U64, 0, -5, U64 + 1]
    _probe((wb, db), amounts)  # warm: plans, extensions and spared arrays made once
    gc.collect()
    before = [sys.getrefcount(o) for o in held]
    for _ in range(50):
        _probe((wb, db), amounts)
    gc.collect()
    assert [sys.getrefcount(o) for o in held] == before
    del wb, db, b  # b: the last bound of the call-contract loop
    gc.collect()
    after = [sys.getrefcount(o) for o in held]
    assert after[1] < before[1] and after[2] < before[2] and after[3] < before[3]


class _Member:
    """A distinct, weakly referable callable: a bound type's member."""

    def __call__(self, *args: Any) -> Any:
        return None


@needs_kernels
@pytest.mark.skipif(native.load("constant_product") is None, reason="kernel not built")
def test_bound_types_visit_and_release_every_member() -> None:
    """Each C bound type shows the collector every object it holds (tp_traverse), and a cycle
    through any one of them is collected (tp_clear, tp_dealloc)."""
    cpk = native.load("constant_product")

    def bound(kind: int) -> tuple[Any, list[Any]]:
        gen, fb, plan, walk = _Member(), _Member(), bytes(5), _Member()
        if kind == 0:
            return cpk.cpmm(10, 10, 0, 0, True, gen, fb, Quote), [gen, fb, Quote]
        if kind == 1:
            return cpk.amm_v4(10, 10, 1, 2, gen, fb, Quote), [gen, fb, Quote]
        if kind == 2:
            fns = [gen, _Member(), _Member(), _Member()]  # quote, state, aux, a_to_b
            return WP.bind(plan, Quote, *fns), [plan, Quote, *fns]
        walk.header, walk.records, walk.spared = _Member(), _Member(), []  # type: ignore[attr-defined]
        fns = [gen, fb, _Member()]
        held = [walk, Quote, *fns, walk.header, walk.records, walk.spared]  # type: ignore[attr-defined]
        return DLMM.bind(walk, 0, Quote, *fns), held

    def visits_all(kind: int) -> bool:
        b, members = bound(kind)
        return sorted(map(id, gc.get_referents(b))) == sorted(map(id, members))

    def cycle_collected(kind: int, at: int) -> bool:
        b, members = bound(kind)
        member = [m for m in members if isinstance(m, _Member)][at]
        member.cycle = b
        dead = weakref.ref(member)
        del b, members, member
        gc.collect()
        return dead() is None

    for kind in range(4):
        assert visits_all(kind)
        assert cycle_collected(kind, 0) and cycle_collected(kind, -1)
